package dev.relayguard.probe;

import java.util.Objects;

/**
 * One open-relay test envelope: a numbered {@code MAIL FROM}/{@code RCPT TO} pair. The addresses are
 * stored as they appear between the angle brackets ({@code ""} is the null sender), so
 * {@link #mailFromCommand()} and {@link #rcptToCommand()} give the exact SMTP commands the probe sends.
 * Built by {@link OpenRelayProbe#cases(String, String, String)}; immutable.
 */
public final class ProbeCase {
    private final int number;
    private final String mailFrom;
    private final String rcptTo;
    private final String description;

    public ProbeCase(int number, String mailFrom, String rcptTo, String description) {
        this.number = number;
        this.mailFrom = Objects.requireNonNull(mailFrom);
        this.rcptTo = Objects.requireNonNull(rcptTo);
        this.description = Objects.requireNonNull(description);
    }

    /** 1-based case number, as printed in {@code [NN]}. */
    public int number() {
        return number;
    }

    /** The reverse path without angle brackets; empty for the null sender {@code <>}. */
    public String mailFrom() {
        return mailFrom;
    }

    /** The forward path without angle brackets, e.g. {@code relaytest%remote.example@[192.0.2.1]}. */
    public String rcptTo() {
        return rcptTo;
    }

    /** A short human description of the trick the case tries. */
    public String description() {
        return description;
    }

    public String mailFromCommand() {
        return "MAIL FROM:<" + mailFrom + ">";
    }

    public String rcptToCommand() {
        return "RCPT TO:<" + rcptTo + ">";
    }

    @Override
    public boolean equals(Object other) {
        if (this == other) {
            return true;
        }
        if (!(other instanceof ProbeCase)) {
            return false;
        }
        ProbeCase that = (ProbeCase) other;
        return number == that.number && mailFrom.equals(that.mailFrom) && rcptTo.equals(that.rcptTo)
                && description.equals(that.description);
    }

    @Override
    public int hashCode() {
        return Objects.hash(number, mailFrom, rcptTo, description);
    }

    @Override
    public String toString() {
        return String.format("[%02d] %s %s (%s)", number, mailFromCommand(), rcptToCommand(), description);
    }
}
