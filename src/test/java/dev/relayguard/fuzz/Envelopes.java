package dev.relayguard.fuzz;

import java.util.Locale;
import java.util.SplittableRandom;

import org.apache.james.core.MailAddress;
import org.apache.james.core.Username;

import dev.relayguard.core.SenderOwnership;

/**
 * Generated MAIL and RCPT command arguments ({@code FROM:<...> PARAMS}, {@code TO:<...> PARAMS}) for the fuzz
 * tests: {@link AddressFuzzTest} (the core and the handler behind James's real command handlers) and
 * {@code dev.relayguard.it.SmtpFuzzIT} (a real James over SMTP) send the same arguments.
 *
 * <p>What it covers: quoted and escaped local parts, {@code '>'} and {@code '<'} inside the path and inside
 * parameters ({@code AUTH=<...>}, {@code ORCPT=rfc822;<...>}), the ESMTP parameters James and RFCs know
 * ({@code SIZE=}, {@code BODY=}, {@code RET=}, {@code ENVID=}, {@code ORCPT=}, {@code NOTIFY=}, {@code AUTH=}) and
 * garbage ones, trailing dots, case, unqualified addresses, source routes, {@code %}, {@code !}, quoted and
 * escaped {@code @}, IP literals with and without brackets, IDN and non-ASCII text, the null sender in its
 * spellings, misspelled keywords, and many spellings of the demo user's own address, of its alias and of other
 * users' addresses (sender ownership).
 *
 * <p>Deterministic: {@link #caseRandom} gives every case its own random source from (seed, case number).
 */
public final class Envelopes {
    public static final long DEFAULT_SEED = 0x52454C4159L; // "RELAY"
    public static final String LOCAL_DOMAIN = "relayguard.test";
    public static final String RELAY_DOMAIN = "partner.example";
    /** Configured as a local IP literal in the unit test's policy (not in the sample). */
    public static final String LOCAL_IP_LITERAL = "192.0.2.25";
    public static final String USER = "demo@" + LOCAL_DOMAIN;
    /** An alias James's RecipientRewriteTable maps to {@link #USER}. */
    public static final String USER_ALIAS = "sales@" + LOCAL_DOMAIN;

    /**
     * Who owns which sender, as James's {@code CanSendFrom} answers for the sample plus the alias the fuzz tests
     * add: a user owns its own address ({@code Username} equality: local part case-insensitive) and {@link #USER}
     * also owns {@link #USER_ALIAS} (a RecipientRewriteTable alias).
     */
    public static final SenderOwnership OWNERSHIP = (user, address) -> {
        Username sender;
        try {
            sender = Username.fromMailAddress(new MailAddress(address));
        } catch (Exception e) {
            return false;
        }
        return sender.equals(Username.of(user))
            || (Username.of(user).equals(Username.of(USER)) && sender.equals(Username.of(USER_ALIAS)));
    };

    private Envelopes() {
    }

    /**
     * The broadest reading of an address James recorded ({@code local@domain}, its {@code asString}): every quote
     * and backslash dropped, case folded. If even this does not make it {@link #USER} or {@link #USER_ALIAS},
     * no spelling does, and such a sender must never pass the demo user's sender ownership.
     */
    public static boolean ownedBySpelling(String address) {
        int at = address.lastIndexOf('@');
        String local = address.substring(0, Math.max(at, 0)).replace("\\", "").replace("\"", "").toLowerCase(Locale.ROOT);
        String broad = local + "@" + address.substring(at + 1).toLowerCase(Locale.ROOT);
        return broad.equals(USER) || broad.equals(USER_ALIAS);
    }

