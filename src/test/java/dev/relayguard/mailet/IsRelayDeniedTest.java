package dev.relayguard.mailet;

import static dev.relayguard.mailet.Pipeline.mailFromStranger;
import static dev.relayguard.mailet.Pipeline.mailFromUser;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import javax.mail.MessagingException;

import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.apache.mailet.base.test.FakeMail;
import org.apache.mailet.base.test.FakeMatcherConfig;
import org.junit.jupiter.api.Test;

import dev.relayguard.core.LocalDomains;

class IsRelayDeniedTest {

    private static IsRelayDenied matcher(Pipeline pipeline) throws MessagingException {
        return pipeline.init(new IsRelayDenied(pipeline.guard));
    }

    @Test
    void aConditionIsRefusedNamingTheMatcherAndTheCondition() throws Exception {
        IsRelayDenied matcher = new IsRelayDenied(Pipeline.withPolicy("").guard);
        assertThatThrownBy(() -> matcher.init(FakeMatcherConfig.builder().matcherName("IsRelayDenied").condition("everyone").build()))
            .isInstanceOf(MessagingException.class)
            .hasMessage("mailetcontainer.xml: matcher IsRelayDenied takes no condition, got 'everyone'");
    }

    @Test
    void noConditionOrABlankOneIsAccepted() throws Exception {
        IsRelayDenied matcher = new IsRelayDenied(Pipeline.withPolicy("").guard);
        matcher.init(FakeMatcherConfig.builder().matcherName("IsRelayDenied").build());
        matcher.init(FakeMatcherConfig.builder().matcherName("IsRelayDenied").condition("  ").build());
        assertThat(matcher.getCondition()).isBlank();
    }

    @Test
    void aStrangersMailMatchesItsRemoteRecipientsOnly() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        FakeMail mail = mailFromStranger("a@sender.example", "bob@example.com", "victim@remote.example", "x@Other.Example").build();

        assertThat(matcher(pipeline).match(mail))
            .containsExactlyInAnyOrder(new MailAddress("victim@remote.example"), new MailAddress("x@Other.Example"));
        assertThat(pipeline.counters()).as("a matcher counts nothing; the mailet does").isEmpty();
    }

    @Test
    void thePipelinesRelayDecisionsAreNotTimedOnTheSmtpDoorsTimer() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        assertThat(matcher(pipeline).match(mailFromStranger("a@sender.example", "bob@example.com", "victim@remote.example").build()))
            .containsExactly(new MailAddress("victim@remote.example"));
        assertThat(pipeline.metrics.executionTimesForPrefixName("relayguard.").asMap())
            .as("relayguard.decision.rcpt times the SMTP RCPT decisions only").isEmpty();
    }

    @Test
    void authenticatedUsersTrustedNetworksAndRelayDomainsDoNotMatch() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("<trustedNetworks><network>192.0.2.0/24</network></trustedNetworks>"
            + "<relayDomains><domain>backup.example</domain></relayDomains>");
        IsRelayDenied matcher = matcher(pipeline);

        assertThat(matcher.match(mailFromUser("alice@example.com", "alice@example.com", "friend@remote.example").build())).isEmpty();
        assertThat(matcher.match(mailFromStranger("a@sender.example", "friend@remote.example")
            .attribute(new Attribute(MailFacts.JMAP_USER, AttributeValue.of("alice@example.com"))).build())).isEmpty();
        assertThat(matcher.match(mailFromStranger("a@sender.example", "friend@remote.example").remoteAddr("192.0.2.10").build())).isEmpty();
        assertThat(matcher.match(mailFromStranger("a@sender.example", "someone@backup.example").build())).isEmpty();
    }

    @Test
    void jamesOwnMailIsLetThroughByDefault() throws Exception {
        IsRelayDenied matcher = matcher(Pipeline.withPolicy(""));
        assertThat(matcher.match(sentByMailet(MaybeSender.getMailSender("forward@example.com")))).isEmpty();
    }

    @Test
    void jamesOwnMailIsJudgedWhenThePolicySaysJudge() throws Exception {
        IsRelayDenied matcher = matcher(Pipeline.withPolicy("<pipeline><sentByMailet>judge</sentByMailet></pipeline>"));
        assertThat(matcher.match(sentByMailet(MaybeSender.nullSender()))).containsExactly(new MailAddress("victim@remote.example"));
    }

    @Test
    void nullSenderOnlyLetsBouncesThroughButNotForwards() throws Exception {
        IsRelayDenied matcher = matcher(Pipeline.withPolicy("<pipeline><sentByMailet>null-sender-only</sentByMailet></pipeline>"));
        assertThat(matcher.match(sentByMailet(MaybeSender.nullSender()))).isEmpty();
        assertThat(matcher.match(sentByMailet(MaybeSender.getMailSender("forward@example.com"))))
            .containsExactly(new MailAddress("victim@remote.example"));
    }

    @Test
    void aRelayRuleInMonitorModeDoesNotMatchTheMailGoesOn() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("<rules><relay>monitor</relay></rules>");
        assertThat(matcher(pipeline).match(mailFromStranger("a@sender.example", "victim@remote.example").build())).isEmpty();
        assertThat(pipeline.counters()).isEmpty();
    }

    @Test
    void aRelayRuleInDeferModeStillMatches() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("<rules><relay>defer</relay></rules>");
        assertThat(matcher(pipeline).match(mailFromStranger("a@sender.example", "victim@remote.example").build()))
            .containsExactly(new MailAddress("victim@remote.example"));
    }

    @Test
    void aFailedDomainLookupMatchesTheMailIsKeptRatherThanRelayed() throws Exception {
        Pipeline pipeline = Pipeline.withLocalDomains(domain -> {
            throw new LocalDomains.LookupFailedException("DomainList down", null);
        });
        assertThat(matcher(pipeline).match(mailFromStranger("a@sender.example", "bob@example.com").build()))
            .containsExactly(new MailAddress("bob@example.com"));
    }

    private static Mail sentByMailet(MaybeSender sender) throws Exception {
        return FakeMail.builder().name("forward").sender(sender).recipients("victim@remote.example")
            .attribute(Mail.SENT_BY_MAILET_ATTRIBUTE).build();
    }
}
