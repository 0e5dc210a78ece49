package dev.relayguard.core;

/**
 * Per-connection error limit: after {@code maxRefusedRecipients} refused recipients the next refusal closes the
 * connection with {@code 421 4.7.0} ({@link #escalate}). 0 switches it off.
 *
 * <p>There is no tarpit (delaying each refusal) any more: James 3.8.1 answers a command on the thread that runs it,
 * one of the listener's handler threads (16 by default, each serving a share of the connections), so a delayed
 * answer stalled every connection on that thread. The policy file refuses {@code <tarpitAfter>} other than 0.
 */
public final class SessionLimits {
    public static final SessionLimits DEFAULT = new SessionLimits(5);

    private final int maxRefusedRecipients;

    public SessionLimits(int maxRefusedRecipients) {
        if (maxRefusedRecipients < 0) {
            throw new IllegalArgumentException("limits must not be negative");
        }
        this.maxRefusedRecipients = maxRefusedRecipients;
    }

    public int maxRefusedRecipients() {
        return maxRefusedRecipients;
    }

    /** True when this refusal (1 for the first of the connection) must close the connection. */
    public boolean disconnects(int refusalNumber) {
        return maxRefusedRecipients > 0 && refusalNumber > maxRefusedRecipients;
    }

    /**
     * The answer to this refused recipient: {@code refused} itself, or, once the connection has had more than
     * {@code maxRefusedRecipients} refusals, {@code 421 4.7.0 Too many refused recipients (N), closing connection}
     * (reason {@link Reason#SESSION_TOO_MANY_REFUSALS}), after which the connection is closed.
     *
     * @param refusalNumber 1 for the first refusal of the connection
     */
    public Verdict escalate(Verdict refused, int refusalNumber) {
        if (!disconnects(refusalNumber)) {
            return refused;
        }
        return Verdict.of(Reason.SESSION_TOO_MANY_REFUSALS,
            "Too many refused recipients (" + (refusalNumber - 1) + "), closing connection");
    }

    @Override
    public String toString() {
        return "{maxRefusedRecipients=" + maxRefusedRecipients + "}";
    }
}
