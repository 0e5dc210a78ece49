package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.lettuce.core.RedisURI;

/** How the store reads {@code redisURL} (the config check uses the same parser, see RedisURLConfigTest). */
class RedisURLParsingTest {

    @Test
    void bareClusterSeedsTakeTheFirstURLsSchemeCredentialsAndOptions() {
        List<RedisURI> uris = RedisLimiterStore.parseUris("rediss://relayguard:pw@10.0.0.1:7000?verifyPeer=NONE, 10.0.0.2:7001",
            true, Duration.ofMillis(700));

        assertThat(uris).hasSize(2);
        RedisURI second = uris.get(1);
        assertThat(second.getHost()).isEqualTo("10.0.0.2");
        assertThat(second.getPort()).isEqualTo(7001);
        assertThat(second.isSsl()).isTrue();
        assertThat(second.isVerifyPeer()).isFalse();
        assertThat(second.getUsername()).isEqualTo("relayguard");
        assertThat(new String(second.getPassword())).isEqualTo("pw");
        assertThat(second.getTimeout()).isEqualTo(Duration.ofMillis(700));
    }

    @Test
    void aSentinelURLIsOneURINamingEverySentinelAndTheMaster() {
        List<RedisURI> uris = RedisLimiterStore.parseUris("redis-sentinel://:pw@10.0.0.1:26379,10.0.0.2:26380#mymaster",
            false, Duration.ofSeconds(1));

        assertThat(uris).hasSize(1);
        assertThat(uris.get(0).getSentinelMasterId()).isEqualTo("mymaster");
        assertThat(uris.get(0).getSentinels()).extracting(RedisURI::getPort).containsExactly(26379, 26380);
        assertThat(new String(uris.get(0).getPassword())).isEqualTo("pw");
    }

    @Test
    void theStoreRefusesWhatTheConfigCheckRefusesWithoutThePassword() {
        String secret = "n0t-in-any-message";
        assertThatThrownBy(() -> new RedisLimiterStore("redis-sentinel://:" + secret + "@127.0.0.1:26379#mymaster", true,
                Duration.ofSeconds(1)))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("not for Redis Cluster")
            .satisfies(e -> assertThat(e.getMessage()).doesNotContain(secret));
        assertThatThrownBy(() -> new RedisLimiterStore("redis://:" + secret + "@a:1,redis://:" + secret + "@b:2", false,
                Duration.ofSeconds(1)))
            .isInstanceOf(IllegalArgumentException.class)
            .satisfies(e -> assertThat(e.getMessage()).doesNotContain(secret).contains("redis://:****@a:1"));
    }
}
