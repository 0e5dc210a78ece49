package dev.relayguard.smtp;

import java.net.InetAddress;
import java.util.Optional;
import javax.mail.internet.AddressException;

import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.mailet.Mail;

import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;
import dev.relayguard.RelayGuard;
import dev.relayguard.core.AuthorHeaders;
import dev.relayguard.core.Client;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.core.Mode;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.Rule;
import dev.relayguard.core.SmtpArgument;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.Verdict;
import dev.relayguard.header.AuthorHeaderReader;

/**
 * RelayGuard's address rules in the order an SMTP session meets them, each verdict recorded (counted and audited)
 * with the session's context. Every method answers the verdict to send (one that does not pass), or empty / a
 * passing verdict to let James go on. Refused recipients count against the connection: after
 * {@code maxRefusedRecipients} the answer becomes {@code 421 4.7.0} ({@code SessionLimits#escalate}).
 */
final class EnvelopeChecks {
    /**
     * James's own relaying flag of the connection (from {@code <authorizedAddresses>}), as it was before RelayGuard set
     * its answer: what the flag is given back to while the relay rule is in monitor mode.
     */
    static final ProtocolSession.AttachmentKey<Boolean> JAMES_RELAYING =
        ProtocolSession.AttachmentKey.of("relayguard.jamesRelaying", Boolean.class);

    private final RelayGuard guard;

    EnvelopeChecks(RelayGuard guard) {
        this.guard = guard;
    }

    /**
     * The raw MAIL argument, before James parses it: submission AUTH ({@code 530 5.7.0}), then what James's parsing
     * hides (a source route, a sender James would complete with its default domain, {@code 553 5.1.7}). Keeps the
     * {@code SIZE=} for {@link SessionCharges#atMail}.
     */
    Optional<Verdict> rawMail(SMTPSession session, String argument, Client client) {
        session.removeAttachment(SessionFacts.DECLARED_SIZE, ProtocolSession.State.Transaction);
        SmtpArgument mail = SmtpArgument.ofMail(argument);
        String sender = mail == null || mail.isNullSender() ? null : mail.path();
        if (client.role() == ListenerRole.SUBMISSION) {
            Verdict auth = guard.timed(RefusalRecorder.MAIL_DECISION_TIMER, () -> guard.decideSender(client, null));
            if (!auth.isAllowed() && !record(session, client, auth, sender, null)) {
                return Optional.of(auth);
            }
        }
        if (mail == null) {
            return Optional.empty(); // James answers the syntax error
        }
        Verdict raw = rawPath(mail, false, client);
        if (!raw.isAllowed() && !record(session, client, raw, sender, null)) {
            return Optional.of(raw);
        }
        if (mail.declaredSize() >= 0) {
            session.setAttachment(SessionFacts.DECLARED_SIZE, mail.declaredSize(), ProtocolSession.State.Transaction);
        }
        return Optional.empty();
    }

    /**
     * The sender James parsed and will record (its default domain appended, exactly its cut of the path): length,
     * routing syntax, sender ownership ({@code 553 5.7.1}) and local-sender spoofing.
     */
    Optional<Verdict> sender(SMTPSession session, MaybeSender parsed, Client client) {
        String sender = text(parsed);
        if (sender != null) {
            MailAddress address = parsed.get();
            Verdict length = guard.relayPolicy().checkAddressLength(sender, false);
            if (!length.isAllowed()) {
                record(session, client, length, printableHead(sender), null);
                return Optional.of(length);
            }
            Verdict routing = guard.checkPath(SmtpPath.ofAddress(address.getLocalPart(), address.getDomain().asString()), false, client);
            if (!routing.isAllowed() && !record(session, client, routing, sender, null)) {
                return Optional.of(routing);
            }
        }
        Verdict verdict = guard.timed(RefusalRecorder.MAIL_DECISION_TIMER, () -> guard.decideSender(client, sender));
        if (verdict.reason() != Reason.SUBMISSION_AUTH_REQUIRED // that one was answered before James parsed
                && !record(session, client, verdict, sender, null)) {
            return Optional.of(verdict);
        }
        return Optional.empty();
    }

