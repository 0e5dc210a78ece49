package dev.relayguard.mailet;

import java.util.Set;

import javax.inject.Inject;
import javax.mail.MessagingException;

import org.apache.james.core.MailAddress;
import org.apache.james.domainlist.api.DomainList;
import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.james.user.api.UsersRepository;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.Client;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.Verdict;
import dev.relayguard.observe.RefusalContext;

/**
 * Refuses the recipients its matcher picked ({@code IsRelayDenied}, {@code HasRoutingSyntax}): the mail, with
 * those recipients only, is kept in {@code repositoryPath}, and the same counter as the SMTP refusal is
 * increased, plus the pipeline's own ({@code relayguard.pipeline.refused.<reason>}). The other recipients of the
 * mail are not touched: James's matcher split the mail, they go on down the processor.
 *
 * <p>With {@code bounce} true, the sender gets one bounce naming the reason, but only a sender somebody verified:
 * the mail's authenticated user (SMTP AUTH or JMAP) or a user of this server (James's {@code UsersRepository}
 * and {@code DomainList}). A stranger's envelope sender may be forged (a relay attempt through a listener
 * without RelayGuard's handler): it gets no bounce (no backscatter, RFC 5321 section 6.2), the mail is still
 * kept, and {@code relayguard.pipeline.bounce-suppressed} plus an audit line ({@code outcome=bounce-suppressed})
 * say so. The null sender never gets one.
 *
 * <p>A recipient refused only for now (the matcher's check failed temporarily, {@code 451 4.3.0}: DomainList
 * down; or the rule is in defer mode), or one the matcher picked but the policy allows by the time this mailet runs
 * (DomainList back, a reload in between, a custom matcher), is never bounced nor refused for good: the whole mail
 * is held in {@code heldRepositoryPath}, counted ({@code relayguard.pipeline.held}) and logged at WARN with the
 * WebAdmin call that reprocesses it into {@code transport}, where it is judged again. Held rather than retried automatically: an outage of James's
 * DomainList can outlast any retry budget, and a held mail is where the operator can see it.
 *
 * <pre>{@code
 * <mailet match="dev.relayguard.mailet.IsRelayDenied" class="dev.relayguard.mailet.RefuseRelay">
 *   <repositoryPath>memory://var/mail/relayguard-relay-denied/</repositoryPath>  <!-- default -->
 *   <heldRepositoryPath>memory://var/mail/relayguard-held/</heldRepositoryPath>  <!-- default -->
 *   <bounce>true</bounce>                                                        <!-- default -->
 * </mailet>
 * }</pre>
 * A bad value ({@code bounce} other than {@code true}/{@code false}, a path that is no repository URL, a held
 * repository equal to {@code repositoryPath}, an unknown parameter) stops James at start with a message naming
 * {@code mailetcontainer.xml}, the mailet, the parameter and the value.
 */
public class RefuseRelay extends GenericMailet {
    static final String DEFAULT_REPOSITORY = "memory://var/mail/relayguard-relay-denied/";

    private final RelayGuard guard;
    private final MailRepositoryStore repositoryStore;
    private final BounceTargets bounceTargets;
    private Quarantine quarantine;

    @Inject
    public RefuseRelay(RelayGuard guard, MailRepositoryStore repositoryStore, UsersRepository users, DomainList domains) {
        this.guard = guard;
        this.repositoryStore = repositoryStore;
        this.bounceTargets = new BounceTargets(users, domains);
    }

    @Override
    public void init() throws MessagingException {
        checkInitParameters(Set.of(Quarantine.REPOSITORY_PATH, Quarantine.HELD_REPOSITORY_PATH, "bounce", "onMailetException"));
        quarantine = Quarantine.configure(this, repositoryStore, guard.recorder(), DEFAULT_REPOSITORY, "bounce", true, bounceTargets);
    }

    @Override
    public void service(Mail mail) throws MessagingException {
        if (mail.getRecipients().isEmpty()) {
            return;
        }
        Client client = MailFacts.client(mail);
        StringBuilder reasons = new StringBuilder();
        boolean temporary = false;
        for (MailAddress recipient : mail.getRecipients()) {
            Verdict verdict = verdictFor(recipient, client);
            guard.record(verdict, MailFacts.context(mail).recipient(recipient.asString()).build(), null);
            reasons.append(reasons.length() > 0 ? "; " : "").append(recipient.asString()).append(": ").append(verdict.replyLine());
            temporary |= verdict.outcome() == Outcome.DEFERRED;
        }
        RefusalContext context = MailFacts.context(mail).recipient(mail.getRecipients().toString()).build();
        if (temporary) {
            quarantine.hold(mail, reasons.toString(), context);
        } else {
            quarantine.keep(mail, reasons.toString(), "Your message was not delivered to these recipients: " + reasons, context);
        }
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
        // The matcher refused what the policy now allows: DomainList came back or the policy was reloaded between
        // matcher and mailet, or a custom matcher sees what RelayGuard does not. Neither refused for good (it may be
        // a local recipient) nor let through (it may be a relay): held, judged again when reprocessed.
        return Verdict.defer(Reason.RELAY_UNAUTHENTICATED, "451", "4.7.1",
            "Refused by the matcher, allowed by the policy now: held to be judged again (" + recipient.getDomain().asString() + ")");
    }

    @Override
    public String getMailetInfo() {
        return "RelayGuard: keeps mail for recipients it may not be relayed to, bounces it to verified senders only";
    }
}
