package dev.relayguard.store;

import io.lettuce.core.ScriptOutputType;

/**
 * The anchor of {@code dev.relayguard.bench.RedisLimiterBenchmark}: one EVALSHA of a script that returns at once
 * ({@code bench-return-at-once.lua}, a test resource), sent exactly the way {@link RedisLimiterStore#acquire} sends
 * its script: the store's own connection, client options, timeout and NOSCRIPT fallback, the same hash-tagged key.
 */
public final class BareRoundTrip {
    private static final RedisScript RETURN_AT_ONCE = RedisScript.resource("bench-return-at-once.lua");

    private BareRoundTrip() {
    }

    /**
     * @return 1 (what the script answers)
     * @throws IllegalStateException when Redis does not answer within the store's timeout
     */
    public static long evalsha(RedisLimiterStore store, String key, String[] args) {
        Long reply = store.runScript(RETURN_AT_ONCE, ScriptOutputType.INTEGER, new String[] {RedisLimiterStore.redisKey(key)}, args);
        return reply;
    }
}
