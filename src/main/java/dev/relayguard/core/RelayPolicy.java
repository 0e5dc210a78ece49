package dev.relayguard.core;

import java.net.InetAddress;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Who may relay where. The one place the relay rule is written; SMTP hooks and pipeline matchers ask it.
 *
 * <p>A recipient is accepted when the client is authenticated, or comes from a trusted network, or the
 * recipient's domain is local (James's DomainList) or a configured relay domain (backup MX). Anything else
 * is refused {@code 550 5.7.1}. When the local-domain lookup fails the answer is a {@code 451 4.3.0}: a
 * lookup failure never turns into a relay, and never into a permanent refusal of mail we may well serve.
 */
public final class RelayPolicy {
    private final TrustedNetworks trustedNetworks;
    private final Set<String> relayDomains;

    private RelayPolicy(TrustedNetworks trustedNetworks, Set<String> relayDomains) {
        this.trustedNetworks = trustedNetworks;
        this.relayDomains = Set.copyOf(relayDomains.stream().map(DomainName::canonical).collect(Collectors.toSet()));
    }

    public static RelayPolicy of(TrustedNetworks trustedNetworks, Set<String> relayDomains) {
        return new RelayPolicy(trustedNetworks, relayDomains);
    }

    /** The safe default: nobody trusted, no relay domains. */
    public static RelayPolicy closed() {
        return new RelayPolicy(TrustedNetworks.none(), Set.of());
    }

    /** True when this client may send anywhere: it authenticated, or it connects from a trusted network. */
    public boolean clientMayRelay(InetAddress client, String authenticatedUser) {
        return authenticatedUser != null || trustedNetworks.contains(client);
    }

    public Verdict decide(RelayRequest request, LocalDomains localDomains) {
        if (request.authenticatedUser().isPresent()) {
            return Verdict.allow(Reason.AUTHENTICATED);
        }
        if (request.clientAddress().map(trustedNetworks::contains).orElse(false)) {
            return Verdict.allow(Reason.TRUSTED_NETWORK);
        }
        String domain = request.recipientDomain();
        if (relayDomains.contains(domain)) {
            return Verdict.allow(Reason.RELAY_DOMAIN);
        }
        try {
            if (localDomains.isLocal(domain)) {
                return Verdict.allow(Reason.LOCAL_DOMAIN);
            }
        } catch (LocalDomains.LookupFailedException e) {
            return Verdict.defer(Reason.LOCAL_DOMAIN_LOOKUP_FAILED, "451", "4.3.0",
                "Temporary failure checking whether " + domain + " is served here, try again later");
        }
        return Verdict.refuse(Reason.RELAY_UNAUTHENTICATED, "550", "5.7.1",
            "Relaying denied: " + domain + " is not served here and you are not authenticated");
    }

    public boolean isRelayDomain(String domain) {
        return relayDomains.contains(DomainName.canonical(domain));
    }

    public TrustedNetworks trustedNetworks() {
        return trustedNetworks;
    }

    public Set<String> relayDomains() {
        return relayDomains;
    }

    @Override
    public String toString() {
        return "trustedNetworks=" + trustedNetworks + " relayDomains=" + new TreeSet<>(relayDomains);
    }
}
