package dev.relayguard;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.FlakyHolds;
import dev.relayguard.core.Holds;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.core.Suspensions;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.SubjectKey;
import dev.relayguard.observe.AuditCapture;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * {@link LoginLimits}, the facade the SMTP handler asks about logins, over a real memory state on a fake clock: the
 * owner is never locked out by failures from elsewhere, bans cover every account, the per-connection limit, the
 * suspicious success, and what is counted and logged.
 */
class LoginLimitsTest {
    private static final String OWNER = "alice@example.com";
    private static final String MECHANISM = "PLAIN";
    private static final String FAILED_METRIC = "relayguard.refused.auth.failed";
    private static final String BANNED_METRIC = "relayguard.deferred.auth.client-banned";
    private static final String THROTTLED_METRIC = "relayguard.deferred.auth.account-throttled";
    private static final String TOO_MANY_METRIC = "relayguard.deferred.auth.too-many-failures";

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    private final RecordingMetricFactory metrics = new RecordingMetricFactory();
    @RegisterExtension
    final AuditCapture audit = new AuditCapture();

    private RelayGuard guard(String authLimitsBody) {
        return AuthGuards.guard(authLimitsBody, metrics, clock::get);
    }

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static RefusalContext context(InetAddress client, String login) {
        return RefusalContext.smtp().sessionId("s1").clientIp(client.getHostAddress())
            .login(LoginLimits.accountOf(login)).mechanism(MECHANISM).build();
    }

    /** One failed login, the {@code inConnection}-th refused AUTH of its connection; the 421 verdict when it closes it. */
    private static Optional<Verdict> fail(LoginLimits limits, InetAddress client, String login, int inConnection) {
        Verdict answer = limits.failed(client, login, context(client, login), () -> inConnection);
        return answer.reason() == Reason.AUTH_TOO_MANY_FAILURES ? Optional.of(answer) : Optional.empty();
    }

    private static Optional<Verdict> attempt(LoginLimits limits, InetAddress client, String login) {
        return limits.checkAttempt(client, login, context(client, login), () -> 1);
    }

    private static void succeed(LoginLimits limits, InetAddress client, String login) {
        limits.succeeded(client, login, context(client, login));
    }

    private List<String> auditLines() {
        return audit.lines();
    }

    private List<String> suspiciousLines() {
        return auditLines().stream().filter(line -> line.contains(" reason=auth.success-after-failures "))
            .collect(Collectors.toList());
    }

    private static InetAddress stranger(int i) {
        return ip("198.51.100." + i);
    }

    // ---- the owner is not locked out -------------------------------------------------------------------

    @Test
    void failuresFromStrangersThrottleTheAccountForStrangersOnlyNotForTheOwnersKnownClient() {
        LoginLimits limits = guard("<accountThrottle><failures>5</failures><within>15m</within>"
            + "<throttleFor>15m</throttleFor></accountThrottle>").loginLimits();
        InetAddress home = ip("192.0.2.10");
        succeed(limits, home, OWNER);
        for (int i = 1; i <= 4; i++) {
            assertThat(fail(limits, stranger(i), OWNER, 1)).isEmpty();
        }
        assertThat(attempt(limits, stranger(50), OWNER)).as("4 of 5").isEmpty();

        fail(limits, stranger(5), "Alice@Example.COM", 1); // the same account, however spelt

        Optional<Verdict> throttled = attempt(limits, stranger(50), OWNER);
        assertThat(throttled).hasValueSatisfying(verdict -> {
            assertThat(verdict.reason()).isEqualTo(Reason.AUTH_ACCOUNT_THROTTLED);
            assertThat(verdict.replyLine()).isEqualTo("454 4.7.0 Too many failed logins for this account, try again in 900 s");
        });
        assertThat(attempt(limits, home, OWNER)).as("the owner at home still logs in").isEmpty();
        assertThat(attempt(limits, stranger(50), "bob@example.com")).as("another account").isEmpty();
        assertThat(metrics.countFor(THROTTLED_METRIC)).isEqualTo(1);
        assertThat(metrics.countFor(FAILED_METRIC)).isEqualTo(5);
        assertThat(metrics.countFor(BANNED_METRIC)).isZero();
        assertThat(auditLines()).anySatisfy(line -> assertThat(line)
            .startsWith("outcome=throttled reason=auth.account-throttled ip=198.51.100.5 login=alice@example.com until="));

        clock.addAndGet(15 * 60 * 1000);
        assertThat(attempt(limits, stranger(50), OWNER)).as("the throttle ended").isEmpty();
    }

