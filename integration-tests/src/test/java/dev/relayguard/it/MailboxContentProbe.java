package dev.relayguard.it;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import javax.inject.Inject;

import org.apache.james.core.Username;
import org.apache.james.mailbox.MailboxManager;
import org.apache.james.mailbox.MailboxSession;
import org.apache.james.mailbox.MessageManager;
import org.apache.james.mailbox.exception.MailboxNotFoundException;
import org.apache.james.mailbox.model.FetchGroup;
import org.apache.james.mailbox.model.MailboxPath;
import org.apache.james.mailbox.model.MessageRange;
import org.apache.james.mailbox.model.MessageResult;
import org.apache.james.utils.GuiceProbe;

/** Reads the messages in a user's INBOX, to check what was really delivered. */
public class MailboxContentProbe implements GuiceProbe {
    private final MailboxManager mailboxManager;

    @Inject
    public MailboxContentProbe(MailboxManager mailboxManager) {
        this.mailboxManager = mailboxManager;
    }

    public List<String> inbox(String user) throws Exception {
        MailboxSession session = mailboxManager.createSystemSession(Username.of(user));
        List<String> messages = new ArrayList<>();
        try {
            MessageManager inbox = mailboxManager.getMailbox(MailboxPath.inbox(session), session);
            Iterator<MessageResult> results = inbox.getMessages(MessageRange.all(), FetchGroup.FULL_CONTENT, session);
            while (results.hasNext()) {
                try (InputStream content = results.next().getFullContent().getInputStream()) {
                    messages.add(new String(content.readAllBytes(), StandardCharsets.UTF_8));
                }
            }
        } catch (MailboxNotFoundException e) {
            return messages;
        } finally {
            mailboxManager.endProcessingRequest(session);
        }
        return messages;
    }
}
