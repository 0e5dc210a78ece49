package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthLimits.Rule;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.Holds;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.LimitSet;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.RateLimiter.FailureMode;

/**
 * Redis AUTH against Debian's redis-server: {@code requirepass} ({@code redis://:password@host:port}) and an ACL user
 * with only the commands RelayGuard needs ({@code redis://user:password@host:port}, the line of the README); a
 * wrong password gives one WARN without the password and the configured fail-open / fail-closed answer.
 */
@Tag("slow") // still run by mvn test and CI; quick runs skip it with -DexcludedGroups=slow
class RedisAuthStoreTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(2);
    private static final String PASSWORD = "Xq7-s3cret-of-the-test";
    /**
     * The ACL rule of the README: the keys under {@code relayguard:}, the script commands, and the commands the
     * scripts call (Redis checks them against the user too); exactly those RelayGuard runs. No KEYS, FLUSH*,
     * CONFIG, ... .
     */
    static final String ACL_RULES = "~relayguard:* +time +evalsha +eval +script|load +del +get +set +hset"
        + " +hmget +pexpire +pttl +zadd +zcard +zcount +zrange +zrangebyscore +zrem +zremrangebyrank +zremrangebyscore +zscore"
        + " +pexpireat +lpush +ltrim +llen +lindex +incrby";
    /** With Redis Cluster, Lettuce also reads the topology ({@code CLUSTER NODES}, {@code INFO}) and names its topology connections. */
    static final String CLUSTER_ACL_RULES = ACL_RULES + " +cluster|nodes +cluster|myid +info +client|setname";
    private static final AuthLimits AUTH_LIMITS = new AuthLimits(3, new Rule(3, Duration.ofMinutes(10), Duration.ofHours(1)),
        new Rule(4, Duration.ofMinutes(10), Duration.ofMinutes(15)), 2, Duration.ofDays(30), 3, Duration.ZERO, 1_000, 1_000);
    private static final Limit LIMIT = new Limit(Measure.MESSAGES, 3, Duration.ofMinutes(1));

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeAll
    static void quietLettuce() {
        ((Logger) LoggerFactory.getLogger("io.lettuce")).setLevel(Level.INFO);
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

    private RedisLimiterStore store(String url) {
        return closing(new RedisLimiterStore(url, false, TIMEOUT));
    }

    @Test
    void requirepassWithThePasswordInTheURL() {
        RedisServerProcess redis = closing(RedisServerProcess.builder().args("--requirepass", PASSWORD).cliArgs("-a", PASSWORD).start());
        RedisLimiterStore store = store("redis://:" + PASSWORD + "@" + redis.address());

        everyOperationWorks(store);
        assertThat(redis.cli("HLEN", RedisLimiterStore.redisKey("alice@example.com"))).isNotEqualTo("0");
        assertThat(store.description()).isEqualTo(redis.address());
    }

    @Test
    void anACLUserWithOnlyTheCommandsRelayGuardNeeds() {
        RedisServerProcess redis = closing(RedisServerProcess.builder()
            .args("--user", "default", "off")
            .args(("--user relayguard on >" + PASSWORD + " " + ACL_RULES).split(" "))
            .args("--user", "admin", "on", ">admin-pw", "~*", "+@all")
            .cliArgs("--user", "admin", "--pass", "admin-pw").start());
        assertThat(redis.cli("ACL", "GETUSER", "default")).contains("off");
        RedisLimiterStore store = store("redis://relayguard:" + PASSWORD + "@" + redis.address());

        everyOperationWorks(store);
        assertThat(redis.cli("ACL", "LOG")).as("nothing RelayGuard did was refused by the ACL").isEmpty();
        assertThat(redis.cli("CLIENT", "LIST")).contains("user=relayguard");
        Set<String> used = new TreeSet<>();
        for (String line : redis.cli("INFO", "commandstats").split("\n")) {
            if (line.startsWith("cmdstat_")) {
                used.add(line.substring("cmdstat_".length(), line.indexOf(':')));
            }
        }
        used.removeIf(command -> command.startsWith("acl|") || command.equals("info") || command.equals("client|list")
            || command.equals("auth") || command.equals("hello")); // the test's own commands, and the handshake
        Set<String> granted = new TreeSet<>();
        for (String rule : ACL_RULES.split(" ")) {
            if (rule.startsWith("+")) {
                granted.add(rule.substring(1));
            }
        }
        assertThat(used).as("the commands RelayGuard ran: the ACL grants exactly these (README)").isEqualTo(granted);
    }

    @Test
    void anACLUserOnARedisCluster() {
        List<String> admin = List.of("--user", "admin", "--pass", "admin-pw");
        try (RedisClusterProcess cluster = RedisClusterProcess.start(admin, ("--user default off --user relayguard on >"
                + PASSWORD + " " + CLUSTER_ACL_RULES + " --user admin on >admin-pw ~* &* +@all").split(" "))) {
            String url = cluster.url().replace("redis://", "redis://relayguard:" + PASSWORD + "@");
            RedisLimiterStore store = closing(new RedisLimiterStore(url, true, TIMEOUT));

            everyOperationWorks(store);
            for (RedisServerProcess node : cluster.nodes()) {
                assertThat(node.cli("ACL", "LOG")).as("refused by the ACL on %s", node.address()).isEmpty();
            }
        }
    }

    @Test
    void anACLWithoutACommandTheScriptsNeedSaysSo() {
        RedisServerProcess redis = closing(RedisServerProcess.builder()
            .args(("--user relayguard on >" + PASSWORD + " " + ACL_RULES.replace(" +hset", "")).split(" ")).start());
        RedisLimiterStore store = store("redis://relayguard:" + PASSWORD + "@" + redis.address());

        LimitDecision decision = store.acquire("k", List.of(new Charge(LIMIT, 1)));
        assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
        assertThat(decision.failure()).contains("see the ACL line in the README").doesNotContain(PASSWORD);
    }

    @Test
    void theACLReallyLimitsTheUser() {
        RedisServerProcess redis = closing(RedisServerProcess.builder()
            .args(("--user relayguard on >" + PASSWORD + " " + ACL_RULES).split(" ")).start());
        String relayguard = redis.cli("--user", "relayguard", "--pass", PASSWORD, "FLUSHALL");
        assertThat(relayguard).contains("NOPERM");
        assertThat(redis.cli("--user", "relayguard", "--pass", PASSWORD, "SET", "other:key", "v")).contains("NOPERM");
        assertThat(redis.cli("--user", "relayguard", "--pass", PASSWORD, "SET", "relayguard:x", "v")).isEqualTo("OK");
    }

    @Test
    void aWrongPasswordGivesOneWarnWithoutThePasswordAndTheConfiguredAnswer() {
        RedisServerProcess redis = closing(RedisServerProcess.builder().args("--requirepass", "the-right-one").start());
        ListAppender<ILoggingEvent> logs = captureLogs();
        String url = "redis://relayguard:" + PASSWORD + "@" + redis.address();
        RedisLimiterStore store = store(url);
        RateLimiter limiter = new RateLimiter(store, System::currentTimeMillis);
        RateLimitPolicy.Subject subject = new RateLimitPolicy.Subject("u:alice@example.com", LimitSet.of(List.of(LIMIT)));

        RateLimiter.Result closed = limiter.charge(subject, Measure.MESSAGES, 1, FailureMode.FAIL_CLOSED);
        RateLimiter.Result open = limiter.charge(subject, Measure.MESSAGES, 1, FailureMode.FAIL_OPEN);
        for (int i = 0; i < 5; i++) {
            assertThat(store.acquire("k", List.of(new Charge(LIMIT, 1))).kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
        }

        assertThat(closed.degraded()).isTrue();
        assertThat(closed.verdict().isAllowed()).isFalse();
        assertThat(closed.verdict().replyLine()).startsWith("451 4.3.0");
        assertThat(open.degraded()).isTrue();
        assertThat(open.verdict().isAllowed()).isTrue();
        assertThat(closed.failure()).contains(redis.address()).containsAnyOf("WRONGPASS", "NOAUTH", "invalid username-password")
            .doesNotContain(PASSWORD);

        List<ILoggingEvent> warnings = new ArrayList<>();
        for (ILoggingEvent event : logs.list) {
            assertThat(event.getFormattedMessage()).doesNotContain(PASSWORD);
            for (IThrowableProxy t = event.getThrowableProxy(); t != null; t = t.getCause()) {
                assertThat(String.valueOf(t.getMessage())).doesNotContain(PASSWORD);
            }
            if (event.getLevel() == Level.WARN) {
                warnings.add(event);
            }
        }
        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0).getFormattedMessage()).contains(redis.address()).contains("WRONGPASS")
            .contains("check the user and password in rateLimits.redisURL of relayguard.xml");
    }

    /** Rate decisions, usage, estimate, release, reset, the marker, and the AUTH state on the store's connection. */
    static void everyOperationWorks(RedisLimiterStore store) {
        String user = "alice@example.com";
        List<Charge> one = List.of(new Charge(LIMIT, 1));
        LimitDecision first = store.acquire(user, one);
        assertThat(first.kind()).as("first decision: %s", first).isEqualTo(LimitDecision.Kind.ADMITTED);
        assertThat(store.acquire(user, List.of(new Charge(LIMIT, 2))).isAdmitted()).isTrue();
        assertThat(store.acquire(user, one).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(store.estimate(user, one).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(store.usage(user, List.of(LIMIT))).containsEntry(LIMIT, 3L);
        store.release(first.ticket());
        assertThat(store.usage(user, List.of(LIMIT))).containsEntry(LIMIT, 2L);
        store.reset(user);
        assertThat(store.usage(user, List.of(LIMIT))).containsEntry(LIMIT, 0L);
        assertThat(store.acquire(user, one).isAdmitted()).isTrue();
        try {
            store.checkMarker();
        } catch (Exception e) {
            throw new AssertionError("the marker check failed", e);
        }

        AuthState auth = new RedisAuthState(store, AUTH_LIMITS);
        for (int i = 0; i < 2; i++) {
            auth.recordFailure("192.0.2.1", "mallory");
        }
        assertThat(auth.recordFailure("192.0.2.1", "mallory").banStarted()).isNotNull();
        assertThat(auth.checkAttempt("192.0.2.1", "mallory").ban()).isNotNull();
        assertThat(auth.banOf("192.0.2.1")).isNotNull();
        assertThat(auth.bans()).hasSize(1);
        assertThat(auth.liftBan("192.0.2.1")).isTrue();
        assertThat(auth.throttleOf("mallory")).isNull();
        assertThat(auth.liftThrottle("mallory")).isFalse();
        assertThat(auth.recordSuccess("bob", "192.0.2.9").clientWasKnown()).isFalse();
        assertThat(auth.isKnownClient("bob", "192.0.2.9")).isTrue();
        assertThat(auth.trackedClients()).isGreaterThanOrEqualTo(0);
        assertThat(auth.trackedAccounts()).isGreaterThanOrEqualTo(1);
        assertThat(auth.throttles()).isEmpty();
        assertThat(auth.healthy()).as("every AUTH state operation answered").isTrue();

        for (String table : List.of(RedisHolds.PROBE_BANS, RedisHolds.SUSPENSIONS)) {
            Holds holds = new RedisHolds(store, table, new Holds.Settings(2, 60_000, 3_600_000, 100, 2));
            assertThat(holds.countHit("a", "hit")).isNull();
            assertThat(holds.countHit("a", "hit")).as("the second hit within the minute holds %s", table).isNotNull();
            assertThat(holds.holdOf("a")).isNotNull();
            holds.hold("b", Holds.Hold.FOREVER, "operator");
            holds.hold("c", System.currentTimeMillis() + 7_200_000, "operator"); // a third hold: the soonest-ending ("a") goes
            assertThat(holds.active()).extracting(Holds.Hold::key).containsExactlyInAnyOrder("b", "c");
            assertThat(holds.heldCount()).isEqualTo(2);
            assertThat(holds.trackedCount()).isEqualTo(2);
            assertThat(holds.droppedHolds()).isEqualTo(1);
            assertThat(holds.lift("b")).isTrue();
            assertThat(holds.healthy()).as("every %s operation answered", table).isTrue();
        }
    }

    private ListAppender<ILoggingEvent> captureLogs() {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger relayguard = (Logger) LoggerFactory.getLogger("dev.relayguard");
        Level before = relayguard.getLevel();
        relayguard.setLevel(Level.DEBUG);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        root.addAppender(appender);
        closeables.add(() -> {
            root.detachAppender(appender);
            relayguard.setLevel(before);
        });
        return appender;
    }
}
