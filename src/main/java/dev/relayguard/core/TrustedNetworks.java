package dev.relayguard.core;

import java.net.InetAddress;
import java.util.List;
import java.util.stream.Collectors;

/** The client networks RelayGuard lets relay without authentication. Empty by default. */
public final class TrustedNetworks {
    private static final TrustedNetworks NONE = new TrustedNetworks(List.of());

    private final List<IpNetwork> networks;

    private TrustedNetworks(List<IpNetwork> networks) {
        this.networks = List.copyOf(networks);
    }

    public static TrustedNetworks none() {
        return NONE;
    }

    public static TrustedNetworks of(List<IpNetwork> networks) {
        return new TrustedNetworks(networks);
    }

    public boolean contains(InetAddress client) {
        if (client == null) {
            return false;
        }
        for (IpNetwork network : networks) {
            if (network.contains(client)) {
                return true;
            }
        }
        return false;
    }

    /** True when one of our networks contains every address of {@code candidate}. */
    public boolean covers(IpNetwork candidate) {
        return networks.stream().anyMatch(network -> network.covers(candidate));
    }

    public List<IpNetwork> asList() {
        return networks;
    }

    @Override
    public String toString() {
        return networks.stream().map(IpNetwork::toString).collect(Collectors.joining(", ", "[", "]"));
    }
}
