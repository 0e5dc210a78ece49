package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.mockito.Mockito.when;

import java.net.InetAddress;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.mockito.Mockito;
import org.mockito.MockitoSession;
import org.mockito.quality.Strictness;

class RelayPolicySenderTest {
    private static final LocalDomains EXAMPLE_COM_IS_LOCAL = domain -> domain.equals("example.com");
    private static final LocalDomains FAILING_DOMAINS = domain -> {
        throw new LocalDomains.LookupFailedException("DomainList down", null);
    };

    private SenderOwnership ownership;
    /**
     * Strict stubs: a stub called with other arguments fails the test (PotentialStubbingProblem) and a stub never
     * called fails it at the end (UnnecessaryStubbingException), so no test passes on Mockito's default answer.
     */
    private MockitoSession mockito;

    @BeforeEach
    void setUp() {
        mockito = Mockito.mockitoSession().strictness(Strictness.STRICT_STUBS).startMocking();
        ownership = mock(SenderOwnership.class);
    }

    @AfterEach
    void strictStubs() {
        mockito.finishMocking();
    }

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static RelayPolicy policy(SenderOwnershipMode ownershipMode, Object... ruleModePairs) {
        Map<Rule, Mode> map = new EnumMap<>(Rule.class);
        for (int i = 0; i < ruleModePairs.length; i += 2) {
            map.put((Rule) ruleModePairs[i], (Mode) ruleModePairs[i + 1]);
        }
        return RelayPolicy.of(TrustedNetworks.of(List.of(IpNetwork.parse("192.0.2.0/24"))), Set.of(), List.of(),
            RuleModes.of(map), ownershipMode);
    }

    private static RelayPolicy strict() {
        return policy(SenderOwnershipMode.STRICT);
    }

    private static Client submission(String user) {
        return Client.of(ip("203.0.113.9"), user, false, ListenerRole.SUBMISSION);
    }

    private static Client mxStranger() {
        return Client.of(ip("203.0.113.9"), null, false, ListenerRole.MX);
    }

    private static Client mxTrusted() {
        return Client.of(ip("192.0.2.10"), null, false, ListenerRole.MX);
    }

    // Submission AUTH

