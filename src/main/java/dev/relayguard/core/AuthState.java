package dev.relayguard.core;

import java.time.Instant;
import java.util.List;

/**
 * Where RelayGuard keeps what it learns from SMTP logins, under {@link AuthLimits}: failed logins per client and per
 * account, the AUTH bans of clients, the throttles of accounts, and each account's known clients (those that logged
 * in to it successfully). {@link MemoryAuthState} keeps it on one node; {@code store.RedisAuthState} shares it
 * across a cluster when the rate-limit store is Redis.
 *
 * <p>Keys: a client is its {@link ProbeBans#keyOf} (IPv4 address or IPv6 /64); an account is the user name as tried,
 * lower-cased and cut at 255 characters ({@code LoginLimits.accountOf}).
 *
 * <p><b>Errors.</b> No method throws for a store that cannot answer (Redis down, a timeout): the reads answer
 * "nothing known" (not banned, not throttled, not known), the writes count nothing, and {@link #healthy()} turns
 * false until the store answers again. AUTH then falls back to James's password check alone: a failing store never
 * locks users out.
 */
public interface AuthState extends AutoCloseable {

    /** A client banned from AUTH, or an account throttled: its key and until when (epoch millis). */
    final class Block {
        private final String key;
        private final long untilMillis;

        public Block(String key, long untilMillis) {
            this.key = key;
            this.untilMillis = untilMillis;
        }

        public String key() {
            return key;
        }

        public long untilMillis() {
            return untilMillis;
        }

        @Override
        public String toString() {
            return key + " until " + Instant.ofEpochMilli(untilMillis);
        }
    }

    /** What one failed login started: a ban of its client and/or a throttle of its account (each null if not). */
    final class Failure {
        public static final Failure NOTHING = new Failure(null, null);

        private final Block banStarted;
        private final Block throttleStarted;

        public Failure(Block banStarted, Block throttleStarted) {
            this.banStarted = banStarted;
            this.throttleStarted = throttleStarted;
        }

        /** The ban this failure started, or null. */
        public Block banStarted() {
            return banStarted;
        }

        /** The throttle this failure started, or null. */
        public Block throttleStarted() {
            return throttleStarted;
        }
    }

    /** What a successful login learnt: whether its client was known for the account, and the account's recent failures. */
    final class Success {
        public static final Success UNKNOWN = new Success(true, 0);

        private final boolean clientWasKnown;
        private final int recentFailures;

        public Success(boolean clientWasKnown, int recentFailures) {
            this.clientWasKnown = clientWasKnown;
            this.recentFailures = recentFailures;
        }

        /** True when the client had logged in to this account successfully before (within rememberFor). */
        public boolean clientWasKnown() {
            return clientWasKnown;
        }

        /**
         * Failed logins against the account within {@code accountThrottle.within} before this success (counted up to
         * {@link AuthLimits#accountHistory()}).
         */
        public int recentFailures() {
            return recentFailures;
        }
    }

    /** What blocks one login attempt before its password is checked: the client's ban, or the account's throttle. */
    final class Attempt {
        public static final Attempt FREE = new Attempt(null, null);

        private final Block ban;
        private final Block throttle;

        public Attempt(Block ban, Block throttle) {
            this.ban = ban;
            this.throttle = throttle;
        }

        /** The client's AUTH ban, or null. */
        public Block ban() {
            return ban;
        }

        /** The account's throttle when the client is not known for the account, or null. */
        public Block throttle() {
            return throttle;
        }
    }

    /** New limits (a policy reload); what is tracked is kept. */
    void reconfigure(AuthLimits limits);

    /** The AUTH ban of a client, or null. */
    Block banOf(String clientKey);

    /** The throttle of an account, or null. */
    Block throttleOf(String account);

    /** True when the client logged in to the account successfully within {@code knownClients.rememberFor}. */
    boolean isKnownClient(String account, String clientKey);

    /**
     * Before a password check, in one store call where the store can: the client's ban, and the account's throttle
     * unless the client is known for the account ({@link Attempt#FREE} when neither blocks).
     */
    default Attempt checkAttempt(String clientKey, String account) {
        Block ban = banOf(clientKey);
        if (ban != null) {
            return new Attempt(ban, null);
        }
        Block throttle = throttleOf(account);
        return throttle == null || isKnownClient(account, clientKey) ? Attempt.FREE : new Attempt(null, throttle);
    }

    /**
     * Counts one failed login of {@code clientKey} against {@code account}, towards the client's ban and the
     * account's throttle; a client already banned, or an account already throttled, counts nothing more there.
     */
    Failure recordFailure(String clientKey, String account);

    /** Remembers one successful login of {@code clientKey} to {@code account} (the most recent clients are kept). */
    Success recordSuccess(String account, String clientKey);

    /** The AUTH bans in force. */
    List<Block> bans();

    /** The account throttles in force. */
    List<Block> throttles();

    /** Lifts a client's AUTH ban and forgets its failures; true when it was banned. */
    boolean liftBan(String clientKey);

    /** Lifts an account's throttle and forgets its failures; true when it was throttled. */
    boolean liftThrottle(String account);

    /** Clients tracked (failing or banned); -1 when the store cannot tell cheaply. */
    long trackedClients();

    /**
     * Accounts tracked: the larger of the two account tables (failing or throttled; with known clients), each bounded
     * by {@code maxTrackedAccounts}, so that the gauge shows how near the bound the state is; -1 when the store cannot
     * tell cheaply.
     */
    long trackedAccounts();

    /** False while the store cannot answer (then nothing is counted and nobody is blocked). */
    default boolean healthy() {
        return true;
    }

    /** "memory" or "redis". */
    String kind();

    @Override
    default void close() {
    }
}
