package dev.relayguard.config;

import java.time.Duration;

import dev.relayguard.core.Holds;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.StoreKind;
import dev.relayguard.store.RedisLimiterStore;

/** The {@code <rateLimits>} part of the policy file, validated. The store settings apply at startup only. */
public final class RateLimitSettings {
    public static final RateLimitSettings NONE = new RateLimitSettings(RateLimitPolicy.NONE, StoreKind.MEMORY, 100_000, null, false,
        Duration.ofMillis(500), RateLimiter.FailureMode.FAIL_OPEN, new Holds.Settings(0, 600_000, 3_600_000, 100_000));

    private final RateLimitPolicy policy;
    private final StoreKind store;
    private final long maxTrackedKeys;
    private final String redisURL;
    private final boolean cluster;
    private final Duration timeout;
    private final RateLimiter.FailureMode failureMode;
    private final Holds.Settings suspension;

    public RateLimitSettings(RateLimitPolicy policy, StoreKind store, long maxTrackedKeys, String redisURL, boolean cluster,
                             Duration timeout, RateLimiter.FailureMode failureMode, Holds.Settings suspension) {
        this.policy = policy;
        this.store = store;
        this.maxTrackedKeys = maxTrackedKeys;
        this.redisURL = redisURL;
        this.cluster = cluster;
        this.timeout = timeout;
        this.failureMode = failureMode;
        this.suspension = suspension;
    }

    public RateLimitPolicy policy() {
        return policy;
    }

    public StoreKind store() {
        return store;
    }

    public long maxTrackedKeys() {
        return maxTrackedKeys;
    }

    /** The URL as configured, password included: never log it, {@link RedisLimiterStore#redact} it. */
    public String redisURL() {
        return redisURL;
    }

    public boolean cluster() {
        return cluster;
    }

    public Duration timeout() {
        return timeout;
    }

    public RateLimiter.FailureMode failureMode() {
        return failureMode;
    }

    /** Suspension after repeated limit hits (hits 0 = off). */
    public Holds.Settings suspension() {
        return suspension;
    }

    @Override
    public String toString() {
        return "{store=" + store + (store == StoreKind.REDIS ? " " + RedisLimiterStore.redact(redisURL) + (cluster ? " cluster" : "") : " maxTrackedKeys=" + maxTrackedKeys)
            + ", timeout=" + timeout + ", onStoreFailure=" + failureMode.configName() + ", limits=" + policy
            + ", suspension=" + suspension + "}";
    }
}
