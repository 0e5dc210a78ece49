package dev.relayguard.mailet;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import javax.inject.Inject;

import org.apache.james.core.MailAddress;
import org.apache.mailet.Mail;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.Client;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.Verdict;

/**
 * Matches the recipients whose address carries routing syntax that RelayGuard's rules refuse ({@code %},
 * {@code !}, {@code @} in the local part, IP literals not configured as local), the same rules and modes as the
 * SMTP handler (a rule in monitor or off mode does not match; one in defer mode does, and {@code RefuseRelay}
 * then holds the mail in its {@code heldRepositoryPath}, never bounces it). For mail that did not pass the SMTP
 * handler.
 *
 * <pre>{@code
 * <mailet match="dev.relayguard.mailet.HasRoutingSyntax" class="dev.relayguard.mailet.RefuseRelay"/>
 * }</pre>
 * It takes no condition.
 */
public class HasRoutingSyntax extends NoConditionMatcher {
    private final RelayGuard guard;

    @Inject
    public HasRoutingSyntax(RelayGuard guard) {
        this.guard = guard;
    }

    @Override
    public Collection<MailAddress> match(Mail mail) {
        List<MailAddress> matched = new ArrayList<>();
        Client client = MailFacts.client(mail); // once per mail, not per recipient
        for (MailAddress recipient : mail.getRecipients()) {
            Verdict verdict = guard.checkPath(SmtpPath.ofAddress(recipient.getLocalPart(), recipient.getDomain().asString()), true, client);
            if (!verdict.passes()) {
                matched.add(recipient);
            }
        }
        return matched;
    }

    @Override
    public String getMatcherInfo() {
        return "RelayGuard: recipients with routing syntax";
    }
}
