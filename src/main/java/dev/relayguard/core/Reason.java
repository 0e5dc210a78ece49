package dev.relayguard.core;

/**
 * Why a verdict was reached. The {@link #code()} is stable: it names metrics
 * ({@code relayguard.refused.<code>}) and appears as {@code reason=<code>} in the audit log.
 */
public enum Reason {
    // Reasons to allow.
    AUTHENTICATED("relay.authenticated", false),
    TRUSTED_NETWORK("relay.trusted-network", false),
    LOCAL_DOMAIN("relay.local-domain", false),
    RELAY_DOMAIN("relay.relay-domain", false),

    // Reasons to refuse or defer.
    /** Recipient domain neither local nor a relay domain, client neither authenticated nor trusted. */
    RELAY_UNAUTHENTICATED("relay.unauthenticated", true),
    /** James's DomainList could not answer: we defer rather than guess. */
    LOCAL_DOMAIN_LOOKUP_FAILED("relay.domain-lookup-failed", true);

    private final String code;
    private final boolean refusal;

    Reason(String code, boolean refusal) {
        this.code = code;
        this.refusal = refusal;
    }

    /** True for reasons that refuse or defer; false for reasons that allow. */
    public boolean isRefusal() {
        return refusal;
    }

    public String code() {
        return code;
    }
}
