package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.relayguard.core.Holds.Hold;
import dev.relayguard.core.Holds.Settings;

/**
 * What every {@link Holds} answers, on a fake clock: "K hits within T hold the key for D" (the K-th hit starts the
 * hold, K-1 or hits spread wider do not, a held key collects nothing), manual holds (until lifted, timed, replaced),
 * lifting, the list and counts of holds, their ends, reconfiguring, the bounds on held and tracked keys, and keys and
 * reasons with odd characters. Run by {@link SuspensionsContractTest}, {@link SuspensionsFileContractTest},
 * {@link SuspensionsFileContractTest} and {@code store.RedisHoldsTest}.
 */
public abstract class HoldsContract {
    protected static final Duration WITHIN = Duration.ofMinutes(10);
    protected static final Duration HOLD_FOR = Duration.ofHours(1);
    /** 3 hits within 10 min hold a key for 1 h; 1000 keys tracked and held. */
    protected static final Settings RULE = new Settings(3, WITHIN.toMillis(), HOLD_FOR.toMillis(), 1_000);
    protected static final String REASON = "limit hit";

    /** Ahead of the real clock (whole seconds plus 123 ms): a Redis hold expires (PEXPIREAT) on Redis's own clock. */
    protected final AtomicLong now = new AtomicLong((System.currentTimeMillis() / 1000 + 86_400) * 1000 + 123);
    private final List<Holds> opened = new ArrayList<>();

    /** Holds with nothing in them yet, on {@code clock}. */
    protected abstract Holds newHolds(Settings settings, LongSupplier clock);

    protected Holds holds(Settings settings) {
        Holds holds = newHolds(settings, now::get);
        opened.add(holds);
        return holds;
    }

    @AfterEach
    void closeHolds() {
        opened.forEach(Holds::close);
    }

    protected void advance(Duration duration) {
        now.addAndGet(duration.toMillis());
    }

    private static void hits(Holds holds, String key, int times) {
        for (int i = 0; i < times; i++) {
            assertThat(holds.countHit(key, REASON)).as("hit %d of %s", i + 1, key).isNull();
        }
    }

    // ----- K hits within T -----

    @Test
    void theKthHitWithinTheIntervalStartsAHoldUntilNowPlusHoldFor() {
        Holds holds = holds(RULE);
        hits(holds, "user:alice", 2);
        assertThat(holds.holdOf("user:alice")).as("K-1 hits hold nothing").isNull();
        advance(Duration.ofMinutes(9));

        long expectedEnd = now.get() + HOLD_FOR.toMillis();
        Hold started = holds.countHit("user:alice", "third hit");

        assertThat(started).extracting(Hold::key, Hold::untilMillis, Hold::reason, Hold::isForever)
            .containsExactly("user:alice", expectedEnd, "third hit", false);
        assertThat(holds.holdOf("user:alice")).extracting(Hold::key, Hold::untilMillis, Hold::reason)
            .containsExactly("user:alice", expectedEnd, "third hit");
        assertThat(holds.holdOf("user:bob")).isNull();
        assertThat(holds.heldCount()).isEqualTo(1);
    }

    @Test
    void hitsSpreadOverTheIntervalOrWiderStartNothing() {
        Holds holds = holds(RULE);
        for (int i = 0; i < 10; i++) {
            assertThat(holds.countHit("user:alice", REASON)).as("hit %d, 5 min apart", i + 1).isNull();
            advance(Duration.ofMinutes(5)); // three hits always span exactly the interval: not within it
        }
        assertThat(holds.holdOf("user:alice")).isNull();
        assertThat(holds.heldCount()).isZero();
    }

    @Test
    void theIntervalSlides() {
        Holds holds = holds(RULE);
        hits(holds, "user:alice", 1);
        advance(Duration.ofMinutes(5));
        hits(holds, "user:alice", 1);
        advance(Duration.ofMinutes(5));
        hits(holds, "user:alice", 1); // 0, 5, 10 min: the first is 10 min old, outside
        advance(Duration.ofMillis(1));

        assertThat(holds.countHit("user:alice", REASON)).as("5, 10 min and now: within 10 min").isNotNull();
    }

