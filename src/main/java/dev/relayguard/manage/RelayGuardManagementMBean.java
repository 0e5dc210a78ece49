package dev.relayguard.manage;

/**
 * RelayGuard's management bean, {@value RelayGuardManagement#OBJECT_NAME}, reachable through James's JMX
 * connector with James's JMX credentials.
 */
public interface RelayGuardManagementMBean {

    /** The effective policy, one line. */
    String policySummary();

    /** The client IPs (IPv6: /64 prefixes) currently banned for relay probing, with the end of each ban. */
    String[] bans();

    /**
     * Lifts the ban of a client IP (for IPv6, any address of the /64) and forgets its refusals.
     *
     * @return true when a ban was lifted
     */
    boolean lift(String ip);

    /** How many client IPs the probe-ban tracker holds (bounded by probeBans.maxTrackedIps). */
    int getTrackedIps();
}
