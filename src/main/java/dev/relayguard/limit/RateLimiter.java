package dev.relayguard.limit;

import java.util.List;
import java.util.Locale;

import dev.relayguard.core.ConfigName;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RuleModes;
import dev.relayguard.core.Strikes;
import dev.relayguard.core.Verdict;

/**
 * Rate-limit decisions for one subject: charges a measure against the subject's limits in the store and turns
 * the store's answer into a verdict with the SMTP reply ({@code 450 4.7.1 Message rate limit exceeded (20
 * messages per 1m), retry in 37 s}). Applies the store-failure policy (fail open: admit and say so; fail closed:
 * {@code 451 4.3.0}) and account containment (too many limit hits → suspended). Thread-safe, stateless apart
 * from the store and the suspensions it is given.
 */
public final class RateLimiter {
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

        Result(Verdict verdict, Ticket ticket, boolean degraded, boolean limitHit) {
            this(verdict, ticket, degraded, limitHit, null);
        }

        Result(Verdict verdict, Ticket ticket, boolean degraded, boolean limitHit, String failure) {
            this.verdict = verdict;
            this.ticket = ticket;
            this.degraded = degraded;
            this.limitHit = limitHit;
            this.failure = failure;
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
    private final FailureMode failureMode;

    public RateLimiter(LimiterStore store, FailureMode failureMode) {
        this.store = store;
        this.failureMode = failureMode;
    }

    public LimiterStore store() {
        return store;
    }

    public FailureMode failureMode() {
        return failureMode;
    }

    /** Charges {@code amount} of {@code measure} (all its windows at once) to the subject. */
    public Result charge(RateLimitPolicy.Subject subject, Measure measure, long amount) {
        return charge(subject, subject.limits().charges(measure, amount), reasonFor(measure));
    }

    /** Charges several measures at once (the mail pipeline: a message, its recipients, its bytes). */
    public Result charge(RateLimitPolicy.Subject subject, List<Charge> charges, Reason reason) {
        if (charges.isEmpty()) {
            return new Result(Verdict.allow(Reason.RATE_OK), Ticket.NONE, false, false);
        }
        LimitDecision decision = store.acquire(subject.key(), charges);
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

    /**
     * The early byte check of {@code MAIL FROM:<...> SIZE=n}: refused when a message of that size could not fit
     * now. Counts nothing (the bytes are charged at the end of DATA).
     */
    public Result checkDeclaredSize(RateLimitPolicy.Subject subject, long declaredSize) {
        Result result = charge(subject, Measure.BYTES, declaredSize);
        store.release(result.ticket());
        return new Result(result.verdict(), Ticket.NONE, result.degraded(), result.limitHit(), result.failure());
    }

    /** The verdict for a suspended subject, under the mode of the suspendedSender rule. */
    public static Verdict suspended(Strikes.Block block, RuleModes modes) {
        if (block.untilMillis() == Long.MAX_VALUE) { // an operator's suspension: until resumed, no retry time to give
            return modes.apply(Verdict.of(Reason.RATE_SUSPENDED, "Account suspended from sending by the postmaster"));
        }
        long seconds = Math.max(1, (block.untilMillis() - System.currentTimeMillis() + 999) / 1000);
        return modes.apply(Verdict.of(Reason.RATE_SUSPENDED, "Account suspended from sending after repeated rate limit hits"
            + ", retry in " + seconds + " s"));
    }

    static Reason reasonFor(Measure measure) {
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
