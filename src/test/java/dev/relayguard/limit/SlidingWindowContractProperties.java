package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.statistics.Statistics;

/**
 * The contract of the sliding window as implemented by {@link MemoryLimiterStore}, checked on random arrival
 * sequences against a fake clock:
 *
 * <blockquote>A limit N per T admits at most N in any interval of length T. Refused attempts consume nothing;
 * released tickets give back what they counted.</blockquote>
 *
 * <p>The oracle is the contract itself (admitted amounts per interval), not the bucket arithmetic: only
 * property 3 uses {@link SlidingWindow#counts} to decide whether a ticket is "still inside the window", and it
 * additionally checks that everything admitted less than T ago is inside by any definition.
 *
 * <p>Conservatism (property 6), measured and documented here: the counter of a limit spans {@code 11·w} ms with
 * {@code w = ceil(T/10)}, i.e. 1.1·T when T is a multiple of 10 ms and up to 2·T otherwise (T = 11 ms: w = 2,
 * 22 ms). A sender that keeps trying faster than the limit therefore gets, in any single window of length T,
 * at least {@code N - ceil(2N·(11w - T)/T)} when it tries every T/(2N) ms (for T a multiple of 10: N - ceil(N/5),
 * ≈80%), and on average over many windows at least {@code floor(10N/11)} per T (the "≈91%" of the
 * {@link SlidingWindow} Javadoc). Both bounds are tight: random search found cases that hit them exactly.
 */
class SlidingWindowContractProperties {
    private static final String KEY = "user:alice@example.com";

    // ------------------------------------------------------------------------------------------------------
    // Scenarios

    /** One attempt: {@code gap} ms after the previous one, ask for {@code amount}; then maybe release one ticket. */
    static final class Arrival {
        final long gap;
        final long amount;
        /** -1: release nothing; else release the (pick mod size)-th ticket not yet released. */
        final int releasePick;

        Arrival(long gap, long amount, int releasePick) {
            this.gap = gap;
            this.amount = amount;
            this.releasePick = releasePick;
        }

        @Override
        public String toString() {
            return "+" + gap + "ms:" + amount + (releasePick >= 0 ? "/rel" + releasePick : "");
        }
    }

    static final class Scenario {
        final int n;
        final long t;
        final long start;
        final List<Arrival> arrivals;

        Scenario(int n, long t, long start, List<Arrival> arrivals) {
            this.n = n;
            this.t = t;
            this.start = start;
            this.arrivals = arrivals;
        }

        Limit limit() {
            return new Limit(Measure.RECIPIENTS, n, Duration.ofMillis(t));
        }

        @Override
        public String toString() {
            return "N=" + n + " T=" + t + "ms start=" + start + " arrivals=" + arrivals;
        }
    }

    /** An admitted acquisition: when, how much, its ticket. */
    static final class Admitted {
        final long time;
        final long amount;
        final Ticket ticket;
        boolean released;

        Admitted(long time, long amount, Ticket ticket) {
            this.time = time;
            this.amount = amount;
            this.ticket = ticket;
        }

        @Override
        public String toString() {
            return time + ":" + amount + (released ? "(released)" : "");
        }
    }

    /** The store under test with its fake clock and one limit. */
    static final class Harness {
        final AtomicLong clock;
        final MemoryLimiterStore store;
        final Limit limit;

        Harness(Limit limit, long start) {
            this.clock = new AtomicLong(start);
            this.store = new MemoryLimiterStore(1_000, clock::get);
            this.limit = limit;
        }

        LimitDecision acquire(long amount) {
            return store.acquire(KEY, List.of(new Charge(limit, amount)));
        }

        long usage() {
            return store.usage(KEY, List.of(limit)).get(limit);
        }
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        return scenarios(Arbitraries.longs().between(10, 10_000), false);
    }

    @Provide
    Arbitrary<Scenario> scenariosWithReleases() {
        return scenarios(Arbitraries.longs().between(10, 10_000), true);
    }

    /** T a multiple of 10 ms: what operators configure (1m, 1h, 1d, 90s). */
    @Provide
    Arbitrary<Scenario> scenariosRoundWindow() {
        return scenarios(Arbitraries.longs().between(1, 1_000).map(x -> x * 10), false);
    }

