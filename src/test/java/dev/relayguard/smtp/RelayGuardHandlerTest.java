package dev.relayguard.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyBoolean;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.mockito.Mockito.when;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.core.Username;
import org.apache.james.metrics.api.Metric;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.smtp.hook.AuthHook;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.Mockito;

import dev.relayguard.MailAttributes;
import dev.relayguard.RelayGuard;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.TrustedNetworks;

class RelayGuardHandlerTest {
    private static final String UNTRUSTED_IP = "203.0.113.9";
    private static final String TRUSTED_IP = "192.0.2.25";
    private static final String REFUSED_METRIC = "relayguard.refused.relay.unauthenticated";
    private static final String DEFERRED_METRIC = "relayguard.deferred.relay.domain-lookup-failed";

    private final Map<String, Metric> metrics = new HashMap<>();
    private LocalDomains localDomains;
    private RelayGuardHandler handler;
    private FakeSmtpSession session;
    private MaybeSender sender;

    @BeforeEach
    void setUp() throws Exception {
        MetricFactory metricFactory = mock(MetricFactory.class);
        when(metricFactory.generate(anyString()))
            .thenAnswer(invocation -> metrics.computeIfAbsent(invocation.getArgument(0), name -> mock(Metric.class)));
        when(metricFactory.timer(anyString())).thenAnswer(invocation -> mock(org.apache.james.metrics.api.TimeMetric.class));
        localDomains = domain -> domain.equals("example.com");
        RelayPolicy policy = RelayPolicy.of(
            TrustedNetworks.of(List.of(IpNetwork.parse("192.0.2.0/24"), IpNetwork.parse("2001:db8::/32"))),
            Set.of("backup.example"));
        handler = newHandler(policy, domain -> localDomains.isLocal(domain), metricFactory);

        // A session with real attachments, spied to verify how James's relay flag is set.
        session = Mockito.spy(new FakeSmtpSession("session-1", InetAddress.getByName(UNTRUSTED_IP)));
        sender = MaybeSender.of(new MailAddress("x@y.org"));
    }

    private static RelayGuardHandler newHandler(RelayPolicy policy, LocalDomains localDomains, MetricFactory metricFactory) {
        return new RelayGuardHandler(new RelayGuard(new RelayGuardSettings(policy), localDomains,
            new dev.relayguard.observe.RefusalRecorder(metricFactory)));
    }

    private void connectFrom(InetAddress address) {
        session.from(address);
    }

    // ---- RCPT -----------------------------------------------------------------------------------------

    @Test
    void remoteDomainFromUntrustedUnauthenticatedClientIsDenied() throws Exception {
        HookResult result = handler.doRcpt(session, sender, new MailAddress("victim@remote.org"));

        assertThat(result.getResult()).isEqualTo(HookReturnCode.deny());
        assertThat(result.getSmtpRetCode()).isEqualTo("550");
        assertThat(result.getSmtpDescription()).startsWith("5.7.1 Relaying denied").contains("remote.org");
        verify(session, never()).setRelayingAllowed(true);
        verify(metrics.get(REFUSED_METRIC), times(1)).increment();
        verifyNoInteractions(metrics.get(DEFERRED_METRIC));
    }

    @Test
    void remoteDomainWithNullSenderIsStillDenied() throws Exception {
        HookResult result = handler.doRcpt(session, MaybeSender.nullSender(), new MailAddress("victim@remote.org"));
        assertThat(result.getResult()).isEqualTo(HookReturnCode.deny());
    }

    @Test
    void localDomainIsDeclinedNeverOk() throws Exception {
        HookResult result = handler.doRcpt(session, sender, new MailAddress("bob@Example.COM"));

        assertThat(result).isEqualTo(HookResult.DECLINED);
        // An untrusted, unauthenticated client still may not relay: James's relay flag stays false.
        verify(session).setRelayingAllowed(false);
        verify(session, never()).setRelayingAllowed(true);
        // Only "accepted" counters may move.
        metrics.entrySet().stream().filter(entry -> !entry.getKey().contains(".accepted."))
            .forEach(entry -> verifyNoInteractions(entry.getValue()));
    }

