package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;

import javax.mail.Session;
import javax.mail.internet.MimeMessage;
import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.core.MailAddress;
import org.apache.james.mailrepository.api.MailKey;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
import org.apache.james.server.core.MailImpl;
import org.apache.james.utils.DataProbeImpl;
import org.apache.james.utils.MailRepositoryProbeImpl;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Defence in depth: the sample's mail pipeline applies RelayGuard's verdict to every mail, whatever door it
 * came through. A third SMTP listener is misconfigured on purpose: no RelayGuard handler and James's
 * {@code authorizedAddresses} at {@code 0.0.0.0/0} (James accepts any relay there). RemoteDelivery is pointed at
 * a loopback SMTP sink, so the tests see exactly what would have left the server. A refused mail is bounced only
 * to a sender somebody verified (an authenticated or local user): a stranger's forged sender gets no backscatter.
 */
class PipelineDefenceIT {
    private static final String DOMAIN = RelayGuardServers.DOMAIN;
    private static final String DEMO = RelayGuardServers.DEMO_USER;
    private static final MailRepositoryUrl DENIED = MailRepositoryUrl.from("memory://var/mail/relayguard-relay-denied/");
    private static final SmtpSink SINK = SmtpSink.started();

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf
        .replace("smtpserver.xml", "</smtpservers>", "<smtpserver enabled=\"true\"><jmxName>smtp-open</jmxName>"
            + "<bind>127.0.0.1:0</bind><tls socketTLS=\"false\" startTLS=\"false\"/>"
            + "<auth><announce>never</announce><requireSSL>false</requireSSL><plainAuthEnabled>true</plainAuthEnabled></auth>"
            + "<authorizedAddresses>0.0.0.0/0</authorizedAddresses><verifyIdentity>false</verifyIdentity>"
            + "<handlerchain><handler class=\"org.apache.james.smtpserver.CoreCmdHandlerLoader\"/></handlerchain>"
            + "</smtpserver></smtpservers>")
        .replace("mailetcontainer.xml", "<outgoingQueue>outgoing</outgoingQueue>",
            "<outgoingQueue>outgoing</outgoingQueue><gateway>127.0.0.1</gateway><gatewayPort>" + SINK.port() + "</gatewayPort>")
        .policyXml("<probeBans><refusals>0</refusals></probeBans><pipeline><sentByMailet>judge</sentByMailet></pipeline>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        server.getProbe(DataProbeImpl.class).fluent().addUser(DEMO, RelayGuardServers.DEMO_PASSWORD);
    }

    @AfterAll
    static void stopSink() throws Exception {
        SINK.close();
    }

    private static int openListenerPort() throws Exception {
        String[] bound = (String[]) ManagementFactory.getPlatformMBeanServer()
            .getAttribute(new ObjectName("org.apache.james:type=server,name=smtp-open"), "BoundAddresses");
        return Integer.parseInt(bound[0].substring(bound[0].lastIndexOf(':') + 1));
    }