    private static Arbitrary<Scenario> scenarios(Arbitrary<Long> windows, boolean releases) {
        Arbitrary<Integer> maxes = Arbitraries.integers().between(1, 50);
        // Start anywhere (bucket alignment varies), including 0 and the present epoch.
        Arbitrary<Long> starts = Arbitraries.frequencyOf(
            Tuple.of(1, Arbitraries.just(0L)),
            Tuple.of(3, Arbitraries.longs().between(0, 2_000_000_000_000L)));
        // Pressure: attempts per window, in tenths of N (0.2 N: rarely full ... 8 N: mostly refused).
        Arbitrary<Integer> pressures = Arbitraries.frequencyOf(
            Tuple.of(1, Arbitraries.just(2)), Tuple.of(2, Arbitraries.just(10)), Tuple.of(2, Arbitraries.just(15)),
            Tuple.of(2, Arbitraries.just(20)), Tuple.of(3, Arbitraries.just(40)), Tuple.of(2, Arbitraries.just(80)));
        return Combinators.combine(maxes, windows, starts, pressures).flatAs((n, t, start, pressure) -> {
            Arbitrary<Arrival> arrival = arrivals(n, t, pressure, releases);
            Arbitrary<List<Arrival>> lists = Arbitraries.frequencyOf(
                Tuple.of(1, arrival.list().ofMinSize(1).ofMaxSize(30)),
                Tuple.of(4, arrival.list().ofMinSize(60).ofMaxSize(250).withSizeDistribution(RandomDistribution.uniform())));
            // without edge cases: jqwik would otherwise inject the shortest list into ~40% of the samples
            return lists.withoutEdgeCases().map(list -> new Scenario(n, t, start, list));
        });
    }

