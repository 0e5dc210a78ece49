package dev.relayguard.core;

/** What happens to the command a verdict is about. */
public enum Outcome {
    /** Let it through (the SMTP hook answers DECLINED so James's own checks still run). */
    ALLOWED("accepted"),
    /** Permanent refusal: 5xx. */
    REFUSED("refused"),
    /** Temporary refusal: 4xx, the client retries later. */
    DEFERRED("deferred"),
    /** A rule in monitor mode would have refused: accepted, but logged and counted. */
    MONITORED("monitored");

    private final String metricWord;

    Outcome(String metricWord) {
        this.metricWord = metricWord;
    }

    /** The word this outcome contributes to metric names ({@code relayguard.<word>.<reason>}). */
    public String metricWord() {
        return metricWord;
    }
}
