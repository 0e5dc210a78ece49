package dev.relayguard.manage;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.LoginLimits;
import dev.relayguard.RelayGuard;
import dev.relayguard.SenderLimits;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.Client;
import dev.relayguard.core.Holds;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Reason;
import dev.relayguard.core.RefusalTally;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.SubjectKey;
import dev.relayguard.observe.AuditLine;
import dev.relayguard.observe.RefusalRecorder;

/**
 * What an operator can do to a running RelayGuard, whatever the door (the JMX bean {@link RelayGuardManagement},
 * later WebAdmin routes): read and reset a user's rate-limit use, suspend and resume users, list and lift probe
 * bans, list and lift the AUTH bans of clients and the throttles of accounts ({@code <authLimits>}), list who is
 * refused most, reload the policy. Every argument is checked and canonicalised by
 * {@link OperatorInput} (an {@link IllegalArgumentException} names the argument and the fault); every change is
 * written to the audit logger ({@value RefusalRecorder#AUDIT_LOGGER}), one escaped line each, ending with
 * {@code door=<door> by=<who>} (who: see {@link #by(String)}), policy reloads too, accepted or refused. Thread-safe.
 */
public final class Operations {
    private static final Logger AUDIT = LoggerFactory.getLogger(RefusalRecorder.AUDIT_LOGGER);

    private final RelayGuard guard;
    private final SenderLimits limits;
    private final String door;
    private final Supplier<String> actor;

    /** Operations whose audit lines name no door (the Java API). */
    public Operations(RelayGuard guard) {
        this(guard, null);
    }

    /**
     * Operations whose every audit line ends with {@code door=<door>} ({@code jmx}, {@code webadmin}): which way the
     * operator came in. Who came in is named per call through {@link #by(String)}.
     */
    public Operations(RelayGuard guard, String door) {
        this(guard, door, () -> null);
    }

    /**
     * Operations whose every audit line ends with {@code door=<door> by=<who>}, who being asked of {@code actor} at
     * each audited change (null: no {@code by}); for a door that learns who calls on the calling thread (WebAdmin).
     */
    public Operations(RelayGuard guard, String door, Supplier<String> actor) {
        this.guard = guard;
        this.limits = guard.senderLimits();
        this.door = door;
        this.actor = actor;
    }

    /**
     * The same operations, audited as made by {@code actor} ({@code by=<actor>}, escaped as every audit value): the
     * WebAdmin JWT login or client address, the JMX principal or client host. A light view: nothing is copied.
     *
     * @param actor who operates; null or blank: no {@code by}
     */
    public Operations by(String actor) {
        return new Operations(guard, door, () -> actor);
    }

    /** The door this object audits (null: none). */
    public String door() {
        return door;
    }

    /** The guard operated on. */
    public RelayGuard guard() {
        return guard;
    }

    private void audit(String line) {
        String who = actor.get();
        String end = who == null || who.isBlank() ? (door == null ? "" : " " + AuditLine.event("door", door))
            : " " + AuditLine.event("door", door, "by", who);
        AUDIT.info(line + end);
    }

    /**
     * Limits, use and retry delay of a user, one line per limit ({@code 5 messages per 1h: used 5 / 5, retry in
     * 37 s}). Read only: counts nothing.
     *
     * @throws IllegalArgumentException when the user name is missing, blank, too long or holds control characters
     * @throws IllegalStateException when the store cannot answer (Redis down)
     */
    public List<String> usage(String rawUser) {
        String user = OperatorInput.user(rawUser);
        List<Usage> usage = usageOf(user);
        if (usage.isEmpty()) {
            return List.of("no rate limits apply to " + user);
        }
        List<String> lines = new ArrayList<>();
        for (Usage one : usage) {
            lines.add(one.toString());
        }
        return lines;
    }

    /**
     * A user's use of each of its limits (empty: no rate limits apply). Read only: counts nothing.
     *
     * @throws IllegalArgumentException when the user name is missing, blank, too long or holds control characters
     * @throws IllegalStateException when the store cannot answer (Redis down)
     */
    public List<Usage> usageOf(String rawUser) {
        String user = OperatorInput.user(rawUser);
        Optional<RateLimitPolicy.Subject> subject = limits.rateSubject(Client.of(null, user));
        if (subject.isEmpty()) {
            return List.of();
        }
        List<Limit> all = subject.get().limits().all();
        Map<Limit, Long> used = limits.store().usage(subject.get().key(), all);
        List<Usage> usage = new ArrayList<>();
        for (Limit limit : all) {
            long count = used.getOrDefault(limit, 0L);
            long retry = 0;
            if (count >= limit.max()) {
                LimitDecision estimate = limits.store().estimate(subject.get().key(), List.of(new Charge(limit, 1)));
                retry = estimate.kind() == LimitDecision.Kind.REFUSED ? estimate.retryAfterSeconds() : 0;
            }
            usage.add(new Usage(limit, count, retry));
        }
        return usage;
    }

