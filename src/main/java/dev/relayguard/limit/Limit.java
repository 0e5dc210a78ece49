package dev.relayguard.limit;

import java.time.Duration;
import java.util.Objects;

/**
 * "At most {@code max} {@code measure} in any interval of length {@code window}", e.g. 20 messages per minute.
 * Two limits with the same measure and window share their counters (a reload that changes {@code max} keeps
 * what was already counted).
 */
public final class Limit {
    private final Measure measure;
    private final long max;
    private final Duration window;
    private final String counterId;
    private final long windowMillis;
    private final long width;
    private final SubBucketIndex subBuckets;
    /** The refusal of a charge larger than this limit (retrying cannot help): the same for every key. */
    private final LimitDecision tooLarge;

    public Limit(Measure measure, long max, Duration window) {
        if (max < 1) {
            throw new IllegalArgumentException("a limit allows at least 1");
        }
        if (max > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a limit allows at most " + Integer.MAX_VALUE + " (2G) per window");
        }
        if (window.toMillis() < SlidingWindow.SUB_BUCKETS) {
            throw new IllegalArgumentException("a window must be at least " + SlidingWindow.SUB_BUCKETS + " ms");
        }
        this.measure = Objects.requireNonNull(measure);
        this.max = max;
        this.window = window;
        this.windowMillis = window.toMillis();
        this.width = SlidingWindow.width(windowMillis);
        this.subBuckets = new SubBucketIndex(width);
        // Interned: the memory store finds a counter by identity first.
        this.counterId = (measure.configName().charAt(0) + Long.toString(windowMillis)).intern();
        this.tooLarge = LimitDecision.refused(this, windowMillis, true);
    }

    public Measure measure() {
        return measure;
    }

    public long max() {
        return max;
    }

    public Duration window() {
        return window;
    }

    /** The window in milliseconds. */
    public long windowMillis() {
        return windowMillis;
    }

    /** The width of one sub-bucket of the window in milliseconds ({@link SlidingWindow#width}). */
    long width() {
        return width;
    }

    /** The sub-bucket {@code millis} falls in ({@link SlidingWindow#bucketAt}), mostly without a division. */
    long bucketAt(long millis) {
        return subBuckets.indexOf(millis);
    }

    /** The slot of that sub-bucket among {@link SlidingWindow#SLOTS} ({@code floorMod(bucketAt(millis), SLOTS)}). */
    int slotAt(long millis) {
        return subBuckets.slotOf(millis);
    }

    /** {@code LimitDecision.refused(this, windowMillis(), true)}, made once. */
    LimitDecision tooLarge() {
        return tooLarge;
    }

    /** Identifies the counters of this limit within one key: measure and window, not max. Interned. */
    public String counterId() {
        return counterId;
    }

    /** e.g. {@code 20 messages per 1m}. */
    @Override
    public String toString() {
        return max + " " + measure.configName() + " per " + SlidingWindow.humanDuration(window);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Limit && ((Limit) o).measure == measure && ((Limit) o).max == max && ((Limit) o).window.equals(window);
    }

    @Override
    public int hashCode() {
        return Objects.hash(measure, max, window);
    }
}
