package dev.relayguard.smtp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import org.apache.commons.configuration2.BaseHierarchicalConfiguration;
import org.apache.commons.configuration2.ex.ConfigurationException;
import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.apache.james.protocols.api.BaseRequest;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.api.ProtocolTransport;
import org.apache.james.protocols.api.ProxyInformation;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.SMTPConfiguration;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.SMTPSessionImpl;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.AuditCapture;
import dev.relayguard.observe.RefusalRecorder;

/**
 * The handler on a listener with {@code <proxyRequired>true</proxyRequired>}, on James's own {@link SMTPSessionImpl}
 * over a transport that says it is proxied: the session reports the PROXY header's source once
 * {@link SMTPSessionImpl#setProxyInformation} was called, recomputes James's relaying flag from
 * {@code <authorizedAddresses>} there, and throws on {@code getProxyInformation()} before a header (James 3.8.1).
 */
class ProxiedSessionTest {
    private static final String BALANCER = "192.0.2.10";
    /** A balancer in trustedNetworks: what the startup warnings are about. */
    private static final String TRUSTED_BALANCER = "192.0.2.200";
    private static final String PROBER = "203.0.113.5";
    private static final String OTHER_CLIENT = "203.0.113.6";
    private static final String TRUSTED_CLIENT = "198.51.100.7";
    private static final String POLICY = "<trustedNetworks><network>198.51.100.0/24</network><network>192.0.2.200/32</network></trustedNetworks>"
        + "<probeBans><refusals>3</refusals><window>10m</window><banFor>1h</banFor></probeBans>";

    @RegisterExtension
    final AuditCapture audit = new AuditCapture();

    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private final RecordingMetricFactory metrics = new RecordingMetricFactory();
    private final RelayGuard guard = guard();
    private final RelayGuardHandler handler = new RelayGuardHandler(guard);
    private final ListAppender<ILoggingEvent> warnings = new ListAppender<>();
    private final Logger handlerLogger = (Logger) LoggerFactory.getLogger(RelayGuardHandler.class);
    private int sessions;

    @BeforeEach
    void captureWarnings() {
        warnings.start();
        handlerLogger.addAppender(warnings);
    }

    @AfterEach
    void stopCapturing() {
        handlerLogger.detachAppender(warnings);
    }

    private RelayGuard guard() {
        return guard("");
    }

