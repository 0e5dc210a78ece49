package dev.relayguard.store;

import static dev.relayguard.store.LocalRedis.NOT_HANGING_MILLIS;
import static dev.relayguard.store.LocalRedis.SHORT_TIMEOUT;
import static dev.relayguard.store.LocalRedis.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.core.Holds;
import dev.relayguard.core.Holds.Hold;
import dev.relayguard.core.Holds.Settings;
import dev.relayguard.core.HoldsContract;
import dev.relayguard.core.Suspensions;
import dev.relayguard.it.EmbeddedRedis;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.SlotHash;

/**
 * {@link RedisHolds} keeps the {@link HoldsContract} against a real redis-server (the 6.2 binary of embedded-redis,
 * on a free loopback port) on a fake clock; then what only Redis does: two nodes sharing the holds, Redis TIME, keys
 * that expire at the end of their hold and share one cluster slot, a paused Redis, a restarted one.
 */
@Tag("slow") // still run by mvn test and CI; quick runs skip it with -DexcludedGroups=slow
class RedisHoldsTest extends HoldsContract {
    @RegisterExtension
    static final LocalRedis REDIS = new LocalRedis();

    @Override
    protected Holds newHolds(Settings settings, LongSupplier clock) {
        return new RedisHolds(store(REDIS.url(), TIMEOUT), RedisHolds.SUSPENSIONS, settings, clock);
    }

    // ----- the same answers as the memory holds -----

    /**
     * A random sequence of calls on a few keys, with small bounds so that tracked keys are forgotten and holds dropped:
     * Redis answers each call as the memory holds do. The clock moves at least 1 ms a call (no ties in "least recently
     * hit").
     */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void answersEveryCallAsTheMemoryHoldsDo(long seed) {
        Random random = new Random(seed);
        Settings settings = new Settings(3, WITHIN.toMillis(), HOLD_FOR.toMillis(), 3, 3);
        Holds memory = new Suspensions(settings, now::get);
        Holds redis = holds(settings);
        List<String> keys = List.of("user:a", "user:b", "user:c", "user:d", "ip:e", "ip:f");
        int started = 0;
        for (int step = 0; step < 300; step++) {
            String key = keys.get(random.nextInt(keys.size()));
            int call = random.nextInt(12);
            String as = "seed " + seed + ", step " + step + ", call " + call + " on " + key;
            if (call < 5) {
                Hold hold = memory.countHit(key, "hit " + step);
                assertThat(describe(redis.countHit(key, "hit " + step))).as(as).isEqualTo(describe(hold));
                started += hold == null ? 0 : 1;
            } else if (call == 5) {
                long until = random.nextInt(8) == 0 ? Hold.FOREVER : now.get() + random.nextInt(7_200_000) - 60_000;
                redis.hold(key, until, "manual " + step);
                memory.hold(key, until, "manual " + step);
            } else if (call == 6) {
                assertThat(redis.lift(key)).as(as).isEqualTo(memory.lift(key));
            } else if (call == 7) {
                assertThat(describe(redis.holdOf(key))).as(as).isEqualTo(describe(memory.holdOf(key)));
            } else if (call == 8) {
                advance(Duration.ofMillis(random.nextInt(900_000)));
            } else {
                assertThat(redis.active().stream().map(RedisHoldsTest::describe)).as(as)
                    .containsExactlyElementsOf(memory.active().stream().map(RedisHoldsTest::describe).collect(Collectors.toList()));
                assertThat(List.of(redis.heldCount(), redis.trackedCount())).as(as)
                    .isEqualTo(List.of(memory.heldCount(), memory.trackedCount()));
                assertThat(redis.droppedHolds()).as(as).isEqualTo(memory.droppedHolds());
            }
            advance(Duration.ofMillis(1));
        }
        assertThat(started).as("holds started by hits").isPositive();
        assertThat(memory.droppedHolds()).as("holds dropped by the bound").isPositive();
    }

    private static String describe(Hold hold) {
        return hold == null ? "none" : hold.key() + " since " + hold.sinceMillis() + " until " + hold.untilMillis() + " (" + hold.reason() + ")";
    }

    // ----- two nodes, Redis TIME -----