    @Test
    void everyTimerIsRegisteredAtStartUpWithoutASample() {
        MetricFactory metricFactory = mock(MetricFactory.class);
        Map<String, org.apache.james.metrics.api.TimeMetric> started = new java.util.HashMap<>();
        when(metricFactory.timer(anyString())).thenAnswer(invocation ->
            started.computeIfAbsent(invocation.getArgument(0), name -> mock(org.apache.james.metrics.api.TimeMetric.class)));

        newHandler(RelayPolicy.of(TrustedNetworks.of(List.of()), Set.of()), localDomains, metricFactory);

        assertThat(started).as("James registers a timer at its first use: shown over JMX from start-up")
            .containsOnlyKeys(dev.relayguard.observe.RefusalRecorder.RCPT_DECISION_TIMER, dev.relayguard.observe.RefusalRecorder.MAIL_DECISION_TIMER, dev.relayguard.observe.RefusalRecorder.HEADER_DECISION_TIMER,
                dev.relayguard.observe.RefusalRecorder.STORE_TIMER);
        started.values().forEach(timer -> verify(timer, never()).stopAndPublish());
    }

    /**
     * The SMTP door times each of its decisions once (the pipeline's matchers do not: IsRelayDeniedTest,
     * IsSenderNotOwnedTest); fails if a hook stops timing, or times a decision twice.
     */
    @Test
    void eachRcptMailAndHeaderDecisionIsTimedOnceOnItsJamesTimer() throws Exception {
        org.apache.james.metrics.tests.RecordingMetricFactory recording = new org.apache.james.metrics.tests.RecordingMetricFactory();
        RelayGuardHandler timed = newHandler(RelayPolicy.of(TrustedNetworks.of(List.of()), Set.of()), localDomains, recording);

        timed.doMail(session, sender);
        timed.doRcpt(session, sender, new MailAddress("bob@example.com"));
        timed.doRcpt(session, sender, new MailAddress("victim@remote.org"));

        assertThat(recording.executionTimesFor(dev.relayguard.observe.RefusalRecorder.MAIL_DECISION_TIMER)).hasSize(1);
        assertThat(recording.executionTimesFor(dev.relayguard.observe.RefusalRecorder.RCPT_DECISION_TIMER)).as("one per RCPT, refused or not").hasSize(2);
        assertThat(recording.executionTimesFor(dev.relayguard.observe.RefusalRecorder.HEADER_DECISION_TIMER)).as("no message yet").isEmpty();

        authenticatedOverTls();
        timed.onMessage(session, mail("From: alice@example.com\r\n"));
        timed.onMessage(session, mail("From: Bob <bob@example.com>\r\n"));

        assertThat(recording.executionTimesFor(dev.relayguard.observe.RefusalRecorder.HEADER_DECISION_TIMER)).as("one per message, refused or not").hasSize(2);
    }

    @Test
    void authenticatedClientIsDeclinedAndMayRelay() throws Exception {
        when(session.getUsername()).thenReturn(Username.of("alice@example.com"));
        when(session.isTLSStarted()).thenReturn(true);

        HookResult result = handler.doRcpt(session, sender, new MailAddress("victim@remote.org"));

        assertThat(result).isEqualTo(HookResult.DECLINED);
        verify(session).setRelayingAllowed(true);
        verify(session, never()).setRelayingAllowed(false);
        // Only "accepted" counters may move.
        metrics.entrySet().stream().filter(entry -> !entry.getKey().contains(".accepted."))
            .forEach(entry -> verifyNoInteractions(entry.getValue()));
    }

    @Test
    void trustedIpv4ClientIsDeclinedAndMayRelay() throws Exception {
        connectFrom(InetAddress.getByName(TRUSTED_IP));

        HookResult result = handler.doRcpt(session, sender, new MailAddress("victim@remote.org"));

        assertThat(result).isEqualTo(HookResult.DECLINED);
        verify(session).setRelayingAllowed(true);
        verify(session, never()).setRelayingAllowed(false);
    }

    @Test
    void trustedIpv6ClientIsDeclinedAndMayRelay() throws Exception {
        connectFrom(InetAddress.getByName("2001:db8::25"));

        assertThat(handler.doRcpt(session, sender, new MailAddress("victim@remote.org"))).isEqualTo(HookResult.DECLINED);
        verify(session).setRelayingAllowed(true);
    }

