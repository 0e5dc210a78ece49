package dev.relayguard.guice;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.io.FileNotFoundException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import org.apache.james.filesystem.api.FileSystem;
import org.apache.james.metrics.api.GaugeRegistry;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.apache.james.server.core.JamesServerResourceLoader;
import org.apache.james.server.core.filesystem.FileSystemImpl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mockito.InOrder;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.Holds;
import dev.relayguard.core.Holds.Hold;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.Suspensions;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.RefusalRecorder;
import dev.relayguard.store.RedisHolds;
import dev.relayguard.store.RedisLimiterStore;

/**
 * Where the probe bans and suspensions live: in the rate-limit store's Redis with the Redis store, else in memory
 * (suspensions in {@code var/relayguard/suspensions.tsv} under James's directory); closed before the store.
 */
class HoldsWiringTest {
    private static final Holds.Settings SUSPENSION = new Holds.Settings(3, 600_000, 3_600_000, 1_000);

    @TempDir
    Path james;

    @Test
    void aMemoryStoreGetsMemoryBansAndSuspensionsKeptInTheFileGiven() {
        MemoryLimiterStore store = new MemoryLimiterStore(10, System::currentTimeMillis);
        Path file = james.resolve("var/relayguard/suspensions.tsv");

        Holds bans = LimiterStores.probeBans(ProbeBans.Settings.DEFAULT, store);
        Holds suspensions = LimiterStores.suspensions(SUSPENSION, store, file);

        assertThat(bans).isInstanceOf(Suspensions.class);
        assertThat(((Suspensions) bans).file()).as("bans are not kept across restarts").isNull();
        assertThat(bans.kind()).isEqualTo("memory");
        assertThat(suspensions).isInstanceOf(Suspensions.class);
        assertThat(((Suspensions) suspensions).file()).isEqualTo(file);
        assertThat(LimiterStores.suspensions(SUSPENSION, store, null).kind()).as("no file: memory only").isEqualTo("memory");
    }

    @Test
    void aRedisStoreGetsBothTablesInItsRedis() {
        // Nothing listens there: the store connects in the background and the SMTP path never throws.
        try (RedisLimiterStore store = new RedisLimiterStore("redis://127.0.0.1:1", false, Duration.ofMillis(200))) {
            Holds bans = LimiterStores.probeBans(ProbeBans.Settings.DEFAULT, store);
            Holds suspensions = LimiterStores.suspensions(SUSPENSION, store, james.resolve("unused.tsv"));

            assertThat(bans).isInstanceOf(RedisHolds.class);
            assertThat(bans.kind()).endsWith(" " + RedisHolds.prefixOf(RedisHolds.PROBE_BANS));
            assertThat(suspensions).isInstanceOf(RedisHolds.class);
            assertThat(suspensions.kind()).endsWith(" " + RedisHolds.prefixOf(RedisHolds.SUSPENSIONS));
            assertThat(bans.holdOf("192.0.2.1")).isSameAs(Holds.UNAVAILABLE);
            assertThat(suspensions.holdOf("user:alice@example.com")).isSameAs(Holds.UNAVAILABLE);
            assertThat(bans.healthy()).isFalse();
            assertThat(suspensions.healthy()).isFalse();
        }
        assertThat(james.resolve("unused.tsv")).doesNotExist();
    }

    @Test
    void theSuspensionsFileIsUnderJamesVarDirectoryAndSurvivesARestart() {
        FileSystem fileSystem = new FileSystemImpl(new JamesServerResourceLoader(james.toString()));
        MemoryLimiterStore store = new MemoryLimiterStore(10, System::currentTimeMillis);

        Path file = RelayGuardModule.suspensionsFile(fileSystem);
        LimiterStores.suspensions(SUSPENSION, store, file).hold("user:alice@example.com", Hold.FOREVER, "operator: leaked");

        assertThat(file.toAbsolutePath().normalize()).isEqualTo(james.resolve("var/relayguard/suspensions.tsv").toAbsolutePath());
        assertThat(LimiterStores.suspensions(SUSPENSION, store, RelayGuardModule.suspensionsFile(fileSystem)).active())
            .extracting(Hold::key, Hold::reason).containsExactly(tuple("user:alice@example.com", "operator: leaked"));
    }

    @Test
    void aFileSystemThatCannotGiveTheFileMeansSuspensionsInMemoryOnly() throws Exception {
        FileSystem fileSystem = mock(FileSystem.class);
        when(fileSystem.getFile(anyString())).thenThrow(new FileNotFoundException("no var directory"));

        assertThat(RelayGuardModule.suspensionsFile(fileSystem)).isNull();
    }

    @Test
    void stopClosesBansAndSuspensionsBeforeTheStoreEvenWhenClosingFails() {
        LimiterStore store = mock(LimiterStore.class);
        Holds bans = mock(Holds.class);
        Holds suspensions = mock(Holds.class);
        doThrow(new IllegalStateException("closing fails")).when(bans).close();
        RelayGuardSettings settings = PolicyFile.parse(
            PolicyFile.parseXml("<relayguard/>".getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
        RelayGuard guard = new RelayGuard(settings, domain -> false, (user, sender) -> false,
            new RefusalRecorder(new RecordingMetricFactory()), System::currentTimeMillis, store, mock(AuthState.class), bans,
            suspensions);

        new RelayGuardLifecycle(guard, mock(GaugeRegistry.class), new RelayGuardModule.PolicyFileLocation(Optional.empty())).stop();

        InOrder order = inOrder(bans, suspensions, store);
        order.verify(bans).close();
        order.verify(suspensions).close();
        order.verify(store).close();
    }
}
