package dev.relayguard.core;

/**
 * How the mail pipeline treats mail that James itself sends (a mailet called {@code MailetContext.sendMail}:
 * bounces, DSNs, forwards of the RecipientRewriteTable, Sieve redirects).
 */
public enum SentByMailetPolicy implements ConfigName {
    /** Relayed like stock James does (operator-configured forwards keep working). The default. */
    ALLOW,
    /** Only James's own notifications (null sender) may be relayed; other mailet mail is judged. */
    NULL_SENDER_ONLY,
    /** Judged like any other mail: its authenticated user, its remote address, its recipients' domains. */
    JUDGE;

    /** @throws IllegalArgumentException naming the accepted words */
    public static SentByMailetPolicy parse(String text) {
        return ConfigName.parse(SentByMailetPolicy.class, text);
    }

    /** True when a mail sent by a mailet, with this null-sender-ness, is let through without judging it. */
    public boolean letsThrough(boolean nullSender) {
        return this == ALLOW || (this == NULL_SENDER_ONLY && nullSender);
    }
}
