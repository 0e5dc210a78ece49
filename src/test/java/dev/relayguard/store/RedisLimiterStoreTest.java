package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.LimitSet;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.SlidingWindow;
import dev.relayguard.limit.Ticket;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import redis.embedded.RedisServer;

/** Against real redis-server processes (embedded-redis ships a 6.2 binary), on free loopback ports. */
@Tag("slow") // still run by mvn test and CI; quick runs skip it with -DexcludedGroups=slow
class RedisLimiterStoreTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(2);
    private static final Duration SHORT_TIMEOUT = Duration.ofMillis(300);
    /** A bound for "does not hang", not a performance assertion. */
    private static final long NOT_HANGING_MILLIS = 5_000;

    private final List<RedisServer> servers = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private int port;
    private RedisServer server;

    @BeforeAll
    static void quietLogs() {
        // No logback-test.xml in this project: keep Lettuce and Netty from logging at DEBUG.
        if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext) {
            ch.qos.logback.classic.LoggerContext context = (ch.qos.logback.classic.LoggerContext) LoggerFactory.getILoggerFactory();
            context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).setLevel(Level.INFO);
            context.getLogger("io.lettuce").setLevel(Level.WARN);
            context.getLogger("io.netty").setLevel(Level.WARN);
        }
    }

    @BeforeEach
    void startRedis() throws IOException {
        server = startRedisOnAFreePort();
        port = server.ports().get(0);
    }

    @AfterEach
    void stopEverything() {
        for (AutoCloseable closeable : closeables) {
            try {
                closeable.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
        for (RedisServer redis : servers) {
            try {
                redis.stop();
            } catch (IOException | RuntimeException ignored) {
                // already stopped
            }
        }
    }

    // ----- 1. same decisions as the memory store -----

    /**
     * Production mode: the script reads Redis TIME (no fake clock). Exact agreement with the memory store is
     * {@link #decidesExactlyLikeTheMemoryStoreOnTheSameClock}; here the retry hint must lie within the bound
     * {@link SlidingWindow} documents, whatever the load: the first admission at t1 fell in
     * sub-bucket b (b·w <= t1 < b·w + w), the refusal at t6 answers (b + SLOTS)·w - t6, so with T = SUB_BUCKETS·w
     * the hint is in (T - (t6 - t1), T + w - (t6 - t1)], where t6 - t1 is at most the time the six calls took.
     * The window (10 min, 1 min sub-buckets) is long enough that no call can take it by surprise.
     */
    @Test
    void decidesInRealTimeOnTheRedisClockWithinTheDocumentedBound() {
        RedisLimiterStore redis = store(TIMEOUT);
        MemoryLimiterStore memory = new MemoryLimiterStore(1000, System::currentTimeMillis);
        Limit limit = new Limit(Measure.MESSAGES, 5, Duration.ofMinutes(10));
        long window = limit.window().toMillis();
        long width = SlidingWindow.width(window);
        List<Charge> one = List.of(new Charge(limit, 1));

        long started = System.nanoTime();
        for (int i = 1; i <= 5; i++) {
            assertThat(redis.acquire("k", one).kind()).as("acquisition %d", i).isEqualTo(LimitDecision.Kind.ADMITTED);
            assertThat(memory.acquire("k", one).kind()).isEqualTo(LimitDecision.Kind.ADMITTED);
        }
        LimitDecision fromRedis = redis.acquire("k", one);
        LimitDecision fromMemory = memory.acquire("k", one);
        long took = elapsedMillis(started) + 1; // + 1: nanoTime truncated to millis, the clocks in whole millis
        assertThat(fromRedis.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(fromMemory.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(fromRedis.limit()).isEqualTo(limit);
        assertThat(fromRedis.never()).isFalse();
        assertThat(fromRedis.retryAfterMillis()).as("Redis TIME, took %d ms", took)
            .isGreaterThan(window - took).isLessThanOrEqualTo(window + width);
        assertThat(fromMemory.retryAfterMillis()).as("memory, took %d ms", took)
            .isGreaterThan(window - took).isLessThanOrEqualTo(window + width);
        assertThat(redis.usage("k", List.of(limit))).containsEntry(limit, 5L);

        LimitDecision tooBig = redis.acquire("k", List.of(new Charge(limit, 6)));
        assertThat(tooBig.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(tooBig.never()).isTrue();
        assertThat(tooBig.retryAfterMillis()).isEqualTo(window);
        assertThat(redis.acquire("other", List.of()).isAdmitted()).isTrue();
    }

    /**
     * Random sequences of acquisitions (one or several limits, shared counters, amounts too big to ever fit),
     * releases, resets and clock steps, on a fake clock given to both stores: every answer must be identical,
     * retry delays and ticket buckets included.
     */
    @Test
    void decidesExactlyLikeTheMemoryStoreOnTheSameClock() {
        AtomicLong now = new AtomicLong(1_700_000_000_123L);
        RedisLimiterStore redis = store(TIMEOUT, now::get);
        decidesLikeTheMemoryStore(now, List.of(redis));
        // both ways of counting ran: the node's precomputed write (unchanged.lua) and the full decision
        assertThat(redis.precomputedWrites()).isGreaterThan(200);
        assertThat(redis.fullDecisions()).isGreaterThan(200);
    }

    /**
     * The same with two James nodes on one Redis, each decision on one picked at random: each node's known counters
     * ({@link KnownCounters}) are often stale (the other node counted, a ticket was given back, a key was reset), and
     * Redis must then refuse the precomputed write and decide in full, so that the answers stay exactly the memory
     * store's.
     */
    @Test
    void twoNodesWithStaleKnownCountersStillDecideExactlyLikeTheMemoryStore() {
        AtomicLong now = new AtomicLong(1_700_000_000_123L);
        RedisLimiterStore node1 = store(TIMEOUT, now::get);
        RedisLimiterStore node2 = store(TIMEOUT, now::get);
        decidesLikeTheMemoryStore(now, List.of(node1, node2));
        assertThat(node1.precomputedWrites() + node2.precomputedWrites()).isGreaterThan(100);
        assertThat(node1.fullDecisions() + node2.fullDecisions()).isGreaterThan(400);
    }

    /**
     * The review's counter-example: a node remembers a key with a long expiry; another node resets it and makes it
     * again with the same counter bytes and a short expiry. The first node's precomputed write must not be applied on
     * the strength of the expiry it remembers ({@code unchanged.lua} reads {@code x} itself), else the key expires
     * while its counts still count and a third message gets through "1 per second" within 0.8 s. Decisions on a fake
     * clock that moves as the real one (the TTLs are on Redis's real clock).
     */
    @Test
    void aPrecomputedWriteNeverTrustsTheExpiryTheNodeRemembers() throws InterruptedException {
        AtomicLong now = new AtomicLong(System.currentTimeMillis());
        RedisLimiterStore a = store(TIMEOUT, now::get);
        RedisLimiterStore b = store(TIMEOUT, now::get);
        MemoryLimiterStore memory = new MemoryLimiterStore(1_000, now::get);
        Limit perSecond = new Limit(Measure.MESSAGES, 1, Duration.ofSeconds(1));
        Limit perHour = new Limit(Measure.MESSAGES, 100, Duration.ofHours(1));
        List<Charge> both = List.of(new Charge(perSecond, 1), new Charge(perHour, 1));
        List<Charge> short1 = List.of(new Charge(perSecond, 1));

        assertThat(a.acquire("k", both).isAdmitted()).isTrue(); // x: ~2.2 h ahead, remembered by a
        b.reset("k");
        memory.reset("k");
        assertThat(b.acquire("k", short1).isAdmitted()).isTrue(); // the same per-second bytes; x: ~2.2 s ahead
        assertThat(memory.acquire("k", short1).isAdmitted()).isTrue();

        Thread.sleep(1_500);
        now.addAndGet(1_500);
        assertThat(a.acquire("k", short1).isAdmitted()).isTrue(); // must extend the key's life: the full script
        assertThat(memory.acquire("k", short1).isAdmitted()).isTrue();
        assertThat(a.precomputedWrites()).isZero();
        assertThat(rawCommands().pttl(RedisLimiterStore.redisKey("k"))).isGreaterThan(1_500);

        Thread.sleep(800);
        now.addAndGet(800);
        assertThat(memory.acquire("k", short1).isAdmitted()).isFalse();
        assertThat(b.acquire("k", short1).isAdmitted()).as("the charge 0.8 s ago still counts").isFalse();
    }

    /**
     * The node's estimate of the Redis clock one sub-bucket ahead: it computes a shift into the next sub-bucket, which
     * Redis must not apply before that sub-bucket starts (validFrom).
     */
    @Test
    void aPrecomputedWriteForALaterSubBucketIsNotAppliedBeforeItStarts() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 10, Duration.ofMinutes(10)); // sub-buckets of 1 min
        List<Charge> one = List.of(new Charge(limit, 1));
        long first = store.acquire("k", one).ticket().entries().get(0).bucket();
        store.assumeClockOffset(store.clockOffsetMillis() + 60_000);
        long second = store.acquire("k", one).ticket().entries().get(0).bucket();
        assertThat(store.precomputedWrites()).isZero();
        assertThat(second).as("Redis's sub-bucket, not the node's estimate").isGreaterThanOrEqualTo(first)
            .isLessThanOrEqualTo(SlidingWindow.bucketAt(redisMillis(), limit.window().toMillis()));
        assertThat(store.usage("k", List.of(limit))).containsEntry(limit, 2L);
    }

    /**
     * The node's estimate of the Redis clock behind: it computes a charge in the newest sub-bucket, which Redis must
     * not apply once a later sub-bucket started (validUntil).
     */
    @Test
    void aPrecomputedWriteForTheNewestSubBucketIsNotAppliedAfterItEnds() throws InterruptedException {
        RedisLimiterStore store = store(TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 10, Duration.ofSeconds(1)); // sub-buckets of 100 ms
        List<Charge> one = List.of(new Charge(limit, 1));
        long first = store.acquire("k", one).ticket().entries().get(0).bucket();
        Thread.sleep(250);
        store.assumeClockOffset(store.clockOffsetMillis() - 1_000);
        long second = store.acquire("k", one).ticket().entries().get(0).bucket();
        assertThat(store.precomputedWrites()).isZero();
        assertThat(second).isGreaterThanOrEqualTo(first + 2);
    }

    private long redisMillis() {
        List<String> time = rawCommands().time();
        return Long.parseLong(time.get(0)) * 1000 + Long.parseLong(time.get(1)) / 1000;
    }

    private void decidesLikeTheMemoryStore(AtomicLong now, List<RedisLimiterStore> nodes) {
        MemoryLimiterStore memory = new MemoryLimiterStore(1_000, now::get);
        List<Limit> limits = List.of(
            new Limit(Measure.MESSAGES, 5, Duration.ofMillis(1_000)),
            new Limit(Measure.MESSAGES, 8, Duration.ofMillis(1_000)), // shares the counters of the one above
            new Limit(Measure.RECIPIENTS, 12, Duration.ofMillis(3_000)),
            new Limit(Measure.BYTES, 10_000, Duration.ofMillis(1_005)), // a width that does not divide the window
            new Limit(Measure.MESSAGES, 3, Duration.ofMillis(10)));    // sub-buckets of 1 ms
        List<String> keys = List.of("user:a@example.com", "user:b@example.com");
        Random random = new Random(20240611);
        List<Ticket> redisTickets = new ArrayList<>();
        List<Ticket> memoryTickets = new ArrayList<>();
        int admitted = 0;
        int refused = 0;
        int never = 0;

        for (int step = 0; step < 3_000; step++) {
            now.addAndGet(random.nextInt(10) < 7 ? random.nextInt(40) : random.nextInt(1_500));
            String key = keys.get(random.nextInt(keys.size()));
            int action = random.nextInt(100);
            if (action < 70) {
                List<Charge> charges = new ArrayList<>();
                int count = 1 + random.nextInt(3);
                for (int i = 0; i < count; i++) {
                    Limit limit = limits.get(random.nextInt(limits.size()));
                    long amount = limit.measure() == Measure.BYTES ? random.nextInt(4_000) : random.nextInt(4);
                    if (random.nextInt(50) == 0) {
                        amount = limit.max() + 1;
                    }
                    charges.add(new Charge(limit, amount));
                }
                RedisLimiterStore redis = nodes.get(random.nextInt(nodes.size()));
                LimitDecision r = redis.acquire(key, charges);
                LimitDecision m = memory.acquire(key, charges);
                assertSame(step, r, m);
                if (r.isAdmitted()) {
                    admitted++;
                    redisTickets.add(r.ticket());
                    memoryTickets.add(m.ticket());
                } else if (r.never()) {
                    never++;
                } else {
                    refused++;
                }
            } else if (action < 85 && !redisTickets.isEmpty()) {
                int index = random.nextInt(redisTickets.size());
                nodes.get(random.nextInt(nodes.size())).release(redisTickets.remove(index));
                memory.release(memoryTickets.remove(index));
            } else if (action < 87) {
                nodes.get(random.nextInt(nodes.size())).reset(key);
                memory.reset(key);
            } else {
                assertThat(nodes.get(random.nextInt(nodes.size())).usage(key, limits)).as("usage at step %d", step).isEqualTo(memory.usage(key, limits));
            }
        }
        assertThat(admitted).isGreaterThan(500);
        assertThat(refused).isGreaterThan(100);
        assertThat(never).isGreaterThan(10);
    }

    private static void assertSame(int step, LimitDecision fromRedis, LimitDecision fromMemory) {
        assertThat(fromRedis.kind()).as("kind at step %d", step).isEqualTo(fromMemory.kind());
        assertThat(fromRedis.limit()).as("limit at step %d", step).isEqualTo(fromMemory.limit());
        assertThat(fromRedis.retryAfterMillis()).as("retry at step %d", step).isEqualTo(fromMemory.retryAfterMillis());
        assertThat(fromRedis.never()).as("never at step %d", step).isEqualTo(fromMemory.never());
        assertThat(entries(fromRedis.ticket())).as("ticket at step %d", step).isEqualTo(entries(fromMemory.ticket()));
        assertThat(fromRedis.ticket().key()).isEqualTo(fromMemory.ticket().key());
    }

    private static List<String> entries(Ticket ticket) {
        return ticket.entries().stream()
            .map(e -> e.counterId() + "/" + e.windowMillis() + "/" + e.bucket() + "/" + e.amount())
            .collect(Collectors.toList());
    }

    // ----- 2. several limits at once -----

    @Test
    void countsAllLimitsOrNone() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit a = new Limit(Measure.MESSAGES, 3, Duration.ofSeconds(10));
        Limit b = new Limit(Measure.RECIPIENTS, 5, Duration.ofSeconds(10));
        List<Charge> both = List.of(new Charge(a, 1), new Charge(b, 1));

        for (int i = 0; i < 3; i++) {
            LimitDecision decision = store.acquire("k", both);
            assertThat(decision.isAdmitted()).isTrue();
            assertThat(decision.ticket().entries()).hasSize(2);
        }
        LimitDecision refused = store.acquire("k", both);
        assertThat(refused.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(refused.limit()).isEqualTo(a);
        assertThat(refused.ticket().isEmpty()).isTrue();
        assertThat(store.usage("k", List.of(a, b))).containsEntry(a, 3L).containsEntry(b, 3L);

        // B alone still has room for 2; then B refuses and A (full) is not counted twice either.
        assertThat(store.acquire("k", List.of(new Charge(b, 2))).isAdmitted()).isTrue();
        LimitDecision byB = store.acquire("k", List.of(new Charge(a, 0), new Charge(b, 1)));
        assertThat(byB.limit()).isEqualTo(b);
        assertThat(store.usage("k", List.of(a, b))).containsEntry(a, 3L).containsEntry(b, 5L);
    }

    // ----- 3. release -----

    @Test
    void aTicketsPartGivesBackThatPartOnly() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit messages = new Limit(Measure.MESSAGES, 10, Duration.ofMinutes(1));
        Limit recipients = new Limit(Measure.RECIPIENTS, 10, Duration.ofMinutes(1));
        LimitSet limits = LimitSet.of(List.of(messages, recipients));
        Ticket reservation = store.acquire("k", limits.messageWithRecipients(5)).ticket();
        assertThat(store.usage("k", List.of(messages, recipients))).containsEntry(messages, 1L).containsEntry(recipients, 5L);

        store.release(reservation.part(limits.charges(Measure.RECIPIENTS, 3)));

        assertThat(store.usage("k", List.of(messages, recipients))).containsEntry(messages, 1L).containsEntry(recipients, 2L);
    }

    @Test
    void releaseGivesBack() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit limit = new Limit(Measure.RECIPIENTS, 3, Duration.ofSeconds(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        List<Ticket> tickets = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            LimitDecision decision = store.acquire("k", one);
            assertThat(decision.isAdmitted()).isTrue();
            tickets.add(decision.ticket());
        }
        assertThat(store.acquire("k", one).isAdmitted()).isFalse();

        store.release(tickets.get(0));
        assertThat(store.usage("k", List.of(limit))).containsEntry(limit, 2L);
        assertThat(store.acquire("k", one).isAdmitted()).isTrue();
        assertThat(store.acquire("k", one).isAdmitted()).isFalse();

        store.release(Ticket.NONE);
        store.reset("k");
        assertThat(store.usage("k", List.of(limit))).containsEntry(limit, 0L);
        store.release(tickets.get(1)); // the key is gone: nothing to give back, nothing created
        assertThat(rawCommands().exists(RedisLimiterStore.redisKey("k"))).isZero();
    }

    // ----- 4. two James nodes -----

    @Test
    void twoNodesNeverAdmitMoreThanTheLimit() throws Exception {
        RedisLimiterStore node1 = store(TIMEOUT);
        RedisLimiterStore node2 = store(TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 50, Duration.ofSeconds(30));
        List<Charge> one = List.of(new Charge(limit, 1));
        int threadsPerNode = 32;
        int attemptsPerThread = 10;
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2 * threadsPerNode);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (RedisLimiterStore node : List.of(node1, node2)) {
                for (int t = 0; t < threadsPerNode; t++) {
                    done.add(pool.submit(() -> {
                        start.await();
                        for (int i = 0; i < attemptsPerThread; i++) {
                            LimitDecision decision = node.acquire("user:shared@example.com", one);
                            (decision.isAdmitted() ? admitted : decision.kind() == LimitDecision.Kind.REFUSED ? refused : failed)
                                .incrementAndGet();
                        }
                        return null;
                    }));
                }
            }
            start.countDown();
            for (Future<?> future : done) {
                future.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(failed).hasValue(0);
        assertThat(admitted).hasValue(50);
        assertThat(refused).hasValue(2 * threadsPerNode * attemptsPerThread - 50);
        assertThat(node1.usage("user:shared@example.com", List.of(limit))).containsEntry(limit, 50L);
    }

    // ----- 5. key layout -----

    @Test
    void oneHashTaggedKeyWithATimeToLive() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 5, Duration.ofSeconds(2));
        assertThat(store.acquire("user:alice@example.com", List.of(new Charge(limit, 1))).isAdmitted()).isTrue();

        RedisCommands<String, String> raw = rawCommands();
        String key = "relayguard:{user:alice@example.com}";
        assertThat(RedisLimiterStore.redisKey("user:alice@example.com")).isEqualTo(key);
        assertThat(raw.keys("relayguard:{*")).as("the marker aside").containsExactly(key);
        assertThat(raw.type(key)).isEqualTo("hash");
        // Small enough for Redis's compact encoding (default hash-max-listpack-value 64: a 68-byte value made it a
        // hashtable of twice the memory)
        assertThat(raw.objectEncoding(key)).isIn("listpack", "ziplist");
        // One field per counter, its 11 sub-buckets packed (the newest index, their total, then the amounts from it
        // backwards), and x, when the key expires.
        Map<String, byte[]> fields = rawHash(key);
        assertThat(fields).containsOnlyKeys("m2000:t", "x");
        long[] counter = unpack(fields.get("m2000:t"));
        assertThat(counter[0] * 200).isCloseTo(System.currentTimeMillis(), Offset.offset(5_000L));
        assertThat(Arrays.copyOfRange(counter, 1, 13)).containsExactly(1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        assertThat(Long.parseLong(new String(fields.get("x"), StandardCharsets.US_ASCII)))
            .isCloseTo(System.currentTimeMillis() + 4_400, Offset.offset(5_000L));
        assertThat(raw.pttl(key)).isPositive().isLessThanOrEqualTo((2_000 + 200) * 2);

        // A longer window extends the TTL; a shorter one never shortens it.
        Limit daily = new Limit(Measure.MESSAGES, 500, Duration.ofHours(1));
        assertThat(store.acquire("user:alice@example.com", List.of(new Charge(daily, 1))).isAdmitted()).isTrue();
        long longTtl = (3_600_000L + 360_000L) * 2;
        assertThat(raw.pttl(key)).isGreaterThan(longTtl - 60_000).isLessThanOrEqualTo(longTtl);
        assertThat(store.acquire("user:alice@example.com", List.of(new Charge(limit, 1))).isAdmitted()).isTrue();
        assertThat(raw.pttl(key)).isGreaterThan(longTtl - 60_000);
        assertThat(store.kind()).isEqualTo("redis");
        assertThat(store.trackedKeys()).isEqualTo(-1);
    }

    /**
     * The packed counter of counters.lua: '<d' the newest sub-bucket, then the total and the 11 amounts, 4 unsigned
     * bytes each, little-endian.
     */
    private static long[] unpack(byte[] value) {
        assertThat(value).hasSize(8 + 12 * 4);
        ByteBuffer buffer = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
        long[] counter = new long[13];
        counter[0] = (long) buffer.getDouble();
        for (int i = 1; i < 13; i++) {
            long amount = 0;
            for (int b = 0; b < 4; b++) {
                amount |= (buffer.get() & 0xffL) << (8 * b);
            }
            counter[i] = amount;
        }
        return counter;
    }

    /**
     * The sub-buckets move with time: an amount counted two sub-buckets later sits at the front, the older one two
     * places behind; a release gives back in the ticket's own sub-bucket.
     */
    @Test
    void countsMoveThroughThePackedSubBuckets() {
        AtomicLong now = new AtomicLong(1_700_000_000_000L);
        RedisLimiterStore store = store(TIMEOUT, now::get);
        Limit limit = new Limit(Measure.RECIPIENTS, 10, Duration.ofSeconds(10)); // sub-buckets of 1 s
        LimitDecision first = store.acquire("k", List.of(new Charge(limit, 3)));
        now.addAndGet(2_000);
        LimitDecision second = store.acquire("k", List.of(new Charge(limit, 4)));
        assertThat(second.ticket().entries().get(0).bucket()).isEqualTo(first.ticket().entries().get(0).bucket() + 2);
        assertThat(unpack(rawHash(RedisLimiterStore.redisKey("k")).get("r10000:t")))
            .containsExactly(1_700_000_002L, 7, 4, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0);

        store.release(first.ticket());
        assertThat(unpack(rawHash(RedisLimiterStore.redisKey("k")).get("r10000:t")))
            .containsExactly(1_700_000_002L, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        now.addAndGet(10_000); // the 4 is in its last sub-bucket of counting
        assertThat(store.usage("k", List.of(limit))).containsEntry(limit, 4L);
        assertThat(store.acquire("k", List.of(new Charge(limit, 7))).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        now.addAndGet(1_000);
        assertThat(store.usage("k", List.of(limit))).containsEntry(limit, 0L);
        assertThat(store.acquire("k", List.of(new Charge(limit, 10))).isAdmitted()).isTrue();
        assertThat(unpack(rawHash(RedisLimiterStore.redisKey("k")).get("r10000:t")))
            .containsExactly(1_700_000_013L, 10, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    /** A reservation is current while the clock stays in the sub-bucket of every entry (the memory store's rule). */
    @Test
    void aTicketIsCurrentWhileTheClockStaysInItsSubBuckets() {
        AtomicLong now = new AtomicLong(1_700_000_000_000L);
        RedisLimiterStore redis = store(TIMEOUT, now::get);
        MemoryLimiterStore memory = new MemoryLimiterStore(10, now::get);
        Limit perSecond = new Limit(Measure.MESSAGES, 5, Duration.ofSeconds(1)); // sub-buckets of 100 ms
        Limit perMinute = new Limit(Measure.MESSAGES, 50, Duration.ofMinutes(1));
        List<Charge> both = List.of(new Charge(perSecond, 1), new Charge(perMinute, 1));
        Ticket fromRedis = redis.acquire("k", both).ticket();
        Ticket fromMemory = memory.acquire("k", both).ticket();
        for (long step : new long[] {0, 99, 1, 5_000, 100_000}) {
            now.addAndGet(step);
            assertThat(redis.isCurrent(fromRedis)).as("after %d ms more", step).isEqualTo(memory.isCurrent(fromMemory));
        }
        assertThat(redis.isCurrent(Ticket.NONE)).isTrue();
        now.set(1_700_000_000_000L);
        assertThat(redis.isCurrent(fromRedis)).isTrue();
        now.addAndGet(100);
        assertThat(redis.isCurrent(fromRedis)).isFalse();
    }

    /**
     * On the Redis clock: unknown before the first quick reply (false: charge again); after one, a reservation in a
     * sub-bucket of 2.4 hours is current (unless this test straddles the edge of that sub-bucket). A reply slower
     * than the store's margin (a loaded machine) teaches nothing: the test asks again, up to 20 times.
     */
    @Test
    void aTicketIsCurrentOnTheRedisClockOnlyOnceThatClockIsKnown() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit daily = new Limit(Measure.MESSAGES, 100, Duration.ofDays(1));
        long window = daily.window().toMillis();
        Ticket other = new Ticket("k", List.of(new Ticket.Entry(daily.counterId(), window,
            SlidingWindow.bucketAt(System.currentTimeMillis(), window), 1)));
        assertThat(store.isCurrent(other)).as("no reply from Redis yet").isFalse();

        long before = SlidingWindow.bucketAt(System.currentTimeMillis(), window);
        LimitDecision decision = null;
        boolean current = false;
        for (int attempt = 0; attempt < 20 && !current; attempt++) {
            decision = store.acquire("k", List.of(new Charge(daily, 1)));
            assertAdmitted(decision);
            current = store.isCurrent(decision.ticket());
        }
        long after = SlidingWindow.bucketAt(System.currentTimeMillis(), window);
        assumeTrue(before == after, "the test straddled the edge of a sub-bucket");
        assertThat(current).isTrue();
        Ticket earlier = new Ticket("k", List.of(new Ticket.Entry(daily.counterId(), window,
            decision.ticket().entries().get(0).bucket() - 1, 1)));
        assertThat(store.isCurrent(earlier)).isFalse();
    }

    /** A clock that steps back (a fail-over to a Redis whose clock is behind) never frees what was counted. */
    @Test
    void aClockSteppingBackCountsFromTheNewestSubBucket() {
        AtomicLong now = new AtomicLong(1_700_000_000_000L);
        RedisLimiterStore store = store(TIMEOUT, now::get);
        Limit limit = new Limit(Measure.MESSAGES, 2, Duration.ofSeconds(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        assertThat(store.acquire("k", one).isAdmitted()).isTrue();
        assertThat(store.acquire("k", one).isAdmitted()).isTrue();
        now.addAndGet(-60_000);
        LimitDecision refused = store.acquire("k", one);
        assertThat(refused.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(store.usage("k", List.of(limit))).containsEntry(limit, 2L);
    }

    /**
     * What one decision costs Redis, counted by Redis itself (INFO commandstats): acquire is TIME, HMGET and HSET,
     * plus PEXPIRE and DEL on a key's first decision only (DEL: a key without the expiry field may be left by an
     * older RelayGuard); estimate and usage are TIME and HMGET; release is HMGET and HSET.
     */
    @Test
    void redisCallsPerDecision() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit perMinute = new Limit(Measure.MESSAGES, 1_000, Duration.ofMinutes(1));
        Limit perDay = new Limit(Measure.MESSAGES, 1_000, Duration.ofDays(1));
        List<Charge> charges = List.of(new Charge(perMinute, 1), new Charge(perDay, 1));
        assertAdmitted(store.acquire("warm-up", charges));
        RedisCommands<String, String> raw = rawCommands();
        raw.configResetstat();

        assertAdmitted(store.acquire("k", charges)); // the key's first decision
        assertThat(scriptCalls(raw)).containsOnly(entry("time", 1L), entry("hmget", 1L), entry("del", 1L),
            entry("hset", 1L), entry("pexpire", 1L));
        raw.configResetstat();
        LimitDecision last = null;
        for (int i = 0; i < 10; i++) {
            last = store.acquire("k", charges);
            assertAdmitted(last);
        }
        assertThat(scriptCalls(raw)).containsOnly(entry("time", 10L), entry("hmget", 10L), entry("hset", 10L));
        raw.configResetstat();
        assertAdmitted(store.estimate("k", charges));
        store.usage("k", List.of(perMinute, perDay));
        assertThat(scriptCalls(raw)).containsOnly(entry("time", 2L), entry("hmget", 2L));
        raw.configResetstat();
        store.release(last.ticket());
        assertThat(scriptCalls(raw)).containsOnly(entry("hmget", 1L), entry("hset", 1L));
        assertThat(store.usage("k", List.of(perMinute, perDay))).containsEntry(perMinute, 10L).containsEntry(perDay, 10L);
    }

    /** {@link #commandCalls} but the scripts themselves, the test's own commands and the marker check's GET and SET. */
    private static Map<String, Long> scriptCalls(RedisCommands<String, String> raw) {
        Map<String, Long> calls = commandCalls(raw);
        calls.keySet().removeIf(command -> command.startsWith("eval") || command.startsWith("config")
            || command.equals("info") || command.equals("get") || command.equals("set"));
        return calls;
    }

    /**
     * A key in the layout of RelayGuard before issue 17 (two fields per slot, "<id>:<s>:b" and "<id>:<s>:n"), left
     * by a node not yet upgraded: the upgraded node starts its counters again (the old fields are dropped on the
     * key's first decision) and keeps its own from then on.
     */
    @Test
    void aKeyInTheOldLayoutStartsAgain() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 2, Duration.ofMinutes(1));
        RedisCommands<String, String> raw = rawCommands();
        String key = RedisLimiterStore.redisKey("user:old@example.com");
        long bucket = System.currentTimeMillis() / 6_000;
        raw.hset(key, Map.of("m60000:" + bucket % 11 + ":b", Long.toString(bucket), "m60000:" + bucket % 11 + ":n", "2"));
        raw.pexpire(key, 132_000);

        assertThat(store.usage("user:old@example.com", List.of(limit))).containsEntry(limit, 0L);
        assertAdmitted(store.acquire("user:old@example.com", List.of(new Charge(limit, 1))));
        assertThat(raw.hkeys(key)).containsExactlyInAnyOrder("m60000:t", "x");
        assertThat(raw.pttl(key)).isPositive();
        assertAdmitted(store.acquire("user:old@example.com", List.of(new Charge(limit, 1))));
        assertThat(store.acquire("user:old@example.com", List.of(new Charge(limit, 1))).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
    }

    /**
     * A counter in the packed layout before the running total (field "m60000", 63 bytes: the newest sub-bucket and
     * 11 amounts), left by a node not yet upgraded: never read (it would be misread as a total), the upgraded node
     * counts in its own field and leaves the old one to the old node.
     */
    @Test
    void aCounterWithoutItsTotalIsNotRead() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 2, Duration.ofMinutes(1));
        RedisCommands<String, String> raw = rawCommands();
        String key = RedisLimiterStore.redisKey("user:old@example.com");
        long bucket = System.currentTimeMillis() / 6_000;
        raw.eval("redis.call('HSET', KEYS[1], 'm60000', struct.pack('<dI5I5I5I5I5I5I5I5I5I5I5', tonumber(ARGV[1]), 2,"
            + " 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 'x', ARGV[2]) return 1", ScriptOutputType.INTEGER, new String[] {key},
            Long.toString(bucket), Long.toString(System.currentTimeMillis() + 600_000));
        byte[] old = rawHash(key).get("m60000");
        assertThat(old).hasSize(63);

        assertThat(store.usage("user:old@example.com", List.of(limit))).containsEntry(limit, 0L);
        assertAdmitted(store.acquire("user:old@example.com", List.of(new Charge(limit, 1))));
        assertAdmitted(store.acquire("user:old@example.com", List.of(new Charge(limit, 1))));
        assertThat(store.acquire("user:old@example.com", List.of(new Charge(limit, 1))).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        Map<String, byte[]> fields = rawHash(key);
        assertThat(fields).containsOnlyKeys("m60000", "m60000:t", "x");
        assertThat(fields.get("m60000")).isEqualTo(old);
        assertThat(unpack(fields.get("m60000:t"))[1]).as("the total").isEqualTo(2);
    }

    // ----- one round trip per decision -----

    @Test
    void oneEvalshaPerDecision() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit a = new Limit(Measure.MESSAGES, 3, Duration.ofSeconds(10));
        Limit b = new Limit(Measure.RECIPIENTS, 100, Duration.ofMinutes(1));
        List<Charge> both = List.of(new Charge(a, 1), new Charge(b, 1));
        assertThat(store.acquire("warm-up", both).isAdmitted()).isTrue();

        RedisCommands<String, String> raw = rawCommands();
        raw.configResetstat();
        List<LimitDecision> decisions = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            decisions.add(store.acquire("k", both));
        }
        assertThat(decisions).filteredOn(LimitDecision::isAdmitted).hasSize(3);
        Map<String, Long> calls = commandCalls(raw);
        assertThat(calls).containsEntry("evalsha", 10L).doesNotContainKeys("eval", "script");
        // Inside the scripts: TIME and HMGET each time, HSET only for the 3 admitted (redisCallsPerDecision).
        assertThat(calls).containsEntry("time", 10L).containsEntry("hmget", 10L).containsEntry("hset", 3L);

        store.release(decisions.get(0).ticket());
        assertThat(commandCalls(raw)).containsEntry("evalsha", 11L);

        // Redis lost its script cache (SCRIPT FLUSH, or a restart): EVAL once, then EVALSHA again.
        raw.scriptFlush();
        raw.configResetstat();
        assertThat(store.acquire("k", both).isAdmitted()).isTrue();
        assertThat(store.acquire("k", both).isAdmitted()).isFalse();
        assertThat(commandCalls(raw)).containsEntry("eval", 1L).containsEntry("evalsha", 2L);
    }

    /** INFO commandstats as command name to number of calls. */
    private static Map<String, Long> commandCalls(RedisCommands<String, String> raw) {
        Map<String, Long> calls = new HashMap<>();
        for (String line : raw.info("commandstats").split("\r?\n")) {
            if (line.startsWith("cmdstat_")) {
                String name = line.substring("cmdstat_".length(), line.indexOf(':'));
                String stats = line.substring(line.indexOf(':') + 1);
                long count = Long.parseLong(Arrays.stream(stats.split(","))
                    .filter(s -> s.startsWith("calls=")).findFirst().orElseThrow().substring("calls=".length()));
                calls.put(name, count);
            }
        }
        return calls;
    }

    // ----- 6. Redis goes away and comes back -----

    @Test
    void survivesARedisRestart() throws Exception {
        ListAppender<ILoggingEvent> logs = captureLogs();
        RedisLimiterStore store = store(SHORT_TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 100, Duration.ofSeconds(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        assertThat(store.acquire("k", one).isAdmitted()).isTrue();

        server.stop();
        for (int i = 0; i < 3; i++) {
            long started = System.nanoTime();
            LimitDecision decision = store.acquire("k", one);
            assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
            assertThat(decision.failure()).startsWith("redis 127.0.0.1:" + port);
            assertThat(elapsedMillis(started)).isLessThan(NOT_HANGING_MILLIS);
        }
        store.release(new Ticket("k", List.of(new Ticket.Entry("m10000", 10_000, 1, 1)))); // does not throw
        assertThatThrownBy(() -> store.usage("k", List.of(limit))).isInstanceOf(IllegalStateException.class);

        server = startRedis(port); // a new process: empty, and its script cache too
        assertThat(rawCommands().scriptExists(RedisScript.resource("acquire.lua").sha())).containsExactly(false);
        LimitDecision back = pollUntilAdmitted(() -> store.acquire("k", one));
        assertThat(back.isAdmitted()).isTrue();
        assertThat(commandCalls(rawCommands())).containsKey("eval");
        assertThat(store.usage("k", List.of(limit))).containsEntry(limit, 1L);

        assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.WARN).hasSize(1);
        assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.INFO).hasSize(1);
    }

    // ----- 7. Redis is down when the store is created -----

    @Test
    void connectsOnceRedisIsUp() throws Exception {
        server.stop();
        RedisLimiterStore store = store(SHORT_TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 100, Duration.ofSeconds(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        for (int i = 0; i < 3; i++) {
            long started = System.nanoTime();
            LimitDecision decision = store.acquire("k", one);
            assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
            assertThat(elapsedMillis(started)).isLessThan(NOT_HANGING_MILLIS);
            Thread.sleep(400);
        }
        server = startRedis(port);
        assertAdmitted(pollUntilAdmitted(() -> store.acquire("k", one)));
        assertThat(store.acquire("k", one).isAdmitted()).isTrue();
    }

    // ----- Redis answers too slowly -----

    @Test
    void answersWithinTheTimeoutWhenRedisStalls() throws Exception {
        RedisLimiterStore store = store(SHORT_TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 100, Duration.ofSeconds(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        assertThat(store.acquire("k", one).isAdmitted()).isTrue();

        rawCommands().clientPause(1_500); // every client's commands wait 1.5 s
        long started = System.nanoTime();
        LimitDecision decision = store.acquire("k", one);
        long elapsed = elapsedMillis(started);
        assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
        assertThat(decision.failure()).contains("no answer within 300 ms");
        assertThat(elapsed).isLessThan(NOT_HANGING_MILLIS);
        assertAdmitted(pollUntilAdmitted(() -> store.acquire("k", one)));
    }

    @Test
    void closedStoreFailsWithoutThrowing() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 100, Duration.ofSeconds(10));
        store.close();
        store.close();
        assertThat(store.acquire("k", List.of(new Charge(limit, 1))).kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
        store.release(new Ticket("k", List.of(new Ticket.Entry("m10000", 10_000, 1, 1))));
    }

    @Test
    void readsUrls() {
        assertThat(RedisLimiterStore.parseUris("redis://10.0.0.1:6380", false, TIMEOUT)).hasSize(1);
        assertThat(RedisLimiterStore.parseUris(" redis://a:7000, redis://b:7001,c:7002 ", true, TIMEOUT))
            .extracting(RedisURI::getHost).containsExactly("a", "b", "c");
        assertThatThrownBy(() -> RedisLimiterStore.parseUris("redis://a:7000,redis://b:7001", false, TIMEOUT))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new RedisLimiterStore("redis://127.0.0.1:6379", false, Duration.ZERO))
            .isInstanceOf(IllegalArgumentException.class);
    }

    // ----- Redis Cluster (one node holding every slot) -----

    @Test
    void worksAgainstARedisCluster() throws Exception {
        int clusterPort = startRedisOnAFreePort("cluster-enabled yes", "cluster-config-file nodes-%d.conf").ports().get(0);
        RedisCommands<String, String> raw = rawCommands(clusterPort);
        raw.clusterAddSlots(IntStream.range(0, 16384).toArray());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!raw.clusterInfo().contains("cluster_state:ok") && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(raw.clusterInfo()).contains("cluster_state:ok");

        RedisLimiterStore store = track(new RedisLimiterStore("redis://127.0.0.1:" + clusterPort, true, TIMEOUT));
        Limit limit = new Limit(Measure.MESSAGES, 2, Duration.ofSeconds(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        assertAdmitted(pollUntilAdmitted(() -> store.acquire("user:alice@example.com", one)));
        LimitDecision second = store.acquire("user:alice@example.com", one);
        assertThat(second.isAdmitted()).isTrue();
        assertThat(store.acquire("user:alice@example.com", one).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        store.release(second.ticket());
        assertThat(store.usage("user:alice@example.com", List.of(limit))).containsEntry(limit, 1L);
        assertThat(raw.keys("relayguard:{*")).as("the marker aside").containsExactly("relayguard:{user:alice@example.com}");
        store.reset("user:alice@example.com");
        assertThat(raw.keys("relayguard:{*")).isEmpty();
    }

    // ----- a decision that timed out never charges later; counters lost behind our back are noticed -----

    /**
     * Redis paused with SIGSTOP while decisions are asked: each one fails at the timeout, and their EVALSHAs stay in
     * Redis's socket. When Redis resumes it runs them, past their deadline: nothing is counted (issue 11).
     */
    @Test
    void decisionsThatTimedOutAreNotChargedWhenAPausedRedisResumes() throws Exception {
        RedisLimiterStore store = store(SHORT_TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 5, Duration.ofMinutes(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        assertAdmitted(pollUntilAdmitted(() -> store.acquire("user:paused", one)));
        // What counts before the pause: 1, or more when a reply to the warm-up came back after our timeout on a
        // loaded machine (the script ran in time; the promise is about scripts that start too late).
        long before = pollUsage(store, "user:paused", limit).get(limit);
        long pid = redisPid(rawCommands());

        signal("STOP", pid);
        try {
            for (int i = 0; i < 5; i++) {
                LimitDecision decision = store.acquire("user:paused", one);
                assertThat(decision.kind()).as("decision %d while paused", i).isEqualTo(LimitDecision.Kind.STORE_FAILED);
                assertThat(decision.failure()).contains("no answer within 300 ms");
            }
        } finally {
            signal("CONT", pid);
        }
        // The same connection: Redis answers this after the five scripts it had queued.
        Map<Limit, Long> usage = pollUsage(store, "user:paused", limit);
        assertThat(usage).as("nothing counted while paused").containsEntry(limit, before);
        for (long i = before + 1; i <= 5; i++) {
            assertThat(store.acquire("user:paused", one).kind()).as("acquisition %d", i).isEqualTo(LimitDecision.Kind.ADMITTED);
        }
        assertThat(store.acquire("user:paused", one).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
    }

    /** CLIENT PAUSE (the commands wait inside Redis, then run): same promise. */
    @Test
    void aStalledDecisionIsNotChargedWhenRedisRunsItLate() throws Exception {
        RedisLimiterStore store = store(SHORT_TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 100, Duration.ofMinutes(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        assertAdmitted(pollUntilAdmitted(() -> store.acquire("k", one)));
        long before = pollUsage(store, "k", limit).get(limit); // 1, or more after a late reply on a loaded machine
        rawCommands().clientPause(1_000);
        assertThat(store.acquire("k", one).kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
        assertThat(store.acquire("k", one).kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
        assertThat(pollUsage(store, "k", limit)).containsEntry(limit, before);
    }

    /** A wrong idea of the Redis clock (Redis far ahead): the first answer says "expired" in time; learnt, retried. */
    @Test
    void learnsTheRedisClockWhenItsEstimateIsWrong() {
        RedisLimiterStore store = store(TIMEOUT);
        Limit limit = new Limit(Measure.MESSAGES, 5, Duration.ofMinutes(10));
        List<Charge> one = List.of(new Charge(limit, 1));
        store.assumeClockOffset(-3_600_000); // we believe Redis is an hour behind: every deadline would be past
        assertAdmitted(store.acquire("k", one));
        assertThat(Math.abs(store.clockOffsetMillis())).isLessThan(1_000);
        assertThat(store.usage("k", List.of(limit))).containsEntry(limit, 1L);
    }

    @Test
    void noticesFlushallAndARestartWithoutPersistenceOncePerIncident() throws Exception {
        ListAppender<ILoggingEvent> logs = captureLogs();
        RedisLimiterStore store = store(TIMEOUT);
        AtomicInteger notified = new AtomicInteger();
        store.onCountersReset(notified::incrementAndGet);
        Limit limit = new Limit(Measure.MESSAGES, 5, Duration.ofSeconds(30));
        List<Charge> one = List.of(new Charge(limit, 1));
        assertAdmitted(pollUntilAdmitted(() -> store.acquire("k", one)));
        RedisCommands<String, String> raw = rawCommands();
        pollUntil(() -> raw.exists(RedisLimiterStore.MARKER_KEY) == 1, "the marker is created");
        store.checkMarker(); // the value is known
        assertThat(store.countersIntact()).isTrue();
        assertThat(store.countersResetNote()).isEmpty();

        raw.flushall();
        // the store's own schedule may be the one that notices: it counts, logs, then runs the listeners
        pollUntil(() -> store.countersResets() == 1 && notified.get() >= 1, "FLUSHALL is noticed");
        store.checkMarker();
        store.checkMarker();
        assertThat(store.countersResets()).isEqualTo(1);
        assertThat(notified.get()).isEqualTo(1);
        assertThat(store.countersIntact()).as("under-counting for the longest window").isFalse();
        assertThat(store.countersResetNote()).contains("every rate-limit counter was lost");
        assertThat(logs.list.stream().filter(e -> e.getLevel() == Level.WARN)
            .map(ILoggingEvent::getFormattedMessage).filter(m -> m.contains("lost every rate-limit counter")))
            .hasSize(1);

        server.stop();
        server.start(); // no persistence: empty again
        pollUntil(() -> store.countersResets() == 2 && notified.get() >= 2, "the restart without persistence is noticed");
        assertThat(notified.get()).isEqualTo(2);
    }

    private static long redisPid(RedisCommands<String, String> raw) {
        for (String line : raw.info("server").split("\\r?\\n")) {
            if (line.startsWith("process_id:")) {
                return Long.parseLong(line.substring("process_id:".length()).trim());
            }
        }
        throw new IllegalStateException("no process_id in INFO server");
    }

    private static void signal(String signal, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).as("kill -%s %d", signal, pid).isZero();
    }

    private static Map<Limit, Long> pollUsage(RedisLimiterStore store, String key, Limit limit) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try {
                return store.usage(key, List.of(limit));
            } catch (IllegalStateException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    private static void pollUntil(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("in time: %s", what).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    // ----- helpers -----

    private RedisLimiterStore store(Duration timeout) {
        return track(new RedisLimiterStore("redis://127.0.0.1:" + port, false, timeout));
    }

    private RedisLimiterStore store(Duration timeout, java.util.function.LongSupplier clock) {
        return track(new RedisLimiterStore("redis://127.0.0.1:" + port, false, timeout, clock));
    }

    private <T extends AutoCloseable> T track(T closeable) {
        closeables.add(closeable);
        return closeable;
    }

    private RedisCommands<String, String> rawCommands() {
        return rawCommands(port);
    }

    /** A hash as Redis holds it (the packed counters are bytes, not text). */
    private Map<String, byte[]> rawHash(String key) {
        RedisClient client = RedisClient.create(RedisURI.create("redis://127.0.0.1:" + port));
        try (StatefulRedisConnection<byte[], byte[]> connection = client.connect(ByteArrayCodec.INSTANCE)) {
            Map<String, byte[]> fields = new HashMap<>();
            connection.sync().hgetall(key.getBytes(StandardCharsets.UTF_8))
                .forEach((field, value) -> fields.put(new String(field, StandardCharsets.UTF_8), value));
            return fields;
        } finally {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }
    }

    private RedisCommands<String, String> rawCommands(int redisPort) {
        RedisClient client = RedisClient.create(RedisURI.create("redis://127.0.0.1:" + redisPort));
        StatefulRedisConnection<String, String> connection = client.connect();
        closeables.add(() -> {
            connection.close();
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        });
        return connection.sync();
    }

    private RedisServer startRedis(int redisPort, String... settings) throws IOException {
        var builder = RedisServer.newRedisServer()
            .bind("127.0.0.1")
            .port(redisPort)
            .setting("save \"\"")
            .setting("appendonly no");
        for (String setting : settings) {
            builder.setting(setting);
        }
        RedisServer redis = builder.build();
        servers.add(redis);
        redis.start();
        return redis;
    }

    /**
     * A redis-server on a port that was free a moment ago; another process may take it in between (redis-server
     * cannot bind port 0: 0 means no TCP at all), so a failed start is tried again on another port.
     * A {@code %d} in a setting is replaced by the port.
     */
    private RedisServer startRedisOnAFreePort(String... settings) throws IOException {
        for (int attempt = 1; ; attempt++) {
            int candidate = freePort();
            String[] withPort = Arrays.stream(settings).map(setting -> setting.replace("%d", Integer.toString(candidate)))
                .toArray(String[]::new);
            try {
                return startRedis(candidate, withPort);
            } catch (IOException | RuntimeException e) {
                if (attempt == 5) {
                    throw e;
                }
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static long elapsedMillis(long startedNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos);
    }

    private static void assertAdmitted(LimitDecision decision) {
        assertThat(decision.kind()).as("%s", decision).isEqualTo(LimitDecision.Kind.ADMITTED);
    }

    private static LimitDecision pollUntilAdmitted(Supplier<LimitDecision> call) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        LimitDecision decision = call.get();
        while (!decision.isAdmitted() && System.nanoTime() < deadline) {
            Thread.sleep(100);
            decision = call.get();
        }
        return decision;
    }

    /** The store's own log lines; logback is the SLF4J binding of the tests (through James), or the test fails. */
    private ListAppender<ILoggingEvent> captureLogs() {
        assertThat(LoggerFactory.getLogger(RedisLimiterStore.class)).isInstanceOf(ch.qos.logback.classic.Logger.class);
        ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(RedisLimiterStore.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        closeables.add(() -> logger.detachAppender(appender));
        return appender;
    }
}
