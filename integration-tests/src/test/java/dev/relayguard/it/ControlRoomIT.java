package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * The operators' control room, exactly as an operator reaches it: James 3.8.1 started with
 * MemoryJamesServerMain.main in its own JVM with the packaged jar, RelayGuard's management bean used through
 * James's real JMX connector with the credentials James generated, and James's Prometheus route over HTTP; an AUTH
 * ban made by guessing passwords over SMTP, then listed and lifted over JMX.
 */
class ControlRoomIT {
    private static final String USER = "ops@relayguard.test";
    private static final String PASSWORD = "ops-password";
    private static final String BEAN = "org.apache.james:type=extension,name=RelayGuard";
    /** authLimits/clientBan/failures here (maxFailuresPerConnection stays 3): one connection's failures ban its IP. */
    private static final int AUTH_BAN_AFTER = 3;
    /** The source address of the password guesser (any 127.x works on Linux): its ban spares the other tests' 127.0.0.1. */
    private static final String GUESSER = "127.0.0.2";

    @TempDir
    static Path root;
    private static JamesProcess james;
    private static JMXConnector jmx;
    private static MBeanServerConnection connection;
    private static ObjectName bean;
    private static int submissionPort;

    @BeforeAll
    static void start() throws Exception {
        james = JamesProcess.install(root);
        james.conf().replace("relayguard.xml", "<limit measure=\"messages\" max=\"20\" per=\"1m\"/>",
            "<limit measure=\"messages\" max=\"2\" per=\"1h\"/>");
        james.conf().replace("relayguard.xml", "<refusals>10</refusals>", "<refusals>0</refusals>");
        james.conf().replace("relayguard.xml", "<failures>10</failures>", "<failures>" + AUTH_BAN_AFTER + "</failures>");
        james.conf().replace("jvm.properties", "relayguard.reload.checkEvery=10s", "relayguard.reload.checkEvery=0");
        james.start();
        jmx = james.connectJmx();
        connection = jmx.getMBeanServerConnection();
        submissionPort = james.boundPort(connection, "smtp-submission");
        connection.invoke(new ObjectName("org.apache.james:type=component,name=usersrepository"), "addUser",
            new Object[] {USER, PASSWORD}, new String[] {String.class.getName(), String.class.getName()});
        bean = new ObjectName(BEAN);
    }

    @AfterAll
    static void stop() throws Exception {
        if (jmx != null) {
            jmx.close();
        }
        if (james != null) {
            james.close();
        }
    }

    private static Object op(String name, Object... args) throws Exception {
        String[] signature = Arrays.stream(args).map(arg -> arg instanceof Integer ? "int" : String.class.getName()).toArray(String[]::new);
        return connection.invoke(bean, name, args, signature);
    }

