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
 * accepted at the end of DATA ({@link #commit}, which gives back the reserved recipients no RCPT took); given back with {@link #release} when the
 * transaction ends any other way (RSET, HELO/EHLO, a new MAIL, disconnect, a refusal at the end of DATA), so that
 * aborted transactions consume nothing. Recipients are address strings compared exactly: the caller passes one
 * canonical form (the SMTP handler: {@code local@domain} in lower case, as James's address equality ignores case).
 *
 * <p>Every method that counts returns the refusal (a verdict that does not pass) when a limit is reached, empty when
 * the charge is admitted or there was nothing to limit. A refusal at MAIL or RCPT keeps the earlier charges (the
 * transaction goes on); a refusal at the end of DATA gives everything back.
 *
 * <p><b>Recipients reserved at MAIL.</b> {@link #chargeMessage(Meter, int)} may count some recipients together with the
 * message, in one store call (with the Redis store one round trip instead of one per RCPT); each RCPT then takes one
 * of them instead of a charge of its own, a recipient given back returns to them, and {@link #commit} gives back the
 * ones no RCPT took. They count like any charge from MAIL on (conservative: "at most N in any interval T" holds for
 * every instant); near a recipient limit, where the reservation does not fit, nothing is reserved (nothing recorded)
 * and the message is charged alone, as without a reservation. The price: while a transaction is open, the reserved
 * recipients it has not used yet count against the subject's other transactions too (other connections, other nodes,
 * the pipeline), which near the limit may get their {@code 450 4.7.1} a little before N is really used (at most
 * {@link LimitSet#MAX_RESERVED_RECIPIENTS} − 1 per open transaction; never more than N).
 *
 * <p>{@link #reservationRefused()} tells the caller that a reservation was asked for and did not fit, so that it
 * stops asking on this connection (one store call per MAIL instead of two, for a sender at its limit).
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

        /**
         * MAIL reserving recipients: decides the message with {@code messageWithRecipients} (one message and some
         * recipients, counted all or none when every limit admits them) and records the decision as a charge of the
         * message alone would be. When only a recipient limit stands in the way, the message is charged alone (no
         * reservation). Null when this meter does not reserve (the default): the caller charges the message alone.
         */
        default MailCharge chargeReserving(RateLimitPolicy.Subject subject, List<Charge> messageWithRecipients) {
            return null;
        }
    }

    /** What a MAIL decided ({@link Meter#chargeReserving}): the message's result, and whether recipients were reserved with it. */
    public static final class MailCharge {
        private final RateLimiter.Result result;
        private final boolean reserved;

        public MailCharge(RateLimiter.Result result, boolean reserved) {
            this.result = result;
            this.reserved = reserved;
        }

        public RateLimiter.Result result() {
            return result;
        }

        /** True when the result's ticket holds the recipients too. */
        public boolean reserved() {
            return reserved;
        }
    }

    /** What a recipient counted in a reservation holds in place of a ticket of its own (never released). */
    private static final Ticket FROM_RESERVATION = new Ticket("", List.of());

    private final RateLimitPolicy.Subject subject;
    private final List<Ticket> messageTickets = new ArrayList<>(2);
    private final List<String> recipients = new ArrayList<>();
    private final List<Ticket> recipientTickets = new ArrayList<>();
    /** The MAIL ticket that reserved recipients (also in {@link #messageTickets}), or null. */
    private Ticket reservation;
    private int reserved;
    /** Of the reserved recipients, how many accepted RCPTs hold. */
    private int reservedTaken;
    private boolean reservationRefused;

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
     * MAIL, reserving up to {@code recipients} recipients with the message (see the class comment; at most
     * {@link LimitSet#MAX_RESERVED_RECIPIENTS} and the subject's smallest recipient limit, none when it has no
     * recipient limit): one store call when every limit admits them all; a second one, for the message alone, when a
     * recipient limit does not; {@link #chargeMessage(Meter)} when the meter does not reserve.
     */
    public Optional<Verdict> chargeMessage(Meter meter, int recipients) {
        LimitSet limits = subject.limits();
        int reserve = Math.min(recipients, limits.maxReservedRecipients());
        if (reserve >= 1 && messageTickets.isEmpty()) {
            MailCharge charged = meter.chargeReserving(subject, limits.messageWithRecipients(reserve));
            if (charged != null) {
                RateLimiter.Result result = charged.result();
                if (!result.verdict().passes()) {
                    return Optional.of(result.verdict());
                }
                messageTickets.add(result.ticket());
                if (charged.reserved()) {
                    reservation = result.ticket();
                    reserved = reserve;
                    reservedTaken = 0;
                } else {
                    reservationRefused = !result.degraded() && result.suspension() == null;
                }
                return Optional.empty();
            }
        }
        return chargeMessage(meter);
    }

    /** True when the last MAIL asked for a reservation and a recipient limit left no room for it (the message alone). */
    public boolean reservationRefused() {
        return reservationRefused;
    }

    /** Recipients reserved at MAIL that no RCPT holds (yet). */
    public int reservedUnused() {
        return reserved - reservedTaken;
    }

    /**
     * RCPT: counts one recipient when the subject has recipient limits ({@code 450 4.7.1} when reached; the
     * refused recipient is not counted): one reserved at MAIL while some are left, else a charge of its own.
     */
    public Optional<Verdict> chargeRecipient(String recipient, Meter meter) {
        if (subject.limits().limits(Measure.RECIPIENTS).isEmpty()) {
            return Optional.empty();
        }
        if (reservedTaken < reserved) {
            reservedTaken++;
            recipients.add(recipient);
            recipientTickets.add(FROM_RESERVATION);
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
                if (nextTicket == FROM_RESERVATION) {
                    reservedTaken--; // back to the reservation: commit gives it back with the others unused
                } else {
                    meter.release(nextTicket);
                }
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

    /**
     * End of DATA, the message accepted: gives back the reserved recipients that no accepted RCPT holds (one store
     * call, only when some are left) and forgets every charge, which stays counted. Nothing may be released after.
     */
    public void commit(Meter meter) {
        int unused = reservedUnused();
        if (reservation != null && unused > 0) {
            meter.release(reservation.part(subject.limits().charges(Measure.RECIPIENTS, unused)));
        }
        forget();
    }

    /** Gives back everything counted so far and forgets it. */
    public void release(Meter meter) {
        tickets().forEach(meter::release);
        forget();
    }

    private void forget() {
        messageTickets.clear();
        recipients.clear();
        recipientTickets.clear();
        reservation = null;
        reserved = 0;
        reservedTaken = 0;
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

    /** Every ticket still held: the message's (with the reservation, if any), then the recipients' own. */
    public List<Ticket> tickets() {
        List<Ticket> all = new ArrayList<>(messageTickets);
        for (Ticket ticket : recipientTickets) {
            if (ticket != FROM_RESERVATION) {
                all.add(ticket);
            }
        }
        return all;
    }
}
