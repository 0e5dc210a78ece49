package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.core.SmtpPath.Trick;

class SmtpPathTest {

    @Test
    void fromArgumentReadsPathBeforeParameters() {
        SmtpPath path = SmtpPath.fromArgument("FROM:<a@b> SIZE=10");
        assertThat(path).isNotNull();
        assertThat(path.raw()).isEqualTo("a@b");
        assertThat(path.localPart()).isEqualTo("a");
        assertThat(path.domain()).isEqualTo("b");
        assertThat(path.tricks()).isEmpty();
        assertThat(path.isNull()).isFalse();
    }

    @Test
    void fromArgumentToleratesSpaceAfterColon() {
        SmtpPath path = SmtpPath.fromArgument("TO: <a@b>");
        assertThat(path).isNotNull();
        assertThat(path.raw()).isEqualTo("a@b");
        assertThat(path.localPart()).isEqualTo("a");
        assertThat(path.domain()).isEqualTo("b");
    }

    @Test
    void fromArgumentWithoutBracketsTakesTextUpToSpace() {
        SmtpPath path = SmtpPath.fromArgument("TO:a@b.example NOTIFY=NEVER");
        assertThat(path).isNotNull();
        assertThat(path.raw()).isEqualTo("a@b.example");
        assertThat(path.domain()).isEqualTo("b.example");
    }

    @Test
    void fromArgumentWithoutColonIsNull() {
        assertThat(SmtpPath.fromArgument("TO <a@b>")).isNull();
        assertThat(SmtpPath.fromArgument(null)).isNull();
    }

    @Test
    void fromArgumentCutsThePathWhereJamesDoes() {
        // An unclosed bracket still yields the address, so it is checked (James then refuses the syntax itself).
        assertThat(SmtpPath.fromArgument("TO:<a@b").raw()).isEqualTo("a@b");
        // The last '>' ends the path, as in James's RcptCmdHandler: an escaped quote or '>' hides nothing.
        assertThat(SmtpPath.fromArgument("TO:<user\\\"%remote.example@relayguard.test>").has(SmtpPath.Trick.PERCENT_HACK)).isTrue();
        assertThat(SmtpPath.fromArgument("TO:<user\\@relayguard.test\\>%remote.example@relayguard.test>").tricks())
            .contains(SmtpPath.Trick.AT_IN_LOCAL_PART, SmtpPath.Trick.PERCENT_HACK);
        assertThat(SmtpPath.fromArgument("TO:<us\\\"er>").has(SmtpPath.Trick.UNQUALIFIED)).isTrue();
        assertThat(SmtpPath.fromArgument("TO:<a@b.example> NOTIFY=NEVER").raw()).isEqualTo("a@b.example");
    }

    @Test
    void nullPathIsNull() {
        SmtpPath path = SmtpPath.fromArgument("FROM:<>");
        assertThat(path).isNotNull();
        assertThat(path.isNull()).isTrue();
        assertThat(path.tricks()).isEmpty();
        assertThat(path.domain()).isNull();
        assertThat(SmtpPath.fromArgument("FROM:<> SIZE=100").isNull()).isTrue();
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
    void sourceRouteViaFromArgument() {
        SmtpPath path = SmtpPath.fromArgument("TO:<@relay.example:victim@target.example>");
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
    void closingBracketInsideQuotesIsIgnored() {
        SmtpPath path = SmtpPath.fromArgument("TO:<\"a>b\"@x.example>");
        assertThat(path).isNotNull();
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
        SmtpPath path = SmtpPath.fromArgument("TO:<\"a\\\">b\"@x.example> NOTIFY=NEVER");
        assertThat(path).isNotNull();
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
}
