package dev.relayguard.core;

import java.time.Duration;

/**
 * The limits on failed SMTP logins ({@code <authLimits>} in relayguard.xml), validated and immutable:
 * <ul>
 *   <li>per connection: the {@code maxFailuresPerConnection}-th refused AUTH (a failed login, or a refusal before any
 *       password check) is answered {@code 421 4.7.0} and the connection is closed;</li>
 *   <li>per client IP (IPv6: its /64), every account: {@code clientBan.failures} failed logins within
 *       {@code clientBan.within} ban the client from AUTH for {@code clientBan.banFor} ({@code 454 4.7.0} at AUTH);</li>
 *   <li>per account, every client: {@code accountThrottle.failures} failed logins within {@code accountThrottle.within}
 *       throttle the account for {@code accountThrottle.throttleFor}: while throttled, AUTH for it from a client that
 *       never logged in to it successfully is answered {@code 454 4.7.0} before any password check; its known clients
 *       (at most {@code knownClients.perAccount}, each remembered for {@code knownClients.rememberFor} after its last
 *       successful login) are never throttled;</li>
 *   <li>a successful login from a client not known for the account after at least
 *       {@code successAfterFailures.failures} failures against it (within {@code accountThrottle.within}) is counted and
 *       audited, and with a {@code successAfterFailures.suspendFor} above 0 the account is suspended from sending for
 *       that long.</li>
 * </ul>
 * A count of 0 switches its rule off. State is bounded: at most {@code maxTrackedClients} clients and
 * {@code maxTrackedAccounts} accounts (the least recently active forgotten first).
 */
public final class AuthLimits {
    /** The reason of the sending suspension a suspicious login starts (the MAIL refusal names it). */
    public static final String SUSPENSION_REASON = "login from an unknown client after failed logins";
    public static final AuthLimits DEFAULT = new AuthLimits(3,
        new Rule(10, Duration.ofMinutes(10), Duration.ofHours(1)),
        new Rule(5, Duration.ofMinutes(15), Duration.ofMinutes(15)),
        10, Duration.ofDays(30), 3, Duration.ZERO, 100_000, 100_000);

    /** "{@code failures} within {@code within} block for {@code blockFor}"; {@code failures == 0}: off. */
    public static final class Rule {
        private final int failures;
        private final Duration within;
        private final Duration blockFor;

        public Rule(int failures, Duration within, Duration blockFor) {
            if (failures < 0 || within.isNegative() || within.isZero() || blockFor.isNegative()) {
                throw new IllegalArgumentException("failures >= 0, within > 0, blocked for >= 0");
            }
            this.failures = failures;
            this.within = within;
            this.blockFor = blockFor;
        }

        public int failures() {
            return failures;
        }

        public Duration within() {
            return within;
        }

        public Duration blockFor() {
            return blockFor;
        }

        public boolean enabled() {
            return failures > 0;
        }

        @Override
        public String toString() {
            return failures == 0 ? "{off}" : "{failures=" + failures + ", within=" + within + ", for=" + blockFor + "}";
        }
    }

    private final int maxFailuresPerConnection;
    private final Rule clientBan;
    private final Rule accountThrottle;
    private final int knownClientsPerAccount;
    private final Duration rememberKnownClientsFor;
    private final int successAfterFailures;
    private final Duration suspendAfterSuspiciousSuccess;
    private final int maxTrackedClients;
    private final int maxTrackedAccounts;

    /**
     * @throws IllegalArgumentException for a negative count or duration, a zero bound, or
     *         {@code knownClientsPerAccount < 1}
     */
    public AuthLimits(int maxFailuresPerConnection, Rule clientBan, Rule accountThrottle, int knownClientsPerAccount,
                      Duration rememberKnownClientsFor, int successAfterFailures, Duration suspendAfterSuspiciousSuccess,
                      int maxTrackedClients, int maxTrackedAccounts) {
        if (maxFailuresPerConnection < 0 || successAfterFailures < 0 || knownClientsPerAccount < 1
                || maxTrackedClients < 1 || maxTrackedAccounts < 1 || rememberKnownClientsFor.isNegative()
                || rememberKnownClientsFor.isZero() || suspendAfterSuspiciousSuccess.isNegative()) {
            throw new IllegalArgumentException("counts >= 0, bounds >= 1, rememberFor > 0, suspendFor >= 0");
        }
        this.maxFailuresPerConnection = maxFailuresPerConnection;
        this.clientBan = clientBan;
        this.accountThrottle = accountThrottle;
        this.knownClientsPerAccount = knownClientsPerAccount;
        this.rememberKnownClientsFor = rememberKnownClientsFor;
        this.successAfterFailures = successAfterFailures;
        this.suspendAfterSuspiciousSuccess = suspendAfterSuspiciousSuccess;
        this.maxTrackedClients = maxTrackedClients;
        this.maxTrackedAccounts = maxTrackedAccounts;
    }

    /** The refused AUTH in one connection that closes it ({@code 421 4.7.0}); 0 = never. */
    public int maxFailuresPerConnection() {
        return maxFailuresPerConnection;
    }

    /** Per client IP (IPv6 /64), over every account: failures within a window ban the client from AUTH. */
    public Rule clientBan() {
        return clientBan;
    }

    /** Per account, over every client: failures within a window throttle the account for clients it does not know. */
    public Rule accountThrottle() {
        return accountThrottle;
    }

    /** How many clients are remembered per account as having logged in successfully (the most recent kept). */
    public int knownClientsPerAccount() {
        return knownClientsPerAccount;
    }

    /** How long a client stays known after its last successful login to an account. */
    public Duration rememberKnownClientsFor() {
        return rememberKnownClientsFor;
    }

    /** A login from an unknown client after this many recent failures against the account is suspicious; 0 = off. */
    public int successAfterFailures() {
        return successAfterFailures;
    }

    /** How long a suspicious login suspends the account from sending; zero = not suspended (only counted and logged). */
    public Duration suspendAfterSuspiciousSuccess() {
        return suspendAfterSuspiciousSuccess;
    }

    public int maxTrackedClients() {
        return maxTrackedClients;
    }

    public int maxTrackedAccounts() {
        return maxTrackedAccounts;
    }

    /** How many recent failures an account's history must hold to answer both the throttle and the signal. */
    public int accountHistory() {
        return Math.max(accountThrottle.failures(), successAfterFailures);
    }

    /** As the reload diff and the policy summary show it. */
    @Override
    public String toString() {
        return "{maxFailuresPerConnection=" + maxFailuresPerConnection + ", clientBan=" + clientBan
            + ", accountThrottle=" + accountThrottle + ", knownClients={perAccount=" + knownClientsPerAccount
            + ", rememberFor=" + rememberKnownClientsFor + "}, successAfterFailures={failures=" + successAfterFailures
            + ", suspendFor=" + suspendAfterSuspiciousSuccess + "}, maxTrackedClients=" + maxTrackedClients
            + ", maxTrackedAccounts=" + maxTrackedAccounts + "}";
    }
}
