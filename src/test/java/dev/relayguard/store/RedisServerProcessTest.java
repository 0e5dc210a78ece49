package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The test helpers themselves, against Debian's redis-server. */
@Tag("slow")
class RedisServerProcessTest {

    @Test
    void startsOnAFreeLoopbackPortWithoutPersistence() {
        try (RedisServerProcess redis = RedisServerProcess.start()) {
            assertThat(redis.url()).isEqualTo("redis://127.0.0.1:" + redis.port());
            assertThat(redis.cli("PING")).isEqualTo("PONG");
            assertThat(redis.cli("CONFIG", "GET", "save")).isEqualTo("save");
            assertThat(redis.cli("CONFIG", "GET", "appendonly")).isEqualTo("appendonly\nno");
            assertThat(redis.cli("CONFIG", "GET", "bind")).isEqualTo("bind\n127.0.0.1");
            assertThat(redis.cli("INFO", "server")).contains("process_id:" + redis.pid());
        }
    }

    @Test
    void killedThenRestartedOnTheSamePort() {
        try (RedisServerProcess redis = RedisServerProcess.start()) {
            int port = redis.port();
            redis.cli("SET", "k", "v");
            redis.kill("KILL");
            assertThat(redis.isAlive()).isFalse();
            redis.restart();
            assertThat(redis.port()).isEqualTo(port);
            assertThat(redis.cli("GET", "k")).as("nothing persisted").isEmpty();
        }
    }

    @Test
    void stoppedAndContinued() {
        try (RedisServerProcess redis = RedisServerProcess.start()) {
            redis.kill("STOP");
            assertThatThrownBy(() -> RedisServerProcess.run(List.of(RedisServerProcess.binary("redis-cli"), "-p",
                Integer.toString(redis.port()), "-t", "1", "PING"), 500)).isInstanceOf(IllegalStateException.class);
            redis.kill("CONT");
            assertThat(redis.cli("PING")).isEqualTo("PONG");
        }
    }

    @Test
    void passesOptionsThrough() {
        try (RedisServerProcess redis = RedisServerProcess.builder().args("--requirepass", "s3cret")
                .cliArgs("-a", "s3cret").start()) {
            assertThat(redis.cli("PING")).isEqualTo("PONG");
            assertThat(redis.cli("CONFIG", "GET", "requirepass")).isEqualTo("requirepass\ns3cret");
        }
    }

    @Test
    void aClusterOfThreeMasters() {
        try (RedisClusterProcess cluster = RedisClusterProcess.start()) {
            assertThat(cluster.nodes()).hasSize(3);
            for (RedisServerProcess node : cluster.nodes()) {
                assertThat(node.cli("CLUSTER", "INFO")).contains("cluster_state:ok", "cluster_size:3");
            }
            assertThat(cluster.url().split(",")).hasSize(3).allMatch(url -> url.startsWith("redis://127.0.0.1:"));
            assertThat(List.of(cluster.nodeOf("a"), cluster.nodeOf("b"), cluster.nodeOf("c"))).as("a, b, c spread").doesNotHaveDuplicates();
        }
    }
}
