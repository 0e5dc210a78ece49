package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;
import dev.relayguard.store.RedisLimiterStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;

/**
 * Redis faults against real James 3.8.1 sharing limits through a real redis-server (issue 11):
 * <ul>
 *   <li>Redis paused with SIGSTOP while MAILs are asked: each is answered {@code 451 4.3.0} at the timeout
 *       (fail-closed); when Redis resumes (SIGCONT) it runs the scripts already in its socket, and they charge
 *       nothing: the user still shows only what was really sent, and the rest of the limit passes.</li>
 *   <li>FLUSHALL: every counter is lost; RelayGuard says so with one WARN, the {@code relayguard.rate.store-reset}
 *       metric, and the store health of the management bean.</li>
 * </ul>
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisFaultsIT {
    private static final String DOMAIN = RelayGuardServers.DOMAIN;
    private static final String PASSWORD = "secret-pw";
    private static final String BEAN = "org.apache.james:type=extension,name=RelayGuard";
    private static final EmbeddedRedis REDIS = EmbeddedRedis.started();
    /** At DEBUG: the FLUSHALL test waits for the line saying the node learned the marker; a failure shows the rest. */
    private static final LogCapture STORE_LOG = LogCapture.ofDebug(RedisLimiterStore.class.getName());
    private static final MBeanServer JMX = ManagementFactory.getPlatformMBeanServer();

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> (CONF = conf).policyXml(
        "<probeBans><refusals>0</refusals></probeBans>"
            + "<rateLimits><store>redis</store><redisURL>" + REDIS.url() + "</redisURL><timeout>500ms</timeout>"
            + "<onStoreFailure>fail-closed</onStoreFailure>"
            + "<users><limit measure=\"messages\" max=\"20\" per=\"1h\"/></users>"
            + "</rateLimits>"));

    private static SampleConf CONF;
    private static RedisClient client;
    private static StatefulRedisConnection<String, String> connection;

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        for (String user : new String[] {"paused", "open", "flushed", "friend"}) {
            data.addUser(user + "@" + DOMAIN, PASSWORD);
        }
        client = RedisClient.create(RedisURI.create(REDIS.url()));
        connection = client.connect();
    }

    @AfterAll
    static void stopRedis() {
        if (connection != null) {
            connection.close();
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }
        REDIS.stop();
    }

    @Test
    @Order(1)
    void mailsThatTimedOutWhileRedisWasPausedChargeNothingWhenItResumes(GuiceJamesServer server) throws Exception {
        String user = "paused@" + DOMAIN;
        assertThat(send(server, user, 1)).containsExactly(250);
        assertThat(usage(user)).isEqualTo("used 1 / 20");
        long pid = redisPid();

        List<String> whilePaused = new ArrayList<>();
        signal("STOP", pid);
        try (SmtpClient smtp = session(server, user)) {
            for (int i = 0; i < 10; i++) {
                Reply mail = smtp.mailFrom(user);
                whilePaused.add(mail.code() + " " + mail.enhancedStatus());
                if (mail.code() == 250) {
                    smtp.command("RSET");
                }
            }
        } finally {
            signal("CONT", pid);
        }
        assertThat(whilePaused).containsOnly("451 4.3.0").hasSize(10);

        // Redis runs the ten queued scripts first, then answers: poll until the store answers, then exact counts.
        String used = pollUsage(user);
        assertThat(used).as("no phantom charge after the pause").isEqualTo("used 1 / 20");
        List<Integer> after = send(server, user, 25);
        assertThat(after.stream().filter(code -> code == 250).count()).as("the rest of the limit passes: %s", after)
            .isEqualTo(19);
        assertThat(usage(user)).isEqualTo("used 20 / 20");
    }

    @Test
    @Order(2)
    void failOpenLetsThePausedMessagesThroughAndChargesNothingLater(GuiceJamesServer server) throws Exception {
        CONF.replace("relayguard.xml", "<onStoreFailure>fail-closed</onStoreFailure>", "<onStoreFailure>fail-open</onStoreFailure>");
        JMX.invoke(new ObjectName(BEAN), "reload", new Object[0], new String[0]); // (the file watcher may be first)
        String user = "open@" + DOMAIN;
        assertThat(send(server, user, 1)).containsExactly(250);
        long pid = redisPid();

        List<Integer> whilePaused;
        signal("STOP", pid);
        try {
            whilePaused = send(server, user, 5);
        } finally {
            signal("CONT", pid);
        }
        assertThat(whilePaused).as("fail-open: accepted, not counted").containsOnly(250).hasSize(5);

        assertThat(pollUsage(user)).as("no phantom charge after the pause").isEqualTo("used 1 / 20");
        List<Integer> after = send(server, user, 25);
        assertThat(after.stream().filter(code -> code == 250).count()).as("the rest of the limit passes: %s", after)
            .isEqualTo(19);
    }

    @Test
    @Order(3)
    void flushallIsNoticedWithAWarnAMetricAndTheStoreHealth(GuiceJamesServer server) throws Exception {
        String user = "flushed@" + DOMAIN;
        assertThat(send(server, user, 3)).containsOnly(250);
        assertThat(usage(user)).isEqualTo("used 3 / 20");
        // The node must know the marker before the flush: its first successful check (every second) only learns it.
        // The key existing is not enough: the checks that timed out while Redis was paused above still ran when it
        // resumed and created the key, but the node never saw their answers.
        pollUntil(() -> STORE_LOG.linesAt("DEBUG").stream().anyMatch(line -> line.startsWith("Watching Redis " + address())),
            "the node learned the marker");
        long metricBefore = Metrics.inProcess().meterCount("relayguard.rate.store-reset");
        long warnsBefore = resetWarnings();
        assertThat((Boolean) JMX.getAttribute(new ObjectName(BEAN), "StoreHealthy")).isTrue();

        connection.sync().flushall();

        pollUntil(() -> resetWarnings() == warnsBefore + 1, "one WARN");
        pollUntil(() -> meterCount() == metricBefore + 1, "the relayguard.rate.store-reset metric");
        assertThat(usage(user)).as("what FLUSHALL did").isEqualTo("used 0 / 20");
        assertThat((Boolean) JMX.getAttribute(new ObjectName(BEAN), "StoreHealthy")).as("health flag").isFalse();
        assertThat((String) JMX.getAttribute(new ObjectName(BEAN), "StoreLastError")).contains("every rate-limit counter was lost");
        assertThat(String.join("\n", STORE_LOG.linesAt("WARN"))).contains("persistence");

        // Once per incident: further checks (every second) see the new marker and say nothing more.
        assertThat(send(server, user, 1)).containsExactly(250);
        pollUntil(() -> connection.sync().exists(RedisLimiterStore.MARKER_KEY) == 1, "the marker key is back");
        assertThat(resetWarnings()).isEqualTo(warnsBefore + 1);
        assertThat(meterCount()).isEqualTo(metricBefore + 1);
    }

    // ----- helpers -----

    private static long meterCount() {
        try {
            return Metrics.inProcess().meterCount("relayguard.rate.store-reset");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The reset WARNs about this class's Redis: the capture sees every RelayGuard store of the JVM (the suite's other
     * James servers run in it too), so another Redis's incident must not count.
     */
    private static long resetWarnings() {
        return STORE_LOG.linesAt("WARN").stream()
            .filter(line -> line.contains("Redis " + address() + " lost every rate-limit counter")).count();
    }

    /** This class's Redis as the store names it, e.g. {@code 127.0.0.1:6379}. */
    private static String address() {
        return REDIS.url().replaceFirst("^redis://", "");
    }

    private static String markerThreads() {
        StringBuilder threads = new StringBuilder();
        Thread.getAllStackTraces().forEach((thread, stack) -> {
            if (thread.getName().startsWith("relayguard-redis")) {
                threads.append(thread.getName()).append(' ').append(thread.getState()).append('\n');
                for (StackTraceElement frame : stack) {
                    threads.append("    at ").append(frame).append('\n');
                }
            }
        });
        return threads.toString();
    }

    private static SmtpClient session(GuiceJamesServer server, String user) throws Exception {
        SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server));
        smtp.ehlo("client.example");
        smtp.startTls("client.example");
        assertThat(smtp.authPlain(user, PASSWORD).code()).isEqualTo(235);
        return smtp;
    }

    /** MAIL, RCPT, DATA per message; the MAIL reply code when refused, else the DATA reply code. */
    private static List<Integer> send(GuiceJamesServer server, String user, int count) throws Exception {
        List<Integer> codes = new ArrayList<>();
        try (SmtpClient smtp = session(server, user)) {
            for (int i = 0; i < count; i++) {
                Reply mail = smtp.mailFrom(user);
                if (mail.code() != 250) {
                    codes.add(mail.code());
                    continue;
                }
                assertThat(smtp.rcptTo("friend@" + DOMAIN).code()).isEqualTo(250);
                codes.add(smtp.data("From: <" + user + ">\r\nSubject: redis faults\r\n\r\nmessage " + i).code());
            }
        }
        return codes;
    }

    /** "used n / max" from the management bean's usage of the one limit. */
    private static String usage(String user) throws Exception {
        String[] lines = (String[]) JMX.invoke(new ObjectName(BEAN), "usage", new Object[] {user},
            new String[] {String.class.getName()});
        assertThat(lines).as(Arrays.toString(lines)).hasSize(1);
        java.util.regex.Matcher used = java.util.regex.Pattern.compile("used \\d+ / \\d+").matcher(lines[0]);
        assertThat(used.find()).as(lines[0]).isTrue();
        return used.group();
    }

    /** The usage once Redis answers again (the first calls after SIGCONT may still time out). */
    private static String pollUsage(String user) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                return usage(user);
            } catch (Exception | AssertionError e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    private static long redisPid() {
        for (String line : connection.sync().info("server").split("\\r?\\n")) {
            if (line.startsWith("process_id:")) {
                return Long.parseLong(line.substring("process_id:".length()).trim());
            }
        }
        throw new IllegalStateException("no process_id in INFO server");
    }

    private static void signal(String signal, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).as("kill -%s %d", signal, pid).isZero();
    }

    /** Polls every 50 ms for 20 s; when it fails, says what the store logged and where its marker thread is. */
    private static void pollUntil(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) { // the transcript only now: it is long, and built from a copy
                org.junit.jupiter.api.Assertions.fail(String.format("not in time: %s; the store's log:%n%s%nmarker threads:%n%s",
                    what, STORE_LOG.transcript(), markerThreads()));
            }
            Thread.sleep(50);
        }
    }
}
