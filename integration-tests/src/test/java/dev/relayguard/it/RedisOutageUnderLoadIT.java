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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * Redis stopped in the middle of a load of authenticated sessions, then started again, with
 * {@code onStoreFailure=fail-closed}: while it is down, MAIL is answered {@code 451 4.3.0} (the client retries);
 * when it is back, messages are accepted again without restarting James; every message that got 250 is in its
 * recipient's mailbox exactly once. Nothing is lost.
 */
class RedisOutageUnderLoadIT {
    private static final String DOMAIN = RelayGuardServers.DOMAIN;
    private static final EmbeddedRedis REDIS = EmbeddedRedis.started();
    private static final Pattern ID = Pattern.compile("X-Load-Id: (\\S+)");

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf.policyXml(
        "<probeBans><refusals>0</refusals></probeBans>"
            + "<rateLimits><store>redis</store><redisURL>" + REDIS.url() + "</redisURL><timeout>2s</timeout>"
            + "<onStoreFailure>fail-closed</onStoreFailure>"
            + "<users><limit measure=\"messages\" max=\"100000\" per=\"1h\"/></users></rateLimits>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        data.addUser("load@" + DOMAIN, "pw");
        data.addUser("inbox@" + DOMAIN, "pw");
    }

    @AfterAll
    static void stopRedis() {
        REDIS.stop();
    }

    @Test
    void failClosedDuringTheOutageRecoveryAfterAndNothingLost(GuiceJamesServer server) throws Exception {
        int port = RelayGuardServers.submissionPort(server);
        List<String> accepted = Collections.synchronizedList(new ArrayList<>());
        Map<String, Integer> replies = new ConcurrentHashMap<>();
        AtomicBoolean afterRestart = new AtomicBoolean();
        AtomicBoolean acceptedAfterRestart = new AtomicBoolean();
        AtomicBoolean done = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(9);
        try {
            List<Callable<Void>> tasks = new ArrayList<>();
            for (int s = 0; s < 8; s++) {
                int session = s;
                tasks.add(() -> {
                    int attempt = 0;
                    try (SmtpClient smtp = SmtpClient.connect(port)) {
                        smtp.ehlo("load.example");
                        smtp.startTls("load.example");
                        assertThat(smtp.authPlain("load@" + DOMAIN, "pw").code()).isEqualTo(235);
                        while (!done.get()) {
                            String id = "s" + session + "-a" + attempt++;
                            boolean restarted = afterRestart.get();
                            Reply mail = smtp.mailFrom("load@" + DOMAIN);
                            replies.merge("MAIL " + mail.code() + " " + mail.enhancedStatus(), 1, Integer::sum);
                            if (mail.code() != 250) {
                                assertThat(mail.code() + " " + mail.enhancedStatus()).isEqualTo("451 4.3.0");
                                Thread.sleep(50);
                                continue;
                            }
                            assertThat(smtp.rcptTo("inbox@" + DOMAIN).code()).isEqualTo(250);
                            Reply data = smtp.data("From: <load@" + DOMAIN + ">\r\nSubject: outage " + id + "\r\nX-Load-Id: " + id + "\r\n\r\n" + id);
                            replies.merge("DATA " + data.code(), 1, Integer::sum);
                            if (data.code() == 250) {
                                accepted.add(id);
                                if (restarted) {
                                    acceptedAfterRestart.set(true);
                                }
                            }
                        }
                    }
                    return null;
                });
            }
            // Event-driven, not a timeline: Redis goes down once mail flows, comes back once the outage has been
            // answered, and the load stops once mail is accepted again (each step with a generous deadline).
            tasks.add(() -> {
                try {
                    awaitUnderLoad("mail accepted before the outage", () -> accepted.size() >= 16);
                    REDIS.stop();
                    awaitUnderLoad("MAIL answered 451 4.3.0 during the outage",
                        () -> replies.getOrDefault("MAIL 451 4.3.0", 0) >= 16);
                    REDIS.start();
                    afterRestart.set(true);
                    awaitUnderLoad("mail accepted after the restart", acceptedAfterRestart::get);
                } finally {
                    done.set(true);
                }
                return null;
            });
            for (Future<Void> result : pool.invokeAll(tasks, 5, TimeUnit.MINUTES)) {
                result.get();
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.println("RedisOutageUnderLoadIT replies: " + replies + ", accepted " + accepted.size());
        assertThat(replies.getOrDefault("MAIL 451 4.3.0", 0)).as("fail-closed while Redis is down").isPositive();
        assertThat(acceptedAfterRestart.get()).as("accepted again after the restart, James not restarted").isTrue();

        Instant deadline = Instant.now().plus(Duration.ofSeconds(90));
        List<String> delivered = ids(server);
        while (delivered.size() < accepted.size() && Instant.now().isBefore(deadline)) {
            Thread.sleep(250);
            delivered = ids(server);
        }
        assertThat(delivered).containsExactlyInAnyOrderElementsOf(accepted);
    }

    private static void awaitUnderLoad(String what, Callable<Boolean> condition) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (!condition.call()) {
            assertThat(Instant.now()).as("in time: %s", what).isBefore(deadline);
            Thread.sleep(50);
        }
    }

    private static List<String> ids(GuiceJamesServer server) throws Exception {
        List<String> ids = new ArrayList<>();
        for (String message : server.getProbe(MailboxContentProbe.class).inbox("inbox@" + DOMAIN)) {
            Matcher id = ID.matcher(message);
            while (id.find()) {
                ids.add(id.group(1));
            }
        }
        return ids;
    }
}
