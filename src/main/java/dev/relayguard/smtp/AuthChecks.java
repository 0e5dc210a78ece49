package dev.relayguard.smtp;

import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.IntSupplier;
import java.util.regex.Pattern;

import org.apache.james.core.Username;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.AuthHook;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.LoginLimits;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.observe.RefusalContext;

/**
 * RelayGuard's part in SMTP AUTH (RFC 4954): refusing AUTH where a login would grant nothing, before James reads
 * any credentials; refusing banned clients and throttled accounts before James checks a password; and seeing each
 * password check's outcome, to count failures and remember where an account logs in from.
 *
 * <p>How the outcome is seen: James 3.8.1's {@code AuthCmdHandler} asks its {@code AuthHook}s in chain order and
 * wires no {@code HookResultHook} into AUTH (its marker interfaces list only {@code AuthHook}), and the SASL
 * continuation lines (AUTH LOGIN, AUTH PLAIN without an initial response) bypass every result handler. So
 * RelayGuard's hook, first in the chain, asks the hooks after it itself (James's {@code UsersRepositoryAuthHook},
 * and any other), in order, and returns the first answer that decides; James then asks nobody else. Every
 * mechanism that checks a password (PLAIN and LOGIN, with or without initial response) goes through it.
 */
final class AuthChecks {
    private static final Logger LOGGER = LoggerFactory.getLogger(AuthChecks.class);
    private static final Pattern MECHANISM = Pattern.compile("[A-Z0-9_-]{1,20}");
    /** James's own answer when no hook accepts, with RFC 4954's enhanced status. */
    private static final HookResult CREDENTIALS_INVALID = HookResult.builder()
        .hookReturnCode(HookReturnCode.deny())
        .smtpReturnCode(Reason.AUTH_FAILED.replyCode())
        .smtpDescription(Reason.AUTH_FAILED.enhancedStatus() + " Authentication credentials invalid")
        .build();

    private static final HookResult MALFORMED_PLAIN = HookResult.builder()
        .hookReturnCode(HookReturnCode.deny())
        .smtpReturnCode("501")
        .smtpDescription("5.5.2 Cannot decode AUTH PLAIN response: an authentication identity and a password are required")
        .build();

    private final LoginLimits limits;

    AuthChecks(LoginLimits limits) {
        this.limits = limits;
    }

    /**
     * The AUTH command, before James reads it: where a login would not count (no TLS, plaintext logins not
     * allowed), {@code 538 5.7.11} when the listener offers STARTTLS, else {@code 503 5.5.1}; a client banned from
     * AUTH {@code 454 4.7.0}. Nothing is refused once the session is authenticated (James answers that).
     */
    Optional<Verdict> atAuthCommand(SMTPSession session, String argument, boolean plaintextLoginCounts) {
        if (session.getUsername() != null) {
            return Optional.empty();
        }
        String mechanism = mechanism(argument);
        if (mechanism == null) { // a bare AUTH: James answers its syntax error, unless refused below
            session.removeAttachment(SessionFacts.AUTH_MECHANISM, ProtocolSession.State.Connection);
        } else {
            session.setAttachment(SessionFacts.AUTH_MECHANISM, mechanism, ProtocolSession.State.Connection);
        }
        InetAddress address = SessionFacts.clientAddress(session);
        RefusalContext context = SessionFacts.authContext(session, address, null);
        IntSupplier nextRefusal = () -> SessionFacts.nextAuthFailure(session);
        if (!session.isTLSStarted() && !plaintextLoginCounts) {
            Verdict verdict = session.isStartTLSSupported()
                ? Verdict.of(Reason.AUTH_ENCRYPTION_REQUIRED, "Encryption required for requested authentication mechanism")
                : Verdict.of(Reason.AUTH_NOT_OFFERED, "Authentication not available on this port without TLS");
            return Optional.of(limits.refuse(verdict, context, nextRefusal));
        }
        if (hasInitialResponse(argument)) {
            // AUTH PLAIN <credentials> (RFC 4954 section 4): the password check comes in this same command, after
            // LoginLimits.checkAttempt, which looks at the client's ban too and refuses it with the same 454 4.7.0.
            // Looking here as well would be a second store call (a Redis round trip) for one answer.
            return Optional.empty();
        }
        return limits.checkClient(address, context, nextRefusal);
    }

