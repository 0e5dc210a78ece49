package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static dev.relayguard.it.SenderDialogs.BOB;
import static dev.relayguard.it.SenderDialogs.READER;
import static dev.relayguard.it.SenderDialogs.SALES;
import static dev.relayguard.it.SenderDialogs.TEAM;
import static dev.relayguard.it.SenderDialogs.assertNeverDelivered;
import static dev.relayguard.it.SenderDialogs.await;
import static dev.relayguard.it.SenderDialogs.delivered;
import static dev.relayguard.it.SenderDialogs.message;
import static dev.relayguard.it.SenderDialogs.submission;
import static dev.relayguard.it.SenderDialogs.token;
import static dev.relayguard.it.SenderDialogs.transaction;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.util.Map;

import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.relayguard.it.SenderDialogs.Step;
import dev.relayguard.it.SmtpClient.Reply;

/**
 * Issue 10, the envelope: RelayGuard judges the sender James will record (its default domain appended to an
 * unqualified sender, the path cut where James cuts it), on the shipped sample over real SMTP. Each refusal
 * asserts the exact reply and exactly one RelayGuard counter; each pass asserts what James delivered or
 * relayed (RemoteDelivery points at a loopback {@link SmtpSink}).
 */
class SenderIdentityIT {
    private static final String BEAN = "org.apache.james:type=extension,name=RelayGuard";
    private static final SmtpSink SINK = SmtpSink.started();

    @RegisterExtension
    static JamesServerExtension james = SenderDialogs.server(conf -> conf
        .replace("mailetcontainer.xml", "<outgoingQueue>outgoing</outgoingQueue>",
            "<outgoingQueue>outgoing</outgoingQueue><gateway>127.0.0.1</gateway><gatewayPort>" + SINK.port() + "</gatewayPort>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        SenderDialogs.addUsers(server);
    }

    @AfterAll
    static void stopSink() throws Exception {
        SINK.close();
    }

    private static int mx(GuiceJamesServer server) {
        return RelayGuardServers.mxPort(server);
    }

    // ------------------------------------------------------------------ MX: a stranger's unqualified sender

    /** The first dialog: stock James completes it to {@code admin@relayguard.test} and delivers it. */
    @ParameterizedTest
    @ValueSource(strings = {"<admin>", "<Admin>", "admin", "<admin> SIZE=100", "<admin> BODY=8BITMIME",
        "<admin> AUTH=<>", "<postmaster>"})
    void unqualifiedSenderFromAStrangerOnTheMxIsRefused553WithFullyQualifiedHint(String mailFrom, GuiceJamesServer server)
            throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = SmtpClient.connect(mx(server))) {
            smtp.ehlo("stranger.example");
            Reply mail = smtp.command("MAIL FROM:" + mailFrom);
            assertThat(mail.code()).as(mail.toString()).isEqualTo(553);
            assertThat(mail.enhancedStatus()).isEqualTo("5.1.7");
            assertThat(mail.text()).contains("fully qualified");
            // No transaction was opened: nothing can be queued after it.
            assertThat(smtp.rcptTo(READER).code()).isEqualTo(503);
            assertThat(smtp.command("NOOP").code()).isEqualTo(250);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.sender.unqualified", 1L));
    }

