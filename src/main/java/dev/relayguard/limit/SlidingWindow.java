package dev.relayguard.limit;

import java.time.Duration;

/**
 * The counting rule both stores implement. A window of length T is cut into {@value #SUB_BUCKETS} sub-buckets
 * of width {@code w = ceil(T / SUB_BUCKETS)}; an amount is admitted only when the sum of the current sub-bucket
 * and the {@value #SUB_BUCKETS} before it, plus the amount, stays within the limit.
 *
 * <p>Why this is exact: any interval of length T ≤ SUB_BUCKETS·w touches at most SUB_BUCKETS+1 consecutive
 * sub-buckets. Take the last admission inside the interval: everything else admitted inside the interval was
 * admitted before it, in one of the SUB_BUCKETS+1 sub-buckets ending with its own, and that admission was
 * only granted because those sub-buckets held no more than N. So no interval of length T ever holds more than
 * N. The price is conservatism, not excess: a burst of N at once is admitted, and after a quiet period of
 * SLOTS·w (T + T/10 when T is a multiple of 10 ms) anything up to N is admitted again; a sender that tries
 * steadily gets at least 10/11 of N per window on average, and in its worst window at least
 * N − ceil(2N·(SLOTS·w − T)/T) (about 80% of N). For a window that is not a multiple of 10 ms, w is rounded
 * up, so a count may keep counting up to SLOTS·w (still never more than N in any interval T).
 */
public final class SlidingWindow {
    public static final int SUB_BUCKETS = 10;
    /** Slots kept per counter: the current sub-bucket and the {@value #SUB_BUCKETS} before it. */
    public static final int SLOTS = SUB_BUCKETS + 1;

    private SlidingWindow() {
    }

    public static long width(long windowMillis) {
        return Math.max(1, (windowMillis + SUB_BUCKETS - 1) / SUB_BUCKETS);
    }

    public static long bucketAt(long nowMillis, long windowMillis) {
        return Math.floorDiv(nowMillis, width(windowMillis));
    }

    /**
     * {@code Math.floorDiv(x, divisor)} without a 64-bit division (a multiplication by {@code inverse} and one
     * correction), for the memory store's hot path; any {@code x} (beyond ±2^52 it divides).
     *
     * @param divisor at least 1
     * @param inverse {@code 1.0 / divisor}
     */
    static long floorDiv(long x, long divisor, double inverse) {
        if (x >= LARGEST_EXACT || x <= -LARGEST_EXACT) {
            return Math.floorDiv(x, divisor);
        }
        long quotient = (long) (x * inverse); // within 1 of floor(x / divisor) (rounding, truncation towards 0)
        long rest = x - quotient * divisor;
        if (rest < 0) {
            return quotient - 1;
        }
        return rest >= divisor ? quotient + 1 : quotient;
    }

    /** Below this magnitude a product with an inverse is within 1 of the quotient (2^52). */
    private static final long LARGEST_EXACT = 1L << 52;

    /** True when a slot holding {@code bucket} still counts at {@code currentBucket}. */
    public static boolean counts(long bucket, long currentBucket) {
        return bucket <= currentBucket && bucket > currentBucket - SLOTS;
    }

    /**
     * How long until {@code needed} units have left the window, given the counted sub-buckets.
     *
     * @param buckets the bucket index of each slot (any order; slots not counting are ignored)
     * @param counts  the amount in each slot
     */
    public static long retryAfterMillis(long[] buckets, long[] counts, long currentBucket, long needed, long windowMillis, long nowMillis) {
        long width = width(windowMillis);
        long freed = 0;
        for (long bucket = currentBucket - SUB_BUCKETS; bucket <= currentBucket; bucket++) {
            for (int slot = 0; slot < buckets.length; slot++) {
                if (buckets[slot] == bucket && counts[slot] > 0) {
                    freed += counts[slot];
                }
            }
            if (freed >= needed) {
                // This sub-bucket stops counting when the current bucket reaches bucket + SLOTS.
                return (bucket + SLOTS) * width - nowMillis;
            }
        }
        return (currentBucket + SLOTS) * width - nowMillis;
    }

    /** {@code 1m}, {@code 1h}, {@code 1d}, {@code 90s}: the way operators write windows. */
    public static String humanDuration(Duration duration) {
        long millis = duration.toMillis();
        long[] units = {86_400_000L, 3_600_000L, 60_000L, 1_000L};
        String[] names = {"d", "h", "m", "s"};
        for (int i = 0; i < units.length; i++) {
            if (millis >= units[i] && millis % units[i] == 0) {
                return millis / units[i] + names[i];
            }
        }
        return millis + "ms";
    }
}
