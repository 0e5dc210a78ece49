package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import redis.embedded.RedisServer;

/**
 * {@link RedisLimiterStore#estimate} ({@code estimate.lua}, which shares {@code decide.lua} with {@code acquire.lua})
 * against a real redis-server: the memory store's answers, and not one write.
 */
class RedisLimiterStoreEstimateTest {
    private static final Limit MESSAGES = new Limit(Measure.MESSAGES, 5, Duration.ofMinutes(1));
    private static final Limit BYTES = new Limit(Measure.BYTES, 100_000, Duration.ofHours(1));

    private static RedisServer server;
    private static int port;
    private static RedisClient rawClient;
    private static StatefulRedisConnection<String, String> rawConnection;

    @BeforeAll
    static void startRedis() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        server = RedisServer.newRedisServer().bind("127.0.0.1").port(port).setting("save \"\"").setting("appendonly no").build();
        server.start();
        rawClient = RedisClient.create(RedisURI.create("redis://127.0.0.1:" + port));
        rawConnection = rawClient.connect();
    }

    @AfterAll
    static void stopRedis() throws IOException {
        rawConnection.close();
        rawClient.shutdown();
        server.stop();
    }

    private static RedisCommands<String, String> raw() {
        return rawConnection.sync();
    }

    @Test
    void answersLikeTheMemoryStoreAndWritesNothing() {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        Random random = new Random(7);
        List<Limit> limits = List.of(MESSAGES, BYTES);
        try (RedisLimiterStore redis = new RedisLimiterStore("redis://127.0.0.1:" + port, false, Duration.ofSeconds(5), clock::get)) {
            MemoryLimiterStore memory = new MemoryLimiterStore(1000, clock::get);
            for (int step = 0; step < 300; step++) {
                clock.addAndGet(random.nextInt(5_000));
                String key = "estimate:" + random.nextInt(2);
                Limit limit = limits.get(random.nextInt(limits.size()));
                List<Charge> charges = List.of(new Charge(limit, 1 + random.nextInt((int) Math.min(limit.max(), 40_000))));
                String redisKey = RedisLimiterStore.redisKey(key);
                Object before = raw().dump(redisKey); // bytes: the counters are packed

                LimitDecision fromRedis = redis.estimate(key, charges);
                LimitDecision fromMemory = memory.estimate(key, charges);

                assertThat(raw().dump(redisKey)).as("step %d: nothing written", step).isEqualTo(before);
                assertThat(fromRedis.kind()).as("step %d", step).isEqualTo(fromMemory.kind());
                assertThat(fromRedis.limit()).isEqualTo(fromMemory.limit());
                assertThat(fromRedis.retryAfterMillis()).isEqualTo(fromMemory.retryAfterMillis());
                assertThat(fromRedis.never()).isEqualTo(fromMemory.never());
                assertThat(redis.acquire(key, charges).kind()).isEqualTo(memory.acquire(key, charges).kind()).isEqualTo(fromMemory.kind());
            }
        }
    }

    @Test
    void anUnknownKeyIsAdmittedWithoutCreatingIt() {
        try (RedisLimiterStore redis = new RedisLimiterStore("redis://127.0.0.1:" + port, false, Duration.ofSeconds(5))) {
            assertThat(redis.estimate("nobody", List.of(new Charge(MESSAGES, 1))).isAdmitted()).isTrue();
            assertThat(raw().exists(RedisLimiterStore.redisKey("nobody"))).isZero();
        }
    }

    @Test
    void aStoreThatCannotReachRedisAnswersAFailureAndDoesNotThrow() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        try (RedisLimiterStore redis = new RedisLimiterStore("redis://127.0.0.1:" + closedPort, false, Duration.ofMillis(300))) {
            LimitDecision decision = redis.estimate("k", List.of(new Charge(MESSAGES, 1)));

            assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
            assertThat(decision.failure()).isNotBlank();
        }
    }
}