    @Test
    void twoNodesOnOneRedisSeeTheSameHoldsAtOnce() {
        Holds nodeA = new RedisHolds(store(REDIS.url(), TIMEOUT), RedisHolds.PROBE_BANS, RULE);
        Holds nodeB = new RedisHolds(store(REDIS.url(), TIMEOUT), RedisHolds.PROBE_BANS, RULE);
        long before = System.currentTimeMillis();

        assertThat(nodeA.countHit("192.0.2.1", "relay probing")).isNull();
        assertThat(nodeB.countHit("192.0.2.1", "relay probing")).isNull();
        Hold ban = nodeA.countHit("192.0.2.1", "relay probing");
        long after = System.currentTimeMillis();
        nodeB.hold("192.0.2.9", Hold.FOREVER, "operator");

        assertThat(ban).as("the third hit, one of them on another node").isNotNull();
        assertThat(ban.untilMillis()).as("Redis TIME + 1 h").isBetween(before + HOLD_FOR.toMillis(), after + HOLD_FOR.toMillis());
        assertThat(nodeB.holdOf("192.0.2.1")).extracting(Hold::untilMillis, Hold::reason)
            .containsExactly(ban.untilMillis(), "relay probing");
        assertThat(nodeA.holdOf("192.0.2.9").isForever()).isTrue();
        assertThat(nodeA.active()).extracting(Hold::key).containsExactly("192.0.2.1", "192.0.2.9");
        assertThat(nodeB.heldCount()).isEqualTo(2);

        assertThat(nodeB.lift("192.0.2.1")).isTrue();
        assertThat(nodeA.holdOf("192.0.2.1")).isNull();
        assertThat(nodeA.lift("192.0.2.1")).isFalse();
        assertThat(nodeA.healthy()).isTrue();
        assertThat(nodeB.healthy()).isTrue();
    }

    @Test
    void theTablesOfBansAndOfSuspensionsAreApart() {
        RedisLimiterStore store = store(REDIS.url(), TIMEOUT);
        Holds bans = new RedisHolds(store, RedisHolds.PROBE_BANS, RULE, now::get);
        Holds suspensions = new RedisHolds(store, RedisHolds.SUSPENSIONS, RULE, now::get);

        bans.hold("ip:192.0.2.1", Hold.FOREVER, "ban");

        assertThat(suspensions.holdOf("ip:192.0.2.1")).isNull();
        assertThat(suspensions.active()).isEmpty();
        assertThat(bans.kind()).startsWith("redis ").endsWith(" relayguard:hold:{ban}:");
    }

    // ----- keys: one slot a table, a hold expiring at its end -----

    @Test
    void aHoldsKeyExpiresAtItsEndAndAHoldUntilLiftedNever() {
        Holds holds = new RedisHolds(store(REDIS.url(), TIMEOUT), RedisHolds.SUSPENSIONS, RULE);
        long before = System.currentTimeMillis();
        long end = before + Duration.ofMinutes(30).toMillis();
        holds.hold("user:timed", end, "suspicious login");
        holds.hold("user:forever", Hold.FOREVER, "operator");
        holds.countHit("user:auto", REASON);
        holds.countHit("user:auto", REASON);
        long autoEnd = holds.countHit("user:auto", REASON).untilMillis();
        holds.countHit("user:hits", REASON);

        String prefix = RedisHolds.prefixOf(RedisHolds.SUSPENSIONS);
        long timedTtl = raw().pttl(prefix + "k:user:timed");
        long autoTtl = raw().pttl(prefix + "k:user:auto");
        long after = System.currentTimeMillis();

        assertThat(timedTtl).as("TTL = end - Redis's now").isBetween(end - after - 1, end - before);
        assertThat(autoTtl).isBetween(autoEnd - after - 1, autoEnd - before);
        assertThat(raw().pttl(prefix + "k:user:forever")).as("no TTL").isEqualTo(-1);
        assertThat(raw().pttl(prefix + "h:user:hits")).as("hits matter for the interval").isBetween(1L, WITHIN.toMillis());
        assertThat(raw().exists(prefix + "h:user:auto")).as("spent hits").isZero();
        assertThat(raw().get(prefix + "k:user:timed")).isEqualTo(end + "|suspicious login");
    }

