package dev.relayguard.probe;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpenRelayProbeTest {
    private static final String RELAY = "remote.example";
    private static final String HOSTED = "mx.hosted.test";
    private static final Pattern CASE_LINE = Pattern.compile(
            "^\\[(\\d\\d)\\] (PASS|FAIL|ERROR|ACCEPTED \\(authenticated\\))  (MAIL FROM:<.*>) (RCPT TO:<.*>)  -> (\\S+) (.*)$");

    /** Refuses every recipient in the relay domain or with routing characters, like a strict server. */
    private static final Function<String, String> STRICT = rcpt -> {
        boolean remote = rcpt.toLowerCase(Locale.ROOT).contains(RELAY);
        boolean routing = rcpt.matches(".*[%!\":\\[].*") || rcpt.indexOf('@') != rcpt.lastIndexOf('@');
        return remote || routing ? "550 5.7.1 Relaying denied" : "250 2.1.5 OK";
    };
    private static final Function<String, String> OPEN = rcpt -> "250 2.1.5 OK";

    private FakeSmtpServer server;

    @AfterEach
    void stopServer() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    // ---- the case list ------------------------------------------------------------------------------

    @Test
    void caseListHas24NumberedCasesStartingWithNmapsSixteen() {
        List<ProbeCase> cases = OpenRelayProbe.cases("R.example", "L.test", "192.0.2.1");

        assertThat(cases).hasSize(24);
        assertThat(cases).extracting(ProbeCase::number)
                .containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24);
        assertThat(cases).allSatisfy(c -> assertThat(c.description()).isNotBlank());
        String ip = "[192.0.2.1]";
        assertThat(cases.subList(0, 16)).extracting(c -> c.mailFromCommand() + " " + c.rcptToCommand()).containsExactly(
                "MAIL FROM:<> RCPT TO:<relaytest@R.example>",
                "MAIL FROM:<antispam@R.example> RCPT TO:<relaytest@R.example>",
                "MAIL FROM:<antispam@L.test> RCPT TO:<relaytest@R.example>",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<relaytest@R.example>",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<relaytest%R.example@" + ip + ">",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<relaytest%R.example@L.test>",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<\"relaytest@R.example\">",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<\"relaytest%R.example\">",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<relaytest@R.example@" + ip + ">",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<\"relaytest@R.example\"@" + ip + ">",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<relaytest@R.example@L.test>",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<@" + ip + ":relaytest@R.example>",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<@L.test:relaytest@R.example>",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<R.example!relaytest>",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<R.example!relaytest@" + ip + ">",
                "MAIL FROM:<antispam@" + ip + "> RCPT TO:<R.example!relaytest@L.test>");
        assertThat(cases.subList(16, 24)).extracting(ProbeCase::mailFrom).containsOnly("probe@R.example");
        assertThat(cases.subList(16, 24)).extracting(ProbeCase::rcptTo).containsExactly(
                "relaytest%R.example@L.test",
                "\"relaytest@R.example\"@L.test",
                "R.example!relaytest@L.test",
                "@L.test:relaytest@R.example",
                "relaytest@" + ip,
                "\"relaytest%R.example\"@L.test",
                "relaytest@R.example.",
                "relaytest@R.EXAMPLE");
    }

    @Test
    void ipv6ServerAddressUsesTheIpv6AddressLiteralForm() {
        List<ProbeCase> cases = OpenRelayProbe.cases(RELAY, HOSTED, "2001:db8::1");

        assertThat(cases.get(4).mailFrom()).isEqualTo("antispam@[IPv6:2001:db8::1]");
        assertThat(cases.get(4).rcptTo()).isEqualTo("relaytest%remote.example@[IPv6:2001:db8::1]");
    }

    // ---- verdicts -----------------------------------------------------------------------------------

    @Test
    void refusingServerPassesAllCasesAndIsNeverSentData() throws Exception {
        server = FakeSmtpServer.start(STRICT);

        Result result = probe("--relay-domain", RELAY);

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_OK);
        assertThat(result.caseLines()).hasSize(24).allSatisfy(line -> assertThat(line)
                .matches(CASE_LINE)
                .contains("] PASS  ")
                .endsWith("  -> RCPT 550 5.7.1 Relaying denied"));
        assertThat(result.caseLines().get(0))
                .isEqualTo("[01] PASS  MAIL FROM:<> RCPT TO:<relaytest@remote.example>  -> RCPT 550 5.7.1 Relaying denied");
        assertThat(result.lastLine()).isEqualTo("24 passed, 0 failed");
        assertThat(result.err).isEmpty();

        // first the local-domain check, then one connection per case; RSET and QUIT after each refusal, never DATA
        assertThat(server.sessions).hasSize(25);
        assertThat(server.sessions.get(0)).containsExactly("EHLO relayguard-probe.invalid",
                "MAIL FROM:<probe@remote.example>", "RCPT TO:<postmaster@" + HOSTED + ">", "RSET", "QUIT");
        for (List<String> session : server.sessions) {
            assertThat(session.get(0)).isEqualTo("EHLO relayguard-probe.invalid");
            assertThat(session).doesNotContain("DATA").endsWith("RSET", "QUIT");
        }
        assertThat(caseSession(3)).contains("MAIL FROM:<antispam@" + HOSTED + ">");
        assertThat(caseSession(5)).contains("RCPT TO:<relaytest%remote.example@[127.0.0.1]>");
        assertThat(result.out.get(0)).contains("local domain " + HOSTED + " (--local-domain)");
        assertThat(result.out.get(1)).isEqualTo("Local domain check: MAIL FROM:<probe@remote.example> RCPT TO:<postmaster@"
                + HOSTED + ">  -> RCPT 250 2.1.5 OK (served)");
    }

    /** Trial finding: a greylisting or temporarily failing relay was reported "24 passed", exit 0. */
    @Test
    void aTemporaryRefusalIsDeferredNotPassed() throws Exception {
        server = FakeSmtpServer.start(rcpt -> rcpt.toLowerCase(Locale.ROOT).contains(RELAY)
                ? "450 4.2.0 Greylisted, try again later" : STRICT.apply(rcpt));

        Result result = probe("--relay-domain", RELAY);

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_UNTESTED);
        assertThat(result.caseLines().get(0))
                .isEqualTo("[01] DEFERRED (4xx)  MAIL FROM:<> RCPT TO:<relaytest@remote.example>  -> RCPT 450 4.2.0 Greylisted, try again later");
        assertThat(result.caseLines()).noneSatisfy(line -> assertThat(line).contains("] PASS  ").contains(" 450 "));
        assertThat(result.lastLine()).matches("\\d+ passed, 0 failed, \\d+ deferred \\(4xx: refused for now, not proven closed\\)");
        assertThat(result.err).anySatisfy(line -> assertThat(line).contains("refused only for now (4xx)"));
    }

    @Test
    void openRelayFailsEveryCaseThroughData() throws Exception {
        server = FakeSmtpServer.start(OPEN);

        Result result = probe("--relay-domain", RELAY);

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_RELAY_ACCEPTED);
        assertThat(result.caseLines()).hasSize(24).allSatisfy(line -> assertThat(line)
                .matches(CASE_LINE)
                .contains("] FAIL  ")
                .endsWith("  -> DATA 250 2.0.0 Message accepted"));
        assertThat(result.lastLine()).isEqualTo("0 passed, 24 failed");
        assertThat(server.messages).hasSize(24);
        assertThat(server.messages.get(0)).contains("Subject: RelayGuard open-relay probe case 01");
        assertThat(server.messages.get(23)).contains("Subject: RelayGuard open-relay probe case 24");
        assertThat(server.sessions).hasSize(25).allSatisfy(session -> assertThat(session).endsWith("QUIT"));
        assertThat(server.sessions.get(0)).doesNotContain("DATA"); // the local-domain check never sends a message
    }

    @Test
    void noDataModeDecidesAtRcptAndNeverSendsData() throws Exception {
        server = FakeSmtpServer.start(OPEN);

        Result result = probe("--relay-domain", RELAY, "--no-data");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_RELAY_ACCEPTED);
        assertThat(result.caseLines()).hasSize(24)
                .allSatisfy(line -> assertThat(line).contains("] FAIL  ").endsWith("  -> RCPT 250 2.1.5 OK"));
        assertThat(result.lastLine()).isEqualTo("0 passed, 24 failed");
        assertThat(server.messages).isEmpty();
        assertThat(server.sessions).hasSize(25)
                .allSatisfy(session -> assertThat(session).doesNotContain("DATA").endsWith("RSET", "QUIT"));
    }

    @Test
    void naiveServerFailsOnlyTheTricks() throws Exception {
        // Refuses a recipient only when the text after its last '@' is the relay domain (ignoring case).
        server = FakeSmtpServer.start(rcpt -> {
            String domain = rcpt.substring(rcpt.lastIndexOf('@') + 1);
            return domain.equalsIgnoreCase(RELAY) ? "550 5.7.1 Relaying denied" : "250 2.1.5 OK";
        });

        Result result = probe("--relay-domain", RELAY, "--no-data");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_RELAY_ACCEPTED);
        assertThat(result.caseLine(1)).startsWith("[01] PASS  ");
        assertThat(result.caseLine(5))
                .isEqualTo("[05] FAIL  MAIL FROM:<antispam@[127.0.0.1]> RCPT TO:<relaytest%remote.example@[127.0.0.1]>"
                        + "  -> RCPT 250 2.1.5 OK");
        assertThat(result.caseLine(23)).startsWith("[23] FAIL  ");
        assertThat(result.caseLine(24)).startsWith("[24] PASS  ");
        long passed = result.caseLines().stream().filter(l -> l.contains("] PASS  ")).count();
        assertThat(result.lastLine()).isEqualTo(passed + " passed, " + (24 - passed) + " failed");
    }

    @Test
    void refusalAtEndOfDataPassesAndASenderRefusedAtMailIsRetriedWithTheNeutralSender() throws Exception {
        server = FakeSmtpServer.start(OPEN);
        server.mailRule = from -> from.contains("[") ? "553 5.7.1 Sender literal refused" : "250 2.1.0 OK";
        server.dataEndReply = "550-5.7.1 Relay not permitted\r\n550 5.7.1 See the policy";

        Result result = probe("--relay-domain", RELAY);

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_OK);
        assertThat(result.caseLine(1)).endsWith("  -> DATA 550 5.7.1 See the policy"); // last line of a multi-line reply
        assertThat(result.caseLine(4)).isEqualTo(
                "[04] PASS  MAIL FROM:<antispam@[127.0.0.1]> RCPT TO:<relaytest@remote.example>"
                        + "  -> DATA 550 5.7.1 See the policy [sender refused at MAIL: 553 5.7.1 Sender literal refused;"
                        + " RCPT sent after MAIL FROM:<probe@remote.example>]");
        assertThat(result.caseLines().subList(3, 16)).allSatisfy(line -> assertThat(line)
                .contains("] PASS  ", "-> DATA 550", "[sender refused at MAIL: 553"));
        assertThat(result.caseLines().subList(16, 24)).allSatisfy(line -> assertThat(line)
                .contains("-> DATA 550").doesNotContain("sender refused"));
        assertThat(result.lastLine()).isEqualTo("24 passed, 0 failed");
        assertThat(caseSession(4)).containsSubsequence("MAIL FROM:<antispam@[127.0.0.1]>", "RSET",
                "MAIL FROM:<probe@remote.example>", "RCPT TO:<relaytest@remote.example>", "DATA");
    }

    /** Issue 15: a recipient trick never sent is no pass. An open relay behind a refused IP-literal sender is found. */
    @Test
    void aRelayBehindASenderRefusedAtMailFailsOnTheNeutralSendersRcpt() throws Exception {
        server = FakeSmtpServer.start(OPEN);
        server.mailRule = from -> from.contains("[") ? "550 5.7.1 Routing syntax not accepted: IP-literal domain"
                : "250 2.1.0 OK";

        Result result = probe("--relay-domain", RELAY, "--no-data");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_RELAY_ACCEPTED);
        assertThat(result.caseLines()).hasSize(24).allSatisfy(line -> assertThat(line).contains("] FAIL  "));
        assertThat(result.caseLine(5)).isEqualTo("[05] FAIL  MAIL FROM:<antispam@[127.0.0.1]> "
                + "RCPT TO:<relaytest%remote.example@[127.0.0.1]>  -> RCPT 250 2.1.5 OK [sender refused at MAIL: 550 5.7.1"
                + " Routing syntax not accepted: IP-literal domain; RCPT sent after MAIL FROM:<probe@remote.example>]");
        assertThat(result.lastLine()).isEqualTo("0 passed, 24 failed");
        for (int number = 4; number <= 16; number++) {
            ProbeCase probeCase = OpenRelayProbe.cases(RELAY, HOSTED, "127.0.0.1").get(number - 1);
            assertThat(caseSession(number)).as("case %d", number).containsSubsequence(probeCase.mailFromCommand(), "RSET",
                    "MAIL FROM:<probe@remote.example>", probeCase.rcptToCommand());
        }
    }

    /** Issue 15: refused at MAIL with the case's sender and with the neutral one: UNTESTED, exit code 4, never PASS. */
    @Test
    void casesRefusedAtMailEvenWithTheNeutralSenderAreUntested() throws Exception {
        server = FakeSmtpServer.start(OPEN);
        server.mailRule = from -> "530 5.7.0 Authentication required";

        Result result = probe("--relay-domain", RELAY);

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_UNTESTED);
        assertThat(result.out.get(1)).isEqualTo("Local domain check: MAIL FROM:<probe@remote.example> RCPT TO:<postmaster@"
                + HOSTED + ">  -> MAIL 530 5.7.0 Authentication required (not checked)");
        assertThat(result.caseLines()).hasSize(24)
                .allSatisfy(line -> assertThat(line).contains("] UNTESTED (refused at MAIL)  ").doesNotContain("PASS"));
        assertThat(result.caseLine(4)).endsWith("  -> MAIL 530 5.7.0 Authentication required [then MAIL FROM:"
                + "<probe@remote.example> refused too: 530 5.7.0 Authentication required]");
        assertThat(result.caseLine(17)).endsWith("  -> MAIL 530 5.7.0 Authentication required");
        assertThat(result.lastLine()).isEqualTo("0 passed, 0 failed, 24 untested (refused at MAIL)");
        assertThat(result.err).anyMatch(line -> line.contains("24 case(s) were refused at MAIL")
                && line.contains("--auth-user"));
        assertThat(server.sessions).allSatisfy(session -> assertThat(session)
                .noneMatch(command -> command.startsWith("RCPT") || command.equals("DATA")));
        // the neutral-sender cases are not retried with the same sender
        assertThat(caseSession(17)).filteredOn(command -> command.startsWith("MAIL")).hasSize(1);
        assertThat(caseSession(4)).filteredOn(command -> command.startsWith("MAIL")).hasSize(2);

        server.mailRule = from -> from.isEmpty() ? "250 2.1.0 OK" : "421 4.3.2 Service shutting down";
        server.rcptRule = STRICT;
        server.sessions.clear();
        Result closing = probe("--relay-domain", RELAY, "--no-data");
        assertThat(closing.caseLine(2)).contains("] UNTESTED (refused at MAIL)  ")
                .endsWith("  -> MAIL 421 4.3.2 Service shutting down");
        assertThat(caseSession(2)).filteredOn(command -> command.startsWith("MAIL")).hasSize(1); // no MAIL after a 421
        assertThat(closing.exitCode).isEqualTo(OpenRelayProbe.EXIT_UNTESTED);
    }

    /** Issue 15: a --local-domain the server does not serve is found by postmaster, once, and never tested silently. */
    @Test
    void aLocalDomainWhosePostmasterIsRefusedLeavesItsCasesUntested() throws Exception {
        // Serves only HOSTED: every other domain is a relay, refused.
        server = FakeSmtpServer.start(rcpt -> rcpt.substring(rcpt.lastIndexOf('@') + 1).equalsIgnoreCase(HOSTED)
                && STRICT.apply(rcpt).startsWith("250") ? "250 2.1.5 OK" : "550 5.7.1 Relaying denied");

        Result result = probe("--relay-domain", RELAY, "--local-domain", "not-hosted.example");

        Set<Integer> needing = OpenRelayProbe.casesNeedingLocalDomain();
        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_UNTESTED);
        assertThat(result.out.get(1)).isEqualTo("Local domain check: MAIL FROM:<probe@remote.example>"
                + " RCPT TO:<postmaster@not-hosted.example>  -> RCPT 550 5.7.1 Relaying denied (REFUSED)");
        for (int number = 1; number <= 24; number++) {
            assertThat(result.caseLine(number)).as("case %d", number).contains(needing.contains(number)
                    ? "] UNTESTED (local domain refused)  " : "] PASS  ");
        }
        assertThat(result.caseLine(6)).isEqualTo("[06] UNTESTED (local domain refused)  MAIL FROM:<antispam@[127.0.0.1]> "
                + "RCPT TO:<relaytest%remote.example@not-hosted.example>  -> - not sent: postmaster@not-hosted.example"
                + " refused: 550 5.7.1 Relaying denied");
        assertThat(result.lastLine()).isEqualTo("14 passed, 0 failed, 10 untested (local domain refused)");
        assertThat(result.err).singleElement().satisfies(line -> assertThat(line).contains("10 case(s)",
                "postmaster@not-hosted.example", "not a domain this server serves", "not deliverable", "4.5.1"));
        // one check, then only the 14 cases that do not need the local domain; postmaster asked exactly once
        assertThat(server.sessions).hasSize(15);
        assertThat(server.sessions.stream().flatMap(List::stream)
                .filter(command -> command.startsWith("RCPT") && command.contains("not-hosted.example")))
                .containsExactly("RCPT TO:<postmaster@not-hosted.example>");

        Result served = probe("--relay-domain", RELAY, "--local-domain", HOSTED);
        assertThat(served.exitCode).isEqualTo(OpenRelayProbe.EXIT_OK);
        assertThat(served.lastLine()).isEqualTo("24 passed, 0 failed");
    }

    /** Authenticated, the neutral sender is the --auth-user address: a server that checks sender ownership accepts it. */
    @Test
    void authenticatedTheNeutralSenderIsTheAuthUserAddress() throws Exception {
        server = FakeSmtpServer.start(OPEN);
        String user = "alice@" + HOSTED;
        server.authToken = Base64.getEncoder().encodeToString(("\0" + user + "\0s3cret").getBytes(StandardCharsets.UTF_8));
        server.mailRule = from -> from.equals(user) ? "250 2.1.0 OK" : "553 5.7.1 Sender not owned";

        Result result = probe("--relay-domain", RELAY, "--auth-user", user, "--auth-password", "s3cret", "--no-data");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_OK);
        assertThat(result.out.get(1)).contains("MAIL FROM:<" + user + "> RCPT TO:<postmaster@" + HOSTED + ">");
        assertThat(result.caseLines()).hasSize(24).allSatisfy(line -> assertThat(line)
                .contains("] ACCEPTED (authenticated)  ")
                .endsWith("-> RCPT 250 2.1.5 OK [sender refused at MAIL: 553 5.7.1 Sender not owned; RCPT sent after"
                        + " MAIL FROM:<" + user + ">]"));
        assertThat(result.lastLine()).isEqualTo("0 passed, 0 failed, 24 accepted (authenticated)");
    }

    /** Issue 15: the local domain is never guessed; without it the cases that need one are UNTESTED, counted, exit code 4. */
    @Test
    void withoutLocalDomainTheCasesThatNeedOneAreUntestedAndNothingIsGuessed() throws Exception {
        server = FakeSmtpServer.start(STRICT);
        server.greeting = "220 RelayGuard ESMTP ready"; // a product name, no mail domain

        Result result = probeWithout("--relay-domain", RELAY, "--no-data");

        Set<Integer> needing = Set.of(3, 6, 11, 13, 16, 17, 18, 19, 20, 22);
        assertThat(OpenRelayProbe.casesNeedingLocalDomain()).isEqualTo(needing);
        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_UNTESTED);
        assertThat(result.out.get(0)).contains("local domain NONE: 10 cases UNTESTED, pass --local-domain DOMAIN");
        for (int number = 1; number <= 24; number++) {
            assertThat(result.caseLine(number)).as("case %d", number).contains(needing.contains(number)
                ? "] UNTESTED (needs --local-domain)  " : "] PASS  ");
        }
        assertThat(result.caseLine(6)).isEqualTo("[06] UNTESTED (needs --local-domain)  MAIL FROM:<antispam@[127.0.0.1]> "
                + "RCPT TO:<relaytest%remote.example@LOCAL-DOMAIN>  -> - not sent: no --local-domain");
        assertThat(result.lastLine()).isEqualTo("14 passed, 0 failed, 10 untested (needs --local-domain)");
        assertThat(result.err).singleElement().satisfies(line -> assertThat(line)
                .contains("10 case(s)", "pass --local-domain DOMAIN").doesNotContain("announces"));
        // 14 cases, then one connection for the hint; no command ever names a guessed domain
        assertThat(server.sessions).hasSize(15);
        assertThat(server.sessions).allSatisfy(session -> assertThat(session)
                .noneMatch(command -> command.contains("RelayGuard") || command.contains("LOCAL-DOMAIN")));
    }

    @Test
    void theAnnouncedHostNameIsOnlyAHintAndAnExplicitLocalDomainIsUsed() throws Exception {
        server = FakeSmtpServer.start(STRICT);
        server.greeting = "220 ESMTP ready";
        server.ehloName = "ehlo.hosted.test";

        Result hinted = probeWithout("--relay-domain", RELAY, "--no-data");
        assertThat(hinted.exitCode).isEqualTo(OpenRelayProbe.EXIT_UNTESTED);
        assertThat(hinted.err).anyMatch(line -> line.contains("the server announces ehlo.hosted.test: pass --local-domain "
                + "ehlo.hosted.test only if it hosts mail for that domain"));
        assertThat(server.sessions).allSatisfy(session -> assertThat(session)
                .noneMatch(command -> command.startsWith("MAIL") && command.contains("ehlo.hosted.test")
                    || command.startsWith("RCPT") && command.contains("ehlo.hosted.test")));

        Result explicit = probe("--relay-domain", RELAY, "--local-domain", "example.net", "--server-ip", "192.0.2.7",
                "--helo", "probe.example.org", "--no-data");
        assertThat(explicit.exitCode).isEqualTo(0);
        assertThat(explicit.caseLine(5)).contains("RCPT TO:<relaytest%remote.example@[192.0.2.7]>");
        assertThat(explicit.caseLine(6)).contains("RCPT TO:<relaytest%remote.example@example.net>");
        assertThat(explicit.lastLine()).isEqualTo("24 passed, 0 failed");
        assertThat(server.sessions.get(server.sessions.size() - 1)).startsWith("EHLO probe.example.org");
    }

    // ---- AUTH and STARTTLS --------------------------------------------------------------------------

    @Test
    void authenticatedRelayIsReportedButIsNotAFailure() throws Exception {
        server = FakeSmtpServer.start(OPEN);
        server.authToken = Base64.getEncoder().encodeToString("\0alice\0s3cret".getBytes(StandardCharsets.UTF_8));

        Result result = probe("--relay-domain", RELAY, "--auth-user", "alice", "--auth-password", "s3cret", "--no-data");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_OK);
        assertThat(result.caseLine(1)).isEqualTo("[01] ACCEPTED (authenticated)  MAIL FROM:<> "
                + "RCPT TO:<relaytest@remote.example>  -> RCPT 250 2.1.5 OK");
        assertThat(result.lastLine()).isEqualTo("0 passed, 0 failed, 24 accepted (authenticated)");
        assertThat(result.err).anyMatch(line -> line.contains("without --starttls"));
        assertThat(server.sessions.get(0)).contains("AUTH PLAIN " + server.authToken);
    }

    @Test
    void refusedAuthIsAnErrorWithExitCode3() throws Exception {
        server = FakeSmtpServer.start(OPEN);
        server.authToken = "something-else";

        Result result = probe("--relay-domain", RELAY, "--auth-user", "alice", "--auth-password", "wrong");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_ERRORS);
        assertThat(result.caseLines()).allSatisfy(line -> assertThat(line)
                .contains("] ERROR  ").endsWith("  -> AUTH 535 5.7.8 Authentication failed"));
        assertThat(result.lastLine()).isEqualTo("0 passed, 0 failed, 24 errors");
        assertThat(server.sessions.get(0)).noneMatch(command -> command.startsWith("MAIL")).endsWith("QUIT");
    }

    @Test
    void startTlsUpgradesEveryConnectionTrustingASelfSignedCertificate(@TempDir Path dir) throws Exception {
        SSLContext tls = selfSignedServerContext(dir);
        server = FakeSmtpServer.start(STRICT);
        server.tls = tls;
        server.authToken = Base64.getEncoder().encodeToString("\0alice\0s3cret".getBytes(StandardCharsets.UTF_8));

        Result result = probe("--relay-domain", RELAY, "--starttls", "--auth-user", "alice", "--auth-password",
                "s3cret", "--no-data");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_OK);
        assertThat(result.lastLine()).isEqualTo("24 passed, 0 failed");
        assertThat(result.err).isEmpty();
        List<String> session = server.sessions.get(0);
        assertThat(session).startsWith("EHLO relayguard-probe.invalid", "STARTTLS", "EHLO relayguard-probe.invalid",
                "AUTH PLAIN " + server.authToken);
        assertThat(server.commandsOverTls).contains("AUTH PLAIN " + server.authToken,
                "RCPT TO:<relaytest@remote.example>");
    }

    // ---- errors -------------------------------------------------------------------------------------

    @Test
    void unreachableServerGivesErrorsAndExitCode3() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }

        Result result = run("probe", "--host", "127.0.0.1", "--port", String.valueOf(closedPort), "--relay-domain",
                RELAY, "--local-domain", HOSTED, "--timeout", "2");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_ERRORS);
        assertThat(result.caseLines()).hasSize(24)
                .allSatisfy(line -> assertThat(line).matches(CASE_LINE).contains("] ERROR  ").contains("  -> CONNECT "));
        assertThat(result.lastLine()).isEqualTo("0 passed, 0 failed, 24 errors");

        Result noLocalDomain = run("probe", "--host", "127.0.0.1", "--port", String.valueOf(closedPort),
                "--relay-domain", RELAY, "--timeout", "2");
        assertThat(noLocalDomain.exitCode).as("errors win over untested").isEqualTo(OpenRelayProbe.EXIT_ERRORS);
        assertThat(noLocalDomain.lastLine()).isEqualTo("0 passed, 0 failed, 14 errors, 10 untested (needs --local-domain)");
        assertThat(noLocalDomain.err).anyMatch(line -> line.contains("pass --local-domain"));
    }

    /** Issue 15: a ban at connect is no pass; the cases it stopped are UNTESTED, counted, with a hint and exit code 4. */
    @Test
    void casesRefusedAtConnectAreUntestedNotPassed() throws Exception {
        server = FakeSmtpServer.start(STRICT);
        server.bannedFromSession = 12; // the local-domain check, then as after ten relay refusals: case 11 gets 421

        Result result = probe("--relay-domain", RELAY, "--local-domain", HOSTED);

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_UNTESTED);
        assertThat(result.caseLine(10)).contains("] PASS  ");
        assertThat(result.caseLine(11)).contains("] UNTESTED  ").endsWith("  -> CONNECT 421 4.7.0 Too many relay attempts from 127.0.0.1, try again later");
        assertThat(result.lastLine()).isEqualTo("10 passed, 0 failed, 14 untested (refused at connect)");
        assertThat(result.err).anyMatch(line -> line.contains("14 case(s) were refused at connect and never tried")
                && line.contains("<probeBans><exempt>"));

        server.rcptRule = OPEN; // a relay beside untested cases: exit code 1 wins
        server.sessions.clear();
        Result relay = probe("--relay-domain", RELAY, "--local-domain", HOSTED, "--no-data");
        assertThat(relay.exitCode).isEqualTo(OpenRelayProbe.EXIT_RELAY_ACCEPTED);
    }

    @Test
    void silentServerTimesOutAsAnErrorWithoutHidingARelay() throws Exception {
        server = FakeSmtpServer.start(STRICT);
        server.silentOn = command -> command.equals("RCPT TO:<relaytest@remote.example.>"); // case 23

        Result result = probe("--relay-domain", RELAY, "--timeout", "1");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_ERRORS);
        assertThat(result.caseLine(23)).isEqualTo(
                "[23] ERROR  MAIL FROM:<probe@remote.example> RCPT TO:<relaytest@remote.example.>"
                        + "  -> RCPT no reply within 1 s");
        assertThat(result.lastLine()).isEqualTo("23 passed, 0 failed, 1 errors");

        server.rcptRule = OPEN; // a relay beside errors: exit code 1 wins
        Result relay = probe("--relay-domain", RELAY, "--timeout", "1", "--no-data");
        assertThat(relay.exitCode).isEqualTo(OpenRelayProbe.EXIT_RELAY_ACCEPTED);
        assertThat(relay.lastLine()).isEqualTo("0 passed, 23 failed, 1 errors");
    }

    // ---- usage --------------------------------------------------------------------------------------

    @Test
    void missingRelayDomainIsAUsageError() {
        Result result = run("probe", "--host", "127.0.0.1", "--port", "2525");

        assertThat(result.exitCode).isEqualTo(OpenRelayProbe.EXIT_USAGE);
        assertThat(result.out).isEmpty();
        assertThat(String.join("\n", result.err)).contains("--relay-domain is required").contains("Usage:");
    }

    @Test
    void badOptionsAreUsageErrors() {
        assertThat(run("probe", "--relay-domain", RELAY, "--bogus").exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain", RELAY, "--port", "70000").exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain", RELAY, "--port").exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain", "not a domain").exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain", RELAY, "--server-ip", "mail.example.org").exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain", RELAY, "--auth-user", "alice").exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain", RELAY, "--local-domain", RELAY).exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain", RELAY, "--timeout", "0").exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain=" + RELAY, "--no-data=yes").exitCode).isEqualTo(2);
        assertThat(run("probe", "--relay-domain", RELAY, "extra").exitCode).isEqualTo(2);
    }

    @Test
    void cliDispatchesAndPrintsUsage() {
        Result help = run("probe", "--help");
        assertThat(help.exitCode).isEqualTo(0);
        assertThat(help.out.get(0)).startsWith("Usage: java -jar relayguard-<version>.jar probe --relay-domain");
        assertThat(help.err).isEmpty();

        Result none = run();
        assertThat(none.exitCode).isEqualTo(2);
        assertThat(none.err.get(0)).startsWith("Usage:");

        Result unknown = run("send-spam");
        assertThat(unknown.exitCode).isEqualTo(2);
        assertThat(unknown.err.get(0)).contains("unknown command 'send-spam'");

        assertThat(run("--help").exitCode).isEqualTo(0);
        assertThat(run("probe").exitCode).isEqualTo(2);
    }

    // ---- helpers ------------------------------------------------------------------------------------

    /** The commands of case {@code number}'s connection, after the local-domain check's connection. */
    private List<String> caseSession(int number) {
        return server.sessions.get(number);
    }

    /** Runs the probe against the fake server. */
    /** The probe against the fake server, with {@code --local-domain} the hosted domain unless the options name one. */
    private Result probe(String... options) {
        List<String> args = new ArrayList<>(Arrays.asList(options));
        if (!args.contains("--local-domain")) {
            args.addAll(List.of("--local-domain", HOSTED));
        }
        return probeWithout(args.toArray(new String[0]));
    }

    /** The probe against the fake server with exactly these options. */
    private Result probeWithout(String... options) {
        List<String> args = new ArrayList<>(List.of("probe", "--host", "127.0.0.1", "--port",
                String.valueOf(server.port())));
        args.addAll(Arrays.asList(options));
        return run(args.toArray(new String[0]));
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exitCode = RelayGuardCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(exitCode, lines(out), lines(err));
    }

    private static List<String> lines(ByteArrayOutputStream bytes) {
        String text = bytes.toString(StandardCharsets.UTF_8);
        return text.isEmpty() ? List.of() : Arrays.asList(text.split("\\R"));
    }

    private static final class Result {
        final int exitCode;
        final List<String> out;
        final List<String> err;

        Result(int exitCode, List<String> out, List<String> err) {
            this.exitCode = exitCode;
            this.out = out;
            this.err = err;
        }

        List<String> caseLines() {
            return out.stream().filter(line -> line.startsWith("[")).collect(Collectors.toList());
        }

        String caseLine(int number) {
            String prefix = String.format("[%02d] ", number);
            return caseLines().stream().filter(line -> line.startsWith(prefix)).findFirst().orElseThrow();
        }

        String lastLine() {
            return out.get(out.size() - 1);
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n" + String.join("\n", out) + "\nstderr:\n" + String.join("\n", err);
        }
    }

    /** A server context with a fresh self-signed certificate made by the JDK's keytool. */
    private static SSLContext selfSignedServerContext(Path dir) throws Exception {
        File keytool = new File(System.getProperty("java.home"), "bin/keytool");
        assertThat(keytool).as("JDK keytool (the STARTTLS tests must run, not be skipped)").exists();
        Path keystore = dir.resolve("server.p12");
        Process process = new ProcessBuilder(keytool.getPath(), "-genkeypair", "-alias", "probe-test", "-keyalg", "RSA",
                "-keysize", "2048", "-dname", "CN=localhost", "-validity", "2", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", "changeit", "-keypass", "changeit")
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();

        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore.toFile())) {
            store.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, "changeit".toCharArray());
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keys.getKeyManagers(), null, null);
        return context;
    }

    /**
     * A scripted SMTP server on 127.0.0.1: 220 greeting, multi-line EHLO reply, MAIL and RCPT decided by
     * rules, 354 then a configurable final reply for DATA, optional STARTTLS and AUTH PLAIN, 221 for QUIT.
     * Records every command of every session.
     */
    private static final class FakeSmtpServer implements AutoCloseable {
        final List<List<String>> sessions = new CopyOnWriteArrayList<>();
        final List<String> messages = new CopyOnWriteArrayList<>();
        final List<String> commandsOverTls = new CopyOnWriteArrayList<>();
        volatile String greeting = "220 " + HOSTED + " ESMTP fake server ready";
        /** From this connection on (1 = the first), the greeting is a ban's 421. */
        volatile int bannedFromSession = Integer.MAX_VALUE;
        volatile String ehloName = HOSTED;
        volatile Function<String, String> mailRule = from -> "250 2.1.0 Sender OK";
        volatile Function<String, String> rcptRule;
        volatile String dataEndReply = "250 2.0.0 Message accepted";
        volatile Predicate<String> silentOn = command -> false;
        volatile SSLContext tls;
        volatile String authToken;

        private final ServerSocket serverSocket;
        private final ExecutorService executor = Executors.newCachedThreadPool();

        private FakeSmtpServer(Function<String, String> rcptRule) throws IOException {
            this.rcptRule = rcptRule;
            this.serverSocket = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        }

        static FakeSmtpServer start(Function<String, String> rcptRule) throws IOException {
            FakeSmtpServer server = new FakeSmtpServer(rcptRule);
            server.executor.execute(server::acceptLoop);
            return server;
        }

        int port() {
            return serverSocket.getLocalPort();
        }

        private void acceptLoop() {
            while (!serverSocket.isClosed()) {
                try {
                    Socket socket = serverSocket.accept();
                    List<String> session = new CopyOnWriteArrayList<>();
                    sessions.add(session); // in connection order: the probe connects one case at a time
                    executor.execute(() -> serve(socket, session));
                } catch (IOException e) {
                    return; // closed
                }
            }
        }

        private void serve(Socket socket, List<String> session) {
            try (Socket plain = socket) {
                plain.setSoTimeout(30_000);
                Socket current = plain;
                BufferedReader in = reader(current);
                OutputStream out = current.getOutputStream();
                boolean overTls = false;
                if (sessions.indexOf(session) + 1 >= bannedFromSession) {
                    send(out, "421 4.7.0 Too many relay attempts from 127.0.0.1, try again later");
                    return;
                }
                send(out, greeting);
                String line;
                while ((line = in.readLine()) != null) {
                    session.add(line);
                    if (overTls) {
                        commandsOverTls.add(line);
                    }
                    if (silentOn.test(line)) {
                        continue; // never answer: the client must time out
                    }
                    String upper = line.toUpperCase(Locale.ROOT);
                    if (upper.startsWith("EHLO ")) {
                        send(out, "250-" + ehloName + " Hello\r\n250-PIPELINING\r\n"
                                + (tls != null && !overTls ? "250-STARTTLS\r\n" : "") + "250-AUTH PLAIN\r\n250 8BITMIME");
                    } else if (upper.startsWith("HELO ")) {
                        send(out, "250 " + ehloName);
                    } else if (upper.equals("STARTTLS") && tls != null && !overTls) {
                        send(out, "220 2.0.0 Ready to start TLS");
                        SSLSocket secure = (SSLSocket) tls.getSocketFactory()
                                .createSocket(current, null, current.getPort(), true);
                        secure.setUseClientMode(false);
                        secure.startHandshake();
                        current = secure;
                        in = reader(current);
                        out = current.getOutputStream();
                        overTls = true;
                    } else if (upper.startsWith("AUTH PLAIN ")) {
                        boolean ok = authToken != null && line.substring("AUTH PLAIN ".length()).equals(authToken);
                        send(out, ok ? "235 2.7.0 Authentication successful" : "535 5.7.8 Authentication failed");
                    } else if (upper.startsWith("MAIL FROM:<")) {
                        send(out, mailRule.apply(between(line)));
                    } else if (upper.startsWith("RCPT TO:<")) {
                        send(out, rcptRule.apply(between(line)));
                    } else if (upper.equals("DATA")) {
                        send(out, "354 End data with <CR><LF>.<CR><LF>");
                        StringBuilder message = new StringBuilder();
                        String dataLine;
                        while ((dataLine = in.readLine()) != null && !dataLine.equals(".")) {
                            message.append(dataLine).append('\n');
                        }
                        messages.add(message.toString());
                        send(out, dataEndReply);
                    } else if (upper.equals("RSET") || upper.equals("NOOP")) {
                        send(out, "250 2.0.0 OK");
                    } else if (upper.equals("QUIT")) {
                        send(out, "221 2.0.0 Bye");
                        break;
                    } else {
                        send(out, "500 5.5.2 Command not recognized");
                    }
                }
                current.close();
            } catch (IOException e) {
                // the client went away; nothing to record
            }
        }

        private static BufferedReader reader(Socket socket) throws IOException {
            return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1));
        }

        /** The text between the first '<' and the last '>'. */
        private static String between(String command) {
            return command.substring(command.indexOf('<') + 1, command.lastIndexOf('>'));
        }

        private static void send(OutputStream out, String reply) throws IOException {
            out.write((reply + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        @Override
        public void close() throws Exception {
            serverSocket.close();
            executor.shutdownNow();
            executor.awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