    /** One limit of a user: the limit, what it counted, and when the next unit is allowed (0: now). */
    public static final class Usage {
        private final Limit limit;
        private final long used;
        private final long retryAfterSeconds;

        Usage(Limit limit, long used, long retryAfterSeconds) {
            this.limit = limit;
            this.used = used;
            this.retryAfterSeconds = retryAfterSeconds;
        }

        public Limit limit() {
            return limit;
        }

        public long used() {
            return used;
        }

        public long retryAfterSeconds() {
            return retryAfterSeconds;
        }

        /** {@code 5 messages per 1h: used 5 / 5, retry in 37 s}. */
        @Override
        public String toString() {
            return limit + ": used " + used + " / " + limit.max() + (retryAfterSeconds > 0 ? ", retry in " + retryAfterSeconds + " s" : "");
        }
    }

    /**
     * Forgets what a user's limits counted.
     *
     * @throws IllegalArgumentException when the user name is missing, blank, too long or holds control characters
     * @throws IllegalStateException when the store cannot answer (Redis down)
     */
    public void resetUsage(String rawUser) {
        String user = OperatorInput.user(rawUser);
        Optional<RateLimitPolicy.Subject> subject = limits.rateSubject(Client.of(null, user));
        subject.ifPresent(limited -> limits.store().reset(limited.key()));
        audit(AuditLine.event("outcome", "reset", "reason", "operator", "subject", SubjectKey.user(user),
            "limited", subject.isPresent()));
    }

    /**
     * Suspends a user from sending until an operator resumes it.
     *
     * @throws IllegalArgumentException when the user name or the reason is missing, blank, too long (reason: over
     *     {@value OperatorInput#MAX_REASON} characters) or holds control characters
     * @throws IllegalStateException when the store of suspensions cannot record it (Redis down): nothing was suspended
     */
    public void suspend(String rawUser, String rawReason) {
        suspend(rawUser, rawReason, null);
    }

    /**
     * Suspends a user from sending for {@code duration} (null: until an operator resumes it), replacing any
     * suspension it has; MAIL is then answered {@code Account suspended from sending by the postmaster[, retry in N s]}.
     *
     * @throws IllegalArgumentException as {@link #suspend(String, String)}
     * @throws IllegalStateException when the store of suspensions cannot record it (Redis down): nothing was suspended
     */
    public void suspend(String rawUser, String rawReason, Duration duration) {
        String key = userKey(rawUser);
        String reason = OperatorInput.reason(rawReason);
        long until = duration == null ? Holds.Hold.FOREVER : limits.nowMillis() + duration.toMillis();
        limits.suspensions().hold(key, until, RateLimiter.OPERATOR_REASON_PREFIX + reason);
        audit(duration == null
            ? AuditLine.event("outcome", "suspended", "reason", "operator", "subject", key, "note", reason)
            : AuditLine.event("outcome", "suspended", "reason", "operator", "subject", key, "note", reason,
                "until", Instant.ofEpochMilli(until).toString()));
    }

    /**
     * Lifts a user's suspension (manual or automatic); true when it was suspended.
     *
     * @throws IllegalArgumentException when the user name is missing, blank, too long or holds control characters
     * @throws IllegalStateException when the store of suspensions cannot answer (Redis down)
     */
    public boolean resume(String rawUser) {
        String key = userKey(rawUser);
        boolean lifted = limits.suspensions().lift(key);
        audit(AuditLine.event("outcome", "resumed", "subject", key, "wasSuspended", lifted));
        return lifted;
    }

    /**
     * The suspensions in force, one line each:
     * {@code user:alice@example.com since 2026-11-30T07:01:00.123Z until resumed (operator: why)} (since: when the
     * suspension started, {@code unknown} for one set by an earlier RelayGuard).
     */
    public List<String> suspended() {
        List<String> lines = new ArrayList<>();
        for (Holds.Hold suspension : limits.suspensions().active()) {
            lines.add(suspension.key() + " since " + (suspension.isStartKnown()
                ? Instant.ofEpochMilli(suspension.sinceMillis()).toString() : "unknown") + " until " + (suspension.isForever()
                ? "resumed" : Instant.ofEpochMilli(suspension.untilMillis()).toString()) + " (" + suspension.reason() + ")");
        }
        return lines;
    }

    /**
     * The users and client IPs refused or deferred most in the last hour (refusals of every kind), most first.
     *
     * @throws IllegalArgumentException when {@code n} is not between 1 and {@value OperatorInput#MAX_TOP}
     */
    public List<RefusalTally.Entry> topRefused(int n) {
        return guard.topRefused(OperatorInput.count("n", n));
    }

