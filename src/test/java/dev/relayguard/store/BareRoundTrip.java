package dev.relayguard.store;

import java.util.List;

import dev.relayguard.limit.Charge;

/**
 * The anchors of {@code dev.relayguard.bench.RedisLimiterBenchmark}: one EVALSHA of a test script (first of all
 * {@code bench-return-at-once.lua}, which returns at once) sent exactly the way {@link RedisLimiterStore#acquire} sends
 * its script ({@link RedisLimiterStore#runWithAcquireArguments}): the store's own connection, client options, timeout
 * and NOSCRIPT fallback, the same hash-tagged key, acquire's arguments for the same charges (decide.lua's part, written
 * the same way) and the same binary reply reading.
 */
public final class BareRoundTrip {
    private static final RedisScript RETURN_AT_ONCE = RedisScript.resource("bench-return-at-once.lua");
    private static final RedisScript CLOCK_READ_WRITE = RedisScript.resource("bench-clock-read-write.lua");
    private static final RedisScript READ_WRITE = RedisScript.resource("bench-read-write.lua");

    private BareRoundTrip() {
    }

    /**
     * @return 1 (what the script answers)
     * @throws IllegalStateException when Redis does not answer within the store's timeout
     */
    public static long evalsha(RedisLimiterStore store, String key, List<Charge> charges) {
        List<Object> reply = store.runWithAcquireArguments(RETURN_AT_ONCE, key, charges);
        return (Long) reply.get(0);
    }

    /**
     * One EVALSHA of {@code bench-clock-read-write.lua}: acquire.lua's three {@code redis.call}s (TIME, HMGET, HSET
     * of two 56-byte values) without its decision, sent the same way.
     *
     * @return the script's 4-element reply
     */
    public static List<Object> clockReadWrite(RedisLimiterStore store, String key, List<Charge> charges) {
        return store.runWithAcquireArguments(CLOCK_READ_WRITE, key, charges);
    }

    /**
     * One EVALSHA of {@code bench-read-write.lua}: a GET and a SET PX of one 130-byte string, no TIME, no decision
     * (the floor of a limiter that keeps a key's counters in one string and takes its clock from the James node).
     */
    public static List<Object> readWrite(RedisLimiterStore store, String key, List<Charge> charges) {
        return store.runWithAcquireArguments(READ_WRITE, key, charges);
    }

    /** How the store counted its admissions: by its precomputed write ({@code unchanged.lua}) or by the full script. */
    public static String countedBy(RedisLimiterStore store) {
        long precomputed = store.precomputedWrites();
        long full = store.fullDecisions();
        return String.format(java.util.Locale.ROOT, "%,d by the precomputed write, %,d by the full decision (%.1f%% precomputed)",
            precomputed, full, 100.0 * precomputed / Math.max(1, precomputed + full));
    }
}
