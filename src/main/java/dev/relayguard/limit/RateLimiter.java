package dev.relayguard.limit;

import java.util.List;
import java.util.function.LongSupplier;

import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.ConfigName;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RuleModes;
import dev.relayguard.core.Holds;
import dev.relayguard.core.Verdict;

/**
 * Rate-limit decisions for one subject: charges a measure against the subject's limits in the store and turns
 * the store's answer into a verdict with the SMTP reply ({@code 450 4.7.1 Message rate limit exceeded (20
 * messages per 1m), retry in 37 s}). Applies the store-failure policy (fail open: admit and say so; fail closed:
 * {@code 451 4.3.0}), given per call so that a reload applies at once, and words the verdict of a suspended
 * subject. Thread-safe, stateless apart from the store.
 */
public final class RateLimiter {
    /** What an operator's suspension reason starts with ({@code manage.Operations}): the reply names the postmaster. */
    public static final String OPERATOR_REASON_PREFIX = "operator: ";

    /** What to do when the store cannot answer in time. */
    public enum FailureMode implements ConfigName {
        FAIL_OPEN, FAIL_CLOSED;

        public static FailureMode parse(String text) {
            return ConfigName.parse(FailureMode.class, text);
        }
    }

    /** A decision: the verdict, the ticket to keep (admitted) and whether the store failed (degraded). */
    public static final class Result {
        private final Verdict verdict;
        private final Ticket ticket;
        private final boolean degraded;
        private final boolean limitHit;
        private final String failure;
        private final Holds.Hold suspension;

        Result(Verdict verdict, Ticket ticket, boolean degraded, boolean limitHit) {
            this(verdict, ticket, degraded, limitHit, null);
        }

        Result(Verdict verdict, Ticket ticket, boolean degraded, boolean limitHit, String failure) {
            this(verdict, ticket, degraded, limitHit, failure, null);
        }

        private Result(Verdict verdict, Ticket ticket, boolean degraded, boolean limitHit, String failure, Holds.Hold suspension) {
            this.verdict = verdict;
            this.ticket = ticket;
            this.degraded = degraded;
            this.limitHit = limitHit;
            this.failure = failure;
            this.suspension = suspension;
        }

        /**
         * From {@link #chargeUnlessSuspended} only: the subject's suspension in force, or {@link Holds#UNAVAILABLE} when
         * it could not be read; nothing was counted and the verdict is the suspension's. Null otherwise.
         */
        public Holds.Hold suspension() {
            return suspension;
        }

        /** Why the store failed (degraded results only). */
        public String failure() {
            return failure;
        }

        public Verdict verdict() {
            return verdict;
        }

        public Ticket ticket() {
            return ticket;
        }

        /** True when the store failed and the failure mode decided. */
        public boolean degraded() {
            return degraded;
        }

        /** True when a limit refused (counts towards a suspension). */
        public boolean limitHit() {
            return limitHit;
        }
    }

    private final LimiterStore store;
    private final LongSupplier clockMillis;

    /**
     * @param store       where the counters live
     * @param clockMillis the time in epoch millis (for the retry time of a suspension)
     */
    public RateLimiter(LimiterStore store, LongSupplier clockMillis) {
        this.store = store;
        this.clockMillis = clockMillis;
    }

    public LimiterStore store() {
        return store;
    }

    /**
     * Charges {@code amount} of {@code measure} (all its windows at once) to the subject; {@code failureMode}
     * decides when the store cannot answer (the current policy's, so a reload applies at the next charge).
     */
    public Result charge(RateLimitPolicy.Subject subject, Measure measure, long amount, FailureMode failureMode) {
        return charge(subject, subject.limits().charges(measure, amount), reasonFor(measure), failureMode);
    }

    /** Charges several measures at once (the mail pipeline: a message, its recipients, its bytes). */
    public Result charge(RateLimitPolicy.Subject subject, List<Charge> charges, Reason reason, FailureMode failureMode) {
        if (charges.isEmpty()) {
            return new Result(Verdict.allow(Reason.RATE_OK), Ticket.NONE, false, false);
        }
        return result(store.acquire(subject.key(), charges), reason, failureMode);
    }

    /**
     * MAIL: {@link #charge} of {@code amount} of {@code measure}, unless the subject is suspended in {@code suspensions}
     * (keyed by {@link RateLimitPolicy.Subject#key}): then nothing is counted, the verdict is {@link #suspended} and
     * {@link Result#suspension()} is the hold. When the suspension could not be read ({@link Holds#UNAVAILABLE}),
     * nothing is counted either and the verdict is {@code failureMode}'s, degraded, as for a store failure: a caller that
     * goes on under fail-open charges with {@link #charge}. One store call ({@link LimiterStore#acquireUnlessHeld}): one
     * Redis round trip with the Redis store on a standalone Redis.
     */
    public Result chargeUnlessSuspended(RateLimitPolicy.Subject subject, Measure measure, long amount, FailureMode failureMode,
                                        Holds suspensions, RuleModes modes) {
        return chargeUnlessSuspended(subject, subject.limits().charges(measure, amount), reasonFor(measure), failureMode,
            suspensions, modes);
    }

