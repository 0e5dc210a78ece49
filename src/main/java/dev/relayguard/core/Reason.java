package dev.relayguard.core;

/**
 * Why a verdict was reached. The {@link #code()} is stable: it names metrics
 * ({@code relayguard.refused.<code>}) and appears as {@code reason=<code>} in the audit log. A refusal reason
 * carries its permanent reply ({@code 550 5.7.1}) and the {@link Rule} whose {@link Mode} governs it.
 */
public enum Reason {
    // Reasons to allow.
    AUTHENTICATED("relay.authenticated"),
    TRUSTED_NETWORK("relay.trusted-network"),
    LOCAL_DOMAIN("relay.local-domain"),
    RELAY_DOMAIN("relay.relay-domain"),
    /** The address carries no routing syntax. */
    ADDRESS_OK("address.ok"),
    /** The sender is acceptable for this client. */
    SENDER_OK("sender.ok"),
    /** A rate-limit charge fitted its limits (or the store failed open). */
    RATE_OK("rate.ok"),

    // Relay refusals.
    /** Recipient domain neither local nor a relay domain, client neither authenticated nor trusted. */
    RELAY_UNAUTHENTICATED("relay.unauthenticated", Rule.RELAY, "550", "5.7.1"),
    /** As above, and the client did authenticate, but without TLS on a listener that does not accept that. */
    RELAY_PLAINTEXT_AUTH("relay.plaintext-auth", Rule.RELAY, "550", "5.7.1"),

    // Routing syntax in an address (RCPT or MAIL).
    ROUTING_SOURCE_ROUTE("routing.source-route", Rule.SOURCE_ROUTE, "550", "5.7.1"),
    ROUTING_PERCENT_HACK("routing.percent-hack", Rule.PERCENT_HACK, "550", "5.7.1"),
    ROUTING_BANG_PATH("routing.bang-path", Rule.BANG_PATH, "550", "5.7.1"),
    ROUTING_AT_IN_LOCAL_PART("routing.at-in-local-part", Rule.AT_IN_LOCAL_PART, "550", "5.7.1"),
    ROUTING_IP_LITERAL("routing.ip-literal", Rule.IP_LITERAL, "550", "5.7.1"),
    ROUTING_UNQUALIFIED("routing.unqualified", Rule.UNQUALIFIED_RECIPIENT, "550", "5.7.1"),

    // Senders.
    SENDER_NOT_OWNED("sender.not-owned", Rule.SENDER_OWNERSHIP, "553", "5.7.1"),
    SENDER_LOCAL_SPOOF("sender.local-spoof", Rule.LOCAL_SENDER_SPOOF, "550", "5.7.1"),
    /**
     * MAIL FROM without a domain from a stranger on an MX listener: RFC 5321 §2.3.5 allows only fully qualified
     * domains between servers (only a submission server may complete one, RFC 6409 §8). RFC 3463 X.1.7: bad
     * sender's mailbox address syntax.
     */
    SENDER_UNQUALIFIED("sender.unqualified", Rule.UNQUALIFIED_SENDER, "553", "5.1.7"),
    /** End of DATA: an address in From: or Sender: that the authenticated user does not own. */
    SENDER_HEADER_NOT_OWNED("sender.header-not-owned", Rule.HEADER_FROM, "550", "5.7.1"),
    /**
     * End of DATA, authenticated user: no From:, several From: (or Sender:), or a From:/Sender: that cannot be
     * read as RFC 5322 mailboxes, so its author cannot be checked.
     */
    SENDER_HEADER_INVALID("sender.header-invalid", Rule.HEADER_FROM, "550", "5.7.1"),
    SUBMISSION_AUTH_REQUIRED("submission.auth-required", Rule.SUBMISSION_AUTH, "530", "5.7.0"),

    /**
     * An address longer than SMTP guarantees (RFC 5321 §4.5.3.1.3: a path is at most 256 octets, brackets included,
     * so an address at most 254), which James cannot deliver either (its user names stop at 255): refused at
     * RCPT or MAIL rather than accepted and lost in the pipeline. RFC 3463 X.1.3: bad destination mailbox syntax.
     */
    ADDRESS_TOO_LONG("address.too-long", null, "553", "5.1.3"),

