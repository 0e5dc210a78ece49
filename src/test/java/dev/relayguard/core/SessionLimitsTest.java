package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SessionLimitsTest {
    private static final Verdict RELAY_REFUSED = Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied");

    @Test
    void disconnectsOnlyAfterMax() {
        SessionLimits limits = new SessionLimits(5);
        for (int n = 1; n <= 5; n++) {
            assertThat(limits.disconnects(n)).as("refusal %d", n).isFalse();
        }
        assertThat(limits.disconnects(6)).isTrue();
        assertThat(limits.disconnects(1000)).isTrue();
    }

    @Test
    void maxOneDisconnectsOnSecondRefusal() {
        SessionLimits limits = new SessionLimits(1);
        assertThat(limits.disconnects(1)).isFalse();
        assertThat(limits.disconnects(2)).isTrue();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 6, 100, Integer.MAX_VALUE})
    void maxZeroNeverDisconnects(int refusal) {
        assertThat(new SessionLimits(0).escalate(RELAY_REFUSED, refusal)).isSameAs(RELAY_REFUSED);
    }

    @Test
    void refusalsUpToTheMaxAreAnsweredAsThemselves() {
        SessionLimits limits = new SessionLimits(2);
        assertThat(limits.escalate(RELAY_REFUSED, 1)).isSameAs(RELAY_REFUSED);
        assertThat(limits.escalate(RELAY_REFUSED, 2)).isSameAs(RELAY_REFUSED);
    }

    @Test
    void theRefusalAfterTheMaxBecomes421ClosingTheConnection() {
        Verdict third = new SessionLimits(2).escalate(RELAY_REFUSED, 3);

        assertThat(third.reason()).isEqualTo(Reason.SESSION_TOO_MANY_REFUSALS);
        assertThat(third.replyCode()).isEqualTo("421");
        assertThat(third.enhancedStatus()).isEqualTo("4.7.0");
        assertThat(third.text()).isEqualTo("Too many refused recipients (2), closing connection");
        assertThat(third.passes()).isFalse();
    }

    @Test
    void defaultIsFiveRefusals() {
        assertThat(SessionLimits.DEFAULT.maxRefusedRecipients()).isEqualTo(5);
        assertThat(SessionLimits.DEFAULT.escalate(RELAY_REFUSED, 6).reason()).isEqualTo(Reason.SESSION_TOO_MANY_REFUSALS);
    }

    @Test
    void negativeMaxIsRejected() {
        assertThatThrownBy(() -> new SessionLimits(-1))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative");
    }
}