    @Test
    void aClientBanCoversEveryAccountEvenOnesItIsKnownFor() {
        LoginLimits limits = guard("<clientBan><failures>3</failures><within>10m</within><banFor>1h</banFor></clientBan>")
            .loginLimits();
        InetAddress attacker = ip("2001:db8:1:2::1");
        succeed(limits, attacker, OWNER);
        fail(limits, attacker, "a@example.com", 1);
        fail(limits, ip("2001:db8:1:2::ffff"), "b@example.com", 1); // the same /64
        assertThat(limits.checkClient(attacker, context(attacker, OWNER), () -> 1)).isEmpty();

        fail(limits, attacker, "c@example.com", 1);

        assertThat(limits.checkClient(attacker, context(attacker, OWNER), () -> 1)).hasValueSatisfying(verdict -> assertThat(
            verdict.replyLine()).isEqualTo("454 4.7.0 Too many failed logins from 2001:db8:1:2:0:0:0:1, try again in 3600 s"));
        assertThat(attempt(limits, ip("2001:db8:1:2::7"), OWNER)).as("known for alice, banned all the same")
            .hasValueSatisfying(verdict -> assertThat(verdict.reason()).isEqualTo(Reason.AUTH_CLIENT_BANNED));
        assertThat(attempt(limits, ip("2001:db8:1:3::1"), OWNER)).as("another /64").isEmpty();
        assertThat(metrics.countFor(BANNED_METRIC)).isEqualTo(2);
        assertThat(auditLines()).anySatisfy(line -> assertThat(line)
            .startsWith("outcome=banned reason=auth.client-banned ip=2001:db8:1:2:0:0:0:1 key=2001:db8:1:2::/64 until="));
        assertThat(limits.state().bans()).singleElement().satisfies(ban -> assertThat(ban.key()).isEqualTo("2001:db8:1:2::/64"));
    }

    @Test
    void theRetryHintCountsDownOnTheClock() {
        LoginLimits limits = guard("<clientBan><failures>1</failures><banFor>1h</banFor></clientBan>").loginLimits();
        InetAddress attacker = stranger(1);
        fail(limits, attacker, OWNER, 1);
        clock.addAndGet(3600_000 - 1500);

        assertThat(limits.checkClient(attacker, context(attacker, OWNER), () -> 1).orElseThrow().text()).endsWith("try again in 2 s");
    }

    // ---- per connection --------------------------------------------------------------------------------

    @Test
    void theNthFailureOfAConnectionClosesIt() {
        LoginLimits limits = guard("<maxFailuresPerConnection>3</maxFailuresPerConnection>").loginLimits();
        InetAddress client = stranger(1);

        assertThat(fail(limits, client, OWNER, 1)).isEmpty();
        assertThat(fail(limits, client, OWNER, 2)).isEmpty();
        Optional<Verdict> third = fail(limits, client, OWNER, 3);

        assertThat(third).hasValueSatisfying(verdict -> {
            assertThat(verdict.reason()).isEqualTo(Reason.AUTH_TOO_MANY_FAILURES);
            assertThat(verdict.replyLine()).isEqualTo("421 4.7.0 Too many failed logins, closing connection");
        });
        assertThat(metrics.countFor(FAILED_METRIC)).isEqualTo(3);
        assertThat(metrics.countFor(TOO_MANY_METRIC)).isEqualTo(1);
    }

