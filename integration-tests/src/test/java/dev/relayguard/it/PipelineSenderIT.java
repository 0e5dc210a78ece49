package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static dev.relayguard.it.SenderDialogs.BOB;
import static dev.relayguard.it.SenderDialogs.READER;
import static dev.relayguard.it.SenderDialogs.SALES;
import static dev.relayguard.it.SenderDialogs.await;
import static dev.relayguard.it.SenderDialogs.delivered;
import static dev.relayguard.it.SenderDialogs.inbox;
import static dev.relayguard.it.SenderDialogs.token;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

import javax.mail.Session;
import javax.mail.internet.InternetAddress;
import javax.mail.internet.MimeMessage;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.mailrepository.api.MailKey;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
import org.apache.james.server.core.MailImpl;
import org.apache.james.utils.MailRepositoryProbeImpl;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeName;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 10 at the pipeline door: mail that enters without the SMTP handler (here put into the spool queue
 * exactly as JMAP's EmailSubmission/set does, {@link SpoolInjectionProbe}) is judged by the sample's {@code IsSenderNotOwned} /
 * {@code RefuseSender} with the same rule: envelope sender and From:/Sender: owned by the authenticated user
 * (SMTP AUTH attribute, or JMAP's user attribute). Refused mail is kept in
 * {@code memory://var/mail/relayguard-sender-not-owned/}, never delivered, never bounced, and counted as
 * {@code relayguard.refused.<reason>} plus {@code relayguard.pipeline.refused.<reason>}.
 */
class PipelineSenderIT {
    private static final MailRepositoryUrl KEPT = MailRepositoryUrl.from("memory://var/mail/relayguard-sender-not-owned/");
    /** What JMAP (RFC 8621) records as the submitting user: {@code dev.relayguard.mailet.MailFacts.JMAP_USER}. */
    private static final AttributeName JMAP_USER = AttributeName.of("org.apache.james.jmap.send.MailMetaData.username");

    @RegisterExtension
    static JamesServerExtension james = SenderDialogs.server(conf -> { });

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        SenderDialogs.addUsers(server);
    }

    private static Mail mail(String token, String envelopeSender, String from, String sender, AttributeName user)
            throws Exception {
        MimeMessage mime = new MimeMessage(Session.getInstance(new Properties()));
        if (from != null) {
            mime.setFrom(new InternetAddress(from));
        }
        if (sender != null) {
            mime.setSender(new InternetAddress(sender));
        }
        mime.setRecipient(javax.mail.Message.RecipientType.TO, new InternetAddress(READER));
        mime.setSubject(token);
        mime.setText("body of " + token);
        mime.saveChanges();
        MailImpl.Builder builder = MailImpl.builder().name(token).sender(envelopeSender).addRecipient(READER).mimeMessage(mime);
        if (user != null) {
            builder.addAttribute(new Attribute(user, AttributeValue.of(DEMO_USER)));
        }
        return builder.build();
    }

    /** Into the spool queue, as JMAP's EmailSubmission/set does (not marked as sent by a mailet). */
    private static void inject(GuiceJamesServer server, Mail mail) throws Exception {
        server.getProbe(SpoolInjectionProbe.class).enqueue(mail);
    }

    private static Optional<Mail> kept(GuiceJamesServer server, String token) throws Exception {
        MailRepositoryProbeImpl repositories = server.getProbe(MailRepositoryProbeImpl.class);
        List<MailKey> keys = repositories.listMailKeys(KEPT);
        for (MailKey key : keys) {
            Mail mail = repositories.getMail(KEPT, key);
            if (key.asString().equals(token) || token.equals(mail.getMessage().getSubject())) {
                return Optional.of(mail);
            }
        }
        return Optional.empty();
    }

    /** The mail is kept (with the refusal as its error message), counted once per door, and never delivered. */
    private static void assertKept(GuiceJamesServer server, String token, Map<String, Long> before, String reason,
                                   String errorMessage) throws Exception {
        await(token + " kept in " + KEPT.asString(), () -> kept(server, token).isPresent());
        assertThat(kept(server, token).orElseThrow().getErrorMessage()).isEqualTo(errorMessage);
        assertThat(increasedSince(before)).isEqualTo(Map.of(
            "relayguard.refused." + reason, 1L,
            "relayguard.pipeline.refused." + reason, 1L));
        // Barrier: demo's own mail injected after it arrives; the kept one never does, nor a bounce to bob.
        String barrier = token("barrier"); // must not contain token
        inject(server, mail(barrier, DEMO_USER, DEMO_USER, null, Mail.SMTP_AUTH_USER));
        delivered(server, READER, barrier);
        assertThat(inbox(server, READER)).noneMatch(message -> message.contains(token));
        assertThat(inbox(server, BOB)).noneMatch(message -> message.contains(token));
    }

    @Test
    void smtpAuthUserWithAnotherUsersEnvelopeSenderIsKeptNotDelivered(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("pipeline-envelope-bob");
        inject(server, mail(token, BOB, BOB, null, Mail.SMTP_AUTH_USER));
        assertKept(server, token, before, "sender.not-owned", "553 5.7.1 Sender address not owned by authenticated user");
    }

    @Test
    void smtpAuthUserWithAnotherUsersFromHeaderIsKeptNotDelivered(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("pipeline-header-bob");
        inject(server, mail(token, DEMO_USER, BOB, null, Mail.SMTP_AUTH_USER));
        assertKept(server, token, before, "sender.header-not-owned", "550 5.7.1 From: header address not owned by authenticated user");
    }

    @Test
    void smtpAuthUserWithAnotherUsersSenderHeaderIsKeptNotDelivered(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("pipeline-sender-bob");
        inject(server, mail(token, DEMO_USER, DEMO_USER, BOB, Mail.SMTP_AUTH_USER));
        assertKept(server, token, before, "sender.header-not-owned", "550 5.7.1 Sender: header address not owned by authenticated user");
    }

    @Test
    void smtpAuthUserWithoutFromHeaderIsKeptAsInvalid(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("pipeline-no-from");
        inject(server, mail(token, DEMO_USER, null, null, Mail.SMTP_AUTH_USER));
        assertKept(server, token, before, "sender.header-invalid",
            "550 5.7.1 Message has no From: header (RFC 5322 section 3.6 requires one)");
    }

    @Test
    void jmapUserWithAnotherUsersAddressIsKeptNotDelivered(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("pipeline-jmap-bob");
        inject(server, mail(token, BOB, BOB, null, JMAP_USER));
        assertKept(server, token, before, "sender.not-owned", "553 5.7.1 Sender address not owned by authenticated user");

        before = relayGuardMeters();
        String header = token("pipeline-jmap-header-bob");
        inject(server, mail(header, DEMO_USER, BOB, null, JMAP_USER));
        assertKept(server, header, before, "sender.header-not-owned", "550 5.7.1 From: header address not owned by authenticated user");
    }

    @Test
    void ownAddressAndAliasAreDeliveredThroughEitherAttribute(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String own = token("pipeline-own");
        String alias = token("pipeline-alias");
        String jmapOwn = token("pipeline-jmap-own");
        String jmapAlias = token("pipeline-jmap-alias");
        inject(server, mail(own, DEMO_USER, DEMO_USER, null, Mail.SMTP_AUTH_USER));
        inject(server, mail(alias, SALES, SALES, DEMO_USER, Mail.SMTP_AUTH_USER));
        inject(server, mail(jmapOwn, DEMO_USER, DEMO_USER, null, JMAP_USER));
        inject(server, mail(jmapAlias, SALES, "Sales <" + SALES + ">", null, JMAP_USER));
        for (String token : List.of(own, alias, jmapOwn, jmapAlias)) {
            delivered(server, READER, token);
        }
        assertThat(increasedSince(before)).isEmpty();
    }

    @Test
    void mailSentByAMailetIsNotJudgedUnderTheSamplesSentByMailetAllow(GuiceJamesServer server) throws Exception {
        // MailetContext.sendMail marks the mail as sent by a mailet (bounces, forwards): IsSenderNotOwned's
        // Javadoc leaves such mail alone, whatever attributes it carries.
        Map<String, Long> before = relayGuardMeters();
        String token = token("pipeline-mailet-bob");
        server.getProbe(MailInjectionProbe.class).send(mail(token, BOB, BOB, null, Mail.SMTP_AUTH_USER));
        delivered(server, READER, token);
        assertThat(increasedSince(before)).isEmpty();
    }

    /**
     * One decision, many doors: AUTH without TLS on the MX is refused ({@code 503 5.5.1}, before any password
     * check), so the session stays a stranger's, its mail inbound mail: From: is not judged, the 250 promised
     * delivery, and no user is recorded on the mail for the pipeline to judge it again.
     */
    @Test
    void plaintextAuthOnTheMxIsAStrangerAtBothDoors(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("pipeline-plaintext-auth");
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("laptop.example");
            assertThat(smtp.authPlain(DEMO_USER, RelayGuardServers.DEMO_PASSWORD).code()).isEqualTo(503);
            SenderDialogs.Step step = SenderDialogs.transaction(smtp, "<someone@laptop.example>", READER,
                SenderDialogs.message(token, "From: Someone <someone@laptop.example>"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        delivered(server, READER, token);
        assertThat(kept(server, token)).isEmpty();
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.auth.not-offered", 1L));
    }

    @Test
    void mailWithoutAnAuthenticatedUserIsNotJudgedHere(GuiceJamesServer server) throws Exception {
        // No user to own anything (inbound mail, a mailet's own mail): DMARC's business, not this matcher's.
        Map<String, Long> before = relayGuardMeters();
        String token = token("pipeline-no-user");
        inject(server, mail(token, "list@example.org", BOB, null, null));
        delivered(server, READER, token);
        assertThat(increasedSince(before)).isEmpty();
    }
}
