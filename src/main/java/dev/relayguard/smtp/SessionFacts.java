package dev.relayguard.smtp;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.james.core.MaybeSender;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.api.ProtocolSessionImpl;
import org.apache.james.protocols.api.ProxyInformation;
import org.apache.james.protocols.smtp.SMTPSession;

import dev.relayguard.core.Client;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.limit.TransactionCharges;
import dev.relayguard.observe.RefusalContext;

/**
 * What RelayGuard reads from and keeps in a James {@link SMTPSession}: the client as the policy sees it, the audit
 * context of a verdict, and RelayGuard's per-session state (session attachments: one handler instance serves every
 * connection of a listener).
 */
final class SessionFacts {
    /** Set in the transaction when a recipient was accepted only because its domain is a relay domain. */
    static final ProtocolSession.AttachmentKey<Boolean> RELAY_DOMAIN_RECIPIENT =
        ProtocolSession.AttachmentKey.of("relayguard.relayDomainRecipient", Boolean.class);
    /** What the current transaction counted against its sender's rate limits, not yet committed (connection state). */
    static final ProtocolSession.AttachmentKey<TransactionCharges> CHARGES =
        ProtocolSession.AttachmentKey.of("relayguard.pendingCharges", TransactionCharges.class);
    /** How many recipients the connection's last accepted message had: what the next MAIL reserves. */
    static final ProtocolSession.AttachmentKey<Integer> LAST_MESSAGE_RECIPIENTS =
        ProtocolSession.AttachmentKey.of("relayguard.lastMessageRecipients", Integer.class);
    /** The {@code SIZE=} of the current MAIL command, read where James reads it. */
    static final ProtocolSession.AttachmentKey<Long> DECLARED_SIZE =
        ProtocolSession.AttachmentKey.of("relayguard.declaredSize", Long.class);
    /** Refused recipients so far in this connection. */
    static final ProtocolSession.AttachmentKey<AtomicInteger> REFUSED_RECIPIENTS =
        ProtocolSession.AttachmentKey.of("relayguard.refusedRecipients", AtomicInteger.class);

    /** The SASL mechanism of the last AUTH command of this connection ({@code PLAIN}, {@code LOGIN}, ...). */
    static final ProtocolSession.AttachmentKey<String> AUTH_MECHANISM =
        ProtocolSession.AttachmentKey.of("relayguard.authMechanism", String.class);
    /** Failed logins so far in this connection. */
    static final ProtocolSession.AttachmentKey<AtomicInteger> AUTH_FAILURES =
        ProtocolSession.AttachmentKey.of("relayguard.authFailures", AtomicInteger.class);

    /**
     * Set on a proxied listener once the client named by the PROXY header was judged (ban, relaying flag), at the
     * first command after the header: it happens once per connection.
     */
    static final ProtocolSession.AttachmentKey<Boolean> PROXIED_CLIENT_JUDGED =
        ProtocolSession.AttachmentKey.of("relayguard.proxiedClientJudged", Boolean.class);

    private SessionFacts() {
    }

    /** The client as the policy sees it: AUTH over plaintext counts only where the listener allows it. */
    static Client client(SMTPSession session, ListenerRole role, boolean allowPlaintextAuth) {
        String user = user(session);
        boolean authCounts = user != null && (allowPlaintextAuth || session.isTLSStarted());
        return Client.of(clientAddress(session), authCounts ? user : null, user != null && !authCounts, role);
    }

    /**
     * The client's address, null when it is not known (yet). On a listener with {@code <proxyRequired>true</proxyRequired>}
     * it is the source named by the PROXY header, null before the header was read: never the balancer's address.
     * Elsewhere it is the TCP peer.
     */
    static InetAddress clientAddress(SMTPSession session) {
        if (proxied(session)) {
            return proxyHeaderSource(session).orElse(null);
        }
        return address(session.getRemoteAddress());
    }

    /** True on a listener with {@code <proxyRequired>true</proxyRequired>} (James's netty transport says so). */
    static boolean proxied(SMTPSession session) {
        return session instanceof ProtocolSessionImpl && ((ProtocolSessionImpl) session).getProtocolTransport().isProxyRequired();
    }

    /** The TCP peer: on a proxied listener the load balancer, whatever the PROXY header says; null when unknown. */
    static InetAddress peerAddress(SMTPSession session) {
        return address(session instanceof ProtocolSessionImpl
            ? ((ProtocolSessionImpl) session).getProtocolTransport().getRemoteAddress() : session.getRemoteAddress());
    }

    /** The local port the client connected to, -1 when unknown. */
    static int localPort(SMTPSession session) {
        InetSocketAddress local = session.getLocalAddress();
        return local == null ? -1 : local.getPort();
    }

    /** The client address named by the PROXY header, empty before one was read. */
    static Optional<InetAddress> proxyHeaderSource(SMTPSession session) {
        Optional<ProxyInformation> header;
        try {
            header = session.getProxyInformation();
        } catch (NullPointerException e) {
            // James 3.8.1 answers Optional.of(null) before a header was read
            return Optional.empty();
        }
        return header.map(ProxyInformation::getSource).map(SessionFacts::address);
    }

    private static InetAddress address(InetSocketAddress socketAddress) {
        return socketAddress == null ? null : socketAddress.getAddress();
    }

    /** The audit context of a verdict in this session; {@code sender} and {@code rcpt} may be null. */
    static RefusalContext context(SMTPSession session, InetAddress address, String sender, String rcpt) {
        return contextBuilder(session, address).sender(sender).recipient(rcpt).build();
    }

    /** The audit context of an AUTH: the user name tried ({@code login}, may be null) and the mechanism. */
    static RefusalContext authContext(SMTPSession session, InetAddress address, String login) {
        return contextBuilder(session, address).login(login)
            .mechanism(session.getAttachment(AUTH_MECHANISM, ProtocolSession.State.Connection).orElse(null)).build();
    }

    private static RefusalContext.Builder contextBuilder(SMTPSession session, InetAddress address) {
        return RefusalContext.smtp()
            .sessionId(session.getSessionID())
            .clientIp(address == null ? null : address.getHostAddress())
            .helo(session.getAttachment(SMTPSession.CURRENT_HELO_NAME, ProtocolSession.State.Connection).orElse(null))
            .authUser(user(session));
    }

    /** The sender James recorded for the current transaction ({@code <>} for the null sender); null before MAIL. */
    static String sender(SMTPSession session) {
        return session.getAttachment(SMTPSession.SENDER, ProtocolSession.State.Transaction)
            .map(MaybeSender::asString).orElse(null);
    }

    static boolean inTransaction(SMTPSession session) {
        return session.getAttachment(SMTPSession.SENDER, ProtocolSession.State.Transaction).isPresent();
    }

    /** Counts one more refused recipient in this connection; its number, 1 for the first. */
    static int nextRefusal(SMTPSession session) {
        return next(session, REFUSED_RECIPIENTS);
    }

    /** Counts one more failed login in this connection; its number, 1 for the first. */
    static int nextAuthFailure(SMTPSession session) {
        return next(session, AUTH_FAILURES);
    }

    private static int next(SMTPSession session, ProtocolSession.AttachmentKey<AtomicInteger> key) {
        return session.getAttachment(key, ProtocolSession.State.Connection).orElseGet(() -> {
            AtomicInteger counter = new AtomicInteger();
            session.setAttachment(key, counter, ProtocolSession.State.Connection);
            return counter;
        }).incrementAndGet();
    }

    private static String user(SMTPSession session) {
        return session.getUsername() == null ? null : session.getUsername().asString();
    }
}