    @Test
    void ipv4MappedClientInTrustedNetworkIsDeclined() throws Exception {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xff;
        bytes[11] = (byte) 0xff;
        bytes[12] = (byte) 192;
        bytes[13] = 0;
        bytes[14] = 2;
        bytes[15] = 25;
        connectFrom(Inet6Address.getByAddress(null, bytes, -1));

        assertThat(handler.doRcpt(session, sender, new MailAddress("victim@remote.org"))).isEqualTo(HookResult.DECLINED);
        verify(session).setRelayingAllowed(true);
    }

    @Test
    void unknownRemoteAddressIsTreatedAsUntrusted() throws Exception {
        session.from(null);

        HookResult result = handler.doRcpt(session, sender, new MailAddress("victim@remote.org"));

        assertThat(result.getResult()).isEqualTo(HookReturnCode.deny());
        assertThat(result.getSmtpRetCode()).isEqualTo("550");
    }

    @Test
    void relayDomainIsDeclinedAndLetsJamesRelayTheTransaction() throws Exception {
        HookResult relay = handler.doRcpt(session, sender, new MailAddress("someone@Backup.Example"));
        assertThat(relay).isEqualTo(HookResult.DECLINED);
        // A later local recipient in the same transaction keeps the relay flag up.
        HookResult local = handler.doRcpt(session, sender, new MailAddress("bob@example.com"));
        assertThat(local).isEqualTo(HookResult.DECLINED);

        verify(session, times(2)).setRelayingAllowed(true);
        verify(session, never()).setRelayingAllowed(false);
        verify(session).setAttachment(any(), Mockito.eq(Boolean.TRUE), Mockito.eq(ProtocolSession.State.Transaction));

        // But a remote recipient is still refused by RelayGuard.
        HookResult remote = handler.doRcpt(session, sender, new MailAddress("victim@remote.org"));
        assertThat(remote.getResult()).isEqualTo(HookReturnCode.deny());
    }

    @Test
    void domainListFailureIsDeferred() throws Exception {
        localDomains = domain -> {
            throw new LocalDomains.LookupFailedException("down", new IllegalStateException());
        };

        HookResult result = handler.doRcpt(session, sender, new MailAddress("bob@example.com"));

        assertThat(result.getResult()).isEqualTo(HookReturnCode.denySoft());
        assertThat(result.getSmtpRetCode()).isEqualTo("451");
        assertThat(result.getSmtpDescription()).startsWith("4.3.0 ");
        verify(session, never()).setRelayingAllowed(true);
        verify(metrics.get(DEFERRED_METRIC), times(1)).increment();
        verifyNoInteractions(metrics.get(REFUSED_METRIC));
    }

    @Test
    void unexpectedExceptionIsDeferredNotAllowed() throws Exception {
        localDomains = domain -> {
            throw new IllegalStateException("bug");
        };

        HookResult result = handler.doRcpt(session, sender, new MailAddress("bob@example.com"));

        assertThat(result.getResult()).isEqualTo(HookReturnCode.denySoft());
        assertThat(result.getSmtpRetCode()).isEqualTo("451");
        assertThat(result.getSmtpDescription()).startsWith("4.3.0 ");
        verify(session, never()).setRelayingAllowed(anyBoolean());
    }

    // ---- MAIL (sets James's relay flag; replaced the former onConnect handler) ------------------------

    @Test
    void mailFromUntrustedIpClearsRelayFlag() {
        assertThat(handler.doMail(session, sender)).isEqualTo(HookResult.DECLINED);
        verify(session).setRelayingAllowed(false);
        verify(session, never()).setRelayingAllowed(true);
    }

    @Test
    void mailFromTrustedIpSetsRelayFlag() throws Exception {
        connectFrom(InetAddress.getByName(TRUSTED_IP));
        assertThat(handler.doMail(session, sender)).isEqualTo(HookResult.DECLINED);
        verify(session).setRelayingAllowed(true);
        verify(session, never()).setRelayingAllowed(false);
    }

