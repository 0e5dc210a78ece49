package dev.relayguard.mailet;

import static dev.relayguard.mailet.Pipeline.ALICE;
import static dev.relayguard.mailet.Pipeline.mailFromStranger;
import static dev.relayguard.mailet.Pipeline.mailFromUser;
import static dev.relayguard.mailet.Pipeline.message;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import javax.mail.MessagingException;

import org.apache.james.core.MailAddress;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.apache.mailet.base.test.FakeMatcherConfig;
import org.junit.jupiter.api.Test;

import dev.relayguard.MailAttributes;

class IsSenderNotOwnedTest {

    private static IsSenderNotOwned matcher(Pipeline pipeline) throws MessagingException {
        return pipeline.init(new IsSenderNotOwned(pipeline.guard));
    }

    @Test
    void aConditionIsRefused() throws Exception {
        IsSenderNotOwned matcher = new IsSenderNotOwned(Pipeline.withPolicy("").guard);
        assertThatThrownBy(() -> matcher.init(FakeMatcherConfig.builder().matcherName("IsSenderNotOwned").condition("x").build()))
            .isInstanceOf(MessagingException.class)
            .hasMessage("mailetcontainer.xml: matcher IsSenderNotOwned takes no condition, got 'x'");
    }

    @Test
    void aUserSendingAsItselfOrItsAliasDoesNotMatch() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        IsSenderNotOwned matcher = matcher(pipeline);
        assertThat(matcher.match(mailFromUser(ALICE, ALICE, "friend@remote.example").mimeMessage(message(ALICE)).build())).isEmpty();
        assertThat(matcher.match(mailFromUser(ALICE, "alias@example.com", "friend@remote.example")
            .mimeMessage(message("alias@example.com")).build())).isEmpty();
        assertThat(pipeline.counters()).isEmpty();
    }

    @Test
    void thePipelinesSenderAndHeaderDecisionsAreNotTimed() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        assertThat(matcher(pipeline).match(mailFromUser(ALICE, ALICE, "friend@remote.example").mimeMessage(message("bob@example.com")).build()))
            .as("decided: the From: is not Alice's").containsExactly(new MailAddress("friend@remote.example"));
        assertThat(pipeline.metrics.executionTimesForPrefixName("relayguard.").asMap())
            .as("relayguard.decision.mail and .header time the SMTP door's decisions only").isEmpty();
    }

    @Test
    void anEnvelopeSenderTheUserDoesNotOwnMatchesEveryRecipient() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        assertThat(matcher(pipeline).match(mailFromUser(ALICE, "bob@example.com", "friend@remote.example", "carol@example.com")
                .mimeMessage(message("bob@example.com")).build()))
            .containsExactlyInAnyOrder(new MailAddress("friend@remote.example"), new MailAddress("carol@example.com"));
        assertThat(pipeline.counters()).as("a refused verdict is counted by RefuseSender, not here").isEmpty();
    }

    @Test
    void aFromHeaderTheUserDoesNotOwnMatches() throws Exception {
        assertThat(matcher(Pipeline.withPolicy("")).match(mailFromUser(ALICE, ALICE, "friend@remote.example")
                .mimeMessage(message("bob@example.com")).build()))
            .containsExactly(new MailAddress("friend@remote.example"));
    }

    @Test
    void mailWithoutAnAuthenticatedUserIsNotJudged() throws Exception {
        assertThat(matcher(Pipeline.withPolicy("")).match(mailFromStranger("bob@example.com", "friend@remote.example")
            .mimeMessage(message("bob@example.com")).build())).isEmpty();
    }

    @Test
    void mailTheSmtpHandlerJudgedIsNotJudgedAgain() throws Exception {
        assertThat(matcher(Pipeline.withPolicy("")).match(mailFromUser(ALICE, "bob@example.com", "friend@remote.example")
            .mimeMessage(message("bob@example.com"))
            .attribute(new Attribute(MailAttributes.SENDER_JUDGED, AttributeValue.of(true))).build())).isEmpty();
    }

    @Test
    void jamesOwnMailIsLetThroughByDefaultAndJudgedOnRequest() throws Exception {
        assertThat(matcher(Pipeline.withPolicy("")).match(mailFromUser(ALICE, "bob@example.com", "friend@remote.example")
            .mimeMessage(message("bob@example.com")).attribute(Mail.SENT_BY_MAILET_ATTRIBUTE).build())).isEmpty();
        assertThat(matcher(Pipeline.withPolicy("<pipeline><sentByMailet>judge</sentByMailet></pipeline>"))
            .match(mailFromUser(ALICE, "bob@example.com", "friend@remote.example")
                .mimeMessage(message("bob@example.com")).attribute(Mail.SENT_BY_MAILET_ATTRIBUTE).build()))
            .containsExactly(new MailAddress("friend@remote.example"));
    }

    @Test
    void aRuleInMonitorModeDoesNotMatchButIsCountedAtThePipelineDoor() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("<rules><headerFrom>monitor</headerFrom></rules>");
        assertThat(matcher(pipeline).match(mailFromUser(ALICE, ALICE, "friend@remote.example")
            .mimeMessage(message("bob@example.com")).build())).isEmpty();
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.monitored.sender.header-not-owned", 1,
            "relayguard.pipeline.monitored.sender.header-not-owned", 1));
    }
}
