package dev.relayguard.manage;

import java.time.Duration;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.Client;
import dev.relayguard.core.FlakyHolds;
import dev.relayguard.core.Holds;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.observe.AuditCapture;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/** {@link Operations}: what the operators' commands do to a RelayGuard on a fake clock. */
class OperationsTest {
    private static final String POLICY = "<relayguard><rateLimits><users>"
        + "<limit measure=\"messages\" max=\"2\" per=\"1m\"/></users></rateLimits>"
        + "<authLimits><maxFailuresPerConnection>0</maxFailuresPerConnection>"
        + "<clientBan><failures>3</failures><within>10m</within><banFor>1h</banFor></clientBan>"
        + "<accountThrottle><failures>3</failures><within>15m</within><throttleFor>15m</throttleFor></accountThrottle>"
        + "<successAfterFailures><failures>2</failures></successAfterFailures>"
        + "</authLimits></relayguard>";
    private static final long T0 = 1_700_000_000_000L;

    private final AtomicLong clock = new AtomicLong(T0);
    private final MemoryLimiterStore store = new MemoryLimiterStore(1000, clock::get);
    private final RelayGuard guard = new RelayGuard(settings(POLICY), domain -> false, (user, sender) -> false,
        new RefusalRecorder(new RecordingMetricFactory()), clock::get, store);
    private final Operations operations = new Operations(guard);
    @RegisterExtension
    final AuditCapture audit = new AuditCapture();