    @Test
    void aHeldKeyCollectsNoHitsAndNeedsAFullSetAfterItsHoldEnds() {
        Holds holds = holds(RULE);
        hits(holds, "user:alice", 2);
        assertThat(holds.countHit("user:alice", REASON)).isNotNull();
        long end = holds.holdOf("user:alice").untilMillis();

        hits(holds, "user:alice", 5);
        assertThat(holds.holdOf("user:alice").untilMillis()).as("not extended").isEqualTo(end);

        advance(HOLD_FOR.minusMillis(1));
        assertThat(holds.holdOf("user:alice")).as("a millisecond before its end").isNotNull();
        advance(Duration.ofMillis(1));
        assertThat(holds.holdOf("user:alice")).as("at its end").isNull();
        hits(holds, "user:alice", 2);
        assertThat(holds.countHit("user:alice", REASON)).isNotNull();
    }

    @Test
    void holdForZeroAnswersAHoldEndingNowAndHoldsNothing() {
        Holds holds = holds(new Settings(2, WITHIN.toMillis(), 0, 1_000));
        hits(holds, "ip:192.0.2.1", 1);

        Hold started = holds.countHit("ip:192.0.2.1", REASON);

        assertThat(started).extracting(Hold::key, Hold::untilMillis).containsExactly("ip:192.0.2.1", now.get());
        assertThat(holds.holdOf("ip:192.0.2.1")).isNull();
        assertThat(holds.heldCount()).isZero();
        assertThat(holds.active()).isEmpty();
        hits(holds, "ip:192.0.2.1", 1); // the hits were spent
        assertThat(holds.countHit("ip:192.0.2.1", REASON)).isNotNull();
    }

    @Test
    void zeroHitsCountsNothingButManualHoldsStillHold() {
        Holds holds = holds(new Settings(0, WITHIN.toMillis(), HOLD_FOR.toMillis(), 1_000));
        hits(holds, "user:alice", 20);
        assertThat(holds.holdOf("user:alice")).isNull();
        assertThat(holds.trackedCount()).isZero();

        holds.hold("user:alice", Hold.FOREVER, "operator: leaked");

        assertThat(holds.holdOf("user:alice")).extracting(Hold::reason).isEqualTo("operator: leaked");
    }

    // ----- when a hold started -----

    @Test
    void anAutomaticHoldStartsAtTheHitThatStartedIt() {
        Holds holds = holds(RULE);
        hits(holds, "user:alice", 2);
        advance(Duration.ofMinutes(5));
        long start = now.get();

        Hold started = holds.countHit("user:alice", REASON);
        advance(Duration.ofMinutes(7));

        assertThat(started).extracting(Hold::sinceMillis, Hold::isStartKnown).containsExactly(start, true);
        assertThat(holds.holdOf("user:alice")).extracting(Hold::sinceMillis, Hold::untilMillis)
            .containsExactly(start, start + HOLD_FOR.toMillis());
        assertThat(holds.active()).extracting(Hold::key, Hold::sinceMillis).containsExactly(tuple("user:alice", start));
    }

    @Test
    void aManualHoldStartsWhenSetAndHoldingAHeldKeyAgainKeepsItsStart() {
        Holds holds = holds(RULE);
        long first = now.get();
        holds.hold("user:alice", Hold.FOREVER, "operator: leaked");
        advance(Duration.ofMinutes(20));
        long end = now.get() + 60_000;

        holds.hold("user:alice", end, "operator: a shorter one");

        assertThat(holds.holdOf("user:alice")).extracting(Hold::sinceMillis, Hold::untilMillis, Hold::reason)
            .containsExactly(first, end, "operator: a shorter one");
        assertThat(holds.active()).extracting(Hold::sinceMillis).containsExactly(first);
    }

    @Test
    void holdingByHandAKeyHeldAutomaticallyKeepsTheStartOfTheAutomaticHold() {
        Holds holds = holds(RULE);
        hits(holds, "user:alice", 2);
        long start = now.get();
        assertThat(holds.countHit("user:alice", REASON)).isNotNull();
        advance(Duration.ofMinutes(30));

        holds.hold("user:alice", Hold.FOREVER, "operator: until we talk");

        assertThat(holds.holdOf("user:alice")).extracting(Hold::sinceMillis, Hold::isForever).containsExactly(start, true);
    }

