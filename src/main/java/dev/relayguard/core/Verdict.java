package dev.relayguard.core;

import java.util.Objects;

/**
 * The answer of the decision core: an outcome, the reason, and for refusals the exact SMTP reply
 * ({@code 550 5.7.1 Relaying denied ...}). Adapters turn it into a HookResult or a processor change.
 */
public final class Verdict {
    private final Outcome outcome;
    private final Reason reason;
    private final String replyCode;
    private final String enhancedStatus;
    private final String text;

    private Verdict(Outcome outcome, Reason reason, String replyCode, String enhancedStatus, String text) {
        this.outcome = outcome;
        this.reason = reason;
        this.replyCode = replyCode;
        this.enhancedStatus = enhancedStatus;
        this.text = text;
    }

    public static Verdict allow(Reason reason) {
        return new Verdict(Outcome.ALLOWED, reason, null, null, null);
    }

    /** A permanent refusal, e.g. {@code refuse(RELAY_UNAUTHENTICATED, "550", "5.7.1", "Relaying denied")}. */
    public static Verdict refuse(Reason reason, String replyCode, String enhancedStatus, String text) {
        if (!replyCode.startsWith("5") || !enhancedStatus.startsWith("5.")) {
            throw new IllegalArgumentException("a refusal needs a 5xx reply and a 5.x.x status");
        }
        return new Verdict(Outcome.REFUSED, reason, replyCode, enhancedStatus, Objects.requireNonNull(text));
    }

    /** A temporary refusal, e.g. {@code defer(LOCAL_DOMAIN_LOOKUP_FAILED, "451", "4.3.0", "...")}. */
    public static Verdict defer(Reason reason, String replyCode, String enhancedStatus, String text) {
        if (!replyCode.startsWith("4") || !enhancedStatus.startsWith("4.")) {
            throw new IllegalArgumentException("a deferral needs a 4xx reply and a 4.x.x status");
        }
        return new Verdict(Outcome.DEFERRED, reason, replyCode, enhancedStatus, Objects.requireNonNull(text));
    }

    public boolean isAllowed() {
        return outcome == Outcome.ALLOWED;
    }

    public Outcome outcome() {
        return outcome;
    }

    public Reason reason() {
        return reason;
    }

    /** The three-digit SMTP code, e.g. {@code 550}; null when allowed. */
    public String replyCode() {
        return replyCode;
    }

    /** The RFC 3463 enhanced status, e.g. {@code 5.7.1}; null when allowed. */
    public String enhancedStatus() {
        return enhancedStatus;
    }

    /** The human text after the enhanced status; null when allowed. */
    public String text() {
        return text;
    }

    /** The full reply line as the client sees it, e.g. {@code 550 5.7.1 Relaying denied ...}. */
    public String replyLine() {
        return isAllowed() ? "" : replyCode + " " + enhancedStatus + " " + text;
    }

    @Override
    public String toString() {
        return isAllowed() ? "allowed(" + reason.code() + ")" : outcome.metricWord() + "(" + reason.code() + "): " + replyLine();
    }
}
