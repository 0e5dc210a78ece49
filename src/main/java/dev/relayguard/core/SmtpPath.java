package dev.relayguard.core;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * What an address in {@code MAIL FROM:<...>} or {@code RCPT TO:<...>} really says, read from the raw text the
 * client sent, before any server rewrites it. It finds the routing tricks relay abusers use:
 * source routes ({@code @a,@b:user@dom}), the percent hack ({@code user%remote@local}), bang paths
 * ({@code remote!user}), an {@code @} inside the local part ({@code "user@remote"@local}), IP-literal domains
 * ({@code user@[192.0.2.1]}) and unqualified addresses ({@code user}).
 *
 * <p>Where the path comes from matters: {@link SmtpArgument} cuts a command's path where James cuts it, and the
 * SMTP hooks judge the address James recorded ({@link #ofAddress}), so RelayGuard and James read the same address.
 */
public final class SmtpPath {
    /** A routing trick found in a path, in the order they are reported. */
    public enum Trick {
        SOURCE_ROUTE(Reason.ROUTING_SOURCE_ROUTE, "source route"),
        AT_IN_LOCAL_PART(Reason.ROUTING_AT_IN_LOCAL_PART, "'@' in the local part"),
        PERCENT_HACK(Reason.ROUTING_PERCENT_HACK, "'%' in the local part (percent hack)"),
        BANG_PATH(Reason.ROUTING_BANG_PATH, "'!' in the local part (bang path)"),
        IP_LITERAL(Reason.ROUTING_IP_LITERAL, "IP-literal domain"),
        UNQUALIFIED(Reason.ROUTING_UNQUALIFIED, "no domain (unqualified address)");

        private final Reason reason;
        private final String description;

        Trick(Reason reason, String description) {
            this.reason = reason;
            this.description = description;
        }

        public Reason reason() {
            return reason;
        }

        public String description() {
            return description;
        }
    }

    private final String raw;
    private final String localPart;
    private final String domain;
    private final Set<Trick> tricks;

    private SmtpPath(String raw, String localPart, String domain, Set<Trick> tricks) {
        this.raw = raw;
        this.localPart = localPart;
        this.domain = domain;
        this.tricks = tricks;
    }

    /**
     * The routing tricks in an address as James parsed and recorded it ({@code MailAddress}: the local part as
     * written, quotes and backslashes kept; the domain with the brackets of an IP literal dropped). This is what
     * the SMTP hooks and the pipeline judge: the value James acts on, not the client's spelling of it.
     * An IP-literal domain is recognised with or without brackets ({@code user@[192.0.2.1]}, {@code user@192.0.2.1}:
     * James accepts both and records the same domain).
     */
    public static SmtpPath ofAddress(String localPart, String domain) {
        SmtpPath path = parse(localPart + "@" + domain);
        if (domain != null && !domain.startsWith("[") && isIpAddress(domain)) {
            EnumSet<Trick> tricks = path.tricks.isEmpty() ? EnumSet.noneOf(Trick.class) : EnumSet.copyOf(path.tricks);
            tricks.add(Trick.IP_LITERAL);
            return new SmtpPath(path.raw, path.localPart, "[" + domain + "]", tricks);
        }
        return path;
    }

    /** Digits and dots only (James accepts {@code 010.1.1.1} in brackets), or an IPv6 form: never a host name. */
    private static boolean isIpAddress(String domain) {
        String text = domain.trim();
        if (text.isEmpty()) {
            return false;
        }
        boolean digitsAndDots = true;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c != '.' && (c < '0' || c > '9')) {
                digitsAndDots = false;
                break;
            }
        }
        return digitsAndDots || text.indexOf(':') >= 0;
    }

    /** Reads a bare path (the text between {@code <} and {@code >}). */
    public static SmtpPath parse(String path) {
        EnumSet<Trick> tricks = EnumSet.noneOf(Trick.class);
        String mailbox = path.trim();
        if (mailbox.startsWith("@")) {
            tricks.add(Trick.SOURCE_ROUTE);
            int routeEnd = mailbox.indexOf(':');
            mailbox = routeEnd < 0 ? "" : mailbox.substring(routeEnd + 1);
        }
        String localPart;
        String domain;
        if (mailbox.startsWith("\"")) {
            int endQuote = closingQuote(mailbox);
            if (endQuote < 0) {
                localPart = unescape(mailbox.substring(1));
                domain = null;
            } else {
                localPart = unescape(mailbox.substring(1, endQuote));
                String after = mailbox.substring(endQuote + 1);
                domain = after.startsWith("@") ? after.substring(1) : null;
                if (!after.isEmpty() && !after.startsWith("@")) {
                    localPart = localPart + after; // "a"b: odd, keep everything for the checks
                }
            }
        } else {
            int at = mailbox.lastIndexOf('@');
            localPart = at < 0 ? mailbox : mailbox.substring(0, at);
            domain = at < 0 ? null : mailbox.substring(at + 1);
        }
        if (localPart.indexOf('@') >= 0) {
            tricks.add(Trick.AT_IN_LOCAL_PART);
        }
        if (localPart.indexOf('%') >= 0) {
            tricks.add(Trick.PERCENT_HACK);
        }
        if (localPart.indexOf('!') >= 0) {
            tricks.add(Trick.BANG_PATH);
        }
        if (domain != null && domain.startsWith("[")) {
            tricks.add(Trick.IP_LITERAL);
        }
        if ((domain == null || domain.isEmpty()) && !mailbox.isEmpty()
                && !localPart.toLowerCase(Locale.ROOT).equals("postmaster")) {
            tricks.add(Trick.UNQUALIFIED);
        }
        return new SmtpPath(path, localPart, domain == null || domain.isEmpty() ? null : domain, tricks);
    }

    private static int closingQuote(String text) {
        for (int i = 1; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                return i;
            }
        }
        return -1;
    }

    private static String unescape(String quoted) {
        return quoted.replaceAll("\\\\(.)", "$1");
    }

    /** True for the null path {@code <>}. */
    public boolean isNull() {
        return raw.trim().isEmpty();
    }

    public String raw() {
        return raw;
    }

    /** The local part with quotes and escapes removed. */
    public String localPart() {
        return localPart;
    }

    /** The domain as written (null when unqualified). */
    public String domain() {
        return domain;
    }

    public Set<Trick> tricks() {
        return tricks.isEmpty() ? Set.of() : EnumSet.copyOf(tricks);
    }

    public boolean has(Trick trick) {
        return tricks.contains(trick);
    }

    /** The IP literal without brackets, {@code IPv6:} tag kept, lower case ({@code 192.0.2.1}); null if none. */
    public String ipLiteral() {
        if (domain == null || !domain.startsWith("[") || !domain.endsWith("]")) {
            return null;
        }
        return domain.substring(1, domain.length() - 1).trim().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return "<" + raw + "> " + tricks;
    }
}
