package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.core.SmtpPath.Trick;

class SmtpPathTest {

    @Test
    void nullPathIsNull() {
        SmtpPath path = SmtpPath.parse("");
        assertThat(path.isNull()).isTrue();
        assertThat(path.tricks()).isEmpty();
        assertThat(path.domain()).isNull();
        assertThat(SmtpPath.parse(" ").isNull()).isTrue();
        assertThat(SmtpPath.parse("a@b").isNull()).isFalse();
    }

    @Test
    void plainAddress() {
        SmtpPath path = SmtpPath.parse("a@b");
        assertThat(path.raw()).isEqualTo("a@b");
        assertThat(path.localPart()).isEqualTo("a");
        assertThat(path.domain()).isEqualTo("b");
        assertThat(path.tricks()).isEmpty();
    }

    @Test
    void sourceRoute() {
        SmtpPath path = SmtpPath.parse("@a,@b:user@dom.example");
        assertThat(path.tricks()).containsExactly(Trick.SOURCE_ROUTE);
        assertThat(path.has(Trick.SOURCE_ROUTE)).isTrue();
        assertThat(path.localPart()).isEqualTo("user");
        assertThat(path.domain()).isEqualTo("dom.example");
        assertThat(path.raw()).isEqualTo("@a,@b:user@dom.example");
    }

    @Test
    void sourceRouteOfARcptArgument() {
        SmtpPath path = SmtpPath.parse(SmtpArgument.ofRcpt("TO:<@relay.example:victim@target.example>").path());
        assertThat(path.tricks()).containsExactly(Trick.SOURCE_ROUTE);
        assertThat(path.domain()).isEqualTo("target.example");
    }

    @Test
    void percentHack() {
        SmtpPath path = SmtpPath.parse("user%remote.example@local.example");
        assertThat(path.tricks()).containsExactly(Trick.PERCENT_HACK);
        assertThat(path.localPart()).isEqualTo("user%remote.example");
        assertThat(path.domain()).isEqualTo("local.example");
    }

    @Test
    void bangPathWithDomain() {
        SmtpPath path = SmtpPath.parse("remote.example!user@local.example");
        assertThat(path.tricks()).containsExactly(Trick.BANG_PATH);
        assertThat(path.domain()).isEqualTo("local.example");
    }

    @Test
    void bareBangPathIsAlsoUnqualified() {
        SmtpPath path = SmtpPath.parse("remote.example!user");
        assertThat(path.tricks()).containsExactly(Trick.BANG_PATH, Trick.UNQUALIFIED);
        assertThat(path.domain()).isNull();
    }

    @Test
    void quotedAtInLocalPart() {
        SmtpPath path = SmtpPath.parse("\"user@remote.example\"@local.example");
        assertThat(path.tricks()).containsExactly(Trick.AT_IN_LOCAL_PART);
        assertThat(path.localPart()).isEqualTo("user@remote.example");
        assertThat(path.domain()).isEqualTo("local.example");
    }

    @Test
    void unquotedDoubleAtIsAtInLocalPart() {
        SmtpPath path = SmtpPath.parse("user@remote.example@local.example");
        assertThat(path.tricks()).containsExactly(Trick.AT_IN_LOCAL_PART);
        assertThat(path.localPart()).isEqualTo("user@remote.example");
        assertThat(path.domain()).isEqualTo("local.example");
    }

    @Test
    void ipv4Literal() {
        SmtpPath path = SmtpPath.parse("user@[192.0.2.1]");
        assertThat(path.tricks()).containsExactly(Trick.IP_LITERAL);
        assertThat(path.ipLiteral()).isEqualTo("192.0.2.1");
        assertThat(path.domain()).isEqualTo("[192.0.2.1]");
    }

    @Test
    void ipv6LiteralKeepsTagLowerCased() {
        SmtpPath path = SmtpPath.parse("user@[IPv6:2001:db8::1]");
        assertThat(path.tricks()).containsExactly(Trick.IP_LITERAL);
        assertThat(path.ipLiteral()).isEqualTo("ipv6:2001:db8::1");
    }

    @Test
    void ordinaryDomainHasNoIpLiteral() {
        assertThat(SmtpPath.parse("user@example.com").ipLiteral()).isNull();
        assertThat(SmtpPath.parse("user").ipLiteral()).isNull();
    }

    @Test
    void bareUserIsUnqualified() {
        SmtpPath path = SmtpPath.parse("user");
        assertThat(path.tricks()).containsExactly(Trick.UNQUALIFIED);
        assertThat(path.localPart()).isEqualTo("user");
        assertThat(path.domain()).isNull();
    }

    @Test
    void userWithEmptyDomainIsUnqualified() {
        SmtpPath path = SmtpPath.parse("user@");
        assertThat(path.tricks()).containsExactly(Trick.UNQUALIFIED);
        assertThat(path.domain()).isNull();
    }

