package dev.relayguard.mailet;

import java.io.UnsupportedEncodingException;
import java.util.Optional;

import javax.mail.MessagingException;

import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
import org.apache.mailet.Mail;
import org.apache.mailet.base.GenericMailet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * What a refusing mailet does with the mail it refuses: keeps it, with the reason as its error message, in the
 * mail repository named by its {@code repositoryPath} parameter; bounces it to its sender when the mailet's
 * bounce parameter says so and the sender is verified ({@link BounceTargets}: an authenticated user or a local
 * user; never a null sender, never a stranger's possibly forged address, which is counted as
 * {@code relayguard.pipeline.bounce-suppressed} instead); and ends its journey ({@link Mail#GHOST}).
 *
 * <p>A mail refused only for now (a temporary verdict: a lookup failed, a rule is in defer mode) is held instead,
 * in the repository named by {@code heldRepositoryPath} (default {@value #DEFAULT_HELD_REPOSITORY}), never
 * bounced, counted ({@code relayguard.pipeline.held}) and logged at WARN with the WebAdmin call that puts it back
 * into {@code transport} once the cause is fixed. Nothing refused is dropped silently: an operator finds it in
 * the repository (WebAdmin {@code /mailRepositories}). Shared by {@link RefuseRelay}, {@link RefuseSender} and
 * {@link ChargeSenderLimits}.
 */
final class Quarantine {
    static final String REPOSITORY_PATH = "repositoryPath";
    static final String HELD_REPOSITORY_PATH = "heldRepositoryPath";
    static final String DEFAULT_HELD_REPOSITORY = "memory://var/mail/relayguard-held/";

    private static final Logger LOGGER = LoggerFactory.getLogger(Quarantine.class);

    private final GenericMailet mailet;
    private final MailRepositoryStore store;
    private final RefusalRecorder recorder;
    private final MailRepositoryUrl repository;
    private final MailRepositoryUrl held;
    /** Who may get a bounce; null when this quarantine never bounces. */
    private final BounceTargets bounceTargets;

    private Quarantine(GenericMailet mailet, MailRepositoryStore store, RefusalRecorder recorder, MailRepositoryUrl repository,
                       MailRepositoryUrl held, BounceTargets bounceTargets) {
        this.mailet = mailet;
        this.store = store;
        this.recorder = recorder;
        this.repository = repository;
        this.held = held;
        this.bounceTargets = bounceTargets;
    }

    /**
     * A quarantine that never bounces and never holds: {@code repositoryPath} (default {@code defaultRepository}).
     *
     * @throws MessagingException naming mailetcontainer.xml, the mailet, the parameter and the value when one is refused
     */
    static Quarantine keepOnly(GenericMailet mailet, MailRepositoryStore store, RefusalRecorder recorder,
                               String defaultRepository) throws MessagingException {
        return new Quarantine(mailet, store, recorder, repository(mailet, REPOSITORY_PATH, defaultRepository), null, null);
    }

    /**
     * Reads {@code repositoryPath} (default {@code defaultRepository}), {@code heldRepositoryPath} (default
     * {@value #DEFAULT_HELD_REPOSITORY}) and the strict true/false {@code bounceParameter} (default
     * {@code bounceByDefault}) from {@code mailet}'s init parameters. A bounce goes only to the senders
     * {@code bounceTargets} verifies.
     *
     * @throws MessagingException naming mailetcontainer.xml, the mailet, the parameter and the value when one is refused
     */
    static Quarantine configure(GenericMailet mailet, MailRepositoryStore store, RefusalRecorder recorder, String defaultRepository,
                                String bounceParameter, boolean bounceByDefault, BounceTargets bounceTargets) throws MessagingException {
        MailRepositoryUrl repository = repository(mailet, REPOSITORY_PATH, defaultRepository);
        MailRepositoryUrl held = repository(mailet, HELD_REPOSITORY_PATH, DEFAULT_HELD_REPOSITORY);
        if (held.equals(repository)) {
            throw new MessagingException("mailetcontainer.xml: " + mailet.getClass().getSimpleName() + ": " + HELD_REPOSITORY_PATH
                + " = '" + held.asString() + "': must differ from " + REPOSITORY_PATH + " (held mail is reprocessed, refused mail is not)");
        }
        boolean bounce = MailetParameters.read(mailet, values -> values.bool(bounceParameter, bounceByDefault));
        return new Quarantine(mailet, store, recorder, repository, held, bounce ? bounceTargets : null);
    }

    private static MailRepositoryUrl repository(GenericMailet mailet, String parameter, String defaultUrl) throws MessagingException {
        return MailetParameters.read(mailet, values -> values.value(parameter, Quarantine::repositoryUrl, MailRepositoryUrl.from(defaultUrl)));
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

    MailRepositoryUrl heldRepository() {
        return held;
    }

    boolean bounces() {
        return bounceTargets != null;
    }

    /**
     * Keeps {@code mail} with {@code reason} as its error message, bounces it with {@code bounceText} when this
     * quarantine bounces and {@link BounceTargets} verifies the sender (else counts and audits the suppressed
     * bounce, except for the null sender), and sets it to {@link Mail#GHOST}.
     *
     * @throws MessagingException when the repository cannot be opened or stored to (the mail is not ghosted then)
     */
    void keep(Mail mail, String reason, String bounceText, RefusalContext context) throws MessagingException {
        mail.setErrorMessage(reason);
        store(mail, repository);
        if (bounceTargets != null) {
            Optional<String> whyNot = bounceTargets.whyNoBounce(mail);
            if (whyNot.isEmpty()) {
                mailet.getMailetContext().bounce(mail, bounceText);
            } else if (!BounceTargets.NULL_SENDER.equals(whyNot.get())) {
                recorder.recordBounceSuppressed(context, whyNot.get());
            }
        }
        mail.setState(Mail.GHOST);
    }

    /**
     * Holds {@code mail}, refused only for now, in the held repository with {@code reason} as its error message:
     * never bounced, counted, audited, logged at WARN with how to reprocess it, and set to {@link Mail#GHOST}.
     *
     * @throws MessagingException when the repository cannot be opened or stored to (the mail is not ghosted then:
     *                            James's {@code onMailetException} decides, by default the error processor)
     */
    void hold(Mail mail, String reason, RefusalContext context) throws MessagingException {
        mail.setErrorMessage(reason);
        store(mail, held);
        recorder.recordHeld(context, held.asString());
        LOGGER.warn("RelayGuard held mail {} in {}, not bounced: it was refused only for now ({}). Once the cause is fixed, "
            + "put it back into the transport processor with WebAdmin: curl -XPATCH '{}'",
            mail.getName(), held.asString(), reason, reprocessCall(held));
        mail.setState(Mail.GHOST);
    }

    /** The WebAdmin call (default port 8000) that reprocesses every mail of {@code repository} into {@code transport}. */
    static String reprocessCall(MailRepositoryUrl repository) {
        String encoded;
        try {
            encoded = repository.getPath().urlEncoded();
        } catch (UnsupportedEncodingException e) {
            encoded = repository.getPath().asString();
        }
        return "http://127.0.0.1:8000/mailRepositories/" + encoded + "/mails?action=reprocess&queue=spool&processor=" + Mail.TRANSPORT;
    }

    private void store(Mail mail, MailRepositoryUrl url) throws MessagingException {
        try {
            store.select(url).store(mail);
        } catch (MailRepositoryStore.MailRepositoryStoreException e) {
            throw new MessagingException("Cannot open " + url.asString(), e);
        }
    }
}
