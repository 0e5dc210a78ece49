package dev.relayguard.smtp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.james.core.Username;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.apache.james.protocols.api.OidcSASLConfiguration;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.AuthHook;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.protocols.smtp.hook.HookReturnCode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.AuthGuards;
import dev.relayguard.RelayGuard;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.AuditCapture;
import dev.relayguard.observe.RefusalRecorder;

/**
 * {@link AuthChecks}, RelayGuard's part in SMTP AUTH, on a fake session: the AUTH command where a login would not
 * count or the client is banned, and the password check with the hooks after RelayGuard's and its counting.
 */
class AuthChecksTest {
    private static final String USER = "alice@example.com";
    private static final String PASSWORD = "S3cret-Pa55word";
    private static final String CLIENT = "203.0.113.9";
    private static final String FAILED_METRIC = "relayguard.refused.auth.failed";

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    private final RecordingMetricFactory metrics = new RecordingMetricFactory();
    @RegisterExtension
    final AuditCapture audit = new AuditCapture();

    /** A hook after RelayGuard's: answers {@code result} and records that it was asked, and with what. */
    private static final class RecordingHook implements AuthHook {
        private final HookResult result;
        final List<String> calls = new ArrayList<>();

        RecordingHook(HookResult result) {
            this.result = result;
        }

        @Override
        public HookResult doAuth(SMTPSession session, Username username, String password) {
            calls.add(username.asString() + ":" + password);
            return result;
        }

        @Override
        public HookResult doSasl(SMTPSession session, OidcSASLConfiguration saslConfiguration, String initialResponse) {
            throw new UnsupportedOperationException();
        }
    }

    private static RecordingHook answering(HookReturnCode code) {
        return new RecordingHook(HookResult.builder().hookReturnCode(code).build());
    }

    private RelayGuard guard(String authLimitsBody) {
        return AuthGuards.guard(authLimitsBody, metrics, clock::get);
    }

    private AuthChecks checks(String authLimitsBody) {
        return new AuthChecks(guard(authLimitsBody).loginLimits());
    }

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A session over TLS from {@code client} that sent {@code AUTH PLAIN}. */
    private static FakeSmtpSession tlsSession(String client) {
        FakeSmtpSession session = new FakeSmtpSession("s-" + client, ip(client)).tls(true, true);
        session.setAttachment(SessionFacts.AUTH_MECHANISM, "PLAIN", ProtocolSession.State.Connection);
        return session;
    }

    private static HookResult login(AuthChecks checks, SMTPSession session, String user, AuthHook... next) {
        return checks.login(session, Username.of(user), PASSWORD, List.of(next));
    }

    private List<String> auditLines() {
        return audit.lines();
    }

    // ---- the mechanism ---------------------------------------------------------------------------------

    @Test
    void theMechanismIsTheFirstWordUpperCasedAndAnythingElseIsAQuestionMark() {
        assertThat(AuthChecks.mechanism("PLAIN")).isEqualTo("PLAIN");
        assertThat(AuthChecks.mechanism("login xyz")).isEqualTo("LOGIN");
        assertThat(AuthChecks.mechanism(" plain AGFsaWNlAHNlY3JldA==")).isEqualTo("PLAIN");
        assertThat(AuthChecks.mechanism("CRAM-MD5")).isEqualTo("CRAM-MD5");
        assertThat(AuthChecks.mechanism("pl@in")).isEqualTo("?");
        assertThat(AuthChecks.mechanism("A".repeat(21))).isEqualTo("?");
        assertThat(AuthChecks.mechanism("\u00e9t\u00e9")).isEqualTo("?");
        assertThat(AuthChecks.mechanism("   ")).isNull();
        assertThat(AuthChecks.mechanism(null)).isNull();
    }

    // ---- the AUTH command ------------------------------------------------------------------------------

    /** Break-trial: a bare AUTH answered 451 with a stack trace (a null mechanism into a session attachment). */
    @Test
    void aBareAuthIsAnsweredLikeAnyOtherAuth() {
        AuthChecks checks = checks("");
        FakeSmtpSession mx = new FakeSmtpSession("s1", ip(CLIENT)).tls(false, false);
        FakeSmtpSession overTls = new FakeSmtpSession("s2", ip(CLIENT)).tls(true, true);
        overTls.setAttachment(SessionFacts.AUTH_MECHANISM, "PLAIN", ProtocolSession.State.Connection);

        assertThat(checks.atAuthCommand(mx, null, false)).hasValueSatisfying(v -> assertThat(v.replyLine())
            .isEqualTo("503 5.5.1 Authentication not available on this port without TLS"));
        assertThat(checks.atAuthCommand(overTls, "", false)).as("James answers its syntax error").isEmpty();
        assertThat(overTls.getAttachment(SessionFacts.AUTH_MECHANISM, ProtocolSession.State.Connection))
            .as("no mechanism left from an earlier AUTH").isEmpty();
    }

