package dev.relayguard.guice;

import java.nio.file.Path;

import dev.relayguard.config.RateLimitSettings;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.Holds;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Suspensions;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.StoreKind;
import dev.relayguard.store.RedisAuthState;
import dev.relayguard.store.RedisHolds;
import dev.relayguard.store.RedisLimiterStore;

/**
 * Creates the rate-limit store the policy file asks for, and the AUTH state, probe bans and suspensions beside it (at
 * startup; changing the store needs a restart).
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

    /**
     * Where probe bans live: in the store's Redis when the rate-limit store is Redis (every node refuses a client
     * banned on any node; bans survive restarts); else in memory on this node (lost on restart).
     */
    static Holds probeBans(ProbeBans.Settings settings, LimiterStore store) {
        if (store instanceof RedisLimiterStore) {
            return new RedisHolds((RedisLimiterStore) store, RedisHolds.PROBE_BANS, settings.asHolds());
        }
        return new Suspensions(settings.asHolds(), System::currentTimeMillis);
    }

    /**
     * Where senders' suspensions live: in the store's Redis when the rate-limit store is Redis (cluster-wide, kept
     * across restarts); else in memory on this node, kept in {@code keptIn} so that they survive a restart.
     */
    static Holds suspensions(Holds.Settings settings, LimiterStore store, Path keptIn) {
        if (store instanceof RedisLimiterStore) {
            return new RedisHolds((RedisLimiterStore) store, RedisHolds.SUSPENSIONS, settings);
        }
        return new Suspensions(settings, System::currentTimeMillis, keptIn);
    }
}
