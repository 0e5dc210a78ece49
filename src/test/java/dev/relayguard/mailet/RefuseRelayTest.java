package dev.relayguard.mailet;

import static dev.relayguard.mailet.Pipeline.ALICE;
import static dev.relayguard.mailet.Pipeline.mailFromStranger;
import static dev.relayguard.mailet.Pipeline.mailFromUser;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.when;

import java.util.Map;

import javax.mail.MessagingException;

import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.core.Username;
import org.apache.james.domainlist.api.DomainListException;
import org.apache.james.mailrepository.api.MailKey;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
import org.apache.james.mailrepository.memory.MemoryMailRepository;
import org.apache.james.user.api.UsersRepositoryException;
import org.apache.mailet.Mail;
import org.apache.mailet.base.test.FakeMail;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.core.LocalDomains;
import dev.relayguard.observe.AuditCapture;

class RefuseRelayTest {
    @RegisterExtension
    final AuditCapture audit = new AuditCapture();

    private static final String DENIED = "memory://var/mail/relayguard-relay-denied/";

    private static final String HELD = "memory://var/mail/relayguard-held/";

    private static RefuseRelay mailet(Pipeline pipeline, String... parameters) throws MessagingException {
        return pipeline.refuseRelay(parameters);
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
    void aRemoteSenderNobodyVerifiedIsNotBouncedTheMailIsKeptCountedAndGhosted() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger("victim@sender.example", "x@remote.example").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        MemoryMailRepository kept = pipeline.repository(DENIED);
        assertThat(kept.size()).isEqualTo(1);
        Mail stored = kept.retrieve(new MailKey(mail.getName()));
        assertThat(stored.getRecipients()).containsExactly(new MailAddress("x@remote.example"));
        assertThat(stored.getErrorMessage()).startsWith("x@remote.example: 550 5.7.1 Relaying denied");
        assertThat(pipeline.mailetContext.getBouncedMails()).as("no backscatter to a possibly forged sender").isEmpty();
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.refused.relay.unauthenticated", 1,
            "relayguard.pipeline.refused.relay.unauthenticated", 1,
            "relayguard.pipeline.bounce-suppressed", 1));
        assertThat(audit.lines()).last().isEqualTo("outcome=bounce-suppressed path=pipeline session=mail-1 ip=" + Pipeline.STRANGER_IP
            + " user=- sender=victim@sender.example rcpt=[x@remote.example] why=sender-unverified");
    }

    @Test
    void aStrangersRelayAttemptWritesOneRefusalLinePerRecipientAndOneBounceSuppressedLine() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger("victim@sender.example", "x@remote.example", "y@remote.example").build();

        mailet(pipeline).service(mail);

        assertThat(audit.lines()).filteredOn(line -> line.startsWith("outcome=bounce-suppressed")).singleElement()
            .satisfies(line -> assertThat(line).endsWith("rcpt=\"[x@remote.example, y@remote.example]\" why=sender-unverified"));
        assertThat(audit.lines()).filteredOn(line -> line.startsWith("outcome=refused")).hasSize(2);
        assertThat(audit.lines()).hasSize(3);
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.bounce-suppressed", 1);
    }

    @Test
    void aLocalUserSenderGetsItsBounceWithoutAuthentication() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger(ALICE, "victim@remote.example").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.repository(DENIED).size()).isEqualTo(1);
        assertThat(pipeline.mailetContext.getBouncedMails()).singleElement()
            .satisfies(bounce -> assertThat(bounce.getMessage())
                .startsWith("Your message was not delivered to these recipients: victim@remote.example: 550 5.7.1 Relaying denied"));
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.refused.relay.unauthenticated", 1,
            "relayguard.pipeline.refused.relay.unauthenticated", 1));
    }

    @Test
    void anAuthenticatedSenderGetsItsBounceWhateverItsEnvelopeAddress() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromUser(ALICE, "ally@elsewhere.example", "someone%remote.example@example.com").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.mailetContext.getBouncedMails()).singleElement()
            .satisfies(bounce -> assertThat(bounce.getMessage()).contains("someone%remote.example@example.com: 550 5.7.1"));
        assertThat(pipeline.counters()).doesNotContainKey("relayguard.pipeline.bounce-suppressed");
    }

    @Test
    void anAddressOfALocalDomainThatIsNoUserIsNotBounced() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger("nobody@example.com", "victim@remote.example").build();

        mailet(pipeline).service(mail);

        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
        assertThat(pipeline.repository(DENIED).size()).isEqualTo(1);
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.bounce-suppressed", 1);
    }

    @Test
    void aUserOfALocalNameOnARemoteDomainIsNotBouncedWithoutVirtualHosting() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        when(pipeline.users.supportVirtualHosting()).thenReturn(false);
        when(pipeline.users.contains(Username.of("alice"))).thenReturn(true);
        Mail mail = mailFromStranger("alice@remote.example", "victim@remote.example").build();

        mailet(pipeline).service(mail);

        assertThat(pipeline.mailetContext.getBouncedMails()).as("James's user 'alice' does not make alice@remote.example local").isEmpty();
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.bounce-suppressed", 1);
    }

    @Test
    void aUsersRepositoryOrDomainListFailureMeansNotVerifiedSoNotBounced() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        doThrow(new UsersRepositoryException("LDAP is down")).when(pipeline.users).contains(any());
        RefuseRelay mailet = mailet(pipeline);
        mailet.service(mailFromStranger(ALICE, "victim@remote.example").build());
        doThrow(new DomainListException("DomainList is down")).when(pipeline.domains).containsDomain(any());
        mailet.service(Pipeline.namedMail("mail-2", null, ALICE, "victim@remote.example").build());

        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
        assertThat(pipeline.repository(DENIED).size()).isEqualTo(2);
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.bounce-suppressed", 2);
    }

    @Test
    void aTemporaryVerdictIsHeldNeverBouncedAndCounted() throws Exception {
        Pipeline pipeline = Pipeline.withLocalDomains(domain -> {
            throw new LocalDomains.LookupFailedException("DomainList is down", null);
        });
        Mail mail = mailFromStranger(ALICE, "victim@remote.example").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.mailetContext.getBouncedMails()).as("a local user's mail, but only refused for now").isEmpty();
        assertThat(pipeline.repository(DENIED).size()).isZero();
        MemoryMailRepository held = pipeline.repository(HELD);
        assertThat(held.size()).isEqualTo(1);
        Mail stored = held.retrieve(new MailKey(mail.getName()));
        assertThat(stored.getRecipients()).containsExactly(new MailAddress("victim@remote.example"));
        assertThat(stored.getErrorMessage()).startsWith("victim@remote.example: 451 4.3.0");
        assertThat(stored.getState()).as("reprocessed in the state it was held in").isEqualTo(Mail.TRANSPORT);
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.deferred.relay.domain-lookup-failed", 1,
            "relayguard.pipeline.deferred.relay.domain-lookup-failed", 1,
            "relayguard.pipeline.held", 1));
        assertThat(audit.lines()).last().asString().startsWith("outcome=held path=pipeline session=mail-1 ")
            .endsWith(" repository=memory://var/mail/relayguard-held");
    }

    @Test
    void aRecipientTheMatcherPickedButThePolicyNowAllowsIsHeldNeitherRefusedNorBounced() throws Exception {
        // IsRelayDenied matched while DomainList was down; by the time RefuseRelay runs, DomainList answers again
        // and the recipient is local: refusing it for good would lose a local user's mail.
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger(ALICE, "bob@example.com").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
        assertThat(pipeline.repository(DENIED).size()).isZero();
        assertThat(pipeline.repository(HELD).size()).isEqualTo(1);
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.held", 1)
            .doesNotContainKey("relayguard.refused.relay.unauthenticated");
    }

    @Test
    void aRelayRuleInDeferModeHoldsTheMailInTheConfiguredHeldRepository() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("<rules><relay>defer</relay></rules>");
        Mail mail = mailFromStranger(ALICE, "victim@remote.example").build();

        mailet(pipeline, "heldRepositoryPath", " memory://var/mail/held-elsewhere/ ").service(mail);

        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
        assertThat(pipeline.repository("memory://var/mail/held-elsewhere/").size()).isEqualTo(1);
        assertThat(pipeline.repository(HELD).size()).isZero();
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.deferred.relay.unauthenticated", 1)
            .containsEntry("relayguard.pipeline.held", 1);
    }

    @Test
    void aRoutingRuleInDeferModeHoldsTheMailNeverBouncesIt() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("<rules><percentHack>defer</percentHack></rules>");
        Mail mail = mailFromUser(ALICE, ALICE, "someone%remote.example@example.com").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.mailetContext.getBouncedMails()).isEmpty();
        assertThat(pipeline.repository(HELD).size()).isEqualTo(1);
        assertThat(pipeline.counters()).containsEntry("relayguard.pipeline.deferred.routing.percent-hack", 1)
            .containsEntry("relayguard.pipeline.held", 1);
    }

    @Test
    void aHeldRepositoryPathThatIsNoUrlOrTheRefusedRepositoryIsRefused() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        assertThatThrownBy(() -> mailet(pipeline, "heldRepositoryPath", "not a url"))
            .isInstanceOf(MessagingException.class)
            .hasMessageStartingWith("mailetcontainer.xml: RefuseRelay: heldRepositoryPath = 'not a url': not a repository URL");
        assertThatThrownBy(() -> mailet(pipeline, "heldRepositoryPath", DENIED))
            .isInstanceOf(MessagingException.class)
            .hasMessageStartingWith("mailetcontainer.xml: RefuseRelay: heldRepositoryPath = 'memory://var/mail/relayguard-relay-denied': "
                + "must differ from repositoryPath");
    }

    @Test
    void theReprocessCallNamesTheRepositoryPathAsWebAdminWantsIt() {
        assertThat(Quarantine.reprocessCall(MailRepositoryUrl.from(HELD))).isEqualTo(
            "http://127.0.0.1:8000/mailRepositories/var%2Fmail%2Frelayguard-held/mails?action=reprocess&queue=spool&processor=transport");
    }

    @Test
    void routingSyntaxIsRefusedUnderItsOwnReason() throws Exception {
        Pipeline pipeline = Pipeline.withPolicy("");
        Mail mail = mailFromStranger("a@sender.example", "someone%remote.example@example.com").build();

        mailet(pipeline).service(mail);

        assertThat(mail.getState()).isEqualTo(Mail.GHOST);
        assertThat(pipeline.counters()).isEqualTo(Map.of(
            "relayguard.refused.routing.percent-hack", 1,
            "relayguard.pipeline.refused.routing.percent-hack", 1,
            "relayguard.pipeline.bounce-suppressed", 1));
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
        assertThat(pipeline.counters()).as("the null sender is never bounced: nothing suppressed")
            .doesNotContainKey("relayguard.pipeline.bounce-suppressed");
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
