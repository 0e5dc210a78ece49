package dev.relayguard.mailet;

import javax.mail.MessagingException;

import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;

/**
 * What a refusing mailet does with the mail it refuses: keeps it, with the reason as its error message, in the
 * mail repository named by its {@code repositoryPath} parameter; bounces it to its sender when the mailet's
 * bounce parameter says so (never to a null sender); and ends its journey ({@link Mail#GHOST}). Nothing refused
 * is dropped silently: an operator finds it in the repository (WebAdmin {@code /mailRepositories}).
 * Shared by {@link RefuseRelay}, {@link RefuseSender} and {@link ChargeSenderLimits}.
 */
final class Quarantine {
    static final String REPOSITORY_PATH = "repositoryPath";

    private final GenericMailet mailet;
    private final MailRepositoryStore store;
    private final MailRepositoryUrl repository;
    private final boolean bounce;

    private Quarantine(GenericMailet mailet, MailRepositoryStore store, MailRepositoryUrl repository, boolean bounce) {
        this.mailet = mailet;
        this.store = store;
        this.repository = repository;
        this.bounce = bounce;
    }

    /**
     * Reads {@code repositoryPath} (default {@code defaultRepository}) and, when {@code bounceParameter} is not
     * null, that strict true/false parameter (default {@code bounceByDefault}) from {@code mailet}'s init
     * parameters. Without a bounce parameter the quarantine never bounces.
     *
     * @throws MessagingException naming mailetcontainer.xml, the mailet, the parameter and the value when one is refused
     */
    static Quarantine configure(GenericMailet mailet, MailRepositoryStore store, String defaultRepository,
                                String bounceParameter, boolean bounceByDefault) throws MessagingException {
        MailRepositoryUrl repository = MailetParameters.read(mailet,
            values -> values.value(REPOSITORY_PATH, Quarantine::repositoryUrl, MailRepositoryUrl.from(defaultRepository)));
        boolean bounce = bounceParameter != null
            && MailetParameters.read(mailet, values -> values.bool(bounceParameter, bounceByDefault));
        return new Quarantine(mailet, store, repository, bounce);
    }

    private static MailRepositoryUrl repositoryUrl(String path) {
        try {
            return MailRepositoryUrl.from(path);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a repository URL (" + e.getMessage() + ")");
        }
    }

    MailRepositoryUrl repository() {
        return repository;
    }

    boolean bounces() {
        return bounce;
    }

    /**
     * Keeps {@code mail} with {@code reason} as its error message, bounces it with {@code bounceText} when this
     * quarantine bounces and the sender is not null, and sets it to {@link Mail#GHOST}.
     *
     * @throws MessagingException when the repository cannot be opened or stored to (the mail is not ghosted then)
     */
    void keep(Mail mail, String reason, String bounceText) throws MessagingException {
        mail.setErrorMessage(reason);
        try {
            store.select(repository).store(mail);
        } catch (MailRepositoryStore.MailRepositoryStoreException e) {
            throw new MessagingException("Cannot open " + repository.asString(), e);
        }
        if (bounce && !mail.getMaybeSender().isNullSender()) {
            mailet.getMailetContext().bounce(mail, bounceText);
        }
        mail.setState(Mail.GHOST);
    }
}
