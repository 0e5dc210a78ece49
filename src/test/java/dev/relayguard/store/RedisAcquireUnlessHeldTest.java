package dev.relayguard.store;

import static dev.relayguard.store.LocalRedis.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.core.Holds;
import dev.relayguard.core.Holds.Hold;
import dev.relayguard.core.Suspensions;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimiterStore.HoldOrDecision;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;

/**
 * {@link RedisLimiterStore#acquireUnlessHeld} on a real redis-server: the sender's suspension and the message charge of
 * a MAIL in one script, one round trip (counted by Redis itself), with the same answers as the memory store and the
 * memory suspensions (the interface's default: the two calls).
 */
class RedisAcquireUnlessHeldTest {
    @RegisterExtension
    static final LocalRedis REDIS = new LocalRedis();

    private static final Holds.Settings RULE = new Holds.Settings(3, Duration.ofMinutes(10).toMillis(),
        Duration.ofHours(1).toMillis(), 1_000);
    private static final Limit PER_MINUTE = new Limit(Measure.MESSAGES, 3, Duration.ofMinutes(1));
    private static final List<Charge> ONE_MESSAGE = List.of(new Charge(PER_MINUTE, 1));

    private final RedisLimiterStore store = REDIS.closeAfterTest(new RedisLimiterStore(REDIS.url(), false, TIMEOUT));
    private final RedisHolds suspensions = new RedisHolds(store, RedisHolds.SUSPENSIONS, RULE);

    @Test
    void aSuspendedSenderGetsItsHoldAndNothingIsCountedOneScriptEachTime() {
        long before = System.currentTimeMillis();
        suspensions.hold("user:bob", before + 90_000, "operator: leaked password");
        suspensions.hold("user:carol", Hold.FOREVER, "operator: spam");
        store.acquire("user:warm-up", ONE_MESSAGE); // Redis learns the script (NOSCRIPT, then EVAL) before the count
        long evalshaBefore = calls("evalsha");
        long getBefore = calls("get");

        HoldOrDecision bob = store.acquireUnlessHeld("user:bob", ONE_MESSAGE, suspensions, "user:bob");
        HoldOrDecision carol = store.acquireUnlessHeld("user:carol", ONE_MESSAGE, suspensions, "user:carol");
        HoldOrDecision alice = store.acquireUnlessHeld("user:alice", ONE_MESSAGE, suspensions, "user:alice");

        // The store's marker check (once a second: one EVALSHA running one GET) may fall in between; the three hold
        // reads run five GETs (bob and carol: the hold and its start; alice: no hold).
        long markerChecks = calls("get") - getBefore - 5;
        assertThat(calls("evalsha") - evalshaBefore - markerChecks).as("one script per MAIL, held or not").isEqualTo(3);
        assertThat(bob.decision()).isNull();
        assertThat(bob.hold()).extracting(Hold::key, Hold::untilMillis, Hold::reason)
            .containsExactly("user:bob", before + 90_000, "operator: leaked password");
        assertThat(bob.hold().sinceMillis()).as("when the hold started, on Redis's clock")
            .isBetween(before - 5, System.currentTimeMillis() + 5);
        assertThat(carol.hold().isForever()).isTrue();
        assertThat(alice.hold()).isNull();
        assertThat(alice.decision().isAdmitted()).isTrue();
        assertThat(store.usage("user:bob", List.of(PER_MINUTE))).containsEntry(PER_MINUTE, 0L);
        assertThat(store.usage("user:alice", List.of(PER_MINUTE))).containsEntry(PER_MINUTE, 1L);

        assertThat(suspensions.lift("user:bob")).isTrue();
        assertThat(store.acquireUnlessHeld("user:bob", ONE_MESSAGE, suspensions, "user:bob").decision().isAdmitted()).isTrue();
        assertThat(store.usage("user:bob", List.of(PER_MINUTE))).containsEntry(PER_MINUTE, 1L);
    }

    @Test
    void theSameAnswersAsTheMemoryStoreAndSuspensionsForARandomSequence() {
        AtomicLong now = new AtomicLong(1_800_000_000_000L);
        RedisLimiterStore clocked = REDIS.closeAfterTest(new RedisLimiterStore(REDIS.url(), false, TIMEOUT, now::get));
        Holds redisHolds = new RedisHolds(clocked, RedisHolds.SUSPENSIONS, RULE, now::get);
        MemoryLimiterStore memory = new MemoryLimiterStore(1_000, now::get);
        Holds memoryHolds = new Suspensions(RULE, now::get);
        Random random = new Random(17);
        String[] keys = {"user:a", "user:b", "user:c"};

        for (int step = 0; step < 300; step++) {
            String key = keys[random.nextInt(keys.length)];
            int action = random.nextInt(10);
            if (action == 0) {
                long until = now.get() + 1 + random.nextInt(120_000);
                redisHolds.hold(key, until, "operator: step " + step);
                memoryHolds.hold(key, until, "operator: step " + step);
            } else if (action == 1) {
                assertThat(redisHolds.lift(key)).isEqualTo(memoryHolds.lift(key));
            } else {
                HoldOrDecision fromRedis = clocked.acquireUnlessHeld(key, ONE_MESSAGE, redisHolds, key);
                HoldOrDecision fromMemory = memory.acquireUnlessHeld(key, ONE_MESSAGE, memoryHolds, key);
                assertThat(describe(fromRedis)).as("step %d, %s", step, key).isEqualTo(describe(fromMemory));
            }
            now.addAndGet(1 + random.nextInt(5_000));
        }
    }

    /** What both stores must agree on: the hold (key, end, reason), or admitted, or refused with its retry time. */
    private static String describe(HoldOrDecision answer) {
        if (answer.hold() != null) {
            Hold hold = answer.hold();
            return "held " + hold.key() + " until " + hold.untilMillis() + " (" + hold.reason() + ")";
        }
        return answer.decision().isAdmitted() ? "admitted" : "refused, retry in " + answer.decision().retryAfterMillis() + " ms";
    }

    private static long calls(String command) {
        for (String line : REDIS.raw().info("commandstats").split("\\r?\\n")) {
            if (line.startsWith("cmdstat_" + command + ":")) {
                return Long.parseLong(line.replaceFirst("^cmdstat_[a-z]+:calls=(\\d+),.*", "$1").trim());
            }
        }
        return 0;
    }
}
