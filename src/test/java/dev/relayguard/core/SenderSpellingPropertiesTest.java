package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.statistics.StatisticsReport;

import dev.relayguard.header.AuthorHeaderReader;

/**
 * No spelling of a mailbox is another mailbox. For generated spellings of an address (upper/lower case mixes,
 * quoted local part, backslash-escaped characters inside the quotes, U-label or A-label for the IDN domain, a
 * trailing dot):
 * <ol>
 *   <li>another user's address (its own or one of its aliases) never passes, neither as MAIL FROM
 *       ({@link RelayPolicy#decideSender}) nor in From:/Sender: ({@link RelayPolicy#decideAuthorHeaders});</li>
 *   <li>the user's own address, and its own aliases, always pass both;</li>
 *   <li>the verdict on a spelling is the verdict on {@link Mailboxes#canonical} of it.</li>
 * </ol>
 * Ownership is a plain table of exact strings (what an RRT holds), never a mock default, so a policy that let a
 * spelling through without comparing it canonically would fail here.
 *
 * <p>Named {@code ...Test} so that Surefire's default includes run it (jqwik engine on the JUnit Platform).
 */
class SenderSpellingPropertiesTest {
    private static final String IDN_A = "xn--bcher-kva.example";
    private static final String IDN_U = "bücher.example";
    private static final Set<String> LOCAL = Set.of("relayguard.test", IDN_A);
    private static final LocalDomains LOCAL_DOMAINS = LOCAL::contains;

    private static final String ALICE = "alice@relayguard.test";
    private static final String BOB = "bob@relayguard.test";
    private static final String CAROL = "carol.jones@relayguard.test";
    private static final String CEO = "ceo@" + IDN_A;
    /** Same local part as BOB, another domain: another mailbox. */
    private static final String BOB_IDN = "bob@" + IDN_A;
    private static final List<String> USERS = List.of(ALICE, BOB, CAROL, CEO, BOB_IDN);

    /** Aliases each user owns besides its own address, as the RRT holds them (canonical spelling). */
    private static final Map<String, Set<String>> ALIASES = Map.of(
        ALICE, Set.of("sales@relayguard.test", "alice@partner.example"),
        BOB, Set.of(),
        CAROL, Set.of("c.jones@relayguard.test"),
        CEO, Set.of("board@" + IDN_A),
        BOB_IDN, Set.of());

    private static final SenderOwnership OWNERSHIP = (user, address) -> ALIASES.getOrDefault(user, Set.of()).contains(address);

    /** Every (owner, address) pair: each user's own address and its aliases. */
    private static final List<Owned> OWNED = USERS.stream()
        .flatMap(user -> Stream.concat(
            Stream.of(new Owned(user, user)),
            ALIASES.get(user).stream().sorted().map(alias -> new Owned(user, alias))))
        .collect(Collectors.toList());

    static final class Owned {
        final String owner;
        final String address;

        Owned(String owner, String address) {
            this.owner = owner;
            this.address = address;
        }

        boolean isLocal() {
            return LOCAL.contains(address.substring(address.lastIndexOf('@') + 1));
        }

        @Override
        public String toString() {
            return address + " (owned by " + owner + ")";
        }
    }

    /** How an address is written: the choices made, and the result. */
    static final class Spelling {
        final String address;
        final String text;
        final boolean quoted;
        final boolean escaped;
        final boolean uLabel;
        final boolean trailingDot;
        final boolean caseChanged;

        Spelling(String address, String text, boolean quoted, boolean escaped, boolean uLabel, boolean trailingDot, boolean caseChanged) {
            this.address = address;
            this.text = text;
            this.quoted = quoted;
            this.escaped = escaped;
            this.uLabel = uLabel;
            this.trailingDot = trailingDot;
            this.caseChanged = caseChanged;
        }

        /** True when mime4j can read it in a header (no 8-bit text, so no U-label). */
        boolean isAscii() {
            return text.chars().allMatch(c -> c < 0x80);
        }

