package dev.relayguard.manage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;

import javax.management.MBeanServer;
import javax.management.MBeanServerFactory;
import javax.management.ObjectName;
import javax.management.RuntimeMBeanException;

import org.apache.commons.configuration2.XMLConfiguration;
import org.apache.commons.configuration2.builder.FileBasedConfigurationBuilder;
import org.apache.commons.configuration2.builder.fluent.Parameters;
import org.apache.commons.configuration2.convert.DisabledListDelimiterHandler;
import org.apache.commons.configuration2.io.FileHandler;
import org.apache.james.metrics.api.Metric;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.metrics.api.TimeMetric;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.Client;
import dev.relayguard.core.FlakyHolds;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

class RelayGuardManagementTest {
    private static final String POLICY = "<relayguard><probeBans><refusals>1</refusals></probeBans>"
        + "<rateLimits><users><limit measure=\"messages\" max=\"5\" per=\"1h\"/></users></rateLimits></relayguard>";

    private RelayGuard guard;
    private RelayGuardManagement management;
    private final ListAppender<ILoggingEvent> audit = new ListAppender<>();
    private Logger auditLogger;

    @BeforeEach
    void setUp() throws Exception {
        MetricFactory metricFactory = mock(MetricFactory.class);
        when(metricFactory.generate(anyString())).thenAnswer(invocation -> mock(Metric.class));
        when(metricFactory.timer(anyString())).thenAnswer(invocation -> mock(TimeMetric.class));
        guard = new RelayGuard(PolicyFile.parse(xml(POLICY), PolicyFile.FILE_NAME), domain -> false, new RefusalRecorder(metricFactory));
        management = new RelayGuardManagement(guard);
        auditLogger = (Logger) LoggerFactory.getLogger(RefusalRecorder.AUDIT_LOGGER);
        auditLogger.setLevel(Level.INFO);
        audit.start();
        auditLogger.addAppender(audit);
    }

    @AfterEach
    void tearDown() {
        auditLogger.detachAppender(audit);
    }

    private static XMLConfiguration xml(String xml) throws Exception {
        FileBasedConfigurationBuilder<XMLConfiguration> builder = new FileBasedConfigurationBuilder<>(XMLConfiguration.class)
            .configure(new Parameters().xml().setListDelimiterHandler(new DisabledListDelimiterHandler()));
        XMLConfiguration config = builder.getConfiguration();
        new FileHandler(config).load(new ByteArrayInputStream(xml.getBytes(UTF_8)));
        return config;
    }

    private List<String> auditLines() {
        return audit.list.stream().map(ILoggingEvent::getFormattedMessage).collect(java.util.stream.Collectors.toList());
    }

    private void charge(String user) {
        var subject = guard.senderLimits().rateSubject(Client.of(null, user)).orElseThrow();
        assertThat(guard.senderLimits().chargeRate(subject, Measure.MESSAGES, 1, RefusalContext.smtp().build()).verdict().outcome().name())
            .isEqualTo("ALLOWED");
    }

    @Test
    void newlineInReasonIsRefusedAndForgesNothing() {
        assertThatThrownBy(() -> management.suspend("alice@example.com", "leak\noutcome=resumed subject=user:alice@example.com"))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessage("reason must not contain control characters or line breaks (found U+000A at position 5)");
        assertThat(guard.senderLimits().suspensions().active()).isEmpty();
        assertThat(auditLines()).isEmpty();
    }

    @Test
    void quotesAndBackslashesInReasonStayInsideOneField() {
        management.suspend("alice@example.com", "leak\" outcome=resumed \\ x=\"y");
        assertThat(auditLines()).containsExactly(
            "outcome=suspended reason=operator subject=user:alice@example.com note=\"leak\\\" outcome=resumed \\\\ x=\\\"y\" door=jmx by=jmx");
    }

    @Test
    void suspendForGivesAnEndAndRefusesABadDurationBeforeTouchingAnything() {
        assertThatThrownBy(() -> management.suspendFor("alice@example.com", "forever", "leaked"))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duration is not a duration");
        assertThat(guard.senderLimits().suspensions().active()).isEmpty();

        management.suspendFor(" Alice@Example.com ", "2h", "leaked");

        assertThat(management.suspended()).singleElement().satisfies(line -> assertThat(line)
            .matches("user:alice@example.com since \\S+Z until \\S+Z \\(operator: leaked\\)"));
        assertThat(auditLines()).singleElement().satisfies(line -> assertThat(line)
            .startsWith("outcome=suspended reason=operator subject=user:alice@example.com note=leaked until="));
    }

