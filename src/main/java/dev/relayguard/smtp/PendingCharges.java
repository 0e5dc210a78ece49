package dev.relayguard.smtp;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;

import org.apache.james.core.MailAddress;

import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.Ticket;

/**
 * What the current SMTP transaction has counted against its sender's limits but not yet committed: the
 * message (charged at MAIL) and each recipient (charged at RCPT). Committed at the end of DATA when the
 * message is accepted; given back when the transaction ends any other way (RSET, HELO/EHLO, a new MAIL,
 * disconnect, a refusal at the end of DATA), so that aborted transactions consume nothing.
 * Lives in one connection's state: never shared between threads at the same time.
 */
final class PendingCharges {
    private final RateLimitPolicy.Subject subject;
    private final List<Ticket> messageTickets = new ArrayList<>(2);
    private final List<MailAddress> recipients = new ArrayList<>();
    private final List<Ticket> recipientTickets = new ArrayList<>();

    PendingCharges(RateLimitPolicy.Subject subject) {
        this.subject = subject;
    }

    RateLimitPolicy.Subject subject() {
        return subject;
    }

    void addMessage(Ticket ticket) {
        messageTickets.add(ticket);
    }

    void addRecipient(MailAddress recipient, Ticket ticket) {
        recipients.add(recipient);
        recipientTickets.add(ticket);
    }

    /** Tickets of recipients James did not accept in the end (a later hook refused them). */
    List<Ticket> takeRecipientsNotIn(Collection<MailAddress> accepted) {
        List<Ticket> dropped = new ArrayList<>();
        Iterator<MailAddress> address = recipients.iterator();
        Iterator<Ticket> ticket = recipientTickets.iterator();
        List<MailAddress> remaining = new ArrayList<>(accepted);
        while (address.hasNext()) {
            MailAddress next = address.next();
            Ticket nextTicket = ticket.next();
            if (!remaining.remove(next)) {
                dropped.add(nextTicket);
                address.remove();
                ticket.remove();
            }
        }
        return dropped;
    }

    /** The recipients still charged (in RCPT order). */
    List<MailAddress> recipients() {
        return List.copyOf(recipients);
    }

    /** Forgets every ticket (the caller gave them back), to count the transaction again. */
    void clear() {
        messageTickets.clear();
        recipients.clear();
        recipientTickets.clear();
    }

    /** Everything counted so far, for giving back. */
    List<Ticket> all() {
        List<Ticket> all = new ArrayList<>(messageTickets);
        all.addAll(recipientTickets);
        return all;
    }
}
