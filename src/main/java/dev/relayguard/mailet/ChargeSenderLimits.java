package dev.relayguard.mailet;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import javax.inject.Inject;
import javax.mail.MessagingException;

import org.apache.james.domainlist.api.DomainList;
import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.james.user.api.UsersRepository;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;

import dev.relayguard.MailAttributes;
import dev.relayguard.RelayGuard;
import dev.relayguard.core.Client;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
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
 * charged at SMTP time, and mail without an authenticated user, pass untouched. The sender's suspension is read in
 * the same store call as the charge of the message, its recipients and its bytes (all or none): one Redis round trip
 * per mail with the Redis store on a standalone Redis, two with Redis Cluster.
 *
 * <p>Over a limit (or suspended), the mail goes to {@code overLimitProcessor} when one is given; by default it is
 * kept in {@code repositoryPath} and, with {@code notifySender} true, the sender is notified by a bounce naming
 * the limit, but only a sender somebody verified: the authenticated user, or a user of this server (James's
 * {@code UsersRepository} and {@code DomainList}); never a null sender, never a possibly forged stranger (counted
 * as {@code relayguard.pipeline.bounce-suppressed} and audited {@code outcome=bounce-suppressed} instead).
 *
 * <p>A decision that failed for now ({@code 451 4.3.0}: the rate store, Redis, down with
 * {@code onStoreFailure} fail-closed) is never bounced and never sent to {@code overLimitProcessor}: the mail is
 * held in {@code heldRepositoryPath}, counted ({@code relayguard.pipeline.held}) and logged at WARN with the
 * WebAdmin call that reprocesses it into {@code transport} (where it is charged again). A limit's own
 * {@code 450 4.7.1} and a suspension's are answers about the sender, not failures: that mail is over its limit as
 * above. Nothing is dropped silently.
 *
 * <pre>{@code
 * <mailet match="All" class="dev.relayguard.mailet.ChargeSenderLimits">
 *   <repositoryPath>memory://var/mail/relayguard-rate-limited/</repositoryPath>  <!-- default -->
 *   <notifySender>true</notifySender>                                             <!-- default -->
 *   <!-- <overLimitProcessor>rate-limited</overLimitProcessor>  instead of the two above -->
 *   <heldRepositoryPath>memory://var/mail/relayguard-held/</heldRepositoryPath>   <!-- default -->
 * </mailet>
 * }</pre>
 * Put it in the {@code transport} processor before any delivery mailet. A bad value ({@code notifySender} other
 * than {@code true}/{@code false}, a path that is no repository URL, a held repository equal to
 * {@code repositoryPath}, an unknown parameter) stops James at start with a message naming
 * {@code mailetcontainer.xml}, the mailet, the parameter and the value.
 */
public class ChargeSenderLimits extends GenericMailet {
    static final String DEFAULT_REPOSITORY = "memory://var/mail/relayguard-rate-limited/";

    /**
     * Answers about the sender itself (a limit reached, {@code 450 4.7.1}; suspended, {@code 450 4.7.1} in the
     * default defer mode): temporary by nature, but decisions, not failures; over a limit as the class says.
     */
    private static final Set<Reason> SENDER_VERDICTS =
        EnumSet.of(Reason.RATE_MESSAGES, Reason.RATE_RECIPIENTS, Reason.RATE_BYTES, Reason.RATE_SUSPENDED);

    private final RelayGuard guard;
    private final MailRepositoryStore repositoryStore;
    private final BounceTargets bounceTargets;
    private Optional<String> overLimitProcessor;
    private Quarantine quarantine;

    @Inject
    public ChargeSenderLimits(RelayGuard guard, MailRepositoryStore repositoryStore, UsersRepository users, DomainList domains) {
        this.guard = guard;
        this.repositoryStore = repositoryStore;
        this.bounceTargets = new BounceTargets(users, domains);
    }

    @Override
    public void init() throws MessagingException {
        checkInitParameters(Set.of("overLimitProcessor", Quarantine.REPOSITORY_PATH, Quarantine.HELD_REPOSITORY_PATH, "notifySender",
            "onMailetException"));
        overLimitProcessor = MailetParameters.read(this, values -> values.text("overLimitProcessor"));
        quarantine = Quarantine.configure(this, repositoryStore, guard.recorder(), DEFAULT_REPOSITORY, "notifySender", true, bounceTargets);
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
        // Suspensions apply to every authenticated user (JMX suspend); rate limits only where configured.
        Optional<RateLimitPolicy.Subject> subject = guard.senderLimits().suspensionSubject(Client.of(null, user.get()));
        if (subject.isEmpty()) {
            return;
        }
        LimitSet limits = subject.get().limits();
        RefusalContext context = MailFacts.context(mail).recipient(mail.getRecipients().toString()).build();
        // A suspended sender (JMX suspend, or its limits hit too often) sends nothing through the pipeline either,
        // as at SMTP MAIL; its mail consumes nothing. With rate limits, the suspension is read in the charge's own
        // store call (one Redis round trip on a standalone Redis).
        Verdict verdict;
        if (limits.isEmpty()) {
            verdict = guard.senderLimits().checkSuspension(subject.get(), context);
            if (verdict.passes()) {
                return;
            }
        } else {
            List<Charge> charges = new ArrayList<>(limits.charges(Measure.MESSAGES, 1));
            charges.addAll(limits.charges(Measure.RECIPIENTS, mail.getRecipients().size()));
            charges.addAll(limits.charges(Measure.BYTES, mail.getMessageSize()));
            RateLimiter.Result result = guard.senderLimits().chargeRateUnlessSuspended(subject.get(), charges, context);
            if (result.verdict().passes()) {
                mail.setAttribute(new Attribute(MailAttributes.RATE_CHARGED, AttributeValue.of(true)));
                return;
            }
            verdict = result.verdict();
        }
        String reason = verdict.enhancedStatus() + " " + verdict.text();
        if (verdict.outcome() == Outcome.DEFERRED && !SENDER_VERDICTS.contains(verdict.reason())) {
            quarantine.hold(mail, reason, context);
            return;
        }
        if (overLimitProcessor.isPresent()) {
            mail.setErrorMessage(reason);
            mail.setState(overLimitProcessor.get());
            return;
        }
        quarantine.keep(mail, reason, "Your message was not sent: " + reason + ". It is kept by the server; send it again later.", context);
    }

    @Override
    public String getMailetInfo() {
        return "RelayGuard: charges pipeline mail to its sender's rate limits";
    }
}
