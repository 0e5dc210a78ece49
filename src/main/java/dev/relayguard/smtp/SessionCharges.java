package dev.relayguard.smtp;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;

import javax.mail.MessagingException;

import org.apache.james.core.MailAddress;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;

import dev.relayguard.MailAttributes;
import dev.relayguard.SenderLimits;
import dev.relayguard.core.Client;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.Ticket;
import dev.relayguard.limit.TransactionCharges;
import dev.relayguard.observe.RefusalContext;

/**
 * The sender's rate limits over an SMTP transaction: the message is counted at MAIL ({@code 450 4.7.1}, with
 * {@code SIZE=n} the byte limit is checked too, {@code 452 4.7.1}), each recipient at RCPT ({@code 450 4.7.1}),
 * the bytes at the end of DATA, where everything is committed; given back when the transaction ends otherwise.
 * The counts live in the session ({@link SessionFacts#CHARGES}), in a {@link TransactionCharges}.
 *
 * <p>MAIL reserves as many recipients as the connection's previous accepted message had (1 for its first, at most
 * {@link dev.relayguard.limit.LimitSet#MAX_RESERVED_RECIPIENTS}) in the same store call as the message, so that a
 * client sending alike messages pays no store call per RCPT (with the Redis store: one round trip at MAIL, one at the
 * end of DATA with a byte limit, instead of one more per RCPT); the end of DATA gives back what no RCPT took (one
 * call, only when some are left). See {@link TransactionCharges} for how a reservation counts.
 */
final class SessionCharges {
    private final SenderLimits limits;

    SessionCharges(SenderLimits limits) {
        this.limits = limits;
    }

    /**
     * MAIL, after the sender passed: suspension, message limit (with the recipients reserved), declared size. The
     * suspension and the message charge are one call ({@link SenderLimits#chargeMessageReserving}: one Redis round
     * trip on a standalone Redis; two when a recipient limit leaves no room for the reservation, after which this
     * connection reserves nothing until its next accepted message).
     */
    HookResult atMail(SMTPSession session, Client client, String sender) {
        Optional<RateLimitPolicy.Subject> subject = limits.rateSubject(client);
        InetAddress address = client.address().orElse(null);
        if (subject.isEmpty()) { // suspensions apply to every authenticated user, rate limits only where configured
            Optional<RateLimitPolicy.Subject> suspendable = limits.suspensionSubject(client);
            if (suspendable.isEmpty()) {
                return HookResult.DECLINED;
            }
            Verdict suspension = limits.checkSuspension(suspendable.get(), SessionFacts.context(session, address, sender, null));
            return suspension.passes() ? HookResult.DECLINED : SmtpAnswers.hookResult(suspension);
        }
        RefusalContext context = SessionFacts.context(session, address, sender, null);
        TransactionCharges charges = new TransactionCharges(subject.get());
        int reserve = session.getAttachment(SessionFacts.LAST_MESSAGE_RECIPIENTS, ProtocolSession.State.Connection).orElse(1);
        Optional<Verdict> message = charges.chargeMessage(new Metering(() -> context, true), reserve);
        if (charges.reservationRefused()) { // near its recipient limit: the next MAILs charge the message alone (one call)
            session.setAttachment(SessionFacts.LAST_MESSAGE_RECIPIENTS, 0, ProtocolSession.State.Connection);
        }
        if (message.isPresent()) {
            return SmtpAnswers.hookResult(message.get());
        }
        session.setAttachment(SessionFacts.CHARGES, charges, ProtocolSession.State.Connection);
        long declaredSize = session.getAttachment(SessionFacts.DECLARED_SIZE, ProtocolSession.State.Transaction).orElse(-1L);
        if (declaredSize >= 0) {
            RateLimiter.Result bytes = limits.checkDeclaredSize(subject.get(), declaredSize, context);
            if (!bytes.verdict().passes()) {
                release(session);
                return SmtpAnswers.hookResult(bytes.verdict());
            }
        }
        return HookResult.DECLINED;
    }

