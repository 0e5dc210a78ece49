package dev.relayguard.config;

import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.SentByMailetPolicy;
import dev.relayguard.core.SessionLimits;

/** Everything read from the policy file, validated and immutable. Swapped whole on reload. */
public final class RelayGuardSettings {
    private final RelayPolicy relayPolicy;
    private final SessionLimits sessionLimits;
    private final ProbeBans.Settings probeBans;
    private final RateLimitSettings rateLimits;
    private final SentByMailetPolicy sentByMailet;
    private final AuthLimits authLimits;

    public RelayGuardSettings(RelayPolicy relayPolicy) {
        this(relayPolicy, SessionLimits.DEFAULT, ProbeBans.Settings.DEFAULT, RateLimitSettings.NONE);
    }

    public RelayGuardSettings(RelayPolicy relayPolicy, SessionLimits sessionLimits, ProbeBans.Settings probeBans) {
        this(relayPolicy, sessionLimits, probeBans, RateLimitSettings.NONE);
    }

    public RelayGuardSettings(RelayPolicy relayPolicy, SessionLimits sessionLimits, ProbeBans.Settings probeBans,
                              RateLimitSettings rateLimits) {
        this(relayPolicy, sessionLimits, probeBans, rateLimits, SentByMailetPolicy.ALLOW);
    }

    public RelayGuardSettings(RelayPolicy relayPolicy, SessionLimits sessionLimits, ProbeBans.Settings probeBans,
                              RateLimitSettings rateLimits, SentByMailetPolicy sentByMailet) {
        this(relayPolicy, sessionLimits, probeBans, rateLimits, sentByMailet, AuthLimits.DEFAULT);
    }

    public RelayGuardSettings(RelayPolicy relayPolicy, SessionLimits sessionLimits, ProbeBans.Settings probeBans,
                              RateLimitSettings rateLimits, SentByMailetPolicy sentByMailet, AuthLimits authLimits) {
        this.authLimits = authLimits;
        this.relayPolicy = relayPolicy;
        this.sessionLimits = sessionLimits;
        this.probeBans = probeBans;
        this.rateLimits = rateLimits;
        this.sentByMailet = sentByMailet;
    }

    /** How the pipeline treats mail James itself sends. */
    public SentByMailetPolicy sentByMailet() {
        return sentByMailet;
    }

    /** The limits on failed SMTP logins ({@code <authLimits>}). */
    public AuthLimits authLimits() {
        return authLimits;
    }

    public RateLimitSettings rateLimits() {
        return rateLimits;
    }

    public RelayPolicy relayPolicy() {
        return relayPolicy;
    }

    public SessionLimits sessionLimits() {
        return sessionLimits;
    }

    public ProbeBans.Settings probeBans() {
        return probeBans;
    }

    @Override
    public String toString() {
        return relayPolicy + " sessionLimits=" + sessionLimits + " probeBans=" + probeBans + " rateLimits=" + rateLimits + " pipeline.sentByMailet=" + sentByMailet.configName()
            + " authLimits=" + authLimits;
    }
}
