package dev.relayguard.core;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Holds on string keys: "K hits within T hold the key for D", plus holds set and lifted by hand. RelayGuard keeps two
 * such tables: the <b>suspensions</b> of senders ({@code <rateLimits><suspension>} in relayguard.xml; keys
 * {@code user:<name>} and {@code ip:<address>}, {@code limit.SubjectKey}; hits are rate-limit refusals; operators
 * suspend by hand over JMX) and the <b>probe bans</b> of clients ({@code <probeBans>}; keys {@link ProbeBans#keyOf};
 * hits are relay refusals).
 *
 * <p>Where they live: {@link Suspensions} (memory, one node, both tables; the suspensions can be kept in a file so
 * that they survive a restart, the bans cannot); with the Redis
 * rate-limit store ({@code <rateLimits><store>redis</store>}) {@code store.RedisHolds}, shared by every James node of a
 * cluster and kept across restarts.
 *
 * <p>Times are epoch milliseconds; {@link Hold#FOREVER} is a hold until lifted by hand.
 *
 * <p><b>Errors.</b> The SMTP path never gets an exception: {@link #holdOf} answers {@link #UNAVAILABLE} when the store
 * cannot answer (the caller applies {@code <rateLimits><onStoreFailure>}), {@link #countHit} counts nothing and answers
 * null. The operators' calls ({@link #hold}, {@link #lift}, {@link #active}) throw {@link IllegalStateException} with
 * the cause instead, so that an operator never believes a suspension was set or lifted when it was not. The counts
 * answer -1. {@link #healthy()} is false from a failure until the store answers again. Implementations are
 * thread-safe.
 */
public interface Holds extends AutoCloseable {

    /**
     * One held key: since when, until when, and why. The start of a hold is when it began: the hit that started an
     * automatic hold, the first {@link Holds#hold} of a manual one. A key held again while held (a new end or reason
     * set by hand) keeps its start, since it has been held all along; a key held again after its hold ended or was
     * lifted starts anew.
     */
    final class Hold {
        /** The end of a hold that lasts until it is lifted by hand. */
        public static final long FOREVER = Long.MAX_VALUE;
        /**
         * The start of a hold recorded before holds kept their start (a suspensions file line or a Redis value written
         * by an earlier RelayGuard): shown as unknown ({@code null} over WebAdmin, {@code since unknown} over JMX).
         */
        public static final long START_UNKNOWN = -1;

        private final String key;
        private final long sinceMillis;
        private final long untilMillis;
        private final String reason;

        /** A hold whose start is {@link #START_UNKNOWN}. */
        public Hold(String key, long untilMillis, String reason) {
            this(key, START_UNKNOWN, untilMillis, reason);
        }

        /**
         * @param sinceMillis when the hold started, epoch ms, or {@link #START_UNKNOWN}
         * @param untilMillis when it ends, epoch ms, or {@link #FOREVER}
         */
        public Hold(String key, long sinceMillis, long untilMillis, String reason) {
            this.key = key;
            this.sinceMillis = sinceMillis;
            this.untilMillis = untilMillis;
            this.reason = reason;
        }

        public String key() {
            return key;
        }

        /** When the hold started, epoch millis; {@link #START_UNKNOWN} when that was not recorded. */
        public long sinceMillis() {
            return sinceMillis;
        }

        /** True when the start was recorded ({@link #sinceMillis()} is a time). */
        public boolean isStartKnown() {
            return sinceMillis != START_UNKNOWN;
        }

        /** The end of the hold, epoch millis; {@link #FOREVER} until lifted. */
        public long untilMillis() {
            return untilMillis;
        }

        public String reason() {
            return reason;
        }

        public boolean isForever() {
            return untilMillis == FOREVER;
        }

        /** True for {@link Holds#UNAVAILABLE}: the store could not tell. */
        public boolean isUnavailable() {
            return this == UNAVAILABLE;
        }

        /** {@code 192.0.2.7 since 2026-11-30T07:01:00Z until 2026-11-30T08:01:00Z (relay probing)}. */
        @Override
        public String toString() {
            return key + " since " + (isStartKnown() ? Instant.ofEpochMilli(sinceMillis).toString() : "unknown")
                + " until " + (isForever() ? "lifted" : Instant.ofEpochMilli(untilMillis).toString()) + " (" + reason + ")";
        }
    }

    /** What {@link #holdOf} answers when the store cannot answer (Redis down or too slow). */
    Hold UNAVAILABLE = new Hold("", 0, "store unavailable");

    /** The rule: {@code hits} hits within {@code withinMillis} hold a key for {@code holdMillis}; the bounds of memory. */
    final class Settings {
        private final int hits;
        private final long withinMillis;
        private final long holdMillis;
        private final int maxTracked;
        private final int maxHeld;

        /** {@code maxTracked} keys collecting hits and, apart, as many held. */
        public Settings(int hits, long withinMillis, long holdMillis, int maxTracked) {
            this(hits, withinMillis, holdMillis, maxTracked, maxTracked);
        }

        /**
         * @param hits         how many hits within {@code withinMillis} start a hold (0: never automatically)
         * @param withinMillis the interval the hits must fall in, ms (positive)
         * @param holdMillis   how long an automatic hold lasts, ms (0 or more)
         * @param maxTracked   the most keys collecting hits (at least 1), the least recently hit forgotten first
         * @param maxHeld      the most keys held at once (at least 1), see the implementations for which goes first
         * @throws IllegalArgumentException for values outside these ranges
         */
        public Settings(int hits, long withinMillis, long holdMillis, int maxTracked, int maxHeld) {
            if (hits < 0 || maxTracked < 1 || maxHeld < 1 || withinMillis <= 0 || holdMillis < 0) {
                throw new IllegalArgumentException("hits >= 0, maxTracked >= 1, maxHeld >= 1, within > 0, holdFor >= 0");
            }
            this.hits = hits;
            this.withinMillis = withinMillis;
            this.holdMillis = holdMillis;
            this.maxTracked = maxTracked;
            this.maxHeld = maxHeld;
        }

        public int hits() {
            return hits;
        }

        public long withinMillis() {
            return withinMillis;
        }

        public long holdMillis() {
            return holdMillis;
        }

        public int maxTracked() {
            return maxTracked;
        }

        public int maxHeld() {
            return maxHeld;
        }

        /** As the reload diff and the policy summary show it, e.g. {@code {hits=3, within=PT10M, suspendFor=PT1H}}. */
        @Override
        public String toString() {
            return hits == 0 ? "{off}" : "{hits=" + hits + ", within=" + Duration.ofMillis(withinMillis)
                + ", suspendFor=" + Duration.ofMillis(holdMillis) + "}";
        }
    }

    /**
     * Counts one hit against a key (a rate limit refused it, a relay probe was refused). A held key collects no hits.
     *
     * @return the hold this hit started (the {@code hits}-th within the interval), else null; null too when the store
     *     cannot answer (nothing counted)
     */
    Hold countHit(String key, String reason);

    /**
     * Holds a key by hand until {@code untilMillis} ({@link Hold#FOREVER}: until lifted), replacing the end and reason
     * of any hold it has; a key held now keeps its start ({@link Hold#sinceMillis}), any other starts now. An end
     * already past lifts the key's hold.
     *
     * @throws IllegalStateException when the store cannot record it
     */
    void hold(String key, long untilMillis, String reason);

    /** The hold of a key in force now; null when it has none; {@link #UNAVAILABLE} when the store cannot answer. */
    Hold holdOf(String key);

    /**
     * Lifts a key's hold and forgets its hits.
     *
     * @return true when it was held
     * @throws IllegalStateException when the store cannot answer
     */
    boolean lift(String key);

    /**
     * The holds in force now.
     *
     * @throws IllegalStateException when the store cannot answer
     */
    List<Hold> active();

    /** Keys collecting hits plus keys held; -1 when the store cannot answer. */
    int trackedCount();

    /** Keys held now; -1 when the store cannot answer. */
    int heldCount();

    /** Holds dropped early because more than {@code maxHeld} were in force at once, since start (this node). */
    default long droppedHolds() {
        return 0;
    }

    /** New settings (after a policy reload): holds in force and hits collected are kept, within the new bounds. */
    void reconfigure(Settings settings);

    /** False from a failure of the store until it answers again. */
    default boolean healthy() {
        return true;
    }

    /**
     * True when the store answers: {@link #healthy()}, or, after a failure, a fresh {@link #heldCount()} that the store
     * answered (so a health check sees the store back even when no SMTP lookup has run since).
     */
    default boolean answers() {
        return healthy() || heldCount() >= 0;
    }

    /** Where the holds live, for the policy summary and logs ({@code memory}, {@code redis}, ...). */
    String kind();

    /** Releases what the holds own (not a shared Redis connection). */
    @Override
    default void close() {
    }
}
