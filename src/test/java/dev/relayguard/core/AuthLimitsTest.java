package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;

/** {@link AuthLimits}: what the constructor refuses (the policy file names the key first), and what it derives. */
class AuthLimitsTest {
    private static final AuthLimits.Rule RULE = new AuthLimits.Rule(5, Duration.ofMinutes(15), Duration.ofMinutes(15));
    private static final Duration DAY = Duration.ofDays(1);

    @Test
    void aRuleNeedsCountsOfAtLeastZeroAWindowAndABlockOfAtLeastZero() {
        assertThatThrownBy(() -> new AuthLimits.Rule(-1, DAY, DAY)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits.Rule(1, Duration.ZERO, DAY)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits.Rule(1, DAY.negated(), DAY)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits.Rule(1, DAY, Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThat(new AuthLimits.Rule(0, DAY, Duration.ZERO).enabled()).isFalse();
        assertThat(new AuthLimits.Rule(0, DAY, Duration.ZERO)).hasToString("{off}");
        assertThat(RULE.enabled()).isTrue();
    }

    @Test
    void theLimitsRefuseNegativeCountsZeroBoundsAndZeroMemory() {
        assertThatThrownBy(() -> new AuthLimits(-1, RULE, RULE, 10, DAY, 3, Duration.ZERO, 10, 10))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits(3, RULE, RULE, 0, DAY, 3, Duration.ZERO, 10, 10))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits(3, RULE, RULE, 10, Duration.ZERO, 3, Duration.ZERO, 10, 10))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits(3, RULE, RULE, 10, DAY, -1, Duration.ZERO, 10, 10))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits(3, RULE, RULE, 10, DAY, 3, Duration.ofSeconds(-1), 10, 10))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits(3, RULE, RULE, 10, DAY, 3, Duration.ZERO, 0, 10))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AuthLimits(3, RULE, RULE, 10, DAY, 3, Duration.ZERO, 10, 0))
            .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theAccountHistoryServesBothTheThrottleAndTheSignal() {
        AuthLimits.Rule off = new AuthLimits.Rule(0, DAY, DAY);
        assertThat(new AuthLimits(3, RULE, RULE, 10, DAY, 3, Duration.ZERO, 10, 10).accountHistory()).isEqualTo(5);
        assertThat(new AuthLimits(3, RULE, RULE, 10, DAY, 8, Duration.ZERO, 10, 10).accountHistory()).isEqualTo(8);
        assertThat(new AuthLimits(3, RULE, off, 10, DAY, 0, Duration.ZERO, 10, 10).accountHistory()).isZero();
    }
}
