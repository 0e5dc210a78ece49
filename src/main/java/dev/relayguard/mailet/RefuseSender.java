package dev.relayguard.mailet;

import java.util.Set;

import javax.inject.Inject;
import javax.mail.MessagingException;

import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.Verdict;

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
        quarantine = Quarantine.configure(this, repositoryStore, DEFAULT_REPOSITORY, null, false);
    }

    @Override
    public void service(Mail mail) throws MessagingException {
        Verdict verdict = IsSenderNotOwned.verdict(guard, mail);
        if (verdict.passes()) {
            return;
        }
        guard.record(verdict, MailFacts.context(mail).build(), null);
        quarantine.keep(mail, verdict.replyLine(), null);
    }

    @Override
    public String getMailetInfo() {
        return "RelayGuard: keeps mail whose authenticated user does not own its sender";
    }
}
