package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/**
 * The memory store's hot path (issue 17; written by a reviewer to break it): the kept refusal, running totals,
 * counters resolved per charges list, the sub-bucket index, one pass that counts as it checks (kept refusal, running totals, counters resolved per
 * charges list, sub-bucket index, one pass that counts as it checks). Deterministic: a fake clock.
 */
class MemoryLimiterStoreHotPathTest {
    private static final String ALICE = "user:alice@example.com";
    private static final long HOUR = 3_600_000L;
    private static final long SUB = HOUR / SlidingWindow.SUB_BUCKETS;

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L / SUB * SUB);
    private final MemoryLimiterStore store = new MemoryLimiterStore(10_000, clock::get);

    private static Limit messages(long max) {
        return new Limit(Measure.MESSAGES, max, Duration.ofHours(1));
    }

    private static Limit recipients(long max) {
        return new Limit(Measure.RECIPIENTS, max, Duration.ofHours(1));
    }

    private static Limit bytes(long max) {
        return new Limit(Measure.BYTES, max, Duration.ofHours(1));
    }

    private LimitDecision acquire(String key, Limit limit, long amount) {
        return store.acquire(key, List.of(new Charge(limit, amount)));
    }

    private long usage(Limit limit) {
        return store.usage(ALICE, List.of(limit)).get(limit);
    }

    private void totalsMatchSlots() throws Exception {
        MemoryLimiterStoreModelTest.checkTotals(store, "", List.of());
    }

    // ------------------------------------------------------------------ BUG: identity of a caller's mutable list

    /**
     * BUG: the kept refusal holds the caller's list itself (acquireLocked keeps {@code charges}, not the immutable
     * copy {@code counted}) and {@link MemoryLimiterStore.KeptRefusal#holdsFor} answers true on identity. A caller
     * that reuses one ArrayList (nothing in {@link LimiterStore#acquire} forbids it) gets the refusal of the
     * charges the list held before: here "1 message per 1h" refuses a charge that is only on recipients.
     */
    @Test
    void aReusedMutableListIsNotAnsweredByTheRefusalOfWhatItHeldBefore() {
        Limit oneMessage = messages(1);
        Limit recipients = recipients(10);
        List<Charge> charges = new ArrayList<>(List.of(new Charge(oneMessage, 1)));
        assertThat(store.acquire(ALICE, charges).isAdmitted()).isTrue();
        LimitDecision refused = store.acquire(ALICE, charges);
        assertThat(refused.isAdmitted()).isFalse();

        charges.set(0, new Charge(recipients, 1)); // the caller reuses its list for another charge

        LimitDecision decision = store.acquire(ALICE, charges);
        assertThat(decision.isAdmitted()).as("1 recipient of 10: fits (got %s)", decision).isTrue();
    }

    /**
     * BUG: {@code Layout.countersOf} caches counter indexes by the identity of the list; {@code estimate} and the
     * lock-free refusal pass the caller's list (not a copy), so a list changed since is decided on the counters
     * of what it held before: a wrong refusal here.
     */
    @Test
    void aReusedMutableListIsNotDecidedOnTheCountersOfWhatItHeldBefore() {
        Limit oneMessage = messages(1);
        Limit oneRecipient = recipients(1);
        assertThat(acquire(ALICE, oneMessage, 1).isAdmitted()).isTrue();
        assertThat(acquire(ALICE, oneRecipient, 0).isAdmitted()).isTrue(); // the key now has both counters
        List<Charge> charges = new ArrayList<>(List.of(new Charge(oneMessage, 1)));
        assertThat(store.estimate(ALICE, charges).isAdmitted()).isFalse();

        charges.set(0, new Charge(oneRecipient, 1));

        LimitDecision decision = store.estimate(ALICE, charges);
        assertThat(decision.isAdmitted()).as("no recipient counted yet (got %s)", decision).isTrue();
    }

    /**
     * BUG: same cache, a list that grew since: the cached index array is shorter than the list, and
     * {@code estimate} (which "never throws") throws ArrayIndexOutOfBoundsException.
     */
    @Test
    void aReusedMutableListThatGrewDoesNotThrow() {
        Limit messages = messages(5);
        Limit recipients = recipients(5);
        assertThat(acquire(ALICE, messages, 1).isAdmitted()).isTrue();
        List<Charge> charges = new ArrayList<>(List.of(new Charge(messages, 1)));
        assertThat(store.estimate(ALICE, charges).isAdmitted()).isTrue();

        charges.add(new Charge(recipients, 1));

        assertThatCode(() -> store.estimate(ALICE, charges)).doesNotThrowAnyException();
        assertThatCode(() -> store.acquire(ALICE, charges)).doesNotThrowAnyException();
    }

    // ------------------------------------------------------------------ pins: running totals

    @Test
    void totalsStayTheSumOfTheSlotsThroughAdvanceReleaseAndWidening() throws Exception {
        Limit narrow = bytes(65_535);
        Ticket first = acquire(ALICE, narrow, 60_000).ticket();
        totalsMatchSlots();
        clock.addAndGet(3 * SUB);
        Ticket second = acquire(ALICE, narrow, 5_000).ticket();
        assertThat(usage(narrow)).isEqualTo(65_000);
        totalsMatchSlots();

        // a reload raises the limit above 16 bits: the counter moves to 32-bit slots with its total
        Limit wide = bytes(200_000);
        assertThat(acquire(ALICE, wide, 100_000).isAdmitted()).isTrue();
        assertThat(usage(wide)).isEqualTo(165_000);
        totalsMatchSlots();
        clock.addAndGet(2 * SUB); // 5 SUB
        assertThat(acquire(ALICE, wide, 35_001).isAdmitted()).isFalse();
        assertThat(acquire(ALICE, wide, 35_000).isAdmitted()).isTrue();
        totalsMatchSlots();

        store.release(first);
        assertThat(usage(wide)).isEqualTo(140_000);
        totalsMatchSlots();

        clock.addAndGet(8 * SUB); // 13 SUB: sub-bucket 3 (5000 + 100000) still in
        assertThat(usage(wide)).isEqualTo(140_000);
        clock.addAndGet(SUB); // 14 SUB: sub-bucket 3 left
        assertThat(usage(wide)).isEqualTo(35_000);
        totalsMatchSlots();
        store.release(second); // left the window: gives back nothing, never below zero
        assertThat(usage(wide)).isEqualTo(35_000);
        totalsMatchSlots();
        clock.addAndGet(SUB); // 15 SUB: sub-bucket 5 in
        assertThat(usage(wide)).isEqualTo(35_000);
        clock.addAndGet(SUB); // 16 SUB: left
        assertThat(usage(wide)).isZero();
        totalsMatchSlots();
        clock.addAndGet(20 * SUB);
        assertThat(usage(wide)).isZero();
        totalsMatchSlots();
    }

    /** A narrow counter filled to 65535 exactly holds 65535 (no wrap to 0) and refuses one more. */
    @Test
    void aNarrowCounterFullToSixteenBitsRefusesOneMore() throws Exception {
        Limit limit = recipients(65_535);
        for (int i = 0; i < 11; i++) {
            assertThat(acquire(ALICE, limit, 5_957).isAdmitted()).isTrue(); // 65527 in 11 sub-buckets
            clock.addAndGet(SUB / 2);
        }
        assertThat(acquire(ALICE, limit, 8).isAdmitted()).isTrue();
        assertThat(usage(limit)).isEqualTo(65_535);
        assertThat(acquire(ALICE, limit, 1).isAdmitted()).isFalse();
        totalsMatchSlots();
    }

    /** The one pass counts as it checks: a later misfit leaves nothing counted of the earlier charges. */
    @Test
    void aMisfitLaterInTheListLeavesNothingCountedOfTheEarlierCharges() throws Exception {
        Limit messages = messages(10);
        Limit recipients = recipients(3);
        assertThat(store.acquire(ALICE, List.of(new Charge(messages, 1), new Charge(recipients, 3))).isAdmitted()).isTrue();
        LimitDecision refused = store.acquire(ALICE, List.of(new Charge(messages, 4), new Charge(recipients, 1)));

        assertThat(refused.limit()).isSameAs(recipients);
        assertThat(usage(messages)).isEqualTo(1);
        assertThat(usage(recipients)).isEqualTo(3);
        totalsMatchSlots();
        // a misfit on a counter that must first widen: the earlier charge is not counted either
        Limit bigBytes = bytes(1_000_000);
        assertThat(store.acquire(ALICE, List.of(new Charge(messages, 2), new Charge(bigBytes, 70_000))).isAdmitted()).isTrue();
        assertThat(usage(messages)).isEqualTo(3);
        assertThat(usage(bigBytes)).isEqualTo(70_000);
        totalsMatchSlots();
    }

    // ------------------------------------------------------------------ pins: kept refusal

    /** A reload with a larger max makes new limit objects: the kept refusal of the old ones does not answer them. */
    @Test
    void aKeptRefusalDoesNotAnswerTheNewLimitsOfAReload() {
        Limit before = messages(20);
        assertThat(acquire(ALICE, before, 15).isAdmitted()).isTrue();
        List<Charge> ten = List.of(new Charge(before, 10));
        LimitDecision refused = store.acquire(ALICE, ten);
        assertThat(refused.isAdmitted()).isFalse();
        assertThat(store.acquire(ALICE, ten)).isSameAs(refused);

        Limit after = messages(30);
        assertThat(store.acquire(ALICE, List.of(new Charge(after, 10))).isAdmitted()).as("15 + 10 <= 30").isTrue();
        assertThat(usage(after)).isEqualTo(25);
        // and a reload above 16 bits, on a key whose refusal is kept
        assertThat(store.acquire(ALICE, ten).isAdmitted()).isFalse();
        Limit huge = messages(100_000);
        assertThat(store.acquire(ALICE, List.of(new Charge(huge, 70_000))).isAdmitted()).isTrue();
        assertThat(usage(huge)).isEqualTo(70_025);
    }

    /** A refusal kept by one decision is not reused for another amount or another order of the same limits. */
    @Test
    void aKeptRefusalNamesTheLimitThatFreesUpLastForTheOrderAsked() {
        Limit messages = messages(2);
        Limit recipients = recipients(2);
        assertThat(store.acquire(ALICE, List.of(new Charge(messages, 2), new Charge(recipients, 2))).isAdmitted()).isTrue();
        // both refuse until the same instant: ties go to the first in the list
        LimitDecision first = store.acquire(ALICE, List.of(new Charge(messages, 1), new Charge(recipients, 1)));
        LimitDecision swapped = store.acquire(ALICE, List.of(new Charge(recipients, 1), new Charge(messages, 1)));
        assertThat(first.limit()).isSameAs(messages);
        assertThat(swapped.limit()).isSameAs(recipients);
        assertThat(store.acquire(ALICE, List.of(new Charge(messages, 1), new Charge(recipients, 1))).limit()).isSameAs(messages);
    }

    /** The clock going back: a decision never uses a time older than the key's; the kept refusal still holds. */
    @Test
    void theClockGoingBackNeitherBringsBackCountsNorBreaksAKeptRefusal() throws Exception {
        Limit limit = messages(2);
        long start = clock.get();
        assertThat(acquire(ALICE, limit, 2).isAdmitted()).isTrue();
        clock.addAndGet(11 * SUB); // the two left the window
        assertThat(acquire(ALICE, limit, 2).isAdmitted()).isTrue();
        LimitDecision refused = acquire(ALICE, limit, 1);
        assertThat(refused.isAdmitted()).isFalse();

        clock.set(start + 1_000); // back before the second admission
        LimitDecision again = acquire(ALICE, limit, 1);
        assertThat(again.isAdmitted()).isFalse();
        assertThat(again.limit()).isSameAs(limit);
        assertThat(usage(limit)).as("the first two stay gone").isEqualTo(2);
        totalsMatchSlots();

        clock.set(start + 22 * SUB);
        assertThat(acquire(ALICE, limit, 2).isAdmitted()).isTrue();
    }

    /** A reset or an eviction drops the kept refusal with the key's counts. */
    @Test
    void aKeptRefusalDoesNotOutliveAResetOrAnEviction() {
        MemoryLimiterStore small = new MemoryLimiterStore(1, clock::get);
        Limit limit = messages(1);
        List<Charge> one = List.of(new Charge(limit, 1));
        assertThat(small.acquire(ALICE, one).isAdmitted()).isTrue();
        assertThat(small.acquire(ALICE, one).isAdmitted()).isFalse();
        assertThat(small.acquire(ALICE, one).isAdmitted()).isFalse();
        small.reset(ALICE);
        assertThat(small.acquire(ALICE, one).isAdmitted()).isTrue();
        assertThat(small.acquire(ALICE, one).isAdmitted()).isFalse();
        assertThat(small.acquire("user:bob@example.com", one).isAdmitted()).isTrue(); // evicts alice (full)
        assertThat(small.evictedActiveKeys()).isEqualTo(1);
        assertThat(small.acquire(ALICE, one).isAdmitted()).as("a fresh key").isTrue();
    }

    /** Usage agrees with the slots while the key's time is behind the clock (the sum path, not the total). */
    @Test
    void estimateOnAKeyBehindTheClockSkipsSubBucketsThatLeft() {
        Limit limit = messages(3);
        assertThat(acquire(ALICE, limit, 2).isAdmitted()).isTrue();
        clock.addAndGet(5 * SUB);
        assertThat(acquire(ALICE, limit, 1).isAdmitted()).isTrue();
        LimitDecision refused = acquire(ALICE, limit, 1);
        assertThat(refused.retryAfterMillis()).isEqualTo(6 * SUB);
        clock.addAndGet(6 * SUB); // lock-free and estimate read a key last written 6 SUB ago
        assertThat(store.estimate(ALICE, List.of(new Charge(limit, 2))).isAdmitted()).isTrue();
        assertThat(store.estimate(ALICE, List.of(new Charge(limit, 3))).isAdmitted()).isFalse();
        assertThat(acquire(ALICE, limit, 2).isAdmitted()).isTrue();
        Map<Limit, Long> usage = store.usage(ALICE, List.of(limit));
        assertThat(usage.get(limit)).isEqualTo(3);
    }

    /**
     * Two limits on one counter in one list (unreachable through {@link LimitSet#of}, which refuses them): each
     * charge fits its own limit, both are counted, and the count moves to 32-bit slots rather than wrap at 16 bits
     * (40000 + 40000 once was kept as 14464, an under-count).
     */
    @Test
    void twoChargesOnOneNarrowCounterDoNotWrapSixteenBits() {
        Limit sixty = recipients(60_000);
        Limit fifty = recipients(50_000);
        LimitDecision decision = store.acquire(ALICE, List.of(new Charge(sixty, 40_000), new Charge(fifty, 40_000)));
        assertThat(decision.isAdmitted()).isTrue();
        assertThat(usage(sixty)).as("what was counted is not lost").isEqualTo(80_000);
        assertThat(acquire(ALICE, sixty, 1).isAdmitted()).isFalse();
    }
}