        @Override
        public String toString() {
            return text;
        }
    }

    // ------------------------------------------------------------------------------------------------ generators

    static Arbitrary<Spelling> spellings(String address) {
        int at = address.lastIndexOf('@');
        String local = address.substring(0, at);
        String domain = address.substring(at + 1);
        boolean idn = domain.equals(IDN_A);
        Arbitrary<List<Boolean>> localCase = Arbitraries.of(true, false).list().ofSize(local.length());
        Arbitrary<Boolean> quoted = Arbitraries.of(true, false);
        Arbitrary<List<Boolean>> escapes = Arbitraries.of(true, false, false).list().ofSize(local.length());
        Arbitrary<Boolean> uLabel = idn ? Arbitraries.of(true, false) : Arbitraries.just(false);
        Arbitrary<Long> domainCase = Arbitraries.longs();
        Arbitrary<Boolean> trailingDot = Arbitraries.of(true, false);
        return Combinators.combine(localCase, quoted, escapes, uLabel, domainCase, trailingDot)
            .as((lc, q, esc, u, dc, dot) -> {
                StringBuilder text = new StringBuilder();
                boolean anyEscape = false;
                boolean caseChanged = false;
                if (q) {
                    text.append('"');
                }
                for (int i = 0; i < local.length(); i++) {
                    char c = local.charAt(i);
                    char written = lc.get(i) ? Character.toUpperCase(c) : c;
                    caseChanged |= written != c;
                    if (q && esc.get(i)) {
                        text.append('\\');
                        anyEscape = true;
                    }
                    text.append(written);
                }
                if (q) {
                    text.append('"');
                }
                text.append('@');
                String d = u ? IDN_U : domain;
                for (int i = 0; i < d.length(); i++) {
                    char c = d.charAt(i);
                    char written = ((dc >>> (i % 64)) & 1) == 1 ? Character.toUpperCase(c) : c;
                    caseChanged |= written != c;
                    text.append(written);
                }
                if (dot) {
                    text.append('.');
                }
                return new Spelling(address, text.toString(), q, anyEscape, u, dot, caseChanged);
            });
    }

    @Provide
    Arbitrary<Case> someoneElsesAddress() {
        return Arbitraries.of(USERS).flatMap(user -> Arbitraries.of(
                OWNED.stream().filter(owned -> !owned.owner.equals(user)).collect(Collectors.toList()))
            .flatMap(owned -> spellings(owned.address).map(spelling -> new Case(user, owned, spelling))));
    }

    @Provide
    Arbitrary<Case> ownAddress() {
        return Arbitraries.of(OWNED).flatMap(owned -> spellings(owned.address).map(spelling -> new Case(owned.owner, owned, spelling)));
    }

    @Provide
    Arbitrary<Case> anyAddress() {
        return Arbitraries.of(USERS).flatMap(user -> Arbitraries.of(OWNED)
            .flatMap(owned -> spellings(owned.address).map(spelling -> new Case(user, owned, spelling))));
    }

    @Provide
    Arbitrary<SenderOwnershipMode> checkingModes() {
        return Arbitraries.of(SenderOwnershipMode.STRICT, SenderOwnershipMode.KNOWN_ONLY);
    }

    static final class Case {
        final String user;
        final Owned target;
        final Spelling spelling;

        Case(String user, Owned target, Spelling spelling) {
            this.user = user;
            this.target = target;
            this.spelling = spelling;
        }

        @Override
        public String toString() {
            return user + " writes " + spelling + " for " + target;
        }
    }

    // -------------------------------------------------------------------------------------------------- helpers

    private static Client submission(String user) {
        return Client.of(InetAddress.getLoopbackAddress(), user, false, ListenerRole.SUBMISSION);
    }

    private static RelayPolicy policy(SenderOwnershipMode mode) {
        return RelayPolicy.of(TrustedNetworks.none(), Set.of(), List.of(), RuleModes.defaults(), mode);
    }

