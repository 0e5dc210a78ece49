package dev.relayguard.mailet;

import java.util.Set;

import javax.inject.Inject;
import javax.mail.MessagingException;

import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.Verdict;
import dev.relayguard.observe.RefusalContext;

/**
 * Refuses a mail that {@code IsSenderNotOwned} matched: the mail is kept in {@code repositoryPath}, counted
 * like the SMTP refusal ({@code relayguard.refused.sender.not-owned}, {@code ...sender.header-not-owned},
 * {@code ...sender.header-invalid}) plus the pipeline's own counter ({@code relayguard.pipeline.refused.<reason>}),
 * logged on {@code relayguard.audit}, and not delivered. It never bounces: the envelope sender is exactly the
 * address the user may not use, so a bounce would go to a stranger (backscatter). An operator finds the mail,
 * with the reason as its error message, in the repository (WebAdmin {@code /mailRepositories}).
 *
 * <pre>{@code
 * <mailet match="dev.relayguard.mailet.IsSenderNotOwned" class="dev.relayguard.mailet.RefuseSender">
 *   <repositoryPath>memory://var/mail/relayguard-sender-not-owned/</repositoryPath>  <!-- default -->
 * </mailet>
 * }</pre>
 * A mail whose verdict allows it by the time it reaches this mailet (the alias was added meanwhile) goes on.
 */
public class RefuseSender extends GenericMailet {
    static final String DEFAULT_REPOSITORY = "memory://var/mail/relayguard-sender-not-owned/";

    private final RelayGuard guard;
    private final MailRepositoryStore repositoryStore;
    private Quarantine quarantine;

    @Inject
    public RefuseSender(RelayGuard guard, MailRepositoryStore repositoryStore) {
        this.guard = guard;
        this.repositoryStore = repositoryStore;
    }

    @Override
    public void init() throws MessagingException {
        checkInitParameters(Set.of(Quarantine.REPOSITORY_PATH, "onMailetException"));
        quarantine = Quarantine.keepOnly(this, repositoryStore, guard.recorder(), DEFAULT_REPOSITORY);
    }

    @Override
    public void service(Mail mail) throws MessagingException {
        Verdict verdict = IsSenderNotOwned.verdict(guard, mail);
        if (verdict.passes()) {
            return;
        }
        RefusalContext context = MailFacts.context(mail).build();
        guard.record(verdict, context, null);
        quarantine.keep(mail, verdict.replyLine(), null, context);
    }

    @Override
    public String getMailetInfo() {
        return "RelayGuard: keeps mail whose authenticated user does not own its sender";
    }
}
