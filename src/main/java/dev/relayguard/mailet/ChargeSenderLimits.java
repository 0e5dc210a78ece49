package dev.relayguard.mailet;

import java.util.List;
import java.util.Optional;
import java.util.Set;

import javax.inject.Inject;
import javax.mail.MessagingException;

import org.apache.james.mailrepository.api.MailRepository;
import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
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
    private MailRepositoryUrl repositoryUrl;
    private boolean notifySender;

    @Inject
    public ChargeSenderLimits(RelayGuard guard, MailRepositoryStore repositoryStore) {
        this.guard = guard;
        this.repositoryStore = repositoryStore;
    }

    @Override
    public void init() throws MessagingException {
        checkInitParameters(Set.of("overLimitProcessor", "repositoryPath", "notifySender", "onMailetException"));
        overLimitProcessor = getInitParameterAsOptional("overLimitProcessor").map(String::trim).filter(p -> !p.isEmpty());
        String path = getInitParameter("repositoryPath", DEFAULT_REPOSITORY).trim();
        try {
            repositoryUrl = MailRepositoryUrl.from(path);
        } catch (RuntimeException e) {
            throw new MessagingException("mailetcontainer.xml: ChargeSenderLimits: repositoryPath = '" + path + "': not a repository URL ("
                + e.getMessage() + ")");
        }
        String notify = getInitParameter("notifySender", "true").trim();
        if (!notify.equals("true") && !notify.equals("false")) {
            throw new MessagingException("mailetcontainer.xml: ChargeSenderLimits: notifySender = '" + notify + "': expected true or false");
        }
        notifySender = Boolean.parseBoolean(notify);
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
        Optional<RateLimitPolicy.Subject> subject = guard.rateSubject(Client.of(null, user.get()));
        if (subject.isEmpty()) {
            return;
        }
        LimitSet limits = subject.get().limits();
        List<Charge> charges = new java.util.ArrayList<>(limits.charges(Measure.MESSAGES, 1));
        charges.addAll(limits.charges(Measure.RECIPIENTS, mail.getRecipients().size()));
        charges.addAll(limits.charges(Measure.BYTES, mail.getMessageSize()));
        RefusalContext context = MailFacts.context(mail).recipient(mail.getRecipients().toString()).build();
        RateLimiter.Result result = guard.chargeRate(subject.get(), charges, context);
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
        keepAndNotify(mail, reason);
    }

    private void keepAndNotify(Mail mail, String reason) throws MessagingException {
        MailRepository repository;
        try {
            repository = repositoryStore.select(repositoryUrl);
        } catch (MailRepositoryStore.MailRepositoryStoreException e) {
            throw new MessagingException("Cannot open " + repositoryUrl.asString(), e);
        }
        mail.setErrorMessage(reason);
        repository.store(mail);
        if (notifySender && !mail.getMaybeSender().isNullSender()) {
            getMailetContext().bounce(mail, "Your message was not sent: " + reason
                + ". It is kept by the server; send it again later.");
        }
        mail.setState(Mail.GHOST);
    }

    @Override
    public String getMailetInfo() {
        return "RelayGuard: charges pipeline mail to its sender's rate limits";
    }
}
