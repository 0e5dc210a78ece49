package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.james.GuiceJamesServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.relayguard.probe.OpenRelayProbe;
import dev.relayguard.probe.ProbeCase;

/**
 * The open-relay battery against real James 3.8.1 with RelayGuard, on the MX and the submission listener: the
 * 16 envelopes of nmap's {@code smtp-open-relay} plus RelayGuard's own routing cases, each run through DATA
 * (Metasploit {@code smtp_relay} style: a final 250 is a relay), each asserting the exact step, reply code,
 * enhanced status and the one RelayGuard metric it increments. Then the operator's {@code probe} command
 * against both listeners. Probe bans are off here (they have their own test): the battery refuses ~50 relays.
 * Runs as {@link RelayPolicyIT.OpenRelayBattery}, on the server {@link RelayPolicyIT} shares.
 */
abstract class OpenRelayBatteryGroup {
    private static final String RELAY_DOMAIN = "remote.example";
    private static final String LOCAL_DOMAIN = RelayGuardServers.DOMAIN;
    private static final String SERVER_IP = "127.0.0.1";

    /** Case number → {expected step + code + enhanced status, expected metric (without "relayguard.")}. */
    private static final Map<Integer, String[]> MX_EXPECTED = Map.ofEntries(
        Map.entry(1, new String[] {"RCPT 550 5.7.1", "refused.relay.unauthenticated"}),
        Map.entry(2, new String[] {"RCPT 550 5.7.1", "refused.relay.unauthenticated"}),
        Map.entry(3, new String[] {"MAIL 550 5.7.1", "refused.sender.local-spoof"}),
        Map.entry(4, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(5, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(6, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(7, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(8, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(9, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(10, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(11, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(12, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(13, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(14, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(15, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(16, new String[] {"MAIL 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(17, new String[] {"RCPT 550 5.7.1", "refused.routing.percent-hack"}),
        Map.entry(18, new String[] {"RCPT 550 5.7.1", "refused.routing.at-in-local-part"}),
        Map.entry(19, new String[] {"RCPT 550 5.7.1", "refused.routing.bang-path"}),
        Map.entry(20, new String[] {"RCPT 550 5.7.1", "refused.routing.source-route"}),
        Map.entry(21, new String[] {"RCPT 550 5.7.1", "refused.routing.ip-literal"}),
        Map.entry(22, new String[] {"RCPT 550 5.7.1", "refused.routing.percent-hack"}),
        // James itself refuses a trailing dot as address syntax, before any hook: nothing for RelayGuard to count.
        Map.entry(23, new String[] {"RCPT 553 5.1.3", null}),
        Map.entry(24, new String[] {"RCPT 550 5.7.1", "refused.relay.unauthenticated"}));

    /** The nmap envelopes again, with the RCPT tricks reached: a neutral sender instead of the IP literal. */
    private static final Map<Integer, String[]> NMAP_RCPT_TRICKS = Map.ofEntries(
        Map.entry(5, new String[] {"RCPT 550 5.7.1", "refused.routing.percent-hack"}),
        Map.entry(6, new String[] {"RCPT 550 5.7.1", "refused.routing.percent-hack"}),
        Map.entry(7, new String[] {"RCPT 550 5.7.1", "refused.routing.at-in-local-part"}),
        Map.entry(8, new String[] {"RCPT 550 5.7.1", "refused.routing.percent-hack"}),
        Map.entry(9, new String[] {"RCPT 550 5.7.1", "refused.routing.at-in-local-part"}),
        Map.entry(10, new String[] {"RCPT 550 5.7.1", "refused.routing.at-in-local-part"}),
        Map.entry(11, new String[] {"RCPT 550 5.7.1", "refused.routing.at-in-local-part"}),
        Map.entry(12, new String[] {"RCPT 550 5.7.1", "refused.routing.source-route"}),
        Map.entry(13, new String[] {"RCPT 550 5.7.1", "refused.routing.source-route"}),
        Map.entry(14, new String[] {"RCPT 550 5.7.1", "refused.routing.bang-path"}),
        Map.entry(15, new String[] {"RCPT 550 5.7.1", "refused.routing.bang-path"}),
        Map.entry(16, new String[] {"RCPT 550 5.7.1", "refused.routing.bang-path"}));

    @BeforeAll
    static void samplePolicy() {
        RelayPolicyIT.useSamplePolicy();
    }

    private static List<ProbeCase> cases() {
        return OpenRelayProbe.cases(RELAY_DOMAIN, LOCAL_DOMAIN, SERVER_IP);
    }

    @Test
    void everyBatteryCaseIsRefusedOnTheMxListenerWithItsExactReplyAndMetric(GuiceJamesServer server) throws Exception {
        List<String> mismatches = new ArrayList<>();
        for (ProbeCase probeCase : cases()) {
            String[] expected = MX_EXPECTED.get(probeCase.number());
            check(mismatches, probeCase, RelayGuardServers.mxPort(server), false,
                "<" + probeCase.mailFrom() + ">", expected[0], expected[1]);
        }
        assertThat(mismatches).isEmpty();
        assertThat(MX_EXPECTED).hasSize(cases().size());
    }

    @Test
    void nmapRecipientTricksAreRefusedAtRcptWhenTheSenderIsClean(GuiceJamesServer server) throws Exception {
        List<String> mismatches = new ArrayList<>();
        for (ProbeCase probeCase : cases()) {
            String[] expected = NMAP_RCPT_TRICKS.get(probeCase.number());
            if (expected != null) {
                check(mismatches, probeCase, RelayGuardServers.mxPort(server), false, "<probe@" + RELAY_DOMAIN + ">",
                    expected[0], expected[1]);
            }
        }
        assertThat(mismatches).isEmpty();
    }

    @Test
    void everyBatteryCaseIsRefusedOnTheSubmissionListenerWithoutAuth(GuiceJamesServer server) throws Exception {
        List<String> mismatches = new ArrayList<>();
        for (ProbeCase probeCase : cases()) {
            check(mismatches, probeCase, RelayGuardServers.submissionPort(server), true,
                "<" + probeCase.mailFrom() + ">", "MAIL 530 5.7.0", "refused.submission.auth-required");
        }
        assertThat(mismatches).isEmpty();
    }

    private static void check(List<String> mismatches, ProbeCase probeCase, int port, boolean startTls,
                              String mailFrom, String expectedSummary, String expectedMetric) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        Attempt attempt = Attempt.run(port, startTls, null, null, mailFrom, "<" + probeCase.rcptTo() + ">");
        Map<String, Long> increased = increasedSince(before);
        Map<String, Long> expectedIncrease = expectedMetric == null ? Map.of() : Map.of("relayguard." + expectedMetric, 1L);
        if (attempt.relayed() || !attempt.summary().equals(expectedSummary) || !increased.equals(expectedIncrease)) {
            mismatches.add(String.format("[%02d] MAIL FROM:%s RCPT TO:<%s>: got %s %s, expected %s %s", probeCase.number(),
                mailFrom, probeCase.rcptTo(), attempt, increased, expectedSummary, expectedIncrease));
        }
    }

    @Test
    void probeCommandFindsNoRelayOnEitherListener(GuiceJamesServer server) throws Exception {
        String mx = runProbe(0, "--port", String.valueOf(RelayGuardServers.mxPort(server)),
            "--relay-domain", RELAY_DOMAIN, "--local-domain", LOCAL_DOMAIN);
        assertThat(mx).contains("RCPT TO:<postmaster@" + LOCAL_DOMAIN + ">  -> RCPT 250").contains("24 passed, 0 failed")
            .doesNotContain("] FAIL").doesNotContain("] ERROR").doesNotContain("] UNTESTED");
        // Issue 15: the IP-literal sender is refused at MAIL, so each recipient trick is judged on a neutral sender's RCPT.
        assertThat(mx).contains("[06] PASS  MAIL FROM:<antispam@[127.0.0.1]> RCPT TO:<relaytest%remote.example@"
            + LOCAL_DOMAIN + ">  -> RCPT 550 5.7.1");
        assertThat(mx.lines().filter(line -> line.contains("[sender refused at MAIL: 550 5.7.1")
            && line.contains("RCPT sent after MAIL FROM:<probe@" + RELAY_DOMAIN + ">]"))).hasSize(14); // cases 03-16
        // Unauthenticated on the submission listener every MAIL is refused: nothing tried, nothing passed (exit 4).
        String submission = runProbe(OpenRelayProbe.EXIT_UNTESTED, "--port",
            String.valueOf(RelayGuardServers.submissionPort(server)), "--starttls", "--relay-domain", RELAY_DOMAIN,
            "--local-domain", LOCAL_DOMAIN);
        assertThat(submission).contains("0 passed, 0 failed, 24 untested (refused at MAIL)").contains("MAIL 530 5.7.0");
    }

    @Test
    void probeCommandWithAuthReportsAuthenticatedRelaysAsAccepted(GuiceJamesServer server) throws Exception {
        String output = runProbe(0, "--port", String.valueOf(RelayGuardServers.submissionPort(server)), "--starttls",
            "--auth-user", RelayGuardServers.DEMO_USER, "--auth-password", RelayGuardServers.DEMO_PASSWORD,
            "--relay-domain", RELAY_DOMAIN, "--local-domain", LOCAL_DOMAIN);
        // Case 1 (null sender) relays for the authenticated user; the others' senders fail ownership at MAIL and are
        // retried as the user: a plain remote recipient relays (authenticated), the routing tricks are refused at RCPT.
        assertThat(output).contains("[01] ACCEPTED (authenticated)")
            .contains("[02] ACCEPTED (authenticated)", "[sender refused at MAIL: 553 5.7.1",
                "RCPT sent after MAIL FROM:<" + RelayGuardServers.DEMO_USER + ">]")
            .contains("[05] PASS").doesNotContain("] UNTESTED");
    }

    private static String runProbe(int expectedExit, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String[] full = new String[args.length + 2];
        full[0] = "--host";
        full[1] = "127.0.0.1";
        System.arraycopy(args, 0, full, 2, args.length);
        int exit = OpenRelayProbe.run(full, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String output = out.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(output + err.toString(StandardCharsets.UTF_8)).isEqualTo(expectedExit);
        return output;
    }
}
