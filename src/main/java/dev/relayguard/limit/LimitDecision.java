package dev.relayguard.limit;

import java.util.Objects;

/** The answer of a {@link LimiterStore}: admitted with a ticket, refused by a limit, or the store failed. */
public final class LimitDecision {
    public enum Kind {
        ADMITTED,
        REFUSED,
        /** The store could not answer in time; the caller applies its fail-open / fail-closed policy. */
        STORE_FAILED
    }

    private final Kind kind;
    private final Ticket ticket;
    private final Limit limit;
    private final long retryAfterMillis;
    private final boolean never;
    private final String failure;

    private LimitDecision(Kind kind, Ticket ticket, Limit limit, long retryAfterMillis, boolean never, String failure) {
        this.kind = kind;
        this.ticket = ticket;
        this.limit = limit;
        this.retryAfterMillis = retryAfterMillis;
        this.never = never;
        this.failure = failure;
    }

    public static LimitDecision admitted(Ticket ticket) {
        return new LimitDecision(Kind.ADMITTED, Objects.requireNonNull(ticket), null, 0, false, null);
    }

    /**
     * @param retryAfterMillis when enough of what was counted leaves the window for this charge to fit
     * @param never            true when the charge is larger than the limit itself: retrying cannot help
     */
    public static LimitDecision refused(Limit limit, long retryAfterMillis, boolean never) {
        return new LimitDecision(Kind.REFUSED, Ticket.NONE, Objects.requireNonNull(limit), Math.max(0, retryAfterMillis), never, null);
    }

    public static LimitDecision storeFailed(String failure) {
        return new LimitDecision(Kind.STORE_FAILED, Ticket.NONE, null, 0, false, failure);
    }

    public Kind kind() {
        return kind;
    }

    public boolean isAdmitted() {
        return kind == Kind.ADMITTED;
    }

    public Ticket ticket() {
        return ticket;
    }

    /** The limit that refused (null unless refused). */
    public Limit limit() {
        return limit;
    }

    public long retryAfterMillis() {
        return retryAfterMillis;
    }

    /** Whole seconds to wait, rounded up, at least 1. */
    public long retryAfterSeconds() {
        return Math.max(1, (retryAfterMillis + 999) / 1000);
    }

    public boolean never() {
        return never;
    }

    public String failure() {
        return failure;
    }

    @Override
    public String toString() {
        switch (kind) {
            case ADMITTED:
                return "admitted";
            case REFUSED:
                return "refused by " + limit + (never ? " (never fits)" : ", retry in " + retryAfterSeconds() + " s");
            default:
                return "store failed: " + failure;
        }
    }
}
