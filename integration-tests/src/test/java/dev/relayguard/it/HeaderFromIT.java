package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static dev.relayguard.it.SenderDialogs.BOB;
import static dev.relayguard.it.SenderDialogs.READER;
import static dev.relayguard.it.SenderDialogs.SALES;
import static dev.relayguard.it.SenderDialogs.assertNeverDelivered;
import static dev.relayguard.it.SenderDialogs.delivered;
import static dev.relayguard.it.SenderDialogs.message;
import static dev.relayguard.it.SenderDialogs.submission;
import static dev.relayguard.it.SenderDialogs.token;
import static dev.relayguard.it.SenderDialogs.transaction;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SenderDialogs.Step;

/**
 * Issue 10, the author headers: at the end of DATA an authenticated user's message must carry in {@code From:}
 * (and {@code Sender:}, when present) only addresses the user owns, on the shipped sample (rule
 * {@code headerFrom} = reject). Each case asserts the exact end-of-DATA reply, exactly one RelayGuard counter,
 * and what reached the recipient's INBOX. Then bad input, decided by {@code AuthorHeaderReader}'s documented
 * rule: a 250 or a {@code 550 5.7.1}, never a 451, never a dropped connection, never an error out of the hook.
 */
class HeaderFromIT {
    private static final LogCapture HANDLER_LOG = LogCapture.of("dev.relayguard.smtp.RelayGuardHandler");
    private static final String NOT_OWNED = "relayguard.refused.sender.header-not-owned";
    private static final String INVALID = "relayguard.refused.sender.header-invalid";

