package dev.relayguard.smtp;

import java.util.List;

import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.SMTPResponse;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;

import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;

/**
 * RelayGuard verdicts as James SMTP answers: a {@link HookResult} from a hook, a {@link Response} from a command
 * handler. A refusal is {@code DENY} (5xx), a deferral {@code DENYSOFT} (4xx); the reply line is
 * {@code <code> <enhanced status> <text>}. A verdict that ends the session (a probe ban at connect, too many refused
 * recipients) also closes the connection.
 */
final class SmtpAnswers {
    /** An unexpected failure inside RelayGuard: defer, never let the command through. */
    static final HookResult TEMPORARY_FAILURE = HookResult.builder()
        .hookReturnCode(HookReturnCode.denySoft())
        .smtpReturnCode("451")
        .smtpDescription("4.3.0 Temporary local problem, try again later")
        .build();
    /** {@link #TEMPORARY_FAILURE} for a command handler. */
    static final Response TEMPORARY_FAILURE_REPLY = new SMTPResponse(TEMPORARY_FAILURE.getSmtpRetCode(),
        TEMPORARY_FAILURE.getSmtpDescription());

    /**
     * A connect "response" that writes nothing: James 3.8.1's JMX connect statistics fail on a connect handler
     * that returns null, so a silent handler returns this. Its code {@code 000} is counted by no statistic.
     */
    static final Response SILENT = new Response() {
        @Override
        public String getRetCode() {
            return "000";
        }

        @Override
        public List<CharSequence> getLines() {
            return List.of();
        }

        @Override
        public boolean isEndSession() {
            return false;
        }
    };

    private SmtpAnswers() {
    }

    /** The hook answer to a verdict that does not pass. */
    static HookResult hookResult(Verdict verdict) {
        HookReturnCode code = endsSession(verdict) ? HookReturnCode.disconnected(HookReturnCode.Action.DENYSOFT)
            : verdict.outcome() == Outcome.REFUSED ? HookReturnCode.deny() : HookReturnCode.denySoft();
        return HookResult.builder()
            .hookReturnCode(code)
            .smtpReturnCode(verdict.replyCode())
            .smtpDescription(description(verdict))
            .build();
    }

    /** The command-handler answer to a verdict that does not pass. */
    static Response reply(Verdict verdict) {
        SMTPResponse response = new SMTPResponse(verdict.replyCode(), description(verdict));
        response.setEndSession(endsSession(verdict));
        return response;
    }

    private static String description(Verdict verdict) {
        return verdict.enhancedStatus() + " " + verdict.text();
    }

    private static boolean endsSession(Verdict verdict) {
        return verdict.reason() == Reason.SESSION_TOO_MANY_REFUSALS || verdict.reason() == Reason.PROBE_BANNED
            || verdict.reason() == Reason.PROBE_BANS_UNAVAILABLE || verdict.reason() == Reason.AUTH_TOO_MANY_FAILURES
            || verdict.reason() == Reason.PROXY_HEADER_MISSING || verdict.reason() == Reason.PROXY_NOT_ALLOWED;
    }
}
