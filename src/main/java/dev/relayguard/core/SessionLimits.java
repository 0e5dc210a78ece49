package dev.relayguard.core;

import java.time.Duration;

/**
 * Per-connection error limits: after {@code maxRefusedRecipients} refused recipients the next refusal closes
 * the connection with {@code 421 4.7.0}; from the {@code tarpitAfter}-th refusal on, each refusal waits
 * {@code tarpitDelay} first. 0 switches either off.
 */
public final class SessionLimits {
    public static final SessionLimits DEFAULT = new SessionLimits(5, 0, Duration.ofSeconds(1));

    private final int maxRefusedRecipients;
    private final int tarpitAfter;
    private final Duration tarpitDelay;

    public SessionLimits(int maxRefusedRecipients, int tarpitAfter, Duration tarpitDelay) {
        if (maxRefusedRecipients < 0 || tarpitAfter < 0 || tarpitDelay.isNegative()) {
            throw new IllegalArgumentException("limits must not be negative");
        }
        this.maxRefusedRecipients = maxRefusedRecipients;
        this.tarpitAfter = tarpitAfter;
        this.tarpitDelay = tarpitDelay;
    }

    public int maxRefusedRecipients() {
        return maxRefusedRecipients;
    }

    /** True when this refusal (1 for the first of the connection) must close the connection. */
    public boolean disconnects(int refusalNumber) {
        return maxRefusedRecipients > 0 && refusalNumber > maxRefusedRecipients;
    }

    /** How long to wait before answering this refusal (zero when the tarpit is off or not reached). */
    public Duration delayBefore(int refusalNumber) {
        return tarpitAfter > 0 && refusalNumber >= tarpitAfter ? tarpitDelay : Duration.ZERO;
    }

    public int tarpitAfter() {
        return tarpitAfter;
    }

    public Duration tarpitDelay() {
        return tarpitDelay;
    }

    @Override
    public String toString() {
        return "{maxRefusedRecipients=" + maxRefusedRecipients + ", tarpitAfter=" + tarpitAfter + ", tarpitDelay=" + tarpitDelay + "}";
    }
}
