package dev.relayguard.config;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.apache.commons.configuration2.HierarchicalConfiguration;

import dev.relayguard.core.DomainName;
import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.TrustedNetworks;

/**
 * Reads RelayGuard's policy file ({@code relayguard.xml} in James's conf folder) into immutable, validated
 * values. Every key is known; an unknown key or a bad value is an {@link InvalidConfigurationException}
 * naming file, key and value.
 *
 * <pre>{@code
 * <relayguard>
 *   <trustedNetworks>                 <!-- clients that may relay without AUTH; empty by default -->
 *     <network>192.0.2.0/24</network>
 *     <network>2001:db8::/32</network>
 *   </trustedNetworks>
 *   <relayDomains>                    <!-- domains we accept for and relay onward (backup MX) -->
 *     <domain>backup.example</domain>
 *   </relayDomains>
 * </relayguard>
 * }</pre>
 */
public final class PolicyFile {
    /** The file name in James's conf folder, as read through James's ConfigurationProvider. */
    public static final String FILE_NAME = "relayguard.xml";
    public static final String COMPONENT = "relayguard";

    static final String TRUSTED_NETWORK = "trustedNetworks.network";
    static final String RELAY_DOMAIN = "relayDomains.domain";
    private static final Set<String> KNOWN_KEYS = Set.of(
        TRUSTED_NETWORK, "trustedNetworks",
        RELAY_DOMAIN, "relayDomains");

    private PolicyFile() {
    }

    public static RelayGuardSettings parse(HierarchicalConfiguration<?> config, String fileName) {
        rejectUnknownKeys(config, fileName);
        return new RelayGuardSettings(RelayPolicy.of(trustedNetworks(config, fileName), relayDomains(config, fileName)));
    }

    private static void rejectUnknownKeys(HierarchicalConfiguration<?> config, String fileName) {
        for (Iterator<String> keys = config.getKeys(); keys.hasNext(); ) {
            String key = keys.next();
            if (!KNOWN_KEYS.contains(key)) {
                throw new InvalidConfigurationException(fileName, key, String.valueOf(config.getProperty(key)),
                    "unknown key (known: " + String.join(", ", new java.util.TreeSet<>(KNOWN_KEYS)) + ")");
            }
        }
    }

    private static TrustedNetworks trustedNetworks(HierarchicalConfiguration<?> config, String fileName) {
        List<IpNetwork> networks = new ArrayList<>();
        for (String value : config.getList(String.class, TRUSTED_NETWORK, List.of())) {
            try {
                networks.add(IpNetwork.parse(value));
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigurationException(fileName, TRUSTED_NETWORK, value, e.getMessage());
            }
        }
        return TrustedNetworks.of(networks);
    }

    private static Set<String> relayDomains(HierarchicalConfiguration<?> config, String fileName) {
        Set<String> domains = new LinkedHashSet<>();
        for (String value : config.getList(String.class, RELAY_DOMAIN, List.of())) {
            String domain = DomainName.canonical(value);
            if (!DomainName.isValidHostName(domain)) {
                throw new InvalidConfigurationException(fileName, RELAY_DOMAIN, value, "not a valid domain name");
            }
            domains.add(domain);
        }
        return domains;
    }
}
