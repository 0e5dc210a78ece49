package dev.relayguard.limit;

import java.util.Locale;

/** Where the rate-limit counters live: {@code <store>} of {@code <rateLimits>} in relayguard.xml. */
public enum StoreKind {
    /** In this James's memory ({@link MemoryLimiterStore}); the default. */
    MEMORY,
    /** In Redis, shared by every James node ({@code dev.relayguard.store.RedisLimiterStore}). */
    REDIS;

    /**
     * @param text {@code memory} or {@code redis}, any case, surrounding spaces ignored
     * @throws IllegalArgumentException for anything else
     */
    public static StoreKind parse(String text) {
        switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "memory":
                return MEMORY;
            case "redis":
                return REDIS;
            default:
                throw new IllegalArgumentException("expected memory or redis");
        }
    }

    /** As relayguard.xml writes it: {@code memory} or {@code redis}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return configName();
    }
}
