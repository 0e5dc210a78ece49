package dev.relayguard.core;

import java.util.Locale;

/** How a rule acts on what it would refuse. */
public enum Mode {
    /** Refuse permanently (5xx). The default. */
    REJECT,
    /** Refuse temporarily (4xx, same enhanced status class): a safe roll-out, senders retry. */
    DEFER,
    /** Accept, but log and count what would have been refused. */
    MONITOR,
    /** Do not check at all (not allowed for the relay rule). */
    OFF;

    public static Mode parse(String text) {
        try {
            return Mode.valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("expected one of reject, defer, monitor, off");
        }
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
