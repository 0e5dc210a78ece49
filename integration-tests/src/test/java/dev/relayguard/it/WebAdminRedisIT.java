package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardServers.DEMO_PASSWORD;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;

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

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.relayguard.store.RedisServerProcess;

/**
 * RelayGuard's WebAdmin routes with the Redis store (issue 16) when Redis stops: every route that needs the store
 * (suspensions, usage, bans) answers {@code 503} with James's error body, never a 500 and never a false "done"
 * ({@code 204}) or "not there" ({@code 404}); {@code GET /relayguard/health} answers {@code 200}, unhealthy, with the
 * last error; the routes that do not need Redis (policy, top) still answer. Redis back (its append-only file keeps
 * what it held): the routes work again and show that nothing asked while it was down was done.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WebAdminRedisIT {
    private static final String KEPT = "kept@" + RelayGuardServers.DOMAIN;
    private static final String NEW = "new@" + RelayGuardServers.DOMAIN;
    private static final String STORE_ERROR = "ServerError";
    private static final RedisServerProcess REDIS = RedisServerProcess.start("--appendonly", "yes", "--appendfsync", "always");

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf
        .replace("relayguard.xml", "<store>memory</store>", "<store>redis</store><redisURL>" + REDIS.url() + "</redisURL>")
        .replace("relayguard.xml", "<refusals>10</refusals>", "<refusals>3</refusals>"));

    private static WebAdminClient webAdmin;

    @BeforeAll
    static void setUp(GuiceJamesServer server) throws Exception {
        server.getProbe(DataProbeImpl.class).fluent().addUser(DEMO_USER, DEMO_PASSWORD);
        webAdmin = WebAdminClient.of(server);
    }

    @AfterAll
    static void stopRedis() {
        REDIS.close();
    }

    @Test
    @Order(1)
    void withRedisUpASuspensionAndAProbeBanAreKeptInRedis(GuiceJamesServer server) throws Exception {
        webAdmin.expect(204, "PUT", "/relayguard/suspensions/" + KEPT, "{\"reason\": \"before the outage\"}");
        int mx = RelayGuardServers.mxPort(server);
        for (int i = 1; i <= 3; i++) {
            assertThat(Attempt.run(mx, false, null, null, "<p@prober.example>", "<v" + i + "@remote.example>").summary())
                .isEqualTo("RCPT 550 5.7.1");
        }
        assertThat(webAdmin.ok("GET", "/relayguard/suspensions")).singleElement()
            .satisfies(entry -> assertThat(entry.get("user").asText()).isEqualTo(KEPT));
        assertThat(webAdmin.ok("GET", "/relayguard/bans")).singleElement()
            .satisfies(ban -> assertThat(ban.get("ip").asText()).isEqualTo("127.0.0.1"));
        assertThat(REDIS.cli("KEYS", "relayguard:*")).contains("relayguard:");
        JsonNode health = webAdmin.ok("GET", "/relayguard/health");
        assertThat(health.get("storeKind").asText()).startsWith("redis");
        assertThat(health.get("healthy").asBoolean()).as("%s", health).isTrue();
    }

    @Test
    @Order(2)
    void withRedisStoppedTheStoreRoutesAnswer503AndHealthSaysUnhealthyWithTheLastError() throws Exception {
        REDIS.stop();

        JsonNode health = webAdmin.ok("GET", "/relayguard/health");
        assertThat(health.get("healthy").asBoolean()).as("the first health check after Redis stopped: %s", health).isFalse();

        webAdmin.error(503, STORE_ERROR, "GET", "/relayguard/suspensions", null);
        webAdmin.error(503, STORE_ERROR, "PUT", "/relayguard/suspensions/" + NEW, "{\"reason\": \"during the outage\"}");
        webAdmin.error(503, STORE_ERROR, "DELETE", "/relayguard/suspensions/" + KEPT, null);
        webAdmin.error(503, STORE_ERROR, "GET", "/relayguard/users/" + DEMO_USER + "/usage", null);
        webAdmin.error(503, STORE_ERROR, "DELETE", "/relayguard/users/" + DEMO_USER + "/usage", null);
        webAdmin.error(503, STORE_ERROR, "GET", "/relayguard/bans", null);
        JsonNode lift = webAdmin.error(503, STORE_ERROR, "DELETE", "/relayguard/bans/127.0.0.1", null);
        assertThat(lift.get("message").asText()).contains("127.0.0.1", "redis");

        // What does not need Redis still answers.
        assertThat(webAdmin.ok("GET", "/relayguard/policy").size()).isGreaterThan(3);
        assertThat(webAdmin.ok("GET", "/relayguard/top").isArray()).isTrue();

        health = webAdmin.ok("GET", "/relayguard/health");
        assertThat(health.get("healthy").asBoolean()).as("%s", health).isFalse();
        assertThat(health.get("lastError").asText()).as("%s", health).contains("redis");
    }

    @Test
    @Order(3)
    void redisBackTheRoutesWorkAgainAndNothingAskedDuringTheOutageWasDone() throws Exception {
        REDIS.restart();
        JsonNode suspensions = await("GET /relayguard/suspensions answers 200 again", () -> {
            HttpResponse<String> response = webAdmin.send("GET", "/relayguard/suspensions", null);
            return response.statusCode() == 200 ? new ObjectMapper().readTree(response.body()) : null;
        });
        assertThat(suspensions).as("the DELETE refused with 503 did not resume it; the PUT did not suspend").singleElement()
            .satisfies(entry -> assertThat(entry.get("user").asText()).isEqualTo(KEPT));
        assertThat(webAdmin.ok("GET", "/relayguard/bans")).as("the DELETE refused with 503 did not lift it").singleElement()
            .satisfies(ban -> assertThat(ban.get("ip").asText()).isEqualTo("127.0.0.1"));

        webAdmin.expect(204, "DELETE", "/relayguard/suspensions/" + KEPT, null);
        webAdmin.expect(204, "PUT", "/relayguard/suspensions/" + NEW, "{\"reason\": \"after the outage\"}");
        webAdmin.expect(204, "DELETE", "/relayguard/suspensions/" + NEW, null);
        assertThat(webAdmin.ok("GET", "/relayguard/suspensions")).isEmpty();
        webAdmin.expect(204, "DELETE", "/relayguard/bans/127.0.0.1", null);
        assertThat(webAdmin.ok("GET", "/relayguard/bans")).isEmpty();
        assertThat(webAdmin.ok("GET", "/relayguard/users/" + DEMO_USER + "/usage").get("limits")).isNotEmpty();
        webAdmin.expect(204, "DELETE", "/relayguard/users/" + DEMO_USER + "/usage", null);

        JsonNode health = await("health says healthy again", () -> {
            JsonNode now = webAdmin.ok("GET", "/relayguard/health");
            return now.get("healthy").asBoolean() ? now : null;
        });
        assertThat(health.get("lastError").isNull()).as("%s", health).isTrue();
    }

    private interface Probe<T> {
        /** The value once the condition holds, else null. */
        T value() throws Exception;
    }

    private static <T> T await(String what, Probe<T> probe) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        T value = probe.value();
        while (value == null) {
            assertThat(Instant.now()).as("waiting for %s", what).isBefore(deadline);
            Thread.sleep(200);
            value = probe.value();
        }
        return value;
    }
}
