package dev.relayguard.limit;

import dev.relayguard.core.ConfigName;

/** Where the rate-limit counters live: {@code <store>} of {@code <rateLimits>} in relayguard.xml. */
public enum StoreKind implements ConfigName {
    /** In this James's memory ({@link MemoryLimiterStore}); the default. */
    MEMORY,
    /** In Redis, shared by every James node ({@code dev.relayguard.store.RedisLimiterStore}). */
    REDIS;

    /**
     * @param text {@code memory} or {@code redis}, any case, surrounding spaces ignored
     * @throws IllegalArgumentException "expected memory or redis" for anything else
     */
    public static StoreKind parse(String text) {
        return ConfigName.parse(StoreKind.class, text);
    }

    /** As relayguard.xml writes it: {@code memory} or {@code redis}. */
    @Override
    public String toString() {
        return configName();
    }
}
