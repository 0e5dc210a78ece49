package dev.relayguard.mailet;

import static dev.relayguard.mailet.Pipeline.ALICE;
import static dev.relayguard.mailet.Pipeline.namedMail;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import javax.mail.MessagingException;

import org.apache.james.core.MaybeSender;
import org.apache.james.mailrepository.api.MailKey;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.apache.mailet.base.test.FakeMail;
import org.junit.jupiter.api.Test;

import dev.relayguard.MailAttributes;
import dev.relayguard.core.Holds;
import dev.relayguard.limit.SubjectKey;

class ChargeSenderLimitsTest {
    private static final String KEPT = "memory://var/mail/relayguard-rate-limited/";
    private static final String HELD = "memory://var/mail/relayguard-held/";
    /** Two messages an hour per user. */
    private static final String TWO_PER_HOUR = "<rateLimits><users><limit measure=\"messages\" max=\"2\" per=\"1h\"/></users></rateLimits>";

    private static ChargeSenderLimits mailet(Pipeline pipeline, String... parameters) throws MessagingException {
        return pipeline.chargeSenderLimits(parameters);
    }

    private static Mail aliceMail(int n) throws Exception {
        return namedMail("mail-" + n, ALICE, ALICE, "friend@remote.example").state(Mail.TRANSPORT).build();
    }

    @Test
    void aNotifySenderOtherThanTrueOrFalseIsRefused() throws Exception {
        assertThatThrownBy(() -> mailet(Pipeline.withPolicy(TWO_PER_HOUR), "notifySender", "yes"))
            .isInstanceOf(MessagingException.class)
            .hasMessage("mailetcontainer.xml: ChargeSenderLimits: notifySender = 'yes': expected true or false");
    }

    @Test
    void anUnknownParameterIsRefused() throws Exception {
        assertThatThrownBy(() -> mailet(Pipeline.withPolicy(TWO_PER_HOUR), "bounce", "true"))
            .isInstanceOf(MessagingException.class)
            .hasMessageContaining("bounce");
    }