    private static void await(String what, Callable<Boolean> condition) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        while (!condition.call()) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(100);
        }
    }

    private static long denied(GuiceJamesServer server) throws Exception {
        return server.getProbe(MailRepositoryProbeImpl.class).getRepositoryMailCount(DENIED);
    }

    private static List<String> inbox(GuiceJamesServer server) throws Exception {
        return server.getProbe(MailboxContentProbe.class).inbox(DEMO);
    }

    @Test
    void relayAcceptedByAMisconfiguredListenerNeverLeavesItIsKeptCountedAndBouncedToItsLocalSender(GuiceJamesServer server) throws Exception {
        long keptBefore = denied(server);
        int inboxBefore = inbox(server).size();
        Map<String, Long> before = relayGuardMeters();
        Attempt attempt = Attempt.run(openListenerPort(), false, null, null, "<" + DEMO + ">", "<victim@remote.example>");
        assertThat(attempt.relayed()).as("James itself accepts the relay on this listener: " + attempt).isTrue();

        await("the mail kept in " + DENIED.asString(), () -> denied(server) == keptBefore + 1);
        await("the bounce in the sender's mailbox", () -> inbox(server).size() == inboxBefore + 1);
        assertThat(inbox(server).get(inboxBefore)).contains("Relaying denied").contains("victim@remote.example");
        assertThat(increasedSince(before)).isEqualTo(Map.of(
            "relayguard.refused.relay.unauthenticated", 1L,
            "relayguard.pipeline.refused.relay.unauthenticated", 1L));
        assertThat(SINK.recipients()).doesNotContain("victim@remote.example");
    }

    @Test
    void aStrangersRelayAttemptIsKeptAndCountedButItsForgedSenderGetsNoBounce(GuiceJamesServer server) throws Exception {
        long keptBefore = denied(server);
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = SmtpClient.connect(openListenerPort())) {
            smtp.ehlo("stranger.example");
            assertThat(smtp.mailFrom("forged-victim@remote.example").code()).isEqualTo(250);
            assertThat(smtp.rcptTo("x@remote.example").code()).as("James itself accepts the relay on this listener").isEqualTo(250);
            assertThat(smtp.data("Subject: forged-sender\r\n\r\nrelay attempt with a forged sender").code()).isEqualTo(250);
        }

        await("the relay attempt kept in " + DENIED.asString(), () -> denied(server) == keptBefore + 1);
        await("the suppressed bounce counted", () -> increasedSince(before).containsKey("relayguard.pipeline.bounce-suppressed"));
        assertThat(increasedSince(before)).isEqualTo(Map.of(
            "relayguard.refused.relay.unauthenticated", 1L,
            "relayguard.pipeline.refused.relay.unauthenticated", 1L,
            "relayguard.pipeline.bounce-suppressed", 1L));
        // A bounce would go to the sink, or (sentByMailet=judge here) be judged and kept next to the relay attempt.
        assertThat(SINK.recipients()).doesNotContain("forged-victim@remote.example", "x@remote.example");
        MailRepositoryProbeImpl repositories = server.getProbe(MailRepositoryProbeImpl.class);
        for (MailKey key : repositories.listMailKeys(DENIED)) {
            assertThat(repositories.getMail(DENIED, key).getRecipients()).as("no bounce to the forged sender")
                .doesNotContain(new MailAddress("forged-victim@remote.example"));
        }
    }

    @Test
    void authenticatedSubmissionReachesTheSink(GuiceJamesServer server) throws Exception {
        Attempt attempt = Attempt.run(RelayGuardServers.submissionPort(server), true, DEMO, RelayGuardServers.DEMO_PASSWORD,
            "<" + DEMO + ">", "<friend@remote.example>");
        assertThat(attempt.relayed()).isTrue();
        await("the relayed mail at the sink", () -> SINK.recipients().contains("friend@remote.example"));
    }

    @Test
    void mixedRecipientsAreSplitTheLocalOneIsDelivered(GuiceJamesServer server) throws Exception {
        long keptBefore = denied(server);
        int inboxBefore = inbox(server).size();
        try (SmtpClient smtp = SmtpClient.connect(openListenerPort())) {
            smtp.ehlo("outsider.example");
            smtp.mailFrom("outsider@outsider.example");
            assertThat(smtp.rcptTo(DEMO).code()).isEqualTo(250);
            assertThat(smtp.rcptTo("victim2@remote.example").code()).isEqualTo(250);
            assertThat(smtp.data("Subject: mixed-recipients\r\n\r\nfor demo and a remote victim").code()).isEqualTo(250);
        }
        // The remote part is kept; the remote outsider, whom nobody verified, gets no bounce.
        await("the remote part kept", () -> denied(server) >= keptBefore + 1);
        await("the local part delivered", () -> inbox(server).stream().skip(inboxBefore).anyMatch(m -> m.contains("mixed-recipients")));
        assertThat(SINK.recipients()).doesNotContain("victim2@remote.example");
    }

    @Test
    void mailInjectedWithoutSmtpIsJudgedTheSameWay(GuiceJamesServer server) throws Exception {
        long keptBefore = denied(server);
        MailInjectionProbe injector = server.getProbe(MailInjectionProbe.class);
        injector.send(MailImpl.builder().name("injected-stranger-" + System.nanoTime())
            .sender(DEMO).addRecipient("victim3@remote.example").mimeMessage(message("no user")).build());
        injector.send(MailImpl.builder().name("injected-user-" + System.nanoTime())
            .sender(DEMO).addRecipient("friend3@remote.example").mimeMessage(message("authenticated"))
            .addAttribute(new Attribute(Mail.SMTP_AUTH_USER, AttributeValue.of(DEMO))).build());
        await("the authenticated one at the sink", () -> SINK.recipients().contains("friend3@remote.example"));
        await("the unauthenticated one kept", () -> denied(server) == keptBefore + 1);
        assertThat(SINK.recipients()).doesNotContain("victim3@remote.example");
    }

    private static MimeMessage message(String text) throws Exception {
        MimeMessage message = new MimeMessage(Session.getInstance(new Properties()));
        message.setFrom(new javax.mail.internet.InternetAddress(DEMO)); // its author, as JMAP writes it
        message.setSubject("injected");
        message.setText(text);
        message.saveChanges();
        return message;
    }
}
