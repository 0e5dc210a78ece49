package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static dev.relayguard.it.RelayGuardServers.DOMAIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * AUTH abuse (issue 13) against one real James 3.8.1, booted once from the sample with small {@code <authLimits>}:
 * no password oracle on the MX port ({@code 503 5.5.1}) nor before STARTTLS on submission ({@code 538 5.7.11}),
 * the connection closed at its third failed login ({@code 421 4.7.0}), a client IP banned from AUTH and an account
 * throttled for strangers ({@code 454 4.7.0}) while its owner at a known address still logs in, AUTH PLAIN and LOGIN
 * with and without initial response, audit lines without secrets, and a suspicious login suspending the account.
 *
 * <p>Failed logins are remembered per client IP and per account for the whole class, so every test speaks from its
 * own loopback addresses ({@code 127.x.y.z}) and tries its own accounts: no test sees another's failures, and none
 * needs a reset. Every test asserts the exact change of RelayGuard's counters.
 */
class AuthAbuseIT {
    /** Every line RelayGuard and James's AUTH logger write: captured from before the boot, for the secret search. */
    private static final List<LogCapture> LOGS = List.of(LogCapture.of("relayguard.audit"), LogCapture.of("dev.relayguard"),
        LogCapture.of("org.apache.james.protocols.smtp.AUTHENTICATION"),
        LogCapture.of("org.apache.james.protocols.smtp.core.esmtp.AuthCmdHandler"));
    private static final LogCapture AUDIT = LOGS.get(0);
    private static final String PASSWORD = "Right-pass-7f3a9c";
    /** Passwords and base64 blobs this class sent: none may ever be logged. */
    private static final Set<String> SECRETS_SENT = Collections.synchronizedSet(new LinkedHashSet<>());

    private static final String MAX_FAILURES_PER_CONNECTION = "3";
    private static final int CLIENT_BAN_FAILURES = 6;
    private static final int ACCOUNT_THROTTLE_FAILURES = 4;
    private static final String AUTH_LIMITS = "<authLimits>"
        + "<maxFailuresPerConnection>" + MAX_FAILURES_PER_CONNECTION + "</maxFailuresPerConnection>"
        + "<clientBan><failures>" + CLIENT_BAN_FAILURES + "</failures><within>10m</within><banFor>1h</banFor></clientBan>"
        + "<accountThrottle><failures>" + ACCOUNT_THROTTLE_FAILURES + "</failures><within>15m</within>"
        + "<throttleFor>15m</throttleFor></accountThrottle>"
        + "<knownClients><perAccount>10</perAccount><rememberFor>30d</rememberFor></knownClients>"
        + "<successAfterFailures><failures>2</failures><suspendFor>1h</suspendFor></successAfterFailures>"
        + "</authLimits>";

    private static final String FAILED = "relayguard.refused.auth.failed";
    private static final String TOO_MANY_FAILURES = "relayguard.deferred.auth.too-many-failures";
    private static final String CREDENTIALS_INVALID = "5.7.8 Authentication credentials invalid";
    private static final String CLOSING = "4.7.0 Too many failed logins, closing connection";

