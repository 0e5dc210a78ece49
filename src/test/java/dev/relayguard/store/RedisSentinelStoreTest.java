package dev.relayguard.store;

import static dev.relayguard.store.RedisClusterStoreTest.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.Measure;

/**
 * A standalone master watched by Sentinel ({@code redis-sentinel://sentinel:port#mymaster}): Debian's redis-server
 * as master (and replica), one {@code redis-server --sentinel} with a config file monitoring it.
 */
@Tag("slow") // still run by mvn test and CI; quick runs skip it with -DexcludedGroups=slow
class RedisSentinelStoreTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(2);
    private static final Limit LIMIT = new Limit(Measure.MESSAGES, 100, Duration.ofMinutes(10));

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeAll
    static void quietLettuce() {
        ((Logger) LoggerFactory.getLogger("io.lettuce")).setLevel(Level.WARN);
        ((Logger) LoggerFactory.getLogger("io.netty")).setLevel(Level.WARN);
    }

    @AfterEach
    void closeEverything() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closing(T closeable) {
        closeables.add(closeable);
        return closeable;
    }

    private RedisServerProcess sentinel(RedisServerProcess master, String... extraConfig) {
        List<String> config = new ArrayList<>(List.of("sentinel monitor mymaster 127.0.0.1 " + master.port() + " 1",
            "sentinel down-after-milliseconds mymaster 1000", "sentinel failover-timeout mymaster 5000"));
        config.addAll(List.of(extraConfig));
        return closing(RedisServerProcess.builder().configLines(config.toArray(new String[0])).args("--sentinel").start());
    }

    @Test
    void theStoreWorksThroughTheSentinel() {
        RedisServerProcess master = closing(RedisServerProcess.start());
        RedisServerProcess sentinel = sentinel(master);
        assertThat(sentinel.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")).isEqualTo("127.0.0.1\n" + master.port());

        RedisLimiterStore store = closing(new RedisLimiterStore("redis-sentinel://127.0.0.1:" + sentinel.port() + "#mymaster",
            false, TIMEOUT));
        assertThat(store.description()).isEqualTo("mymaster via sentinel 127.0.0.1:" + sentinel.port());
        RedisAuthStoreTest.everyOperationWorks(store);
        assertThat(master.cli("EXISTS", RedisLimiterStore.redisKey("alice@example.com"))).isEqualTo("1");
    }

    @Test
    void thePasswordInTheURLIsTheMasters() {
        RedisServerProcess master = closing(RedisServerProcess.builder().args("--requirepass", "master-pw").cliArgs("-a", "master-pw").start());
        RedisServerProcess sentinel = sentinel(master, "sentinel auth-pass mymaster master-pw");

        RedisLimiterStore store = closing(new RedisLimiterStore("redis-sentinel://:master-pw@127.0.0.1:" + sentinel.port()
            + "#mymaster", false, TIMEOUT));
        assertThat(store.acquire("erin@example.com", List.of(new Charge(LIMIT, 1))).isAdmitted()).isTrue();
        assertThat(master.cli("EXISTS", RedisLimiterStore.redisKey("erin@example.com"))).isEqualTo("1");
    }

    @Test
    void severalSentinelsTheFirstDown() {
        RedisServerProcess master = closing(RedisServerProcess.start());
        RedisServerProcess sentinel = sentinel(master);
        RedisServerProcess gone = closing(RedisServerProcess.start());
        int deadPort = gone.port();
        gone.close();

        RedisLimiterStore store = closing(new RedisLimiterStore("redis-sentinel://127.0.0.1:" + deadPort + ",127.0.0.1:"
            + sentinel.port() + "#mymaster", false, TIMEOUT));
        awaitTrue(() -> store.acquire("bob@example.com", List.of(new Charge(LIMIT, 1))).isAdmitted(), "a decision through the second sentinel");
        assertThat(master.cli("EXISTS", RedisLimiterStore.redisKey("bob@example.com"))).isEqualTo("1");
    }

    @Test
    void afterAFailoverTheStoreFollowsTheNewMasterWithoutRestart() {
        RedisServerProcess master = closing(RedisServerProcess.start());
        RedisServerProcess replica = closing(RedisServerProcess.start("--replicaof", "127.0.0.1", Integer.toString(master.port())));
        awaitTrue(() -> replica.cli("INFO", "replication").contains("master_link_status:up"), "the replica in sync");
        RedisServerProcess sentinel = sentinel(master);
        awaitTrue(() -> sentinel.cli("SENTINEL", "REPLICAS", "mymaster").contains(Integer.toString(replica.port())),
            "the sentinel knows the replica");
        RedisLimiterStore store = closing(new RedisLimiterStore("redis-sentinel://127.0.0.1:" + sentinel.port() + "#mymaster",
            false, TIMEOUT));
        assertThat(store.acquire("carol@example.com", List.of(new Charge(LIMIT, 1))).isAdmitted()).isTrue();

        // The sentinel refuses (NOGOODSLAVE) until it has the replica's own INFO (every 10 s): ask until it starts.
        awaitTrue(() -> sentinel.cli("SENTINEL", "FAILOVER", "mymaster").equals("OK"), "the fail-over started", 60);
        awaitTrue(() -> sentinel.cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").endsWith("\n" + replica.port()),
            "the replica promoted", 30);
        awaitTrue(() -> replica.cli("ROLE").startsWith("master"), "the replica is master");
        // Until the sentinel has turned the old master into a replica, it still takes writes (the failover window
        // of asynchronous replication: what it takes then is lost when it resyncs).
        awaitTrue(() -> master.cli("ROLE").startsWith("slave"), "the old master demoted", 30);

        awaitTrue(() -> store.acquire("dave@example.com", List.of(new Charge(LIMIT, 1))).isAdmitted(),
            "a decision on the new master", 30);
        assertThat(replica.cli("EXISTS", RedisLimiterStore.redisKey("dave@example.com"))).isEqualTo("1");
    }
}
