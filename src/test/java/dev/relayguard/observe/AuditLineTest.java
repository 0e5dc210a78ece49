package dev.relayguard.observe;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;

class AuditLineTest {
    private static final Verdict REFUSED = Verdict.refuse(Reason.RELAY_UNAUTHENTICATED, "550", "5.7.1",
        "Relaying denied: remote.org is not served here and you are not authenticated");

    private static RefusalContext.Builder full() {
        return RefusalContext.smtp()
            .sessionId("abc123")
            .clientIp("203.0.113.9")
            .helo("spammer.example")
            .authUser("alice")
            .sender("x@y.org")
            .recipient("victim@remote.org");
    }

    @Test
    void containsOutcomeReasonAndPath() {
        String line = AuditLine.format(REFUSED, full().build());
        assertThat(line).startsWith("outcome=refused reason=relay.unauthenticated path=smtp ");
        assertThat(line).contains(" session=abc123 ", " ip=203.0.113.9 ", " helo=spammer.example ", " user=alice ",
            " sender=x@y.org ", " rcpt=victim@remote.org ");
    }

    @Test
    void replyWithSpacesIsQuoted() {
        String line = AuditLine.format(REFUSED, full().build());
        assertThat(line).endsWith(" reply=\"550 5.7.1 Relaying denied: remote.org is not served here and you are not authenticated\"");
    }

    @Test
    void deferralIsLoggedAsDeferred() {
        Verdict deferred = Verdict.defer(Reason.LOCAL_DOMAIN_LOOKUP_FAILED, "451", "4.3.0", "try later");
        assertThat(AuditLine.format(deferred, full().build()))
            .startsWith("outcome=deferred reason=relay.domain-lookup-failed path=smtp ");
    }

    @Test
    void missingValuesAreDashes() {
        String line = AuditLine.format(REFUSED, RefusalContext.smtp().build());
        assertThat(line).contains(" session=- ", " ip=- ", " helo=- ", " user=- ", " sender=- ", " rcpt=- ");
        assertThat(AuditLine.format(REFUSED, RefusalContext.smtp().helo("").build())).contains(" helo=- ");
    }

    @Test
    void crLfAreEscapedSoOneEventIsOneLine() {
        String forged = "evil\r\noutcome=allowed reason=relay.authenticated";
        String line = AuditLine.format(REFUSED, full().helo(forged).build());
        assertThat(line).doesNotContain("\r").doesNotContain("\n");
        assertThat(line).contains(" helo=\"evil\\x0d\\x0aoutcome=allowed reason=relay.authenticated\" ");
        assertThat(line.lines().count()).isEqualTo(1);
    }

    @Test
    void otherControlCharactersAreEscaped() {
        String line = AuditLine.format(REFUSED, full().helo("a\tb\u0000c\u007fd").build());
        assertThat(line).contains(" helo=\"a\\x09b\\x00c\\x7fd\" ");
    }

    @Test
    void quotesAndBackslashesAreEscaped() {
        String line = AuditLine.format(REFUSED, full().helo("he said \"hi\" \\o/").build());
        assertThat(line).contains(" helo=\"he said \\\"hi\\\" \\\\o/\" ");
    }

    @Test
    void quoteAloneForcesQuoting() {
        // A bare value holding a quote could otherwise open a quoted value for a parser.
        assertThat(AuditLine.quote("a\"b")).isEqualTo("\"a\\\"b\"");
    }

    @Test
    void equalsSignForcesQuoting() {
        String line = AuditLine.format(REFUSED, full().helo("x=1").build());
        assertThat(line).contains(" helo=\"x=1\" ");
    }

    @Test
    void plainValueIsNotQuoted() {
        assertThat(AuditLine.quote("mail.example.org")).isEqualTo("mail.example.org");
        assertThat(AuditLine.quote(null)).isEqualTo("-");
        assertThat(AuditLine.quote("")).isEqualTo("-");
    }

    @Test
    void unicodeLineSeparatorsAreEscaped() {
        assertThat(AuditLine.quote("a\u2028b\u0085c\u2029d")).isEqualTo("\"a\\u2028b\\x85c\\u2029d\"");
    }

    @Test
    void eventEscapesEveryValueSoOneEventIsOneLine() {
        String line = AuditLine.event("outcome", "suspended", "reason", "operator", "subject", "user:a\nb",
            "note", "leak\n outcome=resumed\r\u0000\u001b[31m \"q\" \\", "until", null);
        assertThat(line.lines().count()).isEqualTo(1);
        assertThat(line).isEqualTo("outcome=suspended reason=operator subject=\"user:a\\x0ab\" "
            + "note=\"leak\\x0a outcome=resumed\\x0d\\x00\\x1b[31m \\\"q\\\" \\\\\" until=-");
    }

    @Test
    void eventNeedsPairs() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> AuditLine.event("outcome"))
            .isInstanceOf(IllegalArgumentException.class);
    }
}
