package dev.relayguard.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;

import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.Mode;
import dev.relayguard.core.Rule;

/** What changed between two policies, one line per setting, for the reload log and the JMX answer. */
public final class PolicyDiff {

    private PolicyDiff() {
    }

    public static List<String> between(RelayGuardSettings before, RelayGuardSettings after) {
        Map<String, String> old = describe(before);
        Map<String, String> next = describe(after);
        List<String> changes = new ArrayList<>();
        for (Map.Entry<String, String> entry : next.entrySet()) {
            String previous = old.get(entry.getKey());
            if (!Objects.equals(previous, entry.getValue())) {
                changes.add(entry.getKey() + ": " + previous + " -> " + entry.getValue());
            }
        }
        RateLimitSettings a = before.rateLimits();
        RateLimitSettings b = after.rateLimits();
        if (!a.store().equals(b.store()) || !Objects.equals(a.redisURL(), b.redisURL()) || a.cluster() != b.cluster()
                || a.maxTrackedKeys() != b.maxTrackedKeys()) {
            changes.add("rateLimits store settings changed: they apply at the next restart");
        }
        return changes;
    }

    /**
     * The WARN to log when {@code after} puts the relay rule in monitor mode ({@code <rules><relay>monitor</relay>}
     * in relayguard.xml) and {@code before} did not: RelayGuard then leaves relaying to James's
     * {@code <authorizedAddresses>} (smtpserver.xml) and AUTH, and only counts what it would have refused.
     *
     * @param before the policy in force until now; null at startup
     */
    public static Optional<String> relayMonitorWarning(RelayGuardSettings before, RelayGuardSettings after) {
        if (!relayMonitored(after) || before != null && relayMonitored(before)) {
            return Optional.empty();
        }
        return Optional.of(PolicyFile.FILE_NAME + ": <rules><relay>monitor</relay>: relaying is decided by James's "
            + "<authorizedAddresses> in smtpserver.xml (and any AUTH James accepts), not by RelayGuard's trustedNetworks; "
            + "RelayGuard only counts and logs the recipients it would have refused (relayguard.monitored.relay.*). "
            + "Set <relay>reject</relay> to make RelayGuard decide again");
    }

    private static boolean relayMonitored(RelayGuardSettings settings) {
        return settings.relayPolicy().modes().modeOf(Rule.RELAY) == Mode.MONITOR;
    }

    /**
     * The policy for a JSON answer (WebAdmin {@code GET /relayguard/policy}): the settings of {@link #describe}, in
     * the same order, with lists as lists ({@code trustedNetworks}, {@code relayDomains}, {@code localIpLiterals}:
     * strings) and {@code rules} as an object ({@code {"relay":"reject",…}}); the other sections keep their text.
     */
    public static Map<String, Object> view(RelayGuardSettings settings) {
        Map<String, Object> view = new LinkedHashMap<>(describe(settings));
        List<String> networks = new ArrayList<>();
        for (IpNetwork network : settings.relayPolicy().trustedNetworks().asList()) {
            networks.add(network.toString());
        }
        view.put("trustedNetworks", networks);
        view.put("relayDomains", new ArrayList<>(new TreeSet<>(settings.relayPolicy().relayDomains())));
        view.put("localIpLiterals", settings.relayPolicy().localIpLiterals());
        Map<String, String> rules = new LinkedHashMap<>();
        for (Rule rule : Rule.values()) {
            rules.put(rule.configKey(), settings.relayPolicy().modes().modeOf(rule).configName());
        }
        view.put("rules", rules);
        return view;
    }

    /** The policy as named settings, in a stable order. */
    public static Map<String, String> describe(RelayGuardSettings settings) {
        Map<String, String> lines = new LinkedHashMap<>();
        lines.put("trustedNetworks", settings.relayPolicy().trustedNetworks().toString());
        lines.put("relayDomains", new TreeSet<>(settings.relayPolicy().relayDomains()).toString());
        lines.put("localIpLiterals", settings.relayPolicy().localIpLiterals().toString());
        lines.put("rules", settings.relayPolicy().modes().toString());
        lines.put("senderOwnership", settings.relayPolicy().senderOwnership().configName());
        lines.put("sessionLimits", settings.sessionLimits().toString());
        lines.put("probeBans", settings.probeBans().toString());
        lines.put("pipeline.sentByMailet", settings.sentByMailet().configName());
        lines.put("rateLimits", settings.rateLimits().toString());
        lines.put("authLimits", settings.authLimits().toString());
        return lines;
    }
}
