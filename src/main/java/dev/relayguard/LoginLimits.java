package dev.relayguard;

import java.net.InetAddress;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.Holds;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.SubjectKey;
import dev.relayguard.observe.AuditLine;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * Failed SMTP logins, limited per connection, per client and per account ({@link AuthLimits}, the
 * {@code <authLimits>} element of relayguard.xml), over an {@link AuthState} (memory, or Redis in a cluster).
 * The SMTP handler asks it at the AUTH command ({@link #checkClient}), before James checks a password
 * ({@link #checkAttempt}) and after ({@link #failed}, {@link #succeeded}). Every refusal is counted
 * ({@code relayguard.<outcome>.auth.<reason>}) and logged on the audit logger with the client IP, the user name tried
 * and the mechanism, never the password or the SASL response. Thread-safe.
 */
public final class LoginLimits {
    private static final Logger AUDIT = LoggerFactory.getLogger(RefusalRecorder.AUDIT_LOGGER);
    /** The longest user name kept as tried (longer ones are cut): bounds the state and the audit line. */
    static final int MAX_LOGIN_LENGTH = 255;
    private static final Verdict CREDENTIALS_INVALID = Verdict.of(Reason.AUTH_FAILED, "Authentication credentials invalid");

    private final Supplier<RelayGuardSettings> settings;
    private final Refusals refusals;
    private final AuthState state;
    private final Holds senderSuspensions;
    private final LongSupplier clockMillis;

    LoginLimits(Supplier<RelayGuardSettings> settings, Refusals refusals, AuthState state, Holds senderSuspensions,
                LongSupplier clockMillis) {
        this.settings = settings;
        this.refusals = refusals;
        this.state = state;
        this.senderSuspensions = senderSuspensions;
        this.clockMillis = clockMillis;
    }

    private AuthLimits limits() {
        return settings.get().authLimits();
    }

    /**
     * At the AUTH command, before any SASL exchange: {@code 454 4.7.0} when the client is banned from AUTH (recorded,
     * or the connection's last refusal, see {@link #refuse}).
     *
     * @param nextRefusal counts one more refused AUTH in this connection and answers how many so far
     */
    public Optional<Verdict> checkClient(InetAddress client, RefusalContext context, IntSupplier nextRefusal) {
        if (client == null) {
            return Optional.empty();
        }
        AuthState.Block ban = state.banOf(ProbeBans.keyOf(client));
        return ban == null ? Optional.empty() : Optional.of(refuse(banned(client, ban), context, nextRefusal));
    }

    private Verdict banned(InetAddress client, AuthState.Block ban) {
        return Verdict.of(Reason.AUTH_CLIENT_BANNED, "Too many failed logins from " + client.getHostAddress()
            + ", try again in " + secondsUntil(ban) + " s");
    }

    /**
     * Before James checks the password of {@code login}: the client's ban (it may have started since the AUTH
     * command), then the account's throttle, which applies only to clients that never logged in to it successfully
     * (one store call). A refusal here comes before any password check, so a right and a wrong password get the same
     * answer.
     */
    public Optional<Verdict> checkAttempt(InetAddress client, String login, RefusalContext context, IntSupplier nextRefusal) {
        if (client == null) {
            return Optional.empty();
        }
        AuthState.Attempt attempt = state.checkAttempt(ProbeBans.keyOf(client), accountOf(login));
        if (attempt.ban() != null) {
            return Optional.of(refuse(banned(client, attempt.ban()), context, nextRefusal));
        }
        if (attempt.throttle() != null) {
            return Optional.of(refuse(Verdict.of(Reason.AUTH_ACCOUNT_THROTTLED,
                "Too many failed logins for this account, try again in " + secondsUntil(attempt.throttle()) + " s"),
                context, nextRefusal));
        }
        return Optional.empty();
    }

    /**
     * One login James refused: counted ({@code relayguard.refused.auth.failed}) towards the client's ban and the
     * account's throttle, each start logged; then answered as the connection's refusals decide ({@link #refuse}).
     *
     * @return {@code 535 5.7.8}, or {@code 421 4.7.0} when this is the connection's last refused AUTH
     */
    public Verdict failed(InetAddress client, String login, RefusalContext context, IntSupplier nextRefusal) {
        if (client != null) {
            String account = accountOf(login);
            AuthState.Failure failure = state.recordFailure(ProbeBans.keyOf(client), account);
            if (failure.banStarted() != null) {
                AUDIT.info(AuditLine.event("outcome", "banned", "reason", Reason.AUTH_CLIENT_BANNED.code(),
                    "ip", context.clientIp(), "key", failure.banStarted().key(), "until", until(failure.banStarted())));
            }
            if (failure.throttleStarted() != null) {
                AUDIT.info(AuditLine.event("outcome", "throttled", "reason", Reason.AUTH_ACCOUNT_THROTTLED.code(),
                    "ip", context.clientIp(), "login", account, "until", until(failure.throttleStarted())));
            }
        }
        return refuse(CREDENTIALS_INVALID, context, nextRefusal);
    }

    /**
     * Answers one refused AUTH: counted and logged as it is, unless it is the connection's
     * {@code maxFailuresPerConnection}-th refused AUTH (a wrong password, or a refusal before any check: 503, 538,
     * 454): then {@code 421 4.7.0} and the connection closes, which is what is logged (a wrong password is still
     * counted in {@code relayguard.refused.auth.failed}). So one connection cannot make RelayGuard write audit lines
     * without end.
     */
    public Verdict refuse(Verdict refusal, RefusalContext context, IntSupplier nextRefusal) {
        int max = limits().maxFailuresPerConnection();
        if (max == 0 || nextRefusal.getAsInt() < max) {
            refusals.record(refusal, context);
            return refusal;
        }
        if (refusal.reason() == Reason.AUTH_FAILED) {
            refusals.recorder().count(refusal, context);
        }
        Verdict last = Verdict.of(Reason.AUTH_TOO_MANY_FAILURES, "Too many failed logins, closing connection");
        refusals.record(last, context);
        return last;
    }

    /**
     * One login James accepted: the client becomes known for the account. A login from a client the account did not
     * know, after {@code successAfterFailures} recent failures against it, is counted
     * ({@code relayguard.auth.success-after-failures}), logged, and suspends the account from sending when
     * {@code suspendFor} is above 0.
     */
    public void succeeded(InetAddress client, String login, RefusalContext context) {
        if (client == null) {
            return;
        }
        String account = accountOf(login);
        AuthState.Success success = state.recordSuccess(account, ProbeBans.keyOf(client));
        AuthLimits limits = limits();
        if (limits.successAfterFailures() == 0 || success.clientWasKnown() || success.recentFailures() < limits.successAfterFailures()) {
            return;
        }
        refusals.recorder().recordSuspiciousLogin();
        long suspendMillis = limits.suspendAfterSuspiciousSuccess().toMillis();
        String subject = SubjectKey.user(login);
        Long until = null;
        String outcome = "signalled";
        if (suspendMillis > 0) {
            until = clockMillis.getAsLong() + suspendMillis;
            Holds.Hold current = senderSuspensions.holdOf(subject);
            if (current != null && !current.isUnavailable() && current.untilMillis() >= until) {
                // a longer suspension (an operator's, until resumed) is never shortened by this one
                outcome = "already-suspended";
                until = current.isForever() ? null : current.untilMillis();
            } else {
                try {
                    senderSuspensions.hold(subject, until, AuthLimits.SUSPENSION_REASON);
                    refusals.recorder().recordSuspension();
                    outcome = "suspended";
                } catch (IllegalStateException e) { // the store of suspensions is down: signalled only, said so
                    refusals.recorder().recordDegraded();
                    outcome = "suspension-failed";
                }
            }
        }
        AUDIT.info(AuditLine.event("outcome", outcome, "reason", RefusalRecorder.SUSPICIOUS_LOGIN_REASON,
            "session", context.sessionId(), "ip", context.clientIp(), "login", account, "mechanism", context.mechanism(),
            "failures", success.recentFailures(), "subject", subject, "until", until == null ? null : Instant.ofEpochMilli(until)));
    }

    public AuthState state() {
        return state;
    }

    void reconfigure(RelayGuardSettings newSettings) {
        state.reconfigure(newSettings.authLimits());
    }

    /** The account key of a user name as tried: lower-cased, at most {@value #MAX_LOGIN_LENGTH} characters. */
    public static String accountOf(String login) {
        String cut = login.length() > MAX_LOGIN_LENGTH ? login.substring(0, MAX_LOGIN_LENGTH) : login;
        return cut.toLowerCase(Locale.ROOT);
    }

    private long secondsUntil(AuthState.Block block) {
        return Math.max(1, (block.untilMillis() - clockMillis.getAsLong() + 999) / 1000);
    }

    private static Instant until(AuthState.Block block) {
        return Instant.ofEpochMilli(block.untilMillis());
    }
}
