package dev.relayguard.core;

import java.util.Locale;

/**
 * One spelling per mailbox, for comparing who owns what: {@code "Demo"@RelayGuard.TEST.} and
 * {@code demo@relayguard.test} are the same mailbox, and so are {@code ceo@bücher.example} and
 * {@code ceo@xn--bcher-kva.example}.
 */
public final class Mailboxes {
    private static final String ATEXT = "!#$%&'*+-/=?^_`{|}~";

    private Mailboxes() {
    }

    /**
     * The canonical form of {@code local@domain}: the local part lower-cased (James's {@code Username} compares
     * it so), its quotes dropped when what they quote is a plain dot-atom (RFC 5321 §4.1.2: {@code "demo"} is
     * {@code demo}); the domain as {@link DomainName#canonical} has it (lower case, A-labels, no trailing dot).
     * Quoted local parts that need their quotes keep them (and never match a user's plain address).
     */
    public static String canonical(String address) {
        String text = address.trim();
        int at = text.lastIndexOf('@');
        String local = at < 0 ? text : text.substring(0, at);
        String written = at < 0 ? "" : text.substring(at + 1);
        // One trailing dot is the root (a.example. = a.example); more is no domain at all: kept as written, so it
        // matches nobody, and canonical stays idempotent.
        String domain = written.endsWith("..") ? written.toLowerCase(Locale.ROOT) : DomainName.canonical(written);
        return unquoted(local).toLowerCase(Locale.ROOT) + "@" + domain;
    }

    private static String unquoted(String local) {
        if (local.length() < 2 || !local.startsWith("\"") || !local.endsWith("\"")) {
            return local;
        }
        StringBuilder content = new StringBuilder();
        for (int i = 1; i < local.length() - 1; i++) {
            char c = local.charAt(i);
            if (c == '\\' && i + 1 < local.length() - 1) {
                c = local.charAt(++i);
            }
            content.append(c);
        }
        return isDotAtom(content) ? content.toString() : local;
    }

    /** True for an RFC 5322 dot-atom: atext runs separated by single dots ({@code john.doe}, {@code a+b}). */
    public static boolean isDotAtom(CharSequence text) {
        if (text.length() == 0 || text.charAt(0) == '.' || text.charAt(text.length() - 1) == '.') {
            return false;
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean atext = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || ATEXT.indexOf(c) >= 0;
            if (c == '.' ? text.charAt(i - 1) == '.' : !atext) {
                return false;
            }
        }
        return true;
    }
}
