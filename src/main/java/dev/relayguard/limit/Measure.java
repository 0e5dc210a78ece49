package dev.relayguard.limit;

import java.util.Locale;

/** What a rate limit counts. */
public enum Measure {
    /** Messages accepted (charged at MAIL, committed at the end of DATA). */
    MESSAGES,
    /** Recipients accepted (charged at each RCPT). */
    RECIPIENTS,
    /** Message bytes (charged at the end of DATA). */
    BYTES;

    public static Measure parse(String text) {
        try {
            return Measure.valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("expected messages, recipients or bytes");
        }
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
