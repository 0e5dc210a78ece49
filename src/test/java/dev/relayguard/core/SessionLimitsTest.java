package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SessionLimitsTest {
    private static final Duration DELAY = Duration.ofSeconds(2);

    @Test
    void disconnectsOnlyAfterMax() {
        SessionLimits limits = new SessionLimits(5, 0, DELAY);
        for (int n = 1; n <= 5; n++) {
            assertThat(limits.disconnects(n)).as("refusal %d", n).isFalse();
        }
        assertThat(limits.disconnects(6)).isTrue();
        assertThat(limits.disconnects(7)).isTrue();
        assertThat(limits.disconnects(1000)).isTrue();
    }

    @Test
    void maxOneDisconnectsOnSecondRefusal() {
        SessionLimits limits = new SessionLimits(1, 0, DELAY);
        assertThat(limits.disconnects(1)).isFalse();
        assertThat(limits.disconnects(2)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 6, 100, Integer.MAX_VALUE})
    void maxZeroNeverDisconnects(int refusal) {
        assertThat(new SessionLimits(0, 0, DELAY).disconnects(refusal)).isFalse();
    }

    @Test
    void tarpitOffGivesZero() {
        SessionLimits limits = new SessionLimits(5, 0, DELAY);
        for (int n = 0; n <= 20; n++) {
            assertThat(limits.delayBefore(n)).isEqualTo(Duration.ZERO);
        }
    }

    @Test
    void tarpitStartsAtTarpitAfter() {
        SessionLimits limits = new SessionLimits(10, 3, DELAY);
        assertThat(limits.delayBefore(1)).isEqualTo(Duration.ZERO);
        assertThat(limits.delayBefore(2)).isEqualTo(Duration.ZERO);
        assertThat(limits.delayBefore(3)).isEqualTo(DELAY);
        assertThat(limits.delayBefore(4)).isEqualTo(DELAY);
        assertThat(limits.delayBefore(50)).isEqualTo(DELAY);
    }

    @Test
    void tarpitAfterOneDelaysEveryRefusal() {
        SessionLimits limits = new SessionLimits(10, 1, Duration.ofMillis(500));
        assertThat(limits.delayBefore(1)).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void zeroDelayIsZero() {
        SessionLimits limits = new SessionLimits(10, 1, Duration.ZERO);
        assertThat(limits.delayBefore(5)).isEqualTo(Duration.ZERO);
    }

    @Test
    void accessors() {
        SessionLimits limits = new SessionLimits(7, 3, DELAY);
        assertThat(limits.maxRefusedRecipients()).isEqualTo(7);
        assertThat(limits.tarpitAfter()).isEqualTo(3);
        assertThat(limits.tarpitDelay()).isEqualTo(DELAY);
    }

    @Test
    void defaultIsFiveRefusalsNoTarpit() {
        assertThat(SessionLimits.DEFAULT.maxRefusedRecipients()).isEqualTo(5);
        assertThat(SessionLimits.DEFAULT.tarpitAfter()).isZero();
        assertThat(SessionLimits.DEFAULT.delayBefore(100)).isEqualTo(Duration.ZERO);
        assertThat(SessionLimits.DEFAULT.disconnects(6)).isTrue();
    }

    @Test
    void negativeValuesAreRejected() {
        assertThatThrownBy(() -> new SessionLimits(-1, 0, DELAY))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        assertThatThrownBy(() -> new SessionLimits(5, -1, DELAY))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
        assertThatThrownBy(() -> new SessionLimits(5, 0, Duration.ofMillis(-1)))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
    }
}