    /** The raw RCPT argument, before James parses it: a source route, an unqualified recipient from a stranger. */
    Optional<Verdict> rawRcpt(SMTPSession session, String argument, Client client) {
        SmtpArgument rcpt = SmtpArgument.ofRcpt(argument);
        if (rcpt == null) {
            return Optional.empty(); // James answers the syntax error
        }
        Verdict verdict = rawPath(rcpt, true, client);
        return verdict.isAllowed() ? Optional.empty()
            : refuseRecipient(session, verdict, SessionFacts.sender(session), rcpt.path(), client);
    }

    /**
     * The recipient James parsed: length, routing syntax, then the relay decision. The answer is the refusal to
     * send, or the relay verdict: allowed (then James's relay flag is aligned, and the recipient counts towards the
     * sender's limit) or a refusal that only monitors.
     */
    Verdict recipient(SMTPSession session, String sender, MailAddress rcpt, Client client) {
        Verdict length = guard.relayPolicy().checkAddressLength(rcpt.asString(), true);
        if (!length.isAllowed()) {
            return refuseRecipient(session, length, sender, printableHead(rcpt.asString()), client).orElse(length);
        }
        Verdict routing = guard.checkPath(SmtpPath.ofAddress(rcpt.getLocalPart(), rcpt.getDomain().asString()), true, client);
        if (!routing.isAllowed()) {
            Optional<Verdict> refusal = refuseRecipient(session, routing, sender, rcpt.asString(), client);
            if (refusal.isPresent()) {
                return refusal.get();
            }
        }
        RelayRequest request = RelayRequest.of(client, rcpt.getDomain().asString());
        Verdict verdict = guard.timed(RefusalRecorder.RCPT_DECISION_TIMER, () -> guard.decideRelay(request));
        if (!verdict.isAllowed()) {
            return refuseRecipient(session, verdict, sender, rcpt.asString(), client).orElse(verdict);
        }
        record(session, client, verdict, sender, rcpt.asString());
        if (verdict.reason() == Reason.RELAY_DOMAIN) {
            session.setAttachment(SessionFacts.RELAY_DOMAIN_RECIPIENT, Boolean.TRUE, ProtocolSession.State.Transaction);
        }
        alignJamesRelayFlag(session, client);
        return verdict;
    }

    /** End of DATA, authenticated sessions: every From: and Sender: address must be the user's ({@code 550 5.7.1}). */
    Optional<Verdict> authorHeaders(SMTPSession session, Client client, Mail mail) {
        if (client.authenticatedUser().isEmpty()) {
            return Optional.empty();
        }
        AuthorHeaders headers = AuthorHeaderReader.read(mail);
        Verdict author = guard.timed(RefusalRecorder.HEADER_DECISION_TIMER, () -> guard.decideAuthorHeaders(client, headers));
        record(session, client, author, mail.getMaybeSender().asString(), null);
        return author.passes() ? Optional.empty() : Optional.of(author);
    }

    /**
     * At connect, or for the client named by a PROXY header when RelayGuard first judges it: keeps James's relaying
     * flag (its {@code <authorizedAddresses>} verdict on {@code client}), then sets RelayGuard's answer (trusted
     * networks) unless the relay rule is in monitor mode, where James's flag stays.
     */
    void relayFlagAtConnect(SMTPSession session, InetAddress client) {
        session.setAttachment(JAMES_RELAYING, session.isRelayingAllowed(), ProtocolSession.State.Connection);
        if (!jamesDecidesRelaying()) {
            session.setRelayingAllowed(guard.clientMayRelay(client, null));
        }
    }

