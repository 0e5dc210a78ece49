package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.SlidingWindow;
import dev.relayguard.limit.Ticket;
import redis.embedded.RedisServer;

/**
 * {@link RedisLimiterStore#isCurrent}: a reservation stays current while "now" is in the sub-bucket it counted in,
 * like the memory store's, without a Redis call; so the end of DATA keeps its reservations instead of giving them
 * back and counting again (two round trips). Real redis-server (embedded-redis 6.2) on a free loopback port.
 */
@Tag("slow")
class RedisReservationCurrentTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(2);
    private RedisServer server;
    private int port;

    @BeforeEach
    void startRedis() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        server = RedisServer.newRedisServer().bind("127.0.0.1").port(port)
            .setting("save \"\"").setting("appendonly no").build();
        server.start();
    }

    @AfterEach
    void stopRedis() throws IOException {
        server.stop();
    }

    @Test
    void currentUntilTheClockLeavesTheSubBucketExactlyLikeTheMemoryStore() {
        AtomicLong clock = new AtomicLong(1_000_000_000_000L);
        Limit limit = new Limit(Measure.MESSAGES, 5, Duration.ofMinutes(10)); // sub-buckets of 60 s
        List<Charge> one = List.of(new Charge(limit, 1));
        long width = SlidingWindow.width(limit.window().toMillis());
        clock.set((clock.get() / width) * width + 1); // 1 ms into a sub-bucket
        try (RedisLimiterStore redis = new RedisLimiterStore("redis://127.0.0.1:" + port, false, TIMEOUT, clock::get)) {
            MemoryLimiterStore memory = new MemoryLimiterStore(100, clock::get);
            Ticket fromRedis = admitted(redis.acquire("k", one));
            Ticket fromMemory = admitted(memory.acquire("k", one));

            for (long step : new long[] {0, width - 2, 1}) { // +0, the last millisecond of the sub-bucket, the next one
                clock.addAndGet(step);
                assertThat(redis.isCurrent(fromRedis)).as("at +%d ms", clock.get() % width).isEqualTo(memory.isCurrent(fromMemory));
            }
            assertThat(redis.isCurrent(fromRedis)).isFalse();
        }
    }

    @Test
    void onTheRedisClockAFreshReservationIsCurrentAndAStaleOneIsNot() {
        Limit minute = new Limit(Measure.MESSAGES, 1000, Duration.ofHours(10)); // sub-buckets of an hour
        try (RedisLimiterStore redis = new RedisLimiterStore("redis://127.0.0.1:" + port, false, TIMEOUT)) {
            // The offset to the Redis clock is learnt from a quick reply (at most 200 ms here): on a loaded machine
            // the first ones may be slower, so a fresh reservation is current once such a reply came.
            Ticket ticket = null;
            boolean current = false;
            for (int attempt = 0; attempt < 50 && !current; attempt++) {
                ticket = admitted(redis.acquire("k", List.of(new Charge(minute, 1))));
                current = redis.isCurrent(ticket);
            }
            long width = SlidingWindow.width(minute.window().toMillis());
            long bucket = ticket.entries().get(0).bucket();
            long msIntoBucket = System.currentTimeMillis() - bucket * width; // this machine's clock is its Redis's
            if (msIntoBucket < width - 5_000) { // not within seconds of the end of the hour
                assertThat(current).isTrue();
            }
            Ticket stale = new Ticket("k", List.of(new Ticket.Entry(minute.counterId(), minute.window().toMillis(), bucket - 1, 1)));
            assertThat(redis.isCurrent(stale)).isFalse();
        }
    }

    @Test
    void withoutAnyReplyYetNothingIsCurrent() {
        Limit limit = new Limit(Measure.MESSAGES, 5, Duration.ofHours(10));
        try (RedisLimiterStore redis = new RedisLimiterStore("redis://127.0.0.1:" + port, false, TIMEOUT)) {
            long bucket = SlidingWindow.bucketAt(System.currentTimeMillis(), limit.window().toMillis());
            Ticket ticket = new Ticket("k", List.of(new Ticket.Entry(limit.counterId(), limit.window().toMillis(), bucket, 1)));
            assertThat(redis.isCurrent(ticket)).as("the Redis clock is not known yet").isFalse();
        }
    }

    private static Ticket admitted(LimitDecision decision) {
        assertThat(decision.isAdmitted()).as(decision.toString()).isTrue();
        return decision.ticket();
    }
}
