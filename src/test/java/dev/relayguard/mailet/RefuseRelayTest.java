package dev.relayguard.mailet;

import static dev.relayguard.mailet.Pipeline.mailFromStranger;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import javax.mail.MessagingException;

import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.mailrepository.api.MailKey;
import org.apache.james.mailrepository.memory.MemoryMailRepository;
import org.apache.mailet.Mail;
import org.apache.mailet.base.test.FakeMail;
import org.junit.jupiter.api.Test;

class RefuseRelayTest {
    private static final String DENIED = "memory://var/mail/relayguard-relay-denied/";

    private static RefuseRelay mailet(Pipeline pipeline, String... parameters) throws MessagingException {
        return pipeline.init(new RefuseRelay(pipeline.guard, pipeline.repositoryStore), parameters);
    }

    @Test
    void aBounceOtherThanTrueOrFalseIsRefusedNamingFileMailetKeyAndValue() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        assertThatThrownBy(() -> mailet(pipeline, "bounce", "maybe")).isInstanceOf(MessagingException.class)
            .hasMessage("mailetcontainer.xml: RefuseRelay: bounce = 'maybe': expected true or false");
        assertThatThrownBy(() -> mailet(pipeline, "bounce", "TRUE")).isInstanceOf(MessagingException.class)
            .hasMessage("mailetcontainer.xml: RefuseRelay: bounce = 'TRUE': expected true or false");
    }

    @Test
    void aRepositoryPathThatIsNoUrlIsRefused() throws Exception {
        assertThatThrownBy(() -> mailet(Pipeline.withPolicy(""), "repositoryPath", "not a url"))
            .isInstanceOf(MessagingException.class)
            .hasMessageStartingWith("mailetcontainer.xml: RefuseRelay: repositoryPath = 'not a url': not a repository URL");
    }

    @Test
    void anUnknownParameterIsRefused() throws Exception {
        assertThatThrownBy(() -> mailet(Pipeline.withPolicy(""), "notifySender", "true"))
            .isInstanceOf(MessagingException.class)
            .hasMessageContaining("notifySender");
    }

    @Test
    void refusedRecipientsAreKeptBouncedCountedAndGhosted() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger("a@sender.example", "victim@remote.example").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        MemoryMailRepository kept = pipeline.repository(DENIED);
        assertThat(kept.size()).isEqualTo(1);
        Mail stored = kept.retrieve(new MailKey(mail.getName()));
        assertThat(stored.getRecipients()).containsExactly(new MailAddress("victim@remote.example"));
        assertThat(stored.getErrorMessage()).startsWith("victim@remote.example: 550 5.7.1 Relaying denied");
        assertThat(pipeline.mailetContext.getBouncedMails()).singleElement()
            .satisfies(bounce -> assertThat(bounce.getMessage())
                .startsWith("Your message was not delivered to these recipients: victim@remote.example: 550 5.7.1 Relaying denied"));
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.refused.relay.unauthenticated", 1,
            "relayguard.pipeline.refused.relay.unauthenticated", 1));
    }

    @Test
    void routingSyntaxIsRefusedUnderItsOwnReason() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger("a@sender.example", "someone%remote.example@example.com").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.refused.routing.percent-hack", 1,
            "relayguard.pipeline.refused.routing.percent-hack", 1));
    }

    @Test
    void aNullSenderIsNeverBouncedTheMailIsStillKept() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = FakeMail.builder().name("dsn").sender(MaybeSender.nullSender()).recipients("victim@remote.example")
            .remoteAddr(Pipeline.STRANGER_IP).state(Mail.TRANSPORT).build();

        mailet(pipeline).service(mail);

        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
        assertThat(pipeline.repository(DENIED).size()).isEqualTo(1);
        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
    }

    @Test
    void bounceFalseKeepsWithoutBouncingInTheConfiguredRepository() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger("a@sender.example", "victim@remote.example").build();

        mailet(pipeline, "bounce", "false", "repositoryPath", " memory://var/mail/elsewhere/ ").service(mail);

        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
        assertThat(pipeline.repository("memory://var/mail/elsewhere/").size()).isEqualTo(1);
        assertThat(pipeline.repository(DENIED).size()).isZero();
        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
    }

    @Test
    void aMailWithoutRecipientsIsLeftAlone() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = FakeMail.builder().name("empty").sender("a@sender.example").state(Mail.TRANSPORT).build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.TRANSPORT);
        assertThat(pipeline.repository(DENIED).size()).isZero();
        assertThat(pipeline.counters()).isEmpty();
    }
}