    @Test
    void unqualifiedSenderRefusedOnTheMxIsNeverDelivered(GuiceJamesServer server) throws Exception {
        String token = token("mx-unqualified");
        Attempt attempt;
        try (SmtpClient smtp = SmtpClient.connect(mx(server))) {
            smtp.ehlo("stranger.example");
            Step step = transaction(smtp, "<admin>", READER, message(token, "From: <admin@stranger.example>"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("MAIL 553 5.1.7");
        }
        assertNeverDelivered(server, token);
        // The same stranger with a fully qualified foreign sender is an ordinary inbound mail.
        attempt = Attempt.run(mx(server), false, null, null, "<admin@stranger.example>", "<" + READER + ">");
        assertThat(attempt.relayed()).as(attempt.toString()).isTrue();
    }

    // ------------------------------------------------------------------ submission: completed, then owned?

    /** The second dialog: stock James relays it out as {@code bob@relayguard.test}. */
    @ParameterizedTest
    @ValueSource(strings = {"<bob>", "<BOB>", "<bob> SIZE=100", "<bob> BODY=8BITMIME", "<bob> AUTH=<demo@relayguard.test>",
        "<bob@relayguard.test>", "<\"bob\"@relayguard.test>", "<bob@RELAYGUARD.TEST>"})
    void unqualifiedOrOtherSpellingOfAnotherUsersAddressIsNotOwned553(String mailFrom, GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = submission(server)) {
            Reply mail = smtp.command("MAIL FROM:" + mailFrom);
            assertThat(mail.code()).as(mail.toString()).isEqualTo(553);
            assertThat(mail.enhancedStatus()).isEqualTo("5.7.1");
            assertThat(mail.text()).isEqualTo("5.7.1 Sender address not owned by authenticated user");
            assertThat(smtp.rcptTo("friend@remote.example").code()).isEqualTo(503);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.sender.not-owned", 1L));
    }

    @Test
    void unbracketedSenderOnSubmissionIsJamesOwnSyntaxError(GuiceJamesServer server) throws Exception {
        // RelayGuard lets James complete it on submission; James then refuses the missing brackets itself.
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = submission(server)) {
            Reply mail = smtp.command("MAIL FROM:bob");
            assertThat(mail.code()).as(mail.toString()).isEqualTo(501);
            assertThat(smtp.rcptTo("friend@remote.example").code()).isEqualTo(503);
        }
        assertThat(increasedSince(before)).isEmpty();
    }

    @Test
    void groupAliasIncludingTheUserDoesNotMakeASender(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = submission(server)) {
            assertThat(smtp.command("MAIL FROM:<team>").code()).isEqualTo(553);
            assertThat(smtp.command("MAIL FROM:<" + TEAM + ">").code()).isEqualTo(553);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.sender.not-owned", 2L));
    }

    @Test
    void unqualifiedAliasOfTheUserIsCompletedAndRelayedAsTheAlias(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("alias-unqualified");
        try (SmtpClient smtp = submission(server)) {
            Reply mail = smtp.command("MAIL FROM:<sales>");
            assertThat(mail.code()).as(mail.toString()).isEqualTo(250);
            assertThat(mail.text()).contains(SALES); // James's own completion, as it records it
            assertThat(smtp.rcptTo("friend@remote.example").code()).isEqualTo(250);
            assertThat(smtp.data(message(token, "From: Sales <" + SALES + ">")).code()).isEqualTo(250);
        }
        await("the relayed mail at the sink", () -> SINK.deliveries().stream().anyMatch(d -> d.data.contains(token)));
        SmtpSink.Delivery relayed = SINK.deliveries().stream().filter(d -> d.data.contains(token)).findFirst().orElseThrow();
        assertThat(relayed.sender).isEqualTo(SALES);
        assertThat(relayed.recipients).containsExactly("friend@remote.example");
        assertThat(increasedSince(before)).isEmpty();
    }

    @Test
    void unqualifiedOwnNameIsCompletedAndDelivered(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("own-unqualified");
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<demo>", READER, message(token, "From: <" + DEMO_USER + ">"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        assertThat(delivered(server, READER, token)).contains("Return-Path: <" + DEMO_USER + ">");
        assertThat(increasedSince(before)).isEmpty();
    }

    @Test
    void relayWithAnotherUsersFromIsRefusedAtTheEndOfDataAndNeverReachesTheSink(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String token = token("relay-from-bob");
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<" + DEMO_USER + ">", "friend@remote.example", message(token, "From: Bob <" + BOB + ">"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 550 5.7.1");
            assertThat(step.reply.text()).isEqualTo("5.7.1 From: header address not owned by authenticated user");
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.sender.header-not-owned", 1L));
        // Barrier: the user's next, honest mail to the same recipient reaches the sink; the refused one never does.
        String barrier = token("barrier");
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<" + DEMO_USER + ">", "friend@remote.example", message(barrier, "From: <" + DEMO_USER + ">"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        await("the barrier at the sink", () -> SINK.deliveries().stream().anyMatch(d -> d.data.contains(barrier)));
        assertThat(SINK.deliveries()).noneMatch(d -> d.data.contains(token));
    }

    // ------------------------------------------------------------------ where the path ends

