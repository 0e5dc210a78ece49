package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthLimits.Rule;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.AuthState.Block;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;

/**
 * {@code <cluster>true</cluster>} against a real Redis Cluster: three masters of Debian's redis-server on loopback
 * ({@link RedisClusterProcess}), the store given the three seed URLs.
 */
@Tag("slow") // still run by mvn test and CI; quick runs skip it with -DexcludedGroups=slow
class RedisClusterStoreTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(2);
    private static final AuthLimits AUTH_LIMITS = new AuthLimits(3, new Rule(3, Duration.ofMinutes(10), Duration.ofHours(1)),
        new Rule(4, Duration.ofMinutes(10), Duration.ofMinutes(15)), 2, Duration.ofDays(30), 3, Duration.ZERO, 1_000, 1_000);

    private static RedisClusterProcess cluster;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeAll
    static void startCluster() {
        ((Logger) LoggerFactory.getLogger("io.lettuce")).setLevel(Level.WARN);
        ((Logger) LoggerFactory.getLogger("io.netty")).setLevel(Level.WARN);
        cluster = RedisClusterProcess.start();
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @BeforeEach
    void emptyCluster() {
        for (RedisServerProcess node : cluster.nodes()) {
            node.cli("FLUSHALL");
        }
    }

    @AfterEach
    void closeStores() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private RedisLimiterStore store() {
        RedisLimiterStore store = new RedisLimiterStore(cluster.url(), true, TIMEOUT);
        closeables.add(store);
        return store;
    }

    @Test
    void twoNodesOfEightThreadsGiveExactDecisionsForFortySubjectsSpreadOverTheMasters() throws Exception {
        RedisLimiterStore nodeA = store();
        RedisLimiterStore nodeB = store();
        int subjects = 40;
        int threadsPerNode = 8;
        int attemptsPerThread = 3; // 48 attempts per subject, more than any limit
        List<Limit> limits = new ArrayList<>();
        for (int s = 0; s < subjects; s++) {
            limits.add(new Limit(Measure.MESSAGES, 5 + s % 7, Duration.ofMinutes(10)));
        }
        AtomicIntegerArray admitted = new AtomicIntegerArray(subjects);
        AtomicInteger failures = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(2 * threadsPerNode);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> futures = new ArrayList<>();
        try {
            for (int t = 0; t < 2 * threadsPerNode; t++) {
                RedisLimiterStore store = t % 2 == 0 ? nodeA : nodeB;
                int offset = t;
                futures.add(pool.submit(() -> {
                    go.await();
                    for (int a = 0; a < attemptsPerThread; a++) {
                        for (int i = 0; i < subjects; i++) {
                            int s = (i + offset) % subjects;
                            LimitDecision decision = store.acquire("user" + s + "@example.com", List.of(new Charge(limits.get(s), 1)));
                            if (decision.isAdmitted()) {
                                admitted.incrementAndGet(s);
                            } else if (decision.kind() == LimitDecision.Kind.STORE_FAILED) {
                                failures.incrementAndGet();
                            }
                        }
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> future : futures) {
                future.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }

        assertThat(failures.get()).as("store failures").isZero();
        Set<RedisServerProcess> holders = new HashSet<>();
        for (int s = 0; s < subjects; s++) {
            String subject = "user" + s + "@example.com";
            assertThat(admitted.get(s)).as("admitted for %s", subject).isEqualTo(limits.get(s).max());
            assertThat(nodeB.usage(subject, List.of(limits.get(s)))).containsEntry(limits.get(s), limits.get(s).max());
            RedisServerProcess holder = cluster.nodeOf(RedisLimiterStore.redisKey(subject));
            assertThat(holder.cli("EXISTS", RedisLimiterStore.redisKey(subject))).as("%s on its master", subject).isEqualTo("1");
            holders.add(holder);
        }
        assertThat(holders).as("masters holding counters").hasSizeGreaterThan(1);
    }

    @Test
    void resetAndEstimateRouteToTheKeysMaster() {
        RedisLimiterStore store = store();
        Limit limit = new Limit(Measure.RECIPIENTS, 3, Duration.ofMinutes(1));
        for (String subject : List.of("a@example.com", "b@example.com", "c@example.com", "d@example.com")) {
            assertThat(store.acquire(subject, List.of(new Charge(limit, 3))).isAdmitted()).isTrue();
            assertThat(store.estimate(subject, List.of(new Charge(limit, 1))).isAdmitted()).isFalse();
            store.reset(subject);
            assertThat(store.usage(subject, List.of(limit))).containsEntry(limit, 0L);
            assertThat(store.estimate(subject, List.of(new Charge(limit, 1))).isAdmitted()).isTrue();
        }
    }

    @Test
    void theMailTimeSuspensionCheckWorksAcrossSlotsOnACluster() {
        RedisLimiterStore store = store();
        RedisHolds suspensions = new RedisHolds(store, RedisHolds.SUSPENSIONS,
            new dev.relayguard.core.Holds.Settings(3, Duration.ofMinutes(10).toMillis(), Duration.ofHours(1).toMillis(), 100));
        Limit limit = new Limit(Measure.MESSAGES, 3, Duration.ofMinutes(1));
        List<Charge> one = List.of(new Charge(limit, 1));
        suspensions.hold("user:held@example.com", dev.relayguard.core.Holds.Hold.FOREVER, "operator: spam");

        // the sender's counters and the suspensions' table are in two slots: two calls, the same answers
        assertThat(store.acquireUnlessHeld("user:held@example.com", one, suspensions, "user:held@example.com").hold().reason())
            .isEqualTo("operator: spam");
        assertThat(store.acquireUnlessHeld("user:free@example.com", one, suspensions, "user:free@example.com").decision()
            .isAdmitted()).isTrue();
        assertThat(store.usage("user:held@example.com", List.of(limit))).containsEntry(limit, 0L);
        assertThat(store.usage("user:free@example.com", List.of(limit))).containsEntry(limit, 1L);
    }

    @Test
    void aStandaloneStoreFacingANodeThatEnforcesSlotsFallsBackToTwoCallsAtTheFirstCrossSlotWithOneWarn() {
        // A sender whose counters sit on the master of the suspensions' slot: both calls of the fallback reach their keys.
        RedisServerProcess suspensionsNode = cluster.nodeOf(RedisHolds.prefixOf(RedisHolds.SUSPENSIONS) + "k:x");
        String sender = null;
        for (int i = 0; sender == null; i++) {
            if (cluster.nodeOf(RedisLimiterStore.redisKey("user:s" + i + "@example.com")).url().equals(suspensionsNode.url())) {
                sender = "user:s" + i + "@example.com";
            }
        }
        RedisLimiterStore store = new RedisLimiterStore(suspensionsNode.url(), false, TIMEOUT);
        closeables.add(store);
        RedisHolds suspensions = new RedisHolds(store, RedisHolds.SUSPENSIONS,
            new dev.relayguard.core.Holds.Settings(3, Duration.ofMinutes(10).toMillis(), Duration.ofHours(1).toMillis(), 100));
        Limit limit = new Limit(Measure.MESSAGES, 3, Duration.ofMinutes(1));
        List<Charge> one = List.of(new Charge(limit, 1));
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logs = new ch.qos.logback.core.read.ListAppender<>();
        logs.start();
        Logger storeLogger = (Logger) LoggerFactory.getLogger(RedisLimiterStore.class);
        storeLogger.addAppender(logs);
        try {
            assertThat(store.acquireUnlessHeld(sender, one, suspensions, sender).decision().isAdmitted()).isTrue();
            suspensions.hold(sender, dev.relayguard.core.Holds.Hold.FOREVER, "operator: spam");
            assertThat(store.acquireUnlessHeld(sender, one, suspensions, sender).hold().reason()).isEqualTo("operator: spam");
        } finally {
            storeLogger.detachAppender(logs);
        }

        assertThat(store.usage(sender, List.of(limit))).containsEntry(limit, 1L);
        assertThat(logs.list).filteredOn(event -> event.getLevel() == Level.WARN).hasSize(1).first()
            .extracting(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).asString()
            .contains("CROSSSLOT", "<cluster>true</cluster>", "two round trips");
    }

    @Test
    void theMarkerLivesOnItsMasterAndItsLossIsSeen() {
        RedisLimiterStore store = store();
        Limit limit = new Limit(Measure.MESSAGES, 3, Duration.ofMinutes(1));
        assertThat(store.acquire("a@example.com", List.of(new Charge(limit, 1))).isAdmitted()).isTrue();
        RedisServerProcess holder = cluster.nodeOf(RedisLimiterStore.MARKER_KEY);
        awaitTrue(() -> holder.cli("EXISTS", RedisLimiterStore.MARKER_KEY).equals("1"), "the marker created");
        awaitTrue(() -> {
            try {
                store.checkMarker(); // the store learns the value (the background check may not have run yet)
                return true;
            } catch (Exception e) {
                return false;
            }
        }, "the marker read");

        holder.cli("FLUSHALL");
        awaitTrue(() -> store.countersResets() == 1, "the loss seen");
        assertThat(store.countersIntact()).isFalse();
    }

    @Test
    void theAuthStateWorksOnTheClusterItsKeysInOneSlot() {
        RedisLimiterStore storeA = store();
        RedisLimiterStore storeB = store();
        AuthState nodeA = new RedisAuthState(storeA, AUTH_LIMITS);
        AuthState nodeB = new RedisAuthState(storeB, AUTH_LIMITS);

        nodeA.recordFailure("192.0.2.1", "alice");
        nodeB.recordFailure("192.0.2.1", "alice");
        Block ban = nodeA.recordFailure("192.0.2.1", "alice").banStarted();
        assertThat(ban).as("the third failure, one on another node").isNotNull();
        assertThat(nodeB.banOf("192.0.2.1")).isNotNull();
        assertThat(nodeB.bans()).extracting(Block::key).containsExactly("192.0.2.1");
        assertThat(nodeB.recordSuccess("bob", "192.0.2.9").clientWasKnown()).isFalse();
        assertThat(nodeA.isKnownClient("bob", "192.0.2.9")).isTrue();
        assertThat(nodeA.liftBan("192.0.2.1")).isTrue();
        assertThat(nodeB.banOf("192.0.2.1")).isNull();
        assertThat(nodeA.healthy()).isTrue();
        assertThat(nodeB.healthy()).isTrue();

        RedisServerProcess holder = cluster.nodeOf(RedisAuthState.KEY_PREFIX + "bans");
        List<String> keys = List.of(holder.cli("KEYS", RedisAuthState.KEY_PREFIX + "*").split("\n"));
        assertThat(keys).isNotEmpty().allMatch(key -> key.startsWith(RedisAuthState.KEY_PREFIX));
        for (RedisServerProcess node : cluster.nodes()) {
            if (node != holder) {
                assertThat(node.cli("KEYS", RedisAuthState.KEY_PREFIX + "*")).as("AUTH keys on another master").isEmpty();
            }
        }
    }

    interface Condition {
        boolean holds();
    }

    /** Polls a condition every 50 ms for at most 15 s (a bound against hanging, not a timing assertion). */
    static void awaitTrue(Condition condition, String what) {
        awaitTrue(condition, what, 15);
    }

    /** Polls a condition every 50 ms for at most {@code seconds}. */
    static void awaitTrue(Condition condition, String what, int seconds) {
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        while (!condition.holds()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("not within " + seconds + " s: " + what);
            }
            RedisServerProcess.sleep(50);
        }
    }
}