    private static final String[] REMOTE_DOMAINS = {
        "remote.example", "evil.example", "sender.example", "relayguard.test.evil.example", "mail.relayguard.test",
        "evilrelayguard.test", "relayguard.testx", "relayguard.tes", "relayguard-test", "relayguardtest", "localhost",
        "partner.example.evil.example", "sub.partner.example", "relayguard.test-", "-relayguard.test", "relayguard..test",
        "a", "example", "a.b", "x_y.example", "123.example", "example.123", "relayguard.test.", "relayguard.test..",
    };
    private static final String[] IDN_DOMAINS = {
        "bücher.example", "BÜCHER.example", "xn--bcher-kva.example", "XN--BCHER-KVA.EXAMPLE", "relayguärd.test",
        "relayguard.tеst" /* Cyrillic e */, "relayguard\u3002test" /* ideographic full stop */, "ｒｅｌａｙｇｕａｒｄ.test",
        "xn--relayguard.test", "xn--.example", "münchen.partner.example", "pärtner.example", "xn--prtner-jua.example",
        "relayguard.test\u200b", "\u00adrelayguard.test", "例え.テスト", "xn--r8jz45g.xn--zckzah",
    };
    private static final String[] IP_LITERALS = {
        "[192.0.2.1]", "[127.0.0.1]", "[0.0.0.0]", "[255.255.255.255]", "[256.1.1.1]", "[1.2.3]", "[1.2.3.4.5]",
        "[ 192.0.2.1 ]", "[192.0.2.1", "192.0.2.1]", "[]", "[IPv6:2001:db8::1]", "[ipv6:2001:DB8::1]", "[IPv6:::1]",
        "[IPv6:::ffff:192.0.2.1]", "[2001:db8::1]", "[IPv6:zzzz]", "[x.relayguard.test]", "[relayguard.test]",
        "192.0.2.1", "127.0.0.1", "[192.0.2.1].relayguard.test", "relayguard.test.[192.0.2.1]", "[010.000.002.001]",
        "[4294967295]", "[0x7f.1]", "#123", "#", "[192.0.2.1]]", "[192.0.2.25]", "192.0.2.25", "[192.0.2.25]x",
        "[192.0.2.1]\"", "[192.0.2.1]>", "1.2.3.4.5", "1.2.3.04",
    };
    private static final String[] ROUTING_LOCAL_PARTS = {
        "user%remote.example", "user%remote.example%relayguard.test", "remote.example!user", "a!b!c", "%", "!", "user%",
        "user@remote.example", "\"user@remote.example\"", "\"user%remote.example\"", "\"remote!user\"", "user\\@remote.example",
        "user\\%remote", "\"user\\\"@remote.example\"", "@remote.example:user", "user%[192.0.2.1]", "\"@\"", "\"%\"",
        "user\\\"%remote.example", "user\\@relayguard.test\\>%remote.example", "a\\>!b", "us\\\"er",
    };
    private static final String[] PLAIN_LOCAL_PARTS = {
        "demo", "user", "john.doe", "a", "x+tag", "o'brien", "first_last", "UPPER", "a-b", "1234", "postmaster",
        "POSTMASTER", "PostMaster", "abuse", "root", "\"postmaster\"", "post\\master", "\"post\\master\"", "user.",
        ".user", "us..er", "\"\"", "\"a b\"", "\"a\\\\b\"", "=?utf-8?q?x?=", "~", "{}", "*", "#", "$", "&", "|", "?",
        "jörg", "用户", "x\u0000y",
    };
    /** Spellings of the demo user's address, its alias, and other users' addresses (sender ownership). */
    private static final String[] IDENTITY_LOCAL_PARTS = {
        "demo", "DEMO", "Demo", "dEmO", "\"demo\"", "\"DEMO\"", "\"de\\mo\"", "de\\mo", "\\demo", "\"demo \"", "\" demo\"",
        "demo.", ".demo", "\"demo.\"", "d.emo", "\"d.emo\"", "demo+tag", "\"demo\"x", "demo\\.", "\"demo\\\"\"",
        "sales", "SALES", "\"sales\"", "\"Sales\"", "sa\\les", "\"sa\\les\"",
        "other", "OTHER", "\"other\"", "ot\\her", "\"ot\\her\"",
        "ceo", "CEO", "\"ceo\"", "\"CEO\"", "c\\eo", "\"c\\eo\"", "\"ceo\\\"\"", "ceo+demo", "demo+ceo",
        "\"ceo\"\"demo\"", "demo\\@ceo", "\"demo@relayguard.test\"", "\"ceo@relayguard.test\"", "ceo%demo", "demo%ceo",
        "\"demo\u212a\"" /* Kelvin sign: lower-cases to k */, "\"DEMO\u0130\"", "postmaster", "abuse", "\"postmaster\"",
    };
    private static final String[] IDENTITY_DOMAINS = {
        "relayguard.test", "RELAYGUARD.TEST", "RelayGuard.Test", "relayguard.test.", "relayguard.test..", ".relayguard.test",
        "[192.0.2.25]", "192.0.2.25", "[127.0.0.1]", "partner.example", "remote.example", "relayguard.test\u200b",
        "xn--relayguard.test", "relayguärd.test", "mail.relayguard.test", "relayguard", "test",
    };
    private static final String SPECIALS = "%!@:,[]<>\"\\;() \t.";
    private static final String ESCAPABLE = "@>\"<%!\\ .[]:,;()";
    private static final String[] PARAMS = {
        "SIZE=123", "SIZE=0", "SIZE=1000000", "SIZE=+5", "SIZE=-1", "SIZE=0005", "SIZE=abc", "SIZE=", "SIZE", "size=10",
        "SIZE=99999999999999999999", "SIZE=2147483648", "SIZE=1 SIZE=2", "Size=7",
        "BODY=7BIT", "BODY=8BITMIME", "BODY=BINARYMIME", "BODY=", "body=8bitmime",
        "RET=FULL", "RET=HDRS", "RET=hdrs", "RET=bogus", "RET=",
        "ENVID=QQ314159", "ENVID=a+2Bb", "ENVID=<x>", "ENVID=a=b", "ENVID=",
        "ORCPT=rfc822;x@y", "ORCPT=rfc822;demo@relayguard.test", "ORCPT=rfc822;a%b@relayguard.test", "ORCPT=rfc822;<x@y>",
        "ORCPT=rfc822;a+40b", "ORCPT=utf-8;x@y", "ORCPT=", "orcpt=rfc822;x@y",
        "NOTIFY=SUCCESS,FAILURE", "NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY=NEVER", "NOTIFY=never", "NOTIFY=bogus",
        "NOTIFY=SUCCESS NOTIFY=SUCCESS",
        "AUTH=<>", "AUTH=<demo@relayguard.test>", "AUTH=<ceo@relayguard.test>", "AUTH=demo+40relayguard.test",
        "AUTH=<a>b", "AUTH=<", "AUTH=>", "AUTH=<@evil.example:x@y>", "auth=<demo@relayguard.test>",
        "SMTPUTF8", "FOO", "=x", "X=<y@z>", "X=<y>z>", ">", "<", "<>", "\"", "\\", "X-RELAY=[192.0.2.1]",
        "<victim@remote.example>", "TO:<victim@remote.example>", ":", "=",
    };

