package dev.relayguard.guice;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;

import java.time.Duration;
import java.util.Optional;

import org.apache.james.metrics.api.GaugeRegistry;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;
import org.mockito.InOrder;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.RefusalRecorder;
import dev.relayguard.store.RedisAuthState;
import dev.relayguard.store.RedisLimiterStore;

/** The AUTH state beside the rate-limit store (Redis with Redis, else memory), closed with it when James stops. */
class AuthStateWiringTest {

    @Test
    void aMemoryStoreGetsAMemoryAuthState() {
        AuthState state = LimiterStores.authState(AuthLimits.DEFAULT, new MemoryLimiterStore(10, System::currentTimeMillis));

        assertThat(state).isInstanceOf(MemoryAuthState.class);
        assertThat(state.kind()).isEqualTo("memory");
    }

    @Test
    void aRedisStoreGetsARedisAuthStateOnTheSameRedis() {
        // Nothing listens there: the store connects in the background and the state never throws.
        try (RedisLimiterStore store = new RedisLimiterStore("redis://127.0.0.1:1", false, Duration.ofMillis(200))) {
            AuthState state = LimiterStores.authState(AuthLimits.DEFAULT, store);

            assertThat(state).isInstanceOf(RedisAuthState.class);
            assertThat(state.kind()).isEqualTo("redis");
            assertThat(state.banOf("192.0.2.1")).isNull();
            assertThat(state.healthy()).isFalse();
        }
    }

    @Test
    void stopClosesTheAuthStateBeforeTheStoreEvenWhenClosingFails() {
        LimiterStore store = mock(LimiterStore.class);
        AuthState authState = mock(AuthState.class);
        doThrow(new IllegalStateException("closing fails")).when(authState).close();
        RelayGuardSettings settings = PolicyFile.parse(
            PolicyFile.parseXml("<relayguard/>".getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
        RelayGuard guard = new RelayGuard(settings, domain -> false, (user, sender) -> false,
            new RefusalRecorder(new RecordingMetricFactory()), System::currentTimeMillis, store, authState);
        GaugeRegistry gauges = mock(GaugeRegistry.class);

        new RelayGuardLifecycle(guard, gauges, new RelayGuardModule.PolicyFileLocation(Optional.empty())).stop();

        InOrder order = inOrder(authState, store);
        order.verify(authState).close();
        order.verify(store).close();
    }
}
