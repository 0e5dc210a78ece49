package dev.relayguard.store;

import static dev.relayguard.store.LocalRedis.NOT_HANGING_MILLIS;
import static dev.relayguard.store.LocalRedis.SHORT_TIMEOUT;
import static dev.relayguard.store.LocalRedis.TIMEOUT;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthLimits.Rule;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.AuthState.Block;
import dev.relayguard.core.AuthState.Failure;
import dev.relayguard.core.AuthState.Success;
import dev.relayguard.core.AuthStateContract;
import dev.relayguard.it.EmbeddedRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.SlotHash;
import redis.embedded.RedisServer;

/**
 * {@link RedisAuthState} keeps the {@link AuthStateContract} against a real redis-server (the 6.2 binary of
 * embedded-redis, on a free loopback port) on a fake clock; then what only Redis does: two nodes sharing it,
 * Redis TIME, keys that expire and share one cluster slot, a paused or stopped Redis.
 */
@Tag("slow") // still run by mvn test and CI; quick runs skip it with -DexcludedGroups=slow
class RedisAuthStateTest extends AuthStateContract {
    @RegisterExtension
    static final LocalRedis REDIS = new LocalRedis();

    @Override
    protected AuthState newState(AuthLimits limits, LongSupplier clock) {
        return new RedisAuthState(store(REDIS.url(), false, TIMEOUT), limits, clock);
    }

    // ----- two nodes, Redis TIME -----

    @Test
    void twoNodesOnOneRedisSeeEachOthersFailuresBansAndKnownClients() {
        AuthState nodeA = production(REDIS.url(), LIMITS);
        AuthState nodeB = production(REDIS.url(), LIMITS);
        long before = System.currentTimeMillis();

        assertThat(nodeA.recordFailure("192.0.2.1", "alice")).isSameAs(Failure.NOTHING);
        assertThat(nodeB.recordFailure("192.0.2.1", "alice")).isSameAs(Failure.NOTHING);
        Block ban = nodeA.recordFailure("192.0.2.1", "alice").banStarted();
        assertThat(nodeB.recordFailure("192.0.2.2", "alice").throttleStarted()).as("alice's 4th failure").isNotNull();

        assertThat(ban).as("the third failure, two of them on another node").isNotNull();
        assertThat(ban.untilMillis()).as("Redis TIME + 1 h").isGreaterThan(before + Duration.ofMinutes(59).toMillis());
        assertThat(nodeB.banOf("192.0.2.1").untilMillis()).isEqualTo(ban.untilMillis());
        assertThat(nodeB.bans()).extracting(Block::key).containsExactly("192.0.2.1");
        assertThat(nodeA.throttleOf("alice")).isNotNull();
        assertThat(nodeA.throttles()).extracting(Block::key).containsExactly("alice");
        assertThat(nodeA.recordSuccess("bob", "192.0.2.9").clientWasKnown()).isFalse();
        assertThat(nodeB.isKnownClient("bob", "192.0.2.9")).isTrue();
        Success again = nodeB.recordSuccess("bob", "192.0.2.9");
        assertThat(again.clientWasKnown()).isTrue();
        assertThat(nodeB.liftBan("192.0.2.1")).isTrue();
        assertThat(nodeA.banOf("192.0.2.1")).isNull();
        assertThat(nodeA.trackedClients()).isEqualTo(1); // 192.0.2.2
        assertThat(nodeB.trackedAccounts()).isEqualTo(1); // alice failing, bob known
        assertThat(nodeA.healthy()).isTrue();
    }

    // ----- keys: one slot, each expiring -----

