package dev.relayguard.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.TrustedNetworks;

/** {@link PolicyReloader}: validate then swap, refusals keep the policy, a later reload is never overwritten. */
class PolicyReloaderTest {
    private final AtomicReference<RelayGuardSettings> current = new AtomicReference<>(settings("10.0.0.0/8"));
    private final PolicyReloader reloader = new PolicyReloader(current::get, current::set);

    private static RelayGuardSettings settings(String network) {
        String xml = "<relayguard><trustedNetworks><network>" + network + "</network></trustedNetworks></relayguard>";
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(java.nio.charset.StandardCharsets.UTF_8), PolicyFile.FILE_NAME),
            PolicyFile.FILE_NAME);
    }

    private static String trusted(RelayGuardSettings settings) {
        RelayPolicy policy = settings.relayPolicy();
        TrustedNetworks networks = policy.trustedNetworks();
        return networks.toString();
    }

    @Test
    void withoutASourceAReloadChangesNothing() {
        RelayGuardSettings before = current.get();

        assertThat(reloader.reload()).isEmpty();
        assertThat(current.get()).isSameAs(before);
    }

    @Test
    void aValidPolicyIsSwappedInAndItsChangesListed() {
        reloader.source(() -> settings("192.0.2.0/24"));

        List<String> changes = reloader.reload();

        assertThat(changes).containsExactly("trustedNetworks: [10.0.0.0/8] -> [192.0.2.0/24]");
        assertThat(trusted(current.get())).contains("192.0.2.0/24");
    }

    @Test
    void aRefusedPolicyLeavesTheCurrentOneAndSaysWhy() {
        RelayGuardSettings before = current.get();
        reloader.source(() -> settings("10.0.0.0/33"));

        assertThatThrownBy(reloader::reload).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("reload refused, the current policy stays: ")
            .hasMessageContaining("trustedNetworks.network").hasMessageContaining("10.0.0.0/33");
        assertThat(current.get()).isSameAs(before);
    }

    @Test
    void anEarlierReloadFinishingLastDoesNotOverwriteALaterOne() throws Exception {
        CountDownLatch firstReading = new CountDownLatch(1);
        CountDownLatch secondApplied = new CountDownLatch(1);
        AtomicInteger reads = new AtomicInteger();
        reloader.source(() -> {
            if (reads.incrementAndGet() == 1) { // the first reload reads slowly: it finishes after the second
                firstReading.countDown();
                await(secondApplied);
                return settings("198.51.100.0/24");
            }
            return settings("192.0.2.0/24");
        });

        CompletableFuture<List<String>> first = CompletableFuture.supplyAsync(reloader::reload);
        await(firstReading);
        assertThat(reloader.reload()).containsExactly("trustedNetworks: [10.0.0.0/8] -> [192.0.2.0/24]");
        secondApplied.countDown();

        assertThat(first.get(30, TimeUnit.SECONDS)).isEmpty();
        assertThat(trusted(current.get())).contains("192.0.2.0/24").doesNotContain("198.51.100.0/24");
    }

    private static void await(CountDownLatch latch) {
        try {
            assertThat(latch.await(30, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
