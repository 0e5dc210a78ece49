package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.limit.StoreKind;

/** {@code <store>} and {@code <redisURL>}: the store kind as an enum, the URL as the Redis store reads it. */
class RedisStoreSettingsTest {

    private static RateLimitSettings rateLimits(String body) {
        String xml = "<relayguard><rateLimits>" + body + "</rateLimits></relayguard>";
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME).rateLimits();
    }

    @ParameterizedTest
    @ValueSource(strings = {"redis://127.0.0.1:6379", "rediss://:secret@redis.example.com:6380/2",
        "redis-sentinel://127.0.0.1:26379,127.0.0.1:26380#mymaster", "redis://10.0.0.1:6379, redis://10.0.0.2:6379"})
    void urlsTheStoreReadsAreAccepted(String url) {
        boolean cluster = url.contains(", ");
        RateLimitSettings settings = rateLimits("<store>Redis</store><redisURL>" + url + "</redisURL><cluster>" + cluster + "</cluster>");

        assertThat(settings.store()).isEqualTo(StoreKind.REDIS);
        assertThat(settings.redisURL()).isEqualTo(url);
    }

    @ParameterizedTest
    @ValueSource(strings = {"http://127.0.0.1:6379", "redis://10.0.0.1:6379,redis://10.0.0.2:6379", "   "})
    void urlsTheStoreRefusesAreRefusedNamingFileKeyAndValue(String url) {
        assertThatThrownBy(() -> rateLimits("<store>redis</store><redisURL>" + url + "</redisURL>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("rateLimits.redisURL")
            .hasMessageContaining("the redis store needs a redisURL such as redis://127.0.0.1:6379");
    }

    @ParameterizedTest
    @ValueSource(strings = {"disk", "memcached"})
    void anUnknownStoreIsRefused(String store) {
        assertThatThrownBy(() -> rateLimits("<store>" + store + "</store>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("rateLimits.store").hasMessageContaining(store).hasMessageContaining("expected memory or redis");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "<store>memory</store>", "<store> MEMORY </store>"})
    void memoryIsTheDefault(String body) {
        assertThat(rateLimits(body).store()).isEqualTo(StoreKind.MEMORY);
        assertThat(rateLimits(body).store().configName()).isEqualTo("memory");
    }
}
