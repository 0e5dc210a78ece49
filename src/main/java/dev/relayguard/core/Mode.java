package dev.relayguard.core;

/** How a rule acts on what it would refuse. */
public enum Mode implements ConfigName {
    /** Refuse permanently (5xx). The default. */
    REJECT,
    /** Refuse temporarily (4xx, same enhanced status class): a safe roll-out, senders retry. */
    DEFER,
    /** Accept, but log and count what would have been refused. */
    MONITOR,
    /** Do not check at all (not allowed for the relay rule). */
    OFF;

    /** @throws IllegalArgumentException naming the accepted words */
    public static Mode parse(String text) {
        return ConfigName.parse(Mode.class, text);
    }
}
