package dev.relayguard.smtp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.commons.configuration2.BaseHierarchicalConfiguration;
import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.apache.james.protocols.api.BaseRequest;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;
import org.apache.james.server.core.MailImpl;
import org.apache.mailet.Mail;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.MailAttributes;
import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.manage.Operations;
import dev.relayguard.observe.RefusalRecorder;

/**
 * The handler's stateful path, on sessions that keep real attachments ({@link FakeSmtpSession}) and a real RelayGuard
 * with an in-memory limiter on a fake clock: the transaction's rate charges (committed at the end of DATA, given back
 * on RSET, HELO, EHLO, a new MAIL, disconnect or a refusal), the 421 after too many refused recipients, the probe ban
 * at connect, and the raw MAIL/RCPT checks in the order James calls them.
 */
class HandlerSessionTest {
    private static final String USER = "alice@example.com";
    private static final String STRANGER_IP = "203.0.113.9";
    /** One message, two recipients per minute for users; two refused recipients per connection, then 421. */
    private static final String POLICY = "<rateLimits><users>"
        + "<limit measure=\"messages\" max=\"1\" per=\"1m\"/>"
        + "<limit measure=\"recipients\" max=\"2\" per=\"1m\"/>"
        + "<limit measure=\"bytes\" max=\"1k\" per=\"1m\"/>"
        + "</users></rateLimits>"
        + "<sessionLimits><maxRefusedRecipients>2</maxRefusedRecipients></sessionLimits>"
        + "<probeBans><refusals>3</refusals><window>10m</window><banFor>1h</banFor></probeBans>";

    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private final RecordingMetricFactory metrics = new RecordingMetricFactory();
    private final RelayGuard guard = guard(POLICY);
    private RelayGuardHandler handler = new RelayGuardHandler(guard);
    private int sessions;

    /** The RelayGuard counters that moved, by name. */
    private Map<String, Integer> moved(String prefix) {
        return metrics.countForPrefixName(prefix).entrySet().stream().filter(entry -> entry.getValue() > 0)
            .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
    }