    @ParameterizedTest
    @ValueSource(strings = {"postmaster", "PostMaster", "POSTMASTER"})
    void postmasterIsNotUnqualified(String postmaster) {
        SmtpPath path = SmtpPath.parse(postmaster);
        assertThat(path.tricks()).isEmpty();
        assertThat(path.has(Trick.UNQUALIFIED)).isFalse();
        assertThat(path.localPart()).isEqualTo(postmaster);
    }

    @Test
    void closingBracketInsideQuotesOfARcptArgument() {
        SmtpPath path = SmtpPath.parse(SmtpArgument.ofRcpt("TO:<\"a>b\"@x.example>").path());
        assertThat(path.raw()).isEqualTo("\"a>b\"@x.example");
        assertThat(path.localPart()).isEqualTo("a>b");
        assertThat(path.domain()).isEqualTo("x.example");
        assertThat(path.tricks()).isEmpty();
    }

    @Test
    void quotedLocalPartWithClosingBracketParsesDirectly() {
        SmtpPath path = SmtpPath.parse("\"quoted with > inside\"@x.example");
        assertThat(path.localPart()).isEqualTo("quoted with > inside");
        assertThat(path.domain()).isEqualTo("x.example");
        assertThat(path.tricks()).isEmpty();
    }

    @Test
    void escapedQuoteInsideQuotedLocalPart() {
        SmtpPath path = SmtpPath.parse("\"a\\\"b\"@x.example");
        assertThat(path.localPart()).isEqualTo("a\"b");
        assertThat(path.domain()).isEqualTo("x.example");
        assertThat(path.tricks()).isEmpty();
    }

    @Test
    void escapedQuoteDoesNotEndQuotingForClosingBracket() {
        SmtpPath path = SmtpPath.parse(SmtpArgument.ofRcpt("TO:<\"a\\\">b\"@x.example> NOTIFY=NEVER").path());
        assertThat(path.localPart()).isEqualTo("a\">b");
        assertThat(path.domain()).isEqualTo("x.example");
    }

    @Test
    void cleanAddressHasNoTricks() {
        SmtpPath path = SmtpPath.parse("user@example.com");
        assertThat(path.tricks()).isEmpty();
        for (Trick trick : Trick.values()) {
            assertThat(path.has(trick)).as(trick.name()).isFalse();
        }
        assertThat(path.localPart()).isEqualTo("user");
        assertThat(path.domain()).isEqualTo("example.com");
    }

    @Test
    void tricksAreReportedInEnumOrder() {
        // Written in the opposite order of the enum: IP literal, bang, percent, at, source route.
        SmtpPath path = SmtpPath.parse("@route.example:x!y%z@w@[192.0.2.1]");
        assertThat(path.tricks()).containsExactly(
            Trick.SOURCE_ROUTE, Trick.AT_IN_LOCAL_PART, Trick.PERCENT_HACK, Trick.BANG_PATH, Trick.IP_LITERAL);
    }

    @Test
    void tricksMapToTheirReasons() {
        assertThat(Trick.SOURCE_ROUTE.reason()).isEqualTo(Reason.ROUTING_SOURCE_ROUTE);
        assertThat(Trick.AT_IN_LOCAL_PART.reason()).isEqualTo(Reason.ROUTING_AT_IN_LOCAL_PART);
        assertThat(Trick.PERCENT_HACK.reason()).isEqualTo(Reason.ROUTING_PERCENT_HACK);
        assertThat(Trick.BANG_PATH.reason()).isEqualTo(Reason.ROUTING_BANG_PATH);
        assertThat(Trick.IP_LITERAL.reason()).isEqualTo(Reason.ROUTING_IP_LITERAL);
        assertThat(Trick.UNQUALIFIED.reason()).isEqualTo(Reason.ROUTING_UNQUALIFIED);
    }

    @Test
    void tricksSetIsACopy() {
        SmtpPath path = SmtpPath.parse("a%b@c.example");
        try {
            path.tricks().clear();
        } catch (UnsupportedOperationException ignored) {
            // an unmodifiable view is fine too
        }
        assertThat(path.tricks()).containsExactly(Trick.PERCENT_HACK);
    }

    // ofAddress: the address as James's MailAddress recorded it (local part as written, IP-literal brackets dropped)

    @Test
    void ofAddressCleanAddress() {
        SmtpPath path = SmtpPath.ofAddress("user", "relayguard.test");
        assertThat(path.tricks()).isEmpty();
        assertThat(path.localPart()).isEqualTo("user");
        assertThat(path.domain()).isEqualTo("relayguard.test");
        assertThat(path.raw()).isEqualTo("user@relayguard.test");
        assertThat(path.isNull()).isFalse();
        assertThat(path.ipLiteral()).isNull();
    }

