package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static dev.relayguard.it.SenderDialogs.BOB;
import static dev.relayguard.it.SenderDialogs.READER;
import static dev.relayguard.it.SenderDialogs.delivered;
import static dev.relayguard.it.SenderDialogs.message;
import static dev.relayguard.it.SenderDialogs.submission;
import static dev.relayguard.it.SenderDialogs.token;
import static dev.relayguard.it.SenderDialogs.transaction;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Properties;

import javax.mail.Session;
import javax.mail.internet.InternetAddress;
import javax.mail.internet.MimeMessage;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.server.core.MailImpl;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.it.SenderDialogs.Step;
import dev.relayguard.it.SmtpClient.Reply;

/**
 * Issue 10 under the sample edited the two ways an operator would: {@code <senderOwnership>known-only</senderOwnership>}
 * (only senders in local domains are checked) and {@code <headerFrom>monitor</headerFrom>} (a From: the user
 * does not own is delivered, counted as {@code relayguard.monitored.sender.header-...} and logged).
 */
class SenderRuleModesIT {
    private static final LogCapture AUDIT = LogCapture.of("relayguard.audit");

    @RegisterExtension
    static JamesServerExtension james = SenderDialogs.server(conf -> conf
        .replace("relayguard.xml", "<senderOwnership>strict</senderOwnership>", "<senderOwnership>known-only</senderOwnership>")
        .replace("relayguard.xml", "<headerFrom>reject</headerFrom>", "<headerFrom>monitor</headerFrom>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        SenderDialogs.addUsers(server);
    }

    // ------------------------------------------------------------------ known-only

    /** The third dialog: with the path cut at the last '>', this read as a foreign sender and passed. */
    @ParameterizedTest
    @ValueSource(strings = {"<ceo@relayguard.test> X=y> z", "<ceo@relayguard.test> AUTH=<ceo@bank.example>",
        "<ceo> X=y> z", "<CEO@RelayGuard.Test> ENVID=<a@b.example> RET=FULL"})
    void knownOnlyStillJudgesALocalSenderWhateverFollowsThePath(String mailFrom, GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = submission(server)) {
            Reply mail = smtp.command("MAIL FROM:" + mailFrom);
            assertThat(mail.code()).as(mail.toString()).isEqualTo(553);
            assertThat(mail.enhancedStatus()).isEqualTo("5.7.1");
            assertThat(mail.text()).isEqualTo("5.7.1 Sender address not owned by authenticated user");
            assertThat(smtp.rcptTo(READER).code()).isEqualTo(503);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.sender.not-owned", 1L));
    }

    @Test
    void knownOnlyLetsAForeignEnvelopeAndHeaderSenderThrough(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("known-only-foreign");
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<ceo@bank.example>", READER, message(token, "From: The CEO <ceo@bank.example>"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        assertThat(delivered(server, READER, token)).contains("Return-Path: <ceo@bank.example>");
        assertThat(increasedSince(before)).isEmpty();
    }

    // ------------------------------------------------------------------ headerFrom = monitor

    @Test
    void fromAnotherUserInMonitorModeIsDeliveredCountedAndLogged(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        int lines = AUDIT.lines().size();
        String token = token("monitor-from-bob");
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<" + DEMO_USER + ">", READER, message(token, "From: Bob <" + BOB + ">"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        assertThat(delivered(server, READER, token)).contains("From: Bob <" + BOB + ">");
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.monitored.sender.header-not-owned", 1L));
        List<String> audit = AUDIT.lines().subList(lines, AUDIT.lines().size());
        assertThat(audit).singleElement().satisfies(line -> assertThat(line)
            .contains("outcome=monitored", "reason=sender.header-not-owned", "user=" + DEMO_USER,
                "reply=\"550 5.7.1 From: header address not owned by authenticated user\""));
    }

    @Test
    void missingFromInMonitorModeIsDeliveredAndCountedAsInvalid(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("monitor-no-from");
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<" + DEMO_USER + ">", READER, message(token));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        delivered(server, READER, token);
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.monitored.sender.header-invalid", 1L));
    }

    @Test
    void monitorModeAppliesAtThePipelineDoorToo(GuiceJamesServer server) throws Exception {
        // Judged once: the pipeline counts it (the SMTP handler did not see this mail).
        Map<String, Long> before = relayGuardMeters();
        String token = token("monitor-pipeline");
        MimeMessage mime = new MimeMessage(Session.getInstance(new Properties()));
        mime.setFrom(new InternetAddress(BOB));
        mime.setSubject(token);
        mime.setText("body of " + token);
        mime.saveChanges();
        server.getProbe(SpoolInjectionProbe.class).enqueue(MailImpl.builder().name(token)
            .sender(DEMO_USER).addRecipient(READER).mimeMessage(mime)
            .addAttribute(new Attribute(Mail.SMTP_AUTH_USER, AttributeValue.of(DEMO_USER))).build());
        delivered(server, READER, token);
        assertThat(increasedSince(before)).isEqualTo(Map.of(
            "relayguard.monitored.sender.header-not-owned", 1L,
            "relayguard.pipeline.monitored.sender.header-not-owned", 1L));
    }
}
