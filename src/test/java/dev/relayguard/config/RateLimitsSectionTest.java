package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.core.Holds;
import dev.relayguard.core.Suspensions;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.StoreKind;

/** The {@code <rateLimits>} section: defaults, good values, and every refusal naming file, key and value. */
class RateLimitsSectionTest {
    private static final String FILE = PolicyFile.FILE_NAME;
    private static final String USERS = "<users><limit measure=\"messages\" max=\"20\" per=\"1m\"/></users>";

    private static RateLimitSettings parse(String rateLimitsInner) {
        return PolicyFile.parse(PolicyFile.parseXml(
            ("<relayguard><rateLimits>" + rateLimitsInner + "</rateLimits></relayguard>").getBytes(UTF_8), FILE), FILE).rateLimits();
    }

    private static String limits(RateLimitSettings settings, String user) {
        return settings.policy().limitsForUser(user).all().toString();
    }

    @Test
    void withoutTheSectionThereAreNoLimits() {
        RateLimitSettings settings = PolicyFile.parse(PolicyFile.parseXml("<relayguard/>".getBytes(UTF_8), FILE), FILE).rateLimits();
        assertThat(settings).isSameAs(RateLimitSettings.NONE);
    }

    @Test
    void defaults() {
        RateLimitSettings settings = parse(USERS);
        assertThat(settings.store()).isEqualTo(StoreKind.MEMORY);
        assertThat(settings.maxTrackedKeys()).isEqualTo(100_000);
        assertThat(settings.redisURL()).isNull();
        assertThat(settings.cluster()).isFalse();
        assertThat(settings.timeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(settings.failureMode()).isEqualTo(RateLimiter.FailureMode.FAIL_OPEN);
        assertSuspension(settings.suspension(), 0, 0, 0);
        assertSuspension(parse(USERS + "<suspension><hits>2</hits></suspension>").suspension(),
            2, Duration.ofMinutes(10).toMillis(), Duration.ofHours(1).toMillis());
    }

    @Test
    void goodValues() {
        RateLimitSettings settings = parse("<store> memory </store><maxTrackedKeys>5</maxTrackedKeys><cluster>true</cluster>"
            + "<timeout>2s</timeout><onStoreFailure>fail-closed</onStoreFailure>"
            + "<users><limit measure=\"messages\" max=\"20\" per=\"1m\"/><limit measure=\"bytes\" max=\"1M\" per=\"1h\"/></users>"
            + "<domain name=\"Partner.Example\"><limit measure=\"messages\" max=\"100\" per=\"1m\"/></domain>"
            + "<user name=\"News@Example.com\"><limit measure=\"recipients\" max=\"5000\" per=\"1h\"/></user>"
            + "<trustedClients><limit measure=\"messages\" max=\"7\" per=\"1d\"/></trustedClients>"
            + "<suspension><hits>3</hits><within>5m</within><suspendFor>2h</suspendFor></suspension>");
        assertThat(settings.maxTrackedKeys()).isEqualTo(5);
        assertThat(settings.cluster()).isTrue();
        assertThat(settings.timeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(settings.failureMode()).isEqualTo(RateLimiter.FailureMode.FAIL_CLOSED);
        assertThat(limits(settings, "anyone@example.com")).isEqualTo("[20 messages per 1m, 1048576 bytes per 1h]");
        assertThat(limits(settings, "someone@partner.example")).isEqualTo("[100 messages per 1m, 1048576 bytes per 1h]");
        assertThat(limits(settings, "news@example.com"))
            .isEqualTo("[20 messages per 1m, 5000 recipients per 1h, 1048576 bytes per 1h]");
        assertSuspension(settings.suspension(), 3, Duration.ofMinutes(5).toMillis(), Duration.ofHours(2).toMillis());
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
            Arguments.of("<maxTrackedKeys>0</maxTrackedKeys>", "rateLimits.maxTrackedKeys = '0': must be at least 1"),
            Arguments.of("<maxTrackedKeys>-5</maxTrackedKeys>", "rateLimits.maxTrackedKeys = '-5': must not be negative"),
            Arguments.of("<maxTrackedKeys>many</maxTrackedKeys>", "rateLimits.maxTrackedKeys = 'many': not a whole number"),
            Arguments.of("<cluster>yes</cluster>", "rateLimits.cluster = 'yes': expected true or false"),
            Arguments.of("<cluster>TRUE</cluster>", "rateLimits.cluster = 'TRUE': expected true or false"),
            Arguments.of("<timeout>0</timeout>", "rateLimits.timeout = '0': must be longer than 0"),
            Arguments.of("<timeout>soon</timeout>", "rateLimits.timeout = 'soon': not a duration (examples: 500ms, 30s, 10m, 1h)"),
            Arguments.of("<onStoreFailure>fail-soft</onStoreFailure>", "rateLimits.onStoreFailure = 'fail-soft': expected fail-open or fail-closed"),
            Arguments.of("<users><limit measure=\"letters\" max=\"1\" per=\"1m\"/></users>",
                "rateLimits.users.limit[@measure] = 'letters': expected messages, recipients or bytes"),
            Arguments.of("<users><limit measure=\"messages\" max=\"lots\" per=\"1m\"/></users>",
                "rateLimits.users.limit[@max] = 'lots': not a whole number"),
            Arguments.of("<users><limit measure=\"messages\" max=\"0\" per=\"1m\"/></users>",
                "rateLimits.users.limit[@max] = '0': must be between 1 and 2147483647 (2G) per window"),
            Arguments.of("<users><limit measure=\"bytes\" max=\"big\" per=\"1m\"/></users>",
                "rateLimits.users.limit[@max] = 'big': not a size (examples: 500K, 50M, 1G)"),
            Arguments.of("<users><limit measure=\"bytes\" max=\"3G\" per=\"1m\"/></users>",
                "rateLimits.users.limit[@max] = '3G': must be between 1 and 2147483647 (2G) per window"),
            Arguments.of("<users><limit measure=\"messages\" max=\"1\" per=\"soon\"/></users>",
                "rateLimits.users.limit[@per] = 'soon': not a duration (examples: 1m, 1h, 1d)"),
            Arguments.of("<trustedClients><limit measure=\"messages\" max=\"1\" per=\"500ms\"/></trustedClients>",
                "rateLimits.trustedClients.limit[@per] = '500ms': must be at least 1s"),
            Arguments.of("<domain><limit measure=\"messages\" max=\"1\" per=\"1m\"/></domain>",
                "rateLimits.domain[@name] = '': a domain override needs a name"),
            Arguments.of("<domain name=\"Partner.Example\"><limit measure=\"messages\" max=\"1\" per=\"1m\"/></domain>"
                    + "<domain name=\"partner.example\"><limit measure=\"messages\" max=\"2\" per=\"1m\"/></domain>",
                "rateLimits.domain[@name] = 'partner.example': defined twice"),
            Arguments.of("<user name=\"Bob@Example.com\"><limit measure=\"messages\" max=\"1\" per=\"1m\"/></user>"
                    + "<user name=\"bob@example.com\"><limit measure=\"messages\" max=\"2\" per=\"1m\"/></user>",
                "rateLimits.user[@name] = 'bob@example.com': defined twice"),
            Arguments.of("<suspension><hits>-1</hits></suspension>", "rateLimits.suspension.hits = '-1': must not be negative"),
            Arguments.of("<suspension><within>0</within></suspension>", "rateLimits.suspension.within = '0': must be longer than 0"),
            Arguments.of("<suspension><suspendFor>soon</suspendFor></suspension>",
                "rateLimits.suspension.suspendFor = 'soon': not a duration (examples: 500ms, 30s, 10m, 1h)"),
            Arguments.of("<containment><within>0</within></containment>", "rateLimits.containment.within = '0': must be longer than 0"),
            Arguments.of("<suspension><hits>5</hits></suspension><containment><hits>5</hits></containment>",
                "rateLimits.containment = '<containment>': the deprecated name of <suspension>, which is also given; keep <suspension> only"));
    }

    @ParameterizedTest
    @MethodSource("refusals")
    void everyRefusalNamesFileKeyAndValue(String inner, String expected) {
        assertThatThrownBy(() -> parse(inner)).isInstanceOf(InvalidConfigurationException.class)
            .hasMessage(FILE + ": " + expected);
    }

    @Test
    void twoLimitsOnOneMeasureAndWindowAreRefused() {
        assertThatThrownBy(() -> parse("<users><limit measure=\"messages\" max=\"1\" per=\"1m\"/>"
            + "<limit measure=\"messages\" max=\"2\" per=\"60s\"/></users>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith(FILE + ": rateLimits.users.limit = '[1 messages per 1m, 2 messages per 1m]': two limits on messages per");
    }

    @Test
    void anUnknownKeyInTheSectionIsRefused() {
        assertThatThrownBy(() -> parse("<suspension><hit>5</hit></suspension>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith(FILE + ": rateLimits.suspension.hit = '5': unknown key");
    }

    @Test
    void storeKindAndRedisUrl() {
        assertThatThrownBy(() -> parse("<store>disk</store>")).isInstanceOf(InvalidConfigurationException.class)
            .hasMessage(FILE + ": rateLimits.store = 'disk': expected memory or redis");
        assertThatThrownBy(() -> parse("<store>redis</store>")).isInstanceOf(InvalidConfigurationException.class)
            .hasMessage(FILE + ": rateLimits.redisURL = '': not given: the redis store needs a redisURL such as redis://127.0.0.1:6379");
        RateLimitSettings redis = parse("<store>redis</store><redisURL> redis://10.0.0.5:6379 </redisURL>");
        assertThat(redis.store()).isEqualTo(StoreKind.REDIS);
        assertThat(redis.redisURL()).isEqualTo("redis://10.0.0.5:6379");
    }

    @Test
    void theDeprecatedContainmentIsReadAsSuspensionWithOneWarnNamingFileAndKey() {
        Logger logger = (Logger) LoggerFactory.getLogger(RateLimitsSection.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            RateLimitSettings settings = parse(USERS + "<containment><hits>4</hits><within>1m</within><suspendFor>30m</suspendFor></containment>");

            assertSuspension(settings.suspension(), 4, Duration.ofMinutes(1).toMillis(), Duration.ofMinutes(30).toMillis());
            assertThat(appender.list).singleElement().satisfies(event -> {
                assertThat(event.getLevel()).isEqualTo(Level.WARN);
                assertThat(event.getFormattedMessage()).contains(FILE, "rateLimits.containment", "<suspension>");
            });
            appender.list.clear();
            parse(USERS + "<suspension><hits>4</hits></suspension>");
            assertThat(appender.list).as("no WARN for the current name").isEmpty();
        } finally {
            logger.detachAppender(appender);
        }
    }

    /**
     * The suspension settings, observed through a {@link Suspensions} on a fake clock: {@code hits} limit hits within
     * {@code within} ms suspend for {@code suspendFor} ms; a hit just outside the window does not; hits 0 never.
     */
    private static void assertSuspension(Holds.Settings settings, int hits, long within, long suspendFor) {
        AtomicLong clock = new AtomicLong(1_000_000);
        Suspensions inside = new Suspensions(settings, clock::get);
        Suspensions outside = new Suspensions(settings, clock::get);
        if (hits == 0) {
            for (int i = 0; i < 100; i++) {
                assertThat(inside.countHit("user:a", "test")).isNull();
            }
            return;
        }
        for (int i = 0; i < hits - 1; i++) {
            assertThat(inside.countHit("user:a", "test")).isNull();
            assertThat(outside.countHit("user:a", "test")).isNull();
        }
        long start = clock.get();
        clock.set(start + within);
        assertThat(outside.countHit("user:a", "test")).as("a hit " + within + " ms after the first is outside the window").isNull();
        clock.set(start + within - 1);
        assertThat(inside.countHit("user:a", "test")).as(hits + " hits within " + within + " ms").isNotNull();
        assertThat(inside.holdOf("user:a").untilMillis()).isEqualTo(start + within - 1 + suspendFor);
    }

    @Test
    void everyEnumWordIsReadInAnyCaseAndItsMessageListsTheWords() {
        assertThat(parse(USERS + "<onStoreFailure>FAIL-CLOSED</onStoreFailure>").failureMode())
            .isEqualTo(RateLimiter.FailureMode.FAIL_CLOSED);
        assertThat(List.of(RateLimiter.FailureMode.values())).extracting(RateLimiter.FailureMode::configName)
            .containsExactly("fail-open", "fail-closed");
    }
}
