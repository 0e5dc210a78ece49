package dev.relayguard.core;

import java.util.Locale;

/** How strictly an authenticated user's MAIL FROM must be its own. */
public enum SenderOwnershipMode {
    /** Every sender address must be the user's own or an alias James maps to it. The default. */
    STRICT,
    /** Only sender addresses in local domains are checked; addresses in other domains are let through. */
    KNOWN_ONLY,
    /** No check. */
    OFF;

    public static SenderOwnershipMode parse(String text) {
        try {
            return SenderOwnershipMode.valueOf(text.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("expected strict, known-only or off");
        }
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
