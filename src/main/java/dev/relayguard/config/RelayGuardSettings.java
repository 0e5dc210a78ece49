package dev.relayguard.config;

import dev.relayguard.core.RelayPolicy;

/** Everything read from the policy file, validated and immutable. Swapped whole on reload. */
public final class RelayGuardSettings {
    private final RelayPolicy relayPolicy;

    public RelayGuardSettings(RelayPolicy relayPolicy) {
        this.relayPolicy = relayPolicy;
    }

    public RelayPolicy relayPolicy() {
        return relayPolicy;
    }

    @Override
    public String toString() {
        return relayPolicy.toString();
    }
}
