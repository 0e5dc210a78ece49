package dev.relayguard.smtp;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import javax.inject.Inject;

import org.apache.commons.configuration2.Configuration;
import org.apache.commons.configuration2.ex.ConfigurationException;
import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.api.Request;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.api.handler.CommandHandler;
import org.apache.james.protocols.api.handler.ConnectHandler;
import org.apache.james.protocols.api.handler.DisconnectHandler;
import org.apache.james.protocols.smtp.SMTPResponse;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;
import org.apache.james.protocols.smtp.hook.MailHook;
import org.apache.james.protocols.smtp.hook.RcptHook;
import org.apache.james.smtpserver.JamesMessageHook;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeName;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.RelayGuard;
import dev.relayguard.core.Client;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.SmtpArgument;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.header.AuthorHeaderReader;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.Ticket;
import dev.relayguard.observe.RefusalContext;

/**
 * RelayGuard's SMTP handler: who may relay, which addresses are acceptable, who may use which sender, decided
 * by RelayGuard's policy ({@code conf/relayguard.xml}), which it also makes the authority for James.
 *
 * <p>Enable it with one line, first in each listener's handler chain in {@code conf/smtpserver.xml} (and the
 * module in {@code conf/extensions.properties}, see {@code RelayGuardModule}):
 *
 * <pre>{@code
 * <handlerchain>
 *   <handler class="dev.relayguard.smtp.RelayGuardHandler">
 *     <role>mx</role>                            <!-- mx (default) | submission -->
 *     <allowPlaintextAuth>false</allowPlaintextAuth>  <!-- default false -->
 *   </handler>
 *   <handler class="org.apache.james.smtpserver.CoreCmdHandlerLoader"/>
 * </handlerchain>
 * }</pre>
 *
 * <ul>
 *   <li>{@code role} {@code mx}: strangers may deliver to local and relay domains only; a client IP banned for
 *       relay probing gets {@code 421 4.7.0} at connect; a stranger may not use a sender in a local domain.
 *       {@code submission}: every transaction needs AUTH ({@code 530 5.7.0} at MAIL); bans never apply.</li>
 *   <li>{@code allowPlaintextAuth}: whether AUTH over a connection without TLS counts. By default it does
 *       not: such a session is treated as unauthenticated (James 3.8.1 accepts AUTH PLAIN on a plaintext port
 *       even where it does not announce AUTH).</li>
 * </ul>
 *
 * <p>What it does, in order:
 * <ol>
 *   <li>Connect: on the MX role, a banned client gets {@code 421 4.7.0} and is disconnected. Otherwise the
 *       session's relaying flag is set from RelayGuard's trusted networks, not from James's
 *       {@code <authorizedAddresses>}, so James's own checks and the {@code SMTPIsAuthNetwork} mail attribute
 *       agree with RelayGuard.</li>
 *   <li>MAIL: before James parses it, submission AUTH ({@code 530 5.7.0}), a source route, and an unqualified
 *       sender from a stranger on the MX role ({@code 553 5.1.7}, RFC 5321 §2.3.5), with the path cut exactly
 *       where James cuts it ({@code SmtpArgument}). Then, on the sender James recorded (its default domain
 *       appended, RFC 6409 §8), routing syntax, sender ownership ({@code 553 5.7.1}), local-sender spoofing
 *       and the sender's message limit.</li>
 *   <li>RCPT: before James parses it, a source route and an unqualified recipient from a stranger
 *       ({@code 550 5.7.1}); then, on the recipient James recorded, routing syntax
 *       ({@code 550 5.7.1 Routing syntax not accepted: ...}) and the relay decision
 *       ({@code 550 5.7.1 Relaying denied: ...}). After {@code maxRefusedRecipients} refused recipients the next
 *       refusal is {@code 421 4.7.0} and the connection is closed.</li>
 *   <li>End of DATA, authenticated sessions: every address in {@code From:} and {@code Sender:} must be owned by
 *       the user ({@code 550 5.7.1}, rule {@code headerFrom}); then the byte limit.</li>
 * </ol>
 * Passing answers are {@code DECLINED} / no response, never {@code OK}: James's own checks still run after
 * ours. Every refusal is counted ({@code relayguard.<outcome>.<reason>}) and logged on {@code relayguard.audit}.
 * One instance serves every connection of a listener: per-session state lives in session attachments.
 */
