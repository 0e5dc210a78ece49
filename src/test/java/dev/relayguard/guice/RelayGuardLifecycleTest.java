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
import java.util.Optional;

import javax.annotation.PreDestroy;
import javax.management.ObjectName;

import org.apache.james.metrics.api.GaugeRegistry;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.manage.RelayGuardManagement;
import dev.relayguard.observe.RefusalRecorder;

/** What starts and stops with James: gauges and the JMX bean at start, the store closed at stop. */
class RelayGuardLifecycleTest {
    private final LimiterStore store = mock(LimiterStore.class);
    private final GaugeRegistry gauges = mock(GaugeRegistry.class);
    private final RelayGuard guard = new RelayGuard(
        PolicyFile.parse(PolicyFile.parseXml("<relayguard/>".getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME),
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
            "relayguard.rate.tracked-keys", "relayguard.rate.suspended-users"}) {
            verify(gauges).register(eq(gauge), any());
        }
        assertThat(ManagementFactory.getPlatformMBeanServer().isRegistered(bean)).isTrue();
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
