package dev.relayguard;

import java.net.InetAddress;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import org.apache.james.metrics.api.TimeMetric;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.Client;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Holds;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.LimitSet;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.SubjectKey;
import dev.relayguard.limit.Ticket;
import dev.relayguard.limit.TransactionCharges;
import dev.relayguard.observe.AuditLine;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * The outbound rate limits of senders, as the SMTP handler and the {@code ChargeSenderLimits} mailet use them:
 * who is charged ({@link #rateSubject}), whether that subject is suspended, charging and releasing, and the
 * health of the rate-limit store. Every verdict is recorded (counted, logged); a limit refusal counts towards the
 * subject's suspension ({@code <rateLimits><suspension>} in relayguard.xml), whose start is written to the audit log. A
 * store failure is decided by the current policy's {@code onStoreFailure}, counted
 * ({@value RefusalRecorder#DEGRADED_METRIC}) and marks the store unhealthy until it answers again; the store
 * itself logs the incident (once). Thread-safe; obtained from {@link RelayGuard#senderLimits()}.
 */
public final class SenderLimits {
    private static final Logger AUDIT = LoggerFactory.getLogger(RefusalRecorder.AUDIT_LOGGER);

    private final Supplier<RelayGuardSettings> settings;
    private final Refusals refusals;
    private final RateLimiter rateLimiter;
    private final Holds suspensions;
    private final LongSupplier clockMillis;
    private final AtomicBoolean storeHealthy = new AtomicBoolean(true);
    private volatile String lastStoreError = "";

    /** @param suspensions where suspensions live (memory, a file, or Redis), created with the current suspension rule */
    SenderLimits(Supplier<RelayGuardSettings> settings, Refusals refusals, LimiterStore store, Holds suspensions,
                 LongSupplier clockMillis) {
        this.settings = settings;
        this.refusals = refusals;
        this.rateLimiter = new RateLimiter(store, clockMillis);
        this.suspensions = suspensions;
        this.clockMillis = clockMillis;
        store.onCountersReset(refusals.recorder()::recordStoreReset);
    }

    /** New settings: suspensions keep their state under the new suspension rule. */
    void reconfigure(RelayGuardSettings newSettings) {
        suspensions.reconfigure(newSettings.rateLimits().suspension());
    }

    /**
     * Who is charged for this client: the authenticated user; else, for an unauthenticated client of a trusted
     * network, its IP (when trustedClients limits are configured); else nobody.
     */
    public Optional<RateLimitPolicy.Subject> rateSubject(Client client) {
        RelayGuardSettings current = settings.get();
        InetAddress address = client.address().orElse(null);
        String user = client.authenticatedUser().orElse(null);
        boolean trusted = user == null && current.relayPolicy().trustedNetworks().contains(address);
        return current.rateLimits().policy().subjectFor(user, trusted ? address : null);
    }

    /**
     * Whose suspension applies to this client: its rate subject ({@link #rateSubject}); else, for an authenticated user
     * without any rate limit, the user itself (a suspension made over JMX applies whatever the limits); else nobody.
     */
    public Optional<RateLimitPolicy.Subject> suspensionSubject(Client client) {
        Optional<RateLimitPolicy.Subject> rated = rateSubject(client);
        if (rated.isPresent()) {
            return rated;
        }
        return client.authenticatedUser()
            .map(user -> new RateLimitPolicy.Subject(SubjectKey.user(user.toLowerCase(Locale.ROOT)), LimitSet.NONE));
    }

    /**
     * Refuses a suspended subject (under the suspendedSender rule's mode); allowed otherwise. Records refusals. When
     * the store cannot tell (Redis down), {@code <rateLimits><onStoreFailure>} decides as for a rate limit: allowed
     * (fail-open) or {@code 451 4.3.0} (fail-closed), counted as degraded either way.
     */
    public Verdict checkSuspension(RateLimitPolicy.Subject subject, RefusalContext context) {
        Holds.Hold suspension = suspensions.holdOf(subject.key());
        if (suspension == null) {
            return Verdict.allow(Reason.RATE_OK);
        }
        return recordSuspension(subject,
            rateLimiter.ofSuspension(suspension, failureMode(), settings.get().relayPolicy().modes()), context.path(), () -> context);
    }

    /**
     * Records a result of {@link RateLimiter#ofSuspension}: a suspension that could not be read as a store failure
     * (degraded, the store marked unhealthy), one in force as its verdict.
     */
    private Verdict recordSuspension(RateLimitPolicy.Subject subject, RateLimiter.Result result, String path,
                                     Supplier<RefusalContext> context) {
        if (result.suspension().isUnavailable()) {
            return note(subject, result, path, context).verdict();
        }
        refusals.recorder().record(result.verdict(), context.get());
        return result.verdict();
    }

    /**
     * Charges {@code amount} of a measure (messages, recipients, bytes) to a subject. A refusal is recorded
     * (counted, logged) and counts towards the subject's suspension; a store failure is decided by the failure
     * mode and counted as degraded. Never throws for a store failure.
     */
    public RateLimiter.Result chargeRate(RateLimitPolicy.Subject subject, Measure measure, long amount,
                                         RefusalContext context) {
        return chargeRate(subject, measure, amount, context.path(), () -> context);
    }

    /**
     * The same, for a caller whose context costs something to build (the SMTP hooks, per RCPT): {@code context} is
     * asked for only when the verdict is not allowed (an allowed one is counted on {@code path}, never logged).
     *
     * @param path {@link RefusalContext#SMTP} or {@link RefusalContext#PIPELINE}
     */
    public RateLimiter.Result chargeRate(RateLimitPolicy.Subject subject, Measure measure, long amount, String path,
                                         Supplier<RefusalContext> context) {
        TimeMetric timer = refusals.recorder().startTimer(RefusalRecorder.STORE_TIMER);
        try {
            return note(subject, rateLimiter.charge(subject, measure, amount, failureMode()), path, context);
        } finally {
            timer.stopAndPublish();
        }
    }

    /**
     * MAIL: {@link #checkSuspension} and then {@link #chargeRate} of a subject with rate limits, in one store call
     * ({@link RateLimiter#chargeUnlessSuspended}: one Redis round trip with the Redis store on a standalone Redis, two
     * with Redis Cluster). Recorded as the two would be: a suspension that refuses is recorded and nothing is counted;
     * one that lets the mail pass (the suspendedSender rule in a log-only mode, or the store could not read it under
     * fail-open) is recorded and the charge follows. When the store cannot answer at all (Redis down), the one call
     * fails once: one degraded decision and its error, where the two calls counted two. The {@code relayguard.rate.store}
     * timer covers the whole, the suspension's read included. {@code context} is asked for only when a verdict is not
     * allowed.
     *
     * @param path {@link RefusalContext#SMTP} or {@link RefusalContext#PIPELINE}
     */
    public RateLimiter.Result chargeRateUnlessSuspended(RateLimitPolicy.Subject subject, Measure measure, long amount,
                                                        String path, Supplier<RefusalContext> context) {
        TimeMetric timer = refusals.recorder().startTimer(RefusalRecorder.STORE_TIMER);
        try {
            return chargeUnlessSuspended(subject, subject.limits().charges(measure, amount), RateLimiter.reasonFor(measure),
                path, context);
        } finally {
            timer.stopAndPublish();
        }
    }

    /**
     * MAIL reserving recipients ({@link TransactionCharges#chargeMessage(TransactionCharges.Meter, int)}): the
     * suspension and {@code messageWithRecipients} (a message and some recipients, all or none) in one store call, as
     * {@link #chargeRateUnlessSuspended(RateLimitPolicy.Subject, Measure, long, String, Supplier)} does for the message
     * alone, and recorded as that one would be: a suspension that refuses, a message limit reached, a store failure
     * are the MAIL's decision. When a recipient limit is what refuses (the reservation does not fit: nothing counted,
     * nothing recorded), or a suspension lets the mail pass (a log-only mode), the message is charged alone, without a
     * reservation (a second store call). {@code context} is asked for only when a verdict is not allowed.
     *
     * @param path {@link RefusalContext#SMTP} or {@link RefusalContext#PIPELINE}
     */
    public TransactionCharges.MailCharge chargeMessageReserving(RateLimitPolicy.Subject subject,
                                                                List<Charge> messageWithRecipients, String path,
                                                                Supplier<RefusalContext> context) {
        TimeMetric timer = refusals.recorder().startTimer(RefusalRecorder.STORE_TIMER);
        try {
            RateLimiter.Result result = rateLimiter.chargeUnlessSuspended(subject, messageWithRecipients, null, failureMode(),
                suspensions, settings.get().relayPolicy().modes());
            if (result.suspension() != null) {
                if (!recordSuspension(subject, result, path, context).passes()) {
                    return new TransactionCharges.MailCharge(result, false);
                }
            } else if (!result.limitHit() || result.verdict().reason() == Reason.RATE_MESSAGES) {
                return new TransactionCharges.MailCharge(note(subject, result, path, context),
                    result.verdict().isAllowed() && !result.degraded());
            }
            RateLimiter.Result message = rateLimiter.charge(subject, Measure.MESSAGES, 1, failureMode());
            return new TransactionCharges.MailCharge(note(subject, message, path, context), false);
        } finally {
            timer.stopAndPublish();
        }
    }

    /**
     * The mail pipeline ({@code ChargeSenderLimits}): {@link #checkSuspension} and then
     * {@link #chargeRate(RateLimitPolicy.Subject, List, RefusalContext)} of several measures at once, all or none, in
     * one store call, recorded as {@link #chargeRateUnlessSuspended(RateLimitPolicy.Subject, Measure, long, String,
     * Supplier) the MAIL one} is (a refusal is named after the measure of the limit that refused).
     */
    public RateLimiter.Result chargeRateUnlessSuspended(RateLimitPolicy.Subject subject, List<Charge> charges,
                                                        RefusalContext context) {
        return chargeUnlessSuspended(subject, charges, null, context.path(), () -> context);
    }

    private RateLimiter.Result chargeUnlessSuspended(RateLimitPolicy.Subject subject, List<Charge> charges, Reason reason,
                                                     String path, Supplier<RefusalContext> context) {
        RateLimiter.Result result = rateLimiter.chargeUnlessSuspended(subject, charges, reason, failureMode(), suspensions,
            settings.get().relayPolicy().modes());
        if (result.suspension() == null) {
            return note(subject, result, path, context);
        }
        if (!recordSuspension(subject, result, path, context).passes()) {
            return result;
        }
        return note(subject, rateLimiter.charge(subject, charges, reason, failureMode()), path, context);
    }

    /** Several measures at once, all or none (the mail pipeline). */
    public RateLimiter.Result chargeRate(RateLimitPolicy.Subject subject, List<Charge> charges, RefusalContext context) {
        return note(subject, rateLimiter.charge(subject, charges, null, failureMode()), context);
    }

    /** The MAIL-time {@code SIZE=} check (bytes, in octets): read only, counts and writes nothing. */
    public RateLimiter.Result checkDeclaredSize(RateLimitPolicy.Subject subject, long declaredSize, RefusalContext context) {
        return note(subject, rateLimiter.checkDeclaredSize(subject, declaredSize, failureMode()), context);
    }

    /** True when counting this reservation again now would change nothing (see {@link LimiterStore#isCurrent}). */
    public boolean isRateReservationCurrent(Ticket ticket) {
        return rateLimiter.store().isCurrent(ticket);
    }

    /** Gives back what a ticket counted; never throws. */
    public void releaseRate(Ticket ticket) {
        rateLimiter.store().release(ticket);
    }

    private RateLimiter.FailureMode failureMode() {
        return settings.get().rateLimits().failureMode();
    }

    private RateLimiter.Result note(RateLimitPolicy.Subject subject, RateLimiter.Result result, RefusalContext context) {
        return note(subject, result, context.path(), () -> context);
    }

    private RateLimiter.Result note(RateLimitPolicy.Subject subject, RateLimiter.Result result, String path,
                                    Supplier<RefusalContext> context) {
        if (result.degraded()) {
            refusals.recorder().recordDegraded();
            lastStoreError = Instant.ofEpochMilli(clockMillis.getAsLong()) + " " + result.failure();
        }
        if (storeHealthy.get() == result.degraded()) { // an incident starts or ends; no write on the usual path
            storeHealthy.set(!result.degraded());
        }
        if (result.verdict().isAllowed()) {
            refusals.countAllowed(result.verdict(), path);
        } else {
            refusals.record(result.verdict(), context.get());
        }
        Holds.Hold started = result.limitHit() ? suspensions.countHit(subject.key(), result.verdict().text()) : null;
        if (started != null) {
            refusals.recorder().recordSuspension();
            AUDIT.info(AuditLine.event("outcome", "suspended", "reason", "rate.suspended", "subject", subject.key(),
                "until", Instant.ofEpochMilli(started.untilMillis())));
        }
        return result;
    }

    public LimiterStore store() {
        return rateLimiter.store();
    }

    /** Now on the clock suspensions are timed with, epoch millis. */
    public long nowMillis() {
        return clockMillis.getAsLong();
    }

    /** The suspensions of senders: memory, a file under James's {@code var/}, or Redis. */
    public Holds suspensions() {
        return suspensions;
    }

    /** False while the store fails, and while its counters under-count after they were lost (Redis flushed). */
    public boolean storeHealthy() {
        return storeHealthy.get() && rateLimiter.store().countersIntact() && suspensions.answers();
    }

    /** The last store failure or counter loss, with its time; "" when none. */
    public String lastStoreError() {
        String reset = rateLimiter.store().countersResetNote();
        return reset.isEmpty() ? lastStoreError : reset;
    }
}
