package dev.relayguard;

import java.net.InetAddress;
import java.time.Instant;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Suspensions;
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

    private final Supplier<RelayGuardSettings> settings;
    private final Refusals refusals;
    private final AuthState state;
    private final Suspensions senderSuspensions;
    private final LongSupplier clockMillis;

    LoginLimits(Supplier<RelayGuardSettings> settings, Refusals refusals, AuthState state, Suspensions senderSuspensions,
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

    /** At the AUTH command, before any SASL exchange: {@code 454 4.7.0} when the client is banned from AUTH. */
    public Optional<Verdict> checkClient(InetAddress client, RefusalContext context) {
        if (client == null) {
            return Optional.empty();
        }
        AuthState.Block ban = state.banOf(ProbeBans.keyOf(client));
        if (ban == null) {
            return Optional.empty();
        }
        Verdict verdict = banned(client, ban);
        refusals.record(verdict, context);
        return Optional.of(verdict);
    }

    private Verdict banned(InetAddress client, AuthState.Block ban) {
        return Verdict.of(Reason.AUTH_CLIENT_BANNED, "Too many failed logins from " + client.getHostAddress()
            + ", try again in " + secondsUntil(ban) + " s");
    }

    /**
     * Before James checks the password of {@code login}: the client's ban (it may have started since the AUTH
     * command), then the account's throttle, which applies only to clients that never logged in to it successfully.
     * A refusal here comes before any password check, so a right and a wrong password get the same answer.
     */
    public Optional<Verdict> checkAttempt(InetAddress client, String login, RefusalContext context) {
        if (client == null) {
            return Optional.empty();
        }
        AuthState.Attempt attempt = state.checkAttempt(ProbeBans.keyOf(client), accountOf(login));
        Verdict verdict;
        if (attempt.ban() != null) {
            verdict = banned(client, attempt.ban());
        } else if (attempt.throttle() != null) {
            verdict = Verdict.of(Reason.AUTH_ACCOUNT_THROTTLED,
                "Too many failed logins for this account, try again in " + secondsUntil(attempt.throttle()) + " s");
        } else {
            return Optional.empty();
        }
        refusals.record(verdict, context);
        return Optional.of(verdict);
    }

    /**
     * One login James refused: counted ({@code relayguard.refused.auth.failed}) towards the client's ban and the
     * account's throttle, each start logged.
     *
     * @param failuresInConnection the failed logins of this connection, this one included
     * @return {@code 421 4.7.0} when this failure is the connection's last ({@code maxFailuresPerConnection}); else
     *         empty (James's own {@code 535} stands)
     */
    public Optional<Verdict> failed(InetAddress client, String login, int failuresInConnection, RefusalContext context) {
        refusals.record(Verdict.of(Reason.AUTH_FAILED, "Authentication credentials invalid"), context);
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
        int max = limits().maxFailuresPerConnection();
        if (max > 0 && failuresInConnection >= max) {
            Verdict verdict = Verdict.of(Reason.AUTH_TOO_MANY_FAILURES, "Too many failed logins, closing connection");
            refusals.record(verdict, context);
            return Optional.of(verdict);
        }
        return Optional.empty();
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
        if (suspendMillis > 0) {
            until = clockMillis.getAsLong() + suspendMillis;
            senderSuspensions.suspend(subject, until, AuthLimits.SUSPENSION_REASON);
            refusals.recorder().recordSuspension();
        }
        AUDIT.info(AuditLine.event("outcome", suspendMillis > 0 ? "suspended" : "signalled", "reason", RefusalRecorder.SUSPICIOUS_LOGIN_REASON,
            "session", context.sessionId(), "ip", context.clientIp(), "login", account, "mechanism", context.mechanism(),
            "failures", success.recentFailures(), "subject", subject, "until", until == null ? null : Instant.ofEpochMilli(until)));
    }

    /** Counts and logs a verdict on an AUTH (e.g. {@code 538 5.7.11} where a login would not count). */
    public void record(Verdict verdict, RefusalContext context) {
        refusals.record(verdict, context);
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
        return AuthState.accountKey(cut);
    }

    private long secondsUntil(AuthState.Block block) {
        return Math.max(1, (block.untilMillis() - clockMillis.getAsLong() + 999) / 1000);
    }

    private static Instant until(AuthState.Block block) {
        return Instant.ofEpochMilli(block.untilMillis());
    }
}