    /**
     * James's relay hook runs after ours and refuses whenever the session's relaying flag is false; James also
     * sets the flag on its own (authorizedAddresses at connect and after a PROXY header, any AUTH). Set it to
     * RelayGuard's answer: true for authenticated (where AUTH counts) or trusted clients, and for a transaction
     * that carries a relay-domain (backup MX) recipient, which the pipeline must relay onward.
     *
     * <p>With {@code <rules><relay>monitor</relay></rules>} James decides: the flag is James's own
     * ({@code <authorizedAddresses>} at connect, or an AUTH James accepted), whatever the policy was when the
     * connection started; RelayGuard never opens relaying then, it only counts and logs the recipients it would have
     * refused ({@code relayguard.monitored.relay.*}).
     */
    void alignJamesRelayFlag(SMTPSession session, Client client) {
        if (jamesDecidesRelaying()) {
            boolean jamesAtConnect = session.getAttachment(JAMES_RELAYING, ProtocolSession.State.Connection)
                .orElse(session.isRelayingAllowed());
            session.setRelayingAllowed(jamesAtConnect || session.getUsername() != null);
            return;
        }
        boolean relayDomainInTransaction = session.getAttachment(SessionFacts.RELAY_DOMAIN_RECIPIENT, ProtocolSession.State.Transaction).orElse(false);
        session.setRelayingAllowed(guard.relayPolicy().clientMayRelay(client) || relayDomainInTransaction);
    }

    /** True while the relay rule is in monitor mode: James's {@code <authorizedAddresses>} and AUTH decide relaying. */
    private boolean jamesDecidesRelaying() {
        return guard.relayPolicy().modes().modeOf(Rule.RELAY) == Mode.MONITOR;
    }

    /**
     * Records a refused recipient: empty when it only monitors; otherwise the refusal, or {@code 421 4.7.0} once the
     * connection has had too many.
     */
    private Optional<Verdict> refuseRecipient(SMTPSession session, Verdict verdict, String sender, String rcpt, Client client) {
        if (verdict.passes()) {
            record(session, client, verdict, sender, rcpt);
            return Optional.empty();
        }
        Verdict answered = guard.sessionLimits().escalate(verdict, SessionFacts.nextRefusal(session));
        record(session, client, answered, sender, rcpt);
        return Optional.of(answered);
    }

    /** Records a verdict; true when it passes (allowed, or a refusal that only monitors). */
    private boolean record(SMTPSession session, Client client, Verdict verdict, String sender, String rcpt) {
        if (verdict.isAllowed()) { // counted only: no audit line, so no context to build
            guard.countAllowed(verdict, RefusalContext.SMTP);
            return true;
        }
        InetAddress address = client.address().orElse(null);
        guard.record(verdict, SessionFacts.context(session, address, sender, rcpt), address);
        return verdict.passes();
    }

    /** The path as written, then, where James's parser would refuse it, what it hides. */
    private Verdict rawPath(SmtpArgument argument, boolean recipient, Client client) {
        Verdict verdict = guard.checkArgument(argument, recipient, client);
        return verdict.isAllowed() && !jamesParses(argument) ? guard.checkUnparseablePath(argument, recipient, client) : verdict;
    }

    /**
     * True when James's own {@code MailAddress} parser accepts the path (completed with a domain where James
     * completes it). When it does not, James answers a plain syntax error; RelayGuard reads the path as written
     * first, so that a routing trick in it is refused and counted like any other.
     */
    static boolean jamesParses(SmtpArgument argument) {
        if (argument.isNullSender()) {
            return true;
        }
        try {
            new MailAddress(argument.completedByServer() ? argument.path() + "@localhost" : argument.path());
            return true;
        } catch (AddressException | RuntimeException e) {
            return false;
        }
    }

    /** The start of an over-long address, for the audit line: enough to recognise it, not 64 KiB of it. */
    private static String printableHead(String address) {
        return address.length() <= 80 ? address : address.substring(0, 80) + "...(" + address.length() + " chars)";
    }

    /** The sender as the audit line shows it; null for the null sender. */
    static String text(MaybeSender sender) {
        return sender == null || sender.isNullSender() ? null : sender.get().asString();
    }
}
