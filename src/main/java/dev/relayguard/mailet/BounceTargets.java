package dev.relayguard.mailet;

import java.util.Optional;

import org.apache.james.core.MailAddress;
import org.apache.james.domainlist.api.DomainList;
import org.apache.james.domainlist.api.DomainListException;
import org.apache.james.user.api.UsersRepository;
import org.apache.james.user.api.UsersRepositoryException;
import org.apache.mailet.Mail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may get a bounce from RelayGuard's pipeline mailets: only a sender that somebody verified. That is a mail
 * with an authenticated user (SMTP AUTH, RFC 4954, or JMAP, RFC 8621, as {@link MailFacts} reads them), or a mail
 * whose envelope sender is a user of this server (its domain in James's {@link DomainList} and its user in James's
 * {@link UsersRepository}, looked up as James does, {@link UsersRepository#getUsername(MailAddress)}). Any other
 * envelope sender may be forged: a bounce to it is backscatter (RFC 5321 section 6.2 and RFC 3834 section 2 warn
 * against it), so it gets none. A lookup that fails means "not verified", never "bounce anyway".
 */
final class BounceTargets {
    /** The audit word for a sender that is neither authenticated nor a local user. */
    static final String UNVERIFIED = "sender-unverified";
    /** The audit word for a sender whose check failed (DomainList or users repository down). */
    static final String LOOKUP_FAILED = "sender-lookup-failed";
    /** The audit word for the null sender {@code <>} (never bounced, not counted as suppressed). */
    static final String NULL_SENDER = "null-sender";

    private static final Logger LOGGER = LoggerFactory.getLogger(BounceTargets.class);

    private final UsersRepository users;
    private final DomainList domains;

    BounceTargets(UsersRepository users, DomainList domains) {
        this.users = users;
        this.domains = domains;
    }

    /**
     * Why {@code mail}'s sender may not get a bounce: {@link #NULL_SENDER}, {@link #UNVERIFIED} or
     * {@link #LOOKUP_FAILED}; empty when it may.
     */
    Optional<String> whyNoBounce(Mail mail) {
        Optional<MailAddress> sender = mail.getMaybeSender().asOptional();
        if (sender.isEmpty()) {
            return Optional.of(NULL_SENDER);
        }
        if (MailFacts.authenticatedUser(mail).isPresent()) {
            return Optional.empty();
        }
        try {
            boolean local = domains.containsDomain(sender.get().getDomain()) && users.contains(users.getUsername(sender.get()));
            return local ? Optional.empty() : Optional.of(UNVERIFIED);
        } catch (DomainListException | UsersRepositoryException | RuntimeException e) {
            LOGGER.warn("Cannot tell whether the sender of mail {} is a local user ({}): it gets no bounce", mail.getName(), e.toString());
            return Optional.of(LOOKUP_FAILED);
        }
    }
}
