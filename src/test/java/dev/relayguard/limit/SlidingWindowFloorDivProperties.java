package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.LongRange;

/** The memory store's division-free sub-bucket arithmetic gives exactly {@code Math.floorDiv}. */
class SlidingWindowFloorDivProperties {

    @Property(tries = 20_000)
    void equalsMathFloorDiv(@ForAll("times") long x, @ForAll @LongRange(min = 1, max = 10_000_000_000L) long divisor) {
        assertThat(SlidingWindow.floorDiv(x, divisor, 1.0 / divisor)).isEqualTo(Math.floorDiv(x, divisor));
    }

    /** On and next to the boundaries, where a rounded product could land on the wrong side. */
    @Property(tries = 20_000)
    void exactOnBucketBoundaries(@ForAll @LongRange(min = -2_000_000_000L, max = 2_000_000_000L) long bucket,
                                 @ForAll @LongRange(min = 1, max = 864_000_000L) long divisor,
                                 @ForAll @LongRange(min = -1, max = 1) long offset) {
        long x = bucket * divisor + offset;
        assertThat(SlidingWindow.floorDiv(x, divisor, 1.0 / divisor)).isEqualTo(Math.floorDiv(x, divisor));
    }

    @Property(tries = 2_000)
    void aLimitsBucketIsTheSlidingWindowsBucket(@ForAll("times") long x, @ForAll @LongRange(min = 10, max = 864_000_000L) long window) {
        Limit limit = new Limit(Measure.MESSAGES, 1, Duration.ofMillis(window));
        assertThat(limit.bucketAt(x)).isEqualTo(SlidingWindow.bucketAt(x, window));
    }

    @Example
    void extremesDivide() {
        for (long x : new long[] {Long.MAX_VALUE, Long.MIN_VALUE, 1L << 52, -(1L << 52), (1L << 52) - 1}) {
            for (long divisor : new long[] {1, 3, 6_000, 8_640_000, Long.MAX_VALUE}) {
                assertThat(SlidingWindow.floorDiv(x, divisor, 1.0 / divisor)).as("%d / %d", x, divisor)
                    .isEqualTo(Math.floorDiv(x, divisor));
            }
        }
    }

    @Provide
    Arbitrary<Long> times() {
        return Arbitraries.oneOf(
            Arbitraries.longs().between(-(1L << 53), 1L << 53),
            Arbitraries.longs().between(1_600_000_000_000L, 2_000_000_000_000L),
            Arbitraries.longs().between(-100_000, 100_000));
    }
}
