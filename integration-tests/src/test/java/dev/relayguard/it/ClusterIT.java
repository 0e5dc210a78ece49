package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import dev.relayguard.it.SmtpClient.Reply;
import dev.relayguard.store.RedisClusterProcess;
import dev.relayguard.store.RedisServerProcess;

/**
 * Two real James 3.8.1 nodes (two JVMs, {@link JamesNode}) sharing one real redis-server (Debian's, 7.x) through
 * {@code <rateLimits><store>redis</store>} (issue 14), in this order, on one pair of nodes:
 * <ol>
 *   <li>rate limits exact across the nodes under 64 concurrent sessions, every accepted message delivered exactly
 *       once (read back over IMAP from the node that accepted it);</li>
 *   <li>a suspension, a probe ban and an AUTH ban made on one node hold on the other, are listed and lifted there;</li>
 *   <li>a restarted node keeps them, and the counters;</li>
 *   <li>Redis killed (SIGKILL, then started again) and paused (SIGSTOP, then SIGCONT) under load, with
 *       {@code fail-closed} then {@code fail-open}: the configured answer while it is away, every session answered and
 *       going on, decisions counted again once it is back without restarting James, every accepted message delivered
 *       once; the figures are printed ({@code ClusterIT outage:} lines, docs/PERFORMANCE.md);</li>
 *   <li>the same exactness, and a suspension seen by the other node, against a real Redis Cluster (three masters,
 *       {@code <cluster>true</cluster>}; both nodes restarted on it);</li>
 *   <li>and, on one node of its own, the memory store: a suspension made over JMX survives a James restart
 *       ({@code var/relayguard/suspensions.tsv}).</li>
 * </ol>
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
        return policy(redisUrl, false, onStoreFailure);
    }

    static String policy(String redisUrl, boolean cluster, String onStoreFailure) {
        return "<probeBans><refusals>" + PROBE_BAN_AFTER + "</refusals><window>10m</window><banFor>1h</banFor></probeBans>"
            + "<rateLimits><store>redis</store><redisURL>" + redisUrl + "</redisURL><cluster>" + cluster + "</cluster>"
            + "<timeout>500ms</timeout>"
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
        assertExactUnderConcurrency("redis-server");
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
        assertThat(b.lines("bans")).singleElement().asString().startsWith(PROBER + " since ");
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
        assertThat(a.lines("bans")).singleElement().asString().startsWith(PROBER + " since ");
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

    @Test
    @Order(6)
    void redisKilledAndPausedUnderLoadFailClosedThenFailOpenRecoversWithoutRestartAndLosesNothing() throws Exception {
        Map<String, List<String>> acceptedByNode = new ConcurrentHashMap<>();
        List<String> figures = new ArrayList<>();
        for (String mode : List.of("fail-closed", "fail-open")) {
            for (JamesNode node : List.of(a, b)) {
                if (!mode.equals("fail-closed")) {
                    node.conf().replace("relayguard.xml", "<onStoreFailure>fail-closed</onStoreFailure>",
                        "<onStoreFailure>" + mode + "</onStoreFailure>");
                    assertThat(node.lines("reload")).anySatisfy(line -> assertThat(line).contains(mode));
                }
            }
            for (String signal : List.of("KILL", "STOP")) {
                Outage outage = new Outage(mode, signal);
                outage.run(acceptedByNode);
                figures.add(outage.figures());
                outage.assertBehaviour();

                // Counted again, and shared again: once both nodes reach Redis again, one more message on B shows on A.
                for (JamesNode node : List.of(a, b)) {
                    awaitUnderLoad(outage.name + ": " + node + " reaches Redis again", () -> storeAnswers(node));
                }
                long before = used(a, "load@" + DOMAIN);
                try (SmtpClient smtp = b.submission("load@" + DOMAIN, PASSWORD)) {
                    String id = outage.name + "-counted";
                    assertThat(smtp.mailFrom("load@" + DOMAIN).code()).isEqualTo(250);
                    assertThat(smtp.rcptTo("load@" + DOMAIN).code()).isEqualTo(250);
                    assertThat(smtp.data(message("load@" + DOMAIN, id)).code()).isEqualTo(250);
                    acceptedByNode.computeIfAbsent(b.name(), k -> Collections.synchronizedList(new ArrayList<>())).add(id);
                }
                assertThat(used(a, "load@" + DOMAIN)).as("counted after %s", outage.name).isEqualTo(before + 1);
            }
        }
        figures.forEach(line -> System.out.println("ClusterIT outage: " + line));

        for (JamesNode node : List.of(a, b)) {
            awaitDelivered(node, "load@" + DOMAIN, acceptedByNode.getOrDefault(node.name(), List.of()));
        }
    }

    /**
     * One incident under load: 8 sessions of {@code load@} (4 per node) send one message after the other; Redis is
     * killed (SIGKILL, then started again on its port, empty) or paused (SIGSTOP, then SIGCONT) once mail flows, and
     * brought back after at least 3 s and 16 MAILs answered without it; the load stops once both nodes accepted mail
     * again. Event-driven, with generous deadlines; every reply is timed (the SMTP client gives up after 30 s of
     * silence). The figures are MAIL replies per phase (by the phase a MAIL was asked in) and the longest reply.
     */
    static final class Outage {
        static final int LOAD_SESSIONS = 8;
        static final int BEFORE = 0;
        static final int DURING = 1;
        static final int AFTER = 2;
        static final long INCIDENT_NANOS = TimeUnit.SECONDS.toNanos(3);

        final String name;
        final String mode;
        final String signal;
        final AtomicInteger phase = new AtomicInteger(BEFORE);
        final long[] phaseStart = new long[4];
        final AtomicLongArray repliesIn = new AtomicLongArray(3);
        final AtomicLongArray acceptedIn = new AtomicLongArray(3);
        final AtomicLongArray longestNanosIn = new AtomicLongArray(3);
        /** Accepted after Redis came back, on A (0) and on B (1). */
        final AtomicLongArray acceptedAfterOn = new AtomicLongArray(2);
        final Map<String, Integer> duringIncident = new ConcurrentHashMap<>();
        final AtomicBoolean done = new AtomicBoolean();

        Outage(String mode, String signal) {
            this.mode = mode;
            this.signal = signal;
            this.name = mode + "-" + signal;
        }

        void run(Map<String, List<String>> acceptedByNode) throws Exception {
            List<Callable<Void>> tasks = new ArrayList<>();
            for (int s = 0; s < LOAD_SESSIONS; s++) {
                JamesNode node = s % 2 == 0 ? a : b;
                String prefix = name + "-" + node.name() + "-s" + s + "-";
                tasks.add(() -> {
                    List<String> accepted = acceptedByNode.computeIfAbsent(node.name(), k -> Collections.synchronizedList(new ArrayList<>()));
                    session(node, prefix, accepted);
                    return null;
                });
            }
            tasks.add(() -> {
                try {
                    control();
                } finally {
                    done.set(true);
                }
                return null;
            });
            phaseStart[BEFORE] = System.nanoTime();
            runAll(tasks, tasks.size());
            phaseStart[3] = System.nanoTime();
        }

        private void control() throws Exception {
            awaitUnderLoad(name + ": mail accepted before the incident", () -> acceptedIn.get(BEFORE) >= 16);
            redis.kill(signal);
            phaseStart[DURING] = System.nanoTime();
            phase.set(DURING);
            try {
                // At least INCIDENT_NANOS, so that the figures say something; and enough replies to judge.
                awaitUnderLoad(name + ": MAIL answered during the incident", () -> repliesIn.get(DURING) >= 16
                    && System.nanoTime() - phaseStart[DURING] >= INCIDENT_NANOS);
            } finally {
                // The phase ends before Redis comes back: a reply seen while it is DURING was given without Redis.
                phaseStart[AFTER] = System.nanoTime();
                phase.set(AFTER);
                if (signal.equals("KILL")) {
                    redis.restart();
                } else {
                    redis.kill("CONT");
                }
            }
            awaitUnderLoad(name + ": mail accepted on both nodes after Redis came back",
                () -> acceptedAfterOn.get(0) >= 8 && acceptedAfterOn.get(1) >= 8);
        }

        private void session(JamesNode node, String prefix, List<String> accepted) throws Exception {
            try (SmtpClient smtp = node.submission("load@" + DOMAIN, PASSWORD)) {
                for (int attempt = 0; !done.get(); attempt++) {
                    int at = phase.get();
                    Reply mail = timed(at, () -> smtp.mailFrom("load@" + DOMAIN));
                    repliesIn.incrementAndGet(at);
                    if (at == DURING) {
                        // Asked and answered while Redis was away, or asked then and answered once it was back.
                        String when = phase.get() == DURING ? "" : " (answered after Redis came back)";
                        duringIncident.merge("MAIL " + mail.code() + " " + mail.enhancedStatus() + when, 1, Integer::sum);
                    }
                    if (mail.code() != 250) {
                        assertThat(mail.code() / 100).as("%s: %s", name, mail).isEqualTo(4);
                        Thread.sleep(20);
                        continue;
                    }
                    Reply rcpt = timed(at, () -> smtp.rcptTo("load@" + DOMAIN));
                    if (rcpt.code() != 250) {
                        assertThat(rcpt.code() / 100).as("%s: %s", name, rcpt).isEqualTo(4);
                        assertThat(smtp.command("RSET").code()).isEqualTo(250);
                        continue;
                    }
                    String id = prefix + attempt;
                    Reply data = timed(at, () -> smtp.data(message("load@" + DOMAIN, id)));
                    if (data.code() == 250) {
                        accepted.add(id);
                        acceptedIn.incrementAndGet(at);
                        if (at == AFTER) {
                            acceptedAfterOn.incrementAndGet(node == a ? 0 : 1);
                        }
                    } else {
                        assertThat(data.code() / 100).as("%s: %s", name, data).isEqualTo(4);
                    }
                }
            }
        }

        /** Runs one SMTP command, keeping the longest reply time of the phase it was asked in. */
        private Reply timed(int at, Callable<Reply> command) throws Exception {
            long start = System.nanoTime();
            Reply reply = command.call();
            longestNanosIn.accumulateAndGet(at, System.nanoTime() - start, Math::max);
            return reply;
        }

        /**
         * Every MAIL asked and answered while Redis was away: fail-closed, answered 451 4.3.0 (at the store's timeout
         * at the latest: the session went on); fail-open, accepted. A MAIL still waiting for Redis when it came back
         * may be answered either way.
         */
        void assertBehaviour() {
            String expected = mode.equals("fail-closed") ? "MAIL 451 4.3.0" : "MAIL 250 2.1.0";
            assertThat(duringIncident).as(name).containsKey(expected);
            assertThat(duringIncident.keySet()).as(name).allSatisfy(reply -> assertThat(reply)
                .matches(Pattern.quote(expected) + "|MAIL (250 2\\.1\\.0|451 4\\.3\\.0) \\(answered after Redis came back\\)"));
            assertThat(acceptedIn.get(AFTER)).as("%s: accepted again without restarting James", name).isPositive();
        }

        String figures() {
            StringBuilder line = new StringBuilder(name).append(":");
            String[] names = {"before", "during", "after"};
            for (int p = BEFORE; p <= AFTER; p++) {
                double seconds = (phaseStart[p + 1] - phaseStart[p]) / 1e9;
                line.append(String.format(Locale.ROOT, " %s %.1f s, %d MAIL replies (%.1f/s), %d accepted, longest reply %d ms;",
                    names[p], seconds, repliesIn.get(p), repliesIn.get(p) / seconds, acceptedIn.get(p),
                    TimeUnit.NANOSECONDS.toMillis(longestNanosIn.get(p))));
            }
            return line.append(" MAIL during: ").append(new TreeMap<>(duringIncident)).toString();
        }
    }

    @Test
    @Order(7)
    void againstARealRedisClusterTheLimitsAreExactAndASuspensionIsSeenByTheOtherNode() throws Exception {
        try (RedisClusterProcess cluster = RedisClusterProcess.start()) {
            for (JamesNode node : List.of(a, b)) {
                node.conf().policyXml(policy(cluster.url(), true, "fail-closed"));
                node.relaunch();
            }
            for (JamesNode node : List.of(a, b)) {
                node.awaitUp();
                addUsers(node);
                assertThat(node.lines("policySummary")).anySatisfy(line -> assertThat(line).startsWith("rateLimits = {store=redis ").contains(" cluster, timeout="));
            }

            assertExactUnderConcurrency("redis-cluster");

            String victim = "victim@" + DOMAIN;
            b.op("suspend", victim, "seen by every node");
            Reply refused = mailFrom(a, victim);
            assertThat(refused.code()).as(refused.toString()).isEqualTo(450);
            assertThat(refused.text()).contains("Account suspended");
            assertThat((Boolean) a.op("resume", victim)).isTrue();
            assertThat(mailFrom(b, victim).code()).isEqualTo(250);
        }
    }

    @Test
    @Order(8)
    void withTheMemoryStoreASuspensionMadeOverJmxSurvivesARestart(@TempDir Path rootSolo) throws Exception {
        // The pair is done: its CPU goes to this node's boots.
        b.close();
        a.close();
        try (JamesNode solo = JamesNode.start("solo", rootSolo, null).awaitUp()) {
            String held = "held@" + DOMAIN;
            solo.addUsers(PASSWORD, held);
            assertThat((String) solo.attribute("StoreKind")).isEqualTo("memory");
            solo.op("suspend", held, "password leaked");

            solo.restart();
            solo.addUsers(PASSWORD, held);

            assertThat(solo.lines("suspended")).singleElement().asString().contains("user:" + held, "password leaked");
            Reply refused = mailFrom(solo, held);
            assertThat(refused.code()).as(refused.toString()).isEqualTo(450);
            assertThat(refused.text()).contains("Account suspended");
            assertThat(rootSolo.resolve("var/relayguard/suspensions.tsv")).exists();
            assertThat((Boolean) solo.op("resume", held)).isTrue();
            assertThat(mailFrom(solo, held).code()).isEqualTo(250);
        }
    }

    // ----- helpers -----

    /**
     * {@link #SESSIONS} concurrent sessions, half on each node, {@link #USERS} users: each user's accepted messages ==
     * {@link #LIMIT}, every other attempt refused {@code 450 4.7.1}, every accepted message in the user's INBOX on the
     * node that accepted it, once.
     */
    static void assertExactUnderConcurrency(String label) throws Exception {
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
                        String id = label + "-" + node.name() + "-s" + session + "-m" + m;
                        Reply mail = smtp.mailFrom(user);
                        replies.merge("MAIL " + mail.code() + " " + mail.enhancedStatus(), 1, Integer::sum);
                        if (mail.code() != 250) {
                            assertThat(mail.code() + " " + mail.enhancedStatus()).as(mail.toString()).isEqualTo("450 4.7.1");
                            assertThat(mail.text()).contains("Message rate limit exceeded (" + LIMIT + " messages per 1h)");
                            continue;
                        }
                        assertThat(smtp.rcptTo(user).code()).isEqualTo(250);
                        Reply data = smtp.data(message(user, id));
                        replies.merge("DATA " + data.code() + " " + data.enhancedStatus(), 1, Integer::sum);
                        if (data.code() != 250) {
                            // The Redis store counts the message again at the end of DATA (LimiterStore.isCurrent is
                            // false): a MAIL of another session may have taken the slot in between.
                            assertThat(data.code() + " " + data.enhancedStatus()).as(data.toString()).isEqualTo("450 4.7.1");
                            continue;
                        }
                        acceptedByUser.computeIfAbsent(user, k -> Collections.synchronizedList(new ArrayList<>())).add(id);
                        acceptedByNode.computeIfAbsent(node.name() + " " + user,
                            k -> Collections.synchronizedList(new ArrayList<>())).add(id);
                    }
                }
                return null;
            });
        }
        runAll(sessions, SESSIONS);
        System.out.println("ClusterIT exactness (" + label + "): replies " + new TreeMap<>(replies) + ", accepted per user "
            + new TreeMap<>(counts(acceptedByUser)));

        for (int i = 0; i < USERS; i++) {
            assertThat(acceptedByUser.get(user(i))).as("accepted for %s over both nodes", user(i)).hasSize(LIMIT);
            assertThat(a.lines("usage", user(i))).singleElement().asString().contains("used " + LIMIT + " / " + LIMIT);
        }
        assertThat(replies.getOrDefault("MAIL 450 4.7.1", 0) + replies.getOrDefault("DATA 450 4.7.1", 0))
            .as("every other attempt refused with 450 4.7.1").isEqualTo(SESSIONS * MESSAGES_PER_SESSION - USERS * LIMIT);

        // Delivered exactly once: each node's mailboxes hold exactly what that node accepted, nothing twice.
        for (JamesNode node : List.of(a, b)) {
            for (int i = 0; i < USERS; i++) {
                List<String> accepted = acceptedByNode.getOrDefault(node.name() + " " + user(i), List.of());
                awaitDelivered(node, user(i), accepted);
            }
        }
    }


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

    /** The messages counted now for the user's one limit ("used n / max" of the management bean's usage). */
    static long used(JamesNode node, String user) throws Exception {
        String line = node.lines("usage", user).get(0);
        Matcher used = Pattern.compile("used (\\d+) / ").matcher(line);
        assertThat(used.find()).as(line).isTrue();
        return Long.parseLong(used.group(1));
    }

    /** True when the node's usage operation (a Redis read) answers. */
    static boolean storeAnswers(JamesNode node) {
        try {
            used(node, "load@" + DOMAIN);
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    static void awaitUnderLoad(String what, Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!condition.call()) {
            assertThat(System.nanoTime()).as("in time: %s", what).isLessThan(deadline);
            Thread.sleep(20);
        }
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