    @Test
    void underTheLimitTheMailIsChargedMarkedAndGoesOn() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy(TWO_PER_HOUR);
        Mail mail = aliceMail(1);

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.TRANSPORT);
        assertThat(mail.getAttribute(MailAttributes.RATE_CHARGED)).isPresent();
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.accepted.rate.ok", 1,
            "relayguard.pipeline.accepted.rate.ok", 1));
    }

    @Test
    void overTheLimitTheMailIsKeptTheSenderNotifiedAndTheRefusalCounted() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy(TWO_PER_HOUR);
        ChargeSenderLimits mailet = mailet(pipeline);
        mailet.service(aliceMail(1));
        mailet.service(aliceMail(2));
        Mail third = aliceMail(3);

        mailet.service(third);

        assertThat(third.getState()).isEqualTo(Mail.GHOST);
        assertThat(third.getAttribute(MailAttributes.RATE_CHARGED)).isEmpty();
        assertThat(third.getErrorMessage()).startsWith("4.7.1 Message rate limit exceeded (2 messages per 1h)");
        assertThat(pipeline.repository(KEPT).size()).isEqualTo(1);
        assertThat(pipeline.mailetContext.getBouncedMails()).singleElement()
            .satisfies(bounce -> assertThat(bounce.getMessage())
                .startsWith("Your message was not sent: 4.7.1 Message rate limit exceeded")
                .endsWith(". It is kept by the server; send it again later."));
        assertThat(pipeline.counters()).containsEntry("relayguard.deferred.rate.messages", 1)
            .containsEntry("relayguard.pipeline.deferred.rate.messages", 1);
    }

    @Test
    void aSuspendedSendersPipelineMailIsKeptLikeAtSmtpAndChargesNothing() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy(TWO_PER_HOUR);
        pipeline.guard.senderLimits().suspensions().hold(SubjectKey.user(ALICE), Holds.Hold.FOREVER, "operator: leaked");
        ChargeSenderLimits mailet = mailet(pipeline);
        Mail mail = aliceMail(1);

        mailet.service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(mail.getAttribute(MailAttributes.RATE_CHARGED)).isEmpty();
        assertThat(mail.getErrorMessage()).startsWith("4.7.1 Account suspended from sending by the postmaster");
        assertThat(pipeline.repository(KEPT).size()).isEqualTo(1);
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.deferred.rate.suspended", 1);

        pipeline.guard.senderLimits().suspensions().lift(SubjectKey.user(ALICE));
        Mail first = aliceMail(2);
        Mail second = aliceMail(3);
        mailet.service(first);
        mailet.service(second);
        assertThat(second.getAttribute(MailAttributes.RATE_CHARGED)).as("the suspended mail consumed nothing").isPresent();
    }

    @Test
    void aSuspendedSenderWithoutAnyRateLimitIsKeptToo() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        ChargeSenderLimits mailet = mailet(pipeline);
        Mail before = aliceMail(1);
        mailet.service(before);
        assertThat(before.getState()).as("no limits: goes on, nothing to charge").isEqualTo(Mail.TRANSPORT);

        pipeline.guard.senderLimits().suspensions().hold(SubjectKey.user(ALICE), Holds.Hold.FOREVER, "operator: leaked");
        Mail mail = aliceMail(2);
        mailet.service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.repository(KEPT).size()).isEqualTo(1);
    }

    @Test
    void mailAlreadyChargedAtSmtpTimeOrWithoutAUserIsNotCharged() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy(TWO_PER_HOUR);
        ChargeSenderLimits mailet = mailet(pipeline);
        for (int i = 0; i < 3; i++) {
            Mail charged = namedMail("smtp-" + i, ALICE, ALICE, "friend@remote.example")
                .attribute(new Attribute(MailAttributes.RATE_CHARGED, AttributeValue.of(true))).build();
            mailet.service(charged);
            Mail anonymous = namedMail("anonymous-" + i, null, "a@sender.example", "bob@example.com").state(Mail.TRANSPORT).build();
            mailet.service(anonymous);
            assertThat(anonymous.getState()).isEqualTo(Mail.TRANSPORT);
        }
        Mail first = aliceMail(1);
        mailet.service(first);

        assertThat(first.getState()).as("Alice's first charged mail: under the limit").isEqualTo(Mail.TRANSPORT);
        assertThat(pipeline.counters()).as("one charge: Alice's mail").isEqualTo(Map.of(
            "relayguard.accepted.rate.ok", 1,
            "relayguard.pipeline.accepted.rate.ok", 1));
    }

    @Test
    void overTheLimitWithAnOverLimitProcessorTheMailGoesThereAndIsNotKept() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy(TWO_PER_HOUR);
        ChargeSenderLimits mailet = mailet(pipeline, "overLimitProcessor", " rate-limited ");
        mailet.service(aliceMail(1));
        mailet.service(aliceMail(2));
        Mail third = aliceMail(3);

        mailet.service(third);

        assertThat(third.getState()).isEqualTo("rate-limited");
        assertThat(third.getErrorMessage()).startsWith("4.7.1 Message rate limit exceeded");
        assertThat(pipeline.repository(KEPT).size()).isZero();
        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
    }

    @Test
    void notifySenderFalseOrANullSenderKeepsWithoutBouncing() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy(TWO_PER_HOUR);
        ChargeSenderLimits quiet = mailet(pipeline, "notifySender", "false", "repositoryPath", "memory://var/mail/quiet/");
        quiet.service(aliceMail(1));
        quiet.service(aliceMail(2));
        Mail third = aliceMail(3);
        quiet.service(third);
        Mail dsn = FakeMail.builder().name("dsn").sender(MaybeSender.nullSender()).recipients("friend@remote.example")
            .state(Mail.TRANSPORT).attribute(new Attribute(Mail.SMTP_AUTH_USER, AttributeValue.of(ALICE))).build();
        mailet(pipeline).service(dsn);

        assertThat(third.getState()).isEqualTo(Mail.GHOST);
        assertThat(dsn.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.repository("memory://var/mail/quiet/").size()).isEqualTo(1);
        assertThat(pipeline.repository(KEPT).size()).isEqualTo(1);
        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
    }

    @Test
    void aStoreFailureFailClosedIsHeldNeverBouncedNorSentToTheOverLimitProcessor() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy(TWO_PER_HOUR.replace("</rateLimits>", "<onStoreFailure>fail-closed</onStoreFailure></rateLimits>"));
        ChargeSenderLimits mailet = mailet(pipeline);
        ChargeSenderLimits withProcessor = mailet(pipeline, "overLimitProcessor", "rate-limited");
        pipeline.storeDown.set(true);
        Mail first = aliceMail(1);
        Mail second = aliceMail(2);

        mailet.service(first);
        withProcessor.service(second);

        assertThat(first.getState()).isEqualTo(Mail.GHOST);
        assertThat(second.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.mailetContext.getBouncedMails()).as("Alice is verified, but this is only a failure for now").isEmpty();
        assertThat(pipeline.repository(KEPT).size()).isZero();
        assertThat(pipeline.repository(HELD).size()).isEqualTo(2);
        assertThat(pipeline.repository(HELD).retrieve(new MailKey("mail-1")).getErrorMessage()).startsWith("4.3.0 ");
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.deferred.rate.store-unavailable", 2)
            .containsEntry("relayguard.pipeline.held", 2)
            .doesNotContainKey("relayguard.pipeline.bounce-suppressed");
    }

    @Test
    void overTheLimitAnAuthenticatedSenderIsNotifiedWhateverItsEnvelopeAddress() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy(TWO_PER_HOUR);
        ChargeSenderLimits mailet = mailet(pipeline);
        for (int n = 1; n <= 3; n++) {
            mailet.service(namedMail("mail-" + n, ALICE, "alice.list@lists.example", "friend@remote.example").build());
        }

        assertThat(pipeline.mailetContext.getBouncedMails()).hasSize(1);
        assertThat(pipeline.counters()).doesNotContainKey("relayguard.pipeline.held");
    }

    @Test
    void aTrustedClientsUnauthenticatedMailIsNeitherChargedNorBounced() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("<trustedNetworks><network>" + Pipeline.STRANGER_IP + "/32</network></trustedNetworks>"
            + "<rateLimits><trustedClients><limit measure=\"messages\" max=\"1\" per=\"1h\"/></trustedClients></rateLimits>");
        ChargeSenderLimits mailet = mailet(pipeline);
        for (int n = 1; n <= 3; n++) {
            Mail mail = namedMail("mail-" + n, null, "victim@remote.example", "friend@remote.example").build();
            mailet.service(mail);
            assertThat(mail.getState()).isEqualTo(Mail.TRANSPORT);
        }

        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
        assertThat(pipeline.repository(KEPT).size()).isZero();
        assertThat(pipeline.counters()).isEmpty();
    }

    @Test
    void aHeldRepositoryPathEqualToTheRepositoryPathIsRefused() throws Exception {
        assertThatThrownBy(() -> mailet(Pipeline.withPolicy(TWO_PER_HOUR), "repositoryPath", "memory://var/mail/same/",
            "heldRepositoryPath", "memory://var/mail/same/"))
            .isInstanceOf(MessagingException.class)
            .hasMessage("mailetcontainer.xml: ChargeSenderLimits: heldRepositoryPath = 'memory://var/mail/same': must differ from "
                + "repositoryPath (held mail is reprocessed, refused mail is not)");
    }
}
