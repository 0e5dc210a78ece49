package dev.relayguard.limit;

import java.util.List;
import java.util.Map;

/**
 * Where rate-limit counters live: in memory ({@link MemoryLimiterStore}, one node) or in Redis (a cluster).
 * Both implement the same {@link SlidingWindow} rule, so "N per T" means the same everywhere: at most N in any
 * interval of length T.
 *
 * <p><b>Errors.</b> The decision methods ({@link #acquire}, {@link #estimate}, {@link #release},
 * {@link #isCurrent}) never throw: a store that cannot answer (Redis down, a timeout) answers
 * {@link LimitDecision#storeFailed} within its timeout, and the caller applies its fail-open / fail-closed policy;
 * {@link #release} then gives back nothing. The operator methods ({@link #usage}, {@link #reset}) throw
 * {@link IllegalStateException} when the store cannot answer.
 */
public interface LimiterStore extends AutoCloseable {

    /**
     * Atomically: when every charge fits its limit, counts them all and returns a ticket; otherwise counts
     * nothing and names the limit that refused (the one that frees up last) with its retry delay.
     */
    LimitDecision acquire(String key, List<Charge> charges);

    /**
     * What {@link #acquire} would answer now, read only: admitted (with {@link Ticket#NONE}), or refused with the
     * limit and its retry delay, or a store failure; counts nothing and writes nothing (bucket4j's
     * {@code estimateAbilityToConsume}). For the {@code SIZE=} check at MAIL and the operators' {@code usage}.
     * Never throws.
     */
    LimitDecision estimate(String key, List<Charge> charges);

    /** Gives back what a ticket counted (as far as it is still inside its windows). Never throws. */
    void release(Ticket ticket);

    /**
     * True when everything the ticket counted sits in the sub-bucket that "now" falls in, so that counting it now
     * would change nothing: a transaction held open since its MAIL may then be accepted on that reservation.
     * False means the reservation is older than the current sub-bucket and the caller charges the acceptance
     * again (releasing the old reservation), so that "at most N accepted in any interval T" holds for the time of
     * acceptance too. The default is false (always charge again): exact for any store, one more decision.
     */
    default boolean isCurrent(Ticket ticket) {
        return false;
    }

    /** Current use of each limit for a key: how much is counted in the window right now. */
    Map<Limit, Long> usage(String key, List<Limit> limits);

    /** Forgets everything counted for a key. */
    void reset(String key);

    /** How many keys the store tracks (memory store; -1 when unknown). */
    long trackedKeys();

    /** "memory" or "redis". */
    String kind();

    /**
     * False while the counters are known to under-count: the store lost them behind our back (Redis flushed, or
     * restarted without persistence) less than the longest window ago. Always true for the memory store.
     */
    default boolean countersIntact() {
        return true;
    }

    /** What happened to the counters, with its time, while {@link #countersIntact()} is false; else "". */
    default String countersResetNote() {
        return "";
    }

    /** Called once per detected loss of every counter (e.g. to count it in a metric); never from a decision. */
    default void onCountersReset(Runnable listener) {
    }

    @Override
    default void close() {
    }
}
