package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * Load with limits: 64 concurrent authenticated SMTP sessions of 4 users against real James with small limits.
 * For each user exactly its limit is accepted, every other attempt gets a 4xx, and every accepted message is in
 * its recipient's mailbox exactly once: nothing lost, nothing duplicated.
 */
class LoadWithLimitsIT {
    private static final int USERS = 4;
    private static final int LIMIT = 10;
    private static final int SESSIONS = 64;
    private static final int ATTEMPTS_PER_SESSION = 3;
    private static final String DOMAIN = RelayGuardServers.DOMAIN;
    private static final Pattern ID = Pattern.compile("X-Load-Id: (\\S+)");

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf.policyXml(
        "<probeBans><refusals>0</refusals></probeBans>"
            + "<rateLimits><users><limit measure=\"messages\" max=\"" + LIMIT + "\" per=\"1h\"/></users></rateLimits>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        for (int u = 0; u < USERS; u++) {
            data.addUser("load" + u + "@" + DOMAIN, "pw");
            data.addUser("inbox" + u + "@" + DOMAIN, "pw");
        }
    }

    @Test
    void exactlyTheLimitIsAcceptedPerUserAndEveryAcceptedMessageIsDeliveredOnce(GuiceJamesServer server) throws Exception {
        int port = RelayGuardServers.submissionPort(server);
        Map<Integer, List<String>> accepted = new ConcurrentHashMap<>();
        Map<Integer, Integer> codes = new ConcurrentHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(SESSIONS);
        try {
            List<Callable<Void>> sessions = new ArrayList<>();
            for (int s = 0; s < SESSIONS; s++) {
                int user = s % USERS;
                int session = s;
                sessions.add(() -> {
                    try (SmtpClient smtp = SmtpClient.connect(port)) {
                        smtp.ehlo("load.example");
                        smtp.startTls("load.example");
                        assertThat(smtp.authPlain("load" + user + "@" + DOMAIN, "pw").code()).isEqualTo(235);
                        for (int a = 0; a < ATTEMPTS_PER_SESSION; a++) {
                            String id = "u" + user + "-s" + session + "-a" + a;
                            Reply mail = smtp.mailFrom("load" + user + "@" + DOMAIN);
                            codes.merge(mail.code(), 1, Integer::sum);
                            if (mail.code() != 250) {
                                assertThat(mail.code()).isEqualTo(450);
                                continue;
                            }
                            assertThat(smtp.rcptTo("inbox" + user + "@" + DOMAIN).code()).isEqualTo(250);
                            Reply end = smtp.data("From: <load" + user + "@" + DOMAIN + ">\r\nSubject: load " + id + "\r\nX-Load-Id: " + id + "\r\n\r\nbody of " + id);
                            codes.merge(end.code(), 1, Integer::sum);
                            if (end.code() == 250) {
                                accepted.computeIfAbsent(user, k -> Collections.synchronizedList(new ArrayList<>())).add(id);
                            } else {
                                assertThat(end.code() / 100).isEqualTo(4);
                            }
                        }
                    }
                    return null;
                });
            }
            for (Future<Void> result : pool.invokeAll(sessions, 3, TimeUnit.MINUTES)) {
                result.get();
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.println("LoadWithLimitsIT reply codes: " + codes);
        for (int u = 0; u < USERS; u++) {
            assertThat(accepted.get(u)).as("accepted for user " + u).hasSize(LIMIT);
        }
        for (int u = 0; u < USERS; u++) {
            String inbox = "inbox" + u + "@" + DOMAIN;
            List<String> expected = new ArrayList<>(accepted.get(u));
            Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
            List<String> delivered = ids(server, inbox);
            while (delivered.size() < expected.size() && Instant.now().isBefore(deadline)) {
                Thread.sleep(200);
                delivered = ids(server, inbox);
            }
            assertThat(delivered).as("delivered to " + inbox).containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    private static List<String> ids(GuiceJamesServer server, String user) throws Exception {
        List<String> ids = new ArrayList<>();
        for (String message : server.getProbe(MailboxContentProbe.class).inbox(user)) {
            Matcher id = ID.matcher(message);
            while (id.find()) {
                ids.add(id.group(1));
            }
        }
        return ids;
    }
}