    @Test
    void everyKeyOfATableSitsInOneClusterSlot() {
        RedisLimiterStore store = store(REDIS.url(), TIMEOUT);
        for (String table : List.of(RedisHolds.PROBE_BANS, RedisHolds.SUSPENSIONS)) {
            Holds holds = new RedisHolds(store, table, new Settings(2, WITHIN.toMillis(), HOLD_FOR.toMillis(), 1_000, 1), now::get);
            holds.countHit("a", REASON);
            holds.countHit("a", REASON); // held
            holds.countHit("b", REASON); // collecting hits
            holds.hold("c", Hold.FOREVER, "operator"); // drops a's hold: counted
            holds.heldCount();

            String prefix = RedisHolds.prefixOf(table);
            List<String> keys = raw().keys(prefix + "*");
            assertThat(keys).containsExactlyInAnyOrder(prefix + "k:c", prefix + "h:b", prefix + "held", prefix + "tracked",
                prefix + "dropped", prefix + "s:c");
            assertThat(keys.stream().map(SlotHash::getSlot).collect(Collectors.toSet())).as(table).hasSize(1);
            assertThat(SlotHash.getSlot(prefix + "k:" + "user:any key ü|%")).isEqualTo(SlotHash.getSlot(prefix + "held"));
        }
    }

    // ----- holds set by an earlier RelayGuard, which kept no start -----

    /**
     * A hold written as an earlier RelayGuard wrote it (its value {@code <until>|<reason>} and its place in
     * {@code <P>held}, no start): read with the start unknown, and it stays unknown when held again by hand while held
     * (the start is still that unknown one); lifted and held again, it starts anew.
     */
    @Test
    void aHoldWithoutAStartReadsAsUnknownAndKeepsItWhenHeldAgain() {
        Holds holds = holds(RULE);
        String prefix = RedisHolds.prefixOf(RedisHolds.SUSPENSIONS);
        long end = now.get() + 3_600_000;
        raw().set(prefix + "k:user:old", end + "|operator: from before");
        raw().zadd(prefix + "held", end, "user:old");

        assertThat(holds.holdOf("user:old")).extracting(Hold::sinceMillis, Hold::isStartKnown, Hold::untilMillis, Hold::reason)
            .containsExactly(Hold.START_UNKNOWN, false, end, "operator: from before");
        holds.hold("user:old", Hold.FOREVER, "operator: for good");
        assertThat(holds.active()).extracting(Hold::key, Hold::sinceMillis, Hold::reason)
            .containsExactly(tuple("user:old", Hold.START_UNKNOWN, "operator: for good"));

        assertThat(holds.lift("user:old")).isTrue();
        holds.hold("user:old", Hold.FOREVER, "operator: anew");
        assertThat(holds.holdOf("user:old")).extracting(Hold::sinceMillis).isEqualTo(now.get());
    }

    /**
     * A start recorded for another end than the hold's (a node of an earlier RelayGuard changed the hold during a
     * rolling upgrade without touching the starts) is not believed: the start is unknown.
     */
    @Test
    void aStartRecordedForAnotherEndIsNotBelieved() {
        Holds holds = holds(RULE);
        String prefix = RedisHolds.prefixOf(RedisHolds.SUSPENSIONS);
        holds.hold("user:alice", Hold.FOREVER, "operator");
        assertThat(holds.holdOf("user:alice")).extracting(Hold::sinceMillis).isEqualTo(now.get());
        assertThat(raw().pttl(prefix + "s:user:alice")).as("a start until lifted does not expire").isEqualTo(-1);
        holds.hold("user:alice", now.get() + 3_600_000, "operator");
        assertThat(raw().pttl(prefix + "s:user:alice")).as("a start expires with its hold").isPositive();
        long end = now.get() + 60_000;

        raw().set(prefix + "k:user:alice", end + "|operator: set by an old node");
        raw().zadd(prefix + "held", end, "user:alice");

        assertThat(holds.holdOf("user:alice")).extracting(Hold::sinceMillis, Hold::untilMillis)
            .containsExactly(Hold.START_UNKNOWN, end);
    }

    // ----- Redis that does not answer, Redis that lost its data -----

