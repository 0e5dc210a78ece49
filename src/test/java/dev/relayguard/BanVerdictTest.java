package dev.relayguard;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;

import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.FlakyHolds;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Suspensions;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * {@link RelayGuard#banVerdict}, asked at connect on an MX listener: a banned client, a client the store of bans
 * cannot tell about under fail-open and fail-closed, and what is counted.
 */
class BanVerdictTest {
    private static final String UNAVAILABLE_METRIC = "relayguard.deferred.probe.store-unavailable";
    private static final String BANNED_METRIC = "relayguard.deferred.probe.banned";

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    private final RecordingMetricFactory metrics = new RecordingMetricFactory();
    private FlakyHolds bans;

    private RelayGuard guard(String onStoreFailure) {
        String xml = "<relayguard><probeBans><refusals>2</refusals></probeBans><rateLimits><onStoreFailure>" + onStoreFailure
            + "</onStoreFailure></rateLimits></relayguard>";
        RelayGuardSettings settings = PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
        bans = new FlakyHolds(settings.probeBans().asHolds(), clock::get);
        return new RelayGuard(settings, domain -> false, (user, sender) -> false, new RefusalRecorder(metrics), clock::get,
            new MemoryLimiterStore(1000, clock::get), new MemoryAuthState(settings.authLimits(), clock::get), bans,
            new Suspensions(settings.rateLimits().suspension(), clock::get));
    }

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** As the handler does at connect: the verdict, recorded with its context. */
    private static Optional<Verdict> connect(RelayGuard guard, InetAddress client) {
        Optional<Verdict> verdict = guard.banVerdict(client);
        verdict.ifPresent(v -> guard.record(v, RefusalContext.smtp().clientIp(client.getHostAddress()).build(), client));
        return verdict;
    }

    private static void probe(RelayGuard guard, InetAddress client) {
        guard.record(Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied"),
            RefusalContext.smtp().clientIp(client.getHostAddress()).build(), client);
    }

    @Test
    void aBannedClientGets421AndAnotherNothing() {
        RelayGuard guard = guard("fail-closed");
        probe(guard, ip("192.0.2.1"));
        probe(guard, ip("192.0.2.1"));

        Verdict banned = connect(guard, ip("192.0.2.1")).orElseThrow();

        assertThat(banned.reason()).isEqualTo(Reason.PROBE_BANNED);
        assertThat(banned.replyCode() + " " + banned.enhancedStatus() + " " + banned.text())
            .isEqualTo("421 4.7.0 Too many relay attempts from 192.0.2.1, try again later");
        assertThat(connect(guard, ip("192.0.2.2"))).isEmpty();
        assertThat(metrics.countFor(BANNED_METRIC)).isEqualTo(1);
        assertThat(guard.recorder().degradedCount()).isZero();
    }

    @Test
    void failOpenLetsAClientInWhenTheBansCannotBeReadAndCountsItDegraded() {
        RelayGuard guard = guard("fail-open");
        probe(guard, ip("192.0.2.1"));
        probe(guard, ip("192.0.2.1"));
        bans.down(true);

        assertThat(connect(guard, ip("192.0.2.1"))).isEmpty();
        assertThat(connect(guard, ip("192.0.2.2"))).isEmpty();

        assertThat(guard.recorder().degradedCount()).isEqualTo(2);
        assertThat(metrics.countFor(UNAVAILABLE_METRIC)).isZero();
        assertThat(guard.isBanned(ip("192.0.2.1"))).as("cannot tell: not banned").isFalse();
        bans.down(false);
        assertThat(connect(guard, ip("192.0.2.1"))).as("the ban was kept").map(Verdict::reason).contains(Reason.PROBE_BANNED);
    }

    @Test
    void failClosedDefersEveryClientWith421AndCountsIt() {
        RelayGuard guard = guard("fail-closed");
        bans.down(true);

        Verdict deferred = connect(guard, ip("192.0.2.2")).orElseThrow();

        assertThat(deferred.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(deferred.reason()).isEqualTo(Reason.PROBE_BANS_UNAVAILABLE);
        assertThat(deferred.replyCode() + " " + deferred.enhancedStatus() + " " + deferred.text())
            .isEqualTo("421 4.3.0 Service temporarily unavailable, try again later");
        assertThat(metrics.countFor(UNAVAILABLE_METRIC)).isEqualTo(1);
        assertThat(guard.recorder().degradedCount()).isEqualTo(1);
        connect(guard, ip("192.0.2.2"));
        assertThat(bans.down(false).trackedCount()).as("a deferral for an unknown ban is no probe").isZero();
    }

    @Test
    void refusalsWhileTheBansAreDownBanNobodyAndThrowNothing() {
        RelayGuard guard = guard("fail-open");
        bans.down(true);
        for (int i = 0; i < 5; i++) {
            probe(guard, ip("192.0.2.1"));
        }
        bans.down(false);

        assertThat(connect(guard, ip("192.0.2.1"))).isEmpty();
    }
}
