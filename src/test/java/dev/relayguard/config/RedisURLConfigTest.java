package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.store.RedisLimiterStore;

/**
 * The Redis URL forms of {@code <rateLimits>}: Sentinel (standalone only), cluster seeds, AUTH and TLS; the config
 * check and the store read them with one parser ({@link RedisLimiterStore#checkURL}), and no password ever shows.
 */
class RedisURLConfigTest {
    private static final String PASSWORD = "Pa55-w0rd-never-shown";

    private static RelayGuardSettings policy(String rateLimits) {
        String xml = "<relayguard><rateLimits>" + rateLimits + "</rateLimits></relayguard>";
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    private static RelayGuardSettings redis(String url, boolean cluster) {
        return policy("<store>redis</store><redisURL>" + url + "</redisURL><cluster>" + cluster + "</cluster>");
    }

    @Test
    void aSentinelURLWithClusterTrueIsRefusedNamingFileKeysAndValue() {
        String url = "redis-sentinel://127.0.0.1:26379,127.0.0.1:26380#mymaster";
        assertThatThrownBy(() -> redis(url, true))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: rateLimits.redisURL = '" + url + "'")
            .hasMessageContaining("not for Redis Cluster")
            .hasMessageContaining("rateLimits.cluster = 'true'");
        assertThat(redis(url, false).rateLimits().redisURL()).isEqualTo(url);
    }

    @ParameterizedTest
    @ValueSource(strings = {"redis-sentinel://127.0.0.1:26379", "redis-sentinel://127.0.0.1:26379#"})
    void aSentinelURLMustNameTheMaster(String url) {
        assertThatThrownBy(() -> redis(url, false))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("rateLimits.redisURL")
            .hasMessageContaining("the master after '#'");
    }

    @Test
    void aSentinelURLCannotBeACommaSeparatedSeed() {
        assertThatThrownBy(() -> RedisLimiterStore.checkURL("redis://127.0.0.1:7000,redis-sentinel://127.0.0.1:26379#m", true))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Sentinel");
    }

    @ParameterizedTest
    @ValueSource(strings = {"redis://:" + PASSWORD + "@127.0.0.1:6379", "redis://relayguard:" + PASSWORD + "@127.0.0.1:6379/2",
        "rediss://relayguard:" + PASSWORD + "@redis.example.com:6380?verifyPeer=NONE",
        "redis-sentinel://:" + PASSWORD + "@127.0.0.1:26379#mymaster"})
    void passwordsAreReadButNeverShownInTheSummaryOrTheDiff(String url) {
        RelayGuardSettings settings = redis(url, false);
        assertThat(settings.rateLimits().redisURL()).isEqualTo(url);

        assertThat(settings.rateLimits().toString()).doesNotContain(PASSWORD).contains(":****@");
        assertThat(settings.toString()).doesNotContain(PASSWORD);
        assertThat(PolicyDiff.describe(settings).values()).noneMatch(line -> line.contains(PASSWORD));
        RelayGuardSettings memory = policy("<store>memory</store>");
        List<String> changes = PolicyDiff.between(memory, settings);
        assertThat(changes).isNotEmpty().noneMatch(line -> line.contains(PASSWORD));
        assertThat(String.join("\n", PolicyDiff.between(settings, memory))).doesNotContain(PASSWORD);
    }

    @Test
    void aRefusedURLIsShownWithoutItsPassword() {
        assertThatThrownBy(() -> redis("redis://:" + PASSWORD + "@10.0.0.1:6379,redis://:" + PASSWORD + "@10.0.0.2:6379", false))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("redis://:****@10.0.0.1:6379,redis://:****@10.0.0.2:6379")
            .hasMessageContaining("a standalone Redis takes one URL")
            .satisfies(e -> assertThat(e.getMessage()).doesNotContain(PASSWORD));
        assertThatThrownBy(() -> redis("http://user:" + PASSWORD + "@10.0.0.1:6379", false))
            .isInstanceOf(InvalidConfigurationException.class)
            .satisfies(e -> assertThat(e.getMessage()).doesNotContain(PASSWORD).contains("http://user:****@10.0.0.1:6379"));
    }

    @Test
    void redactMasksEveryPasswordAndNothingElse() {
        assertThat(RedisLimiterStore.redact("redis://127.0.0.1:6379")).isEqualTo("redis://127.0.0.1:6379");
        assertThat(RedisLimiterStore.redact("redis://u:p@h:1,redis://:q@h:2,h:3")).isEqualTo("redis://u:****@h:1,redis://:****@h:2,h:3");
        assertThat(RedisLimiterStore.redact("redis://onlypassword@h:1/0")).isEqualTo("redis://****@h:1/0");
        assertThat(RedisLimiterStore.redact("redis://u:p@ss@h:1")).as("an unencoded @ in the password").isEqualTo("redis://u:****@h:1");
        assertThat(RedisLimiterStore.redact(null)).isNull();
    }

    @Test
    void bareClusterSeedsTakeTheFirstURLsSchemeAndCredentials() {
        RedisLimiterStore.checkURL("redis://:pw@127.0.0.1:7000,127.0.0.1:7001, 127.0.0.1:7002", true);
        assertThat(redis("redis://:pw@127.0.0.1:7000,127.0.0.1:7001", true).rateLimits().cluster()).isTrue();
    }
}
