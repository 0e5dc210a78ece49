package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;
import dev.relayguard.store.RedisLimiterStore;

/**
 * Rate limits shared through a real Redis server: James 3.8.1 with {@code <store>redis</store>}; a second
 * store instance on the same Redis plays a second James node; Redis stopped (fail-open: accepted and counted
 * as degraded) and started again (limits apply again, without restarting James).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisRateLimitIT {
    private static final String DOMAIN = RelayGuardServers.DOMAIN;
    private static final String PASSWORD = "secret-pw";
    private static final EmbeddedRedis REDIS = EmbeddedRedis.started();

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf.policyXml(
        "<probeBans><refusals>0</refusals></probeBans>"
            + "<rateLimits><store>redis</store><redisURL>" + REDIS.url() + "</redisURL><timeout>300ms</timeout>"
            + "<onStoreFailure>fail-open</onStoreFailure>"
            + "<users><limit measure=\"messages\" max=\"5\" per=\"1h\"/></users>"
            + "<user name=\"shared@" + DOMAIN + "\"><limit measure=\"messages\" max=\"10\" per=\"1h\"/></user>"
            + "</rateLimits>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        for (String user : new String[] {"demo", "shared", "outage", "after", "friend"}) {
            data.addUser(user + "@" + DOMAIN, PASSWORD);
        }
    }

    @AfterAll
    static void stopRedis() {
        REDIS.stop();
    }

    private static int sendMessages(GuiceJamesServer server, String user, int count, List<Integer> codes) throws Exception {
        int accepted = 0;
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server))) {
            smtp.ehlo("client.example");
            smtp.startTls("client.example");
            assertThat(smtp.authPlain(user + "@" + DOMAIN, PASSWORD).code()).isEqualTo(235);
            for (int i = 0; i < count; i++) {
                Reply mail = smtp.mailFrom(user + "@" + DOMAIN);
                codes.add(mail.code());
                if (mail.code() != 250) {
                    continue;
                }
                assertThat(smtp.rcptTo("friend@" + DOMAIN).code()).isEqualTo(250);
                Reply end = smtp.data("From: <" + user + "@" + DOMAIN + ">\r\nSubject: redis\r\n\r\nmessage " + i);
                codes.add(end.code());
                if (end.code() == 250) {
                    accepted++;
                }
            }
        }
        return accepted;
    }

    @Test
    @Order(1)
    void nPlusFiveThroughRedisExactlyN(GuiceJamesServer server) throws Exception {
        List<Integer> codes = new java.util.ArrayList<>();
        assertThat(sendMessages(server, "demo", 10, codes)).isEqualTo(5);
        assertThat(codes).containsOnly(250, 450);
    }

    @Test
    @Order(2)
    void anotherNodeSharingRedisSharesTheCounters(GuiceJamesServer server) throws Exception {
        Limit limit = new Limit(Measure.MESSAGES, 10, Duration.ofHours(1));
        try (RedisLimiterStore otherNode = new RedisLimiterStore(REDIS.url(), false, Duration.ofSeconds(2))) {
            for (int i = 0; i < 6; i++) {
                LimitDecision decision = otherNode.acquire("user:shared@" + DOMAIN, List.of(new Charge(limit, 1)));
                assertThat(decision.isAdmitted()).as(decision.toString()).isTrue();
            }
        }
        assertThat(sendMessages(server, "shared", 10, new java.util.ArrayList<>())).isEqualTo(4);
    }

    @Test
    @Order(3)
    void redisDownFailsOpenAndCountsThenLimitsApplyAgainWhenItIsBack(GuiceJamesServer server) throws Exception {
        REDIS.stop();
        Map<String, Long> before = relayGuardMeters();
        assertThat(sendMessages(server, "outage", 7, new java.util.ArrayList<>())).isEqualTo(7);
        assertThat(increasedSince(before).get("relayguard.rate.degraded")).isGreaterThanOrEqualTo(7L);

        REDIS.start();
        boolean decidedByRedis = false;
        for (int attempt = 0; attempt < 50 && !decidedByRedis; attempt++) {
            // Lettuce reconnects in the background: the first decisions after the restart may still fail open.
            Thread.sleep(200);
            Map<String, Long> probe = relayGuardMeters();
            assertThat(sendMessages(server, "after", 1, new java.util.ArrayList<>())).isEqualTo(1);
            decidedByRedis = !increasedSince(probe).containsKey("relayguard.rate.degraded");
        }
        assertThat(decidedByRedis).as("Redis decides again, without restarting James").isTrue();
        // One message of "after" is counted in Redis: 4 more of its 5 are accepted, no more.
        assertThat(sendMessages(server, "after", 10, new java.util.ArrayList<>())).isEqualTo(4);
    }
}
