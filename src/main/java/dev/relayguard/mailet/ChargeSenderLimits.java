package dev.relayguard.mailet;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import javax.inject.Inject;
import javax.mail.MessagingException;

import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;

import dev.relayguard.MailAttributes;
import dev.relayguard.RelayGuard;
import dev.relayguard.core.Client;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.LimitSet;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.observe.RefusalContext;

/**
 * Charges mail that did not come through RelayGuard's SMTP handler (JMAP submissions, mail sent by mailets,
 * other listeners) to its sender's rate limits: the same limits and the same counters as SMTP, keyed by the
 * mail's authenticated user ({@code org.apache.james.SMTPAuthUser}, or JMAP's submitting user). Mail already
 * charged at SMTP time, and mail without an authenticated user, pass untouched.
 *
 * <p>Over a limit, the mail goes to {@code overLimitProcessor} when one is given; by default it is kept in
 * {@code repositoryPath} and the sender is notified (a bounce naming the limit; never for a null sender).
 * Nothing is dropped silently.
 *
 * <pre>{@code
 * <mailet match="All" class="dev.relayguard.mailet.ChargeSenderLimits">
 *   <repositoryPath>memory://var/mail/relayguard-rate-limited/</repositoryPath>  <!-- default -->
 *   <notifySender>true</notifySender>                                             <!-- default -->
 *   <!-- <overLimitProcessor>rate-limited</overLimitProcessor>  instead of the two above -->
 * </mailet>
 * }</pre>
 * Put it in the {@code transport} processor before any delivery mailet.
 */
public class ChargeSenderLimits extends GenericMailet {
    static final String DEFAULT_REPOSITORY = "memory://var/mail/relayguard-rate-limited/";

    private final RelayGuard guard;
    private final MailRepositoryStore repositoryStore;
    private Optional<String> overLimitProcessor;
    private Quarantine quarantine;

    @Inject
    public ChargeSenderLimits(RelayGuard guard, MailRepositoryStore repositoryStore) {
        this.guard = guard;
        this.repositoryStore = repositoryStore;
    }

    @Override
    public void init() throws MessagingException {
        checkInitParameters(Set.of("overLimitProcessor", Quarantine.REPOSITORY_PATH, "notifySender", "onMailetException"));
        overLimitProcessor = MailetParameters.read(this, values -> values.text("overLimitProcessor"));
        quarantine = Quarantine.configure(this, repositoryStore, DEFAULT_REPOSITORY, "notifySender", true);
    }

    @Override
    public void service(Mail mail) throws MessagingException {
        if (mail.getAttribute(MailAttributes.RATE_CHARGED).isPresent()) {
            return;
        }
        Optional<String> user = MailFacts.authenticatedUser(mail);
        if (user.isEmpty()) {
            return;
        }
        Optional<RateLimitPolicy.Subject> subject = guard.senderLimits().rateSubject(Client.of(null, user.get()));
        if (subject.isEmpty()) {
            return;
        }
        LimitSet limits = subject.get().limits();
        List<Charge> charges = new ArrayList<>(limits.charges(Measure.MESSAGES, 1));
        charges.addAll(limits.charges(Measure.RECIPIENTS, mail.getRecipients().size()));
        charges.addAll(limits.charges(Measure.BYTES, mail.getMessageSize()));
        RefusalContext context = MailFacts.context(mail).recipient(mail.getRecipients().toString()).build();
        RateLimiter.Result result = guard.senderLimits().chargeRate(subject.get(), charges, context);
        if (result.verdict().passes()) {
            mail.setAttribute(new Attribute(MailAttributes.RATE_CHARGED, AttributeValue.of(true)));
            return;
        }
        String reason = result.verdict().enhancedStatus() + " " + result.verdict().text();
        if (overLimitProcessor.isPresent()) {
            mail.setErrorMessage(reason);
            mail.setState(overLimitProcessor.get());
            return;
        }
        quarantine.keep(mail, reason, "Your message was not sent: " + reason + ". It is kept by the server; send it again later.");
    }

    @Override
    public String getMailetInfo() {
        return "RelayGuard: charges pipeline mail to its sender's rate limits";
    }
}
