package dev.relayguard;

import java.net.InetAddress;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.Verdict;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * The one shared RelayGuard object (a Guice singleton bound by {@code RelayGuardModule}): the current
 * settings, the local-domain lookup and the refusal recorder. SMTP hooks and pipeline matchers hold it and
 * ask it the same questions. Thread-safe; settings are swapped whole.
 */
public final class RelayGuard {
    private final AtomicReference<RelayGuardSettings> settings;
    private final LocalDomains localDomains;
    private final RefusalRecorder recorder;

    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, RefusalRecorder recorder) {
        this.settings = new AtomicReference<>(Objects.requireNonNull(settings));
        this.localDomains = Objects.requireNonNull(localDomains);
        this.recorder = Objects.requireNonNull(recorder);
    }

    public RelayGuardSettings settings() {
        return settings.get();
    }

    public RelayPolicy relayPolicy() {
        return settings.get().relayPolicy();
    }

    /** The relay verdict for one recipient. Never throws for a lookup failure: that is a 4xx verdict. */
    public Verdict decideRelay(RelayRequest request) {
        return relayPolicy().decide(request, localDomains);
    }

    /** True when the client may send anywhere (authenticated or trusted network). */
    public boolean clientMayRelay(InetAddress client, String authenticatedUser) {
        return relayPolicy().clientMayRelay(client, authenticatedUser);
    }

    /** Counts and logs a refusal or deferral; does nothing for an allowed verdict. */
    public void record(Verdict verdict, RefusalContext context) {
        recorder.record(verdict, context);
    }
}
