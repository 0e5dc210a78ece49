package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import java.util.Map;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link SmtpArgument} cuts MAIL and RCPT arguments exactly where James 3.8.1 cuts them
 * ({@code MailCmdHandler.doMAILFilter}: the first {@code '>'} after the first {@code '<'};
 * {@code RcptCmdHandler.doFilterChecks}: the last {@code '>'}; either only when a space and more text follow;
 * brackets removed only when both are there). Expected values were checked against the bytecode of
 * protocols-smtp 3.8.1, not against this class.
 */
class SmtpArgumentTest {

    @Nested
    class MailCut {

        @Test
        void pathEndsAtTheFirstClosingBracketSoAGreaterThanInAParameterHidesNothing() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<postmaster@relayguard.test> A=> B");
            assertThat(mail.path()).isEqualTo("postmaster@relayguard.test");
            assertThat(mail.parameters()).containsExactly(entry("A", ">"), entry("B", ""));
            assertThat(mail.isNullSender()).isFalse();
            assertThat(mail.completedByServer()).isFalse();
            assertThat(mail.hasSourceRoute()).isFalse();
        }

        @Test
        void parameterWithClosingBracketAndTrailingWord() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<ceo@relayguard.test> X=y> z");
            assertThat(mail.path()).isEqualTo("ceo@relayguard.test");
            assertThat(mail.parameters()).containsExactly(entry("X", "y>"), entry("z", ""));
        }

        @Test
        void authParameterWithBracketsStaysAParameter() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<probe@example.org> AUTH=<demo@relayguard.test>");
            assertThat(mail.path()).isEqualTo("probe@example.org");
            assertThat(mail.parameters()).containsExactly(entry("AUTH", "<demo@relayguard.test>"));
        }

        @Test
        void parametersBeforeTheCutAreReadAndNamesUpperCased() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<a@b.example> size=10 body=8BITMIME SMTPUTF8");
            assertThat(mail.path()).isEqualTo("a@b.example");
            // James upper-cases the name before '=', and keeps a token without '=' as written.
            assertThat(mail.parameters()).containsExactly(entry("SIZE", "10"), entry("BODY", "8BITMIME"), entry("SMTPUTF8", ""));
        }

        @Test
        void spacesAroundThePathAreTrimmedAndExtraSpacesBetweenParametersIgnored() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:   <a@b.example>  SIZE=10   ");
            assertThat(mail.path()).isEqualTo("a@b.example");
            assertThat(mail.parameters()).containsExactly(entry("SIZE", "10"));
        }

        @Test
        void noParametersWithoutASpaceAfterTheBracket() {
            // '>' not followed by a space: no cut, and the brackets are not both at the ends, so nothing is removed.
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<a@b.example>SIZE=10");
            assertThat(mail.path()).isEqualTo("<a@b.example>SIZE=10");
            assertThat(mail.parameters()).isEmpty();
        }

        @Test
        void bracketFollowedBySingleSpaceOnlyIsNotCut() {
            // "> " with nothing after it: James wants at least one more character. trim() removes it anyway.
            assertThat(SmtpArgument.ofMail("FROM:<a@b.example> ").path()).isEqualTo("a@b.example");
        }

        @Test
        void closingBracketInsideQuotesEndsTheMailPathWhenASpaceFollows() {
            // James does not read quotes: the first '>' after '<' followed by a space ends the path.
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<\"a> b\"@x.example>");
            assertThat(mail.path()).isEqualTo("\"a");
            assertThat(mail.parameters()).containsOnlyKeys("b\"@x.example>");
        }

        @Test
        void closingBracketInsideQuotesWithoutSpaceKeepsTheWholePath() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<\"a>b\"@x.example>");
            assertThat(mail.path()).isEqualTo("\"a>b\"@x.example");
            assertThat(mail.parameters()).isEmpty();
        }

        @Test
        void noOpeningBracketSearchesFromTheStart() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:a@b.example> SIZE=5");
            assertThat(mail.path()).isEqualTo("a@b.example>");
            assertThat(mail.parameters()).containsExactly(entry("SIZE", "5"));
        }
    }

    @Nested
    class RcptCut {

        @Test
        void pathEndsAtTheLastClosingBracket() {
            // The same text as MAIL's first case, cut where RcptCmdHandler cuts it.
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<postmaster@relayguard.test> A=> B");
            assertThat(rcpt.path()).isEqualTo("postmaster@relayguard.test> A=");
            assertThat(rcpt.parameters()).containsExactly(entry("B", ""));
        }

        @Test
        void dsnParameters() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<a@b> NOTIFY=NEVER ORCPT=rfc822;x@y");
            assertThat(rcpt.path()).isEqualTo("a@b");
            assertThat(rcpt.parameters()).containsExactly(entry("NOTIFY", "NEVER"), entry("ORCPT", "rfc822;x@y"));
        }

        @Test
        void valueKeepsEveryEqualsSignAfterTheFirst() {
            assertThat(SmtpArgument.ofRcpt("TO:<a@b> ORCPT=rfc822;x=y@z").parameters()).containsExactly(entry("ORCPT", "rfc822;x=y@z"));
        }

        @Test
        void spaceAfterColonIsTolerated() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO: <a@b>");
            assertThat(rcpt.path()).isEqualTo("a@b");
            assertThat(rcpt.parameters()).isEmpty();
        }

        @Test
        void closingBracketInsideQuotesIsPartOfThePath() {
            assertThat(SmtpArgument.ofRcpt("TO:<\"a>b\"@x.example>").path()).isEqualTo("\"a>b\"@x.example");
        }

        @Test
        void escapedQuoteAndClosingBracketInsideQuotes() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<\"a\\\">b\"@x.example> NOTIFY=NEVER");
            assertThat(rcpt.path()).isEqualTo("\"a\\\">b\"@x.example");
            assertThat(rcpt.parameters()).containsExactly(entry("NOTIFY", "NEVER"));
        }

        @Test
        void escapesAreKeptAsWritten() {
            assertThat(SmtpArgument.ofRcpt("TO:<user\\\"%remote.example@relayguard.test>").path())
                .isEqualTo("user\\\"%remote.example@relayguard.test");
            assertThat(SmtpArgument.ofRcpt("TO:<user\\@relayguard.test\\>%remote.example@relayguard.test>").path())
                .isEqualTo("user\\@relayguard.test\\>%remote.example@relayguard.test");
        }

        @Test
        void missingBracketsKeepTheWholeText() {
            // Without '>' there is no cut: the parameters stay in the path (James then fails to parse it).
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:a@b.example NOTIFY=NEVER");
            assertThat(rcpt.path()).isEqualTo("a@b.example NOTIFY=NEVER");
            assertThat(rcpt.parameters()).isEmpty();
            assertThat(SmtpArgument.ofRcpt("TO:a@b.example").path()).isEqualTo("a@b.example");
        }

        @Test
        void bracketsAreRemovedOnlyWhenBothArePresent() {
            assertThat(SmtpArgument.ofRcpt("TO:<a@b").path()).isEqualTo("<a@b");
            assertThat(SmtpArgument.ofRcpt("TO:a@b>").path()).isEqualTo("a@b>");
            assertThat(SmtpArgument.ofMail("FROM:<a@b").path()).isEqualTo("<a@b");
            assertThat(SmtpArgument.ofRcpt("TO:<>").path()).isEmpty();
        }
    }

    @Nested
    class NoColon {

        @ParameterizedTest
        @ValueSource(strings = {"TO <a@b>", "FROM <a@b>", ":<a@b>", "", "FROM"})
        void withoutAColonAfterTheKeywordThereIsNoArgument(String argument) {
            assertThat(SmtpArgument.ofMail(argument)).isNull();
            assertThat(SmtpArgument.ofRcpt(argument)).isNull();
        }

        @Test
        void nullIsNull() {
            assertThat(SmtpArgument.ofMail(null)).isNull();
            assertThat(SmtpArgument.ofRcpt(null)).isNull();
        }
    }

    @Nested
    class NullSender {

        @ParameterizedTest
        @ValueSource(strings = {"FROM:<>", "FROM:<@>", "FROM:<> SIZE=100", "FROM: <>", "from:<>"})
        void mailNullSenderSpellings(String argument) {
            SmtpArgument mail = SmtpArgument.ofMail(argument);
            assertThat(mail.isNullSender()).isTrue();
            assertThat(mail.completedByServer()).isFalse();
            assertThat(mail.hasSourceRoute()).isFalse();
            assertThat(mail.unqualifiedLocalPart()).isNull();
        }

        @Test
        void nullSenderKeepsItsParameters() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<> SIZE=100");
            assertThat(mail.path()).isEmpty();
            assertThat(mail.declaredSize()).isEqualTo(100);
        }

        @Test
        void rcptHasNoNullSender() {
            assertThat(SmtpArgument.ofRcpt("TO:<>").isNullSender()).isFalse();
            assertThat(SmtpArgument.ofRcpt("TO:<>").completedByServer()).isFalse();
            SmtpArgument at = SmtpArgument.ofRcpt("TO:<@>");
            assertThat(at.isNullSender()).isFalse();
            assertThat(at.hasSourceRoute()).isTrue();
        }
    }

    @Nested
    class CompletedByServer {

        @Test
        void mailWithoutDomainIsCompleted() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<bob>");
            assertThat(mail.path()).isEqualTo("bob");
            assertThat(mail.completedByServer()).isTrue();
            assertThat(mail.unqualifiedLocalPart()).isEqualTo("bob");
            assertThat(mail.isNullSender()).isFalse();
        }

        @Test
        void unqualifiedLocalPartIsLowerCased() {
            assertThat(SmtpArgument.ofMail("FROM:<Bob> SIZE=1").unqualifiedLocalPart()).isEqualTo("bob");
        }

        @Test
        void rcptPostmaster() {
            SmtpArgument rcpt = SmtpArgument.ofRcpt("TO:<Postmaster>");
            assertThat(rcpt.completedByServer()).isTrue();
            assertThat(rcpt.unqualifiedLocalPart()).isEqualTo("postmaster");
            assertThat(rcpt.hasSourceRoute()).isFalse();
        }

        @Test
        void anAtAnywhereMeansJamesDoesNotComplete() {
            assertThat(SmtpArgument.ofRcpt("TO:<a@b>").completedByServer()).isFalse();
            assertThat(SmtpArgument.ofRcpt("TO:<a@b>").unqualifiedLocalPart()).isNull();
            assertThat(SmtpArgument.ofRcpt("TO:<\"a@b\">").completedByServer()).isFalse();
            assertThat(SmtpArgument.ofRcpt("TO:<a@>").completedByServer()).isFalse();
        }

        @Test
        void quotedOrEscapedTextWithoutAtIsCompleted() {
            assertThat(SmtpArgument.ofRcpt("TO:<us\\\"er>").completedByServer()).isTrue();
            assertThat(SmtpArgument.ofRcpt("TO:<\"john doe\">").completedByServer()).isTrue();
            assertThat(SmtpArgument.ofRcpt("TO:<remote.example!user>").completedByServer()).isTrue();
        }
    }

    @Nested
    class SourceRoute {

        @ParameterizedTest
        @ValueSource(strings = {"TO:<@relay.example:victim@target.example>", "TO:<@a,@b:user@example.com>",
            "TO:< @a:user@example.com>", "TO:<@a:user@example.com> NOTIFY=NEVER"})
        void rcptSourceRoutes(String argument) {
            assertThat(SmtpArgument.ofRcpt(argument).hasSourceRoute()).isTrue();
        }

        @Test
        void mailSourceRoute() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<@a,@b:user@example.com>");
            assertThat(mail.hasSourceRoute()).isTrue();
            assertThat(mail.isNullSender()).isFalse();
            assertThat(mail.completedByServer()).isFalse();
        }

        @Test
        void atLaterInThePathIsNoSourceRoute() {
            assertThat(SmtpArgument.ofRcpt("TO:<user@example.com>").hasSourceRoute()).isFalse();
            assertThat(SmtpArgument.ofRcpt("TO:<\"@a:b\"@example.com>").hasSourceRoute()).isFalse();
        }
    }

    @Nested
    class DeclaredSize {

        @ParameterizedTest
        @CsvSource({
            "'FROM:<a@b> SIZE=1000', 1000",
            "'FROM:<a@b> size=1000', 1000",
            "'FROM:<a@b> SIZE=0', 0",
            "'FROM:<a@b> SIZE=0099', 99",
            "'FROM:<a@b> BODY=8BITMIME SIZE=52428800', 52428800",
            "'FROM:<a@b> SIZE=2147483647', 2147483647",
            // As James's MailSizeEsmtpExtension reads it: Integer.parseInt (a '+' sign too), the last SIZE= stays.
            "'FROM:<a@b> SIZE=+100', 100",
            "'FROM:<a@b> SIZE=1 SIZE=50000000', 50000000",
        })
        void sizeIsRead(String argument, long expected) {
            assertThat(SmtpArgument.ofMail(argument).declaredSize()).isEqualTo(expected);
        }

        @ParameterizedTest
        @ValueSource(strings = {"FROM:<a@b>", "FROM:<a@b> SIZE=", "FROM:<a@b> SIZE", "FROM:<a@b> SIZE=abc",
            "FROM:<a@b> SIZE=-5", "FROM:<a@b> SIZE=1e6", "FROM:<a@b> SIZE=1,000", "FROM:<a@b> SIZE=0x10",
            "FROM:<a@b> SIZE=2147483648", "FROM:<a@b> SIZE=99999999999999999999999",
            "FROM:<a@b>SIZE=10", "FROM:<a@b> XSIZE=10"})
        void sizeAbsentOrUnreadableIsMinusOne(String argument) {
            assertThat(SmtpArgument.ofMail(argument).declaredSize()).isEqualTo(-1);
        }

        @Test
        void trailingSpaceAfterSizeIsTrimmed() {
            assertThat(SmtpArgument.ofMail("FROM:<a@b> SIZE=10 ").declaredSize()).isEqualTo(10);
        }

        @Test
        void parametersAreUnmodifiable() {
            SmtpArgument mail = SmtpArgument.ofMail("FROM:<a@b> SIZE=1");
            Map<String, String> parameters = mail.parameters();
            assertThatThrownBy(() -> parameters.put("SIZE", "999")).isInstanceOf(UnsupportedOperationException.class);
            assertThat(mail.declaredSize()).isEqualTo(1);
        }
    }
}