    @Test
    void mailFromAuthenticatedUntrustedClientSetsRelayFlag() throws Exception {
        when(session.getUsername()).thenReturn(Username.of("alice@example.com"));
        when(session.isTLSStarted()).thenReturn(true);
        assertThat(handler.doMail(session, MaybeSender.of(new MailAddress("alice@example.com")))).isEqualTo(HookResult.DECLINED);
        verify(session).setRelayingAllowed(true);
        verify(session, never()).setRelayingAllowed(false);
    }

    @Test
    void mailWithUnknownAddressClearsRelayFlag() {
        session.from(null);
        assertThat(handler.doMail(session, sender)).isEqualTo(HookResult.DECLINED);
        verify(session).setRelayingAllowed(false);
    }

    @Test
    void nullSenderFromAStrangerPassesMail() {
        HookResult result = handler.doMail(session, MaybeSender.nullSender());
        assertThat(result.getResult()).isEqualTo(HookReturnCode.declined());
        // Only "accepted" counters may move.
        metrics.entrySet().stream().filter(entry -> !entry.getKey().contains(".accepted."))
            .forEach(entry -> verifyNoInteractions(entry.getValue()));
    }

    @Test
    void closedPolicyRefusesLoopback() throws Exception {
        MetricFactory metricFactory = mock(MetricFactory.class);
        when(metricFactory.generate(anyString())).thenAnswer(invocation -> mock(Metric.class));
        when(metricFactory.timer(anyString())).thenAnswer(invocation -> mock(org.apache.james.metrics.api.TimeMetric.class));
        RelayGuardHandler closed = newHandler(RelayPolicy.closed(), domain -> false, metricFactory);
        connectFrom(InetAddress.getByName("127.0.0.1"));

        closed.doMail(session, sender);
        verify(session).setRelayingAllowed(false);
        assertThat(closed.doRcpt(session, sender, new MailAddress("victim@remote.org")).getSmtpRetCode()).isEqualTo("550");
    }

    @Test
    void authenticationWithoutTlsDoesNotGrantRelayByDefault() throws Exception {
        when(session.getUsername()).thenReturn(Username.of("alice@example.com"));
        when(session.isTLSStarted()).thenReturn(false);

        HookResult result = handler.doRcpt(session, sender, new MailAddress("victim@remote.org"));

        assertThat(result.getResult()).isEqualTo(HookReturnCode.deny());
        assertThat(result.getSmtpRetCode()).isEqualTo("550");
        assertThat(result.getSmtpDescription()).startsWith("5.7.1 Relaying denied: authenticate over TLS");
        verify(session, never()).setRelayingAllowed(true);
    }

    // ---- MAIL: the raw command (James's cut), then the sender James recorded -----------------------------

    private org.apache.james.protocols.api.Response command(String command, String argument) {
        return handler.onCommand(session, new org.apache.james.protocols.api.BaseRequest(command, argument));
    }

    @Test
    void unqualifiedSenderFromAStrangerOnTheMxIsRefusedBeforeJamesCompletesIt() {
        org.apache.james.protocols.api.Response response = command("MAIL", "FROM:<admin>");

        assertThat(response.getRetCode()).isEqualTo("553");
        assertThat(response.getLines().get(0).toString()).startsWith("553 5.1.7 Sender address must be fully qualified");
        verify(metrics.get("relayguard.refused.sender.unqualified"), times(1)).increment();
    }

    @Test
    void unqualifiedSenderFromATrustedClientIsLeftToJamesToComplete() throws Exception {
        connectFrom(InetAddress.getByName(TRUSTED_IP));
        assertThat(command("MAIL", "FROM:<admin>")).isNull();
    }

    @Test
    void anAuthParameterIsAParameterNotPartOfThePath() {
        assertThat(command("MAIL", "FROM:<probe@example.org> AUTH=<demo@example.com>")).isNull();
        metrics.entrySet().stream().filter(entry -> !entry.getKey().contains(".accepted."))
            .forEach(entry -> verifyNoInteractions(entry.getValue()));
    }

    @Test
    void sourceRouteInMailIsRefusedBeforeJamesParsesIt() {
        assertThat(command("MAIL", "FROM:<@hop.example:x@y.org>").getRetCode()).isEqualTo("550");
        verify(metrics.get("relayguard.refused.routing.source-route"), times(1)).increment();
    }

