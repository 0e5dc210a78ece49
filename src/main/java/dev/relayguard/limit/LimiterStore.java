package dev.relayguard.limit;

import java.util.List;
import java.util.Map;

/**
 * Where rate-limit counters live: in memory ({@link MemoryLimiterStore}, one node) or in Redis (a cluster).
 * Both implement the same {@link SlidingWindow} rule, so "N per T" means the same everywhere: at most N in any
 * interval of length T.
 */
public interface LimiterStore extends AutoCloseable {

    /**
     * Atomically: when every charge fits its limit, counts them all and returns a ticket; otherwise counts
     * nothing and names the limit that refused (the one that frees up last) with its retry delay.
     */
    LimitDecision acquire(String key, List<Charge> charges);

    /** Gives back what a ticket counted (as far as it is still inside its windows). Never throws. */
    void release(Ticket ticket);

    /** Current use of each limit for a key: how much is counted in the window right now. */
    Map<Limit, Long> usage(String key, List<Limit> limits);

    /** Forgets everything counted for a key. */
    void reset(String key);

    /** How many keys the store tracks (memory store; -1 when unknown). */
    long trackedKeys();

    /** "memory" or "redis". */
    String kind();

    @Override
    default void close() {
    }
}
