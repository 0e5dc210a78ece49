package dev.relayguard.mailet;

import java.util.Set;

import javax.inject.Inject;
import javax.mail.MessagingException;

import org.apache.james.core.MailAddress;
import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.Client;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.Verdict;

/**
 * Refuses the recipients its matcher picked ({@code IsRelayDenied}, {@code HasRoutingSyntax}): the mail, with
 * those recipients only, is kept in {@code repositoryPath}, its sender gets one bounce naming the reason (never
 * for a null sender), and the same counter as the SMTP refusal is increased, plus the pipeline's own
 * ({@code relayguard.pipeline.refused.<reason>}). The other recipients of the mail are not touched: James's
 * matcher split the mail, they go on down the processor.
 *
 * <pre>{@code
 * <mailet match="dev.relayguard.mailet.IsRelayDenied" class="dev.relayguard.mailet.RefuseRelay">
 *   <repositoryPath>memory://var/mail/relayguard-relay-denied/</repositoryPath>  <!-- default -->
 *   <bounce>true</bounce>                                                        <!-- default -->
 * </mailet>
 * }</pre>
 */
public class RefuseRelay extends GenericMailet {
    static final String DEFAULT_REPOSITORY = "memory://var/mail/relayguard-relay-denied/";

    private final RelayGuard guard;
    private final MailRepositoryStore repositoryStore;
    private Quarantine quarantine;

    @Inject
    public RefuseRelay(RelayGuard guard, MailRepositoryStore repositoryStore) {
        this.guard = guard;
        this.repositoryStore = repositoryStore;
    }

    @Override
    public void init() throws MessagingException {
        checkInitParameters(Set.of(Quarantine.REPOSITORY_PATH, "bounce", "onMailetException"));
        quarantine = Quarantine.configure(this, repositoryStore, DEFAULT_REPOSITORY, "bounce", true);
    }

    @Override
    public void service(Mail mail) throws MessagingException {
        if (mail.getRecipients().isEmpty()) {
            return;
        }
        Client client = MailFacts.client(mail);
        StringBuilder reasons = new StringBuilder();
        for (MailAddress recipient : mail.getRecipients()) {
            Verdict verdict = verdictFor(recipient, client);
            guard.record(verdict, MailFacts.context(mail).recipient(recipient.asString()).build(), null);
            reasons.append(reasons.length() > 0 ? "; " : "").append(recipient.asString()).append(": ").append(verdict.replyLine());
        }
        quarantine.keep(mail, reasons.toString(), "Your message was not delivered to these recipients: " + reasons);
    }

    /** Why this recipient is refused: its routing syntax, else the relay rule (as the matchers decided). */
    private Verdict verdictFor(MailAddress recipient, Client client) {
        Verdict routing = guard.checkPath(SmtpPath.ofAddress(recipient.getLocalPart(), recipient.getDomain().asString()), true, client);
        if (!routing.passes()) {
            return routing;
        }
        Verdict relay = guard.decideRelay(RelayRequest.of(client, recipient.getDomain().asString()));
        if (!relay.passes()) {
            return relay;
        }
        // Matched by a matcher whose view we cannot reproduce (sentByMailet policy, or a custom matcher):
        // still refused, under the relay rule's reason.
        return Verdict.of(Reason.RELAY_UNAUTHENTICATED,
            "Relaying denied: " + recipient.getDomain().asString() + " is not served here");
    }

    @Override
    public String getMailetInfo() {
        return "RelayGuard: keeps and bounces mail for recipients it may not be relayed to";
    }
}