    private RelayGuard guard(String morePolicy) {
        byte[] xml = ("<relayguard>" + POLICY + morePolicy + "</relayguard>").getBytes(UTF_8);
        RelayGuardSettings settings = PolicyFile.parse(PolicyFile.parseXml(xml, PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
        return new RelayGuard(settings, domain -> domain.equals("example.com"), (user, sender) -> false,
            new RefusalRecorder(metrics), clock::get, new MemoryLimiterStore(1000, clock::get));
    }

    private List<String> warnings() {
        return warnings.list.stream().filter(event -> event.getLevel() == Level.WARN)
            .map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
    }

    private int count(String metric) {
        return metrics.countForPrefixName(metric).getOrDefault(metric, 0);
    }

    /**
     * A connection to a proxied listener from {@code peer}, as James builds it; its {@code <authorizedAddresses>}
     * is 203.0.113.0/24 and 192.0.2.0/24 (RelayGuard's trustedNetworks must win over it).
     */
    private SMTPSessionImpl proxiedFrom(String peer) throws Exception {
        ProtocolTransport transport = mock(ProtocolTransport.class);
        when(transport.isProxyRequired()).thenReturn(true);
        when(transport.getRemoteAddress()).thenReturn(new InetSocketAddress(InetAddress.getByName(peer), 50000 + sessions));
        when(transport.getLocalAddress()).thenReturn(new InetSocketAddress(InetAddress.getLoopbackAddress(), 2525));
        when(transport.getId()).thenReturn("p" + ++sessions);
        SMTPConfiguration config = mock(SMTPConfiguration.class);
        when(config.isRelayingAllowed(anyString()))
            .thenAnswer(invocation -> invocation.<String>getArgument(0).startsWith("203.0.113.")
                || invocation.<String>getArgument(0).startsWith("192.0.2."));
        return new SMTPSessionImpl(transport, config);
    }

    /** What James's decoder does once it read {@code PROXY TCP4 <client> 127.0.0.1 40000 25}. */
    private static void header(SMTPSessionImpl session, String client) throws Exception {
        session.setProxyInformation(new ProxyInformation(new InetSocketAddress(InetAddress.getByName(client), 40000),
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 25)));
    }

    /** Connect through the balancer, then the header: the client as James's session then reports it. */
    private SMTPSessionImpl through(String balancer, String client) throws Exception {
        SMTPSessionImpl session = proxiedFrom(balancer);
        assertThat(handler.onConnect(session)).isSameAs(SmtpAnswers.SILENT);
        header(session, client);
        return session;
    }

    private Response command(SMTPSession session, String command, String argument) {
        return handler.onCommand(session, new BaseRequest(command, argument));
    }

    /** EHLO, MAIL and one RCPT to a remote domain as James runs them; the RCPT hook's answer. */
    private HookResult relayAttempt(SMTPSession session, int n) throws Exception {
        assertThat(command(session, "EHLO", "client.example")).isNull();
        MaybeSender sender = MaybeSender.of(new MailAddress("p@prober.example"));
        assertThat(command(session, "MAIL", "FROM:<p@prober.example>")).isNull();
        assertThat(handler.doMail(session, sender).getResult()).isEqualTo(HookReturnCode.declined());
        session.setAttachment(SMTPSession.SENDER, sender, ProtocolSession.State.Transaction);
        assertThat(command(session, "RCPT", "TO:<v" + n + "@remote.example>")).isNull();
        return handler.doRcpt(session, sender, new MailAddress("v" + n + "@remote.example"));
    }

    private void earnBan(String balancer, String client) throws Exception {
        for (int i = 1; i <= 3; i++) {
            assertThat(relayAttempt(through(balancer, client), i).getSmtpRetCode()).isEqualTo("550");
        }
    }

    @Test
    void bannedClientIsRefusedAtItsFirstCommandByTheHeaderAddressAndTheBalancerIsNeverBanned() throws Exception {
        earnBan(BALANCER, PROBER);
        assertThat(guard.isBanned(InetAddress.getByName(PROBER))).isTrue();
        assertThat(guard.isBanned(InetAddress.getByName(BALANCER))).isFalse();
        assertThat(audit.lines()).filteredOn(line -> line.contains("reason=relay.unauthenticated")).hasSize(3)
            .allSatisfy(line -> assertThat(line).contains("ip=" + PROBER).doesNotContain(BALANCER));

        // Connect decides nothing about the client (the peer is the balancer); the first command does.
        SMTPSessionImpl again = through(BALANCER, PROBER);
        Response refused = command(again, "EHLO", "client.example");
        assertThat(refused.getRetCode()).isEqualTo("421");
        assertThat(String.join("\n", refused.getLines())).contains("4.7.0 Too many relay attempts from " + PROBER);
        assertThat(refused.isEndSession()).isTrue();
        assertThat(count("relayguard.deferred.probe.banned")).isEqualTo(1);

        // Any first command: NOOP, HELP, STARTTLS, ... are judged the same.
        for (String first : List.of("NOOP", "HELP", "STARTTLS", "VRFY", "EXPN", "RSET", "HELO", "AUTH", "MAIL", "RCPT")) {
            assertThat(command(through(BALANCER, PROBER), first, "").getRetCode()).as(first).isEqualTo("421");
        }

        // Another client behind the same balancer is served.
        SMTPSessionImpl other = through(BALANCER, OTHER_CLIENT);
        assertThat(command(other, "EHLO", "client.example")).isNull();
        assertThat(count("relayguard.deferred.probe.banned")).isEqualTo(11);
    }

    @Test
    void aBannedBalancerAddressDoesNotRefuseTheClientsBehindIt() throws Exception {
        // The balancer's address earned a ban as a direct client (on a listener without PROXY).
        for (int i = 1; i <= 3; i++) {
            FakeSmtpSession direct = new FakeSmtpSession("direct" + i, InetAddress.getByName(BALANCER));
            assertThat(handler.onConnect(direct)).isSameAs(SmtpAnswers.SILENT);
            assertThat(relayAttempt(direct, i).getSmtpRetCode()).isEqualTo("550");
        }
        assertThat(guard.isBanned(InetAddress.getByName(BALANCER))).isTrue();

        SMTPSessionImpl session = through(BALANCER, OTHER_CLIENT);
        assertThat(command(session, "EHLO", "client.example")).isNull();
        assertThat(count("relayguard.deferred.probe.banned")).isZero();
    }

    @Test
    void jamesRelayingFlagFollowsRelayGuardOnTheHeaderAddress() throws Exception {
        SMTPSessionImpl stranger = proxiedFrom(BALANCER);
        handler.onConnect(stranger);
        assertThat(stranger.isRelayingAllowed()).as("connect: the balancer is not the client").isFalse();
        header(stranger, OTHER_CLIENT);
        assertThat(stranger.isRelayingAllowed()).as("James, from its authorizedAddresses").isTrue();
        assertThat(command(stranger, "EHLO", "client.example")).isNull();
        assertThat(stranger.isRelayingAllowed()).as("RelayGuard: not in trustedNetworks").isFalse();
        assertThat(relayAttempt(stranger, 1).getSmtpRetCode()).isEqualTo("550");
        assertThat(stranger.isRelayingAllowed()).isFalse();

        SMTPSessionImpl trusted = through(BALANCER, TRUSTED_CLIENT);
        assertThat(trusted.isRelayingAllowed()).as("James: not in its authorizedAddresses").isFalse();
        assertThat(command(trusted, "NOOP", "")).isNull();
        assertThat(trusted.isRelayingAllowed()).isTrue();
        assertThat(relayAttempt(trusted, 2)).isEqualTo(HookResult.DECLINED);
        assertThat(trusted.isRelayingAllowed()).isTrue();
    }

    @Test
    void inRelayMonitorModeJamesFlagFromTheHeaderAddressStays() throws Exception {
        RelayGuardHandler monitoring = new RelayGuardHandler(guard("<rules><relay>monitor</relay></rules>"));
        MaybeSender sender = MaybeSender.of(new MailAddress("p@prober.example"));
        SMTPSessionImpl authorized = proxiedFrom(BALANCER);
        monitoring.onConnect(authorized);
        header(authorized, OTHER_CLIENT);
        assertThat(monitoring.onCommand(authorized, new BaseRequest("EHLO", "client.example"))).isNull();
        assertThat(authorized.isRelayingAllowed()).as("James, from its authorizedAddresses on the header's address").isTrue();
        monitoring.doMail(authorized, sender);
        assertThat(authorized.isRelayingAllowed()).isTrue();

        SMTPSessionImpl trusted = proxiedFrom(BALANCER);
        monitoring.onConnect(trusted);
        header(trusted, TRUSTED_CLIENT);
        assertThat(monitoring.onCommand(trusted, new BaseRequest("NOOP", ""))).isNull();
        monitoring.doMail(trusted, sender);
        assertThat(trusted.isRelayingAllowed()).as("RelayGuard's trustedNetworks open nothing in monitor mode").isFalse();
    }

    @Test
    void theClientIsJudgedOnceAConnection() throws Exception {
        SMTPSessionImpl session = through(BALANCER, PROBER);
        assertThat(command(session, "EHLO", "client.example")).isNull();
        assertThat(session.getAttachment(SessionFacts.PROXIED_CLIENT_JUDGED, ProtocolSession.State.Connection)).contains(true);
        session.setRelayingAllowed(true); // James after a successful AUTH: a later command must not undo it
        assertThat(command(session, "NOOP", "")).isNull();
        assertThat(session.isRelayingAllowed()).isTrue();
    }

    @Test
    void aCommandBeforeAnyHeaderIsRefusedAndClosesTheConnection() throws Exception {
        SMTPSessionImpl session = proxiedFrom(BALANCER);
        assertThat(handler.onConnect(session)).isSameAs(SmtpAnswers.SILENT);
        assertThat(SessionFacts.clientAddress(session)).as("never the balancer's address").isNull();

        Response refused = command(session, "EHLO", "client.example");

        assertThat(refused.getRetCode()).isEqualTo("421");
        assertThat(String.join("\n", refused.getLines())).startsWith("421 4.7.0 ");
        assertThat(refused.isEndSession()).isTrue();
        assertThat(count("relayguard.deferred.proxy.header-missing")).isEqualTo(1);
        assertThat(audit.lines()).singleElement().satisfies(line -> assertThat(line)
            .contains("reason=proxy.header-missing").contains("ip=" + BALANCER));
        assertThat(guard.isBanned(InetAddress.getByName(BALANCER))).isFalse();
    }

    @Test
    void proxyNetworksRefuseEveryOtherPeerAtConnect() throws Exception {
        handler.init(config("192.0.2.0/28, 2001:db8:1::/48"));

        Response refused = handler.onConnect(proxiedFrom("203.0.113.77"));

        assertThat(refused.getRetCode()).isEqualTo("421");
        assertThat(String.join("\n", refused.getLines())).startsWith("421 4.7.0 ");
        assertThat(refused.isEndSession()).isTrue();
        assertThat(count("relayguard.deferred.proxy.not-a-balancer")).isEqualTo(1);
        assertThat(audit.lines()).singleElement().satisfies(line -> assertThat(line)
            .contains("reason=proxy.not-a-balancer").contains("ip=203.0.113.77"));

        assertThat(handler.onConnect(proxiedFrom(BALANCER))).isSameAs(SmtpAnswers.SILENT);
        assertThat(handler.onConnect(proxiedFrom("2001:db8:1::5"))).isSameAs(SmtpAnswers.SILENT);
        assertThat(count("relayguard.deferred.proxy.not-a-balancer")).isEqualTo(1);
        assertThat(warnings()).isEmpty();
    }

    @Test
    void proxyNetworksOverlappingTrustedNetworksGiveOneWarningAtInit() throws Exception {
        handler.init(config("192.0.2.0/24 198.51.100.128/25"));

        assertThat(warnings()).singleElement().satisfies(warning -> assertThat(warning)
            .contains("smtpserver.xml", "<proxyNetworks>", "192.0.2.0/24 and 192.0.2.200/32",
                "198.51.100.128/25 and 198.51.100.0/24", "skipped the PROXY header", "trusted"));
    }

    @Test
    void proxyNetworksApartFromTrustedNetworksGiveNoWarning() throws Exception {
        handler.init(config("192.0.2.0/28"));
        assertThat(warnings()).isEmpty();
    }

    @Test
    void withoutProxyNetworksTheFirstProxiedConnectionWarnsOnceAndEachTrustedBalancerOnce() throws Exception {
        handler.onConnect(proxiedFrom(BALANCER));
        handler.onConnect(proxiedFrom(BALANCER));
        assertThat(warnings()).singleElement().satisfies(warning -> assertThat(warning)
            .contains("port 2525", "any client that reaches port 2525 can claim any address", "set <proxyNetworks>"));

        handler.onConnect(proxiedFrom(TRUSTED_BALANCER));
        handler.onConnect(proxiedFrom(TRUSTED_BALANCER));
        assertThat(warnings()).hasSize(2).last().satisfies(warning -> assertThat(warning)
            .contains(TRUSTED_BALANCER, "trustedNetworks", "skipped the PROXY header"));
    }

    @Test
    void invalidProxyNetworksNameFileKeyAndValue() {
        assertThatThrownBy(() -> handler.init(config("192.0.2.0/33")))
            .isInstanceOf(ConfigurationException.class)
            .hasMessageContaining("smtpserver.xml").hasMessageContaining("proxyNetworks").hasMessageContaining("192.0.2.0/33");
        assertThatThrownBy(() -> handler.init(config("balancer.example")))
            .isInstanceOf(ConfigurationException.class).hasMessageContaining("balancer.example");
        assertThatThrownBy(() -> handler.init(config(" , ")))
            .isInstanceOf(ConfigurationException.class).hasMessageContaining("proxyNetworks");
    }

    @Test
    void unknownKeyMessageListsProxyNetworks() {
        BaseHierarchicalConfiguration config = new BaseHierarchicalConfiguration();
        config.addProperty("proxyNetwork", "192.0.2.0/24");
        assertThatThrownBy(() -> handler.init(config)).isInstanceOf(ConfigurationException.class)
            .hasMessageContaining("proxyNetwork").hasMessageContaining("known: role, allowPlaintextAuth, proxyNetworks");
    }

    @Test
    void theHeaderAddressIsTheClientForRateLimitsAndAuthToo() throws Exception {
        SMTPSessionImpl session = through(BALANCER, PROBER);
        assertThat(command(session, "EHLO", "client.example")).isNull();
        assertThat(SessionFacts.clientAddress(session)).isEqualTo(InetAddress.getByName(PROBER));
        assertThat(SessionFacts.client(session, ListenerRole.MX, false).address())
            .contains(InetAddress.getByName(PROBER));
        assertThat(SessionFacts.peerAddress(session)).isEqualTo(InetAddress.getByName(BALANCER));
    }

    private static BaseHierarchicalConfiguration config(String proxyNetworks) {
        BaseHierarchicalConfiguration config = new BaseHierarchicalConfiguration();
        config.addProperty("role", "mx");
        config.addProperty("proxyNetworks", proxyNetworks);
        return config;
    }
}