    @Test
    void everyKeySitsInOneClusterSlotAndExpires() {
        AuthState state = state(LIMITS);
        for (int i = 0; i < 4; i++) {
            state.recordFailure("192.0.2.1", "alice");
        }
        state.recordFailure("192.0.2.2", "bob");
        state.recordSuccess("alice", "2001:db8::/64");

        List<String> keys = raw().keys(RedisLimiterStore.KEY_PREFIX + "auth:*");
        assertThat(keys).containsExactlyInAnyOrder(RedisAuthState.KEY_PREFIX + "bans", RedisAuthState.KEY_PREFIX + "throttles",
            RedisAuthState.KEY_PREFIX + "clients", RedisAuthState.KEY_PREFIX + "accounts", RedisAuthState.KEY_PREFIX + "known",
            RedisAuthState.KEY_PREFIX + "k:alice", RedisAuthState.KEY_PREFIX + "c:192.0.2.2", RedisAuthState.KEY_PREFIX + "a:bob",
            // spent failures stay (still recent for a later success) beside the mark of when they were spent
            RedisAuthState.KEY_PREFIX + "c:192.0.2.1", RedisAuthState.KEY_PREFIX + "cs:192.0.2.1",
            RedisAuthState.KEY_PREFIX + "a:alice", RedisAuthState.KEY_PREFIX + "as:alice");
        assertThat(keys.stream().map(SlotHash::getSlot).collect(Collectors.toSet())).hasSize(1);
        for (String key : keys) {
            assertThat(raw().pttl(key)).as("TTL of %s", key).isPositive();
        }
    }

    @Test
    void redisForgetsWhatNoLongerMatters() throws InterruptedException {
        Duration brief = Duration.ofMillis(300);
        AuthState state = production(REDIS.url(), new AuthLimits(3, new Rule(2, brief, brief), new Rule(2, brief, brief),
            2, brief, 3, Duration.ZERO, 100, 100));
        state.recordFailure("192.0.2.1", "alice");
        state.recordFailure("192.0.2.1", "alice");
        state.recordFailure("192.0.2.2", "bob");
        state.recordSuccess("carol", "192.0.2.3");
        assertThat(raw().keys(RedisLimiterStore.KEY_PREFIX + "auth:*")).isNotEmpty();

        pollUntil(() -> raw().keys(RedisLimiterStore.KEY_PREFIX + "auth:*").isEmpty(), "every AUTH key expired");
        assertThat(state.trackedClients()).isZero();
        assertThat(state.trackedAccounts()).isZero();
    }

    @Test
    void worksAgainstARedisCluster() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        RedisServer cluster = RedisServer.newRedisServer().bind("127.0.0.1").port(port).setting("save \"\"")
            .setting("appendonly no").setting("cluster-enabled yes").setting("cluster-config-file nodes-auth-" + port + ".conf")
            .build();
        cluster.start();
        REDIS.closeAfterTest(cluster::stop);
        RedisClient client = RedisClient.create(RedisURI.create("redis://127.0.0.1:" + port));
        StatefulRedisConnection<String, String> connection = client.connect();
        REDIS.closeAfterTest(() -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
        connection.sync().clusterAddSlots(IntStream.range(0, 16384).toArray());
        pollUntil(() -> connection.sync().clusterInfo().contains("cluster_state:ok"), "the cluster is up");

        AuthState state = new RedisAuthState(store("redis://127.0.0.1:" + port, true, TIMEOUT), LIMITS, now::get);
        pollUntil(() -> state.trackedClients() == 0, "the cluster answers");
        state.recordFailure("192.0.2.1", "alice");
        state.recordFailure("192.0.2.1", "alice");
        assertThat(state.recordFailure("192.0.2.1", "alice").banStarted()).isNotNull();
        assertThat(state.recordSuccess("alice", "192.0.2.7").recentFailures()).isEqualTo(3);
        assertThat(state.bans()).extracting(Block::key).containsExactly("192.0.2.1");
        assertThat(state.liftBan("192.0.2.1")).isTrue();
        assertThat(state.healthy()).isTrue();
    }

    // ----- Redis that does not answer -----

