package dev.relayguard.smtp;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import javax.inject.Inject;

import org.apache.commons.configuration2.Configuration;
import org.apache.commons.configuration2.ex.ConfigurationException;
import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.core.Username;
import org.apache.james.protocols.api.OidcSASLConfiguration;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.api.Request;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.api.handler.CommandHandler;
import org.apache.james.protocols.api.handler.ConnectHandler;
import org.apache.james.protocols.api.handler.DisconnectHandler;
import org.apache.james.protocols.api.handler.ExtensibleHandler;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.AuthHook;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.MailHook;
import org.apache.james.protocols.smtp.hook.RcptHook;
import org.apache.james.smtpserver.JamesMessageHook;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.MailAttributes;
import dev.relayguard.RelayGuard;
import dev.relayguard.config.ConfigValues;
import dev.relayguard.config.InvalidConfigurationException;
import dev.relayguard.core.Client;
import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.core.Reason;
import dev.relayguard.core.TrustedNetworks;
import dev.relayguard.core.Verdict;

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
 *     <proxyNetworks>10.0.0.0/24, 2001:db8::/64</proxyNetworks>  <!-- optional, proxied listeners only -->
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
 *   <li>{@code proxyNetworks}: on a listener with {@code <proxyRequired>true</proxyRequired>} (HAProxy PROXY
 *       protocol v1 or v2 in front of James), the networks the load balancers connect from, IPv4 / IPv6 CIDRs
 *       separated by commas or spaces. A connection from elsewhere gets {@code 421 4.7.0} at connect
 *       ({@code relayguard.deferred.proxy.not-a-balancer}): only a balancer may name the client with a PROXY
 *       header. Unset on a proxied listener, RelayGuard warns once that any client reaching the port can claim any
 *       address. An invalid value stops James with a message naming smtpserver.xml, the key and the value.</li>
 * </ul>
 *
 * <p>Behind a PROXY-protocol load balancer ({@code <proxyRequired>true</proxyRequired>} on the
 * {@code <smtpserver>}), James reads the header after the connect handlers ran, so the client is judged at its first
 * command instead of at connect (HELO, EHLO, MAIL, RCPT, AUTH, STARTTLS, NOOP, RSET, VRFY, EXPN or HELP: nothing
 * starts before it): a banned client gets {@code 421 4.7.0 Too many relay attempts from <ip>, try again later} and
 * the connection closes; James's relaying flag is set from the header's address. A command before any header
 * (James's decoder should make that impossible) gets {@code 421 4.7.0} and closes
 * ({@code relayguard.deferred.proxy.header-missing}). Every decision (bans, trusted networks, per-IP limits, AUTH
 * client bans, audit lines) uses the header's address; the balancer's own address is never banned or charged.
 *
 * <p>What it does, in order:
 * <ol>
 *   <li>Connect (behind a PROXY balancer: the first command): on the MX role, a banned client gets
 *       {@code 421 4.7.0} and is disconnected. Otherwise the
 *       session's relaying flag is set from RelayGuard's trusted networks, not from James's
 *       {@code <authorizedAddresses>}, so James's own checks and the {@code SMTPIsAuthNetwork} mail attribute
 *       agree with RelayGuard. With {@code <rules><relay>monitor</relay></rules>} in relayguard.xml the flag stays
 *       James's own ({@code <authorizedAddresses>}, AUTH): James decides relaying, RelayGuard counts and logs the
 *       recipients it would have refused ({@code relayguard.monitored.relay.*}).</li>
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
 *   <li>AUTH (RFC 4954; {@code <authLimits>} in relayguard.xml, see {@link AuthChecks}): where a login would not count
 *       (no TLS, {@code allowPlaintextAuth} false) the command is refused before any credential is read
 *       ({@code 538 5.7.11} where STARTTLS is offered, else {@code 503 5.5.1}); a client banned from AUTH gets
 *       {@code 454 4.7.0}; as the first {@code AuthHook} it refuses a throttled account's unknown clients before the
 *       password check ({@code 454 4.7.0}), asks James's password check itself and counts its outcome; the
 *       {@code maxFailuresPerConnection}-th refused AUTH of a connection is {@code 421 4.7.0} and closes it.</li>
 * </ol>
 * Passing answers are {@code DECLINED} / no response, never {@code OK}: James's own checks still run after
 * ours. Every refusal is counted ({@code relayguard.<outcome>.<reason>}) and logged on {@code relayguard.audit}.
 * One instance serves every connection of a listener: per-session state lives in session attachments.
 *
 * <p>This class is the adapter only: James's interfaces and the order of things. The rules are in
 * {@code dev.relayguard.core} (reached through {@link RelayGuard}); the address checks of each command in
 * {@link EnvelopeChecks}, the sender's rate limits over a transaction in {@link SessionCharges}, what is read from
 * and kept in the session in {@link SessionFacts}, and the SMTP replies in {@link SmtpAnswers}.
 */
public class RelayGuardHandler implements ConnectHandler<SMTPSession>, DisconnectHandler<SMTPSession>,
        CommandHandler<SMTPSession>, MailHook, RcptHook, JamesMessageHook, AuthHook, ExtensibleHandler {
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuardHandler.class);
    private static final String SOURCE = "smtpserver.xml: handler " + RelayGuardHandler.class.getName();
    private static final String ROLE = "role";
    private static final String ALLOW_PLAINTEXT_AUTH = "allowPlaintextAuth";
    private static final String PROXY_NETWORKS = "proxyNetworks";
    private static final Set<String> KNOWN_KEYS = Set.of("[@class]", ROLE, ALLOW_PLAINTEXT_AUTH, PROXY_NETWORKS);
    /** At most this many balancer addresses get their own "in trustedNetworks" warning. */
    private static final int MAX_WARNED_BALANCERS = 64;

    private final RelayGuard guard;
    private final EnvelopeChecks checks;
    private final SessionCharges charges;
    private final AuthChecks auth;
    /** The AUTH hooks after this one in the chain (James's password check), asked by {@link #doAuth}. */
    private volatile List<AuthHook> nextAuthHooks = List.of();
    private volatile ListenerRole role = ListenerRole.MX;
    private volatile boolean allowPlaintextAuth = false;
    /** The load balancers of a proxied listener ({@code <proxyNetworks>}); null when not set. */
    private volatile TrustedNetworks proxyNetworks;
    private final AtomicBoolean proxyWarningGiven = new AtomicBoolean();
    private final Set<InetAddress> trustedBalancersWarned = ConcurrentHashMap.newKeySet();

    @Inject
    public RelayGuardHandler(RelayGuard guard) {
        this.guard = guard;
        this.checks = new EnvelopeChecks(guard);
        this.charges = new SessionCharges(guard.senderLimits());
        this.auth = new AuthChecks(guard.loginLimits());
    }

    @Override
    public void init(Configuration config) throws ConfigurationException {
        ConfigValues values = ConfigValues.of(SOURCE, config);
        try {
            for (Iterator<String> keys = config.getKeys(); keys.hasNext(); ) {
                String key = keys.next();
                if (!KNOWN_KEYS.contains(key)) {
                    throw values.invalid(key, config.getString(key), "unknown key (known: role, allowPlaintextAuth, proxyNetworks)");
                }
            }
            role = values.choice(ROLE, ListenerRole.class, ListenerRole.MX);
            allowPlaintextAuth = values.bool(ALLOW_PLAINTEXT_AUTH, false);
            proxyNetworks = proxyNetworks(values, config.getList(String.class, PROXY_NETWORKS, List.of()));
        } catch (InvalidConfigurationException e) {
            throw new ConfigurationException(e.getMessage(), e);
        }
        if (proxyNetworks != null) {
            warnOfTrustedBalancers(proxyNetworks, guard.relayPolicy().trustedNetworks());
        }
    }

    /** {@code <proxyNetworks>}: CIDRs separated by commas or spaces (Commons Configuration may have split them already). */
    private static TrustedNetworks proxyNetworks(ConfigValues values, List<String> texts) {
        String text = String.join(",", texts);
        if (text.isBlank()) {
            return null;
        }
        List<IpNetwork> networks = new ArrayList<>();
        for (String part : text.trim().split("[,\\s]+")) {
            if (part.isEmpty()) {
                continue;
            }
            try {
                networks.add(IpNetwork.parse(part));
            } catch (IllegalArgumentException e) {
                throw values.invalid(PROXY_NETWORKS, text, "not a list of IPv4/IPv6 networks (CIDR): " + e.getMessage());
            }
        }
        if (networks.isEmpty()) {
            throw values.invalid(PROXY_NETWORKS, text, "no network in it (leave the key out when the listener is not proxied)");
        }
        return TrustedNetworks.of(networks);
    }

    /** One WARN when a balancer network and a trusted network overlap: a connection without the header would be trusted. */
    private static void warnOfTrustedBalancers(TrustedNetworks balancers, TrustedNetworks trusted) {
        List<String> overlaps = new ArrayList<>();
        for (IpNetwork balancer : balancers.asList()) {
            for (IpNetwork network : trusted.asList()) {
                if (balancer.covers(network) || network.covers(balancer)) {
                    overlaps.add(balancer + " and " + network);
                }
            }
        }
        if (!overlaps.isEmpty()) {
            LOGGER.warn("smtpserver.xml: RelayGuardHandler <{}> overlaps RelayGuard's trustedNetworks ({}): a connection from a "
                + "load balancer that skipped the PROXY header would be judged by the balancer's address, and trusted. "
                + "Trust the clients' networks, not the balancers'", PROXY_NETWORKS, String.join("; ", overlaps));
        }
    }

    public ListenerRole role() {
        return role;
    }

    /**
     * Connect: a banned client on the MX role gets {@code 421 4.7.0}; James's relay flag is RelayGuard's answer. On a
     * proxied listener the peer is the load balancer: only {@code <proxyNetworks>} is checked here ({@code 421 4.7.0}
     * from elsewhere), the client is judged at its first command.
     */
    @Override
    public Response onConnect(SMTPSession session) {
        if (SessionFacts.proxied(session)) {
            session.setRelayingAllowed(false);
            return balancerAtConnect(session).map(SmtpAnswers::reply).orElse(SmtpAnswers.SILENT);
        }
        if (proxyNetworks != null && proxyWarningGiven.compareAndSet(false, true)) {
            LOGGER.warn("smtpserver.xml: RelayGuardHandler <{}> is ignored on the listener on port {}: it has no "
                + "<proxyRequired>true</proxyRequired>", PROXY_NETWORKS, SessionFacts.localPort(session));
        }
        return admit(session, SessionFacts.clientAddress(session)).map(SmtpAnswers::reply).orElse(SmtpAnswers.SILENT);
    }

    /** A banned client on the MX role: the {@code 421 4.7.0} verdict (recorded); else James's relay flag is set (kept in monitor mode). */
    private Optional<Verdict> admit(SMTPSession session, InetAddress address) {
        Optional<Verdict> ban = role == ListenerRole.MX ? guard.banVerdict(address) : Optional.empty();
        if (ban.isPresent()) {
            guard.record(ban.get(), SessionFacts.context(session, address, null, null), address);
            return ban;
        }
        checks.relayFlagAtConnect(session, address);
        return Optional.empty();
    }

    /** The connecting load balancer of a proxied listener: refused outside {@code <proxyNetworks>}; warnings. */
    private Optional<Verdict> balancerAtConnect(SMTPSession session) {
        InetAddress balancer = SessionFacts.peerAddress(session);
        TrustedNetworks balancers = proxyNetworks;
        if (balancers != null) {
            if (balancers.contains(balancer)) {
                return Optional.empty();
            }
            Verdict verdict = Verdict.of(Reason.PROXY_NOT_ALLOWED, "This port accepts connections from the load balancers only");
            guard.record(verdict, SessionFacts.context(session, balancer, null, null), balancer);
            return Optional.of(verdict);
        }
        int port = SessionFacts.localPort(session);
        if (proxyWarningGiven.compareAndSet(false, true)) {
            LOGGER.warn("smtpserver.xml: the listener on port {} requires a PROXY header and RelayGuardHandler has no <{}>: "
                + "any client that reaches port {} can claim any address; set <{}> to the load balancers' networks",
                port, PROXY_NETWORKS, port, PROXY_NETWORKS);
        }
        if (balancer != null && guard.relayPolicy().trustedNetworks().contains(balancer)
                && trustedBalancersWarned.size() < MAX_WARNED_BALANCERS && trustedBalancersWarned.add(balancer)) {
            LOGGER.warn("relayguard.xml: load balancer {} (PROXY listener on port {}) is in trustedNetworks: a connection "
                + "from it that skipped the PROXY header would be trusted. Trust the clients' networks, not the "
                + "balancer's; set <{}> in smtpserver.xml", balancer.getHostAddress(), port, PROXY_NETWORKS);
        }
        return Optional.empty();
    }

    /**
     * The client behind a PROXY header, judged once at its first command (the header is read after the connect
     * handlers ran): {@code 421 4.7.0} and close when no header was read or the client is banned, else James's
     * relaying flag from its address (James set it from {@code <authorizedAddresses>} when the header arrived).
     */
    private Optional<Verdict> judgeProxiedClient(SMTPSession session) {
        if (!SessionFacts.proxied(session)
                || session.getAttachment(SessionFacts.PROXIED_CLIENT_JUDGED, ProtocolSession.State.Connection).isPresent()) {
            return Optional.empty();
        }
        Optional<InetAddress> client = SessionFacts.proxyHeaderSource(session);
        if (client.isEmpty()) {
            Verdict verdict = Verdict.of(Reason.PROXY_HEADER_MISSING, "No PROXY protocol header received, closing connection");
            // the audit line names the peer that sent no header; nobody is banned for it
            guard.record(verdict, SessionFacts.context(session, SessionFacts.peerAddress(session), null, null), null);
            return Optional.of(verdict);
        }
        session.setAttachment(SessionFacts.PROXIED_CLIENT_JUDGED, true, ProtocolSession.State.Connection);
        return admit(session, client.get());
    }

    /**
     * The commands RelayGuard sees first: those of a transaction and AUTH, and, on a proxied listener, every other
     * command a client may send before them, so the client behind the PROXY header is judged before anything else.
     */
    @Override
    public Collection<String> getImplCommands() {
        return List.of("MAIL", "RCPT", "RSET", "HELO", "EHLO", "AUTH", "STARTTLS", "NOOP", "VRFY", "EXPN", "HELP");
    }

    /**
     * Any command: on a proxied listener, the client is judged first ({@link #judgeProxiedClient}). Then MAIL, RCPT
     * and AUTH before James parses them; RSET, HELO and EHLO end the transaction; the others are James's alone.
     */
    @Override
    public Response onCommand(SMTPSession session, Request request) {
        try {
            Optional<Verdict> refusal = judgeProxiedClient(session);
            if (refusal.isPresent()) {
                return SmtpAnswers.reply(refusal.get());
            }
            switch (request.getCommand()) {
                case "MAIL":
                    if (!SessionFacts.inTransaction(session)) { // else James answers the sequence error
                        charges.release(session); // leftovers of a transaction that ended without DATA
                        refusal = checks.rawMail(session, request.getArgument(), client(session));
                    }
                    break;
                case "RCPT":
                    if (SessionFacts.inTransaction(session)) { // else James answers "Need MAIL before RCPT"
                        refusal = checks.rawRcpt(session, request.getArgument(), client(session));
                    }
                    break;
                case "AUTH":
                    refusal = auth.atAuthCommand(session, request.getArgument(), allowPlaintextAuth);
                    break;
                case "RSET":
                case "HELO":
                case "EHLO":
                    charges.release(session);
                    break;
                default:
                    break;
            }
            return refusal.map(SmtpAnswers::reply).orElse(null);
        } catch (RuntimeException e) {
            LOGGER.error("RelayGuard failed on {} in session {}; deferring", request.getCommand(), session.getSessionID(), e);
            return SmtpAnswers.TEMPORARY_FAILURE_REPLY;
        }
    }

    /** MAIL, on the sender James recorded: the sender rules, then the sender's message limit. */
    @Override
    public HookResult doMail(SMTPSession session, MaybeSender sender) {
        Client client = client(session);
        checks.alignJamesRelayFlag(session, client);
        try {
            Optional<Verdict> refusal = checks.sender(session, sender, client);
            return refusal.isPresent() ? SmtpAnswers.hookResult(refusal.get())
                : charges.atMail(session, client, EnvelopeChecks.text(sender));
        } catch (RuntimeException e) {
            LOGGER.error("RelayGuard could not decide on MAIL FROM in session {}; deferring", session.getSessionID(), e);
            return SmtpAnswers.TEMPORARY_FAILURE;
        }
    }

    /** RCPT, on the recipient James recorded: the relay decision, then the sender's recipient limit. */
    @Override
    public HookResult doRcpt(SMTPSession session, MaybeSender sender, MailAddress rcpt) {
        Client client = client(session);
        String senderText = sender == null ? null : sender.asString();
        Verdict verdict;
        try {
            verdict = checks.recipient(session, senderText, rcpt, client);
        } catch (RuntimeException e) {
            LOGGER.error("RelayGuard could not decide on RCPT {} in session {}; deferring", rcpt.asString(), session.getSessionID(), e);
            return SmtpAnswers.TEMPORARY_FAILURE;
        }
        if (!verdict.passes()) {
            return SmtpAnswers.hookResult(verdict);
        }
        return verdict.isAllowed() ? charges.atRcpt(session, client, senderText, rcpt) : HookResult.DECLINED;
    }

    /**
     * End of DATA, before James queues the mail: the author headers of an authenticated user, then the byte limit
     * and the commit of the transaction's charges; the mail is marked as judged and charged. DECLINED to accept.
     */
    @Override
    public HookResult onMessage(SMTPSession session, Mail mail) {
        try {
            Client client = client(session);
            Optional<Verdict> author = checks.authorHeaders(session, client, mail);
            if (author.isPresent()) {
                charges.release(session);
                return SmtpAnswers.hookResult(author.get());
            }
            // This handler took the identity and rate decisions for this mail, whoever it judged the client to be
            // (a plaintext AUTH that does not count leaves James's SMTP_AUTH_USER on the mail: not the pipeline's
            // business to judge or charge it again).
            mail.setAttribute(new Attribute(MailAttributes.SENDER_JUDGED, AttributeValue.of(true)));
            return charges.atEndOfData(session, client, mail);
        } catch (Exception e) {
            LOGGER.error("RelayGuard could not judge the message of session {}; deferring", session.getSessionID(), e);
            charges.release(session);
            return SmtpAnswers.TEMPORARY_FAILURE;
        }
    }

    /**
     * A password check: refused before it ({@code 454 4.7.0}) for a banned client or a throttled account; else James's
     * hooks after this one decide, and RelayGuard counts their answer ({@link AuthChecks#login}).
     */
    @Override
    public HookResult doAuth(SMTPSession session, Username username, String password) {
        return auth.login(session, username, password, nextAuthHooks);
    }

    /** OAUTHBEARER / XOAUTH2: James's own token check alone. */
    @Override
    public HookResult doSasl(SMTPSession session, OidcSASLConfiguration saslConfiguration, String initialResponse) {
        return HookResult.DECLINED;
    }

    /** AUTH PLAIN with a lone name from a session that has not authenticated: {@code 501 5.5.2} (see {@link AuthChecks#delegation}). */
    @Override
    public HookResult doDelegation(SMTPSession session, Username target) {
        return auth.delegation(session);
    }

    @Override
    public List<Class<?>> getMarkerInterfaces() {
        return List.of(AuthHook.class);
    }

    /** Learns the AUTH hooks that come after this handler in the chain (James's password check among them). */
    @Override
    public void wireExtensions(Class<?> interfaceName, List<?> extension) {
        if (AuthHook.class.equals(interfaceName)) {
            int self = extension.indexOf(this);
            List<AuthHook> after = new ArrayList<>();
            for (Object hook : extension.subList(self + 1, extension.size())) {
                after.add((AuthHook) hook);
            }
            nextAuthHooks = List.copyOf(after);
        }
    }

    @Override
    public void onDisconnect(SMTPSession session) {
        charges.release(session);
    }

    private Client client(SMTPSession session) {
        return SessionFacts.client(session, role, allowPlaintextAuth);
    }
}
