package dev.relayguard.limit;

import java.util.List;
import java.util.Map;
import java.util.Objects;

import dev.relayguard.core.Holds;

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

    /**
     * The message charge at MAIL of a sender who may be suspended: {@link #acquire}, unless {@code holds} holds
     * {@code holdKey} now, in which case nothing is counted and the hold is the answer. The default reads the hold
     * ({@link Holds#holdOf}), then acquires: two calls, two Redis round trips when the holds are in Redis. The Redis
     * store answers both in one round trip (one script) when {@code holds} are the Redis holds kept on its own
     * standalone Redis; with Redis Cluster the holds live in another hash slot than the sender's counters, and it
     * makes the two calls. Never throws.
     *
     * @return the hold in force ({@link Holds#UNAVAILABLE} when it could not be read; nothing counted either way), or
     *     else the decision of {@link #acquire} (admitted with {@link Ticket#NONE} when {@code charges} is empty)
     */
    default HoldOrDecision acquireUnlessHeld(String key, List<Charge> charges, Holds holds, String holdKey) {
        Holds.Hold hold = holds.holdOf(holdKey);
        if (hold != null) {
            return HoldOrDecision.held(hold);
        }
        return HoldOrDecision.decided(charges.isEmpty() ? LimitDecision.admitted(Ticket.NONE) : acquire(key, charges));
    }

    /** What {@link #acquireUnlessHeld} answers: a hold in force (nothing counted), or the limiter's decision. */
    final class HoldOrDecision {
        private final Holds.Hold hold;
        private final LimitDecision decision;

        private HoldOrDecision(Holds.Hold hold, LimitDecision decision) {
            this.hold = hold;
            this.decision = decision;
        }

        public static HoldOrDecision held(Holds.Hold hold) {
            return new HoldOrDecision(Objects.requireNonNull(hold), null);
        }

        public static HoldOrDecision decided(LimitDecision decision) {
            return new HoldOrDecision(null, Objects.requireNonNull(decision));
        }

        /** The hold in force, or {@link Holds#UNAVAILABLE}; null when the limiter decided. */
        public Holds.Hold hold() {
            return hold;
        }

        /** The limiter's decision; null when held. */
        public LimitDecision decision() {
            return decision;
        }

        @Override
        public String toString() {
            return hold != null ? "held: " + hold : decision.toString();
        }
    }

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