    @Test
    void aPerConnectionLimitOfZeroNeverClosesTheConnection() {
        LoginLimits limits = guard("<maxFailuresPerConnection>0</maxFailuresPerConnection>"
            + "<clientBan><failures>0</failures></clientBan><accountThrottle><failures>0</failures></accountThrottle>")
            .loginLimits();
        for (int i = 1; i <= 100; i++) {
            assertThat(fail(limits, stranger(1), OWNER, i)).isEmpty();
        }
        assertThat(metrics.countFor(FAILED_METRIC)).isEqualTo(100);
        assertThat(metrics.countFor(TOO_MANY_METRIC)).isZero();
        assertThat(attempt(limits, stranger(1), OWNER)).isEmpty();
    }

    @Test
    void aFailureWithoutAClientAddressIsCountedButTracksNothing() {
        LoginLimits limits = guard("<clientBan><failures>1</failures></clientBan>").loginLimits();
        RefusalContext context = RefusalContext.smtp().login(OWNER).mechanism(MECHANISM).build();

        assertThat(limits.failed(null, OWNER, context, () -> 1).reason()).isEqualTo(Reason.AUTH_FAILED);
        limits.succeeded(null, OWNER, context);

        assertThat(metrics.countFor(FAILED_METRIC)).isEqualTo(1);
        assertThat(limits.state().trackedClients()).isZero();
        assertThat(limits.state().trackedAccounts()).isZero();
        assertThat(limits.checkAttempt(null, OWNER, context, () -> 1)).isEmpty();
    }

    // ---- success after failures ------------------------------------------------------------------------

    @Test
    void aSuccessFromAStrangerAfterManyFailuresIsCountedAndLoggedButSuspendsNothingByDefault() {
        RelayGuard guard = guard("<successAfterFailures><failures>3</failures></successAfterFailures>");
        LoginLimits limits = guard.loginLimits();
        for (int i = 1; i <= 3; i++) {
            fail(limits, stranger(i), OWNER, 1);
        }

        succeed(limits, stranger(9), OWNER);

        assertThat(metrics.countFor(RefusalRecorder.SUSPICIOUS_LOGINS_METRIC)).isEqualTo(1);
        assertThat(metrics.countFor(RefusalRecorder.SUSPENSIONS_METRIC)).isZero();
        assertThat(guard.senderLimits().suspensions().holdOf(SubjectKey.user(OWNER))).isNull();
        assertThat(suspiciousLines()).singleElement().isEqualTo("outcome=signalled reason=auth.success-after-failures"
            + " session=s1 ip=198.51.100.9 login=alice@example.com mechanism=PLAIN failures=3 subject=user:alice@example.com until=-");
    }

    @Test
    void withSuspendForASuspiciousSuccessSuspendsTheAccountFromSending() {
        RelayGuard guard = guard("<successAfterFailures><failures>3</failures><suspendFor>1h</suspendFor></successAfterFailures>");
        LoginLimits limits = guard.loginLimits();
        for (int i = 1; i <= 3; i++) {
            fail(limits, stranger(i), OWNER, 1);
        }

        succeed(limits, stranger(9), "Alice@Example.com");

        assertThat(guard.senderLimits().suspensions().holdOf(SubjectKey.user(OWNER))).isNotNull();
        assertThat(guard.senderLimits().suspensions().holdOf(SubjectKey.user(OWNER)).untilMillis())
            .isEqualTo(clock.get() + 3600_000);
        assertThat(metrics.countFor(RefusalRecorder.SUSPICIOUS_LOGINS_METRIC)).isEqualTo(1);
        assertThat(metrics.countFor(RefusalRecorder.SUSPENSIONS_METRIC)).isEqualTo(1);
        assertThat(suspiciousLines()).singleElement().asString()
            .startsWith("outcome=suspended reason=auth.success-after-failures session=s1 ip=198.51.100.9")
            .contains(" login=alice@example.com mechanism=PLAIN failures=3 subject=user:alice@example.com until=");
        assertThat(guard.senderLimits().suspensions().holdOf(SubjectKey.user("bob@example.com"))).isNull();
    }