    /** A MAIL argument (what follows {@code "MAIL "}), e.g. {@code FROM:<demo@relayguard.test> SIZE=10 AUTH=<>}. */
    public static String mailArgument(SplittableRandom random, boolean wireSafe) {
        return wireSafe(keyword(random, "FROM") + pathAndParameters(random, true), wireSafe);
    }

    /** A RCPT argument (what follows {@code "RCPT "}), e.g. {@code TO:<user%remote.example@relayguard.test> NOTIFY=NEVER}. */
    public static String rcptArgument(SplittableRandom random, boolean wireSafe) {
        return wireSafe(keyword(random, "TO") + pathAndParameters(random, false), wireSafe);
    }

    private static String wireSafe(String argument, boolean wireSafe) {
        return wireSafe ? argument.replace('\r', ' ').replace('\n', ' ') : argument;
    }

    private static String keyword(SplittableRandom random, String keyword) {
        int kind = random.nextInt(100);
        if (kind < 88) {
            return keyword + ":";
        }
        switch (kind) {
            case 88:
                return keyword.toLowerCase(Locale.ROOT) + ":";
            case 89:
                return keyword.charAt(0) + keyword.substring(1).toLowerCase(Locale.ROOT) + ":";
            case 90:
                return keyword + " :";
            case 91:
                return " " + keyword + ":";
            case 92:
                return keyword; // no colon
            case 93:
                return keyword.equals("FROM") ? "TO:" : "FROM:";
            case 94:
                return ":";
            case 95:
                return keyword + "::";
            case 96:
                return keyword + "X:";
            case 97:
                return keyword.replace('O', '0') + ":";
            case 98:
                return "";
            default:
                return keyword + ": ";
        }
    }