    private static Verdict mailFrom(RelayPolicy policy, String user, String sender) {
        return policy.decideSender(submission(user), sender, LOCAL_DOMAINS, OWNERSHIP);
    }

    private static Verdict headerFrom(RelayPolicy policy, String user, String address) {
        return policy.decideAuthorHeaders(submission(user),
            AuthorHeaders.of(List.of(AuthorHeaders.Field.mailboxes(List.of(address))), List.of()), LOCAL_DOMAINS, OWNERSHIP);
    }

    private static Verdict headerSender(RelayPolicy policy, String user, String address) {
        return policy.decideAuthorHeaders(submission(user),
            AuthorHeaders.of(List.of(AuthorHeaders.Field.mailboxes(List.of(user))),
                List.of(AuthorHeaders.Field.mailboxes(List.of(address)))), LOCAL_DOMAINS, OWNERSHIP);
    }

    /** The From: header an MUA would write, read by the real reader (mime4j). */
    private static Verdict realHeader(RelayPolicy policy, String user, Spelling spelling) {
        AuthorHeaders.Field field = AuthorHeaderReader.field("Someone <" + spelling.text + ">");
        assertThat(field.problem()).as("mime4j reads " + spelling).isEmpty();
        return policy.decideAuthorHeaders(submission(user), AuthorHeaders.of(List.of(field), List.of()), LOCAL_DOMAINS, OWNERSHIP);
    }

    private static void collectStatistics(Spelling spelling) {
        Statistics.label("quoted").collect(spelling.quoted);
        Statistics.label("escaped").collect(spelling.escaped);
        Statistics.label("uLabel").collect(spelling.uLabel);
        Statistics.label("trailingDot").collect(spelling.trailingDot);
        Statistics.label("caseChanged").collect(spelling.caseChanged);
    }

    private static void requireCoverage() {
        for (String label : List.of("quoted", "escaped", "uLabel", "trailingDot", "caseChanged")) {
            Statistics.label(label).coverage(coverage -> {
                coverage.check(true).count(count -> count > 0);
                coverage.check(false).count(count -> count > 0);
            });
        }
    }

    private static String describe(Verdict verdict) {
        return verdict.outcome() + " " + verdict.reason() + " " + verdict.replyLine();
    }

    // ------------------------------------------------------------------------------------------------ properties