    @Test
    void aSuspensionTheStoreCannotRecordIsAuditedAsFailedAndCountedAsDegradedNotAsASuspension() {
        RelayGuardSettings settings = AuthGuards.settings(
            "<successAfterFailures><failures>3</failures><suspendFor>1h</suspendFor></successAfterFailures>");
        FlakyHolds suspensions = new FlakyHolds(settings.rateLimits().suspension(), clock::get);
        RelayGuard guard = new RelayGuard(settings, domain -> false, (user, sender) -> false, new RefusalRecorder(metrics),
            clock::get, new MemoryLimiterStore(1000, clock::get), new MemoryAuthState(settings.authLimits(), clock::get),
            new Suspensions(settings.probeBans().asHolds(), clock::get), suspensions);
        LoginLimits limits = guard.loginLimits();
        for (int i = 1; i <= 3; i++) {
            fail(limits, stranger(i), OWNER, 1);
        }
        suspensions.down(true);

        succeed(limits, stranger(9), OWNER);

        assertThat(metrics.countFor(RefusalRecorder.SUSPICIOUS_LOGINS_METRIC)).isEqualTo(1);
        assertThat(metrics.countFor(RefusalRecorder.SUSPENSIONS_METRIC)).isZero();
        assertThat(guard.recorder().degradedCount()).isEqualTo(1);
        assertThat(suspiciousLines()).singleElement().asString()
            .startsWith("outcome=suspension-failed reason=auth.success-after-failures session=s1 ip=198.51.100.9")
            .contains(" subject=user:alice@example.com until=");
        suspensions.down(false);
        assertThat(suspensions.holdOf(SubjectKey.user(OWNER))).isNull();
    }

    @Test
    void aSuspiciousSuccessNeverShortensALongerSuspension() {
        RelayGuard guard = guard("<successAfterFailures><failures>3</failures><suspendFor>1h</suspendFor></successAfterFailures>");
        LoginLimits limits = guard.loginLimits();
        guard.senderLimits().suspensions().hold(SubjectKey.user(OWNER), Holds.Hold.FOREVER, "operator: leaked");
        for (int i = 1; i <= 3; i++) {
            fail(limits, stranger(i), OWNER, 1);
        }

        succeed(limits, stranger(9), OWNER);

        assertThat(guard.senderLimits().suspensions().holdOf(SubjectKey.user(OWNER)))
            .extracting(Holds.Hold::isForever, Holds.Hold::reason).containsExactly(true, "operator: leaked");
        assertThat(metrics.countFor(RefusalRecorder.SUSPENSIONS_METRIC)).isZero();
        assertThat(suspiciousLines()).singleElement().asString().startsWith("outcome=already-suspended ")
            .endsWith(" subject=user:alice@example.com until=-");
    }

    @Test
    void aSuccessFromAKnownClientAfterFailuresIsNotSuspicious() {
        RelayGuard guard = guard("<successAfterFailures><failures>3</failures><suspendFor>1h</suspendFor></successAfterFailures>");
        LoginLimits limits = guard.loginLimits();
        InetAddress home = ip("192.0.2.10");
        succeed(limits, home, OWNER);
        for (int i = 1; i <= 4; i++) {
            fail(limits, stranger(i), OWNER, 1);
        }

        succeed(limits, home, OWNER);

        assertThat(metrics.countFor(RefusalRecorder.SUSPICIOUS_LOGINS_METRIC)).isZero();
        assertThat(guard.senderLimits().suspensions().holdOf(SubjectKey.user(OWNER))).isNull();
        assertThat(auditLines()).noneMatch(line -> line.contains("auth.success-after-failures"));
    }