    static String pathAndParameters(SplittableRandom random, boolean mail) {
        String address = mail && random.nextInt(100) < 6 ? pick(random, "", "@", " ", " @", "@ ", "<>", "\"\"") : address(random, mail);
        String wrapped;
        int wrap = random.nextInt(100);
        if (wrap < 74) {
            wrapped = "<" + address + ">";
        } else if (wrap < 79) {
            wrapped = address;
        } else if (wrap < 82) {
            wrapped = "<" + address;
        } else if (wrap < 84) {
            wrapped = address + ">";
        } else if (wrap < 88) {
            wrapped = " <" + address + ">";
        } else if (wrap < 90) {
            wrapped = "<<" + address + ">>";
        } else if (wrap < 92) {
            wrapped = "<" + address + ">" + pick(random, " ", "  ", "\t", " \t ");
        } else if (wrap < 95) {
            wrapped = "<" + address + ">" + pick(random, "x", ">", "<", "@evil.example>", "%evil.example>", "<>", " <>", "> ");
        } else if (wrap < 98) {
            wrapped = "<" + address + "> <" + address(random, mail) + ">";
        } else {
            wrapped = "<" + address + "><" + address(random, mail) + ">";
        }
        StringBuilder argument = new StringBuilder(wrapped);
        if (random.nextInt(100) < 40) {
            int count = 1 + random.nextInt(3);
            for (int i = 0; i < count; i++) {
                argument.append(pick(random, " ", " ", " ", " ", "  ", "\t", "")).append(parameter(random));
            }
        }
        return argument.toString();
    }

    private static String parameter(SplittableRandom random) {
        return random.nextInt(10) < 8 ? pick(random, PARAMS) : garbage(random, 1 + random.nextInt(12));
    }

    /** An address as it would sit between the angle brackets. */
    static String address(SplittableRandom random, boolean mail) {
        int form = random.nextInt(100);
        if (form < 20) {
            return identity(random);
        }
        if (form < 72) {
            return localPart(random) + "@" + domain(random);
        }
        if (form < 82) {
            return random.nextBoolean() ? localPart(random) : pick(random, IDENTITY_LOCAL_PARTS); // unqualified
        }
        if (form < 87) {
            return sourceRoute(random) + (random.nextBoolean() ? identity(random) : localPart(random) + "@" + domain(random));
        }
        if (form < 91) {
            return localPart(random) + "@" + domain(random) + "@" + domain(random);
        }
        return mutate(random, random.nextBoolean() ? identity(random) : localPart(random) + "@" + domain(random));
    }

    private static String identity(SplittableRandom random) {
        String local = pick(random, IDENTITY_LOCAL_PARTS);
        if (random.nextInt(4) == 0) {
            local = randomCase(random, local);
        }
        return local + "@" + (random.nextInt(3) == 0 ? randomCase(random, pick(random, IDENTITY_DOMAINS)) : LOCAL_DOMAIN);
    }

