package dev.relayguard.smtp;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import javax.net.ssl.SSLSession;

import org.apache.james.core.MaybeSender;
import org.apache.james.core.Username;
import org.apache.james.protocols.api.ProxyInformation;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.api.handler.LineHandler;
import org.apache.james.protocols.smtp.SMTPConfiguration;
import org.apache.james.protocols.smtp.SMTPSession;

/**
 * An SMTP session for handler tests that keeps real attachments, per state, as James's session does: a transaction
 * ends with {@link #resetState()} (what James does on RSET, HELO, EHLO and after DATA), connection state stays.
 * Plus the few facts RelayGuard reads (client address, user, TLS, whether STARTTLS is offered). Everything else is unsupported.
 */
class FakeSmtpSession implements SMTPSession {
    private final Map<State, Map<AttachmentKey<?>, Object>> attachments = new EnumMap<>(State.class);
    private final String id;
    private InetSocketAddress remote;
    private Username user;
    private boolean tls;
    private boolean startTlsSupported;
    private boolean relayingAllowed;

    FakeSmtpSession(String id, InetAddress client) {
        this.id = id;
        this.remote = client == null ? null : new InetSocketAddress(client, 40000);
        attachments.put(State.Connection, new HashMap<>());
        attachments.put(State.Transaction, new HashMap<>());
    }

    /** Authenticated as {@code user}, over TLS or not. */
    FakeSmtpSession authenticated(String name, boolean overTls) {
        this.user = Username.of(name);
        this.tls = overTls;
        return this;
    }

    /** Not authenticated; over TLS or not, on a listener that offers STARTTLS or not. */
    FakeSmtpSession tls(boolean overTls, boolean startTlsOffered) {
        this.tls = overTls;
        this.startTlsSupported = startTlsOffered;
        return this;
    }

    FakeSmtpSession from(InetAddress client) {
        this.remote = client == null ? null : new InetSocketAddress(client, 40000);
        return this;
    }

    /** What James records once it accepted MAIL (its hooks answered DECLINED or OK). */
    void jamesAcceptedMail(MaybeSender sender) {
        setAttachment(SENDER, sender, State.Transaction);
    }

    @Override
    public <T> Optional<T> setAttachment(AttachmentKey<T> key, T value, State state) {
        // as James's ProtocolSessionImpl: a null value is refused (removeAttachment removes)
        Objects.requireNonNull(key, "key cannot be null");
        Objects.requireNonNull(value, "value cannot be null");
        return Optional.ofNullable(attachments.get(state).put(key, value)).flatMap(key::convert);
    }

    @Override
    public <T> Optional<T> removeAttachment(AttachmentKey<T> key, State state) {
        return Optional.ofNullable(attachments.get(state).remove(key)).flatMap(key::convert);
    }

    @Override
    public <T> Optional<T> getAttachment(AttachmentKey<T> key, State state) {
        return Optional.ofNullable(attachments.get(state).get(key)).flatMap(key::convert);
    }

    @Override
    public Map<AttachmentKey<?>, Object> getState() {
        return attachments.get(State.Transaction);
    }

    @Override
    public Map<AttachmentKey<?>, Object> getConnectionState() {
        return attachments.get(State.Connection);
    }

    @Override
    public void resetState() {
        attachments.get(State.Transaction).clear();
    }

    @Override
    public InetSocketAddress getRemoteAddress() {
        return remote;
    }

    @Override
    public String getSessionID() {
        return id;
    }

    @Override
    public Username getUsername() {
        return user;
    }

    @Override
    public void setUsername(Username username) {
        this.user = username;
    }

    @Override
    public boolean isTLSStarted() {
        return tls;
    }

    @Override
    public boolean isStartTLSSupported() {
        return startTlsSupported;
    }

    @Override
    public boolean isRelayingAllowed() {
        return relayingAllowed;
    }

    @Override
    public void setRelayingAllowed(boolean relayingAllowed) {
        this.relayingAllowed = relayingAllowed;
    }

    @Override
    public Charset getCharset() {
        return StandardCharsets.US_ASCII;
    }

    @Override
    public String getLineDelimiter() {
        return "\r\n";
    }

    // ---- not used by RelayGuard

    @Override
    public SMTPConfiguration getConfiguration() {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean isAuthAnnounced() {
        throw new UnsupportedOperationException();
    }

    @Override
    public int getRcptCount() {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean supportsOAuth() {
        throw new UnsupportedOperationException();
    }

    @Override
    public long currentMessageSize() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void setCurrentMessageSize(long size) {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean headerComplete() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void setHeaderComplete(boolean complete) {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean messageFailed() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void setMessageFailed(boolean failed) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void setProxyInformation(ProxyInformation proxyInformation) {
        throw new UnsupportedOperationException();
    }

    @Override
    public Optional<ProxyInformation> getProxyInformation() {
        return Optional.empty();
    }

    @Override
    public InetSocketAddress getLocalAddress() {
        throw new UnsupportedOperationException();
    }

    @Override
    public Response newLineTooLongResponse() {
        throw new UnsupportedOperationException();
    }

    @Override
    public Response newFatalErrorResponse() {
        throw new UnsupportedOperationException();
    }

    @Override
    public Response newCommandNotFoundErrorResponse() {
        throw new UnsupportedOperationException();
    }

    @Override
    public Optional<SSLSession> getSSLSession() {
        return Optional.empty();
    }

    @Override
    public <T extends org.apache.james.protocols.api.ProtocolSession> void pushLineHandler(LineHandler<T> overrideCommandHandler) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void popLineHandler() {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean needsCommandInjectionDetection() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void startDetectingCommandInjection() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void stopDetectingCommandInjection() {
        throw new UnsupportedOperationException();
    }
}
