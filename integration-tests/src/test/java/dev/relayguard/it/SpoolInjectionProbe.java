package dev.relayguard.it;

import javax.inject.Inject;

import org.apache.james.queue.api.MailQueue;
import org.apache.james.queue.api.MailQueueFactory;
import org.apache.james.utils.GuiceProbe;
import org.apache.mailet.Mail;

/**
 * Puts a mail into James's spool queue the way JMAP's EmailSubmission/set does (James 3.8.1 {@code MailSpool}:
 * {@code queue.enQueue(mail)} on {@link MailQueueFactory#SPOOL}, with the submitting user as a mail attribute).
 * Unlike {@link MailInjectionProbe} ({@code MailetContext.sendMail}), the mail is not marked as sent by a mailet.
 */
public class SpoolInjectionProbe implements GuiceProbe {
    private final MailQueueFactory<? extends MailQueue> queueFactory;

    @Inject
    public SpoolInjectionProbe(MailQueueFactory<? extends MailQueue> queueFactory) {
        this.queueFactory = queueFactory;
    }

    public void enqueue(Mail mail) throws Exception {
        queueFactory.createQueue(MailQueueFactory.SPOOL).enQueue(mail); // the existing spool queue
    }
}