    /**
     * The same for several measures at once, all or none (the mail pipeline: a message, its recipients, its bytes),
     * as {@link #charge(RateLimitPolicy.Subject, List, Reason, FailureMode)}: {@code reason} null names the refusal
     * after the measure of the limit that refused.
     */
    public Result chargeUnlessSuspended(RateLimitPolicy.Subject subject, List<Charge> charges, Reason reason,
                                        FailureMode failureMode, Holds suspensions, RuleModes modes) {
        LimiterStore.HoldOrDecision answer = store.acquireUnlessHeld(subject.key(), charges, suspensions, subject.key());
        return answer.hold() == null ? result(answer.decision(), reason, failureMode)
            : ofSuspension(answer.hold(), failureMode, modes);
    }

    /**
     * The result of a suspension in force ({@link #suspended}, nothing counted) or of one that could not be read
     * ({@link Holds#UNAVAILABLE}: {@code failureMode}'s verdict, degraded), with {@link Result#suspension()} that hold.
     */
    public Result ofSuspension(Holds.Hold suspension, FailureMode failureMode, RuleModes modes) {
        if (suspension.isUnavailable()) {
            Result failed = storeFailed("suspensions unavailable", failureMode);
            return new Result(failed.verdict, Ticket.NONE, true, false, failed.failure, suspension);
        }
        return new Result(suspended(suspension, modes), Ticket.NONE, false, false, null, suspension);
    }

    /**
     * The early byte check of {@code MAIL FROM:<...> SIZE=n}: refused when a message of that size could not fit
     * now. Counts nothing and writes nothing ({@link LimiterStore#estimate}; the bytes are charged at the end of DATA).
     */
    public Result checkDeclaredSize(RateLimitPolicy.Subject subject, long declaredSize, FailureMode failureMode) {
        List<Charge> charges = subject.limits().charges(Measure.BYTES, declaredSize);
        if (charges.isEmpty()) {
            return new Result(Verdict.allow(Reason.RATE_OK), Ticket.NONE, false, false);
        }
        return result(store.estimate(subject.key(), charges), Reason.RATE_BYTES, failureMode);
    }

    /**
     * What a store that could not answer means under {@code failureMode} (a suspension the store could not read):
     * allowed and degraded (fail-open), or {@code 451 4.3.0} and degraded (fail-closed).
     */
    public Result storeFailed(String failure, FailureMode failureMode) {
        return result(LimitDecision.storeFailed(failure), null, failureMode);
    }

    private static Result result(LimitDecision decision, Reason reason, FailureMode failureMode) {
        switch (decision.kind()) {
            case ADMITTED:
                return new Result(Verdict.allow(Reason.RATE_OK), decision.ticket(), false, false);
            case REFUSED:
                Reason refusedReason = reason != null ? reason : reasonFor(decision.limit().measure());
                return new Result(Verdict.of(refusedReason, text(decision)), Ticket.NONE, false, true);
            default:
                if (failureMode == FailureMode.FAIL_OPEN) {
                    return new Result(Verdict.allow(Reason.RATE_OK), Ticket.NONE, true, false, decision.failure());
                }
                return new Result(Verdict.of(Reason.RATE_STORE_UNAVAILABLE, "Rate limit service unavailable, try again later"),
                    Ticket.NONE, true, false, decision.failure());
        }
    }

    /** The verdict for a suspended subject, under the mode of the suspendedSender rule (retry time from this clock). */
    public Verdict suspended(Holds.Hold suspension, RuleModes modes) {
        if (suspension.isForever()) { // an operator's suspension: until resumed, no retry time to give
            return modes.apply(Verdict.of(Reason.RATE_SUSPENDED, "Account suspended from sending by the postmaster"));
        }
        long seconds = Math.max(1, (suspension.untilMillis() - clockMillis.getAsLong() + 999) / 1000);
        String reason = suspension.reason() == null ? "" : suspension.reason();
        String why = AuthLimits.SUSPENSION_REASON.equals(reason) ? "after a login that followed failed logins"
            : reason.startsWith(OPERATOR_REASON_PREFIX) ? "by the postmaster" : "after repeated rate limit hits";
        return modes.apply(Verdict.of(Reason.RATE_SUSPENDED, "Account suspended from sending " + why + ", retry in " + seconds + " s"));
    }

    /** The reason a refusal by a limit on {@code measure} gives ({@link Reason#RATE_MESSAGES}, {@link Reason#RATE_RECIPIENTS}, {@link Reason#RATE_BYTES}). */
    public static Reason reasonFor(Measure measure) {
        switch (measure) {
            case MESSAGES:
                return Reason.RATE_MESSAGES;
            case RECIPIENTS:
                return Reason.RATE_RECIPIENTS;
            default:
                return Reason.RATE_BYTES;
        }
    }

    static String text(LimitDecision decision) {
        Limit limit = decision.limit();
        String what;
        switch (limit.measure()) {
            case MESSAGES:
                what = "Message";
                break;
            case RECIPIENTS:
                what = "Recipient";
                break;
            default:
                what = "Byte";
                break;
        }
        if (decision.never()) {
            return what + " rate limit exceeded (" + limit + "): this message alone is larger than the limit";
        }
        return what + " rate limit exceeded (" + limit + "), retry in " + decision.retryAfterSeconds() + " s";
    }
}
