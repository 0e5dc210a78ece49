package dev.relayguard.mailet;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import javax.inject.Inject;

import org.apache.james.core.MailAddress;
import org.apache.mailet.Mail;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.Client;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.Verdict;

/**
 * Matches the recipients of a mail that RelayGuard's policy does not let this mail be relayed to: the same
 * decision as the SMTP handler's RCPT check, from the mail's own facts (its authenticated user from SMTP AUTH
 * or JMAP, its client address against RelayGuard's trusted networks, each recipient's domain against James's
 * DomainList and RelayGuard's relay domains). Mail James itself sends (bounces, forwards) is treated as
 * {@code <pipeline><sentByMailet>} in {@code relayguard.xml} says (default: let through, as stock James does).
 * Local recipients never match, and neither does a recipient whose relay rule is in monitor mode (the mail goes
 * on, as at SMTP; the SMTP door counts monitored relays). A recipient whose check fails temporarily (DomainList
 * down) matches, and so does one refused by a relay rule in defer mode: it is safer kept than relayed;
 * {@code RefuseRelay} then holds the mail in its {@code heldRepositoryPath} for reprocessing, never bounces it.
 *
 * <pre>{@code
 * <mailet match="dev.relayguard.mailet.IsRelayDenied" class="dev.relayguard.mailet.RefuseRelay"/>
 * }</pre>
 * It takes no condition.
 */
public class IsRelayDenied extends NoConditionMatcher {
    private final RelayGuard guard;

    @Inject
    public IsRelayDenied(RelayGuard guard) {
        this.guard = guard;
    }

    @Override
    public Collection<MailAddress> match(Mail mail) {
        if (MailFacts.sentByMailet(mail) && guard.settings().sentByMailet().letsThrough(mail.getMaybeSender().isNullSender())) {
            return List.of();
        }
        Client client = MailFacts.client(mail);
        List<MailAddress> denied = new ArrayList<>();
        for (MailAddress recipient : mail.getRecipients()) {
            Verdict verdict = guard.decideRelay(RelayRequest.of(client, recipient.getDomain().asString()));
            if (!verdict.passes()) {
                denied.add(recipient);
            }
        }
        return denied;
    }

    @Override
    public String getMatcherInfo() {
        return "RelayGuard: recipients this mail may not be relayed to";
    }
}