    private static String sourceRoute(SplittableRandom random) {
        switch (random.nextInt(7)) {
            case 0:
                return "@" + domain(random) + ":";
            case 1:
                return "@" + domain(random) + ",@" + domain(random) + ":";
            case 2:
                return "@hop.example,@" + LOCAL_DOMAIN + ":";
            case 3:
                return "@" + domain(random); // no colon
            case 4:
                return "@:";
            case 5:
                return " @" + LOCAL_DOMAIN + ":";
            default:
                return "@" + domain(random) + "," + domain(random) + ":"; // second hop without '@'
        }
    }

    static String localPart(SplittableRandom random) {
        int kind = random.nextInt(100);
        String local;
        if (kind < 25) {
            local = random.nextBoolean() ? pick(random, PLAIN_LOCAL_PARTS) : word(random, 1 + random.nextInt(16));
        } else if (kind < 33) {
            local = randomCase(random, "postmaster");
        } else if (kind < 48) {
            local = pick(random, ROUTING_LOCAL_PARTS);
            if (random.nextBoolean()) {
                local = local.replace("remote.example", domain(random));
            }
        } else if (kind < 60) {
            local = insert(random, word(random, 1 + random.nextInt(10)), 1 + random.nextInt(3), SPECIALS + controlChars());
        } else if (kind < 72) {
            local = escaped(random);
        } else if (kind < 85) {
            local = quoted(random);
        } else if (kind < 91) {
            local = longLocalPart(random);
        } else if (kind < 94) {
            local = "";
        } else {
            local = localPart(random) + pick(random, "", ".", "@", "%", "!", "\\") + localPart(random);
        }
        return local;
    }

    /** An unquoted local part with backslash escapes, which James's parser accepts outside quotes. */
    private static String escaped(SplittableRandom random) {
        StringBuilder local = new StringBuilder(word(random, 1 + random.nextInt(6)));
        int escapes = 1 + random.nextInt(3);
        for (int i = 0; i < escapes; i++) {
            local.append('\\').append(ESCAPABLE.charAt(random.nextInt(ESCAPABLE.length())));
            if (random.nextBoolean()) {
                local.append(random.nextBoolean() ? word(random, 1 + random.nextInt(6)) : pick(random, "%", "!", "@", ".", domain(random)));
            }
        }
        return local.toString();
    }

    private static String quoted(SplittableRandom random) {
        StringBuilder content = new StringBuilder();
        int length = random.nextInt(14);
        for (int i = 0; i < length; i++) {
            int choice = random.nextInt(10);
            if (choice < 4) {
                content.append(word(random, 1 + random.nextInt(4)));
            } else if (choice < 6) {
                content.append(SPECIALS.charAt(random.nextInt(SPECIALS.length())));
            } else if (choice < 8) {
                content.append('\\').append(pick(random, "\"", "\\", "@", ">", "%", "x", " "));
            } else if (choice < 9) {
                content.append(' ');
            } else {
                content.append(controlChars().charAt(random.nextInt(controlChars().length())));
            }
        }
        String quoted = "\"" + content.toString().replace("\"", random.nextBoolean() ? "\\\"" : "\"") + "\"";
        switch (random.nextInt(12)) {
            case 0:
                return quoted.substring(0, quoted.length() - 1); // unterminated
            case 1:
                return quoted + word(random, 1 + random.nextInt(4)); // text after the closing quote
            case 2:
                return word(random, 1 + random.nextInt(4)) + quoted; // quote in the middle
            default:
                return quoted;
        }
    }

    private static String longLocalPart(SplittableRandom random) {
        int length = 64 + random.nextInt(237); // up to 300
        StringBuilder local = new StringBuilder(word(random, length));
        if (random.nextBoolean()) {
            local.setCharAt(random.nextInt(length), pick(random, "%", "!", "@", ">", "\"").charAt(0));
        }
        return local.toString();
    }

