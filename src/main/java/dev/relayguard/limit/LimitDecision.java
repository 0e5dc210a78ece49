package dev.relayguard.limit;

import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * The answer of a {@link LimiterStore}: admitted with a ticket, refused by a limit, or the store failed. Immutable.
 *
 * <p>A refusal carries its retry delay either as a fixed number of milliseconds ({@link #refused}, e.g. the
 * Redis store's, computed with Redis's clock) or as the instant the charge fits, on the store's clock
 * ({@link #refusedUntil}, the memory store's): the delay is then measured from when it is read, so that one
 * refusal object can answer every refused attempt until that instant moves (the memory store then allocates
 * nothing per refusal).
 */
public final class LimitDecision {
    public enum Kind {
        ADMITTED,
        REFUSED,
        /** The store could not answer in time; the caller applies its fail-open / fail-closed policy. */
        STORE_FAILED
    }

    // No kind field: the kind follows from limit (refused) and failure (store failed), so an admission, the object
    // made per admitted decision, is 40 bytes (issue 17: bytes per decision).
    private final Ticket ticket;
    /** Non-null exactly for a refusal. */
    private final Limit limit;
    private final long retryMillis;
    private final boolean never;
    /** Non-null exactly for a store failure. */
    private final String failure;
    /** Null: {@code retryMillis} is the delay; else it is the instant on this clock. */
    private final LongSupplier clock;

    private LimitDecision(Kind kind, Ticket ticket, Limit limit, long retryAfterMillis, boolean never, String failure,
                          LongSupplier clock) {
        if ((kind == Kind.REFUSED) != (limit != null) || (kind == Kind.STORE_FAILED) != (failure != null)) {
            throw new IllegalStateException("a refusal names its limit, a store failure its failure, nothing else does");
        }
        this.ticket = ticket;
        this.limit = limit;
        this.retryMillis = retryAfterMillis;
        this.never = never;
        this.failure = failure;
        this.clock = clock;
    }

    public static LimitDecision admitted(Ticket ticket) {
        return new LimitDecision(Kind.ADMITTED, Objects.requireNonNull(ticket), null, 0, false, null, null);
    }

    /**
     * @param retryAfterMillis when enough of what was counted leaves the window for this charge to fit
     * @param never            true when the charge is larger than the limit itself: retrying cannot help
     */
    public static LimitDecision refused(Limit limit, long retryAfterMillis, boolean never) {
        return new LimitDecision(Kind.REFUSED, Ticket.NONE, Objects.requireNonNull(limit), Math.max(0, retryAfterMillis), never, null, null);
    }

    /**
     * A refusal by {@code limit} until the instant {@code retryAtMillis} of {@code clock} (epoch milliseconds when
     * the clock is the system's): {@link #retryAfterMillis()} is {@code retryAtMillis} minus the clock's time when
     * it is read, at least 0. The charge is not larger than the limit ({@link #never()} is false).
     */
    public static LimitDecision refusedUntil(Limit limit, long retryAtMillis, LongSupplier clock) {
        return new LimitDecision(Kind.REFUSED, Ticket.NONE, Objects.requireNonNull(limit), retryAtMillis, false, null,
            Objects.requireNonNull(clock));
    }

    /** True when this is {@code refusedUntil(limit, retryAtMillis, clock)} with these very limit and clock. */
    boolean refusesUntil(Limit limit, long retryAtMillis, LongSupplier clock) {
        return this.limit == limit && this.clock == clock && this.retryMillis == retryAtMillis;
    }

    /** The instant of a {@link #refusedUntil} refusal on its clock; else {@link Long#MIN_VALUE} (no instant). */
    long retryAtMillis() {
        return clock == null ? Long.MIN_VALUE : retryMillis;
    }

    public static LimitDecision storeFailed(String failure) {
        return new LimitDecision(Kind.STORE_FAILED, Ticket.NONE, null, 0, false, failure == null ? "unknown failure" : failure, null);
    }

    public Kind kind() {
        return limit != null ? Kind.REFUSED : failure != null ? Kind.STORE_FAILED : Kind.ADMITTED;
    }

    public boolean isAdmitted() {
        return limit == null && failure == null;
    }

    public Ticket ticket() {
        return ticket;
    }

    /** The limit that refused (null unless refused). */
    public Limit limit() {
        return limit;
    }

    /** Milliseconds until the refused charge fits (0 unless refused); see the class comment for when it is measured from. */
    public long retryAfterMillis() {
        return clock == null ? retryMillis : Math.max(0, retryMillis - clock.getAsLong());
    }

    /** Whole seconds to wait, rounded up, at least 1. */
    public long retryAfterSeconds() {
        return Math.max(1, (retryAfterMillis() + 999) / 1000);
    }

    public boolean never() {
        return never;
    }

    public String failure() {
        return failure;
    }

    @Override
    public String toString() {
        switch (kind()) {
            case ADMITTED:
                return "admitted";
            case REFUSED:
                return "refused by " + limit + (never ? " (never fits)" : ", retry in " + retryAfterSeconds() + " s");
            default:
                return "store failed: " + failure;
        }
    }
}
