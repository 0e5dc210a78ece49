package dev.relayguard.mailet;

import static dev.relayguard.mailet.Pipeline.ALICE;
import static dev.relayguard.mailet.Pipeline.mailFromUser;
import static dev.relayguard.mailet.Pipeline.message;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import javax.mail.MessagingException;

import org.apache.james.mailrepository.api.MailKey;
import org.apache.mailet.Mail;
import org.junit.jupiter.api.Test;

class RefuseSenderTest {
    private static final String KEPT = "memory://var/mail/relayguard-sender-not-owned/";

    private static RefuseSender mailet(Pipeline pipeline, String... parameters) throws MessagingException {
        return pipeline.init(new RefuseSender(pipeline.guard, pipeline.repositoryStore), parameters);
    }

    @Test
    void itTakesNoBounceParameterItNeverBounces() throws Exception {
        assertThatThrownBy(() -> mailet(Pipeline.withPolicy(""), "bounce", "true"))
            .isInstanceOf(MessagingException.class)
            .hasMessageContaining("bounce");
    }

    @Test
    void aRepositoryPathThatIsNoUrlIsRefused() throws Exception {
        assertThatThrownBy(() -> mailet(Pipeline.withPolicy(""), "repositoryPath", "nowhere"))
            .isInstanceOf(MessagingException.class)
            .hasMessageStartingWith("mailetcontainer.xml: RefuseSender: repositoryPath = 'nowhere': not a repository URL");
    }

    @Test
    void aSenderNotOwnedIsKeptCountedGhostedAndNeverBounced() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromUser(ALICE, "bob@example.com", "friend@remote.example").mimeMessage(message("bob@example.com")).build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.repository(KEPT).retrieve(new MailKey(mail.getName())).getErrorMessage())
            .startsWith("553 5.7.1 ");
        assertThat(pipeline.mailetContext.getBouncedMails()).as("the sender is the address the user may not use").isEmpty();
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.refused.sender.not-owned", 1,
            "relayguard.pipeline.refused.sender.not-owned", 1));
    }

    @Test
    void aFromHeaderNotOwnedIsKeptUnderItsReasonInTheConfiguredRepository() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromUser(ALICE, ALICE, "friend@remote.example").mimeMessage(message("bob@example.com")).build();

        mailet(pipeline, "repositoryPath", "memory://var/mail/spoofs/").service(mail);

        assertThat(pipeline.repository("memory://var/mail/spoofs/").size()).isEqualTo(1);
        assertThat(pipeline.repository(KEPT).size()).isZero();
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.refused.sender.header-not-owned", 1,
            "relayguard.pipeline.refused.sender.header-not-owned", 1));
    }

    @Test
    void aMailWhoseSenderIsOwnedByNowGoesOn() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromUser(ALICE, ALICE, "friend@remote.example").mimeMessage(message(ALICE)).state(Mail.TRANSPORT).build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.TRANSPORT);
        assertThat(pipeline.repository(KEPT).size()).isZero();
        assertThat(pipeline.counters()).isEmpty();
    }
}
