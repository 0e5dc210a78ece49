package dev.relayguard.limit;

import dev.relayguard.core.ConfigName;

/** What a rate limit counts. */
public enum Measure implements ConfigName {
    /** Messages accepted (charged at MAIL, committed at the end of DATA). */
    MESSAGES,
    /** Recipients accepted (charged at each RCPT). */
    RECIPIENTS,
    /** Message bytes (charged at the end of DATA). */
    BYTES;

    /** @throws IllegalArgumentException naming the accepted words */
    public static Measure parse(String text) {
        return ConfigName.parse(Measure.class, text);
    }
}