    private static Reply sendOne() throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(submissionPort)) {
            smtp.ehlo("ops.example");
            smtp.startTls("ops.example");
            assertThat(smtp.authPlain(USER, PASSWORD).code()).isEqualTo(235);
            Reply mail = smtp.mailFrom(USER);
            if (mail.code() != 250) {
                return mail;
            }
            smtp.rcptTo(USER);
            return smtp.data("From: <" + USER + ">\r\nSubject: control room\r\n\r\nhello");
        }
    }

    /** AUTH PLAIN after STARTTLS on the submission listener, from {@code source}. */
    private static Reply loginFrom(String source, String password) throws Exception {
        try (SmtpClient smtp = SmtpClient.connectFrom(source, submissionPort)) {
            smtp.ehlo("guesser.example");
            smtp.startTls("guesser.example");
            return smtp.authPlain(USER, password);
        }
    }

    private static long gauge(String name) throws Exception {
        return ((Number) connection.getAttribute(new ObjectName("metrics:name=" + name + ",type=gauges"), "Value")).longValue();
    }

    @Test
    void anAuthBanIsListedAndLiftedOverJmx() throws Exception {
        Metrics metrics = Metrics.over(connection);
        long failedBefore = metrics.meterCount("relayguard.refused.auth.failed");
        long bannedBefore = metrics.meterCount("relayguard.deferred.auth.client-banned");

        // Three wrong passwords in one connection: 535, 535, then 421 and the ban of the guesser's IP.
        try (SmtpClient smtp = SmtpClient.connectFrom(GUESSER, submissionPort)) {
            smtp.ehlo("guesser.example");
            smtp.startTls("guesser.example");
            for (int i = 1; i < AUTH_BAN_AFTER; i++) {
                Reply failed = smtp.authPlain(USER, "guess-" + i);
                assertThat(failed.code()).as(failed.toString()).isEqualTo(535);
                assertThat(failed.enhancedStatus()).isEqualTo("5.7.8");
            }
            Reply last = smtp.authPlain(USER, "guess-" + AUTH_BAN_AFTER);
            assertThat(last.code()).as(last.toString()).isEqualTo(421);
            assertThat(last.enhancedStatus()).isEqualTo("4.7.0");
        }
        assertThat(metrics.meterCount("relayguard.refused.auth.failed") - failedBefore).isEqualTo(AUTH_BAN_AFTER);
        assertThat((String[]) op("authBans")).singleElement().satisfies(ban -> assertThat(ban).startsWith(GUESSER + " until "));
        assertThat((String[]) op("authThrottles")).as("5 failures throttle an account; 3 did not").isEmpty();
        assertThat(gauge("relayguard.auth.banned-clients")).isEqualTo(1);
        assertThat(gauge("relayguard.auth.tracked-clients")).isEqualTo(1);

        // Banned: even the right password is answered 454 at the AUTH command, before any password check.
        Reply banned = loginFrom(GUESSER, PASSWORD);
        assertThat(banned.code()).as(banned.toString()).isEqualTo(454);
        assertThat(banned.enhancedStatus()).isEqualTo("4.7.0");
        assertThat(banned.text()).contains("Too many failed logins from " + GUESSER);
        assertThat(metrics.meterCount("relayguard.deferred.auth.client-banned") - bannedBefore).isEqualTo(1);
        assertThat(metrics.meterCount("relayguard.refused.auth.failed") - failedBefore).isEqualTo(AUTH_BAN_AFTER);

        // Lifted over JMX (with an operator's stray spaces): the guesser's IP may log in again.
        assertThatThrownBy(() -> op("liftAuthBan", "not-an-ip")).hasStackTraceContaining("not an IP address: not-an-ip");
        assertThat((Boolean) op("liftAuthBan", " " + GUESSER + " ")).isTrue();
        assertThat((String[]) op("authBans")).isEmpty();
        assertThat(gauge("relayguard.auth.banned-clients")).isZero();
        assertThat(loginFrom(GUESSER, PASSWORD).code()).isEqualTo(235);
        assertThat((Boolean) op("liftAuthBan", GUESSER)).as("nothing left to lift").isFalse();
        assertThat((Boolean) op("liftAuthThrottle", USER.toUpperCase())).isFalse();
        assertThat((String[]) op("policySummary")).anySatisfy(line -> assertThat(line)
            .startsWith("authLimits = {maxFailuresPerConnection=3, clientBan={failures=" + AUTH_BAN_AFTER + ","));

        assertThat(james.log()).contains(
            "outcome=banned reason=auth.client-banned ip=" + GUESSER + " key=" + GUESSER,
            "outcome=lifted reason=operator block=auth.client-banned ip=" + GUESSER + " key=" + GUESSER + " wasBanned=true",
            "outcome=lifted reason=operator block=auth.account-throttled login=" + USER + " wasThrottled=false");
    }

    @Test
    void theWholeControlRoomOverJmxAndPrometheus() throws Exception {
        // Suspend: the next MAIL is refused; resume: accepted again.
        op("suspend", USER, "password leaked");
        Reply suspended = sendOne();
        assertThat(suspended.code()).isEqualTo(450);
        assertThat(suspended.text()).contains("Account suspended");
        assertThat((String[]) op("suspended")).singleElement().satisfies(line -> assertThat(line).contains("user:" + USER, "password leaked"));
        assertThat((Boolean) op("resume", USER)).isTrue();
        assertThat(sendOne().code()).isEqualTo(250);

        // Exhaust the limit (2 per hour), reset, send again.
        assertThat(sendOne().code()).isEqualTo(250);
        Reply limited = sendOne();
        assertThat(limited.code()).isEqualTo(450);
        assertThat(limited.text()).contains("Message rate limit exceeded (2 messages per 1h)");
        assertThat((String[]) op("usage", USER)).anySatisfy(line -> assertThat(line).startsWith("2 messages per 1h: used 2 / 2, retry in"));
        assertThat((String[]) op("topRefused", 5)).anySatisfy(line -> assertThat(line).startsWith("user:" + USER + " "));
        op("reset", USER);
        assertThat(sendOne().code()).isEqualTo(250);
        assertThat((String[]) op("usage", USER)).anySatisfy(line -> assertThat(line).startsWith("2 messages per 1h: used 1 / 2"));

        // A broken policy file is refused by reload, and the old policy still holds.
        Path policy = james.conf().dir().resolve("relayguard.xml");
        String good = Files.readString(policy);
        Files.writeString(policy, good.replace("<limit measure=\"messages\" max=\"2\" per=\"1h\"/>",
            "<limit measure=\"messages\" max=\"lots\" per=\"1h\"/>"));
        assertThatThrownBy(() -> op("reload")).hasStackTraceContaining("rateLimits.users.limit[@max]").hasStackTraceContaining("lots");
        assertThat(sendOne().code()).isEqualTo(250);   // the second of 2
        assertThat(sendOne().code()).isEqualTo(450);   // the old limit holds

        // Fixed with a higher limit: reloaded, the new limit applies, and the counters were kept.
        Files.writeString(policy, good.replace("<limit measure=\"messages\" max=\"2\" per=\"1h\"/>",
            "<limit measure=\"messages\" max=\"3\" per=\"1h\"/>"));
        assertThat((String[]) op("reload")).anySatisfy(line -> assertThat(line).startsWith("rateLimits:").contains("3 messages per 1h"));
        assertThat((String[]) op("usage", USER)).anySatisfy(line -> assertThat(line).startsWith("3 messages per 1h: used 2 / 3"));
        assertThat(sendOne().code()).isEqualTo(250);
        assertThat(sendOne().code()).isEqualTo(450);

        // Attributes.
        assertThat((String) connection.getAttribute(bean, "StoreKind")).isEqualTo("memory");
        assertThat((Boolean) connection.getAttribute(bean, "StoreHealthy")).isTrue();
        assertThat((String[]) connection.getAttribute(bean, "Counts"))
            .contains("relayguard.deferred.rate.messages=3", "relayguard.deferred.rate.suspended=1");
        assertThat((String[]) op("policySummary")).anySatisfy(line -> assertThat(line).startsWith("rateLimits = "));

        // James's Prometheus route publishes RelayGuard's metrics, and the shipped Grafana dashboard queries only those.
        String prometheus = HttpClient.newHttpClient().send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + james.webAdminPort() + "/metrics")).build(),
            HttpResponse.BodyHandlers.ofString()).body();
        assertThat(prometheus).contains("relayguard_deferred_rate_messages");
        Files.writeString(root.resolve("prometheus.txt"), prometheus);
        Set<String> published = new TreeSet<>();
        Matcher names = Pattern.compile("(?m)^(relayguard_[a-z0-9_]+)").matcher(prometheus);
        while (names.find()) {
            published.add(names.group(1));
        }
        JsonNode dashboard = new ObjectMapper().readTree(SampleConf.projectDir().resolve("conf-samples/grafana/relayguard-dashboard.json").toFile());
        List<String> queried = dashboard.findValuesAsText("expr");
        assertThat(queried).isNotEmpty();
        for (String expr : queried) {
            Matcher metric = Pattern.compile("relayguard_[a-z0-9_]+").matcher(expr);
            assertThat(metric.find()).as("a RelayGuard metric in " + expr).isTrue();
            do {
                assertThat(published).as("published by James's /metrics, queried by " + expr).contains(metric.group());
            } while (metric.find());
        }
    }
}
