package dev.relayguard;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.function.LongSupplier;

import org.apache.james.metrics.api.MetricFactory;

import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.RefusalRecorder;

/** A RelayGuard for the AUTH tests: only {@code <authLimits>} set, memory state, counters and time as given. */
public final class AuthGuards {

    private AuthGuards() {
    }

    /** The settings of a policy file holding only {@code <authLimits>body</authLimits>}. */
    public static RelayGuardSettings settings(String authLimitsBody) {
        String xml = "<relayguard><authLimits>" + authLimitsBody + "</authLimits></relayguard>";
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    public static RelayGuard guard(String authLimitsBody, MetricFactory metrics, LongSupplier clockMillis) {
        return new RelayGuard(settings(authLimitsBody), domain -> false, (user, sender) -> false,
            new RefusalRecorder(metrics), clockMillis, new MemoryLimiterStore(1000, clockMillis));
    }
}
