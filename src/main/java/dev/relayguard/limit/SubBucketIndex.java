package dev.relayguard.limit;

/**
 * {@code floorDiv(millis, width)} for one width, remembering the latest sub-bucket asked for, so that the memory
 * store's hot path (many decisions within one sub-bucket, on any key) compares two numbers instead of dividing.
 * Thread-safe without locks: the latest sub-bucket is one immutable {@link Span} (a plain write of a reference to an
 * object with final fields), replaced only by a caller that saw an earlier one, so that callers asking for older
 * times (a key last written long ago) do not make it flip. Two racing callers may leave the earlier of their two
 * spans: the next caller past it replaces it. Either way every answer is the exact quotient; only speed varies.
 */
final class SubBucketIndex {
    /** One sub-bucket: its index, where it starts and ends (exclusive), and its slot among {@link SlidingWindow#SLOTS}. */
    static final class Span {
        final long index;
        final long startMillis;
        final long endMillis;
        final int slot;

        Span(long index, long width) {
            this.index = index;
            this.startMillis = index * width;
            this.endMillis = startMillis + width;
            this.slot = (int) Math.floorMod(index, (long) SlidingWindow.SLOTS);
        }
    }

    /** Beyond this magnitude nothing is remembered (no overflow of start and end); the division answers. */
    private static final long REMEMBERED = 1L << 52;

    private final long width;
    private final double inverse;
    private Span latest;

    /** @param width the sub-bucket width in milliseconds, at least 1 */
    SubBucketIndex(long width) {
        this.width = width;
        this.inverse = 1.0 / width;
    }

    long width() {
        return width;
    }

    /** {@code Math.floorDiv(millis, width)}. */
    long indexOf(long millis) {
        Span span = latest;
        if (span != null && millis >= span.startMillis && millis < span.endMillis) {
            return span.index;
        }
        return remember(millis).index;
    }

    /** {@code Math.floorMod(indexOf(millis), SLOTS)}. */
    int slotOf(long millis) {
        Span span = latest;
        if (span != null && millis >= span.startMillis && millis < span.endMillis) {
            return span.slot;
        }
        return remember(millis).slot;
    }

    private Span remember(long millis) {
        Span span = new Span(SlidingWindow.floorDiv(millis, width, inverse), width);
        Span current = latest;
        if (millis > -REMEMBERED && millis < REMEMBERED && (current == null || span.index > current.index)) {
            latest = span;
        }
        return span;
    }
}