    @Test
    void aKeyHeldAgainAfterItsHoldWasLiftedOrEndedStartsAnew() {
        Holds holds = holds(RULE);
        holds.hold("user:alice", Hold.FOREVER, "first");
        holds.hold("user:bob", now.get() + 60_000, "brief");
        advance(Duration.ofMinutes(1));
        assertThat(holds.lift("user:alice")).isTrue();
        assertThat(holds.holdOf("user:bob")).isNull();
        advance(Duration.ofMinutes(1));
        long again = now.get();

        holds.hold("user:alice", Hold.FOREVER, "second");
        holds.hold("user:bob", Hold.FOREVER, "longer");

        assertThat(holds.active()).extracting(Hold::key, Hold::sinceMillis)
            .containsExactlyInAnyOrder(tuple("user:alice", again), tuple("user:bob", again));
    }

    // ----- holds set by hand, lifted -----

    @Test
    void aManualHoldLastsUntilLiftedOrUntilItsEnd() {
        Holds holds = holds(RULE);
        long end = now.get() + Duration.ofMinutes(30).toMillis();
        holds.hold("user:alice", Hold.FOREVER, "operator: leaked");
        holds.hold("user:bob", end, "suspicious login");

        advance(Duration.ofMinutes(30).minusMillis(1));
        assertThat(holds.holdOf("user:bob")).extracting(Hold::untilMillis, Hold::reason).containsExactly(end, "suspicious login");
        advance(Duration.ofMillis(1));
        assertThat(holds.holdOf("user:bob")).isNull();

        advance(Duration.ofDays(400));
        Hold forever = holds.holdOf("user:alice");
        assertThat(forever).extracting(Hold::untilMillis, Hold::reason, Hold::isForever)
            .containsExactly(Hold.FOREVER, "operator: leaked", true);
        assertThat(holds.lift("user:alice")).isTrue();
        assertThat(holds.holdOf("user:alice")).isNull();
    }

    @Test
    void aManualHoldReplacesTheHoldOfItsKeyAndForgetsItsHits() {
        Holds holds = holds(RULE);
        hits(holds, "user:alice", 2);
        holds.hold("user:alice", Hold.FOREVER, "first");
        long end = now.get() + 60_000;

        holds.hold("user:alice", end, "second");

        assertThat(holds.holdOf("user:alice")).extracting(Hold::untilMillis, Hold::reason).containsExactly(end, "second");
        assertThat(holds.active()).hasSize(1);
        advance(Duration.ofMinutes(1));
        assertThat(holds.holdOf("user:alice")).isNull();
        hits(holds, "user:alice", 2);
        assertThat(holds.countHit("user:alice", REASON)).as("three fresh hits").isNotNull();
    }

    @Test
    void aManualHoldEndingAlreadyHoldsNothingAndRemovesTheHoldInForce() {
        Holds holds = holds(RULE);
        holds.hold("user:alice", Hold.FOREVER, "operator");

        holds.hold("user:alice", now.get(), "ended");
        holds.hold("user:bob", now.get() - 1, "ended");

        assertThat(holds.holdOf("user:alice")).isNull();
        assertThat(holds.holdOf("user:bob")).isNull();
        assertThat(holds.active()).isEmpty();
    }

    @Test
    void liftIsTrueOnlyForAHeldKeyAndForgetsItsHits() {
        Holds holds = holds(RULE);
        hits(holds, "user:alice", 2);
        hits(holds, "user:bob", 2);
        assertThat(holds.countHit("user:bob", REASON)).isNotNull();
        holds.hold("user:carol", now.get() + 1_000, "brief");
        advance(Duration.ofSeconds(1));

        assertThat(holds.lift("user:nobody")).as("never seen").isFalse();
        assertThat(holds.lift("user:alice")).as("hits only").isFalse();
        assertThat(holds.lift("user:carol")).as("its hold ended").isFalse();
        assertThat(holds.lift("user:bob")).isTrue();
        assertThat(holds.lift("user:bob")).as("lifted already").isFalse();

        hits(holds, "user:alice", 2); // its two earlier hits were forgotten
        assertThat(holds.countHit("user:alice", REASON)).isNotNull();
        hits(holds, "user:bob", 2);
        assertThat(holds.trackedCount()).as("bob collecting, alice held").isEqualTo(2);
    }

