package dev.relayguard.guice;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import javax.annotation.PreDestroy;
import javax.management.ObjectName;

import org.apache.james.metrics.api.Gauge;
import org.apache.james.metrics.api.GaugeRegistry;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.manage.RelayGuardManagement;
import dev.relayguard.observe.RefusalRecorder;

/** What starts and stops with James: gauges and the JMX bean at start, the store closed at stop. */
class RelayGuardLifecycleTest {
    private final LimiterStore store = mock(LimiterStore.class);
    private final GaugeRegistry gauges = mock(GaugeRegistry.class);
    private static final RelayGuardSettings DEFAULTS =
        PolicyFile.parse(PolicyFile.parseXml("<relayguard/>".getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    private final RelayGuard guard = new RelayGuard(DEFAULTS,
        domain -> false, (user, sender) -> false, new RefusalRecorder(new RecordingMetricFactory()), System::currentTimeMillis, store);
    private final RelayGuardLifecycle lifecycle =
        new RelayGuardLifecycle(guard, gauges, new RelayGuardModule.PolicyFileLocation(Optional.empty()));

    @Test
    void startRegistersTheGaugesAndTheManagementBean() throws Exception {
        when(gauges.register(anyString(), any())).thenReturn(gauges);
        ObjectName bean = new ObjectName(RelayGuardManagement.OBJECT_NAME);
        if (ManagementFactory.getPlatformMBeanServer().isRegistered(bean)) {
            ManagementFactory.getPlatformMBeanServer().unregisterMBean(bean);
        }

        lifecycle.start();

        for (String gauge : new String[] {"relayguard.bans.tracked-ips", "relayguard.bans.active", "relayguard.bans.dropped",
            "relayguard.rate.tracked-keys", "relayguard.rate.suspended-users", "relayguard.auth.banned-clients",
            "relayguard.auth.throttled-accounts", "relayguard.auth.tracked-clients", "relayguard.auth.tracked-accounts"}) {
            verify(gauges).register(eq(gauge), any());
        }
        assertThat(ManagementFactory.getPlatformMBeanServer().isRegistered(bean)).isTrue();
    }

    /** Starts a lifecycle over this AUTH state and returns its gauges by name, read through James's {@link Gauge}. */
    private Map<String, Gauge<?>> gaugesOver(AuthState auth) {
        Map<String, Gauge<?>> registered = new HashMap<>();
        GaugeRegistry registry = mock(GaugeRegistry.class);
        when(registry.register(anyString(), any())).thenAnswer(call -> {
            registered.put(call.getArgument(0), call.getArgument(1));
            return registry;
        });
        RelayGuard withAuth = new RelayGuard(DEFAULTS, domain -> false, (user, sender) -> false,
            new RefusalRecorder(new RecordingMetricFactory()), System::currentTimeMillis, store, auth);
        new RelayGuardLifecycle(withAuth, registry, new RelayGuardModule.PolicyFileLocation(Optional.empty())).start();
        return registered;
    }

    private static Object value(Map<String, Gauge<?>> gauges, String name) {
        assertThat(gauges).containsKey(name);
        return gauges.get(name).get();
    }

    @Test
    void theAuthGaugesReadTheAuthStateWhenAsked() throws Exception {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        MemoryAuthState auth = new MemoryAuthState(DEFAULTS.authLimits(), clock::get);
        Map<String, Gauge<?>> gauges = gaugesOver(auth);
        assertThat(value(gauges, "relayguard.auth.banned-clients")).isEqualTo(0);
        assertThat(value(gauges, "relayguard.auth.tracked-clients")).isEqualTo(0L);

        for (int i = 1; i <= 10; i++) { // clientBan 10 failures (default): 192.0.2.7 banned; each account failed once
            auth.recordFailure("192.0.2.7", "user" + i + "@example.com");
        }
        for (int i = 1; i <= 5; i++) { // accountThrottle 5 failures (default): alice throttled
            auth.recordFailure("198.51.100." + i, "alice@example.com");
        }

        assertThat(value(gauges, "relayguard.auth.banned-clients")).isEqualTo(1);
        assertThat(value(gauges, "relayguard.auth.throttled-accounts")).isEqualTo(1);
        assertThat(value(gauges, "relayguard.auth.tracked-clients")).isEqualTo(6L);
        assertThat(value(gauges, "relayguard.auth.tracked-accounts")).isEqualTo(11L);
        clock.addAndGet(3_600_000L);
        assertThat(value(gauges, "relayguard.auth.banned-clients")).as("the ban ended").isEqualTo(0);
    }

    @Test
    void theAuthGaugesSayMinusOneWhenTheStoreCannotTell() {
        AuthState redisLike = mock(AuthState.class);
        when(redisLike.healthy()).thenReturn(false);
        when(redisLike.trackedClients()).thenReturn(-1L);
        when(redisLike.trackedAccounts()).thenReturn(-1L);
        Map<String, Gauge<?>> gauges = gaugesOver(redisLike);

        assertThat(value(gauges, "relayguard.auth.banned-clients")).isEqualTo(-1);
        assertThat(value(gauges, "relayguard.auth.throttled-accounts")).isEqualTo(-1);
        assertThat(value(gauges, "relayguard.auth.tracked-clients")).isEqualTo(-1L);
        assertThat(value(gauges, "relayguard.auth.tracked-accounts")).isEqualTo(-1L);
    }

    @Test
    void readingAnAuthGaugeAsksTheStoreSoARecoveredStoreShowsAtOnce() {
        AtomicBoolean down = new AtomicBoolean(true); // the last call failed; Redis is back now
        AuthState recovering = mock(AuthState.class);
        when(recovering.healthy()).thenAnswer(call -> !down.get());
        when(recovering.bans()).thenAnswer(call -> {
            down.set(false);
            return List.of(new AuthState.Block("192.0.2.7", Long.MAX_VALUE));
        });
        Map<String, Gauge<?>> gauges = gaugesOver(recovering);

        assertThat(value(gauges, "relayguard.auth.banned-clients")).isEqualTo(1);
    }

    @Test
    void stopClosesTheStoreAndSurvivesAFailingClose() throws Exception {
        doThrow(new IllegalStateException("Lettuce says no")).when(store).close();

        lifecycle.stop();

        verify(store).close();
        assertThat(RelayGuardLifecycle.class.getMethod("stop").isAnnotationPresent(PreDestroy.class))
            .as("James's stop stage calls @PreDestroy methods").isTrue();
    }
}
