package dev.relayguard;

import org.apache.mailet.AttributeName;

/**
 * The mail attributes by which RelayGuard's SMTP handler tells its mail pipeline (the mailets) what it already did
 * at SMTP time, so that the pipeline does not do it twice. Both hold the boolean {@code true} when set.
 */
public final class MailAttributes {
    /**
     * Set on mail whose rate limits the SMTP handler decided (charged to its sender, or nobody to charge), so that
     * {@code ChargeSenderLimits} does not charge it (again).
     */
    public static final AttributeName RATE_CHARGED = AttributeName.of("dev.relayguard.rate-charged");
    /**
     * Set on mail whose sender and From:/Sender: headers the SMTP handler judged (for an authenticated session;
     * nothing to judge for a stranger), so that {@code IsSenderNotOwned} does not judge (and count) it again.
     */
    public static final AttributeName SENDER_JUDGED = AttributeName.of("dev.relayguard.sender-judged");

    private MailAttributes() {
    }
}