    @Test
    void aPausedRedisMeansNothingKnownWithinTheTimeoutThenRecovers() throws Exception {
        ListAppender<ILoggingEvent> logs = REDIS.captureLogs(RedisAuthState.class);
        RedisAuthState state = new RedisAuthState(store(REDIS.url(), false, SHORT_TIMEOUT), LIMITS);
        pollUntil(() -> state.trackedClients() == 0, "Redis answers");
        for (int i = 0; i < 3; i++) {
            state.recordFailure("192.0.2.1", "alice");
        }
        state.recordSuccess("bob", "192.0.2.5");
        assertThat(state.banOf("192.0.2.1")).isNotNull();
        logs.list.clear(); // from here on: the incident

        REDIS.paused(() -> {
            long started = System.nanoTime();
            assertThat(state.banOf("192.0.2.1")).isNull();
            assertThat(state.healthy()).isFalse();
            assertThat(state.throttleOf("alice")).isNull();
            assertThat(state.isKnownClient("bob", "192.0.2.5")).isFalse();
            assertThat(state.recordFailure("192.0.2.3", "carol")).isSameAs(Failure.NOTHING);
            assertThat(state.recordSuccess("bob", "192.0.2.5")).isSameAs(Success.UNKNOWN);
            assertThat(state.bans()).isEmpty();
            assertThat(state.trackedClients()).isEqualTo(-1);
            assertThat(state.liftThrottle("alice")).isFalse();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).as("nine calls, none hanging")
                .isLessThan(NOT_HANGING_MILLIS);
        });

        pollUntil(() -> state.banOf("192.0.2.1") != null, "Redis answers again");
        assertThat(state.healthy()).isTrue();
        assertThat(state.isKnownClient("bob", "192.0.2.5")).isTrue();
        assertThat(LocalRedis.messages(logs, Level.WARN)).hasSize(1).allMatch(m -> m.contains("no answer within 300 ms"));
        assertThat(LocalRedis.messages(logs, Level.INFO)).hasSize(1).allMatch(m -> m.contains("answers again"));
    }

    @Test
    void aStoppedRedisMeansNothingKnownThenARestartedOneIsUsedAgain() throws Exception {
        EmbeddedRedis own = EmbeddedRedis.started();
        REDIS.closeAfterTest(own::stop);
        RedisAuthState state = new RedisAuthState(store(own.url(), false, SHORT_TIMEOUT), LIMITS, now::get);
        pollUntil(() -> state.trackedClients() == 0, "Redis answers");

        own.stop();
        pollUntil(() -> !state.healthy() || state.trackedClients() == -1, "the stop is noticed");
        long started = System.nanoTime();
        assertThat(state.recordFailure("192.0.2.1", "alice")).isSameAs(Failure.NOTHING);
        assertThat(state.banOf("192.0.2.1")).isNull();
        assertThat(state.recordSuccess("alice", "192.0.2.1")).isSameAs(Success.UNKNOWN);
        assertThat(state.healthy()).isFalse();
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).isLessThan(NOT_HANGING_MILLIS);

        own.start();
        pollUntil(() -> state.trackedClients() == 0, "the restarted Redis answers");
        assertThat(state.healthy()).isTrue();
        state.recordFailure("192.0.2.1", "alice");
        state.recordFailure("192.0.2.1", "alice");
        assertThat(state.recordFailure("192.0.2.1", "alice").banStarted()).isNotNull();
    }

    @Test
    void aClosedStateAnswersNothingKnownAndLeavesTheStoreOpen() {
        RedisLimiterStore store = store(REDIS.url(), false, TIMEOUT);
        RedisAuthState state = new RedisAuthState(store, LIMITS, now::get);
        state.recordSuccess("alice", "192.0.2.1");

        state.close();

        assertThat(state.isKnownClient("alice", "192.0.2.1")).isFalse();
        assertThat(new RedisAuthState(store, LIMITS, now::get).isKnownClient("alice", "192.0.2.1")).isTrue();
    }

    // ----- helpers -----

    private RedisLimiterStore store(String url, boolean cluster, Duration timeout) {
        RedisLimiterStore store = new RedisLimiterStore(url, cluster, timeout);
        return REDIS.closeAfterTest(store);
    }

    /** As RelayGuard builds it: on Redis TIME. */
    private AuthState production(String url, AuthLimits limits) {
        return new RedisAuthState(store(url, false, TIMEOUT), limits);
    }

    private static RedisCommands<String, String> raw() {
        return REDIS.raw();
    }

    private static void pollUntil(BooleanSupplier condition, String what) throws InterruptedException {
        LocalRedis.pollUntil(condition, what);
    }
}