    // ----- lists and counts -----

    @Test
    void activeListsExactlyTheHoldsInForceSoonestEndFirstWithTheirReasons() {
        Holds holds = holds(RULE);
        long start = now.get();
        holds.hold("user:forever", Hold.FOREVER, "operator: leaked");
        holds.hold("user:ended", start + 1_000, "brief");
        holds.hold("user:timed", start + 7_200_000, "suspicious login");
        hits(holds, "user:auto", 2);
        advance(Duration.ofSeconds(1));
        holds.countHit("user:auto", "rate limit");
        hits(holds, "user:hits-only", 2);

        assertThat(holds.active()).extracting(Hold::key, Hold::untilMillis, Hold::reason).containsExactly(
            tuple("user:auto", start + 1_000 + HOLD_FOR.toMillis(), "rate limit"),
            tuple("user:timed", start + 7_200_000, "suspicious login"),
            tuple("user:forever", Hold.FOREVER, "operator: leaked"));
        assertThat(holds.heldCount()).isEqualTo(3);
        assertThat(holds.trackedCount()).as("3 held, 1 collecting hits").isEqualTo(4);
    }

    @Test
    void countsFollowTheEndsOfHoldsAndOfIntervals() {
        Holds holds = holds(RULE);
        assertThat(holds.trackedCount()).isZero();
        assertThat(holds.heldCount()).isZero();
        hits(holds, "user:alice", 2);
        holds.countHit("user:alice", REASON);
        hits(holds, "user:bob", 1);
        holds.hold("user:carol", Hold.FOREVER, "operator");
        assertThat(holds.heldCount()).isEqualTo(2);
        assertThat(holds.trackedCount()).isEqualTo(3);

        advance(WITHIN);
        assertThat(holds.trackedCount()).as("bob's hit left the interval").isEqualTo(2);
        advance(HOLD_FOR);
        assertThat(holds.heldCount()).as("alice's hold ended").isEqualTo(1);
        assertThat(holds.trackedCount()).isEqualTo(1);
        assertThat(holds.active()).extracting(Hold::key).containsExactly("user:carol");
        assertThat(holds.droppedHolds()).as("ended, not dropped").isZero();
    }

    // ----- reconfiguring -----

    @Test
    void reconfiguringKeepsHoldsAndHitsAndAppliesTheNewRuleToTheNextHits() {
        Holds holds = holds(RULE);
        hits(holds, "user:held", 2);
        long end = holds.countHit("user:held", REASON).untilMillis();
        holds.hold("user:forever", Hold.FOREVER, "operator");
        hits(holds, "user:two", 2);
        hits(holds, "user:one", 1);

        holds.reconfigure(new Settings(4, WITHIN.toMillis(), Duration.ofMinutes(5).toMillis(), 1_000));

        assertThat(holds.holdOf("user:held").untilMillis()).as("its own end, not the new 5 min").isEqualTo(end);
        assertThat(holds.holdOf("user:forever")).isNotNull();
        assertThat(holds.countHit("user:two", REASON)).as("the 3rd of 4").isNull();
        assertThat(holds.countHit("user:two", REASON)).extracting(Hold::untilMillis).isEqualTo(now.get() + 300_000);

        holds.reconfigure(new Settings(2, WITHIN.toMillis(), HOLD_FOR.toMillis(), 1_000));
        assertThat(holds.countHit("user:one", REASON)).as("the 2nd of 2").isNotNull();

        holds.reconfigure(new Settings(0, WITHIN.toMillis(), HOLD_FOR.toMillis(), 1_000));
        assertThat(holds.countHit("user:three", REASON)).isNull();
        assertThat(holds.active()).extracting(Hold::key).containsExactlyInAnyOrder("user:held", "user:forever", "user:two", "user:one");
    }

    // ----- bounds -----