    @Test
    void submissionWithoutUserNeedsAuth() {
        Verdict verdict = strict().decideSender(submission(null), "alice@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.SUBMISSION_AUTH_REQUIRED);
        assertThat(verdict.replyCode()).isEqualTo("530");
        assertThat(verdict.enhancedStatus()).isEqualTo("5.7.0");
        assertThat(verdict.text()).isEqualTo("Authentication required");
        verifyNoInteractions(ownership);
    }

    @Test
    void submissionWithoutUserNeedsAuthEvenForNullSender() {
        Verdict verdict = strict().decideSender(submission(null), null, EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.reason()).isEqualTo(Reason.SUBMISSION_AUTH_REQUIRED);
        assertThat(verdict.replyLine()).isEqualTo("530 5.7.0 Authentication required");
    }

    @Test
    void submissionPlaintextAuthIgnoredIsToldAboutTls() {
        Client client = Client.of(ip("203.0.113.9"), null, true, ListenerRole.SUBMISSION);
        Verdict verdict = strict().decideSender(client, "alice@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.reason()).isEqualTo(Reason.SUBMISSION_AUTH_REQUIRED);
        assertThat(verdict.replyCode()).isEqualTo("530");
        assertThat(verdict.text()).startsWith("Authentication required").contains("TLS");
    }

    @Test
    void submissionAuthDeferGives454() {
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.SUBMISSION_AUTH, Mode.DEFER)
            .decideSender(submission(null), "alice@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.replyLine()).isEqualTo("454 4.7.0 Authentication required");
    }

    @Test
    void submissionAuthOffLetsUnauthenticatedThrough() {
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.SUBMISSION_AUTH, Mode.OFF)
            .decideSender(submission(null), "someone@remote.example", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
    }

    /*
     * BUG: RelayPolicy.decideSender (src/main/java/dev/relayguard/core/RelayPolicy.java, lines 144-150) drops a
     * MONITORED submission-auth verdict: when rules.submissionAuth=monitor, modes.apply(...) gives MONITORED, which
     * passes(), so the method falls through and returns allow(SENDER_OK). The caller (RelayGuardHandler.checkMail,
     * which calls decideSender(client, null) and only records verdicts that are not isAllowed()) therefore never
     * logs or counts "would have refused", contrary to Mode.MONITOR ("Accept, but log and count what would have
     * been refused"). Expected: MONITORED / SUBMISSION_AUTH_REQUIRED / "530 5.7.0 Authentication required";
     * actual: ALLOWED / SENDER_OK.
     */
    @Test
    void submissionAuthMonitorIsReportedAsMonitored() {
        RelayPolicy policy = policy(SenderOwnershipMode.STRICT, Rule.SUBMISSION_AUTH, Mode.MONITOR);
        Verdict nullSender = policy.decideSender(submission(null), null, EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(nullSender.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(nullSender.reason()).isEqualTo(Reason.SUBMISSION_AUTH_REQUIRED);
        assertThat(nullSender.replyLine()).isEqualTo("530 5.7.0 Authentication required");
        Verdict foreignSender = policy.decideSender(submission(null), "x@remote.example", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(foreignSender.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(foreignSender.reason()).isEqualTo(Reason.SUBMISSION_AUTH_REQUIRED);
    }

    @Test
    void submissionAuthMonitorPasses() {
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.SUBMISSION_AUTH, Mode.MONITOR)
            .decideSender(submission(null), null, EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.passes()).isTrue();
    }

    // Authenticated users

    @Test
    void nullSenderAllowedForAuthenticatedUser() {
        Verdict verdict = strict().decideSender(submission("alice@example.com"), null, EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_OK);
        verifyNoInteractions(ownership);
    }

    @Test
    void strictOwnAddressAllowedWithoutAskingOwnership() {
        Verdict verdict = strict().decideSender(submission("alice@example.com"), "Alice@EXAMPLE.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_OK);
        verifyNoInteractions(ownership);
    }

    @Test
    void strictOtherAddressNotOwnedIsRefused553() throws Exception {
        when(ownership.owns("alice@example.com", "bob@example.com")).thenReturn(false);
        Verdict verdict = strict().decideSender(submission("alice@example.com"), "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_NOT_OWNED);
        assertThat(verdict.replyLine()).isEqualTo("553 5.7.1 Sender address not owned by authenticated user");
        verify(ownership).owns("alice@example.com", "bob@example.com");
    }

    @Test
    void strictOtherAddressOwnedIsAllowed() throws Exception {
        when(ownership.owns("alice@example.com", "alias@example.com")).thenReturn(true);
        Verdict verdict = strict().decideSender(submission("alice@example.com"), "alias@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_OK);
        verify(ownership).owns("alice@example.com", "alias@example.com");
    }

    @Test
    void strictForeignDomainIsCheckedToo() throws Exception {
        when(ownership.owns(anyString(), anyString())).thenReturn(false);
        Verdict verdict = strict().decideSender(submission("alice@example.com"), "ceo@remote.example", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_NOT_OWNED);
        verify(ownership).owns("alice@example.com", "ceo@remote.example");
    }

    @Test
    void authenticatedUserOnMxRoleIsCheckedLikeSubmission() throws Exception {
        when(ownership.owns(anyString(), anyString())).thenReturn(false);
        Client client = Client.of(ip("203.0.113.9"), "alice@example.com", false, ListenerRole.MX);
        Verdict verdict = strict().decideSender(client, "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_NOT_OWNED);
    }

    @Test
    void knownOnlyForeignDomainAllowedWithoutAskingOwnership() {
        Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
            .decideSender(submission("alice@example.com"), "alice@gmail.example", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        verifyNoInteractions(ownership);
    }

    @Test
    void knownOnlyLocalDomainIsChecked() throws Exception {
        when(ownership.owns("alice@example.com", "bob@Example.COM")).thenReturn(false);
        Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
            .decideSender(submission("alice@example.com"), "bob@Example.COM", EXAMPLE_COM_IS_LOCAL, ownership);
        // the domain is compared canonically, but the address is handed on as written
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_NOT_OWNED);
        verify(ownership).owns("alice@example.com", "bob@Example.COM");
    }

    @Test
    void knownOnlyLocalDomainOwnedAsWrittenIsAllowed() throws Exception {
        // the answer for the address as written decides (a stub for another spelling would fail this test)
        when(ownership.owns("alice@example.com", "bob@Example.COM")).thenReturn(true);
        Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
            .decideSender(submission("alice@example.com"), "bob@Example.COM", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_OK);
    }

    @Test
    void knownOnlyLocalDomainOwnedIsAllowed() throws Exception {
        when(ownership.owns("alice@example.com", "bob@example.com")).thenReturn(true);
        Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
            .decideSender(submission("alice@example.com"), "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
    }

    @Test
    void ownershipModeOffAllowsAnything() {
        RelayPolicy policy = policy(SenderOwnershipMode.OFF);
        assertThat(policy.decideSender(submission("alice@example.com"), "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership)
            .isAllowed()).isTrue();
        assertThat(policy.decideSender(submission("alice@example.com"), "x@remote.example", EXAMPLE_COM_IS_LOCAL, ownership)
            .isAllowed()).isTrue();
        verifyNoInteractions(ownership);
    }

    @Test
    void senderOwnershipRuleOffAllowsAnything() {
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.SENDER_OWNERSHIP, Mode.OFF)
            .decideSender(submission("alice@example.com"), "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        verifyNoInteractions(ownership);
    }

    @Test
    void ownershipLookupFailureIsDeferred() throws Exception {
        when(ownership.owns(anyString(), anyString()))
            .thenThrow(new LocalDomains.LookupFailedException("RRT down", null));
        Verdict verdict = strict().decideSender(submission("alice@example.com"), "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOOKUP_FAILED);
        assertThat(verdict.replyCode()).isEqualTo("451");
        assertThat(verdict.enhancedStatus()).isEqualTo("4.3.0");
        assertThat(verdict.passes()).isFalse();
    }

    @Test
    void ownershipLookupFailureIsDeferredEvenWhenRuleMonitors() throws Exception {
        when(ownership.owns(anyString(), anyString()))
            .thenThrow(new LocalDomains.LookupFailedException("RRT down", null));
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.SENDER_OWNERSHIP, Mode.MONITOR)
            .decideSender(submission("alice@example.com"), "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOOKUP_FAILED);
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
    }

    @Test
    void knownOnlyDomainLookupFailureIsDeferred() {
        Verdict verdict = policy(SenderOwnershipMode.KNOWN_ONLY)
            .decideSender(submission("alice@example.com"), "bob@example.com", FAILING_DOMAINS, ownership);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOOKUP_FAILED);
        assertThat(verdict.replyLine()).startsWith("451 4.3.0 ");
    }

    @Test
    void senderOwnershipMonitorIsMonitored() throws Exception {
        when(ownership.owns(anyString(), anyString())).thenReturn(false);
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.SENDER_OWNERSHIP, Mode.MONITOR)
            .decideSender(submission("alice@example.com"), "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_NOT_OWNED);
        assertThat(verdict.passes()).isTrue();
        assertThat(verdict.replyLine()).isEqualTo("553 5.7.1 Sender address not owned by authenticated user");
    }

    @Test
    void senderOwnershipDeferGives450() throws Exception {
        when(ownership.owns(anyString(), anyString())).thenReturn(false);
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.SENDER_OWNERSHIP, Mode.DEFER)
            .decideSender(submission("alice@example.com"), "bob@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.replyLine()).isEqualTo("450 4.7.1 Sender address not owned by authenticated user");
    }

    // Local sender spoofing on the MX role

    @Test
    void mxStrangerWithLocalSenderIsRefused() {
        Verdict verdict = strict().decideSender(mxStranger(), "ceo@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOCAL_SPOOF);
        assertThat(verdict.replyCode()).isEqualTo("550");
        assertThat(verdict.enhancedStatus()).isEqualTo("5.7.1");
        verifyNoInteractions(ownership);
    }

    @Test
    void mxStrangerWithLocalSenderInOtherCaseIsRefused() {
        Verdict verdict = strict().decideSender(mxStranger(), "ceo@EXAMPLE.com.", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOCAL_SPOOF);
    }

    @Test
    void mxStrangerWithForeignSenderIsAllowed() {
        Verdict verdict = strict().decideSender(mxStranger(), "someone@remote.example", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_OK);
    }

    @Test
    void mxStrangerWithNullSenderIsAllowed() {
        Verdict verdict = strict().decideSender(mxStranger(), null, EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
    }

    @Test
    void mxTrustedWithLocalSenderIsAllowed() {
        Verdict verdict = strict().decideSender(mxTrusted(), "ceo@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_OK);
    }

    @Test
    void submissionStrangerWithLocalSenderGetsAuthRequired() {
        Client client = Client.of(ip("203.0.113.9"), null, false, ListenerRole.SUBMISSION);
        Verdict verdict = strict().decideSender(client, "ceo@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.reason()).isEqualTo(Reason.SUBMISSION_AUTH_REQUIRED);
        assertThat(verdict.replyLine()).startsWith("530 5.7.0 ");
    }

    @Test
    void localSenderSpoofRuleOffAllows() {
        LocalDomains domains = mock(LocalDomains.class);
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.LOCAL_SENDER_SPOOF, Mode.OFF)
            .decideSender(mxStranger(), "ceo@example.com", domains, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        verifyNoInteractions(domains);
    }

    @Test
    void localSenderSpoofMonitorIsMonitored() {
        Verdict verdict = policy(SenderOwnershipMode.STRICT, Rule.LOCAL_SENDER_SPOOF, Mode.MONITOR)
            .decideSender(mxStranger(), "ceo@example.com", EXAMPLE_COM_IS_LOCAL, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOCAL_SPOOF);
    }

    @Test
    void mxStrangerDomainLookupFailureIsDeferred() {
        Verdict verdict = strict().decideSender(mxStranger(), "ceo@example.com", FAILING_DOMAINS, ownership);
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.reason()).isEqualTo(Reason.SENDER_LOOKUP_FAILED);
    }

    @Test
    void mxTrustedDoesNotNeedDomainLookup() throws Exception {
        LocalDomains domains = mock(LocalDomains.class);
        Verdict verdict = strict().decideSender(mxTrusted(), "ceo@example.com", domains, ownership);
        assertThat(verdict.isAllowed()).isTrue();
        verify(domains, never()).isLocal(anyString());
    }
}