    private static Arbitrary<Arrival> arrivals(int n, long t, int pressureTenths, boolean releases) {
        long meanGapTimesTwo = 2 * t * 10 / ((long) pressureTenths * n);
        Arbitrary<Long> gaps = Arbitraries.frequencyOf(
            Tuple.of(10, Arbitraries.just(0L)),
            Tuple.of(140, Arbitraries.longs().between(0, meanGapTimesTwo)),
            Tuple.of(1, Arbitraries.longs().between(0, 2 * t))); // now and then a pause: partly or wholly expired
        Arbitrary<Long> amounts = Arbitraries.frequencyOf(
            Tuple.of(8, Arbitraries.just(1L)),
            Tuple.of(2, Arbitraries.longs().between(1, n)));
        Arbitrary<Integer> picks = releases
            ? Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.just(-1)), Tuple.of(1, Arbitraries.integers().between(0, 1_000)))
            : Arbitraries.just(-1);
        return Combinators.combine(gaps, amounts, picks).as(Arrival::new);
    }

    /** Plays a scenario; releases as the arrivals say. Returns every admitted acquisition, in order. */
    private static List<Admitted> play(Scenario scenario, Harness harness) {
        List<Admitted> admitted = new ArrayList<>();
        List<Admitted> unreleased = new ArrayList<>();
        long now = scenario.start;
        for (Arrival arrival : scenario.arrivals) {
            now += arrival.gap;
            harness.clock.set(now);
            LimitDecision decision = harness.acquire(arrival.amount);
            assertThat(decision.kind()).isNotEqualTo(LimitDecision.Kind.STORE_FAILED);
            if (decision.isAdmitted()) {
                Admitted a = new Admitted(now, arrival.amount, decision.ticket());
                admitted.add(a);
                unreleased.add(a);
            } else {
                assertThat(decision.never()).as("an amount <= N can always fit eventually").isFalse();
                assertThat(decision.limit()).isEqualTo(harness.limit);
            }
            if (arrival.releasePick >= 0 && !unreleased.isEmpty()) {
                Admitted victim = unreleased.remove(arrival.releasePick % unreleased.size());
                harness.store.release(victim.ticket);
                victim.released = true;
            }
        }
        return admitted;
    }

    /** The largest admitted amount in any interval [t, t+T) starting at an admitted time (enough for the max). */
    private static String worstInterval(List<Admitted> admitted, long t, long n) {
        for (int i = 0; i < admitted.size(); i++) {
            long from = admitted.get(i).time;
            long sum = 0;
            List<Admitted> inside = new ArrayList<>();
            for (int j = i; j < admitted.size() && admitted.get(j).time < from + t; j++) {
                sum += admitted.get(j).amount;
                inside.add(admitted.get(j));
            }
            if (sum > n) {
                return "[" + from + ", " + (from + t) + ") holds " + sum + " > N=" + n + ": " + inside;
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------------------
    // Property 1: at most N in any interval of length T

    @Property(tries = 1000)
    void atMostNInAnyIntervalOfLengthT(@ForAll("scenarios") Scenario scenario) {
        Harness harness = new Harness(scenario.limit(), scenario.start);
        List<Admitted> admitted = play(scenario, harness);

        assertThat(worstInterval(admitted, scenario.t, scenario.n)).isNull();
        long windows = (harness.clock.get() - scenario.start) / scenario.t;
        Statistics.label("has refusals").collect(admitted.size() < scenario.arrivals.size());
        Statistics.label("windows spanned").collect(windows == 0 ? "<1" : windows < 3 ? "1-2" : windows < 10 ? "3-9" : ">=10");
    }

    /**
     * Other keys come and go (each attempt is followed by a brand-new key, so the store sweeps 16 keys each time
     * and meets this key again and again): sweeping must never forget counts that still matter.
     */
    @Property(tries = 300)
    void atMostNInAnyIntervalWhileOtherKeysComeAndGo(@ForAll("scenarios") Scenario scenario) {
        Harness harness = new Harness(scenario.limit(), scenario.start);
        List<Admitted> admitted = new ArrayList<>();
        long now = scenario.start;
        int other = 0;
        for (Arrival arrival : scenario.arrivals) {
            now += arrival.gap;
            harness.clock.set(now);
            // first the newcomer (its sweep meets this key as it was since its last attempt), then this key
            harness.store.acquire("user:other" + other++, List.of(new Charge(harness.limit, 1)));
            LimitDecision decision = harness.acquire(arrival.amount);
            if (decision.isAdmitted()) {
                admitted.add(new Admitted(now, arrival.amount, decision.ticket()));
            }
            assertThat(harness.store.trackedKeys()).isLessThanOrEqualTo(1_000);
        }

        assertThat(harness.store.evictedActiveKeys()).isZero();
        assertThat(worstInterval(admitted, scenario.t, scenario.n)).isNull();
    }

    /** With releases interleaved: what is admitted and never released still fits N in any interval. */
    @Property(tries = 500)
    void atMostNUnreleasedInAnyIntervalOfLengthT(@ForAll("scenariosWithReleases") Scenario scenario) {
        Harness harness = new Harness(scenario.limit(), scenario.start);
        List<Admitted> kept = new ArrayList<>();
        for (Admitted a : play(scenario, harness)) {
            if (!a.released) {
                kept.add(a);
            }
        }

        assertThat(worstInterval(kept, scenario.t, scenario.n)).isNull();
    }

    /** Two limits charged together (1 message + k recipients): each holds on its own, whatever the other does. */
    @Property(tries = 300)
    void everyLimitOfAnAtomicAcquisitionHolds(@ForAll("scenarios") Scenario scenario,
                                              @ForAll @IntRange(min = 1, max = 30) int messageMax,
                                              @ForAll @LongRange(min = 10, max = 10_000) long messageWindow) {
        Limit recipients = scenario.limit();
        Limit messages = new Limit(Measure.MESSAGES, messageMax, Duration.ofMillis(messageWindow));
        AtomicLong clock = new AtomicLong(scenario.start);
        MemoryLimiterStore store = new MemoryLimiterStore(10, clock::get);
        List<Admitted> admittedMessages = new ArrayList<>();
        List<Admitted> admittedRecipients = new ArrayList<>();
        long now = scenario.start;
        for (Arrival arrival : scenario.arrivals) {
            now += arrival.gap;
            clock.set(now);
            var before = store.usage(KEY, List.of(messages, recipients));
            LimitDecision decision = store.acquire(KEY, List.of(new Charge(messages, 1), new Charge(recipients, arrival.amount)));
            if (decision.isAdmitted()) {
                admittedMessages.add(new Admitted(now, 1, decision.ticket()));
                admittedRecipients.add(new Admitted(now, arrival.amount, decision.ticket()));
            } else {
                assertThat(store.usage(KEY, List.of(messages, recipients))).isEqualTo(before);
            }
        }

        assertThat(worstInterval(admittedMessages, messageWindow, messageMax)).isNull();
        assertThat(worstInterval(admittedRecipients, scenario.t, scenario.n)).isNull();
    }

    // ------------------------------------------------------------------------------------------------------
    // Property 2: refused attempts consume nothing

    /**
     * A refusal leaves usage unchanged, and has no later effect at all: a shadow store that only sees the
     * attempts the first one admitted admits every one of them and always shows the same usage.
     */
    @Property(tries = 500)
    void refusedAttemptsConsumeNothing(@ForAll("scenarios") Scenario scenario) {
        Harness harness = new Harness(scenario.limit(), scenario.start);
        Harness shadow = new Harness(scenario.limit(), scenario.start);
        long now = scenario.start;
        int refusals = 0;
        for (Arrival arrival : scenario.arrivals) {
            now += arrival.gap;
            harness.clock.set(now);
            shadow.clock.set(now);
            long before = harness.usage();
            LimitDecision decision = harness.acquire(arrival.amount);
            if (decision.isAdmitted()) {
                assertThat(shadow.acquire(arrival.amount).isAdmitted())
                    .as("shadow (without the refused attempts) admits %s at %d", arrival, now).isTrue();
            } else {
                refusals++;
                assertThat(harness.usage()).as("usage after a refusal at %d", now).isEqualTo(before);
            }
            assertThat(harness.usage()).isEqualTo(shadow.usage());
        }
        Statistics.label("has refusals").collect(refusals > 0);
    }

    // ------------------------------------------------------------------------------------------------------
    // Property 3: releases give back exactly what was counted, while it is still counted

    @Property(tries = 500)
    void releasingGivesBackExactlyWhatIsStillCounted(@ForAll("scenariosWithReleases") Scenario scenario,
                                                     @ForAll Random random,
                                                     @ForAll @IntRange(min = 0, max = 2_000) int laterPermille) {
        Harness harness = new Harness(scenario.limit(), scenario.start);
        List<Admitted> admitted = play(scenario, harness);
        long end = harness.clock.get() + scenario.t * laterPermille / 1_000;
        harness.clock.set(end);
        long current = SlidingWindow.bucketAt(end, scenario.t);

        List<Admitted> toRelease = new ArrayList<>();
        for (Admitted a : admitted) {
            if (!a.released && random.nextBoolean()) {
                toRelease.add(a);
            }
        }
        Collections.shuffle(toRelease, random);
        for (Admitted a : toRelease) {
            long bucket = a.ticket.entries().get(0).bucket();
            boolean stillCounted = SlidingWindow.counts(bucket, current);
            if (end - a.time < scenario.t) {
                assertThat(stillCounted).as("admitted less than T ago: inside the window by any definition").isTrue();
            }
            long before = harness.usage();
            harness.store.release(a.ticket);
            a.released = true;
            long after = harness.usage();
            assertThat(before - after)
                .as("release of %s at %d (%s)", a, end, stillCounted ? "still counted" : "no longer counted")
                .isEqualTo(stillCounted ? a.amount : 0);
            assertThat(after).isGreaterThanOrEqualTo(0);
        }

        // Usage is exactly the unreleased amounts still counted; releasing all of them brings it to 0.
        long expected = 0;
        for (Admitted a : admitted) {
            if (!a.released && SlidingWindow.counts(a.ticket.entries().get(0).bucket(), current)) {
                expected += a.amount;
            }
        }
        assertThat(harness.usage()).isEqualTo(expected);
        for (Admitted a : admitted) {
            if (!a.released) {
                harness.store.release(a.ticket);
            }
        }
        assertThat(harness.usage()).isZero();
    }

    // ------------------------------------------------------------------------------------------------------
    // Property 4: liveness

    /** T a multiple of 10 ms: after T + T/10 without activity, anything up to N fits again. */
    @Property(tries = 500)
    void afterElevenTenthsOfTQuietAnythingUpToNIsAdmitted(@ForAll("scenariosRoundWindow") Scenario scenario,
                                                          @ForAll @IntRange(min = 1, max = 50) int amount) {
        assertAdmittedAfterQuiet(scenario, Math.min(amount, scenario.n), scenario.t + scenario.t / 10);
    }

    /** Any T: after 11 sub-buckets (11·ceil(T/10) ms) without activity, anything up to N fits again. */
    @Property(tries = 500)
    void afterElevenSubBucketsQuietAnythingUpToNIsAdmitted(@ForAll("scenarios") Scenario scenario,
                                                           @ForAll @IntRange(min = 1, max = 50) int amount) {
        assertAdmittedAfterQuiet(scenario, Math.min(amount, scenario.n), SlidingWindow.SLOTS * SlidingWindow.width(scenario.t));
    }

    @Example
    void windowNotAMultipleOfTenCountsLongerThanElevenTenthsOfT() {
        // For T not a multiple of 10 ms the sub-bucket width is rounded up: a count lasts 11·ceil(T/10) ms (up to
        // 2·T), so "quiet for T + T/10" is not enough; afterElevenSubBucketsQuietAnythingUpToNIsAdmitted holds.
        Harness harness = new Harness(new Limit(Measure.MESSAGES, 1, Duration.ofMillis(11)), 0);
        assertThat(harness.acquire(1).isAdmitted()).isTrue();
        harness.clock.set(12); // T + T/10
        LimitDecision decision = harness.acquire(1);
        assertThat(decision.isAdmitted()).isFalse();
        assertThat(decision.retryAfterMillis()).isEqualTo(10);
        harness.clock.set(22);
        assertThat(harness.acquire(1).isAdmitted()).isTrue();
    }

    private static void assertAdmittedAfterQuiet(Scenario scenario, long amount, long quiet) {
        Harness harness = new Harness(scenario.limit(), scenario.start);
        play(scenario, harness);
        long resume = harness.clock.get() + quiet;
        harness.clock.set(resume);

        assertThat(harness.usage()).as("usage at %d", resume).isZero();
        assertThat(harness.acquire(amount).isAdmitted()).as("%d at %d", amount, resume).isTrue();
    }

    // ------------------------------------------------------------------------------------------------------
    // Property 5: "retry in N s" is honest

    /**
     * A refusal's retryAfter is positive and exact: one millisecond earlier the same charge is still refused, at
     * now + retryAfter it (hence also amount 1) is admitted, and so it is at the rounded-up seconds of the reply.
     */
    @Property(tries = 1000)
    void retryAfterIsPositiveAndExact(@ForAll("scenariosWithReleases") Scenario scenario,
                                      @ForAll @IntRange(min = 0, max = 100) int prefixPercent,
                                      @ForAll @IntRange(min = 1, max = 50) int burstAmount,
                                      @ForAll boolean amountOne,
                                      @ForAll boolean waitWholeSeconds) {
        List<Arrival> prefix = scenario.arrivals.subList(0, scenario.arrivals.size() * prefixPercent / 100);
        Harness harness = new Harness(scenario.limit(), scenario.start);
        play(new Scenario(scenario.n, scenario.t, scenario.start, prefix), harness);
        long amount = amountOne ? 1 : Math.min(burstAmount, scenario.n);

        LimitDecision refusal = null;
        for (int i = 0; i <= scenario.n && refusal == null; i++) {
            LimitDecision decision = harness.acquire(amount);
            if (!decision.isAdmitted()) {
                refusal = decision;
            }
        }
        assertThat(refusal).as("a burst of N+1 attempts at one instant is refused").isNotNull();
        long now = harness.clock.get();
        long retry = refusal.retryAfterMillis(); // both read now: a refusal's delay is measured from when it is read
        long retrySeconds = refusal.retryAfterSeconds();
        assertThat(refusal.never()).isFalse();
        assertThat(retry).isPositive();
        assertThat(retry).as("a count never lasts longer than 11 sub-buckets")
            .isLessThanOrEqualTo(SlidingWindow.SLOTS * SlidingWindow.width(scenario.t));
        assertThat(retrySeconds * 1000).isGreaterThanOrEqualTo(retry);

        harness.clock.set(now + retry - 1);
        assertThat(harness.acquire(amount).isAdmitted()).as("%d at now + retryAfter - 1 = %d", amount, now + retry - 1).isFalse();

        long at = waitWholeSeconds ? now + retrySeconds * 1000 : now + retry;
        harness.clock.set(at);
        assertThat(harness.usage() + amount).as("the refused charge fits at %d", at).isLessThanOrEqualTo(scenario.n);
        assertThat(harness.acquire(1).isAdmitted()).as("1 at %d", at).isTrue();
    }

    // ------------------------------------------------------------------------------------------------------
    // Property 6: conservatism of a steady sender

    private static final int STEADY_WINDOWS = 8;

    /** Times at which a sender trying once every T/(2N) ms for 8 windows is admitted (amount 1 each). */
    private static long[] steadySender(int n, long t) {
        Harness harness = new Harness(new Limit(Measure.MESSAGES, n, Duration.ofMillis(t)), 0);
        List<Long> admitted = new ArrayList<>();
        for (long k = 0; ; k++) {
            long time = k * t / (2L * n);
            if (time >= STEADY_WINDOWS * t) {
                break;
            }
            harness.clock.set(time);
            if (harness.acquire(1).isAdmitted()) {
                admitted.add(time);
            }
        }
        return admitted.stream().mapToLong(Long::longValue).toArray();
    }

    /** Fewest admissions in a window [s, s+T) with T <= s and s + T <= end (after the first, while sending). */
    private static long fewestInAFullWindowAfterTheFirst(long[] admitted, long t) {
        long end = STEADY_WINDOWS * t;
        List<Long> starts = new ArrayList<>();
        starts.add(t);
        starts.add(end - t);
        for (long x : admitted) {
            if (x + 1 >= t && x + 1 + t <= end) {
                starts.add(x + 1); // the count only drops right after an admission leaves the window
            }
        }
        long fewest = Long.MAX_VALUE;
        for (long s : starts) {
            long count = 0;
            for (long x : admitted) {
                if (x >= s && x < s + t) {
                    count++;
                }
            }
            fewest = Math.min(fewest, count);
        }
        return fewest;
    }

    /**
     * In every single full window after the first: at least N - ceil(2N·(11w - T)/T): the counter spans 11w ms,
     * of which 11w - T lie outside a given window, and the sender makes 2N/T attempts per ms there.
     * For T a multiple of 10 this is N - ceil(N/5).
     */
    @Property(tries = 300)
    void steadySenderGetsAtLeastNMinusWhatTheCounterSeesOutsideTheWindow(@ForAll @IntRange(min = 1, max = 50) int n,
                                                                         @ForAll @LongRange(min = 10, max = 10_000) long t) {
        long[] admitted = steadySender(n, t);
        long w = SlidingWindow.width(t);
        long outside = (2L * n * (SlidingWindow.SLOTS * w - t) + t - 1) / t;

        assertThat(fewestInAFullWindowAfterTheFirst(admitted, t)).isGreaterThanOrEqualTo(n - outside);
    }

    /** T a multiple of 10: averaged over the windows after the first, at least floor(10N/11) - 1 per window. */
    @Property(tries = 300)
    void steadySenderGetsTenEleventhsOfNOnAverage(@ForAll @IntRange(min = 1, max = 50) int n,
                                                  @ForAll @IntRange(min = 1, max = 1_000) int tenths) {
        long t = tenths * 10L;
        long[] admitted = steadySender(n, t);
        long afterFirst = 0;
        for (long x : admitted) {
            if (x >= t) {
                afterFirst++;
            }
        }

        assertThat(afterFirst).isGreaterThanOrEqualTo((STEADY_WINDOWS - 1) * (n * 10L / 11 - 1));
        assertThat(afterFirst).isLessThanOrEqualTo((STEADY_WINDOWS - 1) * (long) n);
    }

    /**
     * The worst single window after the first, as SlidingWindow's Javadoc states it: at least
     * N − ceil(2N·(SLOTS·w − T)/T) (about 80% of N), not 10/11 of N per window (that holds on average only): a
     * sender trying twice as fast as the limit refills each freed sub-bucket at once, so its admissions bunch.
     */
    @Property(tries = 300)
    void steadySenderGetsTheDocumentedShareInEveryWindow(@ForAll @IntRange(min = 1, max = 50) int n,
                                                         @ForAll @IntRange(min = 1, max = 1_000) int tenths) {
        long t = tenths * 10L;
        long span = SlidingWindow.SLOTS * SlidingWindow.width(t);
        long bound = n - (2L * n * (span - t) + t - 1) / t;
        assertThat(fewestInAFullWindowAfterTheFirst(steadySender(n, t), t)).isGreaterThanOrEqualTo(bound);
    }

    @Example
    void steadySenderWorstWindowExample() {
        // N=11, T=1000: 2.2 attempts per 100 ms sub-bucket; the tight value of the bound above.
        assertThat(fewestInAFullWindowAfterTheFirst(steadySender(11, 1000), 1000)).isEqualTo(11 - 3);
    }
}
