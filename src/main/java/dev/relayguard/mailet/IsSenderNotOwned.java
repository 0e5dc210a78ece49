package dev.relayguard.mailet;

import java.util.Collection;
import java.util.List;

import javax.inject.Inject;

import org.apache.james.core.MailAddress;
import org.apache.mailet.Mail;

import dev.relayguard.MailAttributes;
import dev.relayguard.RelayGuard;
import dev.relayguard.core.Client;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.Verdict;
import dev.relayguard.header.AuthorHeaderReader;

/**
 * Matches every recipient of a mail whose authenticated user (SMTP AUTH, or JMAP's submitting user) does not
 * own its sender: the envelope sender (MAIL FROM), or an address in its {@code From:} or {@code Sender:} header,
 * by the same rule and modes as the SMTP handler ({@code senderOwnership}, rule {@code headerFrom} in
 * {@code relayguard.xml}). For mail that did not pass the SMTP handler's checks: JMAP, mailets, a listener
 * without the handler. Not judged: mail without an authenticated user (DMARC's job), mail James itself sent
 * (bounces, forwards) unless {@code <pipeline><sentByMailet>judge</sentByMailet></pipeline>}, and mail that
 * passed the SMTP handler (it judged it already). A rule in monitor mode does not
 * match but is counted ({@code relayguard.pipeline.monitored.<reason>}); a failed ownership lookup matches
 * (the mail is kept, never bounced, never sent).
 *
 * <pre>{@code
 * <mailet match="dev.relayguard.mailet.IsSenderNotOwned" class="dev.relayguard.mailet.RefuseSender"/>
 * }</pre>
 * It takes no condition.
 */
public class IsSenderNotOwned extends NoConditionMatcher {
    private final RelayGuard guard;

    @Inject
    public IsSenderNotOwned(RelayGuard guard) {
        this.guard = guard;
    }

    @Override
    public Collection<MailAddress> match(Mail mail) {
        if (mail.getAttribute(MailAttributes.SENDER_JUDGED).isPresent()
                || (MailFacts.sentByMailet(mail) && guard.settings().sentByMailet().letsThrough(mail.getMaybeSender().isNullSender()))) {
            return List.of();
        }
        Verdict verdict = verdict(guard, mail);
        if (verdict.outcome() == Outcome.MONITORED) {
            guard.record(verdict, MailFacts.context(mail).build(), null);
        }
        return verdict.passes() ? List.of() : mail.getRecipients();
    }

    /**
     * The sender verdict of a mail: its envelope sender first, then its author headers; allowed when the mail
     * has no authenticated user.
     */
    static Verdict verdict(RelayGuard guard, Mail mail) {
        Client client = MailFacts.client(mail);
        if (client.authenticatedUser().isEmpty()) {
            return Verdict.allow(dev.relayguard.core.Reason.SENDER_OK);
        }
        String sender = mail.getMaybeSender().isNullSender() ? null : mail.getMaybeSender().get().asString();
        Verdict envelope = guard.decideSender(client, sender);
        if (!envelope.isAllowed()) {
            return envelope;
        }
        return guard.decideAuthorHeaders(client, AuthorHeaderReader.read(mail));
    }

    @Override
    public String getMatcherInfo() {
        return "RelayGuard: mail whose authenticated user does not own its sender or From: header";
    }
}
