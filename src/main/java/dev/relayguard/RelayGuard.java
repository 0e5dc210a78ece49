package dev.relayguard;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import org.apache.james.metrics.api.TimeMetric;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.config.PolicyDiff;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.AuthorHeaders;
import dev.relayguard.core.Client;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RefusalTally;
import dev.relayguard.core.Strikes;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.RelayRequest;
import dev.relayguard.core.SenderOwnership;
import dev.relayguard.core.SessionLimits;
import dev.relayguard.core.SmtpArgument;
import dev.relayguard.core.SmtpPath;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.Ticket;
import dev.relayguard.manage.OperatorInput;
import dev.relayguard.observe.AuditLine;
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
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuard.class);

    private final AtomicReference<RelayGuardSettings> settings;
    private final LocalDomains localDomains;
    private final SenderOwnership senderOwnership;
    private final RefusalRecorder recorder;
    private final ProbeBans probeBans;
    private final RateLimiter rateLimiter;
    private final Strikes suspensions;
    private final AtomicBoolean storeHealthy = new AtomicBoolean(true);
    private final RefusalTally tally;
    private final LongSupplier clockMillis;
    private volatile String lastStoreError = "";
    private volatile Supplier<RelayGuardSettings> settingsSource;

    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, RefusalRecorder recorder) {
        this(settings, localDomains, (user, sender) -> false, recorder, System::currentTimeMillis,
            new MemoryLimiterStore(settings.rateLimits().maxTrackedKeys(), System::currentTimeMillis));
    }

    public RelayGuard(RelayGuardSettings settings, LocalDomains localDomains, SenderOwnership senderOwnership,
                      RefusalRecorder recorder, LongSupplier clockMillis, LimiterStore limiterStore) {
        this.settings = new AtomicReference<>(Objects.requireNonNull(settings));
        this.localDomains = Objects.requireNonNull(localDomains);
        this.senderOwnership = Objects.requireNonNull(senderOwnership);
        this.recorder = Objects.requireNonNull(recorder);
        this.probeBans = new ProbeBans(settings.probeBans(), clockMillis);
        this.rateLimiter = new RateLimiter(limiterStore, settings.rateLimits().failureMode());
        limiterStore.onCountersReset(recorder::recordStoreReset);
        this.suspensions = new Strikes(settings.rateLimits().containment(), clockMillis);
        this.tally = new RefusalTally(10_000, clockMillis);
        this.clockMillis = clockMillis;
        this.settingsSource = this.settings::get;
    }

    /** Where {@link #reload()} reads the policy from (the module passes "read conf/relayguard.xml again"). */
    public void settingsSource(Supplier<RelayGuardSettings> source) {
        this.settingsSource = Objects.requireNonNull(source);
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
        TimeMetric timer = recorder.startTimer("relayguard.decision.rcpt");
        try {
            return relayPolicy().decide(request, localDomains);
        } finally {
            timer.stopAndPublish();
        }
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

    /** The From:/Sender: verdict for an authenticated user's message (see {@link RelayPolicy#decideAuthorHeaders}). */
    public Verdict decideAuthorHeaders(Client client, AuthorHeaders headers) {
        TimeMetric timer = recorder.startTimer("relayguard.decision.header");
        try {
            return relayPolicy().decideAuthorHeaders(client, headers, localDomains, senderOwnership);
        } finally {
            timer.stopAndPublish();
        }
    }

    /** The MAIL FROM verdict ({@code sender} null for the null sender). */
    public Verdict decideSender(Client client, String sender) {
        TimeMetric timer = recorder.startTimer("relayguard.decision.mail");
        try {
            return relayPolicy().decideSender(client, sender, localDomains, senderOwnership);
        } finally {
            timer.stopAndPublish();
        }
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
        tally(verdict, context);
        if (countsTowardsBan(verdict) && probeBans.recordRefusal(client)) {
            AUDIT.info(AuditLine.event("outcome", "banned", "reason", "probe.banned", "ip", context.clientIp(),
                "key", ProbeBans.keyOf(client), "for", probeBans.settings().banFor()));
        }
    }

    private void tally(Verdict verdict, RefusalContext context) {
        if (verdict.outcome() == Outcome.REFUSED || verdict.outcome() == Outcome.DEFERRED) {
            if (context.authUser() != null) {
                tally.add("user:" + context.authUser().toLowerCase(java.util.Locale.ROOT));
            } else if (context.clientIp() != null) {
                tally.add("ip:" + context.clientIp());
            }
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

    /**
     * Lifts the probe ban of a client address (IPv6: any address of the /64); true when one was lifted.
     *
     * @throws IllegalArgumentException when the address is missing, blank, too long or not an IP address
     */
    public boolean liftBan(String address) {
        String ip = OperatorInput.address(address);
        boolean lifted = probeBans.lift(ip);
        AUDIT.info(AuditLine.event("outcome", "unbanned", "reason", "operator", "ip", ip, "wasBanned", lifted));
        return lifted;
    }

    public ProbeBans probeBans() {
        return probeBans;
    }

    /** Swaps in new settings (validated by the caller); bans, suspensions and counters are kept. */
    public void replaceSettings(RelayGuardSettings newSettings) {
        settings.set(Objects.requireNonNull(newSettings));
        probeBans.reconfigure(newSettings.probeBans());
        suspensions.reconfigure(newSettings.rateLimits().containment());
    }

    // ------------------------------------------------------------------ rate limits

    /**
     * Who is charged for this client: the authenticated user; else, for an unauthenticated client of a trusted
     * network, its IP (when trustedClients limits are configured); else nobody.
     */
    public Optional<RateLimitPolicy.Subject> rateSubject(Client client) {
        InetAddress address = client.address().orElse(null);
        String user = client.authenticatedUser().orElse(null);
        boolean trusted = user == null && relayPolicy().trustedNetworks().contains(address);
        return settings.get().rateLimits().policy().subjectFor(user, trusted ? address : null);
    }

    /** Refuses a suspended subject (under the suspendedSender rule's mode); allowed otherwise. Records refusals. */
    public Verdict checkSuspension(RateLimitPolicy.Subject subject, RefusalContext context, InetAddress client) {
        Strikes.Block block = suspensions.blockOf(subject.key());
        if (block == null) {
            return Verdict.allow(Reason.RATE_OK);
        }
        Verdict verdict = RateLimiter.suspended(block, relayPolicy().modes());
        recorder.record(verdict, context);
        return verdict;
    }

    /**
     * Charges a measure to a subject. A refusal is recorded (counted, logged) and counts towards the subject's
     * suspension; a store failure is counted as degraded and logged once per incident.
     */
    public RateLimiter.Result chargeRate(RateLimitPolicy.Subject subject, Measure measure, long amount,
                                         RefusalContext context, InetAddress client) {
        TimeMetric timer = recorder.startTimer("relayguard.rate.store");
        try {
            return noteRateResult(subject, currentRateLimiter().charge(subject, measure, amount), context);
        } finally {
            timer.stopAndPublish();
        }
    }

    /** Several measures at once (the mail pipeline). */
    public RateLimiter.Result chargeRate(RateLimitPolicy.Subject subject, List<Charge> charges, RefusalContext context) {
        return noteRateResult(subject, currentRateLimiter().charge(subject, charges, null), context);
    }

    /** The MAIL-time SIZE check; counts nothing. */
    public RateLimiter.Result checkDeclaredSize(RateLimitPolicy.Subject subject, long declaredSize, RefusalContext context) {
        return noteRateResult(subject, currentRateLimiter().checkDeclaredSize(subject, declaredSize), context);
    }

    /** True when counting this reservation again now would change nothing (see {@link LimiterStore#isCurrent}). */
    public boolean isRateReservationCurrent(Ticket ticket) {
        return rateLimiter.store().isCurrent(ticket);
    }

    public void releaseRate(Ticket ticket) {
        rateLimiter.store().release(ticket);
    }

    private RateLimiter currentRateLimiter() {
        RateLimiter.FailureMode mode = settings.get().rateLimits().failureMode();
        return mode == rateLimiter.failureMode() ? rateLimiter : new RateLimiter(rateLimiter.store(), mode);
    }

    private RateLimiter.Result noteRateResult(RateLimitPolicy.Subject subject, RateLimiter.Result result, RefusalContext context) {
        if (result.degraded()) {
            recorder.recordDegraded();
            lastStoreError = java.time.Instant.ofEpochMilli(clockMillis.getAsLong()) + " " + result.failure();
            if (storeHealthy.compareAndSet(true, false)) {
                LOGGER.warn("Rate-limit store ({}) failed; deciding {} until it recovers", rateLimiter.store().kind(),
                    settings.get().rateLimits().failureMode().configName());
            }
        } else if (!storeHealthy.get() && storeHealthy.compareAndSet(false, true)) {
            LOGGER.info("Rate-limit store ({}) recovered", rateLimiter.store().kind());
        }
        recorder.record(result.verdict(), context);
        tally(result.verdict(), context);
        if (result.limitHit() && suspensions.strike(subject.key(), result.verdict().text())) {
            recorder.recordSuspension();
            Strikes.Block block = suspensions.blockOf(subject.key());
            AUDIT.info(AuditLine.event("outcome", "suspended", "reason", "rate.suspended", "subject", subject.key(),
                "until", block == null ? null : java.time.Instant.ofEpochMilli(block.untilMillis())));
        }
        return result;
    }

    public LimiterStore limiterStore() {
        return rateLimiter.store();
    }

    public Strikes suspensions() {
        return suspensions;
    }

    /** False while the store fails, and while its counters under-count after they were lost (Redis flushed). */
    public boolean rateStoreHealthy() {
        return storeHealthy.get() && rateLimiter.store().countersIntact();
    }

    public String lastStoreError() {
        String reset = rateLimiter.store().countersResetNote();
        return reset.isEmpty() ? lastStoreError : reset;
    }

    public long degradedCount() {
        return recorder.degradedCount();
    }

    public java.util.SortedMap<String, Long> counts() {
        return recorder.counts();
    }

    public List<RefusalTally.Entry> topRefused(int n) {
        return tally.top(n);
    }

    // ------------------------------------------------------------------ operators

    /**
     * Limits, use and retry delay of a user, one line per limit.
     *
     * @throws IllegalArgumentException when the user name is missing, blank, too long or holds control characters
     */
    public List<String> usage(String rawUser) {
        String user = OperatorInput.user(rawUser);
        Optional<RateLimitPolicy.Subject> subject = rateSubject(Client.of(null, user));
        if (subject.isEmpty()) {
            return List.of("no rate limits apply to " + user);
        }
        List<Limit> limits = subject.get().limits().all();
        Map<Limit, Long> used = rateLimiter.store().usage(subject.get().key(), limits);
        List<String> lines = new java.util.ArrayList<>();
        for (Limit limit : limits) {
            long count = used.getOrDefault(limit, 0L);
            long retry = 0;
            if (count >= limit.max()) {
                LimitDecision probe = rateLimiter.store().acquire(subject.get().key(), List.of(new Charge(limit, 1)));
                if (probe.isAdmitted()) {
                    rateLimiter.store().release(probe.ticket());
                } else {
                    retry = probe.retryAfterSeconds();
                }
            }
            lines.add(limit + ": used " + count + " / " + limit.max() + (retry > 0 ? ", retry in " + retry + " s" : ""));
        }
        return lines;
    }

    /**
     * Forgets what a user's limits counted.
     *
     * @throws IllegalArgumentException when the user name is missing, blank, too long or holds control characters
     */
    public void resetUsage(String rawUser) {
        String user = OperatorInput.user(rawUser);
        Optional<RateLimitPolicy.Subject> subject = rateSubject(Client.of(null, user));
        subject.ifPresent(limited -> rateLimiter.store().reset(limited.key()));
        AUDIT.info(AuditLine.event("outcome", "reset", "reason", "operator", "subject", userKey(user),
            "limited", subject.isPresent()));
    }

    /**
     * Suspends a user from sending until an operator resumes it.
     *
     * @throws IllegalArgumentException when the user name or the reason is missing, blank, too long (reason: over
     *     {@value OperatorInput#MAX_REASON} characters) or holds control characters
     */
    public void suspend(String rawUser, String rawReason) {
        String key = userKey(rawUser);
        String reason = OperatorInput.reason(rawReason);
        suspensions.block(key, Long.MAX_VALUE, "operator: " + reason);
        AUDIT.info(AuditLine.event("outcome", "suspended", "reason", "operator", "subject", key, "note", reason));
    }

    /**
     * Lifts a user's suspension (manual or automatic); true when it was suspended.
     *
     * @throws IllegalArgumentException when the user name is missing, blank, too long or holds control characters
     */
    public boolean resume(String rawUser) {
        String key = userKey(rawUser);
        boolean lifted = suspensions.lift(key);
        AUDIT.info(AuditLine.event("outcome", "resumed", "subject", key, "wasSuspended", lifted));
        return lifted;
    }

    public List<Strikes.Block> suspended() {
        return suspensions.blocks();
    }

    private static String userKey(String user) {
        return "user:" + OperatorInput.user(user);
    }

    /** Reloads started, in order; a reload applies only if no later-started one was applied before it. */
    private final java.util.concurrent.atomic.AtomicLong reloadsStarted = new java.util.concurrent.atomic.AtomicLong();
    private long reloadApplied; // guarded by this

    /**
     * Reads the policy again; a valid one is swapped in atomically (counters, bans and suspensions are kept),
     * an invalid, missing or unreadable one is refused and the current policy stays. The file is read and parsed
     * outside any lock (a slow or stuck read blocks no other operation); only the swap holds this object's monitor,
     * and a reload that started earlier never overwrites one that started later.
     *
     * @return what changed, one line each
     * @throws IllegalArgumentException with the reason, when the new policy is refused
     */
    public List<String> reload() {
        long ticket = reloadsStarted.incrementAndGet();
        RelayGuardSettings next;
        try {
            next = settingsSource.get();
        } catch (RuntimeException e) {
            LOGGER.warn("RelayGuard policy reload refused, the current policy stays: {}", e.getMessage());
            throw new IllegalArgumentException("reload refused, the current policy stays: " + e.getMessage());
        }
        synchronized (this) {
            if (ticket < reloadApplied) {
                LOGGER.info("RelayGuard policy reload superseded by a later reload; nothing changed");
                return List.of();
            }
            reloadApplied = ticket;
            List<String> changes = PolicyDiff.between(settings.get(), next);
            replaceSettings(next);
            LOGGER.info("RelayGuard policy reloaded: {}", changes.isEmpty() ? "no change" : String.join("; ", changes));
            return changes;
        }
    }
}
