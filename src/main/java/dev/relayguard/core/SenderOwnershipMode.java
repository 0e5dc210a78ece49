package dev.relayguard.core;

/** How strictly an authenticated user's MAIL FROM must be its own. */
public enum SenderOwnershipMode implements ConfigName {
    /** Every sender address must be the user's own or an alias James maps to it. The default. */
    STRICT,
    /** Only sender addresses in local domains are checked; addresses in other domains are let through. */
    KNOWN_ONLY,
    /** No check. */
    OFF;

    /** @throws IllegalArgumentException naming the accepted words */
    public static SenderOwnershipMode parse(String text) {
        return ConfigName.parse(SenderOwnershipMode.class, text);
    }
}