    @Test
    void moreThanMaxHeldHoldsDropTheOthersEndingSoonestAndCountThem() {
        Holds holds = holds(new Settings(1, WITHIN.toMillis(), HOLD_FOR.toMillis(), 1_000, 3));
        holds.hold("user:forever", Hold.FOREVER, "operator");
        for (int i = 0; i < 2; i++) {
            assertThat(holds.countHit("ip:10.0.0." + i, REASON)).isNotNull();
            advance(Duration.ofSeconds(1));
        }

        assertThat(holds.countHit("ip:10.0.0.2", REASON)).as("a 4th hold").isNotNull();
        assertThat(holds.active()).extracting(Hold::key).containsExactly("ip:10.0.0.1", "ip:10.0.0.2", "user:forever");
        assertThat(holds.droppedHolds()).isEqualTo(1);

        holds.hold("user:brief", now.get() + 1_000, "ends soonest but is the one being set");
        assertThat(holds.active()).extracting(Hold::key).containsExactly("user:brief", "ip:10.0.0.2", "user:forever");
        assertThat(holds.droppedHolds()).isEqualTo(2);
        assertThat(holds.heldCount()).isEqualTo(3);
    }

    @Test
    void atMostMaxTrackedKeysCollectHitsTheLeastRecentlyHitForgottenFirst() {
        Holds holds = holds(new Settings(3, WITHIN.toMillis(), HOLD_FOR.toMillis(), 2, 1_000));
        holds.hold("user:held", Hold.FOREVER, "operator");
        hits(holds, "ip:a", 2);
        advance(Duration.ofMillis(1));
        hits(holds, "ip:b", 2);
        advance(Duration.ofMillis(1));
        hits(holds, "ip:c", 1); // a forgotten
        advance(Duration.ofMillis(1));

        assertThat(holds.trackedCount()).as("b, c collecting; one held").isEqualTo(3);
        assertThat(holds.countHit("ip:b", REASON)).as("b kept its hits").isNotNull();
        hits(holds, "ip:a", 2); // a starts again from nothing
        for (int i = 0; i < 100; i++) {
            advance(Duration.ofMillis(1));
            hits(holds, "ip:churn-" + i, 1);
            assertThat(holds.trackedCount()).as("after %d", i).isLessThanOrEqualTo(4);
        }
        assertThat(holds.active()).extracting(Hold::key).containsExactlyInAnyOrder("ip:b", "user:held");
        assertThat(holds.droppedHolds()).isZero();
    }

    // ----- odd keys and reasons -----

    @Test
    void keysAndReasonsWithOddCharactersComeBackAsTheyWere() {
        Holds holds = holds(new Settings(1, WITHIN.toMillis(), HOLD_FOR.toMillis(), 1_000));
        List<String> keys = List.of("user:a|b", "user:with space", "user:ünïcødé✉@例え.jp", "user:100%", "user:%09%25",
            "user:tab\there", "user:new\nline\r", "#user:hash", "ip:2001:db8:1:2::/64");
        long end = now.get() + HOLD_FOR.toMillis();
        for (String key : keys) {
            String reason = "why | because: " + key;
            if (key.startsWith("ip:")) {
                assertThat(holds.countHit(key, reason)).extracting(Hold::key, Hold::reason).containsExactly(key, reason);
            } else {
                holds.hold(key, end, reason);
            }
        }

        for (String key : keys) {
            assertThat(holds.holdOf(key)).as(key).extracting(Hold::key, Hold::reason).containsExactly(key, "why | because: " + key);
        }
        assertThat(holds.active()).extracting(Hold::key).containsExactlyInAnyOrderElementsOf(keys);
        assertThat(holds.holdOf("user:a")).isNull();
        assertThat(holds.lift("user:a|b")).isTrue();
        assertThat(holds.holdOf("user:a|b")).isNull();
    }

    @Test
    void aMissingReasonIsEmpty() {
        Holds holds = holds(new Settings(1, WITHIN.toMillis(), HOLD_FOR.toMillis(), 1_000));
        holds.hold("user:alice", Hold.FOREVER, null);
        assertThat(holds.countHit("user:bob", null)).extracting(Hold::reason).isEqualTo("");

        assertThat(holds.holdOf("user:alice").reason()).isEmpty();
        assertThat(holds.active()).extracting(Hold::reason).containsExactly("", "");
    }
}