    // Always temporary, whatever the modes.
    /** James's DomainList could not answer: we defer rather than guess. */
    LOCAL_DOMAIN_LOOKUP_FAILED("relay.domain-lookup-failed", null, "451", "4.3.0"),
    /** James's RecipientRewriteTable could not answer whether the user owns the sender address. */
    SENDER_LOOKUP_FAILED("sender.lookup-failed", null, "451", "4.3.0"),
    /** Too many refused recipients in one connection: the connection is closed. */
    SESSION_TOO_MANY_REFUSALS("session.too-many-refusals", null, "421", "4.7.0"),
    /** The client IP collected too many relay refusals recently: refused at connect for a while. */
    PROBE_BANNED("probe.banned", null, "421", "4.7.0"),
    /**
     * The store of probe bans (Redis) could not tell whether the client is banned and the policy fails closed
     * ({@code <rateLimits><onStoreFailure>fail-closed</onStoreFailure>}): {@code 421 4.3.0}, the client retries later.
     */
    PROBE_BANS_UNAVAILABLE("probe.store-unavailable", null, "421", "4.3.0"),
    /**
     * A listener with {@code <proxyRequired>true</proxyRequired>}: a command arrived before any PROXY protocol
     * header was read, so the client's address is unknown. The connection is closed.
     */
    PROXY_HEADER_MISSING("proxy.header-missing", null, "421", "4.7.0"),
    /**
     * A listener with {@code <proxyRequired>true</proxyRequired>}: a connection from outside the handler's
     * {@code <proxyNetworks>} (only the load balancers may claim a client address with a PROXY header). Refused at
     * connect; the connection is closed.
     */
    PROXY_NOT_ALLOWED("proxy.not-a-balancer", null, "421", "4.7.0"),

    // Rate limits of authenticated senders (always temporary: the client retries when the window moves on).
    /** MAIL: the sender's message limit is reached. */
    RATE_MESSAGES("rate.messages", null, "450", "4.7.1"),
    /** RCPT: the sender's recipient limit is reached. */
    RATE_RECIPIENTS("rate.recipients", null, "450", "4.7.1"),
    /** End of DATA (or MAIL with SIZE=): the sender's byte limit would be exceeded. */
    RATE_BYTES("rate.bytes", null, "452", "4.7.1"),
    /** The rate-limit store (Redis) did not answer in time and the policy fails closed. */
    RATE_STORE_UNAVAILABLE("rate.store-unavailable", null, "451", "4.3.0"),
    /** The account hit its limits too often and is suspended from sending (defer: 450 4.7.1, reject: 550 5.7.1). */
    RATE_SUSPENDED("rate.suspended", Rule.SUSPENDED_SENDER, "550", "5.7.1"),

    // SMTP AUTH (RFC 4954), answered before James checks a password, or observed after it did.
    /**
     * AUTH on a connection without TLS, where a login would not count, on a listener that offers no STARTTLS:
     * AUTH is not available here at all (RFC 5321 §4.2.4 / RFC 3463 X.5.1: command not available).
     */
    AUTH_NOT_OFFERED("auth.not-offered", null, "503", "5.5.1"),
    /**
     * AUTH before STARTTLS where a login would not count without TLS (RFC 4954 §6: {@code 538 5.7.11 Encryption
     * required for requested authentication mechanism}).
     */
    AUTH_ENCRYPTION_REQUIRED("auth.encryption-required", null, "538", "5.7.11"),
    /** A login James's password check refused (RFC 4954 §6: {@code 535 5.7.8}); RelayGuard counts it. */
    AUTH_FAILED("auth.failed", null, "535", "5.7.8"),
    /** The client IP failed too many logins recently: AUTH refused for a while (RFC 4954 §6: {@code 454 4.7.0}). */
    AUTH_CLIENT_BANNED("auth.client-banned", null, "454", "4.7.0"),
    /** The account failed too many logins recently: AUTH for it refused for a while to clients it does not know. */
    AUTH_ACCOUNT_THROTTLED("auth.account-throttled", null, "454", "4.7.0"),
    /** The connection failed too many logins: the last failure is answered {@code 421 4.7.0} and the connection closed. */
    AUTH_TOO_MANY_FAILURES("auth.too-many-failures", null, "421", "4.7.0");

    private final String code;
    private final Rule rule;
    private final String replyCode;
    private final String enhancedStatus;

    Reason(String code) {
        this(code, null, null, null);
    }

    Reason(String code, Rule rule, String replyCode, String enhancedStatus) {
        this.code = code;
        this.rule = rule;
        this.replyCode = replyCode;
        this.enhancedStatus = enhancedStatus;
    }

    public String code() {
        return code;
    }

    /** True for reasons that refuse or defer; false for reasons that allow. */
    public boolean isRefusal() {
        return replyCode != null;
    }

    /**
     * True for the refusals a relay prober collects: relaying without authentication and every routing trick
     * (source route, percent hack, bang path, ...). Enough of them from one client start a probe ban.
     */
    public boolean countsTowardsProbeBan() {
        switch (this) {
            case RELAY_UNAUTHENTICATED:
            case RELAY_PLAINTEXT_AUTH:
            case ROUTING_SOURCE_ROUTE:
            case ROUTING_PERCENT_HACK:
            case ROUTING_BANG_PATH:
            case ROUTING_AT_IN_LOCAL_PART:
            case ROUTING_IP_LITERAL:
            case ROUTING_UNQUALIFIED:
                return true;
            default:
                return false;
        }
    }

    /** The rule whose mode applies, or null for reasons that are never softened (4xx already). */
    public Rule rule() {
        return rule;
    }

    /** The reply when this reason refuses, e.g. {@code 550}; 4xx for reasons that are always temporary. */
    public String replyCode() {
        return replyCode;
    }

    public String enhancedStatus() {
        return enhancedStatus;
    }
}
