package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.relayguard.limit.Measure;
import dev.relayguard.limit.RateLimiter;

/** The words an operator writes for every configuration enum, read one way. */
class ConfigNameTest {

    @Test
    void configNamesAreKebabCase() {
        assertThat(SenderOwnershipMode.KNOWN_ONLY.configName()).isEqualTo("known-only");
        assertThat(SentByMailetPolicy.NULL_SENDER_ONLY.configName()).isEqualTo("null-sender-only");
        assertThat(RateLimiter.FailureMode.FAIL_CLOSED.configName()).isEqualTo("fail-closed");
        assertThat(Mode.MONITOR.configName()).isEqualTo("monitor");
        assertThat(ListenerRole.SUBMISSION.configName()).isEqualTo("submission");
        assertThat(Measure.BYTES.configName()).isEqualTo("bytes");
    }

    @Test
    void theConfigNameOrTheJavaNameIsReadInAnyCaseAroundBlanksIgnored() {
        assertThat(SenderOwnershipMode.parse(" Known-Only ")).isEqualTo(SenderOwnershipMode.KNOWN_ONLY);
        assertThat(SenderOwnershipMode.parse("known_only")).isEqualTo(SenderOwnershipMode.KNOWN_ONLY);
        assertThat(SentByMailetPolicy.parse("NULL-SENDER-ONLY")).isEqualTo(SentByMailetPolicy.NULL_SENDER_ONLY);
        assertThat(Mode.parse("Defer")).isEqualTo(Mode.DEFER);
        assertThat(ListenerRole.parse("MX")).isEqualTo(ListenerRole.MX);
        assertThat(Measure.parse("recipients")).isEqualTo(Measure.RECIPIENTS);
        assertThat(RateLimiter.FailureMode.parse("fail-open")).isEqualTo(RateLimiter.FailureMode.FAIL_OPEN);
    }

    @Test
    void anUnknownWordIsRefusedListingTheAcceptedOnes() {
        Map<Runnable, String> refusals = Map.of(
            () -> Mode.parse("sometimes"), "expected one of reject, defer, monitor, off",
            () -> ListenerRole.parse("relay"), "expected mx or submission",
            () -> SenderOwnershipMode.parse("loose"), "expected strict, known-only or off",
            () -> SentByMailetPolicy.parse(""), "expected allow, null-sender-only or judge",
            () -> Measure.parse("letters"), "expected messages, recipients or bytes",
            () -> RateLimiter.FailureMode.parse("fail-soft"), "expected fail-open or fail-closed");
        refusals.forEach((parse, message) -> assertThatThrownBy(parse::run)
            .isInstanceOf(IllegalArgumentException.class).hasMessage(message));
    }

    @Test
    void aRuleThatMayNeverBeOffRefusesOffNamingItself() {
        assertThatThrownBy(() -> Rule.RELAY.checkMode(Mode.OFF)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("the relay rule can be reject, defer or monitor, never off");
        assertThatThrownBy(() -> Rule.SUSPENDED_SENDER.checkMode(Mode.OFF))
            .hasMessage("the suspendedSender rule can be reject, defer or monitor, never off");
        assertThat(Rule.RELAY.checkMode(Mode.MONITOR)).isEqualTo(Mode.MONITOR);
        assertThat(Rule.PERCENT_HACK.checkMode(Mode.OFF)).isEqualTo(Mode.OFF);
        assertThatThrownBy(() -> RuleModes.of(Map.of(Rule.RELAY, Mode.OFF)))
            .hasMessage("the relay rule can be reject, defer or monitor, never off");
    }
}