    @RegisterExtension
    static JamesServerExtension james = SenderDialogs.server(conf -> { });

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        SenderDialogs.addUsers(server);
    }

    /** Submits {@code message} (which carries {@code token}) as demo with its own envelope sender; the step that answered. */
    private static Step submit(GuiceJamesServer server, String message) throws Exception {
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<" + DEMO_USER + ">", READER, message);
            // Whatever the answer, the session goes on: no dropped connection.
            assertThat(smtp.command("NOOP").code()).as("NOOP after " + step).isEqualTo(250);
            return step;
        }
    }

    /** The message is refused at the end of DATA with 550 5.7.1 naming {@code header}, one counter, nothing delivered. */
    private static void assertRefused(GuiceJamesServer server, String token, String message, String header, String metric)
            throws Exception {
        Map<String, Long> before = relayGuardMeters();
        Step step = submit(server, message);
        assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 550 5.7.1");
        assertThat(step.reply.text()).contains(header);
        assertThat(step.reply.text()).matches("[\\x20-\\x7e]*"); // printable: nothing the client sent is echoed raw
        assertThat(increasedSince(before)).isEqualTo(Map.of(metric, 1L));
        assertNeverDelivered(server, token);
    }

    /** The message is accepted at the end of DATA, nothing counted, and delivered; returns it as delivered. */
    private static String assertDelivered(GuiceJamesServer server, String token, String message) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        Step step = submit(server, message);
        assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        String delivered = delivered(server, READER, token);
        assertThat(increasedSince(before)).isEmpty();
        return delivered;
    }

    // ------------------------------------------------------------------ From: and Sender: ownership

    @Test
    void fromAnotherUserIsRefusedAtTheEndOfDataAndNeverDelivered(GuiceJamesServer server) throws Exception {
        String token = token("from-bob");
        Map<String, Long> before = relayGuardMeters();
        Step step = submit(server, message(token, "From: Bob <" + BOB + ">"));
        assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 550 5.7.1");
        assertThat(step.reply.text()).isEqualTo("5.7.1 From: header address not owned by authenticated user");
        assertThat(increasedSince(before)).isEqualTo(Map.of(NOT_OWNED, 1L));
        assertNeverDelivered(server, token);
        assertThat(SenderDialogs.inbox(server, BOB)).noneMatch(m -> m.contains(token));
    }

    @Test
    void otherSpellingsOfAnotherUsersAddressAreRefused(GuiceJamesServer server) throws Exception {
        String token = token("from-bob-spellings");
        assertRefused(server, token + "-upper", message(token + "-upper", "From: <BOB@RelayGuard.Test>"), "From:", NOT_OWNED);
        assertRefused(server, token + "-quoted", message(token + "-quoted", "From: \"bob\"@relayguard.test"), "From:", NOT_OWNED);
        assertRefused(server, token + "-encoded",
            message(token + "-encoded", "From: =?UTF-8?B?RMOpbW8=?= <" + BOB + ">"), "From:", NOT_OWNED);
        assertRefused(server, token + "-foreign", message(token + "-foreign", "From: The CEO <ceo@bank.example>"), "From:", NOT_OWNED);
        assertRefused(server, token + "-list",
            message(token + "-list", "From: <" + DEMO_USER + ">, \"Bob, the boss\" <" + BOB + ">"), "From:", NOT_OWNED);
    }

    @Test
    void ownAddressAndAnAliasInFromAreDelivered(GuiceJamesServer server) throws Exception {
        String token = token("from-own");
        assertDelivered(server, token + "-own", message(token + "-own", "From: Demo <" + DEMO_USER + ">"));
        assertDelivered(server, token + "-alias", message(token + "-alias", "From: Sales team <" + SALES + ">"));
        assertDelivered(server, token + "-case", message(token + "-case", "From: \"demo\"@RelayGuard.TEST"));
        assertDelivered(server, token + "-both",
            message(token + "-both", "From: \"Demo, Sales\" <" + DEMO_USER + ">, =?UTF-8?Q?S=C3=A4les?= <" + SALES + ">"));
        assertDelivered(server, token + "-comment", message(token + "-comment", "From: " + DEMO_USER + " (on behalf of " + BOB + ")"));
    }

    @Test
    void displayNamesAreNotJudged(GuiceJamesServer server) throws Exception {
        // Documented: only the address is owned; a display name that looks like an address is the reader's problem.
        String token = token("display-name");
        String delivered = assertDelivered(server, token, message(token, "From: \"ceo@relayguard.test\" <" + DEMO_USER + ">"));
        assertThat(delivered).contains("From: \"ceo@relayguard.test\" <" + DEMO_USER + ">");
    }

    @Test
    void senderHeaderOfAnotherUserIsRefused(GuiceJamesServer server) throws Exception {
        String token = token("sender-bob");
        assertRefused(server, token, message(token, "From: <" + DEMO_USER + ">", "Sender: Bob <" + BOB + ">"),
            "Sender: header address not owned", NOT_OWNED);
    }

    @Test
    void ownSenderHeaderWithAnAliasInFromIsDelivered(GuiceJamesServer server) throws Exception {
        String token = token("sender-own");
        assertDelivered(server, token, message(token, "From: <" + SALES + ">", "Sender: <" + DEMO_USER + ">"));
    }

    @Test
    void twoFromHeadersAreRefusedAsInvalid(GuiceJamesServer server) throws Exception {
        String token = token("two-from");
        assertRefused(server, token, message(token, "From: <" + DEMO_USER + ">", "From: <" + SALES + ">"),
            "5.7.1 Message has 2 From: headers (RFC 5322 section 3.6 allows one)", INVALID);
    }

    @Test
    void twoSenderHeadersAreRefusedAsInvalid(GuiceJamesServer server) throws Exception {
        String token = token("two-sender");
        assertRefused(server, token, message(token, "From: <" + DEMO_USER + ">", "Sender: <" + DEMO_USER + ">", "Sender: <" + SALES + ">"),
            "5.7.1 Message has 2 Sender: headers (RFC 5322 section 3.6 allows one)", INVALID);
    }

    @Test
    void noFromHeaderIsRefusedAsInvalid(GuiceJamesServer server) throws Exception {
        String token = token("no-from");
        assertRefused(server, token, message(token), "5.7.1 Message has no From: header (RFC 5322 section 3.6 requires one)", INVALID);
    }

    @Test
    void groupInFromIsRefusedAsInvalid(GuiceJamesServer server) throws Exception {
        String token = token("group-from");
        assertRefused(server, token, message(token, "From: team: <" + DEMO_USER + ">;"),
            "From: header is not a list of mailboxes: a group ('team:')", INVALID);
        assertRefused(server, token + "-empty", message(token + "-empty", "From: undisclosed-recipients:;"),
            "a group ('undisclosed-recipients:')", INVALID);
    }

    @Test
    void unauthenticatedMailIsNotJudgedByTheHeaderRule(GuiceJamesServer server) throws Exception {
        // MX, a stranger with a foreign envelope sender: From: is DMARC's business, not RelayGuard's.
        String token = token("mx-from-bob");
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("list.example.org");
            Step step = transaction(smtp, "<bounces@list.example.org>", READER, message(token, "From: Bob <" + BOB + ">"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        delivered(server, READER, token);
        assertThat(increasedSince(before)).isEmpty();
    }

    // ------------------------------------------------------------------ bad input: 250 or 550 5.7.1, never 451

    @Test
    void headerLineOf2000CharactersIsJudgedLikeAnyOther(GuiceJamesServer server) throws Exception {
        String token = token("long-line");
        String longName = "A".repeat(2000);
        assertDelivered(server, token + "-x", message(token + "-x", "From: <" + DEMO_USER + ">", "X-Long: " + longName));
        assertDelivered(server, token + "-own", message(token + "-own", "From: \"" + longName + "\" <" + DEMO_USER + ">"));
        assertRefused(server, token + "-bob", message(token + "-bob", "From: \"" + longName + "\" <" + BOB + ">"), "From:", NOT_OWNED);
        assertNoHandlerErrors();
    }

    @Test
    void nulByteInFromMakesItUnreadable(GuiceJamesServer server) throws Exception {
        String token = token("nul");
        assertRefused(server, token, message(token, "From: Demo\0 <" + DEMO_USER + ">"),
            "From: header is not a list of mailboxes: NUL byte", INVALID);
        assertNoHandlerErrors();
    }

    @Test
    void bare8BitDisplayNameInFromMakesItUnreadable(GuiceJamesServer server) throws Exception {
        // RFC 6532 headers need SMTPUTF8, which James 3.8.1 does not offer: documented as unreadable.
        String token = token("eight-bit");
        assertRefused(server, token, message(token, "From: D\u00e9mo M\u00fcller <" + DEMO_USER + ">"),
            "From: header is not a list of mailboxes", INVALID);
        assertRefused(server, token + "-bob", message(token + "-bob", "From: B\u00f6b <" + BOB + ">"),
            "From: header is not a list of mailboxes", INVALID);
        assertNoHandlerErrors();
    }

    @Test
    void encodedWordDisplayNameIsTheWayToWrite8BitAndIsDelivered(GuiceJamesServer server) throws Exception {
        String token = token("encoded-word");
        assertDelivered(server, token, message(token, "From: =?UTF-8?Q?D=C3=A9mo_M=C3=BCller?= <" + DEMO_USER + ">"));
    }

    @Test
    void undecodableEncodedWordOnlySpoilsTheDisplayNameWhichIsNotJudged(GuiceJamesServer server) throws Exception {
        // Documented (RFC 2047 section 6.2): a display name that does not decode leaves the address readable.
        String token = token("bad-encoded-word");
        assertDelivered(server, token + "-base64", message(token + "-base64", "From: =?UTF-8?B?RMOpbW8?= <" + DEMO_USER + ">"));
        assertDelivered(server, token + "-charset", message(token + "-charset", "From: =?x-no-such-charset?Q?D=E9mo?= <" + DEMO_USER + ">"));
        assertRefused(server, token + "-bob", message(token + "-bob", "From: =?UTF-8?B?Qm9i?= <" + BOB + ">"), "From:", NOT_OWNED);
        assertNoHandlerErrors();
    }

    @Test
    void malformedFromIsRefusedAsInvalid(GuiceJamesServer server) throws Exception {
        String token = token("malformed");
        assertRefused(server, token, message(token, "From: <<<"), "From: header is not a list of mailboxes", INVALID);
        assertRefused(server, token + "-nodomain", message(token + "-nodomain", "From: demo"),
            "From: header is not a list of mailboxes", INVALID);
        assertRefused(server, token + "-empty", message(token + "-empty", "From: "), "From: header has no address", INVALID);
        assertRefused(server, token + "-unclosed", message(token + "-unclosed", "From: \"Demo <" + DEMO_USER + ">"),
            "From: header is not a list of mailboxes", INVALID);
        assertNoHandlerErrors();
    }

    @Test
    void foldedFromIsUnfoldedThenJudged(GuiceJamesServer server) throws Exception {
        String token = token("folded");
        assertDelivered(server, token + "-own", message(token + "-own", "From: Demo\r\n <" + DEMO_USER + ">"));
        assertDelivered(server, token + "-list", message(token + "-list", "From: <" + DEMO_USER + ">,\r\n\t<" + SALES + ">"));
        assertRefused(server, token + "-bob", message(token + "-bob", "From: Demo <" + DEMO_USER + ">,\r\n Bob\r\n\t<" + BOB + ">"),
            "From:", NOT_OWNED);
        assertNoHandlerErrors();
    }

    private static void assertNoHandlerErrors() {
        assertThat(HANDLER_LOG.linesAt("ERROR")).as("RelayGuardHandler errors (an exception out of the hook)").isEmpty();
    }
}
