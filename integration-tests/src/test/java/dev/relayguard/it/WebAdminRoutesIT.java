package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardServers.DEMO_PASSWORD;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.io.ByteArrayInputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.apache.james.utils.WebAdminGuiceProbe;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * RelayGuard's WebAdmin routes on the sample (its {@code webadmin.properties} enables them beside MetricsRoutes),
 * over real HTTP: each route's happy path and its bad input (James-style 400 body, never a 500), and the effect of
 * a suspension made through WebAdmin on the user's next authenticated MAIL over SMTP.
 */
class WebAdminRoutesIT {
    private static final LogCapture AUDIT = LogCapture.of("relayguard.audit");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> {
        confDir = conf.dir();
        conf.replace("relayguard.xml", "<refusals>10</refusals>", "<refusals>3</refusals>");
        conf.replace("relayguard.xml", "<failures>10</failures>", "<failures>3</failures>");
    });

    private static java.nio.file.Path confDir;
    private static String base;

    @BeforeAll
    static void setUp(GuiceJamesServer server) throws Exception {
        server.getProbe(DataProbeImpl.class).fluent().addUser(DEMO_USER, DEMO_PASSWORD);
        base = "http://127.0.0.1:" + server.getProbe(WebAdminGuiceProbe.class).getWebAdminPort().getValue() + "/relayguard";
    }

    private static HttpResponse<String> send(String method, String path, String body) throws Exception {
        return send(method, path, body, "application/json");
    }

    private static HttpResponse<String> send(String method, String path, String body, String contentType) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path));
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", contentType);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode ok(String method, String path, String body) throws Exception {
        HttpResponse<String> response = send(method, path, body);
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    private static void status(int expected, String method, String path, String body) throws Exception {
        HttpResponse<String> response = send(method, path, body);
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isEqualTo(expected);
    }

    /** A James-style 400: {@code {"statusCode":400,"type":"InvalidArgument","message":…}} whose message has {@code says}. */
    private static void badRequest(String method, String path, String body, String says) throws Exception {
        HttpResponse<String> response = send(method, path, body);
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isEqualTo(400);
        JsonNode error = JSON.readTree(response.body());
        assertThat(error.get("statusCode").asInt()).isEqualTo(400);
        assertThat(error.get("type").asText()).isEqualTo("InvalidArgument");
        assertThat(error.get("message").asText()).contains(says);
    }

    private static List<String> auditSince(int mark) {
        List<String> lines = AUDIT.lines();
        return new ArrayList<>(lines.subList(mark, lines.size()));
    }

    @Test
    void healthNamesTheStore() throws Exception {
        JsonNode health = ok("GET", "/health", null);
        assertThat(health.get("storeKind").asText()).isNotBlank();
        assertThat(health.get("healthy").asBoolean()).isTrue();
        assertThat(health.has("degradedDecisions")).isTrue();
        assertThat(health.get("droppedBans").asLong()).as("as the MBean's DroppedBans").isZero();
        assertThat(health.get("trackedKeys").isIntegralNumber()).as("as the MBean's TrackedKeys").isTrue();
        badRequest("GET", "/health?verbose=true", null, "unknown query parameter: verbose");
    }

    @Test
    void aSuspensionMadeOverWebAdminRefusesTheNextMailAndIsListedAuditedAndResumed(GuiceJamesServer server) throws Exception {
        int mark = AUDIT.lines().size();
        Instant before = Instant.now().truncatedTo(ChronoUnit.MILLIS); // RelayGuard keeps milliseconds
        status(204, "PUT", "/suspensions/" + DEMO_USER.toUpperCase(), "{\"reason\": \"spam wave\"}");
        Instant after = Instant.now();

        JsonNode list = ok("GET", "/suspensions", null);
        assertThat(list).singleElement().satisfies(entry -> {
            assertThat(entry.get("user").asText()).isEqualTo(DEMO_USER);
            assertThat(entry.get("reason").asText()).isEqualTo("spam wave");
            assertThat(entry.get("manual").asBoolean()).isTrue();
            assertThat(entry.get("until").isNull()).isTrue();
            assertThat(Instant.parse(entry.get("since").asText())).isBetween(before, after);
        });
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server))) {
            smtp.ehlo("webadmin.example");
            smtp.startTls("webadmin.example");
            assertThat(smtp.authPlain(DEMO_USER, DEMO_PASSWORD).code()).isEqualTo(235);
            Reply mail = smtp.mailFrom(DEMO_USER);
            assertThat(mail.code()).isEqualTo(450);
            assertThat(mail.text()).isEqualTo("4.7.1 Account suspended from sending by the postmaster");
        }

        String since = list.get(0).get("since").asText();
        status(204, "PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"spam wave, 2 hours\", \"duration\": \"PT2H\"}");
        assertThat(ok("GET", "/suspensions", null)).singleElement().satisfies(entry -> {
            assertThat(entry.get("since").asText()).as("suspended all along: the same start").isEqualTo(since);
            assertThat(entry.get("until").isNull()).isFalse();
            assertThat(entry.get("reason").asText()).isEqualTo("spam wave, 2 hours");
        });
        status(204, "DELETE", "/suspensions/" + DEMO_USER, null);
        status(404, "DELETE", "/suspensions/" + DEMO_USER, null);
        assertThat(ok("GET", "/suspensions", null)).isEmpty();
        assertThat(auditSince(mark)).contains(
            "outcome=suspended reason=operator subject=user:" + DEMO_USER + " note=\"spam wave\" door=webadmin by=127.0.0.1",
            "outcome=resumed subject=user:" + DEMO_USER + " wasSuspended=true door=webadmin by=127.0.0.1");
    }

    @Test
    void timedSuspensionsTakeADurationOrAnInstant() throws Exception {
        status(204, "PUT", "/suspensions/timed@relayguard.test", "{\"reason\": \"r\", \"duration\": \"2h\"}");
        status(204, "PUT", "/suspensions/until@relayguard.test", "{\"reason\": \"r\", \"until\": \""
            + java.time.Instant.now().plus(java.time.Duration.ofDays(1)) + "\"}");
        badRequest("PUT", "/suspensions/until@relayguard.test", "{\"reason\": \"r\", \"until\": \"2099-01-01T00:00:00Z\"}",
            "at most 366 days");
        JsonNode list = ok("GET", "/suspensions", null);
        assertThat(list).anySatisfy(entry -> {
            assertThat(entry.get("user").asText()).isEqualTo("timed@relayguard.test");
            assertThat(entry.get("until").asText()).endsWith("Z");
        });
        status(204, "DELETE", "/suspensions/timed@relayguard.test", null);
        status(204, "DELETE", "/suspensions/until@relayguard.test", null);
    }

    @Test
    void aBodySentAsAFormIsRefusedWithTheContentTypeToUse() throws Exception {
        HttpResponse<String> response = send("PUT", "/suspensions/form@relayguard.test",
            "{\"reason\": \"curl -d\", \"duration\": \"2h\"}", "application/x-www-form-urlencoded");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("message").asText()).contains("Content-Type: application/json");
        assertThat(ok("GET", "/suspensions", null)).isEmpty();
    }

    @Test
    void suspendRefusesBadInput() throws Exception {
        badRequest("PUT", "/suspensions/" + DEMO_USER, "not json", "not JSON");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "", "must be a JSON object");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "[1]", "must be a JSON object");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{}", "reason is required");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"a\\nb\"}", "control characters");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"r\", \"duration\": \"forever\"}", "duration is not a duration");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"r\", \"until\": \"tomorrow\"}", "ISO-8601");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"r\", \"until\": \"2000-01-01T00:00:00Z\"}", "future");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"r\", \"colour\": \"red\"}", "unknown field");
        badRequest("PUT", "/suspensions/a%20b@relayguard.test", "{\"reason\": \"r\"}", "user must not contain spaces");
        badRequest("PUT", "/suspensions/" + DEMO_USER + "?force=1", "{\"reason\": \"r\"}", "unknown query parameter");
        badRequest("DELETE", "/suspensions/" + "u".repeat(300), null, "user is too long");
        assertThat(ok("GET", "/suspensions", null)).isEmpty();
    }

    @Test
    void tenKilobyteSegmentsAreRefusedNeverAServerError() throws Exception {
        // Jetty refuses a request line over its 8 kB header buffer before any route runs (James's own routes too):
        // 414 URI Too Long. Shorter over-long segments get RelayGuard's 400 (WebAdminLongSegmentsIT).
        HttpResponse<String> response = send("DELETE", "/suspensions/" + "x".repeat(10 * 1024), null);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(414);
    }

    @Test
    void bansAreListedAndLifted(GuiceJamesServer server) throws Exception {
        int mx = RelayGuardServers.mxPort(server);
        Instant before = Instant.now().truncatedTo(ChronoUnit.MILLIS); // RelayGuard keeps milliseconds
        for (int i = 1; i <= 3; i++) {
            Attempt.run(mx, false, null, null, "<p@prober.example>", "<v" + i + "@remote.example>");
        }
        Instant after = Instant.now();
        assertThat(ok("GET", "/bans", null)).singleElement().satisfies(ban -> {
            assertThat(ban.get("ip").asText()).isEqualTo("127.0.0.1");
            assertThat(ban.get("kind").asText()).isEqualTo("probe");
            Instant since = Instant.parse(ban.get("since").asText());
            assertThat(since).as("the third refusal started it").isBetween(before, after);
            assertThat(Instant.parse(ban.get("until").asText())).as("banFor 1h in the sample")
                .isEqualTo(since.plusSeconds(3600));
        });
        Attempt banned = Attempt.run(mx, false, null, null, "<p@prober.example>", "<v4@remote.example>");
        assertThat(banned.summary()).isNotEqualTo("RCPT 550 5.7.1");
        status(204, "DELETE", "/bans/127.0.0.1", null);
        status(404, "DELETE", "/bans/127.0.0.1", null);
        assertThat(ok("GET", "/bans", null)).isEmpty();
        // lifted: the client connects and is answered at RCPT again, not turned away as banned
        assertThat(Attempt.run(mx, false, null, null, "<p@prober.example>", "<v5@remote.example>").summary())
            .isEqualTo("RCPT 550 5.7.1");
        badRequest("DELETE", "/bans/not-an-ip", null, "not an IP address");
        badRequest("GET", "/bans?all=1", null, "unknown query parameter");
    }

    @Test
    void authBansAreListedAndLiftedThroughTheSameRoute(GuiceJamesServer server) throws Exception {
        String guesser = "127.0.0.2";
        try (SmtpClient smtp = SmtpClient.connectFrom(guesser, RelayGuardServers.submissionPort(server))) {
            smtp.ehlo("guesser.example");
            smtp.startTls("guesser.example");
            for (int i = 0; i < 3; i++) {
                smtp.authPlain(DEMO_USER, "wrong-" + i);
            }
        } catch (java.io.IOException closed) {
            // the server may hang up after the last failure
        }
        assertThat(ok("GET", "/bans", null)).anySatisfy(ban -> {
            assertThat(ban.get("ip").asText()).isEqualTo(guesser);
            assertThat(ban.get("kind").asText()).isEqualTo("auth");
            assertThat(ban.get("since").isNull()).as("AUTH bans do not record their start").isTrue();
        });
        status(204, "DELETE", "/bans/" + guesser, null);
        status(404, "DELETE", "/bans/" + guesser, null);
        assertThat(ok("GET", "/bans", null)).noneSatisfy(ban -> assertThat(ban.get("ip").asText()).isEqualTo(guesser));
    }

    @Test
    void usageIsReadAndReset() throws Exception {
        JsonNode usage = ok("GET", "/users/" + DEMO_USER + "/usage", null);
        assertThat(usage.get("user").asText()).isEqualTo(DEMO_USER);
        assertThat(usage.get("limits")).anySatisfy(limit -> {
            assertThat(limit.get("limit").asText()).isEqualTo("20 messages per 1m");
            assertThat(limit.get("measure").asText()).isEqualTo("messages");
            assertThat(limit.get("max").asLong()).isEqualTo(20);
            assertThat(limit.get("windowSeconds").asLong()).isEqualTo(60);
            assertThat(limit.get("used").asLong()).isZero();
            assertThat(limit.get("retryAfterSeconds").asLong()).isZero();
        });
        status(204, "DELETE", "/users/" + DEMO_USER + "/usage", null);
        badRequest("GET", "/users/a%09b/usage", null, "user must not contain");
    }

    @Test
    void policyIsShownAndReloaded() throws Exception {
        JsonNode policy = ok("GET", "/policy", null);
        assertThat(policy.size()).isGreaterThan(3);
        JsonNode reload = ok("POST", "/policy?action=reload", null);
        assertThat(reload.get("changes").isArray()).isTrue();
        badRequest("POST", "/policy", null, "action must be 'reload'");
        badRequest("POST", "/policy?action=restart", null, "action must be 'reload'");
        badRequest("POST", "/policy?action=reload&force=1", null, "unknown query parameter: force");
    }

    @Test
    void aBrokenFileIsRefusedWithA400AndTheOldPolicyStays() throws Exception {
        java.nio.file.Path file = confDir.resolve("relayguard.xml");
        String good = java.nio.file.Files.readString(file);
        JsonNode before = ok("GET", "/policy", null);
        try {
            java.nio.file.Files.writeString(file, good.replace("<refusals>3</refusals>", "<refusals>lots</refusals>"));
            badRequest("POST", "/policy?action=reload", null, "lots");
            assertThat(ok("GET", "/policy", null)).isEqualTo(before);
        } finally {
            java.nio.file.Files.writeString(file, good);
        }
        assertThat(ok("POST", "/policy?action=reload", null).get("changes")).isEmpty();
    }

    /** One relay refusal from 127.0.0.3 (below the probe-ban threshold of 3), listed over the last minutes. */
    @Test
    void topSinceListsTheRefusalsOfTheLastMinutes(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = SmtpClient.connectFrom("127.0.0.3", RelayGuardServers.mxPort(server))) {
            smtp.ehlo("top.example");
            smtp.mailFrom("p@top.example");
            assertThat(smtp.rcptTo("v@remote.example").code()).isEqualTo(550);
        }

        for (String since : new String[] {"5m", "PT30M", "900", "1h"}) {
            assertThat(ok("GET", "/top?kind=ips&limit=1000&since=" + since, null)).as(since).anySatisfy(entry -> {
                assertThat(entry.get("kind").asText()).isEqualTo("ip");
                assertThat(entry.get("key").asText()).isEqualTo("127.0.0.3");
                assertThat(entry.get("refusals").asInt()).isEqualTo(1);
            });
        }
        assertThat(ok("GET", "/top?kind=users&since=15m", null)).noneSatisfy(entry ->
            assertThat(entry.get("key").asText()).isEqualTo("127.0.0.3"));
    }

    @Test
    void topListsTheMostRefused() throws Exception {
        assertThat(ok("GET", "/top?kind=ips&limit=5", null).isArray()).isTrue();
        assertThat(ok("GET", "/top?kind=users", null).isArray()).isTrue();
        badRequest("GET", "/top?kind=domains", null, "kind must be users or ips");
        badRequest("GET", "/top?limit=0", null, "limit must be between 1 and 1000");
        badRequest("GET", "/top?limit=ten", null, "limit must be a whole number");
        badRequest("GET", "/top?since=2h", null, "since must be at most 1h: only the last hour of refusals is kept, was 2h");
        badRequest("GET", "/top?since=61m", null, "only the last hour of refusals is kept");
        badRequest("GET", "/top?since=0m", null, "since must be at least 1s");
        badRequest("GET", "/top?since=500ms", null, "since must be at least 1s");
        badRequest("GET", "/top?since=soon", null, "since is not a duration (examples: 15m, 1h, PT30M): soon");
        badRequest("GET", "/top?since=", null, "since must not be blank");
        badRequest("GET", "/top?until=1h", null, "unknown query parameter: until (known: kind, limit, since)");
        badRequest("GET", "/top?limit=1&limit=2", null, "given twice");
    }

    /** The MBean's authThrottles/liftAuthThrottle over WebAdmin: five failed logins from five clients throttle an account. */
    @Test
    void accountThrottlesAreListedAndLifted(GuiceJamesServer server) throws Exception {
        String login = "throttled@relayguard.test";
        for (int i = 11; i <= 15; i++) {
            try (SmtpClient smtp = SmtpClient.connectFrom("127.0.0." + i, RelayGuardServers.submissionPort(server))) {
                smtp.ehlo("guesser.example");
                smtp.startTls("guesser.example");
                assertThat(smtp.authPlain(login, "wrong").code()).isEqualTo(535);
            }
        }
        int mark = AUDIT.lines().size();
        assertThat(ok("GET", "/throttles", null)).singleElement().satisfies(throttle -> {
            assertThat(throttle.get("login").asText()).isEqualTo(login);
            assertThat(throttle.get("since").isNull()).as("throttles do not record their start").isTrue();
            assertThat(Instant.parse(throttle.get("until").asText())).isAfter(Instant.now());
            assertThat(throttle.get("reason").asText()).isEqualTo("failed logins");
        });
        status(204, "DELETE", "/throttles/" + login.toUpperCase(), null);
        status(404, "DELETE", "/throttles/" + login, null);
        assertThat(ok("GET", "/throttles", null)).isEmpty();
        String lifted = "outcome=lifted reason=operator block=auth.account-throttled login=" + login;
        assertThat(auditSince(mark)).satisfiesExactly(
            line -> assertThat(line).startsWith(lifted + " wasThrottled=true").endsWith("door=webadmin by=127.0.0.1"),
            line -> assertThat(line).startsWith(lifted + " wasThrottled=false").endsWith("door=webadmin by=127.0.0.1"));
        status(404, "DELETE", "/throttles/a%20b@c", null); // a throttle is keyed by the login as typed: any text, so 404 not 400
        badRequest("DELETE", "/throttles/a%E2%80%8Bb", null, "user must not contain format characters");
        badRequest("GET", "/throttles?all=1", null, "unknown query parameter");
    }

    @Test
    void countersAreListedAsTheMBeanDoes() throws Exception {
        JsonNode counts = ok("GET", "/counts", null);
        assertThat(counts.isObject()).isTrue();
        counts.fields().forEachRemaining(entry -> {
            assertThat(entry.getKey()).startsWith("relayguard.");
            assertThat(entry.getValue().isIntegralNumber()).isTrue();
        });
        badRequest("GET", "/counts?name=x", null, "unknown query parameter");
    }

    private static void tooLarge(HttpResponse<String> response) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(413);
        JsonNode error = JSON.readTree(response.body());
        assertThat(error.get("statusCode").asInt()).isEqualTo(413);
        assertThat(error.get("type").asText()).isEqualTo("InvalidArgument");
        assertThat(error.get("message").asText()).isEqualTo("the body is too long: at most 4096 bytes");
    }

    @Test
    void aBodyOverFourKilobytesIsA413AndAChunkedBodyIsRefusedAsUnreadable() throws Exception {
        String huge = "{\"reason\": \"" + "x".repeat(1024 * 1024) + "\"}";
        tooLarge(send("PUT", "/suspensions/" + DEMO_USER, huge));
        byte[] bytes = huge.getBytes(StandardCharsets.UTF_8);
        HttpRequest chunked = HttpRequest.newBuilder(URI.create(base + "/suspensions/" + DEMO_USER))
            .version(HttpClient.Version.HTTP_1_1)
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(bytes)))
            .build();
        HttpResponse<String> response = HTTP.send(chunked, HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("message").asText())
            .as("James's request logging consumed it").startsWith("a chunked body cannot be read");
        String justOver = "{\"reason\": \"" + "x".repeat(4096 - 13) + "\"}";
        assertThat(justOver.getBytes(StandardCharsets.UTF_8)).hasSize(4097);
        tooLarge(send("PUT", "/suspensions/" + DEMO_USER, justOver));
        assertThat(ok("GET", "/suspensions", null)).isEmpty();
    }

    @Test
    void jsonBodiesAreStrict() throws Exception {
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"a\"} garbage", "not JSON");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"a\"}{\"reason\": \"b\"}", "not JSON");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"a\", \"reason\": \"b\"}", "not JSON");
        assertThat(ok("GET", "/suspensions", null)).isEmpty();
    }

    @Test
    void userNamesJamesRefusesAndInvisibleCharactersAreRefusedNeverStripped() throws Exception {
        String body = "{\"reason\": \"r\"}";
        for (String user : new String[] {"a@b@c", "%40", "x@", "a..b@relayguard.test", ".a@relayguard.test"}) {
            badRequest("PUT", "/suspensions/" + user, body, "user is not a user name James accepts");
        }
        badRequest("PUT", "/suspensions/%E2%80%8Bdemo@relayguard.test", body, "direction marks (found U+200B at position 1)");
        badRequest("PUT", "/suspensions/demo%E2%80%AE@relayguard.test", body, "direction marks (found U+202E at position 5)");
        badRequest("PUT", "/suspensions/%E2%80%A8x", body, "control characters or line breaks (found U+2028 at position 1)");
        badRequest("PUT", "/suspensions/%09x", body, "control characters or line breaks (found U+0009 at position 1)");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"spam \\u202Ewave\"}",
            "reason must not contain format characters such as zero-width spaces or direction marks (found U+202E at position 6)");
        badRequest("PUT", "/suspensions/" + DEMO_USER, "{\"reason\": \"\\tspam\"}",
            "reason must not contain control characters or line breaks (found U+0009 at position 1)");
        assertThat(ok("GET", "/suspensions", null)).isEmpty();
    }

    @Test
    void durationsUnderASecondAreRefused() throws Exception {
        status(204, "PUT", "/suspensions/short@relayguard.test", "{\"reason\": \"until resumed\"}");
        badRequest("PUT", "/suspensions/short@relayguard.test", "{\"reason\": \"r\", \"duration\": \"1ms\"}",
            "duration must be at least 1s");
        badRequest("PUT", "/suspensions/short@relayguard.test", "{\"reason\": \"r\", \"duration\": \"PT0.5S\"}",
            "duration must be at least 1s");
        badRequest("PUT", "/suspensions/short@relayguard.test", "{\"reason\": \"r\", \"until\": \""
            + Instant.now().plusMillis(500) + "\"}", "until must be at least 1s in the future");
        assertThat(ok("GET", "/suspensions", null)).as("the suspension until resumed is still in force")
            .singleElement().satisfies(entry -> assertThat(entry.get("until").isNull()).isTrue());
        status(204, "DELETE", "/suspensions/short@relayguard.test", null);
    }

    /**
     * A query string that is not URL-encoded fails in James's own request logging (LoggingRequestFilter, a before
     * filter registered ahead of every route's) with James's 500, for James's routes alike: no RelayGuard code runs.
     */
    @Test
    void aMalformedQueryStringGetsJamesOwn500BeforeAnyRoute() throws Exception {
        String james500 = "{\"statusCode\":500,\"type\":\"ServerError\","
            + "\"message\":\"WebAdmin encountered an unexpected internal error\",\"details\":null}";
        URI webAdmin = URI.create(base);
        for (String target : new String[] {"/relayguard/top?kind=%ZZ", "/relayguard/top?a=%", "/users?x=%ZZ"}) {
            // java.net.URI refuses such a URL: the request line is written by hand
            try (Socket socket = new Socket(webAdmin.getHost(), webAdmin.getPort())) {
                socket.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
                String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(answer).as(target).startsWith("HTTP/1.1 500 ");
                String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
                assertThat(body).as(target).contains(james500);
            }
        }
    }
}