    private static RelayGuardSettings settings(String policy) {
        byte[] xml = ("<relayguard>" + policy + "</relayguard>").getBytes(UTF_8);
        return PolicyFile.parse(PolicyFile.parseXml(xml, PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    private RelayGuard guard(String policy) {
        RelayGuardSettings settings = settings(policy);
        return new RelayGuard(settings, domain -> domain.equals("example.com"), (user, sender) -> false,
            new RefusalRecorder(metrics), clock::get, new MemoryLimiterStore(1000, clock::get));
    }

    private FakeSmtpSession stranger() throws Exception {
        return new FakeSmtpSession("s" + ++sessions, InetAddress.getByName(STRANGER_IP));
    }

    private FakeSmtpSession alice() throws Exception {
        return stranger().authenticated(USER, true);
    }

    private Response command(FakeSmtpSession session, String command, String argument) {
        return handler.onCommand(session, new BaseRequest(command, argument));
    }

    /** MAIL as James runs it: our raw check, James's parsing, the hooks; James records the sender when they pass. */
    private HookResult mail(FakeSmtpSession session, String sender) throws Exception {
        Response raw = command(session, "MAIL", "FROM:<" + sender + ">");
        assertThat(raw).as("raw MAIL check").isNull();
        HookResult result = handler.doMail(session, MaybeSender.of(new MailAddress(sender)));
        if (result.getResult().equals(HookReturnCode.declined())) {
            session.jamesAcceptedMail(MaybeSender.of(new MailAddress(sender)));
        }
        return result;
    }

    private HookResult rcpt(FakeSmtpSession session, String recipient) throws Exception {
        Response raw = command(session, "RCPT", "TO:<" + recipient + ">");
        assertThat(raw).as("raw RCPT check").isNull();
        return handler.doRcpt(session, session.getAttachment(org.apache.james.protocols.smtp.SMTPSession.SENDER,
            org.apache.james.protocols.api.ProtocolSession.State.Transaction).orElseThrow(), new MailAddress(recipient));
    }

    /** End of DATA with these recipients (those James accepted) and a From: of the user's. */
    private HookResult data(FakeSmtpSession session, String... recipients) throws Exception {
        Mail mail = mail(recipients);
        HookResult result = handler.onMessage(session, mail);
        session.resetState(); // James ends the transaction after DATA
        return result;
    }

    private static Mail mail(String... recipients) throws Exception {
        MailImpl.Builder builder = MailImpl.builder().name("m" + System.nanoTime()).sender(new MailAddress(USER))
            .mimeMessage(new javax.mail.internet.MimeMessage(javax.mail.Session.getDefaultInstance(new java.util.Properties()),
                new ByteArrayInputStream(("From: " + USER + "\r\nSubject: t\r\n\r\nbody\r\n").getBytes(UTF_8))));
        for (String recipient : recipients) {
            builder.addRecipient(new MailAddress(recipient));
        }
        return builder.build();
    }

    /** Whether the user may count one more message now (a fresh session's MAIL; that session then gives it back). */
    private boolean anotherMessageFits() throws Exception {
        FakeSmtpSession probe = alice();
        boolean fits = mail(probe, USER).equals(HookResult.DECLINED);
        handler.onDisconnect(probe);
        return fits;
    }

    // ---- the transaction's charges --------------------------------------------------------------------------------

    /**
     * Issue 15 (trial): the README's install steps give a relayguard.xml without rate limits; a JMX suspension must
     * still refuse the user's MAIL (it used to be checked only for users with a rate limit).
     */
    @Test
    void aSuspensionRefusesMailOfAUserWithoutAnyRateLimit() throws Exception {
        RelayGuard unlimited = guard("");
        handler = new RelayGuardHandler(unlimited);
        assertThat(mail(alice(), USER)).as("no limits, not suspended").isEqualTo(HookResult.DECLINED);

        new Operations(unlimited).suspend(USER.toUpperCase(Locale.ROOT), "leaked");
        HookResult refused = mail(alice(), USER);

        assertThat(refused.getSmtpRetCode()).isEqualTo("450");
        assertThat(refused.getSmtpDescription()).isEqualTo("4.7.1 Account suspended from sending by the postmaster");
        assertThat(mail(stranger(), "friend@remote.org")).as("strangers have no suspension").isEqualTo(HookResult.DECLINED);
    }

    @Test
    void chargesAreCommittedAtTheEndOfData() throws Exception {
        FakeSmtpSession session = alice();
        assertThat(mail(session, USER)).isEqualTo(HookResult.DECLINED);
        assertThat(rcpt(session, "friend@remote.org")).isEqualTo(HookResult.DECLINED);
        Mail accepted = mail("friend@remote.org");
        assertThat(handler.onMessage(session, accepted)).isEqualTo(HookResult.DECLINED);
        assertThat(accepted.getAttribute(MailAttributes.RATE_CHARGED)).isPresent();
        assertThat(accepted.getAttribute(MailAttributes.SENDER_JUDGED)).isPresent();

        handler.onDisconnect(session); // nothing left to give back
        assertThat(anotherMessageFits()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"RSET", "HELO", "EHLO"})
    void chargesAreGivenBackWhenTheTransactionIsAbandoned(String command) throws Exception {
        FakeSmtpSession session = alice();
        assertThat(mail(session, USER)).isEqualTo(HookResult.DECLINED);
        assertThat(anotherMessageFits()).as("while the transaction is open").isFalse();

        assertThat(command(session, command, "client.example")).isNull();

        assertThat(anotherMessageFits()).isTrue();
    }

    @Test
    void chargesAreGivenBackOnDisconnect() throws Exception {
        FakeSmtpSession session = alice();
        assertThat(mail(session, USER)).isEqualTo(HookResult.DECLINED);
        handler.onDisconnect(session);
        assertThat(anotherMessageFits()).isTrue();
    }

    @Test
    void aNewMailAfterAnAbandonedTransactionIsCountedOnce() throws Exception {
        FakeSmtpSession session = alice();
        assertThat(mail(session, USER)).isEqualTo(HookResult.DECLINED);
        session.resetState(); // a transaction James ended without DATA (e.g. every RCPT refused, then RSET elsewhere)
        assertThat(mail(session, USER)).as("its own leftovers are given back first").isEqualTo(HookResult.DECLINED);
    }

    @Test
    void aRefusalAtTheEndOfDataGivesEverythingBack() throws Exception {
        FakeSmtpSession session = alice();
        assertThat(mail(session, USER)).isEqualTo(HookResult.DECLINED);
        Mail spoofed = MailImpl.builder().name("spoof").sender(new MailAddress(USER)).addRecipient(new MailAddress("a@remote.org"))
            .mimeMessage(new javax.mail.internet.MimeMessage(javax.mail.Session.getDefaultInstance(new java.util.Properties()),
                new ByteArrayInputStream("From: ceo@example.com\r\n\r\nbody\r\n".getBytes(UTF_8))))
            .build();

        HookResult result = handler.onMessage(session, spoofed);

        assertThat(result.getSmtpRetCode()).isEqualTo("550");
        assertThat(spoofed.getAttribute(MailAttributes.RATE_CHARGED)).isEmpty();
        assertThat(anotherMessageFits()).isTrue();
    }

    /** With two messages a minute allowed: a session of alice's with MAIL and these recipients accepted. */
    private FakeSmtpSession twoMessagesAllowedAndTransaction(String... recipients) throws Exception {
        handler = new RelayGuardHandler(guard(POLICY.replace("\"messages\" max=\"1\"", "\"messages\" max=\"2\"")));
        FakeSmtpSession session = alice();
        assertThat(mail(session, USER)).isEqualTo(HookResult.DECLINED);
        for (String recipient : recipients) {
            assertThat(rcpt(session, recipient)).as(recipient).isEqualTo(HookResult.DECLINED);
        }
        return session;
    }

    @Test
    void recipientsJamesRefusedAfterUsAreGivenBackAtTheEndOfData() throws Exception {
        FakeSmtpSession session = twoMessagesAllowedAndTransaction("a@remote.org", "b@remote.org");
        assertThat(rcpt(session, "c@remote.org").getSmtpRetCode()).as("recipient limit 2").isEqualTo("450");

        assertThat(data(session, "a@remote.org")).isEqualTo(HookResult.DECLINED); // b refused by a later hook

        FakeSmtpSession next = alice(); // recipient a is counted, b was given back: one more fits
        assertThat(mail(next, USER)).isEqualTo(HookResult.DECLINED);
        assertThat(rcpt(next, "d@remote.org")).isEqualTo(HookResult.DECLINED);
        assertThat(rcpt(next, "e@remote.org").getSmtpRetCode()).isEqualTo("450");
    }

    @Test
    void aRecipientSpelledInAnotherCaseOnTheMailKeepsItsCharge() throws Exception {
        FakeSmtpSession session = twoMessagesAllowedAndTransaction("Friend@Remote.org", "b@remote.org");

        assertThat(data(session, "friend@remote.org", "b@remote.org")).isEqualTo(HookResult.DECLINED);

        FakeSmtpSession next = alice(); // both recipients stay counted: the limit of 2 is reached
        assertThat(mail(next, USER)).isEqualTo(HookResult.DECLINED);
        assertThat(rcpt(next, "c@remote.org").getSmtpRetCode()).isEqualTo("450");
    }

    @Test
    void aDeclaredSizeOverTheByteLimitRefusesMailAndGivesTheMessageBack() throws Exception {
        FakeSmtpSession session = alice();
        assertThat(command(session, "MAIL", "FROM:<" + USER + "> SIZE=5000")).isNull();

        HookResult result = handler.doMail(session, MaybeSender.of(new MailAddress(USER)));

        assertThat(result.getSmtpRetCode()).isEqualTo("452");
        assertThat(anotherMessageFits()).isTrue();
    }

    // ---- refused recipients per connection ------------------------------------------------------------------------

    @Test
    void theRefusalAfterMaxRefusedRecipientsIs421AndClosesTheConnection() throws Exception {
        FakeSmtpSession session = stranger();
        mail(session, "x@y.org");
        assertThat(rcpt(session, "v1@remote.org").getSmtpRetCode()).isEqualTo("550");
        assertThat(rcpt(session, "v2@remote.org").getSmtpRetCode()).isEqualTo("550");

        HookResult third = rcpt(session, "v3@remote.org");

        assertThat(third.getResult()).isEqualTo(HookReturnCode.disconnected(HookReturnCode.Action.DENYSOFT));
        assertThat(third.getSmtpRetCode()).isEqualTo("421");
        assertThat(third.getSmtpDescription()).isEqualTo("4.7.0 Too many refused recipients (2), closing connection");
        assertThat(moved("relayguard.refused.")).isEqualTo(Map.of("relayguard.refused.relay.unauthenticated", 2));
        assertThat(metrics.countFor("relayguard.deferred.session.too-many-refusals")).isEqualTo(1);
    }

    @Test
    void rawRefusalsCountTowardsTheSameLimitAndTheRawAnswerClosesTheConnectionToo() throws Exception {
        FakeSmtpSession session = stranger();
        mail(session, "x@y.org");
        assertThat(rcpt(session, "v1@remote.org").getSmtpRetCode()).isEqualTo("550");
        assertThat(command(session, "RCPT", "TO:<@hop.example:v2@remote.org>").getRetCode()).isEqualTo("550");

        Response third = command(session, "RCPT", "TO:<@hop.example:v3@remote.org>");

        assertThat(third.getLines()).containsExactly("421 4.7.0 Too many refused recipients (2), closing connection");
        assertThat(third.isEndSession()).isTrue();
    }

    @Test
    void theRefusalCountIsPerConnection() throws Exception {
        FakeSmtpSession first = stranger();
        mail(first, "x@y.org");
        rcpt(first, "v1@remote.org");
        rcpt(first, "v2@remote.org");
        FakeSmtpSession second = new FakeSmtpSession("other", InetAddress.getByName("203.0.113.10"));
        mail(second, "x@y.org");
        assertThat(rcpt(second, "v3@remote.org").getSmtpRetCode()).isEqualTo("550");
    }

    // ---- connect ---------------------------------------------------------------------------------------------------

    @Test
    void aClientBannedForRelayProbingGets421AtConnectOnTheMxOnly() throws Exception {
        FakeSmtpSession prober = stranger();
        assertThat(handler.onConnect(prober)).isSameAs(SmtpAnswers.SILENT);
        mail(prober, "x@y.org");
        for (int i = 1; i <= 2; i++) {
            assertThat(rcpt(prober, "v" + i + "@remote.org").getSmtpRetCode()).isEqualTo("550");
        }
        FakeSmtpSession again = stranger();
        mail(again, "x@y.org");
        assertThat(rcpt(again, "v3@remote.org").getSmtpRetCode()).as("third probe refusal: ban").isEqualTo("550");

        Response banned = handler.onConnect(stranger());

        assertThat(banned.getLines()).containsExactly("421 4.7.0 Too many relay attempts from " + STRANGER_IP + ", try again later");
        assertThat(banned.isEndSession()).isTrue();
        assertThat(metrics.countFor("relayguard.deferred.probe.banned")).isEqualTo(1);

        RelayGuardHandler submission = new RelayGuardHandler(guard);
        BaseHierarchicalConfiguration config = new BaseHierarchicalConfiguration();
        config.addProperty("role", "submission");
        submission.init(config);
        assertThat(submission.onConnect(stranger())).isSameAs(SmtpAnswers.SILENT);
    }

    @Test
    void connectSetsJamesRelayFlagFromTrustedNetworks() throws Exception {
        RelayGuardHandler trusting = new RelayGuardHandler(guard("<trustedNetworks><network>192.0.2.0/24</network></trustedNetworks>"));
        FakeSmtpSession trusted = new FakeSmtpSession("t", InetAddress.getByName("192.0.2.25"));
        trusted.setRelayingAllowed(false);
        FakeSmtpSession untrusted = stranger();
        untrusted.setRelayingAllowed(true); // as James's authorizedAddresses might have set it

        trusting.onConnect(trusted);
        trusting.onConnect(untrusted);

        assertThat(trusted.isRelayingAllowed()).isTrue();
        assertThat(untrusted.isRelayingAllowed()).isFalse();
    }

    // ---- <relay>monitor</relay>: James's authorizedAddresses decide, RelayGuard counts ------------------------------

    private static final String TRUSTS_192_0_2 = "<trustedNetworks><network>192.0.2.0/24</network></trustedNetworks>";
    private static final String RELAY_MONITOR = "<rules><relay>monitor</relay></rules>";

    /** A session James opened with its own relaying flag ({@code <authorizedAddresses>} covering the client or not). */
    private static FakeSmtpSession jamesSession(String id, String ip, boolean authorizedAddressesCover) throws Exception {
        FakeSmtpSession session = new FakeSmtpSession(id, InetAddress.getByName(ip));
        session.setRelayingAllowed(authorizedAddressesCover);
        return session;
    }

    @Test
    void inRelayMonitorModeJamesAuthorizedStrangerRelaysAndEachWouldBeRefusalIsCounted() throws Exception {
        handler = new RelayGuardHandler(guard(TRUSTS_192_0_2 + RELAY_MONITOR));
        FakeSmtpSession session = jamesSession("m1", STRANGER_IP, true);

        assertThat(handler.onConnect(session)).isSameAs(SmtpAnswers.SILENT);
        assertThat(session.isRelayingAllowed()).as("James's flag kept at connect").isTrue();
        assertThat(mail(session, "x@remote.org")).isEqualTo(HookResult.DECLINED);
        assertThat(session.isRelayingAllowed()).as("James's flag kept at MAIL").isTrue();
        assertThat(rcpt(session, "a@remote.org")).isEqualTo(HookResult.DECLINED);
        assertThat(rcpt(session, "b@remote.org")).isEqualTo(HookResult.DECLINED);
        assertThat(rcpt(session, "local@example.com")).isEqualTo(HookResult.DECLINED);

        assertThat(session.isRelayingAllowed()).isTrue();
        assertThat(moved("relayguard.monitored.")).containsOnly(Map.entry("relayguard.monitored.relay.unauthenticated", 2));
        assertThat(moved("relayguard.refused.")).isEmpty();
    }

    @Test
    void inRelayMonitorModeRelayGuardNeverOpensRelayingJamesRefuses() throws Exception {
        handler = new RelayGuardHandler(guard(TRUSTS_192_0_2 + RELAY_MONITOR));
        FakeSmtpSession trustedByRelayGuardOnly = jamesSession("m2", "192.0.2.25", false);
        FakeSmtpSession stranger = jamesSession("m3", STRANGER_IP, false);

        handler.onConnect(trustedByRelayGuardOnly);
        handler.onConnect(stranger);
        mail(trustedByRelayGuardOnly, "x@remote.org");
        mail(stranger, "y@remote.org");

        assertThat(trustedByRelayGuardOnly.isRelayingAllowed()).as("RelayGuard's trustedNetworks do not open relaying").isFalse();
        assertThat(stranger.isRelayingAllowed()).isFalse();
        assertThat(rcpt(trustedByRelayGuardOnly, "a@remote.org")).as("RelayGuard would allow: nothing counted").isEqualTo(HookResult.DECLINED);
        assertThat(rcpt(stranger, "b@remote.org")).as("James answers its own refusal").isEqualTo(HookResult.DECLINED);
        assertThat(moved("relayguard.monitored.")).containsOnly(Map.entry("relayguard.monitored.relay.unauthenticated", 1));
        assertThat(moved("relayguard.refused.")).isEmpty();
    }

    @Test
    void inRelayMonitorModeAnAuthJamesAcceptedOpensRelayingAsJamesSetIt() throws Exception {
        handler = new RelayGuardHandler(guard(RELAY_MONITOR));
        FakeSmtpSession session = jamesSession("m4", STRANGER_IP, false);
        handler.onConnect(session);
        session.authenticated(USER, true);
        session.setRelayingAllowed(true); // James's AUTH sets the flag

        assertThat(mail(session, USER)).isEqualTo(HookResult.DECLINED);
        assertThat(session.isRelayingAllowed()).isTrue();
        assertThat(rcpt(session, "a@remote.org")).isEqualTo(HookResult.DECLINED);
        assertThat(moved("relayguard.monitored.")).isEmpty();
    }

    @Test
    void aReloadSwitchingTheRelayModeDecidesTheFlagOfLaterSessionsAndLaterCommands() throws Exception {
        handler = new RelayGuardHandler(guard);
        FakeSmtpSession underReject = jamesSession("r1", STRANGER_IP, true);
        handler.onConnect(underReject);
        assertThat(underReject.isRelayingAllowed()).as("reject: RelayGuard's answer").isFalse();

        guard.reloader().source(() -> settings(POLICY + RELAY_MONITOR));
        guard.reloader().reload();
        FakeSmtpSession underMonitor = jamesSession("r2", STRANGER_IP, true);
        handler.onConnect(underMonitor);
        assertThat(underMonitor.isRelayingAllowed()).as("monitor: James's flag").isTrue();
        mail(underReject, "x@remote.org");
        assertThat(underReject.isRelayingAllowed()).as("an older session gets James's flag back at MAIL").isTrue();

        guard.reloader().source(() -> settings(POLICY));
        guard.reloader().reload();
        mail(underMonitor, "y@remote.org");
        assertThat(underMonitor.isRelayingAllowed()).as("reject again: RelayGuard's answer").isFalse();
        assertThat(rcpt(underMonitor, "a@remote.org").getSmtpRetCode()).isEqualTo("550");
    }

    // ---- raw MAIL / RCPT: what is left to James --------------------------------------------------------------------

    @Test
    void outOfSequenceCommandsAreLeftToJames() throws Exception {
        FakeSmtpSession session = stranger();
        assertThat(command(session, "RCPT", "TO:<@hop.example:v@remote.org>")).as("RCPT before MAIL").isNull();
        mail(session, "x@y.org");
        assertThat(command(session, "MAIL", "FROM:<admin>")).as("MAIL inside a transaction").isNull();
        assertThat(command(session, "MAIL", "FROM:<>")).isNull();
        assertThat(moved("relayguard.refused.")).isEmpty();
    }

    @Test
    void aFailureInsideRelayGuardDefersTheRawCommand() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean broken = new java.util.concurrent.atomic.AtomicBoolean();
        RecordingMetricFactory failing = new RecordingMetricFactory() {
            @Override
            public org.apache.james.metrics.api.Metric generate(String name) {
                if (broken.get()) {
                    throw new IllegalStateException("bug");
                }
                return super.generate(name);
            }
        };
        RelayGuardHandler handlerWithBug = new RelayGuardHandler(new RelayGuard(
            PolicyFile.parse(PolicyFile.parseXml("<relayguard/>".getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME),
            domain -> false, new RefusalRecorder(failing)));
        broken.set(true);

        Response response = handlerWithBug.onCommand(stranger(), new BaseRequest("MAIL", "FROM:<admin>"));

        assertThat(response.getLines()).containsExactly("451 4.3.0 Temporary local problem, try again later");
    }
}
