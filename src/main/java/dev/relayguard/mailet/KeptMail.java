package dev.relayguard.mailet;

import javax.mail.MessagingException;

import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
import org.apache.mailet.Mail;

/** Where a refusing mailet keeps what it refuses: a James mail repository, named by a mailet parameter. */
final class KeptMail {
    private KeptMail() {
    }

    /** The {@code repositoryPath} parameter as a repository URL; a bad one names the file, mailet and value. */
    static MailRepositoryUrl repositoryUrl(String mailetName, String path) throws MessagingException {
        try {
            return MailRepositoryUrl.from(path);
        } catch (RuntimeException e) {
            throw new MessagingException("mailetcontainer.xml: " + mailetName + ": repositoryPath = '" + path
                + "': not a repository URL (" + e.getMessage() + ")");
        }
    }

    /** Stores the mail, with {@code reason} as its error message, in the repository. */
    static void keep(MailRepositoryStore store, MailRepositoryUrl url, Mail mail, String reason) throws MessagingException {
        try {
            mail.setErrorMessage(reason);
            store.select(url).store(mail);
        } catch (MailRepositoryStore.MailRepositoryStoreException e) {
            throw new MessagingException("Cannot open " + url.asString(), e);
        }
    }
}
