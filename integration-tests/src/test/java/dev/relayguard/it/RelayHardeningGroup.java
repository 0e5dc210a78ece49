package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static dev.relayguard.it.RelayGuardServers.DEMO_PASSWORD;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.Map;

import org.apache.james.GuiceJamesServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * RelayGuard's own cases beyond the battery: routing syntax to local domains, unqualified recipients, sender
 * ownership, local-sender spoofing, AUTH without TLS, and the per-connection refusal limit. Each asserts the
 * exact reply and the one metric it increments. The sample as shipped (probe bans off), users demo and other,
 * and demo's alias sales. Runs as {@link RelayPolicyIT.RelayHardening}, on the server {@link RelayPolicyIT} shares.
 */
abstract class RelayHardeningGroup {

    @BeforeAll
    static void samplePolicy() {
        RelayPolicyIT.useSamplePolicy();
    }

    private static int mx(GuiceJamesServer server) {
        return RelayGuardServers.mxPort(server);
    }

    private static int submission(GuiceJamesServer server) {
        return RelayGuardServers.submissionPort(server);
    }

    private static void assertRefused(Attempt attempt, String summary, String metric, Map<String, Long> before) throws Exception {
        assertThat(attempt.summary()).as(attempt.toString()).isEqualTo(summary);
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard." + metric, 1L));
    }

    @Test
    void quotedAtToALocalDomainIsRoutingSyntaxNotAnUnexpectedError(GuiceJamesServer server) throws Exception {
        // Stock James 3.8.1 answers this with "451 4.0.0": a client would retry it forever.
        Map<String, Long> before = relayGuardMeters();
        Attempt attempt = Attempt.run(mx(server), false, null, null, "<someone@sender.example>", "<\"user@remote.example\"@relayguard.test>");
        assertRefused(attempt, "RCPT 550 5.7.1", "refused.routing.at-in-local-part", before);
        assertThat(attempt.reply().text()).contains("Routing syntax not accepted");
    }

    @Test
    void percentHackToALocalDomainIsRefused(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        assertRefused(Attempt.run(mx(server), false, null, null, "<someone@sender.example>", "<demo%remote.example@relayguard.test>"),
            "RCPT 550 5.7.1", "refused.routing.percent-hack", before);
    }

    @Test
    void routingSyntaxIsRefusedEvenForAuthenticatedUsers(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        assertRefused(Attempt.run(submission(server), true, DEMO_USER, DEMO_PASSWORD, "<" + DEMO_USER + ">", "<@hop.example:victim@remote.example>"),
            "RCPT 550 5.7.1", "refused.routing.source-route", before);
    }

    @Test
    void unqualifiedRecipientFromAStrangerIsRefusedButPostmasterIsNot(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        assertRefused(Attempt.run(mx(server), false, null, null, "<someone@sender.example>", "<demo>"),
            "RCPT 550 5.7.1", "refused.routing.unqualified", before);
        Attempt postmaster = Attempt.run(mx(server), false, null, null, "<someone@sender.example>", "<postmaster>");
        assertThat(postmaster.step()).as(postmaster.toString()).isEqualTo("DATA");
        assertThat(postmaster.reply().code()).isEqualTo(250);
    }

    @Test
    void authenticatedUserMayNotUseAnotherUsersAddress(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        Attempt attempt = Attempt.run(submission(server), true, DEMO_USER, DEMO_PASSWORD, "<other@relayguard.test>", "<friend@remote.example>");
        assertRefused(attempt, "MAIL 553 5.7.1", "refused.sender.not-owned", before);
        assertThat(attempt.reply().text()).isEqualTo("5.7.1 Sender address not owned by authenticated user");
    }

    @Test
    void authenticatedUserMayNotUseAForeignAddressInStrictMode(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        assertRefused(Attempt.run(submission(server), true, DEMO_USER, DEMO_PASSWORD, "<ceo@bank.example>", "<friend@remote.example>"),
            "MAIL 553 5.7.1", "refused.sender.not-owned", before);
    }

