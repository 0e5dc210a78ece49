package dev.relayguard.guice;

import dev.relayguard.config.RateLimitSettings;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.StoreKind;
import dev.relayguard.store.RedisLimiterStore;

/** Creates the rate-limit store the policy file asks for (at startup; changing the store needs a restart). */
final class LimiterStores {

    private LimiterStores() {
    }

    static LimiterStore create(RateLimitSettings settings) {
        if (settings.store() == StoreKind.REDIS) {
            return new RedisLimiterStore(settings.redisURL(), settings.cluster(), settings.timeout());
        }
        return new MemoryLimiterStore(settings.maxTrackedKeys(), System::currentTimeMillis);
    }
}
