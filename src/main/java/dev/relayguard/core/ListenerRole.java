package dev.relayguard.core;

import java.util.Locale;

/** What an SMTP listener is for, chosen per {@code <handler>} in smtpserver.xml. */
public enum ListenerRole {
    /** Other servers deliver here: strangers may send to local and relay domains only. */
    MX,
    /** Users send from here: every transaction needs AUTH. */
    SUBMISSION;

    public static ListenerRole parse(String text) {
        try {
            return ListenerRole.valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("expected mx or submission");
        }
    }
}
