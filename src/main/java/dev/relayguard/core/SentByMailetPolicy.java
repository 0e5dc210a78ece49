package dev.relayguard.core;

import java.util.Locale;

/**
 * How the mail pipeline treats mail that James itself sends (a mailet called {@code MailetContext.sendMail}:
 * bounces, DSNs, forwards of the RecipientRewriteTable, Sieve redirects).
 */
public enum SentByMailetPolicy {
    /** Relayed like stock James does (operator-configured forwards keep working). The default. */
    ALLOW,
    /** Only James's own notifications (null sender) may be relayed; other mailet mail is judged. */
    NULL_SENDER_ONLY,
    /** Judged like any other mail: its authenticated user, its remote address, its recipients' domains. */
    JUDGE;

    public static SentByMailetPolicy parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("expected allow, null-sender-only or judge");
        }
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** True when a mail sent by a mailet, with this null-sender-ness, is let through without judging it. */
    public boolean letsThrough(boolean nullSender) {
        return this == ALLOW || (this == NULL_SENDER_ONLY && nullSender);
    }
}