public class RelayGuardHandler implements ConnectHandler<SMTPSession>, DisconnectHandler<SMTPSession>,
        CommandHandler<SMTPSession>, MailHook, RcptHook, JamesMessageHook {
    /**
     * Set on mail whose rate limits this handler decided at SMTP time (charged to its sender, or nobody to charge),
     * so that {@code ChargeSenderLimits} does not charge it (again).
     */
    public static final AttributeName RATE_CHARGED = AttributeName.of("dev.relayguard.rate-charged");
    /**
     * Set on mail whose sender and From:/Sender: headers this handler judged at SMTP time (for an authenticated
     * session; nothing to judge for a stranger), so that {@code IsSenderNotOwned} does not judge (and count) it again.
     */
    public static final AttributeName SENDER_JUDGED = AttributeName.of("dev.relayguard.sender-judged");
    private static final HookResult TEMPORARY_PROBLEM = HookResult.builder()
        .hookReturnCode(HookReturnCode.denySoft())
        .smtpReturnCode("451")
        .smtpDescription("4.3.0 Temporary local problem, try again later")
        .build();
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuardHandler.class);
    private static final String ROLE = "role";
    private static final String ALLOW_PLAINTEXT_AUTH = "allowPlaintextAuth";
    private static final Set<String> KNOWN_KEYS = Set.of("[@class]", ROLE, ALLOW_PLAINTEXT_AUTH);

    /** Set in the transaction when a recipient was accepted only because its domain is a relay domain. */
    private static final ProtocolSession.AttachmentKey<Boolean> RELAY_DOMAIN_RECIPIENT =
        ProtocolSession.AttachmentKey.of("relayguard.relayDomainRecipient", Boolean.class);
    /** What the current transaction counted against its sender's rate limits, not yet committed. */
    private static final ProtocolSession.AttachmentKey<PendingCharges> PENDING_CHARGES =
        ProtocolSession.AttachmentKey.of("relayguard.pendingCharges", PendingCharges.class);
    /** The {@code SIZE=} of the current MAIL command, read where James reads it. */
    private static final ProtocolSession.AttachmentKey<Long> DECLARED_SIZE =
        ProtocolSession.AttachmentKey.of("relayguard.declaredSize", Long.class);
    /** Refused recipients so far in this connection. */
    private static final ProtocolSession.AttachmentKey<AtomicInteger> REFUSED_RECIPIENTS =
        ProtocolSession.AttachmentKey.of("relayguard.refusedRecipients", AtomicInteger.class);

    private final RelayGuard guard;
    private volatile ListenerRole role = ListenerRole.MX;
    private volatile boolean allowPlaintextAuth = false;

    @Inject
    public RelayGuardHandler(RelayGuard guard) {
        this.guard = guard;
    }

    @Override
    public void init(Configuration config) throws ConfigurationException {
        for (Iterator<String> keys = config.getKeys(); keys.hasNext(); ) {
            String key = keys.next();
            if (!KNOWN_KEYS.contains(key)) {
                throw invalid(key, config.getString(key), "unknown key (known: role, allowPlaintextAuth)");
            }
        }
        String roleText = config.getString(ROLE, "mx");
        try {
            role = ListenerRole.parse(roleText);
        } catch (IllegalArgumentException e) {
            throw invalid(ROLE, roleText, e.getMessage());
        }
        String plaintext = config.getString(ALLOW_PLAINTEXT_AUTH, "false").trim();
        if (!plaintext.equals("true") && !plaintext.equals("false")) {
            throw invalid(ALLOW_PLAINTEXT_AUTH, plaintext, "expected true or false");
        }
        allowPlaintextAuth = Boolean.parseBoolean(plaintext);
    }

    private static ConfigurationException invalid(String key, String value, String problem) {
        return new ConfigurationException("smtpserver.xml: handler " + RelayGuardHandler.class.getName()
            + ": " + key + " = '" + value + "': " + problem);
    }

    public ListenerRole role() {
        return role;
    }

    // ---------------------------------------------------------------- connect

    @Override
    public Response onConnect(SMTPSession session) {
        InetAddress address = clientAddress(session);
        if (role == ListenerRole.MX && guard.isBanned(address)) {
            Verdict verdict = Verdict.of(Reason.PROBE_BANNED, "Too many relay attempts from " + address.getHostAddress()
                + ", try again later");
            guard.record(verdict, context(session, null, null, null, address).build(), address);
            SMTPResponse response = new SMTPResponse(verdict.replyCode(), verdict.enhancedStatus() + " " + verdict.text());
            response.setEndSession(true);
            return response;
        }
        session.setRelayingAllowed(guard.clientMayRelay(address, null));
        return SilentResponse.INSTANCE;
    }

    // ---------------------------------------------------------------- raw MAIL / RCPT

    @Override
    public Collection<String> getImplCommands() {
        return List.of("MAIL", "RCPT", "RSET", "HELO", "EHLO");
    }

    @Override
    public Response onCommand(SMTPSession session, Request request) {
        try {
            switch (request.getCommand()) {
                case "MAIL":
                    return checkMail(session, request.getArgument());
                case "RCPT":
                    return checkRcpt(session, request.getArgument());
                default:
                    releasePendingCharges(session); // RSET, HELO, EHLO end the transaction
                    return null;
            }
        } catch (RuntimeException e) {
            LOGGER.error("RelayGuard failed on {} in session {}; deferring", request.getCommand(), session.getSessionID(), e);
            return new SMTPResponse("451", "4.3.0 Temporary local problem, try again later");
        }
    }

    /**
     * MAIL, before James parses it: submission AUTH, and what James's parsing hides (a source route, a sender
     * James would complete with its default domain). The address rules run in {@link #doMail}, on the sender
     * James recorded.
     */
    private Response checkMail(SMTPSession session, String argument) {
        if (session.getAttachment(SMTPSession.SENDER, ProtocolSession.State.Transaction).isPresent()) {
            return null; // James answers the sequence error
        }
        releasePendingCharges(session); // leftovers of a transaction that ended without DATA
        session.removeAttachment(DECLARED_SIZE, ProtocolSession.State.Transaction);
        Client client = client(session);
        SmtpArgument mail = SmtpArgument.ofMail(argument);
        String sender = mail == null || mail.isNullSender() ? null : mail.path();
        if (client.role() == ListenerRole.SUBMISSION) {
            Verdict auth = guard.decideSender(client, null);
            Response refusal = auth.isAllowed() ? null : answer(session, auth, sender, null, client);
            if (refusal != null) {
                return refusal;
            }
        }
        if (mail == null) {
            return null; // James answers the syntax error
        }
        Verdict raw = guard.checkArgument(mail, false, client);
        if (raw.isAllowed() && !jamesParses(mail)) {
            raw = guard.checkUnparseablePath(mail, false, client);
        }
        if (!raw.isAllowed()) {
            Response refusal = answer(session, raw, sender, null, client);
            if (refusal != null) {
                return refusal;
            }
        }
        if (mail.declaredSize() >= 0) {
            session.setAttachment(DECLARED_SIZE, mail.declaredSize(), ProtocolSession.State.Transaction);
        }
        return null;
    }

    /**
     * MAIL, on the sender James parsed and will record (its default domain appended, exactly its cut of the
     * path): routing syntax, sender ownership ({@code 553 5.7.1}) and local-sender spoofing, then the sender's
     * message limit. The hook answers DENY/DENYSOFT to refuse, DECLINED to pass, never OK.
     */
    private HookResult judgeSender(SMTPSession session, MaybeSender sender, Client client) {
        String senderText = sender == null || sender.isNullSender() ? null : sender.get().asString();
        if (senderText != null) {
            MailAddress address = sender.get();
            Verdict length = guard.relayPolicy().checkAddressLength(senderText, false);
            if (!length.isAllowed()) {
                answer(session, length, printableHead(senderText), null, client);
                return hookResult(length);
            }
            Verdict routing = guard.checkPath(SmtpPath.ofAddress(address.getLocalPart(), address.getDomain().asString()), false, client);
            if (!routing.isAllowed()) {
                Response refusal = answer(session, routing, senderText, null, client);
                if (refusal != null) {
                    return hookResult(routing);
                }
            }
        }
        Verdict senderVerdict = guard.decideSender(client, senderText);
        if (senderVerdict.reason() != Reason.SUBMISSION_AUTH_REQUIRED) { // that one was answered before James parsed
            if (answer(session, senderVerdict, senderText, null, client) != null) {
                return hookResult(senderVerdict);
            }
        }
        return chargeMessage(session, client, senderText);
    }

    /**
     * The sender's message limit (450 4.7.1), its suspension, and with {@code SIZE=n} its byte limit (452 4.7.1).
     * The message is counted now, committed at the end of DATA, given back if the transaction ends otherwise.
     */
    private HookResult chargeMessage(SMTPSession session, Client client, String sender) {
        java.util.Optional<RateLimitPolicy.Subject> subject = guard.senderLimits().rateSubject(client);
        if (subject.isEmpty()) {
            return HookResult.DECLINED;
        }
        InetAddress address = client.address().orElse(null);
        RefusalContext context = context(session, sender, null, client, address).build();
        Verdict suspension = guard.senderLimits().checkSuspension(subject.get(), context, address);
        if (!suspension.passes()) {
            return hookResult(suspension);
        }
        RateLimiter.Result message = guard.senderLimits().chargeRate(subject.get(), Measure.MESSAGES, 1, context, address);
        if (!message.verdict().passes()) {
            return hookResult(message.verdict());
        }
        PendingCharges pending = new PendingCharges(subject.get());
        pending.addMessage(message.ticket());
        session.setAttachment(PENDING_CHARGES, pending, ProtocolSession.State.Connection);
        long declaredSize = session.getAttachment(DECLARED_SIZE, ProtocolSession.State.Transaction).orElse(-1L);
        if (declaredSize >= 0) {
            RateLimiter.Result bytes = guard.senderLimits().checkDeclaredSize(subject.get(), declaredSize, context);
            if (!bytes.verdict().passes()) {
                releasePendingCharges(session);
                return hookResult(bytes.verdict());
            }
        }
        return HookResult.DECLINED;
    }

    /** The start of an over-long address, for the audit line: enough to recognise it, not 64 KiB of it. */
    private static String printableHead(String address) {
        return address.length() <= 80 ? address : address.substring(0, 80) + "...(" + address.length() + " chars)";
    }

    /** A refusing verdict as a hook answer: DENY for a permanent refusal, DENYSOFT for a temporary one. */
    private static HookResult hookResult(Verdict verdict) {
        return HookResult.builder()
            .hookReturnCode(verdict.outcome() == Outcome.REFUSED ? HookReturnCode.deny() : HookReturnCode.denySoft())
            .smtpReturnCode(verdict.replyCode())
            .smtpDescription(verdict.enhancedStatus() + " " + verdict.text())
            .build();
    }

    private static Response reply(Verdict verdict) {
        return new SMTPResponse(verdict.replyCode(), verdict.enhancedStatus() + " " + verdict.text());
    }

    private Response checkRcpt(SMTPSession session, String argument) {
        if (session.getAttachment(SMTPSession.SENDER, ProtocolSession.State.Transaction).isEmpty()) {
            return null; // James answers "Need MAIL before RCPT"
        }
        SmtpArgument rcpt = SmtpArgument.ofRcpt(argument);
        if (rcpt == null) {
            return null; // James answers the syntax error
        }
        Client client = client(session);
        Verdict verdict = guard.checkArgument(rcpt, true, client);
        if (verdict.isAllowed() && !jamesParses(rcpt)) {
            verdict = guard.checkUnparseablePath(rcpt, true, client);
        }
        if (verdict.isAllowed()) {
            return null;
        }
        String sender = session.getAttachment(SMTPSession.SENDER, ProtocolSession.State.Transaction)
            .map(MaybeSender::asString).orElse(null);
        return answerRecipient(session, verdict, sender, rcpt.path(), client)
            .map(result -> {
                SMTPResponse response = new SMTPResponse(result.getSmtpRetCode(), result.getSmtpDescription());
                response.setEndSession(result.getResult().isDisconnected());
                return (Response) response;
            })
            .orElse(null);
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
        } catch (javax.mail.internet.AddressException | RuntimeException e) {
            return false;
        }
    }

    /** Records a MAIL-phase verdict; the response to send, or null when it only monitors. */
    private Response answer(SMTPSession session, Verdict verdict, String sender, String rcpt, Client client) {
        InetAddress address = client.address().orElse(null);
        guard.record(verdict, context(session, sender, rcpt, client, address).build(), address);
        if (verdict.passes()) {
            return null;
        }
        return new SMTPResponse(verdict.replyCode(), verdict.enhancedStatus() + " " + verdict.text());
    }

    // ---------------------------------------------------------------- hooks (after James parsed the address)

    @Override
    public HookResult doMail(SMTPSession session, MaybeSender sender) {
        Client client = client(session);
        alignJamesRelayFlag(session, client);
        try {
            return judgeSender(session, sender, client);
        } catch (RuntimeException e) {
            LOGGER.error("RelayGuard could not decide on MAIL FROM in session {}; deferring", session.getSessionID(), e);
            return TEMPORARY_PROBLEM;
        }
    }

    @Override
    public HookResult doRcpt(SMTPSession session, MaybeSender sender, MailAddress rcpt) {
        Client client = client(session);
        Verdict verdict;
        try {
            Verdict length = guard.relayPolicy().checkAddressLength(rcpt.asString(), true);
            if (!length.isAllowed()) {
                return answerRecipient(session, length, sender == null ? null : sender.asString(),
                    printableHead(rcpt.asString()), client).orElse(HookResult.DECLINED);
            }
            Verdict routing = guard.checkPath(SmtpPath.ofAddress(rcpt.getLocalPart(), rcpt.getDomain().asString()), true, client);
            if (!routing.isAllowed()) {
                java.util.Optional<HookResult> refusal = answerRecipient(session, routing,
                    sender == null ? null : sender.asString(), rcpt.asString(), client);
                if (refusal.isPresent()) {
                    return refusal.get();
                }
            }
            verdict = guard.decideRelay(RelayRequest.of(client, rcpt.getDomain().asString()));
        } catch (RuntimeException e) {
            LOGGER.error("RelayGuard could not decide on RCPT {} in session {}; deferring", rcpt.asString(), session.getSessionID(), e);
            return HookResult.builder()
                .hookReturnCode(HookReturnCode.denySoft())
                .smtpReturnCode("451")
                .smtpDescription("4.3.0 Temporary local problem, try again later")
                .build();
        }
        if (verdict.isAllowed()) {
            InetAddress address = client.address().orElse(null);
            guard.record(verdict, context(session, sender == null ? null : sender.asString(), rcpt.asString(), client, address).build(), address);
            if (verdict.reason() == Reason.RELAY_DOMAIN) {
                session.setAttachment(RELAY_DOMAIN_RECIPIENT, Boolean.TRUE, ProtocolSession.State.Transaction);
            }
            alignJamesRelayFlag(session, client);
            return chargeRecipient(session, sender, rcpt, client);
        }
        String senderText = sender == null ? null : sender.asString();
        return answerRecipient(session, verdict, senderText, rcpt.asString(), client).orElse(HookResult.DECLINED);
    }

    /** The sender's recipient limit: {@code 450 4.7.1} when reached (not a refusal counted against the connection). */
    private HookResult chargeRecipient(SMTPSession session, MaybeSender sender, MailAddress rcpt, Client client) {
        PendingCharges pending = session.getAttachment(PENDING_CHARGES, ProtocolSession.State.Connection).orElse(null);
        if (pending == null || pending.subject().limits().limits(Measure.RECIPIENTS).isEmpty()) {
            return HookResult.DECLINED;
        }
        InetAddress address = client.address().orElse(null);
        RateLimiter.Result result = guard.senderLimits().chargeRate(pending.subject(), Measure.RECIPIENTS, 1,
            context(session, sender == null ? null : sender.asString(), rcpt.asString(), client, address).build(), address);
        if (!result.verdict().passes()) {
            return HookResult.builder()
                .hookReturnCode(HookReturnCode.denySoft())
                .smtpReturnCode(result.verdict().replyCode())
                .smtpDescription(result.verdict().enhancedStatus() + " " + result.verdict().text())
                .build();
        }
        pending.addRecipient(rcpt, result.ticket());
        return HookResult.DECLINED;
    }

    // ---------------------------------------------------------------- end of DATA

    /**
     * End of DATA, before James queues the mail: for an authenticated user (where its AUTH counts) the author
     * headers, From: and Sender:, must be addresses it owns (rule {@code headerFrom}, {@code 550 5.7.1}); then
     * the sender's byte limit ({@code 452 4.7.1}); then the transaction's charges are committed and the mail is
     * marked as charged and judged. Answers DECLINED to accept (James then queues the mail), never OK.
     */
    @Override
    public HookResult onMessage(SMTPSession session, Mail mail) {
        try {
            Client client = client(session);
            InetAddress address = client.address().orElse(null);
            if (client.authenticatedUser().isPresent()) {
                Verdict author = guard.decideAuthorHeaders(client, AuthorHeaderReader.read(mail));
                guard.record(author, context(session, mail.getMaybeSender().asString(), null, client, address).build(), address);
                if (!author.passes()) {
                    releasePendingCharges(session);
                    return hookResult(author);
                }
            }
            // This handler took the identity and rate decisions for this mail, whoever it judged the client to be
            // (a plaintext AUTH that does not count leaves James's SMTP_AUTH_USER on the mail: not the pipeline's
            // business to judge or charge it again).
            mail.setAttribute(new Attribute(SENDER_JUDGED, AttributeValue.of(true)));
            PendingCharges pending = session.getAttachment(PENDING_CHARGES, ProtocolSession.State.Connection).orElse(null);
            if (pending == null) {
                mail.setAttribute(new Attribute(RATE_CHARGED, AttributeValue.of(true)));
                return HookResult.DECLINED;
            }
            pending.takeRecipientsNotIn(mail.getRecipients()).forEach(guard.senderLimits()::releaseRate);
            HookResult held = chargeAgainIfHeld(session, pending, mail.getMaybeSender().asString(), client, address);
            if (held != null) {
                return held;
            }
            if (!pending.subject().limits().limits(Measure.BYTES).isEmpty()) {
                RateLimiter.Result bytes = guard.senderLimits().chargeRate(pending.subject(), Measure.BYTES, mail.getMessageSize(),
                    context(session, mail.getMaybeSender().asString(), null, client, address).build(), address);
                if (!bytes.verdict().passes()) {
                    releasePendingCharges(session);
                    return hookResult(bytes.verdict());
                }
            }
            session.removeAttachment(PENDING_CHARGES, ProtocolSession.State.Connection); // committed
            mail.setAttribute(new Attribute(RATE_CHARGED, AttributeValue.of(true)));
            return HookResult.DECLINED;
        } catch (Exception e) {
            LOGGER.error("RelayGuard could not judge the message of session {}; deferring", session.getSessionID(), e);
            releasePendingCharges(session);
            return TEMPORARY_PROBLEM;
        }
    }

    /**
     * A transaction held open (MAIL and RCPT, then NOOPs, then DATA much later) must not be accepted on a
     * reservation counted in an older part of the window: "at most N accepted in any interval T" is about the time
     * of acceptance. When the store says the reservation is no longer current, it is given back and the message
     * and its recipients are counted again now; over the limit, the end of DATA gets the limit's 4xx
     * ({@code 450 4.7.1 ... retry in N s}) and nothing stays counted. The common case (DATA right after RCPT)
     * keeps its MAIL-time reservation: no second decision.
     *
     * @return the refusal, or null to go on
     */
    private HookResult chargeAgainIfHeld(SMTPSession session, PendingCharges pending, String sender, Client client,
                                         InetAddress address) {
        List<Ticket> reserved = pending.all();
        if (reserved.stream().allMatch(guard.senderLimits()::isRateReservationCurrent)) {
            return null;
        }
        reserved.forEach(guard.senderLimits()::releaseRate);
        List<MailAddress> recipients = pending.recipients();
        pending.clear();
        RefusalContext context = context(session, sender, null, client, address).build();
        RateLimiter.Result message = guard.senderLimits().chargeRate(pending.subject(), Measure.MESSAGES, 1, context, address);
        if (!message.verdict().passes()) {
            releasePendingCharges(session);
            return hookResult(message.verdict());
        }
        pending.addMessage(message.ticket());
        if (!recipients.isEmpty() && !pending.subject().limits().limits(Measure.RECIPIENTS).isEmpty()) {
            RateLimiter.Result charged = guard.senderLimits().chargeRate(pending.subject(), Measure.RECIPIENTS, recipients.size(), context, address);
            if (!charged.verdict().passes()) {
                releasePendingCharges(session);
                return hookResult(charged.verdict());
            }
            for (int i = 0; i < recipients.size(); i++) {
                pending.addRecipient(recipients.get(i), i == 0 ? charged.ticket() : Ticket.NONE);
            }
        }
        return null;
    }

    @Override
    public void onDisconnect(SMTPSession session) {
        releasePendingCharges(session);
    }

    private void releasePendingCharges(SMTPSession session) {
        session.removeAttachment(PENDING_CHARGES, ProtocolSession.State.Connection)
            .ifPresent(pending -> pending.all().forEach(guard.senderLimits()::releaseRate));
    }

    /**
     * Records a recipient verdict and turns it into the hook answer: empty when it only monitors; the
     * refusal otherwise, or {@code 421 4.7.0} plus disconnect once the connection has had too many refusals.
     */
    private java.util.Optional<HookResult> answerRecipient(SMTPSession session, Verdict verdict, String sender, String rcpt, Client client) {
        InetAddress address = client.address().orElse(null);
        if (verdict.passes()) {
            guard.record(verdict, context(session, sender, rcpt, client, address).build(), address);
            return java.util.Optional.empty();
        }
        int refusalNumber = refusedRecipients(session).incrementAndGet();
        tarpit(refusalNumber);
        Verdict answered = verdict;
        if (guard.sessionLimits().disconnects(refusalNumber)) {
            answered = Verdict.of(Reason.SESSION_TOO_MANY_REFUSALS,
                "Too many refused recipients (" + (refusalNumber - 1) + "), closing connection");
        }
        guard.record(answered, context(session, sender, rcpt, client, address).build(), address);
        HookReturnCode code = answered.reason() == Reason.SESSION_TOO_MANY_REFUSALS
            ? HookReturnCode.disconnected(HookReturnCode.Action.DENYSOFT)
            : answered.outcome() == Outcome.REFUSED ? HookReturnCode.deny() : HookReturnCode.denySoft();
        return java.util.Optional.of(HookResult.builder()
            .hookReturnCode(code)
            .smtpReturnCode(answered.replyCode())
            .smtpDescription(answered.enhancedStatus() + " " + answered.text())
            .build());
    }

    private void tarpit(int refusalNumber) {
        Duration delay = guard.sessionLimits().delayBefore(refusalNumber);
        if (!delay.isZero()) {
            try {
                Thread.sleep(delay.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static AtomicInteger refusedRecipients(SMTPSession session) {
        return session.getAttachment(REFUSED_RECIPIENTS, ProtocolSession.State.Connection).orElseGet(() -> {
            AtomicInteger counter = new AtomicInteger();
            session.setAttachment(REFUSED_RECIPIENTS, counter, ProtocolSession.State.Connection);
            return counter;
        });
    }

    /**
     * James's relay hook runs after ours and refuses whenever the session's relaying flag is false; James also
     * sets the flag on its own (authorizedAddresses at connect and after a PROXY header, any AUTH). Set it to
     * RelayGuard's answer: true for authenticated (where AUTH counts) or trusted clients, and for a transaction
     * that carries a relay-domain (backup MX) recipient, which the pipeline must relay onward.
     */
    private void alignJamesRelayFlag(SMTPSession session, Client client) {
        boolean relayDomainInTransaction = session.getAttachment(RELAY_DOMAIN_RECIPIENT, ProtocolSession.State.Transaction).orElse(false);
        session.setRelayingAllowed(guard.relayPolicy().clientMayRelay(client) || relayDomainInTransaction);
    }

    /** The client as the policy sees it: AUTH over plaintext counts only where the listener allows it. */
    private Client client(SMTPSession session) {
        InetAddress address = clientAddress(session);
        String user = session.getUsername() == null ? null : session.getUsername().asString();
        boolean authCounts = user != null && (allowPlaintextAuth || session.isTLSStarted());
        return Client.of(address, authCounts ? user : null, user != null && !authCounts, role);
    }

    static InetAddress clientAddress(SMTPSession session) {
        InetSocketAddress remote = session.getRemoteAddress();
        return remote == null ? null : remote.getAddress();
    }

    private static RefusalContext.Builder context(SMTPSession session, String sender, String rcpt, Client client, InetAddress address) {
        String user = session.getUsername() == null ? null : session.getUsername().asString();
        return RefusalContext.smtp()
            .sessionId(session.getSessionID())
            .clientIp(address == null ? null : address.getHostAddress())
            .helo(session.getAttachment(SMTPSession.CURRENT_HELO_NAME, ProtocolSession.State.Connection).orElse(null))
            .authUser(user)
            .sender(sender)
            .recipient(rcpt);
    }

    /**
     * A connect "response" that writes nothing: James 3.8.1's JMX connect statistics fail on a connect handler
     * that returns null, so a silent handler returns this. Its code {@code 000} is counted by no statistic.
     */
    static final class SilentResponse implements Response {
        static final SilentResponse INSTANCE = new SilentResponse();

        @Override
        public String getRetCode() {
            return "000";
        }

        @Override
        public List<CharSequence> getLines() {
            return List.of();
        }

        @Override
        public boolean isEndSession() {
            return false;
        }
    }
}