    static String domain(SplittableRandom random) {
        int kind = random.nextInt(100);
        if (kind < 30) {
            return randomCase(random, LOCAL_DOMAIN) + (random.nextInt(5) == 0 ? "." : "");
        }
        if (kind < 38) {
            return randomCase(random, RELAY_DOMAIN) + (random.nextInt(5) == 0 ? "." : "");
        }
        if (kind < 56) {
            return randomCase(random, pick(random, REMOTE_DOMAINS));
        }
        if (kind < 66) {
            return pick(random, IDN_DOMAINS);
        }
        if (kind < 80) {
            return pick(random, IP_LITERALS);
        }
        if (kind < 88) {
            return garbage(random, random.nextInt(20));
        }
        if (kind < 92) {
            return word(random, 60 + random.nextInt(10)) + "." + LOCAL_DOMAIN; // labels around the 63-char limit
        }
        if (kind < 94) {
            StringBuilder longName = new StringBuilder();
            while (longName.length() < 250) {
                longName.append(word(random, 1 + random.nextInt(20)).toLowerCase(Locale.ROOT).replace('.', 'x')).append('.');
            }
            return longName + LOCAL_DOMAIN; // past 253 characters
        }
        return mutate(random, randomCase(random, pick(random, LOCAL_DOMAIN, RELAY_DOMAIN, "remote.example")));
    }

    /** One to three random edits: insert, replace or delete a character from an interesting alphabet. */
    private static String mutate(SplittableRandom random, String text) {
        StringBuilder builder = new StringBuilder(text);
        int edits = 1 + random.nextInt(3);
        String alphabet = SPECIALS + controlChars() + "é\u0130\u212a\uFFFD-_#0.";
        for (int i = 0; i < edits; i++) {
            int position = builder.length() == 0 ? 0 : random.nextInt(builder.length() + 1);
            char c = alphabet.charAt(random.nextInt(alphabet.length()));
            switch (random.nextInt(3)) {
                case 0:
                    builder.insert(position, c);
                    break;
                case 1:
                    if (position < builder.length()) {
                        builder.setCharAt(position, c);
                    }
                    break;
                default:
                    if (position < builder.length()) {
                        builder.deleteCharAt(position);
                    }
            }
        }
        return builder.toString();
    }

    private static String insert(SplittableRandom random, String text, int count, String alphabet) {
        StringBuilder builder = new StringBuilder(text);
        for (int i = 0; i < count; i++) {
            builder.insert(random.nextInt(builder.length() + 1), alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return builder.toString();
    }

    private static String word(SplittableRandom random, int length) {
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+=";
        StringBuilder builder = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            builder.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return builder.toString();
    }

    private static String garbage(SplittableRandom random, int length) {
        StringBuilder builder = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            int kind = random.nextInt(10);
            if (kind < 5) {
                builder.append((char) (0x21 + random.nextInt(0x5e))); // printable ASCII
            } else if (kind < 7) {
                builder.append(SPECIALS.charAt(random.nextInt(SPECIALS.length())));
            } else if (kind < 8) {
                builder.append(controlChars().charAt(random.nextInt(controlChars().length())));
            } else {
                builder.append((char) (0xa0 + random.nextInt(0x2000))); // non-ASCII
            }
        }
        return builder.toString();
    }

    private static String randomCase(SplittableRandom random, String text) {
        if (random.nextInt(3) == 0) {
            return text;
        }
        StringBuilder builder = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            builder.append(random.nextBoolean() ? Character.toUpperCase(c) : c);
        }
        return builder.toString();
    }

    private static String controlChars() {
        return "\u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f\u007f";
    }

    @SafeVarargs
    private static <T> T pick(SplittableRandom random, T... choices) {
        return choices[random.nextInt(choices.length)];
    }

    /** The random source of one case: independent of the others, so a failing case replays from (seed, case). */
    public static SplittableRandom caseRandom(long seed, int caseNumber) {
        return new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (caseNumber + 1L)));
    }

    /** A Java string literal of {@code text}, so a failing input can be pasted into a test. */
    public static String quote(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder builder = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                builder.append('\\').append(c);
            } else if (c < 0x20 || c >= 0x7f) {
                builder.append(String.format("\\u%04x", (int) c));
            } else {
                builder.append(c);
            }
        }
        return builder.append('"').toString();
    }
}
