package dev.relayguard.core;

/** What an SMTP listener is for, chosen per {@code <handler>} in smtpserver.xml. */
public enum ListenerRole implements ConfigName {
    /** Other servers deliver here: strangers may send to local and relay domains only. */
    MX,
    /** Users send from here: every transaction needs AUTH. */
    SUBMISSION;

    /** @throws IllegalArgumentException naming the accepted words */
    public static ListenerRole parse(String text) {
        return ConfigName.parse(ListenerRole.class, text);
    }
}
