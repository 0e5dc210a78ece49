package dev.relayguard.manage;

/**
 * RelayGuard's management bean, {@value RelayGuardManagement#OBJECT_NAME}, reachable through James's JMX
 * connector with James's JMX credentials. Users are written as they authenticate ({@code alice@example.com});
 * surrounding spaces are ignored and case does not matter. A missing, blank or over-long argument (user name over
 * 255 characters, reason over 500) or one holding control characters is refused with an
 * {@code IllegalArgumentException} saying which argument and why.
 */
public interface RelayGuardManagementMBean {

    /** The effective policy: trusted networks, relay domains, rules and modes, limits, AUTH limits, one setting per line. */
    String[] policySummary();

    /** Per limit and window of a user: used / limit, and when full the retry delay. */
    String[] usage(String user);

    /** Forgets what a user's rate limits counted. */
    void reset(String user);

    /** Suspends a user from sending (MAIL answered per the suspendedSender rule) until resumed; a reason is required (one line, at most 500 characters). */
    void suspend(String user, String reason);

    /**
     * Suspends a user from sending for {@code duration} (a James duration: {@code 90m}, {@code 2h}, {@code 7d}; at most
     * 366d), replacing any suspension it has; MAIL is answered {@code Account suspended from sending by the postmaster,
     * retry in N s} until then, or until resumed.
     */
    void suspendFor(String user, String duration, String reason);

    /** Lifts a suspension, manual or automatic; true when the user was suspended. */
    boolean resume(String user);

    /**
     * The suspended users, since when, until when and why:
     * {@code user:alice@example.com since 2026-11-30T07:01:00.123Z until resumed (operator: leaked)}.
     */
    String[] suspended();

    /**
     * The users and client IPs refused or deferred most in the last hour (refusals of every kind: relay,
     * routing, sender, rate), most first; n from 1 to 1000.
     */
    String[] topRefused(int n);

    /**
     * The same over the last {@code since} only: a duration ({@code 15m}, {@code 1h}, {@code PT30M}; a bare number is
     * seconds) above 0 and at most 1h (only the last hour is kept), counted in whole minutes (rounded up).
     */
    String[] topRefusedSince(int n, String since);

    /**
     * The client IPs (IPv6: /64 prefixes) currently banned for relay probing, with the start and end of each ban:
     * {@code 192.0.2.7 since 2026-11-30T07:01:00.123Z until 2026-11-30T08:01:00.123Z (relay probing)}.
     */
    String[] bans();

    /** Lifts the ban of a client IP (for IPv6, any address of the /64); true when a ban was lifted. */
    boolean lift(String ip);

    /**
     * The client IPs (IPv6: /64 prefixes) banned from AUTH for failed logins ({@code <authLimits><clientBan>}: AUTH
     * answered {@code 454 4.7.0}), with the end of each ban: {@code 192.0.2.7 until 2026-11-29T23:10:00Z}.
     */
    String[] authBans();

    /**
     * The accounts throttled for failed logins ({@code <authLimits><accountThrottle>}: AUTH from a client the account
     * does not know answered {@code 454 4.7.0}), with the end of each throttle:
     * {@code alice@example.com until 2026-11-29T23:10:00Z}.
     */
    String[] authThrottles();

    /**
     * Lifts the AUTH ban of a client IP (for IPv6, any address of the /64) and forgets its failed logins; true when a
     * ban was lifted. Not an IP address: an {@code IllegalArgumentException}.
     */
    boolean liftAuthBan(String ip);

    /** Lifts the throttle of an account (user name, any case) and forgets its failed logins; true when it was throttled. */
    boolean liftAuthThrottle(String user);

    /**
     * Reads relayguard.xml again. A valid file is swapped in atomically, counters, bans and suspensions kept;
     * an invalid one is refused with the reason (as the operation's error) and the old policy stays.
     *
     * @return what changed, one line each
     */
    String[] reload();

    /** Every RelayGuard counter (outcome and reason, per path), "name=count". */
    String[] getCounts();

    /** "memory" or "redis". */
    String getStoreKind();

    /** False while the rate-limit store, the suspensions or the probe bans cannot be read (decisions follow onStoreFailure). */
    boolean isStoreHealthy();

    /** The last store failure, with its time ("" when none). */
    String getStoreLastError();

    /** Rate decisions taken without the store. */
    long getDegradedCount();

    /** How many client IPs the probe-ban tracker holds: those collecting refusals (at most probeBans.maxTrackedIps) plus those banned. */
    int getTrackedIps();

    /** How many client IPs (IPv6: /64 prefixes) are banned right now. */
    int getActiveBans();

    /** Active bans dropped early, since start, because more bans were active at once than the ban bound allows. */
    long getDroppedBans();

    /** How many keys the rate-limit store tracks (memory store; -1 for Redis). */
    long getTrackedKeys();
}
