package dev.relayguard.manage;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.Client;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/** {@link Operations}: what the operators' commands do to a RelayGuard on a fake clock. */
class OperationsTest {
    private static final String POLICY = "<relayguard><rateLimits><users>"
        + "<limit measure=\"messages\" max=\"2\" per=\"1m\"/></users></rateLimits></relayguard>";

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    private final MemoryLimiterStore store = new MemoryLimiterStore(1000, clock::get);
    private final RelayGuard guard = new RelayGuard(settings(POLICY), domain -> false, (user, sender) -> false,
        new RefusalRecorder(new RecordingMetricFactory()), clock::get, store);
    private final Operations operations = new Operations(guard);

    private static RelayGuardSettings settings(String xml) {
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    private RateLimitPolicy.Subject alice() {
        return guard.senderLimits().rateSubject(Client.of(null, "alice@example.com")).orElseThrow();
    }

    @Test
    void usageOfAFullLimitGivesTheRetryTimeAndCountsNothing() {
        // Counted in the sub-bucket [t0 - 2 s, t0 + 4 s) (6 s wide for a 1 min window): it leaves the window 66 s
        // after that sub-bucket started, so 34 s after t0 + 30 s.
        guard.senderLimits().chargeRate(alice(), Measure.MESSAGES, 2, RefusalContext.smtp().build());
        clock.addAndGet(30_000);

        for (int i = 0; i < 3; i++) {
            assertThat(operations.usage(" Alice@Example.com ")).containsExactly("2 messages per 1m: used 2 / 2, retry in 34 s");
        }
        assertThat(store.usage(alice().key(), alice().limits().all())).containsValue(2L);
        assertThat(operations.usage("bob@example.com")).containsExactly("2 messages per 1m: used 0 / 2");
        assertThat(store.trackedKeys()).as("usage creates no key").isEqualTo(1);
    }

    @Test
    void usageOfAnUnlimitedUserSaysSo() {
        RelayGuard unlimited = new RelayGuard(settings("<relayguard/>"), domain -> false, new RefusalRecorder(new RecordingMetricFactory()));

        assertThat(new Operations(unlimited).usage("alice@example.com")).containsExactly("no rate limits apply to alice@example.com");
    }

    @Test
    void suspendResumeAndResetWorkOnTheCanonicalUser() {
        operations.suspend("ALICE@example.com", "leaked");
        assertThat(operations.suspended()).containsExactly("user:alice@example.com until resumed (operator: leaked)");
        Verdict refused = guard.senderLimits().checkSuspension(alice(), RefusalContext.smtp().build());
        assertThat(refused.reason()).isEqualTo(Reason.RATE_SUSPENDED);
        assertThat(refused.text()).isEqualTo("Account suspended from sending by the postmaster");

        assertThat(operations.resume("alice@example.com")).isTrue();
        assertThat(operations.resume("alice@example.com")).isFalse();
        assertThat(operations.suspended()).isEmpty();

        guard.senderLimits().chargeRate(alice(), Measure.MESSAGES, 2, RefusalContext.smtp().build());
        operations.resetUsage("alice@example.com");
        assertThat(operations.usage("alice@example.com")).containsExactly("2 messages per 1m: used 0 / 2");
    }

    @Test
    void topRefusedListsRefusalsOfEveryKindAndIsBounded() {
        guard.record(Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied"),
            RefusalContext.smtp().clientIp("192.0.2.7").build(), null);
        guard.senderLimits().chargeRate(alice(), Measure.MESSAGES, 3, RefusalContext.smtp().authUser("alice@example.com").build());

        assertThat(operations.topRefused(10)).extracting(Object::toString)
            .anySatisfy(line -> assertThat(line).startsWith("ip:192.0.2.7 "))
            .anySatisfy(line -> assertThat(line).startsWith("user:alice@example.com "));
        assertThatThrownBy(() -> operations.topRefused(0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("n must be between 1 and 1000, was 0");
    }

    @Test
    void reloadReadsTheSourceAndARefusedOneKeepsThePolicy() {
        AtomicReference<String> file = new AtomicReference<>(POLICY.replace("max=\"2\"", "max=\"5\""));
        guard.reloader().source(() -> settings(file.get()));

        assertThat(operations.reload()).isNotEmpty();
        assertThat(operations.usage("alice@example.com")).containsExactly("5 messages per 1m: used 0 / 5");

        file.set("<relayguard><rateLimits><users><limit measure=\"messages\" max=\"5\" per=\"soon\"/></users></rateLimits></relayguard>");
        assertThatThrownBy(operations::reload).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("reload refused, the current policy stays: ").hasMessageContaining("soon");
        assertThat(operations.usage("alice@example.com")).containsExactly("5 messages per 1m: used 0 / 5");
    }
}