    /**
     * The same over the last {@code since} (from {@link OperatorInput#since}), counted in whole clock minutes: the
     * current minute and those before it, {@code since} rounded up to minutes ({@code 90s}: this minute and the one
     * before).
     *
     * @throws IllegalArgumentException when {@code n} is not between 1 and {@value OperatorInput#MAX_TOP}, or
     *     {@code since} is not above 0 and at most an hour
     */
    public List<RefusalTally.Entry> topRefused(int n, Duration since) {
        if (since.isZero() || since.isNegative() || since.compareTo(OperatorInput.MAX_SINCE) > 0) {
            throw new IllegalArgumentException("since must be above 0 and at most 1h: only the last hour of refusals is kept");
        }
        long minutes = (since.toMillis() + 59_999) / 60_000;
        return guard.topRefused(OperatorInput.count("n", n), (int) minutes);
    }

    /**
     * The clients banned for relay probing now (cluster-wide with the Redis store).
     *
     * @throws IllegalStateException when the store of bans cannot answer
     */
    public List<Holds.Hold> bans() {
        return guard.probeBans().bans();
    }

    /**
     * Lifts the probe ban of a client address (IPv6: any address of the /64); true when one was lifted.
     *
     * @throws IllegalArgumentException when the address is missing, blank, too long or not an IP address
     */
    public boolean liftBan(String address) {
        String ip = OperatorInput.address(address);
        boolean lifted = guard.probeBans().lift(ip);
        audit(AuditLine.event("outcome", "unbanned", "reason", "operator", "ip", ip, "wasBanned", lifted));
        return lifted;
    }

    /**
     * The clients banned from AUTH right now ({@code authLimits/clientBan}: {@code 454 4.7.0} at AUTH), one each:
     * its key (IPv4 address, or IPv6 /64) and the end of the ban.
     */
    public List<AuthState.Block> authBans() {
        return guard.loginLimits().state().bans();
    }

    /**
     * The accounts throttled right now ({@code authLimits/accountThrottle}: {@code 454 4.7.0} before the password
     * check for clients the account does not know), one each: the account (user name as tried, lower-case) and the
     * end of the throttle.
     */
    public List<AuthState.Block> authThrottles() {
        return guard.loginLimits().state().throttles();
    }

    /**
     * Lifts the AUTH ban of a client (IPv6: any address of the /64, or the /64 itself) and forgets its failed logins;
     * true when one was lifted. Audited as {@code outcome=lifted reason=operator block=auth.client-banned}.
     *
     * @throws IllegalArgumentException when the address is missing, blank, too long or not an IP address
     */
    public boolean liftAuthBan(String address) {
        String ip = OperatorInput.address(address);
        String key = ProbeBans.keyOf(ip);
        boolean lifted = guard.loginLimits().state().liftBan(key);
        audit(AuditLine.event("outcome", "lifted", "reason", "operator", "block", Reason.AUTH_CLIENT_BANNED.code(),
            "ip", ip, "key", key, "wasBanned", lifted));
        return lifted;
    }

    /**
     * Lifts the throttle of an account (the user name as clients type it; case does not matter) and forgets its
     * failed logins; true when it was throttled. Its known clients are kept. Audited as
     * {@code outcome=lifted reason=operator block=auth.account-throttled}.
     *
     * @throws IllegalArgumentException when the user name is missing, blank, too long or holds spaces or control
     *     characters
     */
    public boolean liftAuthThrottle(String rawUser) {
        String account = LoginLimits.accountOf(OperatorInput.login(rawUser));
        boolean lifted = guard.loginLimits().state().liftThrottle(account);
        audit(AuditLine.event("outcome", "lifted", "reason", "operator", "block", Reason.AUTH_ACCOUNT_THROTTLED.code(),
            "login", account, "wasThrottled", lifted));
        return lifted;
    }

    /**
     * Reads the policy again (see {@link dev.relayguard.config.PolicyReloader#reload}). Audited either way:
     * {@code outcome=reloaded reason=operator changes=<count> what="<change>; <change>"}, or
     * {@code outcome=refused reason=operator error="<file, key, value and fault>"} (the current policy stays).
     *
     * @return what changed, one line each
     * @throws IllegalArgumentException with the reason, when the new policy is refused (the current one stays)
     */
    public List<String> reload() {
        List<String> changes;
        try {
            changes = guard.reloader().reload();
        } catch (IllegalArgumentException e) {
            audit(AuditLine.event("outcome", "refused", "reason", "operator", "action", "policy-reload", "error", e.getMessage()));
            throw e;
        }
        audit(AuditLine.event("outcome", "reloaded", "reason", "operator", "action", "policy-reload",
            "changes", changes.size(), "what", String.join("; ", changes)));
        return changes;
    }

    /** Every RelayGuard counter, by metric name. */
    public SortedMap<String, Long> counts() {
        return guard.recorder().counts();
    }

    private static String userKey(String user) {
        return SubjectKey.user(OperatorInput.user(user));
    }
}