    @Test
    void aPausedRedisAnswersUnavailableWithinTheTimeoutAndOperatorsGetAnExceptionThenItRecovers() throws Exception {
        ListAppender<ILoggingEvent> logs = REDIS.captureLogs(RedisHolds.class);
        Holds holds = new RedisHolds(store(REDIS.url(), SHORT_TIMEOUT), RedisHolds.SUSPENSIONS, RULE);
        LocalRedis.pollUntil(() -> holds.heldCount() == 0, "Redis answers");
        holds.hold("user:alice", Hold.FOREVER, "operator");
        logs.list.clear(); // from here on: the incident

        REDIS.paused(() -> {
            long started = System.nanoTime();
            assertThat(holds.holdOf("user:alice")).isSameAs(Holds.UNAVAILABLE);
            assertThat(holds.healthy()).isFalse();
            assertThat(holds.countHit("user:bob", REASON)).isNull();
            assertThatThrownBy(() -> holds.hold("user:bob", Hold.FOREVER, "operator"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no answer within 300 ms")
                .hasMessageContaining("the hold may still take effect if Redis runs it late");
            assertThatThrownBy(() -> holds.lift("user:carol")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the lift may still take effect");
            assertThatThrownBy(holds::active).isInstanceOf(IllegalStateException.class);
            assertThat(holds.heldCount()).isEqualTo(-1);
            assertThat(holds.trackedCount()).isEqualTo(-1);
            assertThat(holds.droppedHolds()).isEqualTo(-1);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).as("nine calls, none hanging")
                .isLessThan(NOT_HANGING_MILLIS);
        });

        LocalRedis.pollUntil(() -> answers(holds.holdOf("user:alice")), "Redis answers again");
        assertThat(holds.healthy()).isTrue();
        assertThat(holds.holdOf("user:alice")).as("nothing lost").extracting(Hold::reason).isEqualTo("operator");
        assertThat(LocalRedis.messages(logs, Level.WARN)).hasSize(1)
            .allMatch(m -> m.contains("Redis suspension holds failed") && m.contains("no answer within 300 ms"));
        assertThat(LocalRedis.messages(logs, Level.INFO)).hasSize(1).allMatch(m -> m.contains("answer again"));
    }

    @Test
    void aRestartedRedisThatLostItsDataHoldsNothingAndIsUsedAgain() throws Exception {
        EmbeddedRedis own = EmbeddedRedis.started();
        REDIS.closeAfterTest(own::stop);
        Holds holds = new RedisHolds(store(own.url(), SHORT_TIMEOUT), RedisHolds.PROBE_BANS, RULE, now::get);
        LocalRedis.pollUntil(() -> holds.heldCount() == 0, "Redis answers");
        holds.hold("192.0.2.1", Hold.FOREVER, "operator");
        holds.countHit("192.0.2.2", REASON);

        own.stop();
        LocalRedis.pollUntil(() -> !answers(holds.holdOf("192.0.2.1")), "the stop is noticed");
        assertThat(holds.healthy()).isFalse();
        own.start();

        LocalRedis.pollUntil(() -> answers(holds.holdOf("192.0.2.1")), "the restarted Redis answers");
        assertThat(holds.holdOf("192.0.2.1")).as("its data is gone").isNull();
        assertThat(holds.active()).isEmpty();
        assertThat(holds.healthy()).isTrue();
        holds.countHit("192.0.2.2", REASON);
        holds.countHit("192.0.2.2", REASON);
        assertThat(holds.countHit("192.0.2.2", REASON)).as("three hits after the restart").isNotNull();
    }

    @Test
    void closedHoldsAnswerUnavailableAndLeaveTheStoreOpen() {
        RedisLimiterStore store = store(REDIS.url(), TIMEOUT);
        RedisHolds holds = new RedisHolds(store, RedisHolds.SUSPENSIONS, RULE, now::get);
        holds.hold("user:alice", Hold.FOREVER, "operator");

        holds.close();

        assertThat(holds.holdOf("user:alice")).isSameAs(Holds.UNAVAILABLE);
        assertThat(holds.countHit("user:bob", REASON)).isNull();
        assertThatThrownBy(() -> holds.lift("user:alice")).isInstanceOf(IllegalStateException.class).hasMessageEndingWith("closed");
        assertThat(new RedisHolds(store, RedisHolds.SUSPENSIONS, RULE, now::get).holdOf("user:alice")).isNotNull();
    }

    // ----- helpers -----

    /** True when Redis answered: held or not. */
    private static boolean answers(Hold hold) {
        return hold == null || !hold.isUnavailable();
    }

    private static RedisLimiterStore store(String url, Duration timeout) {
        return REDIS.closeAfterTest(new RedisLimiterStore(url, false, timeout));
    }

    private static RedisCommands<String, String> raw() {
        return REDIS.raw();
    }
}
