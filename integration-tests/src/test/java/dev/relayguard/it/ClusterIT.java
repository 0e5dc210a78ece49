package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import dev.relayguard.it.SmtpClient.Reply;
import dev.relayguard.store.RedisServerProcess;

/**
 * Two real James 3.8.1 nodes (two JVMs, {@link JamesNode}) sharing one real redis-server (Debian's, 7.x) through
 * {@code <rateLimits><store>redis</store>} (issue 14): rate limits exact across the nodes under 64 concurrent
 * sessions, every accepted message delivered exactly once; a suspension, a probe ban and an AUTH ban made on one node
 * hold on the other, are listed and lifted there; a restarted node keeps them.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterIT {
    static final String DOMAIN = RelayGuardServers.DOMAIN;
    static final String PASSWORD = "cluster-pw";
    /** Each of these users may send LIMIT messages per hour, wherever it connects. */
    static final int LIMIT = 5;
    static final int USERS = 8;
    static final int SESSIONS = 64;
    static final int MESSAGES_PER_SESSION = 2;
    /** Relay refusals of one client that ban it ({@code <probeBans><refusals>}). */
    static final int PROBE_BAN_AFTER = 10;
    /** Wrong passwords of one client that ban it from AUTH (one connection's worth). */
    static final int AUTH_BAN_AFTER = 3;
    static final String PROBER = "127.0.0.3";
    static final String GUESSER = "127.0.0.4";
    static final String ID_HEADER = "X-Load-Id";

    @TempDir
    static Path rootA;
    @TempDir
    static Path rootB;

    static RedisServerProcess redis;
    static JamesNode a;
    static JamesNode b;

    @BeforeAll
    static void startCluster() throws Exception {
        redis = RedisServerProcess.start();
        String policy = policy(redis.url(), "fail-closed");
        a = JamesNode.start("A", rootA, policy);
        b = JamesNode.start("B", rootB, policy);
        a.awaitUp();
        b.awaitUp();
        addUsers(a);
        addUsers(b);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        try (RedisServerProcess stopRedis = redis; JamesNode stopA = a; JamesNode stopB = b) {
            // closed in reverse order: B, A, then Redis
        }
    }

    /** The policy of both nodes: the shared Redis, small per-user limits, bans after a few refusals. */
    static String policy(String redisUrl, String onStoreFailure) {
        return "<probeBans><refusals>" + PROBE_BAN_AFTER + "</refusals><window>10m</window><banFor>1h</banFor></probeBans>"
            + "<rateLimits><store>redis</store><redisURL>" + redisUrl + "</redisURL><timeout>500ms</timeout>"
            + "<onStoreFailure>" + onStoreFailure + "</onStoreFailure>"
            + "<users><limit measure=\"messages\" max=\"" + LIMIT + "\" per=\"1h\"/></users>"
            + "<user name=\"load@" + DOMAIN + "\"><limit measure=\"messages\" max=\"1000000\" per=\"1h\"/></user>"
            + "</rateLimits>"
            + "<authLimits><maxFailuresPerConnection>" + AUTH_BAN_AFTER + "</maxFailuresPerConnection>"
            + "<clientBan><failures>" + AUTH_BAN_AFTER + "</failures><within>10m</within><banFor>1h</banFor></clientBan>"
            + "</authLimits>";
    }

    static String user(int i) {
        return "u" + i + "@" + DOMAIN;
    }

    static void addUsers(JamesNode node) throws Exception {
        List<String> users = new ArrayList<>();
        for (int i = 0; i < USERS; i++) {
            users.add(user(i));
        }
        users.addAll(List.of("victim@" + DOMAIN, "held@" + DOMAIN, "load@" + DOMAIN));
        node.addUsers(PASSWORD, users.toArray(new String[0]));
    }

    @Test
    @Order(1)
    void sixtyFourSessionsOverBothNodesAcceptEachUsersLimitExactlyAndDeliverEveryMessageOnce() throws Exception {
        Map<String, List<String>> acceptedByUser = new ConcurrentHashMap<>();
        Map<String, List<String>> acceptedByNode = new ConcurrentHashMap<>();
        Map<String, Integer> replies = new ConcurrentHashMap<>();
        List<Callable<Void>> sessions = new ArrayList<>();
        for (int s = 0; s < SESSIONS; s++) {
            int session = s;
            JamesNode node = s % 2 == 0 ? a : b;
            String user = user(s % USERS);
            sessions.add(() -> {
                try (SmtpClient smtp = node.submission(user, PASSWORD)) {
                    for (int m = 0; m < MESSAGES_PER_SESSION; m++) {
                        String id = node.name() + "-s" + session + "-m" + m;
                        Reply mail = smtp.mailFrom(user);
                        replies.merge("MAIL " + mail.code() + " " + mail.enhancedStatus(), 1, Integer::sum);
                        if (mail.code() != 250) {
                            assertThat(mail.code() + " " + mail.enhancedStatus()).as(mail.toString()).isEqualTo("450 4.7.1");
                            assertThat(mail.text()).contains("Message rate limit exceeded (" + LIMIT + " messages per 1h)");
                            continue;
                        }
                        assertThat(smtp.rcptTo(user).code()).isEqualTo(250);
                        Reply data = smtp.data(message(user, id));
                        assertThat(data.code()).as(data.toString()).isEqualTo(250);
                        acceptedByUser.computeIfAbsent(user, k -> Collections.synchronizedList(new ArrayList<>())).add(id);
                        acceptedByNode.computeIfAbsent(node.name() + " " + user,
                            k -> Collections.synchronizedList(new ArrayList<>())).add(id);
                    }
                }
                return null;
            });
        }
        runAll(sessions, SESSIONS);
        System.out.println("ClusterIT exactness: replies " + new TreeMap<>(replies) + ", accepted per user "
            + new TreeMap<>(counts(acceptedByUser)));

        for (int i = 0; i < USERS; i++) {
            assertThat(acceptedByUser.get(user(i))).as("accepted for %s over both nodes", user(i)).hasSize(LIMIT);
            assertThat(a.lines("usage", user(i))).singleElement().asString().contains("used " + LIMIT + " / " + LIMIT);
        }
        assertThat(replies.get("MAIL 450 4.7.1")).isEqualTo(SESSIONS * MESSAGES_PER_SESSION - USERS * LIMIT);

        // Delivered exactly once: each node's mailboxes hold exactly what that node accepted, nothing twice.
        for (JamesNode node : List.of(a, b)) {
            for (int i = 0; i < USERS; i++) {
                List<String> accepted = acceptedByNode.getOrDefault(node.name() + " " + user(i), List.of());
                awaitDelivered(node, user(i), accepted);
            }
        }
    }

    @Test
    @Order(2)
    void aSuspensionMadeOnOneNodeHoldsOnTheOtherAndIsLiftedThere() throws Exception {
        String victim = "victim@" + DOMAIN;
        a.op("suspend", victim, "password leaked");

        Reply refused = mailFrom(b, victim);
        assertThat(refused.code()).as(refused.toString()).isEqualTo(450);
        assertThat(refused.enhancedStatus()).isEqualTo("4.7.1");
        assertThat(refused.text()).contains("Account suspended");
        assertThat(b.lines("suspended")).singleElement().asString().contains("user:" + victim, "password leaked");

        assertThat((Boolean) b.op("resume", victim)).isTrue();
        assertThat(mailFrom(a, victim).code()).isEqualTo(250);
        assertThat(a.lines("suspended")).isEmpty();
    }

    @Test
    @Order(3)
    void aProbeBanEarnedOnOneNodeRefusesTheClientAtTheOtherAndIsLiftedThere() throws Exception {
        earnProbeBan(a, PROBER);

        assertBannedAtConnect(b, PROBER);
        assertThat(b.lines("bans")).singleElement().asString().startsWith(PROBER + " until ");
        assertThat((Boolean) b.op("lift", PROBER)).isTrue();
        try (SmtpClient again = SmtpClient.connectFrom(PROBER, a.mxPort())) {
            assertThat(again.greeting().code()).as(again.greeting().toString()).isEqualTo(220);
        }
        assertThat(a.lines("bans")).isEmpty();
    }

    @Test
    @Order(4)
    void anAuthBanEarnedOnOneNodeRefusesAuthAtTheOther() throws Exception {
        try (SmtpClient smtp = SmtpClient.connectFrom(GUESSER, a.submissionPort())) {
            smtp.ehlo("guesser.example");
            smtp.startTls("guesser.example");
            for (int i = 1; i < AUTH_BAN_AFTER; i++) {
                assertThat(smtp.authPlain("u0@" + DOMAIN, "guess-" + i).code()).isEqualTo(535);
            }
            assertThat(smtp.authPlain("u0@" + DOMAIN, "guess-" + AUTH_BAN_AFTER).code()).isEqualTo(421);
        }

        Reply banned = loginFrom(b, GUESSER);
        assertThat(banned.code()).as(banned.toString()).isEqualTo(454);
        assertThat(banned.enhancedStatus()).isEqualTo("4.7.0");
        assertThat(b.lines("authBans")).singleElement().asString().startsWith(GUESSER + " until ");
    }

    @Test
    @Order(5)
    void aRestartedNodeKeepsTheSuspensionTheBansAndTheCounters() throws Exception {
        String held = "held@" + DOMAIN;
        b.op("suspend", held, "compromised");
        earnProbeBan(b, PROBER);

        a.restart();
        addUsers(a);

        Reply refused = mailFrom(a, held);
        assertThat(refused.code()).as(refused.toString()).isEqualTo(450);
        assertThat(refused.text()).contains("Account suspended");
        assertBannedAtConnect(a, PROBER);
        assertThat(loginFrom(a, GUESSER).code()).as("the AUTH ban of the order-4 test").isEqualTo(454);
        assertThat(a.lines("suspended")).singleElement().asString().contains("user:" + held, "compromised");
        assertThat(a.lines("bans")).singleElement().asString().startsWith(PROBER + " until ");
        assertThat(a.lines("authBans")).singleElement().asString().startsWith(GUESSER + " until ");
        for (int i = 0; i < USERS; i++) {
            assertThat(a.lines("usage", user(i))).as("the counters of %s", user(i))
                .singleElement().asString().contains("used " + LIMIT + " / " + LIMIT);
        }
        Reply limited = mailFrom(a, user(0));
        assertThat(limited.code() + " " + limited.enhancedStatus()).isEqualTo("450 4.7.1");

        // Lifted on the restarted node: gone for the other one too.
        assertThat((Boolean) a.op("resume", held)).isTrue();
        assertThat((Boolean) a.op("lift", PROBER)).isTrue();
        assertThat((Boolean) a.op("liftAuthBan", GUESSER)).isTrue();
        assertThat(mailFrom(b, held).code()).isEqualTo(250);
        try (SmtpClient again = SmtpClient.connectFrom(PROBER, b.mxPort())) {
            assertThat(again.greeting().code()).isEqualTo(220);
        }
        assertThat(loginFrom(b, GUESSER).code()).isEqualTo(235);
    }

    // ----- helpers -----

    static String message(String user, String id) {
        return "From: <" + user + ">\r\nSubject: cluster " + id + "\r\n" + ID_HEADER + ": " + id + "\r\n\r\n" + id;
    }

    /** An authenticated MAIL FROM on {@code node}'s submission listener; its reply. */
    static Reply mailFrom(JamesNode node, String user) throws Exception {
        try (SmtpClient smtp = node.submission(user, PASSWORD)) {
            return smtp.mailFrom(user);
        }
    }

    /** AUTH PLAIN with the right password from {@code source} on {@code node}'s submission listener. */
    static Reply loginFrom(JamesNode node, String source) throws Exception {
        try (SmtpClient smtp = SmtpClient.connectFrom(source, node.submissionPort())) {
            smtp.ehlo("guesser.example");
            smtp.startTls("guesser.example");
            return smtp.authPlain("u0@" + DOMAIN, PASSWORD);
        }
    }

    /** {@link #PROBE_BAN_AFTER} relay refusals from {@code source} on {@code node}'s MX listener, two per connection. */
    static void earnProbeBan(JamesNode node, String source) throws Exception {
        for (int i = 0; i < PROBE_BAN_AFTER; i += 2) {
            try (SmtpClient smtp = SmtpClient.connectFrom(source, node.mxPort())) {
                assertThat(smtp.greeting().code()).as(smtp.greeting().toString()).isEqualTo(220);
                smtp.ehlo("prober.example");
                assertThat(smtp.mailFrom("p@prober.example").code()).isEqualTo(250);
                for (int r = i; r < i + 2; r++) {
                    Reply rcpt = smtp.rcptTo("v" + r + "@remote.example");
                    assertThat(rcpt.code() + " " + rcpt.enhancedStatus()).as(rcpt.toString()).isEqualTo("550 5.7.1");
                }
            }
        }
    }

    static void assertBannedAtConnect(JamesNode node, String source) throws Exception {
        try (SmtpClient banned = SmtpClient.connectFrom(source, node.mxPort())) {
            Reply greeting = banned.greeting();
            assertThat(greeting.code()).as("%s at %s: %s", source, node, greeting).isEqualTo(421);
            assertThat(greeting.enhancedStatus()).isEqualTo("4.7.0");
            assertThat(greeting.text()).contains("Too many relay attempts");
        }
    }

    /** Polls the user's INBOX on {@code node} until it holds {@code accepted} (each once), at most 90 s. */
    static void awaitDelivered(JamesNode node, String user, List<String> accepted) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        List<String> delivered = node.inboxHeaders(user, PASSWORD, ID_HEADER);
        while (delivered.size() < accepted.size() && System.nanoTime() < deadline) {
            Thread.sleep(250);
            delivered = node.inboxHeaders(user, PASSWORD, ID_HEADER);
        }
        assertThat(delivered).as("delivered to %s on %s", user, node).containsExactlyInAnyOrderElementsOf(accepted);
    }

    static Map<String, Integer> counts(Map<String, List<String>> lists) {
        Map<String, Integer> counts = new TreeMap<>();
        lists.forEach((key, list) -> counts.put(key, list.size()));
        return counts;
    }

    /** Runs the tasks at once (one thread each) and rethrows the first failure. */
    static void runAll(List<Callable<Void>> tasks, int threads) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (Future<Void> result : pool.invokeAll(tasks, 5, TimeUnit.MINUTES)) {
                result.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