    /** Break-trial: a connection refused before any check could send AUTH (and write audit lines) without end. */
    @Test
    void refusalsBeforeAnyCheckCountTowardsTheConnectionsLimitToo() {
        AuthChecks checks = checks("<maxFailuresPerConnection>3</maxFailuresPerConnection>");
        FakeSmtpSession mx = new FakeSmtpSession("s1", ip(CLIENT)).tls(false, false);

        List<String> replies = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            replies.add(checks.atAuthCommand(mx, "PLAIN", false).orElseThrow().replyLine());
        }

        assertThat(replies).containsExactly("503 5.5.1 Authentication not available on this port without TLS",
            "503 5.5.1 Authentication not available on this port without TLS",
            "421 4.7.0 Too many failed logins, closing connection");
        assertThat(metrics.countFor("relayguard.refused.auth.not-offered")).isEqualTo(2);
        assertThat(metrics.countFor("relayguard.deferred.auth.too-many-failures")).isEqualTo(1);
        assertThat(auditLines()).hasSize(3);
    }

    /** Break-trial: AUTH PLAIN with a lone name made James log that name (often a password) at ERROR. */
    @Test
    void aPlainResponseWithALoneNameIsRefusedBeforeJamesLogsIt() {
        AuthChecks checks = checks("");
        FakeSmtpSession unauthenticated = tlsSession(CLIENT);

        HookResult answer = checks.delegation(unauthenticated);

        assertThat(answer.getSmtpRetCode()).isEqualTo("501");
        assertThat(answer.getSmtpDescription()).startsWith("5.5.2 Cannot decode AUTH PLAIN response");
        assertThat(answer.getResult().getAction()).isEqualTo(HookReturnCode.Action.DENY);
        unauthenticated.setUsername(Username.of(USER));
        assertThat(checks.delegation(unauthenticated)).isEqualTo(HookResult.DECLINED);
        assertThat(auditLines()).isEmpty();
        assertThat(metrics.countFor(FAILED_METRIC)).as("no password was checked").isZero();
    }

    @Test
    void withoutTlsWherePlaintextDoesNotCountAuthIsRefusedBeforeAnyCredentialWith538WhenStartTlsIsOffered() {
        AuthChecks checks = checks("");
        FakeSmtpSession session = new FakeSmtpSession("s1", ip(CLIENT)).tls(false, true);

        Optional<Verdict> verdict = checks.atAuthCommand(session, "PLAIN AGFsaWNlAHNlY3JldA==", false);

        assertThat(verdict).hasValueSatisfying(v -> {
            assertThat(v.reason()).isEqualTo(Reason.AUTH_ENCRYPTION_REQUIRED);
            assertThat(v.replyLine()).isEqualTo("538 5.7.11 Encryption required for requested authentication mechanism");
        });
        assertThat(metrics.countFor("relayguard.refused.auth.encryption-required")).isEqualTo(1);
        assertThat(session.getAttachment(SessionFacts.AUTH_MECHANISM, ProtocolSession.State.Connection)).contains("PLAIN");
        assertThat(auditLines()).singleElement().asString().contains("mechanism=PLAIN").doesNotContain("AGFsaWNl");
    }

    @Test
    void withoutTlsOnAListenerWithoutStartTlsAuthIsNotOffered() {
        AuthChecks checks = checks("");
        FakeSmtpSession session = new FakeSmtpSession("s1", ip(CLIENT)).tls(false, false);

        Optional<Verdict> verdict = checks.atAuthCommand(session, "LOGIN", false);

        assertThat(verdict).hasValueSatisfying(v -> assertThat(v.replyLine())
            .isEqualTo("503 5.5.1 Authentication not available on this port without TLS"));
        assertThat(metrics.countFor("relayguard.refused.auth.not-offered")).isEqualTo(1);
    }

    @Test
    void authPassesWherePlaintextCountsOrOverTlsOrOnceAuthenticated() {
        AuthChecks checks = checks("");

        assertThat(checks.atAuthCommand(new FakeSmtpSession("s1", ip(CLIENT)).tls(false, false), "PLAIN", true)).isEmpty();
        assertThat(checks.atAuthCommand(new FakeSmtpSession("s2", ip(CLIENT)).tls(true, true), "PLAIN", false)).isEmpty();
        assertThat(checks.atAuthCommand(new FakeSmtpSession("s3", ip(CLIENT)).authenticated(USER, false), "PLAIN", false))
            .as("James answers a second AUTH").isEmpty();
        assertThat(metrics.countFor("relayguard.refused.auth.not-offered")).isZero();
        assertThat(metrics.countFor("relayguard.refused.auth.encryption-required")).isZero();
    }

    @Test
    void aBannedClientIsDeferredAtTheAuthCommand() {
        RelayGuard guard = guard("<clientBan><failures>1</failures><banFor>1h</banFor></clientBan>");
        AuthChecks checks = new AuthChecks(guard.loginLimits());
        login(checks, tlsSession(CLIENT), USER);

        Optional<Verdict> verdict = checks.atAuthCommand(new FakeSmtpSession("s2", ip(CLIENT)).tls(true, true), "PLAIN", false);

        assertThat(verdict).hasValueSatisfying(v -> assertThat(v.replyLine())
            .isEqualTo("454 4.7.0 Too many failed logins from 203.0.113.9, try again in 3600 s"));
        assertThat(checks.atAuthCommand(new FakeSmtpSession("s3", ip("203.0.113.10")).tls(true, true), "PLAIN", false)).isEmpty();
        assertThat(metrics.countFor("relayguard.deferred.auth.client-banned")).isEqualTo(1);
    }

    @Test
    void withAnInitialResponseTheBanIsLookedUpOnceBeforeThePasswordCheckWithTheSameAnswer() {
        RelayGuard guard = guard("<clientBan><failures>1</failures><banFor>1h</banFor></clientBan>");
        AuthChecks checks = new AuthChecks(guard.loginLimits());
        login(checks, tlsSession(CLIENT), USER);
        String credentials = Base64.getEncoder().encodeToString(("\0" + USER + "\0" + PASSWORD).getBytes(UTF_8));
        FakeSmtpSession banned = new FakeSmtpSession("s2", ip(CLIENT)).tls(true, true);

        // AUTH PLAIN <credentials>: the password check follows in this command, after the attempt check.
        assertThat(checks.atAuthCommand(banned, "PLAIN " + credentials, false)).isEmpty();
        RecordingHook james = answering(HookReturnCode.ok());
        HookResult answer = login(checks, banned, USER, james);

        assertThat(answer.getSmtpRetCode() + " " + answer.getSmtpDescription())
            .isEqualTo("454 4.7.0 Too many failed logins from 203.0.113.9, try again in 3600 s");
        assertThat(james.calls).as("no password checked").isEmpty();
        assertThat(metrics.countFor("relayguard.deferred.auth.client-banned")).isEqualTo(1);
        assertThat(AuthChecks.hasInitialResponse("PLAIN")).isFalse();
        assertThat(AuthChecks.hasInitialResponse("LOGIN  ")).isFalse();
        assertThat(AuthChecks.hasInitialResponse("LOGIN dXNlcg==")).isTrue();
    }

    // ---- the password check ----------------------------------------------------------------------------

    @Test
    void theNextHooksAreAskedInOrderUntilOneDecides() {
        RelayGuard guard = guard("");
        AuthChecks checks = new AuthChecks(guard.loginLimits());
        RecordingHook declines = new RecordingHook(HookResult.DECLINED);
        RecordingHook silent = new RecordingHook(null);
        RecordingHook accepts = answering(HookReturnCode.ok());
        RecordingHook never = answering(HookReturnCode.deny());

        HookResult result = login(checks, tlsSession(CLIENT), "Alice@Example.com", declines, silent, accepts, never);

        assertThat(result.getResult()).isEqualTo(HookReturnCode.ok());
        assertThat(declines.calls).containsExactly(USER + ":" + PASSWORD);
        assertThat(silent.calls).hasSize(1);
        assertThat(accepts.calls).hasSize(1);
        assertThat(never.calls).isEmpty();
        assertThat(guard.loginLimits().state().isKnownClient(USER, CLIENT)).as("the success is counted").isTrue();
        assertThat(metrics.countFor(FAILED_METRIC)).isZero();
    }

    @Test
    void whenEveryHookDeclinesRelayGuardAnswers535AndCountsTheFailure() {
        RelayGuard guard = guard("<clientBan><failures>2</failures></clientBan>");
        AuthChecks checks = new AuthChecks(guard.loginLimits());

        HookResult none = login(checks, tlsSession(CLIENT), USER);
        HookResult declined = login(checks, tlsSession(CLIENT), USER, new RecordingHook(HookResult.DECLINED));

        for (HookResult result : List.of(none, declined)) {
            assertThat(result.getResult()).isEqualTo(HookReturnCode.deny());
            assertThat(result.getSmtpRetCode()).isEqualTo("535");
            assertThat(result.getSmtpDescription()).isEqualTo("5.7.8 Authentication credentials invalid");
        }
        assertThat(metrics.countFor(FAILED_METRIC)).isEqualTo(2);
        assertThat(guard.loginLimits().state().banOf(CLIENT)).as("both failures counted").isNotNull();
    }

    @Test
    void aDenyFromAHookIsReturnedAndCountedAsAFailure() {
        RelayGuard guard = guard("");
        AuthChecks checks = new AuthChecks(guard.loginLimits());
        HookResult deny = HookResult.builder().hookReturnCode(HookReturnCode.deny()).smtpReturnCode("535")
            .smtpDescription("Authentication Failed").build();

        HookResult result = login(checks, tlsSession(CLIENT), USER, new RecordingHook(deny));

        assertThat(result).isSameAs(deny);
        assertThat(metrics.countFor(FAILED_METRIC)).isEqualTo(1);
    }

    @Test
    void aTemporaryFailureOfAHookIsReturnedAndCountsNothing() {
        RelayGuard guard = guard("<clientBan><failures>1</failures></clientBan>");
        AuthChecks checks = new AuthChecks(guard.loginLimits());
        RecordingHook later = answering(HookReturnCode.denySoft());

        HookResult result = login(checks, tlsSession(CLIENT), USER, later, answering(HookReturnCode.ok()));

        assertThat(result.getResult()).isEqualTo(HookReturnCode.denySoft());
        assertThat(metrics.countFor(FAILED_METRIC)).isZero();
        assertThat(guard.loginLimits().state().banOf(CLIENT)).isNull();
        assertThat(guard.loginLimits().state().isKnownClient(USER, CLIENT)).isFalse();
        assertThat(guard.loginLimits().state().trackedClients()).isZero();
    }

    @Test
    void theLastFailureOfAConnectionAnswers421AndEndsTheSession() {
        AuthChecks checks = checks("<maxFailuresPerConnection>3</maxFailuresPerConnection>");
        FakeSmtpSession session = tlsSession(CLIENT);

        HookResult first = login(checks, session, USER);
        HookResult second = login(checks, session, "bob@example.com");
        HookResult other = login(checks, tlsSession(CLIENT), USER); // another connection: its own count
        HookResult third = login(checks, session, USER);

        assertThat(List.of(first, second, other)).allSatisfy(result -> {
            assertThat(result.getSmtpRetCode()).isEqualTo("535");
            assertThat(result.getResult().isDisconnected()).isFalse();
        });
        assertThat(third.getSmtpRetCode()).isEqualTo("421");
        assertThat(third.getSmtpDescription()).isEqualTo("4.7.0 Too many failed logins, closing connection");
        assertThat(third.getResult()).isEqualTo(HookReturnCode.disconnected(HookReturnCode.Action.DENYSOFT));
        assertThat(metrics.countFor(FAILED_METRIC)).isEqualTo(4);
        assertThat(metrics.countFor("relayguard.deferred.auth.too-many-failures")).isEqualTo(1);
    }

    @Test
    void aThrottledAccountOrABannedClientIsRefusedWithoutAskingForThePassword() {
        RelayGuard guard = guard("<accountThrottle><failures>2</failures></accountThrottle><successAfterFailures><failures>1</failures></successAfterFailures>"
            + "<clientBan><failures>3</failures></clientBan>");
        AuthChecks checks = new AuthChecks(guard.loginLimits());
        login(checks, tlsSession("192.0.2.10"), USER, answering(HookReturnCode.ok())); // the owner, at home
        login(checks, tlsSession("198.51.100.1"), USER);
        login(checks, tlsSession("198.51.100.2"), USER);
        RecordingHook passwordCheck = answering(HookReturnCode.ok());

        HookResult stranger = login(checks, tlsSession("198.51.100.3"), USER, passwordCheck);

        assertThat(stranger.getSmtpRetCode()).isEqualTo("454");
        assertThat(stranger.getSmtpDescription()).isEqualTo("4.7.0 Too many failed logins for this account, try again in 900 s");
        assertThat(stranger.getResult()).isEqualTo(HookReturnCode.denySoft());
        assertThat(passwordCheck.calls).as("no password checked").isEmpty();

        assertThat(login(checks, tlsSession("192.0.2.10"), USER, passwordCheck).getResult()).isEqualTo(HookReturnCode.ok());
        assertThat(passwordCheck.calls).as("the owner's password checked").hasSize(1);

        login(checks, tlsSession("198.51.100.1"), "x@example.com");
        login(checks, tlsSession("198.51.100.1"), "y@example.com"); // 3 failures: banned
        HookResult banned = login(checks, tlsSession("198.51.100.1"), "z@example.com", passwordCheck);
        assertThat(banned.getSmtpRetCode()).isEqualTo("454");
        assertThat(passwordCheck.calls).hasSize(1);
        assertThat(metrics.countFor(FAILED_METRIC)).as("refusals before the check are not failed logins").isEqualTo(4);
    }

    @Test
    void troubleInTheLimitsNeverBlocksThePasswordCheck() {
        AuthState broken = mock(AuthState.class, invocation -> {
            throw new IllegalStateException("the store is down");
        });
        RelayGuard guard = new RelayGuard(AuthGuards.settings(""), domain -> false, (user, sender) -> false,
            new RefusalRecorder(metrics), clock::get, new MemoryLimiterStore(1000, clock::get), broken);
        AuthChecks checks = new AuthChecks(guard.loginLimits());
        RecordingHook accepts = answering(HookReturnCode.ok());

        HookResult ok = login(checks, tlsSession(CLIENT), USER, accepts);
        HookResult wrong = login(checks, tlsSession(CLIENT), USER, new RecordingHook(HookResult.DECLINED));

        assertThat(ok.getResult()).isEqualTo(HookReturnCode.ok());
        assertThat(accepts.calls).hasSize(1);
        assertThat(wrong.getSmtpRetCode()).isEqualTo("535");
    }

    @Test
    void neverReturnsDeclined() {
        AuthChecks checks = checks("<maxFailuresPerConnection>0</maxFailuresPerConnection>"
            + "<clientBan><failures>0</failures></clientBan><accountThrottle><failures>0</failures></accountThrottle>");
        List<List<AuthHook>> chains = List.of(List.of(), List.of(new RecordingHook(HookResult.DECLINED)),
            List.of(new RecordingHook(null), new RecordingHook(HookResult.DECLINED)),
            List.of(answering(HookReturnCode.ok())), List.of(answering(HookReturnCode.deny())),
            List.of(answering(HookReturnCode.denySoft())),
            List.of(answering(HookReturnCode.disconnected(HookReturnCode.Action.DENY))));

        for (List<AuthHook> chain : chains) {
            HookResult result = checks.login(tlsSession(CLIENT), Username.of(USER), PASSWORD, chain);
            assertThat(result.getResult().getAction()).as("%s hooks", chain.size()).isNotEqualTo(HookReturnCode.Action.DECLINED);
        }
    }

    @Test
    void theAuditLinesNameTheLoginAndMechanismButNeverThePasswordOrTheSaslResponse() {
        AuthChecks checks = checks("<maxFailuresPerConnection>2</maxFailuresPerConnection>"
            + "<accountThrottle><failures>3</failures></accountThrottle><successAfterFailures><failures>2</failures></successAfterFailures>");
        FakeSmtpSession session = tlsSession(CLIENT);
        String base64 = Base64.getEncoder().encodeToString(("\0" + USER + "\0" + PASSWORD).getBytes(UTF_8));
        checks.atAuthCommand(session, "PLAIN " + base64, false);

        login(checks, session, "Alice@Example.com");
        login(checks, session, "Alice@Example.com"); // 421
        login(checks, tlsSession("192.0.2.20"), USER, answering(HookReturnCode.ok())); // suspicious
        login(checks, tlsSession("198.51.100.7"), USER); // the throttle starts
        login(checks, tlsSession("198.51.100.8"), USER); // 454

        List<String> lines = auditLines();
        assertThat(lines).as("the failure that closes the connection logs its 421 only").hasSize(6)
            .allSatisfy(line -> assertThat(line).doesNotContain(PASSWORD, base64, base64.substring(0, 12)))
            .anySatisfy(line -> assertThat(line).startsWith("outcome=signalled reason=auth.success-after-failures")
                .contains(" login=alice@example.com mechanism=PLAIN "))
            .anySatisfy(line -> assertThat(line).startsWith("outcome=throttled reason=auth.account-throttled"));
        assertThat(lines).filteredOn(line -> line.contains(" reply=")).hasSize(4)
            .allSatisfy(line -> assertThat(line).contains(" login=alice@example.com mechanism=PLAIN reply="));
    }
}
