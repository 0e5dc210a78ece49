package dev.relayguard.guice;

import dev.relayguard.config.RateLimitSettings;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.StoreKind;
import dev.relayguard.store.RedisAuthState;
import dev.relayguard.store.RedisLimiterStore;

/**
 * Creates the rate-limit store the policy file asks for, and the AUTH state beside it (at startup; changing the
 * store needs a restart).
 */
final class LimiterStores {

    private LimiterStores() {
    }

    static LimiterStore create(RateLimitSettings settings) {
        if (settings.store() == StoreKind.REDIS) {
            return new RedisLimiterStore(settings.redisURL(), settings.cluster(), settings.timeout());
        }
        return new MemoryLimiterStore(settings.maxTrackedKeys(), System::currentTimeMillis);
    }

    /**
     * Where failed logins, AUTH bans and known clients are kept: in the store's Redis (on its connection) when the
     * rate-limit store is Redis ({@code <rateLimits><store>redis</store>}), so that every node of a cluster sees
     * the same failures; else in memory.
     */
    static AuthState authState(AuthLimits limits, LimiterStore store) {
        if (store instanceof RedisLimiterStore) {
            return new RedisAuthState((RedisLimiterStore) store, limits);
        }
        return new MemoryAuthState(limits, System::currentTimeMillis);
    }
}