    /** James cuts MAIL at the first '>' after the first '<': the sender is postmaster@relayguard.test. */
    @ParameterizedTest
    @ValueSource(strings = {"<postmaster@relayguard.test> A=> B", "<postmaster@relayguard.test> X=<y@remote.example>",
        "<postmaster@relayguard.test> SIZE=10 BODY=7BIT RET=HDRS ENVID=x>y", "<PostMaster@RelayGuard.TEST> A=> B"})
    void localSenderWithAGreaterThanInItsParametersIsStillALocalSpoof(String mailFrom, GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = SmtpClient.connect(mx(server))) {
            smtp.ehlo("stranger.example");
            Reply mail = smtp.command("MAIL FROM:" + mailFrom);
            assertThat(mail.code()).as(mail.toString()).isEqualTo(550);
            assertThat(mail.enhancedStatus()).isEqualTo("5.7.1");
            assertThat(mail.text()).contains("Sender address in a local domain requires authentication");
            assertThat(smtp.rcptTo(READER).code()).isEqualTo(503);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.sender.local-spoof", 1L));
    }

    @Test
    void localSpoofWithAGreaterThanInItsParametersIsNeverDelivered(GuiceJamesServer server) throws Exception {
        String token = token("mx-spoof-param");
        try (SmtpClient smtp = SmtpClient.connect(mx(server))) {
            smtp.ehlo("stranger.example");
            Step step = transaction(smtp, "<postmaster@relayguard.test> A=> B", READER,
                message(token, "From: <postmaster@relayguard.test>"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("MAIL 550 5.7.1");
        }
        assertNeverDelivered(server, token);
    }

    /**
     * RFC 4954 §5: {@code AUTH=<mailbox>} is a legitimate parameter, not routing syntax, and not probing:
     * the mail is delivered, nothing is counted, and the client IP collects nothing towards a probe ban
     * (sample: 10 refusals) even after ten such transactions. A loopback address of its own keeps it apart.
     */
    @Test
    void authParameterWithAMailboxIsDeliveredAndNeverCountsTowardsAProbeBan(GuiceJamesServer server) throws Exception {
        String client = "127.0.0.77";
        ObjectName bean = new ObjectName(BEAN);
        int trackedBefore = (Integer) ManagementFactory.getPlatformMBeanServer().getAttribute(bean, "TrackedIps");
        Map<String, Long> before = relayGuardMeters();
        String token = token("auth-param");
        try (SmtpClient smtp = SmtpClient.connectFrom(client, mx(server))) {
            smtp.ehlo("relay.example.org");
            for (int i = 0; i < 10; i++) {
                assertThat(smtp.command("MAIL FROM:<probe@example.org> AUTH=<demo@relayguard.test>").code()).isEqualTo(250);
                assertThat(smtp.rcptTo(READER).code()).isEqualTo(250);
                assertThat(smtp.command("RSET").code()).isEqualTo(250);
            }
            Reply mail = smtp.command("MAIL FROM:<probe@example.org> AUTH=<demo@relayguard.test>");
            assertThat(mail.code()).as(mail.toString()).isEqualTo(250);
            assertThat(mail.text()).contains("probe@example.org");
            assertThat(smtp.rcptTo(READER).code()).isEqualTo(250);
            assertThat(smtp.data(message(token, "From: Probe <probe@example.org>")).code()).isEqualTo(250);
        }
        assertThat(delivered(server, READER, token)).contains("Return-Path: <probe@example.org>");
        assertThat(increasedSince(before)).isEmpty();
        assertThat((Integer) ManagementFactory.getPlatformMBeanServer().getAttribute(bean, "TrackedIps")).isEqualTo(trackedBefore);
        assertThat((String[]) ManagementFactory.getPlatformMBeanServer().invoke(bean, "bans", new Object[0], new String[0]))
            .noneMatch(ban -> ban.startsWith(client));
        try (SmtpClient again = SmtpClient.connectFrom(client, mx(server))) {
            assertThat(again.greeting().code()).isEqualTo(220);
        }
    }

    @Test
    void authParameterOnSubmissionKeepsTheEnvelopeSenderItsOwner(GuiceJamesServer server) throws Exception {
        // AUTH=<bob@...> claims nothing: ownership is judged on the path, demo's own address.
        Map<String, Long> before = relayGuardMeters();
        String token = token("auth-param-submission");
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<" + DEMO_USER + "> AUTH=<" + BOB + ">", READER, message(token, "From: <" + DEMO_USER + ">"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        assertThat(delivered(server, READER, token)).contains("Return-Path: <" + DEMO_USER + ">");
        assertThat(increasedSince(before)).isEmpty();
    }
}
