package dev.relayguard;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.Client;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.SenderOwnership;
import dev.relayguard.core.SessionLimits;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.Verdict;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * The one shared RelayGuard object (a Guice singleton bound by {@code RelayGuardModule}): the current
 * settings, James's lookups (local domains, sender ownership), the refusal recorder and the probe-ban state.
 * SMTP hooks and pipeline matchers hold it and ask it the same questions. Thread-safe; settings are swapped
 * whole, state (bans) is kept across swaps.
 */
public final class RelayGuard {
    private static final Logger AUDIT = LoggerFactory.getLogger(RefusalRecorder.AUDIT_LOGGER);

    private final AtomicReference<RelayGuardSettings> settings;
    private final LocalDomains localDomains;
    private final SenderOwnership senderOwnership;
    private final RefusalRecorder recorder;
    private final ProbeBans probeBans;

    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, RefusalRecorder recorder) {
        this(settings, localDomains, (user, sender) -> false, recorder, System::currentTimeMillis);
    }

    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, SenderOwnership senderOwnership,
                      RefusalRecorder recorder, java.util.function.LongSupplier clockMillis) {
        this.settings = new AtomicReference<>(Objects.requireNonNull(settings));
        this.localDomains = Objects.requireNonNull(localDomains);
        this.senderOwnership = Objects.requireNonNull(senderOwnership);
        this.recorder = Objects.requireNonNull(recorder);
        this.probeBans = new ProbeBans(settings.probeBans(), clockMillis);
    }

    public RelayGuardSettings settings() {
        return settings.get();
    }

    public RelayPolicy relayPolicy() {
        return settings.get().relayPolicy();
    }

    public SessionLimits sessionLimits() {
        return settings.get().sessionLimits();
    }

    /** The relay verdict for one recipient. Never throws for a lookup failure: that is a 4xx verdict. */
    public Verdict decideRelay(RelayRequest request) {
        return relayPolicy().decide(request, localDomains);
    }

    /** Routing syntax in a MAIL or RCPT path as the client wrote it. */
    public Verdict checkPath(SmtpPath path, boolean recipient, Client client) {
        return relayPolicy().checkPath(path, recipient, client);
    }

    /** The MAIL FROM verdict ({@code sender} null for the null sender). */
    public Verdict decideSender(Client client, String sender) {
        return relayPolicy().decideSender(client, sender, localDomains, senderOwnership);
    }

    /** True when the client may send anywhere (authenticated or trusted network). */
    public boolean clientMayRelay(InetAddress client, String authenticatedUser) {
        return relayPolicy().clientMayRelay(client, authenticatedUser);
    }

    /**
     * Counts and logs a refused, deferred or monitored verdict (nothing for an allowed one). A relay or routing
     * refusal also counts towards a probe ban of the client; the start of a ban is logged on the audit logger.
     */
    public void record(Verdict verdict, RefusalContext context, InetAddress client) {
        recorder.record(verdict, context);
        if (countsTowardsBan(verdict) && probeBans.recordRefusal(client)) {
            AUDIT.info("outcome=banned reason=probe.banned ip={} key={} for={}", context.clientIp(),
                ProbeBans.keyOf(client), probeBans.settings().banFor());
        }
    }

    private static boolean countsTowardsBan(Verdict verdict) {
        String code = verdict.reason().code();
        return (verdict.outcome() == Outcome.REFUSED || verdict.outcome() == Outcome.DEFERRED)
            && verdict.reason().rule() != null
            && (code.startsWith("relay.") || code.startsWith("routing."));
    }

    public boolean isBanned(InetAddress client) {
        return probeBans.isBanned(client);
    }

    public List<ProbeBans.Ban> bans() {
        return probeBans.bans();
    }

    public boolean liftBan(String address) {
        return probeBans.lift(address);
    }

    public ProbeBans probeBans() {
        return probeBans;
    }

    /** Swaps in new settings (validated by the caller); bans and their tracking are kept. */
    public void replaceSettings(RelayGuardSettings newSettings) {
        settings.set(Objects.requireNonNull(newSettings));
        probeBans.reconfigure(newSettings.probeBans());
    }
}