    @Test
    void authenticatedUserMayUseItsOwnAddressItsAliasAndTheNullSender(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        // Attempt's message carries From: <demo@relayguard.test> (headerFrom rule): the author is the user whatever MAIL FROM says.
        assertThat(Attempt.run(submission(server), true, DEMO_USER, DEMO_PASSWORD, "<" + DEMO_USER + ">", "<friend@remote.example>").relayed()).isTrue();
        assertThat(Attempt.run(submission(server), true, DEMO_USER, DEMO_PASSWORD, "<DEMO@RelayGuard.Test>", "<friend@remote.example>").relayed()).isTrue();
        assertThat(Attempt.run(submission(server), true, DEMO_USER, DEMO_PASSWORD, "<sales@relayguard.test>", "<friend@remote.example>").relayed()).isTrue();
        assertThat(Attempt.run(submission(server), true, DEMO_USER, DEMO_PASSWORD, "<>", "<friend@remote.example>").relayed()).isTrue();
        assertThat(increasedSince(before)).isEmpty();
    }

    @Test
    void strangerUsingALocalSenderOnTheMxIsRefused(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        assertRefused(Attempt.run(mx(server), false, null, null, "<" + DEMO_USER + ">", "<other@relayguard.test>"),
            "MAIL 550 5.7.1", "refused.sender.local-spoof", before);
    }

    @Test
    void authenticationWithoutTlsOnTheMxIsRefusedAndGrantsNoRelay(GuiceJamesServer server) throws Exception {
        // James 3.8.1 accepts AUTH PLAIN on the MX port although it does not announce AUTH there: RelayGuard answers
        // it first, before any password check (no password oracle), and the session stays a stranger's.
        Map<String, Long> before = relayGuardMeters();
        Attempt attempt = Attempt.run(mx(server), false, DEMO_USER, DEMO_PASSWORD, "<someone@laptop.example>", "<friend@remote.example>");
        assertRefused(attempt, "AUTH 503 5.5.1", "refused.auth.not-offered", before);
        assertThat(attempt.reply().text()).isEqualTo("5.5.1 Authentication not available on this port without TLS");
        before = relayGuardMeters();
        try (SmtpClient smtp = SmtpClient.connect(mx(server))) {
            smtp.ehlo("laptop.example");
            assertThat(smtp.authPlain(DEMO_USER, DEMO_PASSWORD).code()).isEqualTo(503);
            assertThat(smtp.mailFrom("someone@laptop.example").code()).isEqualTo(250);
            assertThat(smtp.rcptTo("friend@remote.example").code()).isEqualTo(550);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.auth.not-offered", 1L,
            "relayguard.refused.relay.unauthenticated", 1L));
    }

    @Test
    void tooManyRefusedRecipientsCloseTheConnectionWith421(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = SmtpClient.connect(mx(server))) {
            smtp.ehlo("prober.example");
            smtp.mailFrom("prober@prober.example");
            for (int i = 1; i <= 5; i++) {
                assertThat(smtp.rcptTo("victim" + i + "@remote.example").code()).isEqualTo(550);
            }
            Reply sixth = smtp.rcptTo("victim6@remote.example");
            assertThat(sixth.code()).isEqualTo(421);
            assertThat(sixth.enhancedStatus()).isEqualTo("4.7.0");
            assertThatThrownBy(() -> smtp.command("NOOP")).isInstanceOf(IOException.class);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of(
            "relayguard.refused.relay.unauthenticated", 5L,
            "relayguard.deferred.session.too-many-refusals", 1L));
    }

    @Test
    void routingRefusalsCountTowardsTheConnectionLimitToo(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(mx(server))) {
            smtp.ehlo("prober.example");
            smtp.mailFrom("prober@prober.example");
            for (int i = 1; i <= 5; i++) {
                assertThat(smtp.rcptTo("v" + i + "%remote.example@relayguard.test").code()).isEqualTo(550);
            }
            assertThat(smtp.rcptTo("v6%remote.example@relayguard.test").code()).isEqualTo(421);
        }
    }
}