    /** True when the AUTH command carries an initial response after the mechanism (RFC 4954 section 4). */
    static boolean hasInitialResponse(String argument) {
        if (argument == null) {
            return false;
        }
        String[] words = argument.trim().split(" +", 2);
        return words.length == 2 && !words[1].isBlank();
    }

    /**
     * One password check: the client's ban and the account's throttle first ({@code 454 4.7.0}, no password
     * checked); then the hooks after RelayGuard's, in order; the outcome counted. Never returns DECLINED (James would
     * ask the next hooks again).
     */
    HookResult login(SMTPSession session, Username username, String password, List<AuthHook> nextHooks) {
        InetAddress address = SessionFacts.clientAddress(session);
        String login = username.asString();
        RefusalContext context = SessionFacts.authContext(session, address, LoginLimits.accountOf(login));
        IntSupplier nextRefusal = () -> SessionFacts.nextAuthFailure(session);
        try {
            Optional<Verdict> refusal = limits.checkAttempt(address, login, context, nextRefusal);
            if (refusal.isPresent()) {
                return SmtpAnswers.hookResult(refusal.get());
            }
        } catch (RuntimeException e) { // RelayGuard's trouble never locks users out: James still checks the password
            LOGGER.error("RelayGuard could not check the login limits in session {}; checking the password anyway", session.getSessionID(), e);
        }
        HookResult answer = null;
        for (AuthHook hook : nextHooks) {
            HookResult result = hook.doAuth(session, username, password);
            if (result != null && decides(result)) {
                answer = result;
                break;
            }
        }
        // What is returned below is James's own answer, passed on unchanged (OK from UsersRepositoryAuthHook, which has
        // already set the user and the session's relaying flag; AUTH has no relay check to skip), or RelayGuard's
        // refusal. RelayGuard never turns a refusal into OK.
        HookReturnCode.Action action = answer == null ? HookReturnCode.Action.DENY : answer.getResult().getAction();
        try {
            if (action == HookReturnCode.Action.OK) { // James accepted the password (its answer, read here, not ours)
                limits.succeeded(address, login, context);
            } else if (action == HookReturnCode.Action.DENY) {
                Verdict failure = limits.failed(address, login, context, nextRefusal);
                if (failure.reason() == Reason.AUTH_TOO_MANY_FAILURES) {
                    return SmtpAnswers.hookResult(failure);
                }
            }
        } catch (RuntimeException e) {
            LOGGER.error("RelayGuard could not count a login outcome in session {}", session.getSessionID(), e);
        }
        return answer == null ? CREDENTIALS_INVALID : answer;
    }

    /**
     * AUTH PLAIN whose response holds one name only asks James to act as that user for a session that has not
     * authenticated (RFC 4616 needs an authentication identity and a password): nothing can grant it. Answered
     * {@code 501 5.5.2} here, before James, which would log the lone name, often a password typed in the wrong
     * field, at ERROR. Nothing is counted: no password was checked.
     */
    HookResult delegation(SMTPSession session) {
        return session.getUsername() != null ? HookResult.DECLINED : MALFORMED_PLAIN;
    }

    /** A hook result James would answer with (OK, DENY, DENYSOFT, or a disconnect), as opposed to DECLINED. */
    private static boolean decides(HookResult result) {
        HookReturnCode code = result.getResult();
        return HookReturnCode.Action.ACTIVE_ACTIONS.contains(code.getAction()) || code.isDisconnected();
    }

    /** The mechanism word of an AUTH argument, upper-cased; {@code ?} for anything that is not one; null for none. */
    static String mechanism(String argument) {
        if (argument == null || argument.isBlank()) {
            return null;
        }
        String word = argument.trim().split(" ", 2)[0].toUpperCase(Locale.ROOT);
        return MECHANISM.matcher(word).matches() ? word : "?";
    }
}