    @Property(tries = 1000)
    @StatisticsReport(StatisticsReport.StatisticsReportMode.OFF)
    void someoneElsesAddressNeverPassesUnderStrict(@ForAll("someoneElsesAddress") Case c) {
        collectStatistics(c.spelling);
        RelayPolicy strict = policy(SenderOwnershipMode.STRICT);
        Verdict mail = mailFrom(strict, c.user, c.spelling.text);
        assertThat(mail.passes()).as("MAIL FROM " + c + ": " + mail).isFalse();
        assertThat(mail.reason()).isEqualTo(Reason.SENDER_NOT_OWNED);
        Verdict from = headerFrom(strict, c.user, c.spelling.text);
        assertThat(from.passes()).as("From: " + c + ": " + from).isFalse();
        assertThat(from.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        Verdict sender = headerSender(strict, c.user, c.spelling.text);
        assertThat(sender.passes()).as("Sender: " + c + ": " + sender).isFalse();
        assertThat(sender.reason()).isEqualTo(Reason.SENDER_HEADER_NOT_OWNED);
        requireCoverage();
    }

    @Property(tries = 500)
    void someoneElsesLocalAddressNeverPassesUnderKnownOnly(@ForAll("someoneElsesAddress") Case c) {
        RelayPolicy knownOnly = policy(SenderOwnershipMode.KNOWN_ONLY);
        Verdict mail = mailFrom(knownOnly, c.user, c.spelling.text);
        Verdict from = headerFrom(knownOnly, c.user, c.spelling.text);
        if (c.target.isLocal()) {
            assertThat(mail.passes()).as("MAIL FROM " + c + ": " + mail).isFalse();
            assertThat(from.passes()).as("From: " + c + ": " + from).isFalse();
        } else {
            // a foreign domain is not checked under known-only, whatever the spelling
            assertThat(mail.isAllowed()).as("MAIL FROM " + c + ": " + mail).isTrue();
            assertThat(from.isAllowed()).as("From: " + c + ": " + from).isTrue();
        }
    }

    @Property(tries = 1000)
    @StatisticsReport(StatisticsReport.StatisticsReportMode.OFF)
    void ownAddressAndOwnAliasesAlwaysPass(@ForAll("ownAddress") Case c, @ForAll("checkingModes") SenderOwnershipMode mode) {
        collectStatistics(c.spelling);
        RelayPolicy policy = policy(mode);
        Verdict mail = mailFrom(policy, c.user, c.spelling.text);
        assertThat(mail.isAllowed()).as("MAIL FROM " + c + " (" + mode + "): " + mail).isTrue();
        Verdict from = headerFrom(policy, c.user, c.spelling.text);
        assertThat(from.isAllowed()).as("From: " + c + " (" + mode + "): " + from).isTrue();
        Verdict sender = headerSender(policy, c.user, c.spelling.text);
        assertThat(sender.isAllowed()).as("Sender: " + c + " (" + mode + "): " + sender).isTrue();
        requireCoverage();
    }

    @Property(tries = 1000)
    void verdictOnASpellingIsTheVerdictOnItsCanonicalForm(@ForAll("anyAddress") Case c, @ForAll("checkingModes") SenderOwnershipMode mode) {
        RelayPolicy policy = policy(mode);
        String canonical = Mailboxes.canonical(c.spelling.text);
        assertThat(canonical).as("canonical of " + c.spelling).isEqualTo(c.target.address);
        assertThat(describe(mailFrom(policy, c.user, c.spelling.text)))
            .as("MAIL FROM " + c).isEqualTo(describe(mailFrom(policy, c.user, canonical)));
        assertThat(describe(headerFrom(policy, c.user, c.spelling.text)))
            .as("From: " + c).isEqualTo(describe(headerFrom(policy, c.user, canonical)));
        boolean owned = c.target.owner.equals(c.user) || (mode == SenderOwnershipMode.KNOWN_ONLY && !c.target.isLocal());
        assertThat(mailFrom(policy, c.user, canonical).isAllowed()).as("MAIL FROM " + canonical + " by " + c.user).isEqualTo(owned);
    }

    @Property(tries = 500)
    void throughTheRealHeaderReaderOnlyTheOwnerPasses(@ForAll("anyAddress") Case c) {
        if (!c.spelling.isAscii()) {
            // a U-label is 8-bit text: the reader refuses it (no SMTPUTF8), which never passes either
            AuthorHeaders.Field field = AuthorHeaderReader.field("Someone <" + c.spelling.text + ">");
            assertThat(field.problem()).as(c.toString()).isPresent();
            return;
        }
        Verdict verdict = realHeader(policy(SenderOwnershipMode.STRICT), c.user, c.spelling);
        assertThat(verdict.isAllowed()).as(c + ": " + verdict).isEqualTo(c.target.owner.equals(c.user));
    }

    @Example
    void generatorProducesTheSpellingsItClaims() {
        // a fixed spelling of each kind, through the same code paths as the generated ones
        RelayPolicy strict = policy(SenderOwnershipMode.STRICT);
        for (String spelling : List.of("\"B\\ob\"@RelayGuard.Test.", "CEO@BÜCHER.EXAMPLE.", "\"c\\.j\"@relayguard.test")) {
            assertThat(mailFrom(strict, ALICE, spelling).passes()).as(spelling).isFalse();
        }
        assertThat(mailFrom(strict, CEO, "\"C\\E\\O\"@Bücher.Example.").isAllowed()).isTrue();
        assertThat(mailFrom(strict, CEO, "Board@XN--BCHER-KVA.example").isAllowed()).isTrue();
        assertThat(mailFrom(strict, CAROL, "\"Carol\\.Jones\"@RELAYGUARD.test.").isAllowed()).isTrue();
    }

}