    @Test
    void localSenderFromAStrangerIsRefusedOnTheAddressJamesRecorded() throws Exception {
        HookResult result = handler.doMail(session, MaybeSender.of(new MailAddress("postmaster@Example.COM")));

        assertThat(result.getResult()).isEqualTo(HookReturnCode.deny());
        assertThat(result.getSmtpRetCode()).isEqualTo("550");
        assertThat(result.getSmtpDescription()).startsWith("5.7.1 Sender address in a local domain");
        verify(metrics.get("relayguard.refused.sender.local-spoof"), times(1)).increment();
    }

    @Test
    void routingSyntaxInTheSenderJamesRecordedIsRefused() throws Exception {
        HookResult result = handler.doMail(session, MaybeSender.of(new MailAddress("\"user@remote.org\"@y.org")));

        assertThat(result.getSmtpRetCode()).isEqualTo("550");
        assertThat(result.getSmtpDescription()).contains("Routing syntax");
        verify(metrics.get("relayguard.refused.routing.at-in-local-part"), times(1)).increment();
    }

    @Test
    void authenticatedUserMayNotSendAsAnotherUserWhateverTheSpelling() throws Exception {
        when(session.getUsername()).thenReturn(Username.of("alice@example.com"));
        when(session.isTLSStarted()).thenReturn(true);

        for (String other : List.of("bob@example.com", "BOB@EXAMPLE.COM", "\"bob\"@example.com")) {
            HookResult result = handler.doMail(session, MaybeSender.of(new MailAddress(other)));
            assertThat(result.getSmtpRetCode()).as(other).isEqualTo("553");
        }
        for (String own : List.of("alice@example.com", "ALICE@Example.Com", "\"alice\"@example.com")) {
            assertThat(handler.doMail(session, MaybeSender.of(new MailAddress(own)))).as(own).isEqualTo(HookResult.DECLINED);
        }
    }

    // ---- end of DATA: From: and Sender: -------------------------------------------------------------------