    @Test
    void fewerFailuresThanTheThresholdOrTheSignalOffIsNotSuspicious() {
        LoginLimits fewer = guard("<successAfterFailures><failures>3</failures><suspendFor>1h</suspendFor></successAfterFailures>")
            .loginLimits();
        fail(fewer, stranger(1), OWNER, 1);
        fail(fewer, stranger(2), OWNER, 1);
        succeed(fewer, stranger(9), OWNER);

        LoginLimits off = guard("<successAfterFailures><failures>0</failures><suspendFor>1h</suspendFor></successAfterFailures>")
            .loginLimits();
        for (int i = 1; i <= 4; i++) {
            fail(off, stranger(i), OWNER, 1);
        }
        succeed(off, stranger(9), OWNER);

        assertThat(metrics.countFor(RefusalRecorder.SUSPICIOUS_LOGINS_METRIC)).isZero();
    }

    // ---- what is kept and logged -----------------------------------------------------------------------

    @Test
    void userNamesAreCutAt255CharactersForStateAndAudit() {
        LoginLimits limits = guard("<accountThrottle><failures>2</failures></accountThrottle><successAfterFailures><failures>1</failures></successAfterFailures>").loginLimits();
        String base = "x".repeat(300);

        assertThat(LoginLimits.accountOf(base + "@EXAMPLE.com")).isEqualTo("x".repeat(255));
        assertThat(LoginLimits.accountOf("Short@Example.COM")).isEqualTo("short@example.com");
        fail(limits, stranger(1), base + "a", 1);
        fail(limits, stranger(2), base + "b", 1); // differs only after the cut: the same account

        assertThat(limits.state().throttleOf("x".repeat(255))).isNotNull();
        assertThat(limits.state().trackedAccounts()).isEqualTo(1);
        assertThat(auditLines()).isNotEmpty().allSatisfy(line -> {
            assertThat(line).contains("login=" + "x".repeat(255) + " ");
            assertThat(line).doesNotContain("x".repeat(256));
        });
    }

    @Test
    void everyAuthVerdictLineNamesTheLoginTriedAndTheMechanism() {
        LoginLimits limits = guard("<maxFailuresPerConnection>2</maxFailuresPerConnection>"
            + "<accountThrottle><failures>2</failures></accountThrottle><successAfterFailures><failures>1</failures></successAfterFailures>").loginLimits();
        fail(limits, stranger(1), "Alice@Example.com", 1);
        fail(limits, stranger(1), "Alice@Example.com", 2);
        attempt(limits, stranger(2), OWNER);

        List<String> verdicts = auditLines().stream().filter(line -> line.contains(" reply=")).collect(Collectors.toList());
        // The second failure closes its connection: one line, with the reply the client got (421), not two.
        assertThat(verdicts).extracting(line -> line.substring(0, line.indexOf(" path="))).containsExactly(
            "outcome=refused reason=auth.failed", "outcome=deferred reason=auth.too-many-failures",
            "outcome=deferred reason=auth.account-throttled");
        assertThat(metrics.countFor(FAILED_METRIC)).as("both failed password checks counted").isEqualTo(2);
        assertThat(verdicts).allSatisfy(line -> assertThat(line)
            .contains(" ip=198.51.100.", " login=alice@example.com mechanism=PLAIN reply="));
    }

    @Test
    void aReloadAppliesNewLimitsAndKeepsWhatWasCounted() {
        RelayGuard guard = guard("<clientBan><failures>3</failures></clientBan>");
        LoginLimits limits = guard.loginLimits();
        fail(limits, stranger(1), OWNER, 1);
        fail(limits, stranger(1), OWNER, 1);
        RelayGuardSettings stricter = AuthGuards.settings(
            "<clientBan><failures>3</failures></clientBan><maxFailuresPerConnection>1</maxFailuresPerConnection>");
        guard.reloader().source(() -> stricter);
        guard.reloader().reload();

        assertThat(fail(limits, stranger(1), OWNER, 1)).as("1 per connection now")
            .hasValueSatisfying(verdict -> assertThat(verdict.reason()).isEqualTo(Reason.AUTH_TOO_MANY_FAILURES));
        assertThat(limits.state().banOf("198.51.100.1")).as("the 2 failures before the reload counted").isNotNull();
    }
}