    private static RelayGuardSettings settings(String xml) {
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    private RateLimitPolicy.Subject alice() {
        return guard.senderLimits().rateSubject(Client.of(null, "alice@example.com")).orElseThrow();
    }

    @Test
    void usageOfAFullLimitGivesTheRetryTimeAndCountsNothing() {
        // Counted in the sub-bucket [t0 - 2 s, t0 + 4 s) (6 s wide for a 1 min window): it leaves the window 66 s
        // after that sub-bucket started, so 34 s after t0 + 30 s.
        guard.senderLimits().chargeRate(alice(), Measure.MESSAGES, 2, RefusalContext.smtp().build());
        clock.addAndGet(30_000);

        for (int i = 0; i < 3; i++) {
            assertThat(operations.usage(" Alice@Example.com ")).containsExactly("2 messages per 1m: used 2 / 2, retry in 34 s");
        }
        assertThat(store.usage(alice().key(), alice().limits().all())).containsValue(2L);
        assertThat(operations.usage("bob@example.com")).containsExactly("2 messages per 1m: used 0 / 2");
        assertThat(store.trackedKeys()).as("usage creates no key").isEqualTo(1);
    }

    @Test
    void usageOfAnUnlimitedUserSaysSo() {
        RelayGuard unlimited = new RelayGuard(settings("<relayguard/>"), domain -> false, new RefusalRecorder(new RecordingMetricFactory()));

        assertThat(new Operations(unlimited).usage("alice@example.com")).containsExactly("no rate limits apply to alice@example.com");
    }

    /** Issue 15: a manual suspension with an end names the postmaster and a sane retry time, and ends by itself. */
    @Test
    void aTimedSuspensionNamesThePostmasterAndEnds() {
        operations.suspend("ALICE@example.com", "leaked", Duration.ofHours(2));
        assertThat(operations.suspended()).singleElement().satisfies(line -> assertThat(line)
            .startsWith("user:alice@example.com since 2023-11-14T22:13:20Z until 2023-11-15T00:13:20Z (operator: leaked)"));
        Verdict refused = guard.senderLimits().checkSuspension(alice(), RefusalContext.smtp().build());
        assertThat(refused.text()).isEqualTo("Account suspended from sending by the postmaster, retry in 7200 s");

        clock.addAndGet(Duration.ofHours(2).toMillis());
        assertThat(guard.senderLimits().checkSuspension(alice(), RefusalContext.smtp().build()).isAllowed()).isTrue();
        assertThat(operations.suspended()).isEmpty();
    }

    @Test
    void aSuspensionLengthIsCheckedLikeEveryOperatorInput() {
        assertThat(OperatorInput.duration(" 90m ")).isEqualTo(Duration.ofMinutes(90));
        assertThat(OperatorInput.duration("3600")).isEqualTo(Duration.ofHours(1));
        for (String bad : new String[] {"0s", "-5m", "soon", "367d", "", "1h\n2h"}) {
            assertThatThrownBy(() -> OperatorInput.duration(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("duration");
        }
    }

    /** A suspension set again while in force keeps its start: the user has been suspended all along. */
    @Test
    void suspendingASuspendedUserAgainKeepsWhenTheSuspensionStarted() {
        operations.suspend("alice@example.com", "leaked");
        clock.addAndGet(Duration.ofMinutes(10).toMillis());

        operations.suspend("alice@example.com", "leaked, two hours will do", Duration.ofHours(2));

        assertThat(operations.suspended()).containsExactly(
            "user:alice@example.com since 2023-11-14T22:13:20Z until 2023-11-15T00:23:20Z (operator: leaked, two hours will do)");
    }

    @Test
    void aLookBackIsADurationAboveZeroAndAtMostTheHourKept() {
        assertThat(OperatorInput.since(" 15m ")).isEqualTo(Duration.ofMinutes(15));
        assertThat(OperatorInput.since("1h")).isEqualTo(Duration.ofHours(1));
        assertThat(OperatorInput.since("PT30M")).isEqualTo(Duration.ofMinutes(30));
        assertThat(OperatorInput.since("90")).isEqualTo(Duration.ofSeconds(90));
        assertThat(OperatorInput.duration("PT90M")).as("suspensions take the same syntax").isEqualTo(Duration.ofMinutes(90));
        for (String tooLong : new String[] {"61m", "2h", "PT1H0.001S", "1d"}) {
            assertThatThrownBy(() -> OperatorInput.since(tooLong)).as(tooLong).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("since must be at most 1h: only the last hour of refusals is kept, was " + tooLong);
        }
        assertThatThrownBy(() -> OperatorInput.since("0m")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("since must be at least 1s: 0m");
        assertThatThrownBy(() -> OperatorInput.since("PT-5M")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("since must be at least 1s: PT-5M");
        for (String bad : new String[] {"soon", "-5m", "P", "1\nh"}) {
            assertThatThrownBy(() -> OperatorInput.since(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("since");
        }
        assertThatThrownBy(() -> OperatorInput.since("soon")).hasMessage("since is not a duration (examples: 15m, 1h, PT30M): soon");
        assertThatThrownBy(() -> OperatorInput.since(null)).hasMessage("since is required");
    }

    @Test
    void topRefusedSinceCountsTheLastMinutesOnly() {
        guard.record(Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied"), RefusalContext.smtp().clientIp("192.0.2.7").build(), null);
        clock.addAndGet(Duration.ofMinutes(30).toMillis());
        guard.record(Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied"), RefusalContext.smtp().clientIp("192.0.2.8").build(), null);
        guard.record(Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied"), RefusalContext.smtp().clientIp("192.0.2.8").build(), null);
        clock.addAndGet(Duration.ofSeconds(61).toMillis());

        assertThat(operations.topRefused(10, Duration.ofMinutes(1))).as("this minute").isEmpty();
        assertThat(operations.topRefused(10, Duration.ofSeconds(61))).as("rounded up to 2 minutes").extracting(Object::toString)
            .containsExactly("ip:192.0.2.8 2");
        assertThat(operations.topRefused(10, Duration.ofMinutes(31))).extracting(Object::toString)
            .containsExactly("ip:192.0.2.8 2");
        assertThat(operations.topRefused(10, Duration.ofMinutes(32))).extracting(Object::toString)
            .containsExactly("ip:192.0.2.8 2", "ip:192.0.2.7 1");
        assertThat(operations.topRefused(1, Duration.ofHours(1))).extracting(Object::toString).containsExactly("ip:192.0.2.8 2");
        assertThatThrownBy(() -> operations.topRefused(10, Duration.ofMinutes(61))).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("since must be above 0 and at most 1h: only the last hour of refusals is kept");
        assertThatThrownBy(() -> operations.topRefused(10, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> operations.topRefused(0, Duration.ofHours(1))).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("n must be between 1 and 1000, was 0");
    }

    @Test
    void suspendResumeAndResetWorkOnTheCanonicalUser() {
        operations.suspend("ALICE@example.com", "leaked");
        assertThat(operations.suspended()).containsExactly("user:alice@example.com since 2023-11-14T22:13:20Z until resumed (operator: leaked)");
        Verdict refused = guard.senderLimits().checkSuspension(alice(), RefusalContext.smtp().build());
        assertThat(refused.reason()).isEqualTo(Reason.RATE_SUSPENDED);
        assertThat(refused.text()).isEqualTo("Account suspended from sending by the postmaster");

        assertThat(operations.resume("alice@example.com")).isTrue();
        assertThat(operations.resume("alice@example.com")).isFalse();
        assertThat(operations.suspended()).isEmpty();

        guard.senderLimits().chargeRate(alice(), Measure.MESSAGES, 2, RefusalContext.smtp().build());
        operations.resetUsage("alice@example.com");
        assertThat(operations.usage("alice@example.com")).containsExactly("2 messages per 1m: used 0 / 2");
    }

    @Test
    void topRefusedListsRefusalsOfEveryKindAndIsBounded() {
        guard.record(Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied"),
            RefusalContext.smtp().clientIp("192.0.2.7").build(), null);
        guard.senderLimits().chargeRate(alice(), Measure.MESSAGES, 3, RefusalContext.smtp().authUser("alice@example.com").build());

        assertThat(operations.topRefused(10)).extracting(Object::toString)
            .anySatisfy(line -> assertThat(line).startsWith("ip:192.0.2.7 "))
            .anySatisfy(line -> assertThat(line).startsWith("user:alice@example.com "));
        assertThatThrownBy(() -> operations.topRefused(0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("n must be between 1 and 1000, was 0");
    }

    /** One failed login of {@code login} from {@code client}, as the SMTP handler reports it. */
    private void failLogin(String client, String login) throws Exception {
        guard.loginLimits().failed(InetAddress.getByName(client), login,
            RefusalContext.smtp().clientIp(client).login(login).mechanism("PLAIN").build(), () -> 1);
    }

    private boolean clientBanned(String client) throws Exception {
        return guard.loginLimits().checkClient(InetAddress.getByName(client), RefusalContext.smtp().build(), () -> 1).isPresent();
    }

    private boolean attemptRefused(String client, String login) throws Exception {
        return guard.loginLimits().checkAttempt(InetAddress.getByName(client), login, RefusalContext.smtp().build(), () -> 1).isPresent();
    }

    @Test
    void authBansAreListedWithTheirEndAndLiftedByIpv4Address() throws Exception {
        for (int i = 1; i <= 3; i++) {
            failLogin("192.0.2.7", "guess" + i + "@example.com");
        }
        failLogin("192.0.2.8", "alice@example.com");

        assertThat(operations.authBans()).extracting(Object::toString)
            .containsExactly("192.0.2.7 until " + Instant.ofEpochMilli(T0 + 3_600_000L));
        assertThat(operations.authThrottles()).isEmpty();
        assertThat(clientBanned("192.0.2.7")).isTrue();

        assertThat(operations.liftAuthBan(" 192.0.2.7 ")).isTrue();
        assertThat(operations.authBans()).isEmpty();
        assertThat(clientBanned("192.0.2.7")).isFalse();
        assertThat(operations.liftAuthBan("192.0.2.7")).as("nothing left to lift").isFalse();
        failLogin("192.0.2.7", "guess4@example.com");
        assertThat(clientBanned("192.0.2.7")).as("the lift forgot the client's failures: one more does not ban").isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"2001:db8:1:2::5", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:DB8:1:2::", "2001:db8:1:2::/64",
        " 2001:0db8:0001:0002:0:0:0:9 "})
    void anAuthBanOfAnIpv6ClientIsLiftedByAnyAddressOfItsSlash64(String typed) throws Exception {
        for (int i = 1; i <= 3; i++) {
            failLogin("2001:db8:1:2::5", "alice@example.com");
        }
        assertThat(operations.authBans()).extracting(Object::toString)
            .containsExactly("2001:db8:1:2::/64 until " + Instant.ofEpochMilli(T0 + 3_600_000L));

        assertThat(operations.liftAuthBan("2001:db8:1:3::5")).as("another /64").isFalse();
        assertThat(clientBanned("2001:db8:1:2:abcd::1")).isTrue();
        assertThat(operations.liftAuthBan(typed)).isTrue();
        assertThat(operations.authBans()).isEmpty();
        assertThat(clientBanned("2001:db8:1:2:abcd::1")).isFalse();
    }

    @Test
    void anAccountThrottleIsListedAndLiftedByUserNameWhateverItsCase() throws Exception {
        failLogin("192.0.2.1", "Alice@Example.com");
        failLogin("192.0.2.2", "alice@example.com");
        failLogin("192.0.2.3", "ALICE@example.com");

        assertThat(operations.authThrottles()).extracting(Object::toString)
            .containsExactly("alice@example.com until " + Instant.ofEpochMilli(T0 + 900_000L));
        assertThat(operations.authBans()).as("no client failed three times").isEmpty();
        assertThat(attemptRefused("192.0.2.4", "alice@example.com")).isTrue();
        assertThat(operations.liftAuthThrottle("bob@example.com")).isFalse();

        assertThat(operations.liftAuthThrottle(" ALICE@example.COM ")).isTrue();
        assertThat(operations.authThrottles()).isEmpty();
        assertThat(attemptRefused("192.0.2.4", "alice@example.com")).isFalse();
        assertThat(operations.liftAuthThrottle("alice@example.com")).isFalse();
    }

    @Test
    void liftingAnAccountThrottleKeepsItsKnownClients() throws Exception {
        guard.loginLimits().succeeded(InetAddress.getByName("192.0.2.50"), "alice@example.com", RefusalContext.smtp().build());
        for (int i = 1; i <= 3; i++) {
            failLogin("192.0.2." + i, "alice@example.com");
        }
        assertThat(operations.liftAuthThrottle("alice@example.com")).isTrue();

        assertThat(guard.loginLimits().state().isKnownClient("alice@example.com", "192.0.2.50")).isTrue();
    }

    @Test
    void badInputIsRefusedBeforeAnythingIsLifted() throws Exception {
        for (int i = 1; i <= 3; i++) {
            failLogin("192.0.2.7", "alice@example.com");
        }
        assertThatThrownBy(() -> operations.liftAuthBan("not-an-ip")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("not an IP address: not-an-ip");
        assertThatThrownBy(() -> operations.liftAuthBan("192.0.2.0/24")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("not an IP address: 192.0.2.0/24");
        assertThatThrownBy(() -> operations.liftAuthBan("mail.example.com")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("not an IP address: mail.example.com");
        assertThatThrownBy(() -> operations.liftAuthBan(null)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("ip is required");
        assertThatThrownBy(() -> operations.liftAuthBan(" ")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("ip must not be blank");
        assertThatThrownBy(() -> operations.liftAuthThrottle(null)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("user is required");
        assertThatThrownBy(() -> operations.liftAuthThrottle("alice\u200Bexample.com")).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("user must not contain format characters");
        assertThatThrownBy(() -> operations.liftAuthThrottle("a".repeat(256))).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("user is too long: 256 characters, at most 255");

        assertThat(operations.authBans()).hasSize(1);
        assertThat(operations.authThrottles()).hasSize(1);
    }

    @Test
    void authListsForgetEndedBlocks() throws Exception {
        for (int i = 1; i <= 3; i++) {
            failLogin("192.0.2.7", "alice@example.com");
        }
        clock.addAndGet(900_000L);
        assertThat(operations.authThrottles()).as("throttleFor 15m ended").isEmpty();
        assertThat(operations.authBans()).hasSize(1);
        clock.addAndGet(2_700_000L);
        assertThat(operations.authBans()).as("banFor 1h ended").isEmpty();
        assertThat(operations.liftAuthBan("192.0.2.7")).as("an ended ban is not lifted").isFalse();
    }

    @Test
    void reloadReadsTheSourceAndARefusedOneKeepsThePolicy() {
        AtomicReference<String> file = new AtomicReference<>(POLICY.replace("max=\"2\"", "max=\"5\""));
        guard.reloader().source(() -> settings(file.get()));

        assertThat(operations.reload()).isNotEmpty();
        assertThat(operations.usage("alice@example.com")).containsExactly("5 messages per 1m: used 0 / 5");

        file.set("<relayguard><rateLimits><users><limit measure=\"messages\" max=\"5\" per=\"soon\"/></users></rateLimits></relayguard>");
        assertThatThrownBy(operations::reload).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("reload refused, the current policy stays: ").hasMessageContaining("soon");
        assertThat(operations.usage("alice@example.com")).containsExactly("5 messages per 1m: used 0 / 5");
    }

    // ----- a store of holds that does not answer (Redis down) -----

    /** A RelayGuard whose bans and suspensions live in stores that can go down. */
    private static final class Outage {
        final FlakyHolds bans;
        final FlakyHolds suspensions;
        final RelayGuard guard;
        final Operations operations;

        Outage(AtomicLong clock) {
            RelayGuardSettings settings = settings(POLICY);
            bans = new FlakyHolds(settings.probeBans().asHolds(), clock::get);
            suspensions = new FlakyHolds(settings.rateLimits().suspension(), clock::get);
            guard = new RelayGuard(settings, domain -> false, (user, sender) -> false, new RefusalRecorder(new RecordingMetricFactory()),
                clock::get, new MemoryLimiterStore(1000, clock::get), new MemoryAuthState(settings.authLimits(), clock::get),
                bans, suspensions);
            operations = new Operations(guard);
        }
    }

    @Test
    void whenTheStoreOfSuspensionsIsDownSuspendResumeAndTheListThrowAndNothingIsAuditedAsDone() {
        Outage outage = new Outage(clock);
        outage.operations.suspend("bob@example.com", "leaked");
        outage.suspensions.down(true);
        int auditedBefore = audit.lines().size();

        assertThatThrownBy(() -> outage.operations.suspend("alice@example.com", "leaked"))
            .isInstanceOf(IllegalStateException.class).hasMessage(FlakyHolds.FAILURE);
        assertThatThrownBy(() -> outage.operations.resume("bob@example.com"))
            .isInstanceOf(IllegalStateException.class).hasMessage(FlakyHolds.FAILURE);
        assertThatThrownBy(outage.operations::suspended).isInstanceOf(IllegalStateException.class).hasMessage(FlakyHolds.FAILURE);
        assertThat(audit.lines()).as("nothing audited during the outage").hasSize(auditedBefore);

        outage.suspensions.down(false);
        assertThat(outage.operations.suspended()).containsExactly("user:bob@example.com since 2023-11-14T22:13:20Z until resumed (operator: leaked)");
    }

    @Test
    void whenTheStoreOfBansIsDownTheListAndTheLiftThrowAndNothingIsAuditedAsDone() throws Exception {
        Outage outage = new Outage(clock);
        outage.bans.hold(ProbeBans.keyOf("192.0.2.7"), Holds.Hold.FOREVER, ProbeBans.REASON);
        outage.bans.down(true);
        int auditedBefore = audit.lines().size();

        assertThatThrownBy(outage.operations::bans).isInstanceOf(IllegalStateException.class).hasMessage(FlakyHolds.FAILURE);
        assertThatThrownBy(() -> outage.operations.liftBan("192.0.2.7")).isInstanceOf(IllegalStateException.class)
            .hasMessage(FlakyHolds.FAILURE);
        assertThat(outage.guard.probeBans().bannedCount()).isEqualTo(-1);
        assertThat(audit.lines()).as("nothing audited during the outage").hasSize(auditedBefore);

        outage.bans.down(false);
        assertThat(outage.operations.bans()).extracting(Holds.Hold::key).containsExactly("192.0.2.7");
        assertThat(outage.guard.isBanned(InetAddress.getByName("192.0.2.7"))).isTrue();
    }
}