    @Test
    void ofAddressQuotedLocalPartWithAt() {
        SmtpPath path = SmtpPath.ofAddress("\"user@remote.example\"", "relayguard.test");
        assertThat(path.tricks()).containsExactly(Trick.AT_IN_LOCAL_PART);
        assertThat(path.localPart()).isEqualTo("user@remote.example");
        assertThat(path.domain()).isEqualTo("relayguard.test");
    }

    @Test
    void ofAddressQuotedLocalPartWithEscapedAt() {
        SmtpPath path = SmtpPath.ofAddress("\"user\\@remote.example\"", "relayguard.test");
        assertThat(path.tricks()).containsExactly(Trick.AT_IN_LOCAL_PART);
        assertThat(path.localPart()).isEqualTo("user@remote.example");
    }

    @Test
    void ofAddressPercentHack() {
        SmtpPath path = SmtpPath.ofAddress("user%remote.example", "relayguard.test");
        assertThat(path.tricks()).containsExactly(Trick.PERCENT_HACK);
        assertThat(path.domain()).isEqualTo("relayguard.test");
    }

    @Test
    void ofAddressQuotedPercentHack() {
        assertThat(SmtpPath.ofAddress("\"user%remote.example\"", "relayguard.test").tricks()).containsExactly(Trick.PERCENT_HACK);
    }

    @Test
    void ofAddressBangPath() {
        SmtpPath path = SmtpPath.ofAddress("remote.example!user", "relayguard.test");
        assertThat(path.tricks()).containsExactly(Trick.BANG_PATH);
        assertThat(path.domain()).isEqualTo("relayguard.test");
    }

    @ParameterizedTest
    @ValueSource(strings = {"192.0.2.1", "010.1.1.1", "127.0.0.1", "0.0.0.0", "2001:db8::1", "IPv6:2001:db8::1", "::1"})
    void ofAddressBareIpDomainIsAnIpLiteral(String domain) {
        SmtpPath path = SmtpPath.ofAddress("user", domain);
        assertThat(path.tricks()).containsExactly(Trick.IP_LITERAL);
        assertThat(path.domain()).isEqualTo("[" + domain + "]");
        assertThat(path.ipLiteral()).isEqualTo(domain.toLowerCase(java.util.Locale.ROOT));
        assertThat(path.localPart()).isEqualTo("user");
    }

    @Test
    void ofAddressBareIpDomainKeepsRawAsJamesRecordedIt() {
        assertThat(SmtpPath.ofAddress("user", "192.0.2.1").raw()).isEqualTo("user@192.0.2.1");
    }

    @Test
    void ofAddressBracketedIpDomainIsAnIpLiteralWithoutDoubleBrackets() {
        SmtpPath path = SmtpPath.ofAddress("user", "[192.0.2.1]");
        assertThat(path.tricks()).containsExactly(Trick.IP_LITERAL);
        assertThat(path.domain()).isEqualTo("[192.0.2.1]");
        assertThat(path.ipLiteral()).isEqualTo("192.0.2.1");
        assertThat(SmtpPath.ofAddress("user", "[IPv6:2001:db8::1]").ipLiteral()).isEqualTo("ipv6:2001:db8::1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"1example.com", "123.example", "192.0.2.1.example", "example.123a", "xn--80ak6aa92e.com"})
    void ofAddressHostNamesWithDigitsAreNotIpLiterals(String domain) {
        SmtpPath path = SmtpPath.ofAddress("user", domain);
        assertThat(path.tricks()).isEmpty();
        assertThat(path.domain()).isEqualTo(domain);
        assertThat(path.ipLiteral()).isNull();
    }

    @Test
    void ofAddressIpLiteralAndOtherTricksTogetherInEnumOrder() {
        assertThat(SmtpPath.ofAddress("a!b%c", "192.0.2.1").tricks())
            .containsExactly(Trick.PERCENT_HACK, Trick.BANG_PATH, Trick.IP_LITERAL);
    }

    @Test
    void ofAddressQuotedLocalPartWithEscapedQuoteIsClean() {
        SmtpPath path = SmtpPath.ofAddress("\"a\\\"b\"", "x.example");
        assertThat(path.localPart()).isEqualTo("a\"b");
        assertThat(path.tricks()).isEmpty();
    }

    @Test
    void ofAddressQuotedPlainLocalPartIsClean() {
        SmtpPath path = SmtpPath.ofAddress("\"Demo\"", "relayguard.test");
        assertThat(path.localPart()).isEqualTo("Demo");
        assertThat(path.tricks()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"postmaster", "Postmaster"})
    void ofAddressPostmasterWithDomainIsClean(String localPart) {
        assertThat(SmtpPath.ofAddress(localPart, "relayguard.test").tricks()).isEmpty();
    }
}
