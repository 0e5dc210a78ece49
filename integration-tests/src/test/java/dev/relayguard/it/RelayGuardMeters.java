package dev.relayguard.it;

import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * RelayGuard's refusal-side meters of the in-process server, for tests that assert exactly which counters a
 * step moved and by how much: take {@link #relayGuardMeters()} before, compare with {@link #increasedSince(Map)}.
 */
public final class RelayGuardMeters {

    private RelayGuardMeters() {
    }

    /**
     * RelayGuard's refusal-side counters (refused, deferred, monitored, rate, and the pipeline door's own), by
     * name. Left out: "accepted" counters and the SMTP door's copies ({@code relayguard.smtp.*}), which every
     * accepted command and every SMTP refusal also moves.
     */
    static Map<String, Long> relayGuardMeters() throws Exception {
        Map<String, Long> meters = new TreeMap<>(Metrics.inProcess().meterCounts("relayguard."));
        meters.keySet().removeIf(name -> name.startsWith("relayguard.accepted.") || name.startsWith("relayguard.smtp.")
            || name.startsWith("relayguard.pipeline.accepted."));
        return meters;
    }

    /** The counters of {@link #relayGuardMeters()} that grew since {@code before}, with how much each grew. */
    static Map<String, Long> increasedSince(Map<String, Long> before) throws Exception {
        return relayGuardMeters().entrySet().stream()
            .filter(entry -> entry.getValue() > before.getOrDefault(entry.getKey(), 0L))
            .collect(Collectors.toMap(Map.Entry::getKey, entry -> entry.getValue() - before.getOrDefault(entry.getKey(), 0L)));
    }
}
