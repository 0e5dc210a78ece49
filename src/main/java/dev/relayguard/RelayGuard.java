package dev.relayguard;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import org.apache.james.metrics.api.TimeMetric;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.google.inject.ProvidedBy;

import dev.relayguard.config.PolicyDiff;
import dev.relayguard.config.PolicyReloader;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.AuthorHeaders;
import dev.relayguard.core.Client;
import dev.relayguard.core.Holds;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RefusalTally;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.SenderOwnership;
import dev.relayguard.core.SessionLimits;
import dev.relayguard.core.SmtpArgument;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.Suspensions;
import dev.relayguard.core.Verdict;
import dev.relayguard.guice.ModuleNotInstalled;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.observe.AuditLine;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * The one shared RelayGuard object (a Guice singleton bound by {@code RelayGuardModule}): the relay and sender
 * decisions the SMTP hooks and pipeline matchers ask for, each timed and recorded, over the current settings
 * and James's lookups (local domains, sender ownership). Its parts: {@link #senderLimits()} (outbound rate
 * limits), {@link #probeBans()}, {@link #reloader()} (policy reload); the operators' commands are
 * {@code manage.Operations}. Thread-safe; settings are swapped whole, state (bans, suspensions, counters) is kept
 * across swaps.
 *
 * <p>{@code @ProvidedBy}: without {@code RelayGuardModule} (its line missing from {@code conf/extensions.properties})
 * James stops with a message naming that line, not with Guice's "No injectable constructor".
 */
@ProvidedBy(ModuleNotInstalled.class)
public final class RelayGuard {
    private static final Logger AUDIT = LoggerFactory.getLogger(RefusalRecorder.AUDIT_LOGGER);
    private static final Logger LOGGER = LoggerFactory.getLogger(PolicyReloader.LOGGER_NAME);

    private final AtomicReference<RelayGuardSettings> settings;
    private final LocalDomains localDomains;
    private final SenderOwnership senderOwnership;
    private final Refusals refusals;
    private final ProbeBans probeBans;
    private final SenderLimits senderLimits;
    private final LoginLimits loginLimits;
    private final PolicyReloader reloader;

    /** With an in-memory rate-limit store, nobody owning any sender address, and the system clock. */
    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, RefusalRecorder recorder) {
        this(settings, localDomains, (user, sender) -> false, recorder, System::currentTimeMillis,
            new MemoryLimiterStore(settings.rateLimits().maxTrackedKeys(), System::currentTimeMillis));
    }

    /** @param clockMillis the time in epoch millis, for bans, suspensions and the refusal tally */
    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, SenderOwnership senderOwnership,
                      RefusalRecorder recorder, LongSupplier clockMillis, LimiterStore limiterStore) {
        this(settings, localDomains, senderOwnership, recorder, clockMillis, limiterStore,
            new MemoryAuthState(settings.authLimits(), clockMillis));
    }

    /** @param authState where failed logins, AUTH bans and known clients are kept (memory, or Redis in a cluster) */
    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, SenderOwnership senderOwnership,
                      RefusalRecorder recorder, LongSupplier clockMillis, LimiterStore limiterStore, AuthState authState) {
        this(settings, localDomains, senderOwnership, recorder, clockMillis, limiterStore, authState,
            new Suspensions(settings.probeBans().asHolds(), clockMillis),
            new Suspensions(settings.rateLimits().suspension(), clockMillis));
    }

    /**
     * @param probeBanHolds   where probe bans live (memory, or Redis in a cluster), made with {@code probeBans().asHolds()}
     * @param suspensionHolds where senders' suspensions live (memory, a file, or Redis), made with
     *                        {@code rateLimits().suspension()}
     */
    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, SenderOwnership senderOwnership,
                      RefusalRecorder recorder, LongSupplier clockMillis, LimiterStore limiterStore, AuthState authState,
                      Holds probeBanHolds, Holds suspensionHolds) {
        this.settings = new AtomicReference<>(Objects.requireNonNull(settings));
        this.localDomains = Objects.requireNonNull(localDomains);
        this.senderOwnership = Objects.requireNonNull(senderOwnership);
        this.refusals = new Refusals(Objects.requireNonNull(recorder), new RefusalTally(10_000, clockMillis));
        this.probeBans = new ProbeBans(settings.probeBans(), Objects.requireNonNull(probeBanHolds));
        this.senderLimits = new SenderLimits(this.settings::get, refusals, limiterStore,
            Objects.requireNonNull(suspensionHolds), clockMillis);
        this.loginLimits = new LoginLimits(this.settings::get, refusals, Objects.requireNonNull(authState),
            senderLimits.suspensions(), clockMillis);
        this.reloader = new PolicyReloader(this.settings::get, this::replaceSettings);
        PolicyDiff.relayMonitorWarning(null, settings).ifPresent(LOGGER::warn);
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

    /**
     * The relay verdict for one recipient. Never throws for a lookup failure: that is a 4xx verdict. Not timed: the
     * SMTP hooks time theirs ({@link #timed}, {@link RefusalRecorder#RCPT_DECISION_TIMER}).
     */
    public Verdict decideRelay(RelayRequest request) {
        return relayPolicy().decide(request, localDomains);
    }

    /** Routing syntax in a MAIL or RCPT path as the client wrote it. */
    public Verdict checkPath(SmtpPath path, boolean recipient, Client client) {
        return relayPolicy().checkPath(path, recipient, client);
    }

    /** What James's parsing hides in a MAIL or RCPT argument: source routes, addresses James will complete. */
    public Verdict checkArgument(SmtpArgument argument, boolean recipient, Client client) {
        return relayPolicy().checkArgument(argument, recipient, client);
    }

    /** Routing syntax in a path James cannot parse, read as written (see {@link RelayPolicy#checkUnparseablePath}). */
    public Verdict checkUnparseablePath(SmtpArgument argument, boolean recipient, Client client) {
        return relayPolicy().checkUnparseablePath(argument, recipient, client);
    }

    /** The From:/Sender: verdict for an authenticated user's message (see {@link RelayPolicy#decideAuthorHeaders}). Not timed. */
    public Verdict decideAuthorHeaders(Client client, AuthorHeaders headers) {
        return relayPolicy().decideAuthorHeaders(client, headers, localDomains, senderOwnership);
    }

    /** The MAIL FROM verdict ({@code sender} null for the null sender). Not timed. */
    public Verdict decideSender(Client client, String sender) {
        return relayPolicy().decideSender(client, sender, localDomains, senderOwnership);
    }

    /**
     * A decision timed on a James timer ({@link RefusalRecorder#RCPT_DECISION_TIMER},
     * {@link RefusalRecorder#MAIL_DECISION_TIMER}, {@link RefusalRecorder#HEADER_DECISION_TIMER}), as James's hooks time theirs ({@code SMTP-rcpt}). Only the SMTP hooks time
     * their decisions: each timer is named after its SMTP step, and the pipeline's matchers and mailets, which
     * decide the same recipients again, would count their decisions in it too (5 more RCPT samples for a mail of 5
     * recipients) at a cost above the decision's own (a James timer's update takes longer than the in-memory
     * decision it times). The pipeline's decisions are not timed; its mailets count their refusals
     * ({@code relayguard.pipeline.<outcome>.<reason>}).
     */
    public Verdict timed(String timerName, Supplier<Verdict> decision) {
        TimeMetric timer = refusals.recorder().startTimer(timerName);
        try {
            return decision.get();
        } finally {
            timer.stopAndPublish();
        }
    }

    /** True when the client may send anywhere (authenticated or trusted network). */
    public boolean clientMayRelay(InetAddress client, String authenticatedUser) {
        return relayPolicy().clientMayRelay(client, authenticatedUser);
    }

    /**
     * Counts an allowed verdict taken on a path ({@link RefusalContext#SMTP}, {@link RefusalContext#PIPELINE}), as
     * {@link #record} would, for callers that need no context for it (the SMTP hooks' usual path).
     *
     * @throws IllegalArgumentException for a verdict that is not allowed: record it with its context
     */
    public void countAllowed(Verdict verdict, String path) {
        refusals.countAllowed(verdict, path);
    }

    /**
     * Counts and logs a refused, deferred or monitored verdict (nothing for an allowed one). A relay or routing
     * refusal ({@link dev.relayguard.core.Reason#countsTowardsProbeBan}) also counts towards a probe ban of the
     * client; the start of a ban is logged on the audit logger.
     */
    public void record(Verdict verdict, RefusalContext context, InetAddress client) {
        refusals.record(verdict, context);
        boolean refused = verdict.outcome() == Outcome.REFUSED || verdict.outcome() == Outcome.DEFERRED;
        if (refused && countsTowardsBanOf(verdict, context, client)) {
            Holds.Hold ban = probeBans.recordRefusal(client);
            if (ban != null) {
                AUDIT.info(AuditLine.event("outcome", "banned", "reason", "probe.banned", "ip", context.clientIp(),
                    "key", ban.key(), "for", probeBans.settings().banFor()));
            }
        }
    }

    /**
     * Whether a refusal counts towards the probe ban of the client's address: a relay or routing refusal
     * ({@link Reason#countsTowardsProbeBan}) of a client that is not exempt ({@code <probeBans><exempt>}) and not
     * authenticated. An authenticated user's refusals are counted against the user ({@code topRefused}), never
     * against the address it shares with others (a NAT, an office); a login that did not count (plaintext AUTH where
     * it is not allowed) is a stranger's.
     */
    private boolean countsTowardsBanOf(Verdict verdict, RefusalContext context, InetAddress client) {
        if (!verdict.reason().countsTowardsProbeBan() || probeBans.settings().isExempt(client)) {
            return false;
        }
        return context.authUser() == null || verdict.reason() == Reason.RELAY_PLAINTEXT_AUTH;
    }

    /** True when the client is banned for relay probing now (false when the store of bans cannot tell). */
    public boolean isBanned(InetAddress client) {
        return probeBans.isBanned(client);
    }

    /**
     * The verdict on a client of an MX listener, at connect (or at its first command behind a PROXY-protocol
     * balancer): nothing for an exempt client ({@code <probeBans><exempt>}, even one banned before it was exempted);
     * {@link Reason#PROBE_BANNED} ({@code 421 4.7.0}) when it is banned; when the store of bans cannot tell
     * (Redis down), {@code <rateLimits><onStoreFailure>} decides as for a rate limit: empty (fail-open) or
     * {@link Reason#PROBE_BANS_UNAVAILABLE} ({@code 421 4.3.0}, fail-closed), counted as degraded either way. Not
     * recorded: the caller records it with its context ({@link #record}).
     */
    public Optional<Verdict> banVerdict(InetAddress client) {
        if (probeBans.settings().isExempt(client)) {
            return Optional.empty();
        }
        Holds.Hold ban = probeBans.banOf(client);
        if (ban == null) {
            return Optional.empty();
        }
        if (ban.isUnavailable()) {
            refusals.recorder().recordDegraded();
            return settings.get().rateLimits().failureMode() == RateLimiter.FailureMode.FAIL_OPEN ? Optional.empty()
                : Optional.of(Verdict.of(Reason.PROBE_BANS_UNAVAILABLE, "Service temporarily unavailable, try again later"));
        }
        return Optional.of(Verdict.of(Reason.PROBE_BANNED, "Too many relay attempts from "
            + (client == null ? "?" : client.getHostAddress()) + ", try again later"));
    }

    public ProbeBans probeBans() {
        return probeBans;
    }

    /** Outbound rate limits: subject, suspension, charging, release, store health. */
    public SenderLimits senderLimits() {
        return senderLimits;
    }

    /** Failed SMTP logins: AUTH bans, account throttles, known clients. */
    public LoginLimits loginLimits() {
        return loginLimits;
    }

    /** The policy reload (JMX and the policy file watch); its source is set by the module. */
    public PolicyReloader reloader() {
        return reloader;
    }

    /** Every verdict's counters. */
    public RefusalRecorder recorder() {
        return refusals.recorder();
    }

    /** The users and client IPs refused or deferred most in the last hour, most first. */
    public List<RefusalTally.Entry> topRefused(int n) {
        return refusals.top(n, RefusalTally.MINUTES);
    }

    /** The same over the last {@code minutes} minutes (1 to 60, see {@link RefusalTally#top(int, int)}). */
    public List<RefusalTally.Entry> topRefused(int n, int minutes) {
        return refusals.top(n, minutes);
    }

    /** Swaps in new settings (validated by the caller); bans, suspensions and counters are kept. */
    private void replaceSettings(RelayGuardSettings newSettings) {
        settings.set(Objects.requireNonNull(newSettings));
        probeBans.reconfigure(newSettings.probeBans());
        senderLimits.reconfigure(newSettings);
        loginLimits.reconfigure(newSettings);
    }
}
