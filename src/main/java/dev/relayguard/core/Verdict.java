package dev.relayguard.core;

import java.util.Objects;

/**
 * The answer of the decision core: an outcome, the reason, and for refusals the exact SMTP reply
 * ({@code 550 5.7.1 Relaying denied ...}). Adapters turn it into a HookResult or a processor change.
 * A {@link Outcome#MONITORED} verdict passes, but keeps the reply it would have sent, for the audit log.
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

    /** The reason's own reply ({@link Reason#replyCode()}): refused for 5xx, deferred for 4xx. */
    public static Verdict of(Reason reason, String text) {
        if (!reason.isRefusal()) {
            throw new IllegalArgumentException(reason + " does not refuse");
        }
        return reason.replyCode().startsWith("4")
            ? defer(reason, reason.replyCode(), reason.enhancedStatus(), text)
            : refuse(reason, reason.replyCode(), reason.enhancedStatus(), text);
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

    /**
     * This refusal as the given mode has it: {@code REJECT} unchanged; {@code DEFER} the 4xx twin
     * ({@code 550 5.7.1} → {@code 450 4.7.1}, {@code 553} → {@code 450}, {@code 530 5.7.0} → {@code 454 4.7.0});
     * {@code MONITOR} passes but remembers the reply; {@code OFF} allows.
     */
    public Verdict under(Mode mode) {
        if (outcome != Outcome.REFUSED) {
            return this;
        }
        switch (mode) {
            case REJECT:
                return this;
            case DEFER:
                return new Verdict(Outcome.DEFERRED, reason, temporaryTwin(replyCode), "4" + enhancedStatus.substring(1), text);
            case MONITOR:
                return new Verdict(Outcome.MONITORED, reason, replyCode, enhancedStatus, text);
            case OFF:
            default:
                return allow(reason);
        }
    }

    private static String temporaryTwin(String permanentCode) {
        switch (permanentCode) {
            case "530":
                return "454";
            case "552":
                return "452";
            case "554":
                return "451";
            default:
                return "450";
        }
    }

    /** True only for {@link Outcome#ALLOWED}. */
    public boolean isAllowed() {
        return outcome == Outcome.ALLOWED;
    }

    /** True when the command goes on: allowed, or refused only in monitor mode. */
    public boolean passes() {
        return outcome == Outcome.ALLOWED || outcome == Outcome.MONITORED;
    }

    /** True for verdicts that are counted and logged: refused, deferred and monitored. */
    public boolean isRecorded() {
        return outcome != Outcome.ALLOWED;
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

    /** The full reply line as the client sees it (or would have), e.g. {@code 550 5.7.1 Relaying denied ...}. */
    public String replyLine() {
        return replyCode == null ? "" : replyCode + " " + enhancedStatus + " " + text;
    }

    @Override
    public String toString() {
        return isAllowed() ? "allowed(" + reason.code() + ")" : outcome.metricWord() + "(" + reason.code() + "): " + replyLine();
    }
}