    private static org.apache.mailet.Mail mail(String headers) throws Exception {
        javax.mail.internet.MimeMessage message = new javax.mail.internet.MimeMessage(
            javax.mail.Session.getDefaultInstance(new java.util.Properties()),
            new java.io.ByteArrayInputStream((headers + "Subject: t\r\n\r\nbody\r\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)));
        return org.apache.james.server.core.MailImpl.builder()
            .name("m1")
            .sender(new MailAddress("alice@example.com"))
            .addRecipient(new MailAddress("friend@remote.org"))
            .mimeMessage(message)
            .build();
    }

    private void authenticatedOverTls() {
        when(session.getUsername()).thenReturn(Username.of("alice@example.com"));
        when(session.isTLSStarted()).thenReturn(true);
    }

    @Test
    void fromHeaderOfAnotherUserIsRefusedAtEndOfData() throws Exception {
        authenticatedOverTls();

        HookResult result = handler.onMessage(session, mail("From: Bob <bob@example.com>\r\n"));

        assertThat(result.getResult()).isEqualTo(HookReturnCode.deny());
        assertThat(result.getSmtpRetCode()).isEqualTo("550");
        assertThat(result.getSmtpDescription()).isEqualTo("5.7.1 From: header address not owned by authenticated user");
        verify(metrics.get("relayguard.refused.sender.header-not-owned"), times(1)).increment();
    }

    @Test
    void ownFromHeaderIsAcceptedAndMarkedJudged() throws Exception {
        authenticatedOverTls();
        org.apache.mailet.Mail mail = mail("From: \"Alice, A.\" <Alice@Example.com>\r\n");

        assertThat(handler.onMessage(session, mail)).isEqualTo(HookResult.DECLINED);
        assertThat(mail.getAttribute(MailAttributes.SENDER_JUDGED)).isPresent();
    }

    @Test
    void missingOrDoubledFromHeaderIsRefusedNotPassed() throws Exception {
        authenticatedOverTls();

        assertThat(handler.onMessage(session, mail("")).getSmtpRetCode()).isEqualTo("550");
        assertThat(handler.onMessage(session, mail("From: alice@example.com\r\nFrom: alice@example.com\r\n")).getSmtpRetCode()).isEqualTo("550");
        verify(metrics.get("relayguard.refused.sender.header-invalid"), times(2)).increment();
    }

    @Test
    void unreadableMessageIsAClearRefusalNeverATemporaryError() throws Exception {
        authenticatedOverTls();
        org.apache.mailet.Mail mail = mock(org.apache.mailet.Mail.class);
        when(mail.getMaybeSender()).thenReturn(MaybeSender.nullSender());
        when(mail.getMessage()).thenThrow(new javax.mail.MessagingException("truncated"));

        HookResult result = handler.onMessage(session, mail);

        assertThat(result.getSmtpRetCode()).isEqualTo("550");
        assertThat(result.getSmtpDescription()).contains("From: header is not a list of mailboxes");
    }

    @Test
    void unauthenticatedMailIsNotJudgedByItsHeadersButMarkedSoThePipelineDoesNotEither() throws Exception {
        // James records a plaintext AUTH that RelayGuard does not count as Mail.SMTP_AUTH_USER: the pipeline must
        // not judge (or charge) with a user the SMTP handler did not accept.
        when(session.getUsername()).thenReturn(Username.of("alice@example.com"));
        when(session.isTLSStarted()).thenReturn(false);
        org.apache.mailet.Mail mail = mail("From: ceo@example.com\r\n");

        assertThat(handler.onMessage(session, mail)).isEqualTo(HookResult.DECLINED);
        assertThat(mail.getAttribute(MailAttributes.SENDER_JUDGED)).isPresent();
        assertThat(mail.getAttribute(MailAttributes.RATE_CHARGED)).isPresent();
        metrics.entrySet().stream().filter(entry -> !entry.getKey().contains(".accepted."))
            .forEach(entry -> verifyNoInteractions(entry.getValue()));
    }

    @Test
    void addressesLongerThanSmtpCarriesAreRefusedWithoutASoftening() throws Exception {
        HookResult rcpt = handler.doRcpt(session, sender, new MailAddress("a".repeat(300) + "@example.com"));
        assertThat(rcpt.getSmtpRetCode()).isEqualTo("553");
        assertThat(rcpt.getSmtpDescription()).startsWith("5.1.3 Recipient address too long: 312 characters, at most 254");
        HookResult mail = handler.doMail(session, MaybeSender.of(new MailAddress("b".repeat(250) + "@y.org")));
        assertThat(mail.getSmtpRetCode()).isEqualTo("553");
        assertThat(mail.getSmtpDescription()).startsWith("5.1.7 Sender address too long");
        // 254 characters is what SMTP carries: accepted.
        assertThat(handler.doRcpt(session, sender, new MailAddress("c".repeat(242) + "@example.com")).getResult())
            .isEqualTo(HookReturnCode.declined());
    }

    // ---- AUTH -----------------------------------------------------------------------------------------

    @Test
    void authWhereALoginWouldNotCountIsAnsweredBeforeJamesReadsAnyCredential() {
        assertThat(handler.getImplCommands()).contains("AUTH");

        org.apache.james.protocols.api.Response response = command("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==");

        assertThat(response.getRetCode()).isEqualTo("503");
        assertThat(response.getLines()).singleElement().asString()
            .isEqualTo("503 5.5.1 Authentication not available on this port without TLS");
        assertThat(response.isEndSession()).isFalse();
        verify(metrics.get("relayguard.refused.auth.not-offered")).increment();
    }

    @Test
    void aPasswordIsCheckedByTheAuthHooksAfterThisHandlerOnly() {
        AuthHook before = mock(AuthHook.class);
        AuthHook after = mock(AuthHook.class);
        HookResult ok = HookResult.builder().hookReturnCode(HookReturnCode.ok()).smtpDescription("Authentication Successful").build();
        when(after.doAuth(any(), any(), any())).thenReturn(ok);
        assertThat(handler.getMarkerInterfaces()).contains(AuthHook.class);

        handler.wireExtensions(AuthHook.class, List.of(before, handler, after));
        HookResult result = handler.doAuth(session, Username.of("alice@example.com"), "secret");

        assertThat(result).isSameAs(ok);
        verify(after).doAuth(session, Username.of("alice@example.com"), "secret");
        verifyNoInteractions(before);
    }
}
