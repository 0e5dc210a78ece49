package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class RelayPolicyRoutingTest {
    private static final LocalDomains EXAMPLE_COM_IS_LOCAL = domain -> domain.equals("example.com");
    private static final LocalDomains NOTHING_IS_LOCAL = domain -> false;

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static TrustedNetworks trusted() {
        return TrustedNetworks.of(List.of(IpNetwork.parse("192.0.2.0/24")));
    }

    private static RelayPolicy policy(Map<Rule, Mode> modes) {
        return RelayPolicy.of(trusted(), Set.of("backup.example"), List.of("192.0.2.25", "IPv6:2001:db8::25"),
            RuleModes.of(modes), SenderOwnershipMode.STRICT);
    }

    private static RelayPolicy rejectAll() {
        return policy(Map.of());
    }

    private static Map<Rule, Mode> modes(Object... ruleModePairs) {
        Map<Rule, Mode> map = new EnumMap<>(Rule.class);
        for (int i = 0; i < ruleModePairs.length; i += 2) {
            map.put((Rule) ruleModePairs[i], (Mode) ruleModePairs[i + 1]);
        }
        return map;
    }

    private static Client stranger() {
        return Client.of(ip("203.0.113.9"), null);
    }

    private static Client trustedClient() {
        return Client.of(ip("192.0.2.10"), null);
    }

    private static Client authenticated() {
        return Client.of(ip("203.0.113.9"), "alice@example.com");
    }

    static Stream<Arguments> tricks() {
        return Stream.of(
            Arguments.of("@a,@b:user@example.com", Reason.ROUTING_SOURCE_ROUTE, Rule.SOURCE_ROUTE),
            Arguments.of("user%remote.example@example.com", Reason.ROUTING_PERCENT_HACK, Rule.PERCENT_HACK),
            Arguments.of("remote.example!user@example.com", Reason.ROUTING_BANG_PATH, Rule.BANG_PATH),
            Arguments.of("\"user@remote.example\"@example.com", Reason.ROUTING_AT_IN_LOCAL_PART, Rule.AT_IN_LOCAL_PART),
            Arguments.of("user@remote.example@example.com", Reason.ROUTING_AT_IN_LOCAL_PART, Rule.AT_IN_LOCAL_PART),
            Arguments.of("user@[198.51.100.1]", Reason.ROUTING_IP_LITERAL, Rule.IP_LITERAL),
            Arguments.of("user@[IPv6:2001:db8::99]", Reason.ROUTING_IP_LITERAL, Rule.IP_LITERAL),
            Arguments.of("user", Reason.ROUTING_UNQUALIFIED, Rule.UNQUALIFIED_RECIPIENT));
    }

    @ParameterizedTest
    @MethodSource("tricks")
    void eachTrickIsRefused550(String address, Reason reason, Rule rule) {
        Verdict verdict = rejectAll().checkPath(SmtpPath.parse(address), true, stranger());
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(reason);
        assertThat(verdict.reason().rule()).isEqualTo(rule);
        assertThat(verdict.replyCode()).isEqualTo("550");
        assertThat(verdict.enhancedStatus()).isEqualTo("5.7.1");
        assertThat(verdict.replyLine()).startsWith("550 5.7.1 ");
        assertThat(verdict.passes()).isFalse();
    }

    static Stream<Arguments> qualifiedTricks() {
        return tricks().filter(arguments -> arguments.get()[1] != Reason.ROUTING_UNQUALIFIED);
    }

    @ParameterizedTest
    @MethodSource("qualifiedTricks")
    void routingTricksOtherThanUnqualifiedAreRefusedEvenForAuthenticatedAndTrusted(String address, Reason reason, Rule rule) {
        assertThat(rejectAll().checkPath(SmtpPath.parse(address), true, authenticated()).reason()).isEqualTo(reason);
        assertThat(rejectAll().checkPath(SmtpPath.parse(address), true, trustedClient()).outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(rejectAll().checkPath(SmtpPath.parse(address), false, stranger()).outcome()).isEqualTo(Outcome.REFUSED);
    }

    @Test
    void routingTextNamesTheTrick() {
        Verdict verdict = rejectAll().checkPath(SmtpPath.parse("a%b@example.com"), true, stranger());
        assertThat(verdict.text()).isEqualTo("Routing syntax not accepted: '%' in the local part (percent hack)");
        Verdict unqualified = rejectAll().checkPath(SmtpPath.parse("user"), true, stranger());
        assertThat(unqualified.text()).contains("Unqualified");
    }

    @Test
    void cleanAddressIsAddressOk() {
        Verdict verdict = rejectAll().checkPath(SmtpPath.parse("user@remote.example"), true, stranger());
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.ADDRESS_OK);
    }

    @Test
    void unqualifiedOnlyRefusedForRecipientFromStranger() {
        SmtpPath user = SmtpPath.parse("user");
        assertThat(rejectAll().checkPath(user, true, stranger()).reason()).isEqualTo(Reason.ROUTING_UNQUALIFIED);
        assertThat(rejectAll().checkPath(user, false, stranger()).isAllowed()).isTrue();
        assertThat(rejectAll().checkPath(user, true, authenticated()).isAllowed()).isTrue();
        assertThat(rejectAll().checkPath(user, true, trustedClient()).isAllowed()).isTrue();
        assertThat(rejectAll().checkPath(user, true, Client.of(null, null)).reason()).isEqualTo(Reason.ROUTING_UNQUALIFIED);
    }

    @Test
    void unqualifiedBangPathFromAuthenticatedStillRefusedAsBangPath() {
        Verdict verdict = rejectAll().checkPath(SmtpPath.parse("remote.example!user"), true, authenticated());
        assertThat(verdict.reason()).isEqualTo(Reason.ROUTING_BANG_PATH);
    }

    @Test
    void configuredLocalIpv4LiteralIsAllowed() {
        Verdict verdict = rejectAll().checkPath(SmtpPath.parse("user@[192.0.2.25]"), true, stranger());
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.ADDRESS_OK);
    }

    @Test
    void configuredLocalIpv6LiteralIsAllowedWhateverTheTagCase() {
        assertThat(rejectAll().checkPath(SmtpPath.parse("user@[IPv6:2001:db8::25]"), true, stranger()).isAllowed()).isTrue();
        assertThat(rejectAll().checkPath(SmtpPath.parse("user@[ipv6:2001:DB8:0:0::25]"), true, stranger()).isAllowed()).isTrue();
    }

    @Test
    void otherIpLiteralsAreRefusedWhenSomeAreLocal() {
        assertThat(rejectAll().checkPath(SmtpPath.parse("user@[192.0.2.26]"), true, stranger()).reason())
            .isEqualTo(Reason.ROUTING_IP_LITERAL);
        assertThat(rejectAll().checkPath(SmtpPath.parse("user@[IPv6:2001:db8::26]"), true, stranger()).reason())
            .isEqualTo(Reason.ROUTING_IP_LITERAL);
        assertThat(rejectAll().checkPath(SmtpPath.parse("user@[not-an-ip]"), true, stranger()).reason())
            .isEqualTo(Reason.ROUTING_IP_LITERAL);
    }

    @Test
    void localIpLiteralOtherTricksStillCount() {
        Verdict verdict = rejectAll().checkPath(SmtpPath.parse("a%b@[192.0.2.25]"), true, stranger());
        assertThat(verdict.reason()).isEqualTo(Reason.ROUTING_PERCENT_HACK);
    }

    @Test
    void isLocalIpLiteral() {
        RelayPolicy policy = rejectAll();
        assertThat(policy.isLocalIpLiteral("[192.0.2.25]")).isTrue();
        assertThat(policy.isLocalIpLiteral("[IPv6:2001:db8::25]")).isTrue();
        assertThat(policy.isLocalIpLiteral("[192.0.2.24]")).isFalse();
        // James's MailAddress gives the domain of user@[192.0.2.25] back without brackets: the same literal.
        assertThat(policy.isLocalIpLiteral("192.0.2.25")).isTrue();
        assertThat(policy.isLocalIpLiteral("192.0.2.24")).isFalse();
        assertThat(policy.isLocalIpLiteral("[not an ip]")).isFalse();
        assertThat(RelayPolicy.closed().isLocalIpLiteral("[192.0.2.25]")).isFalse();
    }

    @ParameterizedTest
    @MethodSource("tricks")
    void deferModeGives450(String address, Reason reason, Rule rule) {
        Verdict verdict = policy(modes(rule, Mode.DEFER)).checkPath(SmtpPath.parse(address), true, stranger());
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.reason()).isEqualTo(reason);
        assertThat(verdict.replyCode()).isEqualTo("450");
        assertThat(verdict.enhancedStatus()).isEqualTo("4.7.1");
        assertThat(verdict.passes()).isFalse();
    }

    @ParameterizedTest
    @MethodSource("tricks")
    void monitorModePassesButKeepsReply(String address, Reason reason, Rule rule) {
        Verdict verdict = policy(modes(rule, Mode.MONITOR)).checkPath(SmtpPath.parse(address), true, stranger());
        assertThat(verdict.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(verdict.reason()).isEqualTo(reason);
        assertThat(verdict.passes()).isTrue();
        assertThat(verdict.isAllowed()).isFalse();
        assertThat(verdict.isRecorded()).isTrue();
        assertThat(verdict.replyLine()).startsWith("550 5.7.1 ");
    }

    @ParameterizedTest
    @MethodSource("tricks")
    void offModeSkips(String address, Reason reason, Rule rule) {
        Verdict verdict = policy(modes(rule, Mode.OFF)).checkPath(SmtpPath.parse(address), true, stranger());
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.ADDRESS_OK);
    }

    @Test
    void offForOneRuleDoesNotSkipAnother() {
        Verdict verdict = policy(modes(Rule.PERCENT_HACK, Mode.OFF)).checkPath(SmtpPath.parse("a!b%c@d.example"), true, stranger());
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.ROUTING_BANG_PATH);
    }

    @Test
    void strictestWinsRejectBeatsEarlierMonitor() {
        RelayPolicy policy = policy(modes(Rule.PERCENT_HACK, Mode.MONITOR, Rule.BANG_PATH, Mode.REJECT));
        Verdict verdict = policy.checkPath(SmtpPath.parse("a!b%c@d.example"), true, stranger());
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.ROUTING_BANG_PATH);
        assertThat(verdict.replyLine()).startsWith("550 5.7.1 ");
    }

    @Test
    void allMonitorGivesFirstMonitored() {
        RelayPolicy policy = policy(modes(Rule.PERCENT_HACK, Mode.MONITOR, Rule.BANG_PATH, Mode.MONITOR));
        Verdict verdict = policy.checkPath(SmtpPath.parse("a!b%c@d.example"), true, stranger());
        assertThat(verdict.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(verdict.reason()).isEqualTo(Reason.ROUTING_PERCENT_HACK);
    }

    @Test
    void monitorThenOffGivesMonitored() {
        RelayPolicy policy = policy(modes(Rule.PERCENT_HACK, Mode.OFF, Rule.BANG_PATH, Mode.MONITOR));
        Verdict verdict = policy.checkPath(SmtpPath.parse("a!b%c@d.example"), true, stranger());
        assertThat(verdict.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(verdict.reason()).isEqualTo(Reason.ROUTING_BANG_PATH);
    }

    // decide()

    @Test
    void relayDeferModeGives450() {
        Verdict verdict = policy(modes(Rule.RELAY, Mode.DEFER))
            .decide(RelayRequest.of(stranger(), "remote.example"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_UNAUTHENTICATED);
        assertThat(verdict.replyCode()).isEqualTo("450");
        assertThat(verdict.enhancedStatus()).isEqualTo("4.7.1");
        assertThat(verdict.text()).contains("remote.example");
    }

    @Test
    void relayRejectGives550() {
        Verdict verdict = rejectAll().decide(RelayRequest.of(stranger(), "remote.example"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_UNAUTHENTICATED);
        assertThat(verdict.replyLine()).startsWith("550 5.7.1 Relaying denied");
    }

    @Test
    void relayMonitorPasses() {
        Verdict verdict = policy(modes(Rule.RELAY, Mode.MONITOR))
            .decide(RelayRequest.of(stranger(), "remote.example"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(verdict.passes()).isTrue();
    }

    @Test
    void plaintextAuthIgnoredIsToldAboutTls() {
        Client client = Client.of(ip("203.0.113.9"), null, true, ListenerRole.MX);
        Verdict verdict = rejectAll().decide(RelayRequest.of(client, "remote.example"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_PLAINTEXT_AUTH);
        assertThat(verdict.replyCode()).isEqualTo("550");
        assertThat(verdict.enhancedStatus()).isEqualTo("5.7.1");
        assertThat(verdict.text()).contains("TLS");
    }

    @Test
    void plaintextAuthIgnoredStillMaySendToLocalDomain() {
        Client client = Client.of(ip("203.0.113.9"), null, true, ListenerRole.MX);
        Verdict verdict = rejectAll().decide(RelayRequest.of(client, "example.com"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.reason()).isEqualTo(Reason.LOCAL_DOMAIN);
    }

    @Test
    void localIpLiteralDomainIsLocal() {
        Verdict verdict = rejectAll().decide(RelayRequest.of(stranger(), "[192.0.2.25]"), NOTHING_IS_LOCAL);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.LOCAL_DOMAIN);
        Verdict v6 = rejectAll().decide(RelayRequest.of(stranger(), "[IPv6:2001:db8::25]"), NOTHING_IS_LOCAL);
        assertThat(v6.reason()).isEqualTo(Reason.LOCAL_DOMAIN);
    }

    @Test
    void otherIpLiteralDomainIsRelay() {
        Verdict verdict = rejectAll().decide(RelayRequest.of(stranger(), "[192.0.2.26]"), NOTHING_IS_LOCAL);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_UNAUTHENTICATED);
    }

    @Test
    void domainLookupFailureIsDeferredWhateverTheRelayMode() {
        LocalDomains failing = domain -> {
            throw new LocalDomains.LookupFailedException("down", null);
        };
        for (Mode mode : new Mode[] {Mode.REJECT, Mode.DEFER, Mode.MONITOR}) {
            Verdict verdict = policy(modes(Rule.RELAY, mode)).decide(RelayRequest.of(stranger(), "remote.example"), failing);
            assertThat(verdict.outcome()).as(mode.name()).isEqualTo(Outcome.DEFERRED);
            assertThat(verdict.reason()).isEqualTo(Reason.LOCAL_DOMAIN_LOOKUP_FAILED);
            assertThat(verdict.replyLine()).startsWith("451 4.3.0 ");
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"REJECT", "DEFER", "MONITOR"})
    void relayDomainAllowedWhateverTheMode(Mode mode) {
        Verdict verdict = policy(modes(Rule.RELAY, mode)).decide(RelayRequest.of(stranger(), "Backup.Example."), NOTHING_IS_LOCAL);
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_DOMAIN);
        assertThat(verdict.isAllowed()).isTrue();
    }

    @Test
    void rejectBeatsDeferWhateverTheOrderOfTheTricks() {
        java.util.Map<Rule, Mode> modes = new java.util.EnumMap<>(Rule.class);
        modes.put(Rule.PERCENT_HACK, Mode.DEFER);
        modes.put(Rule.BANG_PATH, Mode.REJECT);
        RelayPolicy policy = RelayPolicy.of(TrustedNetworks.none(), java.util.Set.of(), java.util.List.of(),
            RuleModes.of(modes), SenderOwnershipMode.STRICT);
        Verdict verdict = policy.checkPath(SmtpPath.parse("a!b%c@d.example"), true,
            Client.of(null, null, false, ListenerRole.MX));
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.ROUTING_BANG_PATH);
    }

    // Paths James cannot parse, address length, local IP literals (the handler's questions, asked of the core)

    @Test
    void unparseablePathWithABracketAnywhereIsJamesSyntaxErrorNotATrick() {
        // first character included: "<<user@remote@local>" and "<>user@remote@local>" leave a bracket at index 0
        for (String argument : List.of("TO:<<user@remote.example@example.com>", "TO:<>user@remote.example@example.com>",
            "TO:<user@remote.example@example.com> ORCPT=rfc822;<x@y>")) {
            Verdict verdict = rejectAll().checkUnparseablePath(SmtpArgument.ofRcpt(argument), true, stranger());
            assertThat(verdict.isAllowed()).as(argument).isTrue();
            assertThat(verdict.reason()).as(argument).isEqualTo(Reason.ADDRESS_OK);
        }
    }

    @Test
    void unparseablePathWithoutBracketsIsReadForTricks() {
        Verdict verdict = rejectAll().checkUnparseablePath(
            SmtpArgument.ofRcpt("TO:<user@remote.example@example.com>"), true, stranger());
        assertThat(verdict.replyLine()).isEqualTo("550 5.7.1 Routing syntax not accepted: '@' in the local part");
        assertThat(verdict.reason()).isEqualTo(Reason.ROUTING_AT_IN_LOCAL_PART);
    }

    @Test
    void addressLengthStopsAt254Characters() {
        String longest = "a".repeat(254 - "@example.com".length()) + "@example.com";
        assertThat(longest).hasSize(RelayPolicy.MAX_ADDRESS_LENGTH);
        assertThat(rejectAll().checkAddressLength(longest, true).reason()).isEqualTo(Reason.ADDRESS_OK);
        assertThat(rejectAll().checkAddressLength(null, false).reason()).isEqualTo(Reason.ADDRESS_OK);

        Verdict recipient = rejectAll().checkAddressLength("b" + longest, true);
        assertThat(recipient.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(recipient.reason()).isEqualTo(Reason.ADDRESS_TOO_LONG);
        assertThat(recipient.replyLine()).isEqualTo("553 5.1.3 Recipient address too long: 255 characters, at most 254"
            + " (RFC 5321 section 4.5.3.1.3)");
        Verdict sender = rejectAll().checkAddressLength("b" + longest, false);
        assertThat(sender.replyLine()).isEqualTo("553 5.1.7 Sender address too long: 255 characters, at most 254"
            + " (RFC 5321 section 4.5.3.1.3)");
    }

    @Test
    void localIpLiteralsMatchByAddressNotBySpelling() {
        RelayPolicy policy = rejectAll(); // 192.0.2.25 and IPv6:2001:db8::25 are local
        assertThat(policy.isLocalIpLiteral("[192.0.2.25]")).isTrue();
        assertThat(policy.isLocalIpLiteral("192.0.2.25")).as("as MailAddress gives it back").isTrue();
        assertThat(policy.isLocalIpLiteral("[IPv6:2001:db8::25]")).isTrue();
        assertThat(policy.isLocalIpLiteral("[IPv6:2001:DB8:0:0:0:0:0:25]")).isTrue();
        assertThat(policy.isLocalIpLiteral("[IPv6:::ffff:192.0.2.25]")).as("IPv4-mapped").isTrue();
        // the last four bytes of 2001:db8::25 are 0.0.0.37: an IPv6 literal is never cut to IPv4
        assertThat(policy.isLocalIpLiteral("[0.0.0.37]")).isFalse();
        assertThat(policy.isLocalIpLiteral("[192.0.2.26]")).isFalse();
        assertThat(policy.isLocalIpLiteral("[not-an-ip]")).isFalse();
        assertThat(RelayPolicy.of(trusted(), Set.of()).isLocalIpLiteral("[192.0.2.25]")).as("none configured").isFalse();
    }

    @Test
    void modesAreTheConfiguredOnes() {
        RuleModes modes = RuleModes.of(modes(Rule.PERCENT_HACK, Mode.MONITOR));
        RelayPolicy policy = RelayPolicy.of(trusted(), Set.of(), List.of(), modes, SenderOwnershipMode.STRICT);
        assertThat(policy.modes()).isSameAs(modes);
    }
}