    /** RCPT, after the recipient was accepted: the sender's recipient limit (not a refusal counted against the connection). */
    HookResult atRcpt(SMTPSession session, Client client, String sender, MailAddress rcpt) {
        TransactionCharges charges = session.getAttachment(SessionFacts.CHARGES, ProtocolSession.State.Connection).orElse(null);
        if (charges == null) {
            return HookResult.DECLINED;
        }
        InetAddress address = client.address().orElse(null);
        return charges.chargeRecipient(canonical(rcpt), meter(() -> SessionFacts.context(session, address, sender, rcpt.asString())))
            .map(SmtpAnswers::hookResult)
            .orElse(HookResult.DECLINED);
    }

    /**
     * End of DATA, after the author headers passed: gives back recipients James refused after us, counts the
     * transaction again if it was held open too long (see {@link TransactionCharges#recountIfStale}), counts the
     * bytes, then commits and marks the mail {@link MailAttributes#RATE_CHARGED}. DECLINED to accept.
     */
    HookResult atEndOfData(SMTPSession session, Client client, Mail mail) throws MessagingException {
        TransactionCharges charges = session.getAttachment(SessionFacts.CHARGES, ProtocolSession.State.Connection).orElse(null);
        if (charges != null) {
            InetAddress address = client.address().orElse(null);
            TransactionCharges.Meter meter = meter(() -> SessionFacts.context(session, address, mail.getMaybeSender().asString(), null));
            List<String> recipients = new ArrayList<>(mail.getRecipients().size());
            for (MailAddress recipient : mail.getRecipients()) {
                recipients.add(canonical(recipient));
            }
            charges.releaseRecipientsNotIn(recipients, meter);
            Optional<Verdict> refusal = charges.recountIfStale(meter);
            if (refusal.isEmpty() && !charges.subject().limits().limits(Measure.BYTES).isEmpty()) {
                refusal = charges.chargeBytes(mail.getMessageSize(), meter);
            }
            session.removeAttachment(SessionFacts.CHARGES, ProtocolSession.State.Connection); // committed, or given back
            if (refusal.isPresent()) {
                return SmtpAnswers.hookResult(refusal.get());
            }
            charges.commit(meter);
            session.setAttachment(SessionFacts.LAST_MESSAGE_RECIPIENTS, Math.max(1, recipients.size()), ProtocolSession.State.Connection);
        }
        mail.setAttribute(new Attribute(MailAttributes.RATE_CHARGED, AttributeValue.of(true)));
        return HookResult.DECLINED;
    }

    /** Gives back what the current transaction counted (it ended without an accepted message). */
    void release(SMTPSession session) {
        session.removeAttachment(SessionFacts.CHARGES, ProtocolSession.State.Connection)
            .ifPresent(charges -> charges.release(meter(() -> null)));
    }

    /** A recipient as {@link TransactionCharges} compares it: James's {@code MailAddress} equality ignores case. */
    private static String canonical(MailAddress recipient) {
        return recipient.asString().toLowerCase(Locale.ROOT);
    }

    /** Counts through the sender limits, which record refusals with this context (built only for a refusal). */
    private TransactionCharges.Meter meter(Supplier<RefusalContext> context) {
        return new Metering(context, false);
    }

    /** The {@link TransactionCharges.Meter} of the SMTP hooks. */
    private final class Metering implements TransactionCharges.Meter {
        private final Supplier<RefusalContext> context;
        private final boolean unlessSuspended;

        /** @param unlessSuspended whether a charge first checks the subject's suspension, in the same store call (MAIL) */
        Metering(Supplier<RefusalContext> context, boolean unlessSuspended) {
            this.context = context;
            this.unlessSuspended = unlessSuspended;
        }

        @Override
        public RateLimiter.Result charge(RateLimitPolicy.Subject subject, Measure measure, long amount) {
            return unlessSuspended
                ? limits.chargeRateUnlessSuspended(subject, measure, amount, RefusalContext.SMTP, context)
                : limits.chargeRate(subject, measure, amount, RefusalContext.SMTP, context);
        }

        @Override
        public TransactionCharges.MailCharge chargeReserving(RateLimitPolicy.Subject subject, List<Charge> messageWithRecipients) {
            return unlessSuspended ? limits.chargeMessageReserving(subject, messageWithRecipients, RefusalContext.SMTP, context)
                : null;
        }

        @Override
        public boolean isCurrent(Ticket ticket) {
            return limits.isRateReservationCurrent(ticket);
        }

        @Override
        public void release(Ticket ticket) {
            limits.releaseRate(ticket);
        }
    }
}
