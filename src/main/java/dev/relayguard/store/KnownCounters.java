package dev.relayguard.store;

import java.util.Arrays;
import java.util.List;

import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.SlidingWindow;

/**
 * What this node's last admission on a key left in its Redis hash: the packed values of the counters it charged
 * ({@link PackedCounter}). Immutable. {@link RedisLimiterStore} keeps one per
 * recently charged key, so that the next decision on that key can send the write it computed itself
 * ({@link #writeFor}); Redis applies it only if the counters are still exactly these values ({@code unchanged.lua}),
 * otherwise decides in full in the same call. Redis also checks, from its own field {@code x}, that the key
 * lives long enough without a longer TTL. So a stale entry (another node counted, a ticket was given back, the key
 * expired or was reset and made again) costs an extra {@code HMGET} and a longer request, and never changes a
 * decision.
 */
final class KnownCounters {
    /** Field names and their packed values, side by side: a handful at most. */
    private final String[] fields;
    private final byte[][] values;

    private KnownCounters(String[] fields, byte[][] values) {
        this.fields = fields;
        this.values = values;
    }

    /**
     * @param fields the charged fields ({@link RedisLimiterStore#field}), in the charges' order
     * @param values their packed values as {@code acquire.lua} or the precomputed write left them
     * @param earlier what was known of the key before (its other fields are kept), or null
     */
    static KnownCounters after(KnownCounters earlier, String[] fields, byte[][] values) {
        if (earlier == null) {
            return new KnownCounters(fields.clone(), values.clone());
        }
        if (sameFields(earlier.fields, fields)) { // the common case: the key charged as last time
            return new KnownCounters(earlier.fields, values.clone());
        }
        String[] mergedFields = Arrays.copyOf(earlier.fields, earlier.fields.length + fields.length);
        byte[][] mergedValues = Arrays.copyOf(earlier.values, mergedFields.length);
        int size = earlier.fields.length;
        for (int i = 0; i < fields.length; i++) {
            int at = indexOf(mergedFields, size, fields[i]);
            if (at < 0) {
                at = size++;
                mergedFields[at] = fields[i];
            }
            mergedValues[at] = values[i];
        }
        return new KnownCounters(Arrays.copyOf(mergedFields, size), Arrays.copyOf(mergedValues, size));
    }

    /** The same fields in the same order (the fields are {@link RedisLimiterStore#field}'s interned strings). */
    private static boolean sameFields(String[] known, String[] fields) {
        if (known.length != fields.length) {
            return false;
        }
        for (int i = 0; i < fields.length; i++) {
            if (!known[i].equals(fields[i])) {
                return false;
            }
        }
        return true;
    }

    private static int indexOf(String[] fields, int size, String field) {
        for (int i = 0; i < size; i++) {
            if (fields[i].equals(field)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The write {@code acquire.lua} would make for {@code charges} decided at {@code nowMillis} (the decision clock:
     * the node's estimate of Redis {@code TIME}, or the test clock), assuming the counters are these values: null when
     * only the script can decide (a counter this node has not seen, one charged twice in the list, a charge that does
     * not fit: refusals and their retry delays are always decided by Redis).
     *
     * @param fields the fields of the charges, in their order
     */
    PrecomputedWrite writeFor(List<Charge> charges, String[] fields, long nowMillis) {
        int n = charges.size();
        byte[][] expected = new byte[n][];
        byte[][] updated = new byte[n][];
        long[] buckets = new long[n];
        long validFrom = Long.MIN_VALUE;
        long validUntil = Long.MAX_VALUE;
        long longestNeed = 0;
        for (int i = 0; i < n; i++) {
            int at = indexOf(this.fields, this.fields.length, fields[i]);
            if (at < 0 || indexOf(fields, i, fields[i]) >= 0) {
                return null;
            }
            byte[] value = values[at];
            Charge charge = charges.get(i);
            Limit limit = charge.limit();
            long windowMillis = limit.window().toMillis();
            long width = SlidingWindow.width(windowMillis);
            long bucket = Math.floorDiv(nowMillis, width);
            if (charge.amount() > limit.max() || PackedCounter.counted(value, bucket) + charge.amount() > limit.max()) {
                return null;
            }
            long newest = PackedCounter.newest(value);
            if (bucket <= newest) {
                // counted in the newest: the same for any decision clock before the next sub-bucket starts
                validUntil = Math.min(validUntil, (newest + 1) * width);
            } else {
                validFrom = Math.max(validFrom, bucket * width);
                validUntil = Math.min(validUntil, (bucket + 1) * width);
            }
            longestNeed = Math.max(longestNeed, SlidingWindow.SLOTS * width);
            expected[i] = value;
            updated[i] = PackedCounter.charged(value, bucket, charge.amount());
            buckets[i] = PackedCounter.countedIn(value, bucket);
        }
        return new PrecomputedWrite(validFrom, validUntil, longestNeed, expected, updated, buckets);
    }

    /** {@code unchanged.lua}'s arguments, and the sub-buckets the charges count in when Redis applies it. */
    static final class PrecomputedWrite {
        /** The decision clock's range where these sub-buckets are the ones the script would use ({@link Long#MIN_VALUE}: no lower bound). */
        final long validFrom;
        final long validUntil;
        /**
         * How long the key must still live after the Redis clock (ms) for the write to need no longer TTL: Redis
         * compares it with its own {@code x}, never with what this node last saw of it.
         */
        final long need;
        final byte[][] expected;
        final byte[][] updated;
        final long[] buckets;

        PrecomputedWrite(long validFrom, long validUntil, long need, byte[][] expected, byte[][] updated, long[] buckets) {
            this.validFrom = validFrom;
            this.validUntil = validUntil;
            this.need = need;
            this.expected = expected;
            this.updated = updated;
            this.buckets = buckets;
        }
    }
}