    @Test
    void aUserNameWithASpaceIsRefused() {
        assertThatThrownBy(() -> management.suspend("a b", "reason"))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("user must not contain spaces");
    }

    @Test
    void nullsAreRefusedWithClearMessages() {
        assertThatThrownBy(() -> management.suspend(null, null)).isInstanceOf(IllegalArgumentException.class).hasMessage("user is required");
        assertThatThrownBy(() -> management.suspend("alice@example.com", null)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("reason is required");
        assertThatThrownBy(() -> management.resume(null)).isInstanceOf(IllegalArgumentException.class).hasMessage("user is required");
        assertThatThrownBy(() -> management.lift(null)).isInstanceOf(IllegalArgumentException.class).hasMessage("ip is required");
        assertThatThrownBy(() -> management.usage(null)).isInstanceOf(IllegalArgumentException.class).hasMessage("user is required");
        assertThatThrownBy(() -> management.reset(null)).isInstanceOf(IllegalArgumentException.class).hasMessage("user is required");
        assertThatThrownBy(() -> management.liftAuthBan(null)).isInstanceOf(IllegalArgumentException.class).hasMessage("ip is required");
        assertThatThrownBy(() -> management.liftAuthThrottle(null)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("user is required");
        assertThat(auditLines()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", "\u2003"})
    void blanksAreRefused(String blank) {
        assertThatThrownBy(() -> management.suspend(blank, "x")).isInstanceOf(IllegalArgumentException.class).hasMessage("user must not be blank");
        assertThatThrownBy(() -> management.suspend("alice", blank)).isInstanceOf(IllegalArgumentException.class).hasMessage("reason must not be blank");
        assertThatThrownBy(() -> management.reset(blank)).isInstanceOf(IllegalArgumentException.class).hasMessage("user must not be blank");
        assertThatThrownBy(() -> management.lift(blank)).isInstanceOf(IllegalArgumentException.class).hasMessage("ip must not be blank");
        assertThatThrownBy(() -> management.liftAuthBan(blank)).isInstanceOf(IllegalArgumentException.class).hasMessage("ip must not be blank");
        assertThatThrownBy(() -> management.liftAuthThrottle(blank)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("user must not be blank");
    }

    @ParameterizedTest
    @ValueSource(strings = {"al\u0000ice", "al\rice", "al\nice", "al\u001bice", "al\u0085ice", "al\u2028ice"})
    void controlCharactersInUserNamesAreRefused(String user) {
        assertThatThrownBy(() -> management.suspend(user, "x")).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("user must not contain control characters or line breaks");
        assertThatThrownBy(() -> management.usage(user)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> management.reset(user)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> management.resume(user)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> management.liftAuthThrottle(user)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("user must not contain control characters or line breaks");
        assertThatThrownBy(() -> management.liftAuthBan("192.0.2.7" + user)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("ip must not contain control characters or line breaks");
        assertThat(auditLines()).isEmpty();
    }

    @Test
    void overLongValuesAreRefused() {
        assertThatThrownBy(() -> management.suspend("alice@example.com", "x".repeat(100_000)))
            .isInstanceOf(IllegalArgumentException.class).hasMessage("reason is too long: 100000 characters, at most 500");
        assertThat(guard.senderLimits().suspensions().active()).isEmpty();
        management.suspend("alice@example.com", "x".repeat(500));
        assertThat(guard.senderLimits().suspensions().active()).singleElement().satisfies(block -> assertThat(block.reason()).hasSize("operator: ".length() + 500));
        assertThatThrownBy(() -> management.usage("a".repeat(256))).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("user is too long: 256 characters, at most 255");
        assertThatThrownBy(() -> management.lift("1".repeat(101))).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("ip is too long: 101 characters, at most 100");
    }

    @Test
    void everyOperationTrimsAndLowerCasesUserNames() {
        charge("alice@example.com");
        charge("alice@example.com");
        assertThat(management.usage("  ALICE@Example.COM ")).containsExactly("5 messages per 1h: used 2 / 5");
        management.reset(" Alice@example.com ");
        assertThat(management.usage("alice@example.com")).containsExactly("5 messages per 1h: used 0 / 5");
        management.suspend(" ALICE@example.com ", "  leaked  ");
        assertThat(management.suspended()).singleElement().satisfies(line -> assertThat(line)
            .matches("user:alice@example.com since \\S+Z until resumed \\(operator: leaked\\)"));
        assertThat(management.resume("alice@EXAMPLE.com  ")).isTrue();
        assertThat(auditLines()).containsExactly(
            "outcome=reset reason=operator subject=user:alice@example.com limited=true door=jmx by=jmx",
            "outcome=suspended reason=operator subject=user:alice@example.com note=leaked door=jmx by=jmx",
            "outcome=resumed subject=user:alice@example.com wasSuspended=true door=jmx by=jmx");
    }

    @Test
    void liftTrimsAndAudits() throws Exception {
        guard.probeBans().recordRefusal(InetAddress.getByName("192.0.2.7"));
        assertThat(management.bans()).singleElement()
            .satisfies(ban -> assertThat(ban).matches("192\\.0\\.2\\.7 since \\S+Z until \\S+Z \\(relay probing\\)"));
        assertThat(management.getActiveBans()).isEqualTo(1);
        assertThat(management.lift(" 192.0.2.7 ")).isTrue();
        assertThat(management.bans()).isEmpty();
        assertThatThrownBy(() -> management.lift("not-an-ip")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("not an IP address: not-an-ip");
        assertThat(auditLines()).containsExactly("outcome=unbanned reason=operator ip=192.0.2.7 wasBanned=true door=jmx by=jmx");
        assertThat(management.getDroppedBans()).isZero();
    }

    private void failLogins(String client, String login, int times) throws Exception {
        for (int i = 0; i < times; i++) {
            guard.loginLimits().failed(InetAddress.getByName(client), login, RefusalContext.smtp().clientIp(client).build(), () -> 1);
        }
    }

    @Test
    void authBansAndThrottlesAreListedLiftedAndAudited() throws Exception {
        failLogins("2001:db8:7:7::1", "Mallory@Example.com", 10); // clientBan: 10 failures (default); accountThrottle: 5
        audit.list.clear();
        assertThat(management.authBans()).singleElement().satisfies(ban -> assertThat(ban).startsWith("2001:db8:7:7::/64 until "));
        assertThat(management.authThrottles()).singleElement()
            .satisfies(throttle -> assertThat(throttle).startsWith("mallory@example.com until "));

        assertThat(management.liftAuthBan(" 2001:db8:7:7:aaaa::2 ")).isTrue();
        assertThat(management.liftAuthThrottle(" MALLORY@example.com")).isTrue();
        assertThat(management.liftAuthBan("192.0.2.9")).isFalse();
        assertThatThrownBy(() -> management.liftAuthBan("2001:db8:7:7::/48")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("not an IP address: 2001:db8:7:7::/48");

        assertThat(management.authBans()).isEmpty();
        assertThat(management.authThrottles()).isEmpty();
        assertThat(auditLines()).containsExactly(
            "outcome=lifted reason=operator block=auth.client-banned ip=2001:db8:7:7:aaaa::2 key=2001:db8:7:7::/64 wasBanned=true door=jmx by=jmx",
            "outcome=lifted reason=operator block=auth.account-throttled login=mallory@example.com wasThrottled=true door=jmx by=jmx",
            "outcome=lifted reason=operator block=auth.client-banned ip=192.0.2.9 key=192.0.2.9 wasBanned=false door=jmx by=jmx");
    }

    @Test
    void thePolicySummaryShowsTheAuthLimits() {
        assertThat(management.policySummary()).contains("authLimits = {maxFailuresPerConnection=3, "
            + "clientBan={failures=10, within=PT10M, for=PT1H}, accountThrottle={failures=5, within=PT15M, for=PT15M}, "
            + "knownClients={perAccount=10, rememberFor=PT720H}, successAfterFailures={failures=3, suspendFor=PT0S}, "
            + "maxTrackedClients=100000, maxTrackedAccounts=100000}");
    }

    @Test
    void topRefusedCountIsBounded() {
        assertThat(management.topRefused(10)).isEmpty();
        assertThatThrownBy(() -> management.topRefused(0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("n must be between 1 and 1000, was 0");
        assertThatThrownBy(() -> management.topRefused(Integer.MAX_VALUE)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void topRefusedSinceTakesADurationOfAtMostAnHour() throws Exception {
        guard.record(Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied"), RefusalContext.smtp().clientIp("192.0.2.7").build(), null);

        assertThat(management.topRefusedSince(10, "15m")).containsExactly("ip:192.0.2.7 1");
        assertThat(management.topRefusedSince(10, "PT1H")).containsExactly("ip:192.0.2.7 1");
        assertThatThrownBy(() -> management.topRefusedSince(10, "2h")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("since must be at most 1h: only the last hour of refusals is kept, was 2h");
        assertThatThrownBy(() -> management.topRefusedSince(0, "15m")).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("n must be between 1 and 1000, was 0");
    }

    @Test
    void everyAuditLineIsOneLineWhateverTheInput() {
        // Values that reach the audit logger from elsewhere (a ban of a client) are escaped the same way.
        management.suspend("bob@example.com", "said \"hi\" \\ and = signs");
        management.resume("bob@example.com");
        management.reset("nobody");
        assertThat(auditLines()).hasSize(3).allSatisfy(line -> {
            assertThat(line).doesNotContain("\n", "\r", "\u0000");
            assertThat(line.lines()).hasSize(1);
        });
        assertThat(ProbeBans.keyOf(InetAddress.getLoopbackAddress())).isEqualTo("127.0.0.1");
    }

    // ----- a store of holds that does not answer (Redis down) -----

    /**
     * What a JMX client sees when Redis is down: the operation fails with a message saying what was not done and why,
     * as an exception without a cause (a remote client cannot load Lettuce's classes), and nothing is logged as done.
     */
    @Test
    void whenTheStoreOfHoldsIsDownAJmxClientGetsAClearErrorAndNothingIsLoggedAsDone() throws Exception {
        RelayGuardSettings settings = PolicyFile.parse(xml(POLICY), PolicyFile.FILE_NAME);
        FlakyHolds bans = new FlakyHolds(settings.probeBans().asHolds(), System::currentTimeMillis).down(true);
        FlakyHolds suspensions = new FlakyHolds(settings.rateLimits().suspension(), System::currentTimeMillis).down(true);
        RelayGuard down = new RelayGuard(settings, domain -> false, (user, sender) -> false, new RefusalRecorder(new RecordingMetricFactory()),
            System::currentTimeMillis, new MemoryLimiterStore(100, System::currentTimeMillis),
            new MemoryAuthState(settings.authLimits(), System::currentTimeMillis), bans, suspensions);
        MBeanServer server = MBeanServerFactory.newMBeanServer();
        ObjectName name = new ObjectName(RelayGuardManagement.OBJECT_NAME);
        server.registerMBean(new RelayGuardManagement(down), name);
        ListAppender<ILoggingEvent> classLog = new ListAppender<>();
        Logger classLogger = (Logger) LoggerFactory.getLogger(RelayGuardManagement.class);
        classLog.start();
        classLogger.addAppender(classLog);
        try {
            assertThat(failure(server, name, "suspend", " Alice@Example.com ", "leaked"))
                .isEqualTo("could not suspend alice@example.com: " + FlakyHolds.FAILURE);
            assertThat(failure(server, name, "resume", "alice@example.com"))
                .isEqualTo("could not resume alice@example.com: " + FlakyHolds.FAILURE);
            assertThat(failure(server, name, "suspended")).isEqualTo("could not list the suspensions: " + FlakyHolds.FAILURE);
            assertThat(failure(server, name, "bans")).isEqualTo("could not list the probe bans: " + FlakyHolds.FAILURE);
            assertThat(failure(server, name, "lift", "192.0.2.7"))
                .isEqualTo("could not lift the probe ban of 192.0.2.7: " + FlakyHolds.FAILURE);
            assertThat(server.getAttribute(name, "ActiveBans")).isEqualTo(-1);
        } finally {
            classLogger.detachAppender(classLog);
        }
        assertThat(classLog.list).extracting(ILoggingEvent::getLevel).containsOnly(Level.WARN);
        assertThat(classLog.list).extracting(ILoggingEvent::getFormattedMessage).first().asString()
            .isEqualTo("Operator could not suspend alice@example.com: " + FlakyHolds.FAILURE);
        assertThat(auditLines()).isEmpty();
        suspensions.down(false);
        assertThat(suspensions.active()).as("nothing suspended").isEmpty();
    }

    /** The message of the exception a JMX client receives from an operation; it must have no cause. */
    private static String failure(MBeanServer server, ObjectName name, String operation, String... arguments) {
        String[] signature = new String[arguments.length];
        Arrays.fill(signature, String.class.getName());
        Throwable thrown = catchThrowable(() -> server.invoke(name, operation, arguments, signature));
        assertThat(thrown).as(operation).isInstanceOf(RuntimeMBeanException.class);
        Throwable target = ((RuntimeMBeanException) thrown).getTargetException();
        assertThat(target).isExactlyInstanceOf(IllegalStateException.class).hasNoCause();
        return target.getMessage();
    }
}