    /** The sample as shipped, its {@code <authLimits>} (if any) replaced by {@link #AUTH_LIMITS}. */
    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> {
        Path policy = conf.dir().resolve("relayguard.xml");
        try {
            String sample = Files.readString(policy).replaceAll("(?s)<authLimits>.*?</authLimits>", "");
            conf.write("relayguard.xml", sample.replace("</relayguard>", AUTH_LIMITS + "</relayguard>"));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    });

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        data.addUser(DEMO_USER, PASSWORD);
        for (String user : new String[] {"guess", "victim", "bystander", "stolen", "auditor"}) {
            data.addUser(user + "@" + DOMAIN, PASSWORD);
        }
        for (Way way : Way.values()) {
            data.addUser(way.account("ok"), PASSWORD);
            data.addUser(way.account("fail"), PASSWORD);
        }
    }

    /**
     * How a client sends its credentials (RFC 4954, RFC 4616 PLAIN, the LOGIN draft): in the AUTH command (initial
     * response) or on continuation lines after {@code 334} prompts, which James reads through its line handler.
     */
    enum Way {
        PLAIN_INITIAL("PLAIN"),
        PLAIN_CONTINUED("PLAIN", "334 OK. Continue authentication"),
        LOGIN_CONTINUED("LOGIN", "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"),
        LOGIN_INITIAL("LOGIN", "334 UGFzc3dvcmQ6");

        private final String mechanism;
        private final List<String> prompts;

        Way(String mechanism, String... prompts) {
            this.mechanism = mechanism;
            this.prompts = List.of(prompts);
        }

        /** Every reply of the exchange, the 334 prompts first; the secrets sent are remembered. */
        List<Reply> exchange(SmtpClient smtp, String user, String password) throws IOException {
            List<String> blobs = new ArrayList<>();
            String command;
            if (mechanism.equals("PLAIN")) {
                blobs.add(SmtpClient.plainToken(user, password));
                command = this == PLAIN_INITIAL ? "AUTH PLAIN " + blobs.get(0) : "AUTH PLAIN";
            } else {
                blobs.add(SmtpClient.base64(user));
                blobs.add(SmtpClient.base64(password));
                command = this == LOGIN_INITIAL ? "AUTH LOGIN " + blobs.get(0) : "AUTH LOGIN";
            }
            SECRETS_SENT.add(password);
            SECRETS_SENT.addAll(blobs);
            List<String> responses = this == PLAIN_INITIAL ? List.of() : this == LOGIN_INITIAL ? blobs.subList(1, 2) : blobs;
            return smtp.authExchange(command, responses.toArray(new String[0]));
        }

        /** The exchange's last reply, after asserting it went through the prompts this way has. */
        Reply login(SmtpClient smtp, String user, String password) throws IOException {
            List<Reply> replies = exchange(smtp, user, password);
            assertThat(replies.subList(0, replies.size() - 1)).extracting(Reply::toString).as(name() + " prompts")
                .isEqualTo(prompts);
            return replies.get(replies.size() - 1);
        }

        String account(String prefix) {
            return prefix + "-" + name().toLowerCase().replace('_', '-') + "@" + DOMAIN;
        }

        /** A distinct loopback address of this way in the {@code 127.0.<block>.0/24} block. */
        String ip(int block) {
            return "127.0." + block + "." + (ordinal() + 1);
        }
    }

    private static SmtpClient mx(GuiceJamesServer server, String ip) throws IOException {
        SmtpClient smtp = SmtpClient.connectFrom(ip, RelayGuardServers.mxPort(server));
        assertThat(smtp.ehlo("client.example").code()).isEqualTo(250);
        return smtp;
    }

    private static SmtpClient submissionPlaintext(GuiceJamesServer server, String ip) throws IOException {
        SmtpClient smtp = SmtpClient.connectFrom(ip, RelayGuardServers.submissionPort(server));
        assertThat(smtp.ehlo("client.example").code()).isEqualTo(250);
        return smtp;
    }

    private static SmtpClient submissionTls(GuiceJamesServer server, String ip) throws Exception {
        SmtpClient smtp = submissionPlaintext(server, ip);
        assertThat(smtp.startTls("client.example").code()).isEqualTo(250);
        return smtp;
    }

    /** A reply's code and its whole text, enhanced status code first (RFC 2034). */
    private static void assertReply(Reply reply, int code, String text) {
        assertThat(reply.code()).as("%s", reply).isEqualTo(code);
        assertThat(reply.text()).as("%s", reply).isEqualTo(text);
    }

    private static void assertReplyMatching(Reply reply, int code, String enhancedStatus, String textPattern) {
        assertThat(reply.code()).as("%s", reply).isEqualTo(code);
        assertThat(reply.enhancedStatus()).as("%s", reply).isEqualTo(enhancedStatus);
        assertThat(reply.text()).as("%s", reply).matches(textPattern);
    }

    private static void assertLoggedIn(Reply reply) {
        assertReply(reply, 235, "Authentication Successful");
    }

    private static Reply plain(SmtpClient smtp, String user, String password) throws IOException {
        return Way.PLAIN_INITIAL.login(smtp, user, password);
    }

    /** Three wrong passwords in one connection: 535, 535, then 421 and the server closes the connection. */
    private static void threeFailuresCloseTheConnection(SmtpClient smtp, Way way, String user) throws IOException {
        assertReply(way.login(smtp, user, "wrong-1-" + way), 535, CREDENTIALS_INVALID);
        assertReply(way.login(smtp, user, "wrong-2-" + way), 535, CREDENTIALS_INVALID);
        assertReply(way.login(smtp, user, "wrong-3-" + way), 421, CLOSING);
        assertThat(smtp.closedByServer()).as("closed after the 421").isTrue();
    }

    /**
     * AUTH refused at the command, before any credential is read: the right and the wrong password (PLAIN with
     * initial response) get the same reply. Two AUTHs: the third refused AUTH of a connection closes it.
     */
    private static void assertRightAndWrongRefusedAlike(SmtpClient smtp, int code, String text) throws IOException {
        Reply right = plain(smtp, DEMO_USER, PASSWORD);
        Reply wrong = plain(smtp, DEMO_USER, "wrong-" + code);
        assertReply(right, code, text);
        assertThat(wrong.lines()).as("the right and the wrong password get the same answer").isEqualTo(right.lines());
    }

    /**
     * The other ways of sending credentials get the same refusal instead of a {@code 334} prompt; the third refused
     * AUTH of the connection is answered {@code 421 4.7.0} and closes it (a client refused before any check cannot
     * go on writing audit lines either).
     */
    private static void assertOtherWaysRefusedUnreadThenClosed(SmtpClient smtp, int code, String text) throws IOException {
        for (Way way : List.of(Way.PLAIN_CONTINUED, Way.LOGIN_CONTINUED)) {
            List<Reply> replies = way.exchange(smtp, DEMO_USER, PASSWORD);
            assertThat(replies).as(way + ": refused at the AUTH command, no 334 prompt").hasSize(1);
            assertReply(replies.get(0), code, text);
        }
        List<Reply> third = Way.LOGIN_INITIAL.exchange(smtp, DEMO_USER, PASSWORD);
        assertThat(third).as("no 334 prompt").hasSize(1);
        assertReply(third.get(0), 421, CLOSING);
        assertThat(smtp.closedByServer()).as("closed after the 421").isTrue();
    }

    @Test
    void mxPortRefusesAuthBeforeAnyPasswordIsRead(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String notOffered = "5.5.1 Authentication not available on this port without TLS";
        try (SmtpClient smtp = mx(server, "127.0.0.11")) {
            assertRightAndWrongRefusedAlike(smtp, 503, notOffered);
            // Nothing waits for a continuation line: the next line is a command again, and nobody is logged in.
            assertReply(smtp.command("NOOP"), 250, "2.0.0 OK");
            assertReply(smtp.mailFrom(DEMO_USER), 550, "5.7.1 Sender address in a local domain requires authentication (use the submission port)");
        }
        try (SmtpClient smtp = mx(server, "127.0.0.11")) {
            assertOtherWaysRefusedUnreadThenClosed(smtp, 503, notOffered);
        }
        try (SmtpClient smtp = mx(server, "127.0.0.11")) {
            assertReply(smtp.command("AUTH"), 503, notOffered); // a bare AUTH too (the break-trial got 451)
        }
        // No password check ran: no failure counted (and nothing else but the refusals).
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.auth.not-offered", 5L,
            "relayguard.deferred.auth.too-many-failures", 1L, "relayguard.refused.sender.local-spoof", 1L));
    }

    @Test
    void submissionWantsStartTlsBeforeAuthThenLogsIn(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        String encryptionRequired = "5.7.11 Encryption required for requested authentication mechanism";
        try (SmtpClient smtp = submissionPlaintext(server, "127.0.0.12")) {
            assertOtherWaysRefusedUnreadThenClosed(smtp, 538, encryptionRequired);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.auth.encryption-required", 2L,
            "relayguard.deferred.auth.too-many-failures", 1L));
        before = relayGuardMeters();
        try (SmtpClient smtp = submissionPlaintext(server, "127.0.0.12")) {
            assertRightAndWrongRefusedAlike(smtp, 538, encryptionRequired);
            assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.auth.encryption-required", 2L));

            assertThat(smtp.startTls("client.example").code()).isEqualTo(250);
            assertLoggedIn(plain(smtp, DEMO_USER, PASSWORD));
            assertReply(smtp.mailFrom(DEMO_USER), 250, "2.1.0 Sender <" + DEMO_USER + "> OK");
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.auth.encryption-required", 2L));
    }

    @Test
    void thirdFailedLoginInAConnectionIsAnswered421AndClosesIt(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = submissionTls(server, "127.0.0.13")) {
            threeFailuresCloseTheConnection(smtp, Way.PLAIN_INITIAL, "guess@" + DOMAIN);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of(FAILED, 3L, TOO_MANY_FAILURES, 1L));
        // The same client, in a new connection, may try again (below its ban threshold) and log in.
        try (SmtpClient smtp = submissionTls(server, "127.0.0.13")) {
            assertLoggedIn(plain(smtp, "guess@" + DOMAIN, PASSWORD));
        }
    }

    /**
     * Credential stuffing from 127.0.0.2: the victim's account fails {@value #ACCOUNT_THROTTLE_FAILURES} times (throttled
     * for strangers), then other accounts, up to {@value #CLIENT_BAN_FAILURES} failures for the client (banned from
     * AUTH). The owner, who logged in from 127.0.0.3 before, still logs in; 127.0.0.4, a stranger to the victim, is
     * turned away for that account only.
     */
    @Test
    void failuresAcrossConnectionsBanTheClientAndThrottleTheAccountForStrangersOnly(GuiceJamesServer server) throws Exception {
        String victim = "victim@" + DOMAIN;
        String bystander = "bystander@" + DOMAIN;
        try (SmtpClient owner = submissionTls(server, "127.0.0.3")) {
            assertLoggedIn(plain(owner, victim, PASSWORD));
        }

        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient attacker = submissionTls(server, "127.0.0.2")) {
            threeFailuresCloseTheConnection(attacker, Way.PLAIN_INITIAL, victim);
        }
        try (SmtpClient attacker = submissionTls(server, "127.0.0.2")) {
            assertReply(plain(attacker, victim, "wrong-4"), 535, CREDENTIALS_INVALID); // 4th for the victim: throttled
            assertReply(plain(attacker, "spray1@" + DOMAIN, "wrong-5"), 535, CREDENTIALS_INVALID);
            assertReply(plain(attacker, "spray2@" + DOMAIN, "wrong-6"), 421, CLOSING); // 6th for 127.0.0.2: banned
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of(FAILED, 6L, TOO_MANY_FAILURES, 2L));
        assertThat(AUDIT.lines()).anySatisfy(line -> assertThat(line)
            .startsWith("outcome=throttled reason=auth.account-throttled ip=127.0.0.2 login=" + victim + " until="));
        assertThat(AUDIT.lines()).anySatisfy(line -> assertThat(line)
            .startsWith("outcome=banned reason=auth.client-banned ip=127.0.0.2 key=127.0.0.2 until="));

        // The banned client is refused at the AUTH command, whatever it sends, the right password included.
        before = relayGuardMeters();
        String banned = "Too many failed logins from 127\\.0\\.0\\.2, try again in \\d+ s";
        try (SmtpClient attacker = submissionTls(server, "127.0.0.2")) {
            assertReplyMatching(plain(attacker, bystander, PASSWORD), 454, "4.7.0", "4\\.7\\.0 " + banned);
            List<Reply> login = Way.LOGIN_CONTINUED.exchange(attacker, victim, PASSWORD);
            assertThat(login).as("no 334 prompt").hasSize(1);
            assertReplyMatching(login.get(0), 454, "4.7.0", "4\\.7\\.0 " + banned);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.deferred.auth.client-banned", 2L));

        // The owner, at the address it logged in from before the attack, is not locked out.
        before = relayGuardMeters();
        try (SmtpClient owner = submissionTls(server, "127.0.0.3")) {
            assertLoggedIn(plain(owner, victim, PASSWORD));
            assertReply(owner.mailFrom(victim), 250, "2.1.0 Sender <" + victim + "> OK");
        }
        assertThat(increasedSince(before)).as("a known client's login is no suspicious login").isEmpty();

        // A stranger to the victim: the right password is refused before any check, for this account only.
        String throttled = "4\\.7\\.0 Too many failed logins for this account, try again in \\d+ s";
        try (SmtpClient stranger = submissionTls(server, "127.0.0.4")) {
            assertReplyMatching(plain(stranger, victim, PASSWORD), 454, "4.7.0", throttled);
            assertReplyMatching(Way.LOGIN_CONTINUED.login(stranger, victim, PASSWORD), 454, "4.7.0", throttled);
            assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.deferred.auth.account-throttled", 2L));
        }
        try (SmtpClient stranger = submissionTls(server, "127.0.0.4")) { // two refusals were that connection's share
            assertReply(plain(stranger, bystander, "wrong-bystander"), 535, CREDENTIALS_INVALID);
            assertLoggedIn(plain(stranger, bystander, PASSWORD));
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.deferred.auth.account-throttled", 2L, FAILED, 1L));
    }

    @ParameterizedTest
    @EnumSource(Way.class)
    void everyWayOfSendingCredentialsIsCountedAndLogsIn(Way way, GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = submissionTls(server, way.ip(1))) {
            threeFailuresCloseTheConnection(smtp, way, way.account("fail"));
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of(FAILED, 3L, TOO_MANY_FAILURES, 1L));

        before = relayGuardMeters();
        try (SmtpClient smtp = submissionTls(server, way.ip(2))) {
            assertLoggedIn(way.login(smtp, way.account("ok"), PASSWORD));
            assertReply(smtp.mailFrom(way.account("ok")), 250, "2.1.0 Sender <" + way.account("ok") + "> OK");
        }
        assertThat(increasedSince(before)).isEmpty();
    }

    @Test
    void auditLinesNameTheLoginAndMechanismButNoSecret(GuiceJamesServer server) throws Exception {
        // Break-trial: AUTH PLAIN with a lone name (often a password in the wrong field) made James log it at ERROR.
        String lone = "Lone-secret-5d2e";
        String loneBlob = SmtpClient.base64("\0\0" + lone);
        SECRETS_SENT.add(lone.toLowerCase(Locale.ROOT));
        SECRETS_SENT.add(loneBlob);
        try (SmtpClient smtp = submissionTls(server, "127.0.0.31")) {
            assertReply(smtp.command("AUTH PLAIN " + loneBlob), 501,
                "5.5.2 Cannot decode AUTH PLAIN response: an authentication identity and a password are required");
            assertLoggedIn(plain(smtp, DEMO_USER, PASSWORD));
        }
        int from = AUDIT.lines().size();
        for (Way way : Way.values()) {
            String tried = "Audit.User" + way.ordinal() + "@RelayGuard.Test";
            try (SmtpClient smtp = mx(server, way.ip(3))) {
                assertThat(way.exchange(smtp, tried, PASSWORD)).singleElement().extracting(Reply::code).isEqualTo(503);
            }
            try (SmtpClient smtp = submissionPlaintext(server, way.ip(3))) {
                assertThat(way.exchange(smtp, tried, PASSWORD)).singleElement().extracting(Reply::code).isEqualTo(538);
            }
            try (SmtpClient smtp = submissionTls(server, way.ip(3))) {
                assertReply(way.login(smtp, tried, "Wrong-pass-" + way.ordinal() + "-b41c"), 535, CREDENTIALS_INVALID);
                assertLoggedIn(way.login(smtp, "auditor@" + DOMAIN, PASSWORD));
            }
            List<String> lines = AUDIT.lines().subList(from, AUDIT.lines().size());
            String ip = " ip=" + way.ip(3) + " ";
            assertThat(lines).filteredOn(line -> line.contains(ip)).as(way.name()).satisfiesExactly(
                line -> assertThat(line).startsWith("outcome=refused reason=auth.not-offered ")
                    .contains(" login=- mechanism=" + way.mechanism + " reply="),
                line -> assertThat(line).startsWith("outcome=refused reason=auth.encryption-required ")
                    .contains(" login=- mechanism=" + way.mechanism + " reply="),
                line -> assertThat(line).startsWith("outcome=refused reason=auth.failed ")
                    .contains(" login=audit.user" + way.ordinal() + "@relayguard.test mechanism=" + way.mechanism + " reply="));
        }
        List<String> everything = new ArrayList<>();
        LOGS.forEach(log -> everything.addAll(log.lines()));
        assertThat(everything).as("lines captured").isNotEmpty();
        for (String secret : new ArrayList<>(SECRETS_SENT)) {
            assertThat(everything).as("a secret sent: " + secret).noneMatch(line -> line.contains(secret));
        }
    }

    @Test
    void loginFromAStrangerAfterFailuresSuspendsTheAccountFromSending(GuiceJamesServer server) throws Exception {
        String stolen = "stolen@" + DOMAIN;
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient guesser = submissionTls(server, "127.0.4.1")) {
            assertReply(plain(guesser, stolen, "wrong-stolen-1"), 535, CREDENTIALS_INVALID);
            assertReply(plain(guesser, stolen, "wrong-stolen-2"), 535, CREDENTIALS_INVALID);
        }
        try (SmtpClient thief = submissionTls(server, "127.0.4.2")) {
            assertLoggedIn(plain(thief, stolen, PASSWORD));
            assertThat(increasedSince(before)).isEqualTo(Map.of(FAILED, 2L,
                "relayguard.auth.success-after-failures", 1L, "relayguard.rate.suspensions", 1L));
            assertThat(AUDIT.lines()).anySatisfy(line -> assertThat(line)
                .startsWith("outcome=suspended reason=auth.success-after-failures ")
                .contains(" ip=127.0.4.2 login=" + stolen + " mechanism=PLAIN failures=2 subject=user:" + stolen + " until="));

            before = relayGuardMeters();
            assertReplyMatching(thief.mailFrom(stolen), 450, "4.7.1", "4\\.7\\.1 Account suspended from sending after a login that followed failed logins, retry in [0-9]+ s");
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.deferred.rate.suspended", 1L));
    }
}
