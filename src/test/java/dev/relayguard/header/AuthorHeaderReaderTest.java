package dev.relayguard.header;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;

import javax.mail.MessagingException;
import javax.mail.Session;
import javax.mail.internet.MimeMessage;

import org.apache.mailet.Mail;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.core.AuthorHeaders;

/**
 * {@link AuthorHeaderReader} reads From:/Sender: of real messages (javax.mail parsing raw bytes, as James does)
 * with mime4j's strict RFC 5322 parser: each field is either a documented list of mailboxes or unreadable, and the
 * reader never throws.
 */
class AuthorHeaderReaderTest {

    private static MimeMessage message(byte[] raw) {
        try {
            return new MimeMessage(Session.getDefaultInstance(new Properties()), new ByteArrayInputStream(raw));
        } catch (MessagingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A message from header lines (CRLF added), ISO-8859-1 so that a char is a byte. */
    private static MimeMessage message(String... headerLines) {
        String raw = String.join("\r\n", headerLines) + "\r\n\r\nbody\r\n";
        return message(raw.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static AuthorHeaders read(String... headerLines) {
        AuthorHeaders[] result = new AuthorHeaders[1];
        assertThatCode(() -> result[0] = AuthorHeaderReader.read(message(headerLines))).doesNotThrowAnyException();
        return result[0];
    }

    private static AuthorHeaders.Field onlyFrom(AuthorHeaders headers) {
        assertThat(headers.from()).hasSize(1);
        return headers.from().get(0);
    }

    private static void assertMailboxes(AuthorHeaders.Field field, String... expected) {
        assertThat(field.problem()).as(field.toString()).isEmpty();
        assertThat(field.mailboxes()).containsExactly(expected);
    }

    private static void assertUnreadable(AuthorHeaders.Field field) {
        assertThat(field.problem()).as(field.toString()).isPresent();
        assertThat(field.mailboxes()).isEmpty();
        String problem = field.problem().get();
        assertThat(problem).isNotBlank();
        // the problem ends up in an SMTP reply: no line breaks or other control characters
        assertThat(problem.chars().allMatch(c -> c >= 0x20 && c != 0x7f)).as(problem).isTrue();
    }

    // ---------------------------------------------------------------------------------- documented mailbox results

    static Stream<Arguments> readableFrom() {
        return Stream.of(
            Arguments.of("From: john@example.com", List.of("john@example.com")),
            Arguments.of("From: John Doe <john@example.com>", List.of("john@example.com")),
            Arguments.of("From: \"Doe, John\" <john@example.com>", List.of("john@example.com")),
            Arguments.of("From: \"Doe, John\" <john@example.com>, jane@example.com", List.of("john@example.com", "jane@example.com")),
            Arguments.of("From: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
                List.of("mary@x.test", "jdoe@example.org", "one@y.test")),
            Arguments.of("From: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
                List.of("boss@nil.test", "sysservices@example.net")),
            // encoded words in display names are display names, never addresses
            Arguments.of("From: =?UTF-8?B?SsO2aG4=?= <john@example.com>", List.of("john@example.com")),
            Arguments.of("From: =?UTF-8?Q?Doe=2C_John?= <john@example.com>", List.of("john@example.com")),
            Arguments.of("From: =?UTF-8?Q?ceo=40bank=2Eexample?= <john@example.com>", List.of("john@example.com")),
            // an encoded word where the address is: an odd local part, not decoded into someone's address
            Arguments.of("From: =?UTF-8?Q?victim?=@bank.example", List.of("=?UTF-8?Q?victim?=@bank.example")),
            // comments
            Arguments.of("From: john@example.com (John Doe)", List.of("john@example.com")),
            Arguments.of("From: (comment) john(inner)@(c)example.com", List.of("john@example.com")),
            Arguments.of("From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", List.of("pete@silly.test")),
            Arguments.of("From: alice@example.com (victim@bank.example)", List.of("alice@example.com")),
            // quoted local parts: quotes dropped when needless, kept (and escaped) when needed
            Arguments.of("From: \"john.doe\"@example.com", List.of("john.doe@example.com")),
            Arguments.of("From: \"John\"@Example.COM", List.of("John@Example.COM")),
            Arguments.of("From: \"john doe\"@example.com", List.of("\"john doe\"@example.com")),
            Arguments.of("From: \"ceo@bank.example\"@evil.example", List.of("\"ceo@bank.example\"@evil.example")),
            Arguments.of("From: \"a\\\"b\"@example.com", List.of("\"a\\\"b\"@example.com")),
            Arguments.of("From: \"a\\b\"@example.com", List.of("ab@example.com")),
            Arguments.of("From: \"john\".\"doe\"@example.com", List.of("john.doe@example.com")),
            Arguments.of("From: john..doe@example.com", List.of("\"john..doe\"@example.com")),
            Arguments.of("From: john.@example.com", List.of("\"john.\"@example.com")),
            Arguments.of("From: \"\"@example.com", List.of("\"\"@example.com")),
            // obsolete forms RFC 5322 still reads
            Arguments.of("From: john . doe @ example . com", List.of("john.doe@example.com")),
            Arguments.of("From: <@route.example:john@example.com>", List.of("john@example.com")),
            Arguments.of("From: ,john@example.com", List.of("john@example.com")),
            Arguments.of("From: john@example.com, ", List.of("john@example.com")),
            // domains as written (the policy canonicalises)
            Arguments.of("From: john@[192.0.2.1]", List.of("john@[192.0.2.1]")),
            Arguments.of("From: john@example.com.", List.of("john@example.com.")),
            Arguments.of("From: john@xn--bcher-kva.example", List.of("john@xn--bcher-kva.example")),
            // folded lines
            Arguments.of("From: John\r\n Doe <john@example.com>", List.of("john@example.com")),
            Arguments.of("From: John Doe\r\n\t<john@example.com>,\r\n jane@example.com", List.of("john@example.com", "jane@example.com")),
            Arguments.of("From:\r\n john@example.com", List.of("john@example.com")),
            // header name in other case
            Arguments.of("FROM: john@example.com", List.of("john@example.com")),
            Arguments.of("from: john@example.com", List.of("john@example.com")));
    }

    @ParameterizedTest
    @MethodSource("readableFrom")
    void readableFromFields(String header, List<String> expected) {
        AuthorHeaders headers = read(header, "Subject: test");
        assertMailboxes(onlyFrom(headers), expected.toArray(new String[0]));
        assertThat(headers.sender()).isEmpty();
    }

    static Stream<String> unreadableFrom() {
        return Stream.of(
            "From: undisclosed-recipients:;",
            "From: team: a@example.com, b@example.com;",
            "From: john@example.com, Group:;",
            "From: John",
            "From: John <john@example.com",
            "From: John <john@example.com> <jane@example.com>",
            "From: victim@bank.example <attacker@evil.example>",
            "From: john@@example.com",
            "From: @example.com",
            "From: john@",
            "From: <>",
            "From: john@example.com;",
            "From: jo\"h\"n@example.com",
            "From: \"unclosed@example.com",
            "From: John <john@example.com> (unclosed",
            "From: \u0001john@example.com",
            "From: john@example.com\u007f",
            // 8-bit bytes outside encoded words (no SMTPUTF8 in James 3.8.1)
            "From: J\u00f6hn <john@example.com>",
            "From: j\u00f6hn@example.com",
            "From: john@b\u00fccher.example",
            // UTF-8 bytes read as ISO-8859-1, as javax.mail reads them by default
            "From: J\u00c3\u00b6hn <john@example.com>",
            // folded in the middle of an address: two atoms without a dot
            "From: alice@example.com\r\n victim@bank.example");
    }

    @ParameterizedTest
    @MethodSource("unreadableFrom")
    void unreadableFromFields(String header) {
        assertUnreadable(onlyFrom(read(header, "Subject: test")));
    }

    @Test
    void groupsAreNamedInTheProblem() {
        AuthorHeaders.Field field = onlyFrom(read("From: undisclosed-recipients:;"));
        assertThat(field.problem()).hasValueSatisfying(problem -> assertThat(problem).contains("group"));
    }

    @Test
    void emptyFromIsReadableWithoutMailboxes() {
        AuthorHeaders headers = read("From:", "Subject: test");
        assertMailboxes(onlyFrom(headers));
        assertMailboxes(onlyFrom(read("From:    ")));
    }

    // ---------------------------------------------------------------------------------------------- several headers

    @Test
    void twoFromHeadersAreTwoFields() {
        AuthorHeaders headers = read("From: John <john@example.com>", "Subject: x", "From: x@y.example");
        assertThat(headers.from()).hasSize(2);
        assertMailboxes(headers.from().get(0), "john@example.com");
        assertMailboxes(headers.from().get(1), "x@y.example");
    }

    @Test
    void fromHeadersInOtherCaseOrWithSpaceBeforeTheColonCountToo() {
        assertThat(read("From: alice@example.com", "FROM: victim@bank.example").from()).hasSize(2);
        assertThat(read("From : victim@bank.example", "From: alice@example.com").from()).hasSize(2);
    }

    @Test
    void missingFromIsNoField() {
        AuthorHeaders headers = read("Subject: no author", "To: a@example.com");
        assertThat(headers.from()).isEmpty();
        assertThat(headers.sender()).isEmpty();
    }

    @Test
    void senderIsReadToo() {
        AuthorHeaders headers = read("From: a@example.com, b@example.com", "Sender: Secretary <sec@example.com>");
        assertMailboxes(onlyFrom(headers), "a@example.com", "b@example.com");
        assertThat(headers.sender()).hasSize(1);
        assertMailboxes(headers.sender().get(0), "sec@example.com");
    }

    @Test
    void twoSenderHeadersAreTwoFields() {
        AuthorHeaders headers = read("From: a@example.com", "Sender: a@example.com", "sender: b@example.com");
        assertThat(headers.sender()).hasSize(2);
    }

    @Test
    void groupSenderIsUnreadable() {
        AuthorHeaders headers = read("From: a@example.com", "Sender: staff:;");
        assertUnreadable(headers.sender().get(0));
    }

    // ------------------------------------------------------------------------------------------- hostile input

    @Test
    void nulByteMakesTheFieldUnreadable() {
        byte[] raw = "From: John <jo\0hn@example.com>\r\n\r\nbody\r\n".getBytes(StandardCharsets.ISO_8859_1);
        AuthorHeaders.Field field = onlyFrom(AuthorHeaderReader.read(message(raw)));
        assertUnreadable(field);
        assertThat(field.problem()).hasValue("NUL byte");
    }

    @Test
    void eightBitUtf8BytesMakeTheFieldUnreadable() {
        byte[] raw = "From: J\u00f6hn <john@example.com>\r\n\r\nbody\r\n".getBytes(StandardCharsets.UTF_8);
        assertUnreadable(onlyFrom(AuthorHeaderReader.read(message(raw))));
        // also when javax.mail decodes headers as UTF-8
        Properties utf8 = new Properties();
        utf8.setProperty("mail.mime.allowutf8", "true");
        AuthorHeaders[] headers = new AuthorHeaders[1];
        assertThatCode(() -> headers[0] = AuthorHeaderReader.read(
            new MimeMessage(Session.getInstance(utf8), new ByteArrayInputStream(raw)))).doesNotThrowAnyException();
        assertUnreadable(onlyFrom(headers[0]));
    }

    @Test
    void headerLineLongerThan998IsStillRead() {
        String name = "N".repeat(1500);
        assertMailboxes(onlyFrom(read("From: " + name + " <john@example.com>")), "john@example.com");
        String local = "x".repeat(2000);
        assertMailboxes(onlyFrom(read("From: " + local + "@example.com")), local + "@example.com");
    }

    @Test
    void headerOf70000CharactersIsUnreadable() {
        AuthorHeaders.Field field = onlyFrom(read("From: " + "x".repeat(70_000) + "@example.com"));
        assertUnreadable(field);
        assertThat(field.problem()).hasValue("longer than 65536 characters");
    }

    @Test
    void foldedHeaderOver64kIsUnreadable() {
        StringBuilder folded = new StringBuilder("From: John");
        for (int i = 0; i < 1000; i++) {
            folded.append("\r\n ").append("y".repeat(70));
        }
        folded.append(" <john@example.com>");
        assertUnreadable(onlyFrom(read(folded.toString())));
    }

    @Test
    void deeplyNestedCommentsAreRead() {
        String comment = "(".repeat(5_000) + ")".repeat(5_000);
        assertMailboxes(onlyFrom(read("From: John " + comment + " <john@example.com>")), "john@example.com");
        String deeper = "(".repeat(30_000) + ")".repeat(30_000);
        assertMailboxes(onlyFrom(read("From: " + deeper + " john@example.com")), "john@example.com");
    }

    @Test
    void unbalancedNestedCommentsAreUnreadable() {
        assertUnreadable(onlyFrom(read("From: " + "(".repeat(60_000) + " john@example.com")));
    }

    @Test
    void longProblemTextsFromTheParserAreShortened() {
        AuthorHeaders.Field field = onlyFrom(read("From: \"" + "x".repeat(10_000)));
        assertUnreadable(field);
        assertThat(field.problem().get().length()).isLessThanOrEqualTo(120);
    }

    static Stream<byte[]> oddMessages() {
        return Stream.of(
            new byte[0],
            "From: alice@example.com".getBytes(StandardCharsets.ISO_8859_1),
            "\r\nFrom: alice@example.com\r\n\r\nbody\r\n".getBytes(StandardCharsets.ISO_8859_1),
            "X-Bad header line without colon\r\nFrom: alice@example.com\r\n\r\nbody\r\n".getBytes(StandardCharsets.ISO_8859_1),
            "From: alice@example.com\nSubject: bare LF\n\nbody\n".getBytes(StandardCharsets.ISO_8859_1),
            "From: =?bogus?X?zz?= <john@example.com>\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1),
            "From: a\r\n   \r\n <x@example.com>\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1),
            "From: \u00ff\u00fe\u0000\u0001\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1),
            ("From: " + "<".repeat(20_000) + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1),
            ("From: " + "\\".repeat(20_001) + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1),
            ("From: " + "a@b.example, ".repeat(4_000) + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    }

    @ParameterizedTest
    @MethodSource("oddMessages")
    void oddMessagesNeverThrow(byte[] raw) {
        assertThatCode(() -> {
            AuthorHeaders headers = AuthorHeaderReader.read(message(raw));
            for (AuthorHeaders.Field field : headers.from()) {
                // either mailboxes or a problem, never both
                assertThat(field.problem().isEmpty() || field.mailboxes().isEmpty()).as(field.toString()).isTrue();
            }
        }).doesNotThrowAnyException();
    }

    /*
     * mime4j 0.8.9 decodes display names while it builds the address list; in STRICT mode a malformed base64
     * payload is thrown as a java.lang.Error. The reader decodes SILENTly (display names are not judged) and turns
     * any parser Error into an unreadable field: never an Error out of read().
     */
    @ParameterizedTest
    @ValueSource(strings = {
        "From: =?UTF-8?B?!!!?= <john@example.com>",
        "From: =?UTF-8?B?QQ?= <john@example.com>",
        "From: =?UTF-8?B?====?= <john@example.com>",
        "From: \"=?UTF-8?B?!!!?=\" <john@example.com>",
        "From: john@example.com, =?ISO-2022-JP?B?GyRC!!!?= <jane@example.com>",
    })
    void malformedBase64EncodedWordIsUnreadableNotAnError(String header) {
        assertThat(read(header).from()).hasSize(1);
    }

    /* The problem text goes into the 550 reply and the audit line: printable ASCII, bounded. */
    @Test
    void groupNameInTheProblemIsPrintableAndShort() {
        assertUnreadable(onlyFrom(read("From: \"a\u0001b\u001bc\u007f\": ;")));
        AuthorHeaders.Field longGroup = onlyFrom(read("From: " + "G".repeat(5_000) + ": ;"));
        assertUnreadable(longGroup);
        assertThat(longGroup.problem().get().length()).isLessThanOrEqualTo(200);
    }

    @Test
    void theProblemNamesNoJavaClass() {
        AuthorHeaders.Field field = AuthorHeaderReader.field("\u00c3\u00a9 <demo@relayguard.test>");
        assertUnreadable(field);
        assertThat(field.problem().get()).doesNotContain("org.apache").doesNotContain("Error:").startsWith("Lexical error");
    }

    @Test
    void messageWhoseHeadersCannotBeReadIsUnreadableNotAnException() throws Exception {
        MimeMessage broken = new MimeMessage(Session.getDefaultInstance(new Properties())) {
            @Override
            public String[] getHeader(String name) throws MessagingException {
                throw new MessagingException("stream closed\r\nsecond line");
            }
        };
        AuthorHeaders headers = AuthorHeaderReader.read(broken);
        AuthorHeaders.Field field = onlyFrom(headers);
        assertUnreadable(field);
        assertThat(field.problem()).hasValue("headers cannot be read (stream closed)");
    }

    @Test
    void mailWhoseMessageCannotBeReadIsUnreadableNotAnException() throws Exception {
        Mail mail = mock(Mail.class);
        when(mail.getMessage()).thenThrow(new MessagingException("gone"));
        AuthorHeaders.Field field = onlyFrom(AuthorHeaderReader.read(mail));
        assertUnreadable(field);
        assertThat(field.problem()).hasValue("headers cannot be read (gone)");
        Mail failing = mock(Mail.class);
        when(failing.getMessage()).thenThrow(new IllegalStateException("boom"));
        assertUnreadable(onlyFrom(AuthorHeaderReader.read(failing)));
    }

    @Test
    void mailWithAReadableMessageIsRead() throws Exception {
        Mail mail = mock(Mail.class);
        when(mail.getMessage()).thenReturn(message("From: Alice <alice@example.com>", "Sender: bob@example.com"));
        AuthorHeaders headers = AuthorHeaderReader.read(mail);
        assertMailboxes(onlyFrom(headers), "alice@example.com");
        assertMailboxes(headers.sender().get(0), "bob@example.com");
    }

    // ---------------------------------------------------------------------------------------------- field(String)

    @Test
    void nullFieldValueIsNoMailbox() {
        assertMailboxes(AuthorHeaderReader.field(null));
    }

    @Test
    void fieldValueIsUnfoldedBeforeParsing() {
        assertMailboxes(AuthorHeaderReader.field("John\r\n Doe\r\n\t<john@example.com>"), "john@example.com");
        assertMailboxes(AuthorHeaderReader.field("John\n <john@example.com>"), "john@example.com");
    }

    @Test
    void fieldValueWithNulIsUnreadable() {
        assertThat(AuthorHeaderReader.field("a@b\0c").problem()).hasValue("NUL byte");
    }

    @Test
    void fieldOfExactly64kIsParsedAndOneMoreIsNot() {
        String atLimit = "x".repeat(64 * 1024 - "@example.com".length()) + "@example.com";
        assertThat(AuthorHeaderReader.field(atLimit).problem()).isEmpty();
        assertThat(AuthorHeaderReader.field(atLimit + " ").problem()).hasValue("longer than 65536 characters");
    }

    @Test
    void aValueReadAgainGetsTheReadingKeptForItWhichIsTheParsersOwn() {
        String readable = "\"Alice Example\" <alice.cache-test@example.com>";
        String unreadable = "alice.cache-test@example.com, <broken";
        AuthorHeaders.Field first = AuthorHeaderReader.field(readable);
        assertThat(AuthorHeaderReader.field(readable)).isSameAs(first);
        assertMailboxes(first, "alice.cache-test@example.com");
        AuthorHeaders.Field refused = AuthorHeaderReader.field(unreadable);
        assertThat(AuthorHeaderReader.field(unreadable)).isSameAs(refused);
        assertThat(refused.problem()).isNotEmpty();
        assertThat(refused.mailboxes()).isEmpty();
        // the same value in a whole message: the reading the value has on its own
        assertThat(onlyFrom(read("From: " + readable))).isSameAs(first);
    }

    @Test
    void longValuesAreParsedEveryTimeAndTheKeptReadingsStayBounded() {
        String longValue = "\"" + "x".repeat(AuthorHeaderReader.MAX_CACHED_LENGTH) + "\" <long@example.com>";
        AuthorHeaders.Field first = AuthorHeaderReader.field(longValue);
        assertThat(AuthorHeaderReader.field(longValue)).isNotSameAs(first);
        assertMailboxes(AuthorHeaderReader.field(longValue), "long@example.com");
        for (int i = 0; i < 3 * AuthorHeaderReader.CACHED_VALUES; i++) {
            assertMailboxes(AuthorHeaderReader.field("user" + i + "@bound.example"), "user" + i + "@bound.example");
        }
        assertThat(AuthorHeaderReader.cachedReadings()).isLessThanOrEqualTo(AuthorHeaderReader.CACHED_VALUES);
    }
}
