package dev.relayguard.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

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

    /** The policy as named settings, in a stable order. */
    public static Map<String, String> describe(RelayGuardSettings settings) {
        Map<String, String> lines = new LinkedHashMap<>();
        lines.put("trustedNetworks", settings.relayPolicy().trustedNetworks().toString());
        lines.put("relayDomains", new TreeSet<>(settings.relayPolicy().relayDomains()).toString());
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
