package dev.relayguard.limit;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;

import dev.relayguard.core.Verdict;

/**
 * What one SMTP transaction has counted against its sender's rate limits and not yet committed: the message
 * (counted at MAIL) and each recipient (counted at RCPT), as {@link Ticket}s. Committed when the message is
 * accepted at the end of DATA (the caller simply forgets this object); given back with {@link #release} when the
 * transaction ends any other way (RSET, HELO/EHLO, a new MAIL, disconnect, a refusal at the end of DATA), so that
 * aborted transactions consume nothing. Recipients are address strings compared exactly: the caller passes one
 * canonical form (the SMTP handler: {@code local@domain} in lower case, as James's address equality ignores case).
 *
 * <p>Every method that counts returns the refusal (a verdict that does not pass) when a limit is reached, empty when
 * the charge is admitted or there was nothing to limit. A refusal at MAIL or RCPT keeps the earlier charges (the
 * transaction goes on); a refusal at the end of DATA gives everything back.
 *
 * <p>Lives in one connection's state: never used by two threads at the same time.
 */
public final class TransactionCharges {
    /** How charges are counted, given back and checked: the rate limiter, plus recording of refusals. */
    public interface Meter {
        /** Counts {@code amount} of {@code measure} against the subject's limits of that measure. */
        RateLimiter.Result charge(RateLimitPolicy.Subject subject, Measure measure, long amount);

        /** True when counting this ticket again now would change nothing ({@link LimiterStore#isCurrent}). */
        boolean isCurrent(Ticket ticket);

        /** Gives back what the ticket counted; once only, however often it is called. */
        void release(Ticket ticket);
    }

    private final RateLimitPolicy.Subject subject;
    private final List<Ticket> messageTickets = new ArrayList<>(2);
    private final List<String> recipients = new ArrayList<>();
    private final List<Ticket> recipientTickets = new ArrayList<>();

    public TransactionCharges(RateLimitPolicy.Subject subject) {
        this.subject = subject;
    }

    public RateLimitPolicy.Subject subject() {
        return subject;
    }

    /** MAIL: counts the message ({@code 450 4.7.1} when the sender's message limit is reached). */
    public Optional<Verdict> chargeMessage(Meter meter) {
        RateLimiter.Result message = meter.charge(subject, Measure.MESSAGES, 1);
        if (!message.verdict().passes()) {
            return Optional.of(message.verdict());
        }
        messageTickets.add(message.ticket());
        return Optional.empty();
    }

    /**
     * RCPT: counts one recipient when the subject has recipient limits ({@code 450 4.7.1} when reached; the
     * refused recipient is not counted).
     */
    public Optional<Verdict> chargeRecipient(String recipient, Meter meter) {
        if (subject.limits().limits(Measure.RECIPIENTS).isEmpty()) {
            return Optional.empty();
        }
        RateLimiter.Result result = meter.charge(subject, Measure.RECIPIENTS, 1);
        if (!result.verdict().passes()) {
            return Optional.of(result.verdict());
        }
        recipients.add(recipient);
        recipientTickets.add(result.ticket());
        return Optional.empty();
    }

    /**
     * End of DATA, first step: gives back the recipients James did not accept in the end (a later hook refused
     * them). Each accepted address keeps one counted recipient.
     */
    public void releaseRecipientsNotIn(Collection<String> accepted, Meter meter) {
        List<String> remaining = new ArrayList<>(accepted);
        Iterator<String> address = recipients.iterator();
        Iterator<Ticket> ticket = recipientTickets.iterator();
        while (address.hasNext()) {
            String next = address.next();
            Ticket nextTicket = ticket.next();
            if (!remaining.remove(next)) {
                meter.release(nextTicket);
                address.remove();
                ticket.remove();
            }
        }
    }

    /**
     * End of DATA: a transaction held open (MAIL and RCPT, then NOOPs, then DATA much later) must not be accepted on
     * a reservation counted in an older part of the window: "at most N accepted in any interval T" is about the time
     * of acceptance. When any reservation is no longer current, everything is given back and the message and its
     * recipients are counted again now; over a limit, the refusal ({@code 450 4.7.1 ... retry in N s}) and nothing
     * stays counted. The common case (DATA right after RCPT) keeps its reservations: no second decision.
     */
    public Optional<Verdict> recountIfStale(Meter meter) {
        if (allCurrent(messageTickets, meter) && allCurrent(recipientTickets, meter)) {
            return Optional.empty();
        }
        List<String> counted = List.copyOf(recipients);
        release(meter);
        Optional<Verdict> message = chargeMessage(meter);
        if (message.isPresent() || counted.isEmpty() || subject.limits().limits(Measure.RECIPIENTS).isEmpty()) {
            message.ifPresent(refusal -> release(meter));
            return message;
        }
        RateLimiter.Result charged = meter.charge(subject, Measure.RECIPIENTS, counted.size());
        if (!charged.verdict().passes()) {
            release(meter);
            return Optional.of(charged.verdict());
        }
        for (int i = 0; i < counted.size(); i++) {
            recipients.add(counted.get(i));
            recipientTickets.add(i == 0 ? charged.ticket() : Ticket.NONE); // one ticket holds them all
        }
        return Optional.empty();
    }

    /**
     * End of DATA, last step: counts the message's bytes when the subject has byte limits ({@code 452 4.7.1} when
     * reached, and then everything is given back).
     */
    public Optional<Verdict> chargeBytes(long messageSize, Meter meter) {
        if (subject.limits().limits(Measure.BYTES).isEmpty()) {
            return Optional.empty();
        }
        RateLimiter.Result bytes = meter.charge(subject, Measure.BYTES, messageSize);
        if (!bytes.verdict().passes()) {
            release(meter);
            return Optional.of(bytes.verdict());
        }
        return Optional.empty();
    }

    /** Gives back everything counted so far and forgets it. */
    public void release(Meter meter) {
        tickets().forEach(meter::release);
        messageTickets.clear();
        recipients.clear();
        recipientTickets.clear();
    }

    private static boolean allCurrent(List<Ticket> tickets, Meter meter) {
        for (Ticket ticket : tickets) {
            if (!meter.isCurrent(ticket)) {
                return false;
            }
        }
        return true;
    }

    /** The recipients still counted, in RCPT order. */
    public List<String> recipients() {
        return List.copyOf(recipients);
    }

    /** Every ticket still held: the message's, then the recipients'. */
    public List<Ticket> tickets() {
        List<Ticket> all = new ArrayList<>(messageTickets);
        all.addAll(recipientTickets);
        return all;
    }
}
