package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

class VerdictModesTest {

    private static Verdict refused(String code, String status) {
        return Verdict.refuse(Reason.RELAY_UNAUTHENTICATED, code, status, "text");
    }

    @ParameterizedTest
    @CsvSource({
        "550, 5.7.1, 450, 4.7.1",
        "553, 5.7.1, 450, 4.7.1",
        "530, 5.7.0, 454, 4.7.0",
        "554, 5.7.1, 451, 4.7.1",
        "552, 5.3.4, 452, 4.3.4"})
    void deferGivesTheTemporaryTwin(String code, String status, String deferredCode, String deferredStatus) {
        Verdict verdict = refused(code, status).under(Mode.DEFER);
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.replyCode()).isEqualTo(deferredCode);
        assertThat(verdict.enhancedStatus()).isEqualTo(deferredStatus);
        assertThat(verdict.text()).isEqualTo("text");
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_UNAUTHENTICATED);
        assertThat(verdict.replyLine()).isEqualTo(deferredCode + " " + deferredStatus + " text");
        assertThat(verdict.passes()).isFalse();
    }

    @Test
    void deferOfReasonRepliesMatchesTheReasonTable() {
        assertThat(Verdict.of(Reason.SENDER_NOT_OWNED, "t").under(Mode.DEFER).replyLine()).isEqualTo("450 4.7.1 t");
        assertThat(Verdict.of(Reason.SUBMISSION_AUTH_REQUIRED, "t").under(Mode.DEFER).replyLine()).isEqualTo("454 4.7.0 t");
        assertThat(Verdict.of(Reason.ROUTING_SOURCE_ROUTE, "t").under(Mode.DEFER).replyLine()).isEqualTo("450 4.7.1 t");
    }

    @Test
    void rejectKeepsTheRefusal() {
        Verdict original = refused("550", "5.7.1");
        Verdict verdict = original.under(Mode.REJECT);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.replyLine()).isEqualTo("550 5.7.1 text");
    }

    @ParameterizedTest
    @CsvSource({"550, 5.7.1", "553, 5.7.1", "530, 5.7.0", "554, 5.7.1"})
    void monitorKeepsReplyAndPasses(String code, String status) {
        Verdict verdict = refused(code, status).under(Mode.MONITOR);
        assertThat(verdict.outcome()).isEqualTo(Outcome.MONITORED);
        assertThat(verdict.passes()).isTrue();
        assertThat(verdict.isAllowed()).isFalse();
        assertThat(verdict.isRecorded()).isTrue();
        assertThat(verdict.replyCode()).isEqualTo(code);
        assertThat(verdict.enhancedStatus()).isEqualTo(status);
        assertThat(verdict.replyLine()).isEqualTo(code + " " + status + " text");
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_UNAUTHENTICATED);
    }

    @Test
    void offAllows() {
        Verdict verdict = refused("550", "5.7.1").under(Mode.OFF);
        assertThat(verdict.outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.isRecorded()).isFalse();
        assertThat(verdict.replyCode()).isNull();
        assertThat(verdict.replyLine()).isEmpty();
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_UNAUTHENTICATED);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void deferredVerdictIsUnchangedByAnyMode(Mode mode) {
        Verdict deferred = Verdict.defer(Reason.LOCAL_DOMAIN_LOOKUP_FAILED, "451", "4.3.0", "later");
        Verdict verdict = deferred.under(mode);
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.replyLine()).isEqualTo("451 4.3.0 later");
        assertThat(verdict.passes()).isFalse();
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void allowedAndMonitoredVerdictsAreUnchangedByAnyMode(Mode mode) {
        Verdict allowed = Verdict.allow(Reason.LOCAL_DOMAIN);
        assertThat(allowed.under(mode).isAllowed()).isTrue();
        Verdict monitored = refused("550", "5.7.1").under(Mode.MONITOR);
        assertThat(monitored.under(mode).outcome()).isEqualTo(Outcome.MONITORED);
    }

    @Test
    void ofUsesTheReasonsOwnReply() {
        Verdict relay = Verdict.of(Reason.RELAY_UNAUTHENTICATED, "Relaying denied");
        assertThat(relay.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(relay.replyLine()).isEqualTo("550 5.7.1 Relaying denied");

        Verdict owned = Verdict.of(Reason.SENDER_NOT_OWNED, "x");
        assertThat(owned.replyCode()).isEqualTo("553");
        assertThat(owned.enhancedStatus()).isEqualTo("5.7.1");

        Verdict auth = Verdict.of(Reason.SUBMISSION_AUTH_REQUIRED, "x");
        assertThat(auth.replyCode()).isEqualTo("530");
        assertThat(auth.enhancedStatus()).isEqualTo("5.7.0");
    }

    @ParameterizedTest
    @EnumSource(value = Reason.class, names = {"LOCAL_DOMAIN_LOOKUP_FAILED", "SENDER_LOOKUP_FAILED",
        "SESSION_TOO_MANY_REFUSALS", "PROBE_BANNED"})
    void ofFourHundredReasonIsDeferred(Reason reason) {
        Verdict verdict = Verdict.of(reason, "later");
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.replyCode()).isEqualTo(reason.replyCode()).startsWith("4");
        assertThat(verdict.enhancedStatus()).isEqualTo(reason.enhancedStatus()).startsWith("4.");
        assertThat(verdict.passes()).isFalse();
    }

    @Test
    void probeBannedAndSessionLimitReply421() {
        assertThat(Verdict.of(Reason.PROBE_BANNED, "go away").replyLine()).isEqualTo("421 4.7.0 go away");
        assertThat(Verdict.of(Reason.SESSION_TOO_MANY_REFUSALS, "bye").replyLine()).isEqualTo("421 4.7.0 bye");
    }

    @ParameterizedTest
    @EnumSource(value = Reason.class, names = {"AUTHENTICATED", "TRUSTED_NETWORK", "LOCAL_DOMAIN", "RELAY_DOMAIN",
        "ADDRESS_OK", "SENDER_OK"})
    void ofAllowReasonThrows(Reason reason) {
        assertThat(reason.isRefusal()).isFalse();
        assertThatThrownBy(() -> Verdict.of(reason, "x")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void refuseAndDeferCheckTheirCodes() {
        assertThatThrownBy(() -> Verdict.refuse(Reason.RELAY_UNAUTHENTICATED, "450", "4.7.1", "x"))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Verdict.refuse(Reason.RELAY_UNAUTHENTICATED, "550", "4.7.1", "x"))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Verdict.defer(Reason.LOCAL_DOMAIN_LOOKUP_FAILED, "550", "5.7.1", "x"))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Verdict.defer(Reason.LOCAL_DOMAIN_LOOKUP_FAILED, "451", "5.3.0", "x"))
            .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void everyRuleReasonRefusesWith5xx() {
        int checked = 0;
        for (Reason reason : Reason.values()) {
            if (reason.rule() != null) {
                assertThat(reason.replyCode()).as(reason.name()).startsWith("5");
                assertThat(Verdict.of(reason, "x").outcome()).as(reason.name()).isEqualTo(Outcome.REFUSED);
                checked++;
            }
        }
        assertThat(checked).as("reasons with a rule").isEqualTo(15);
    }

    // RuleModes

    @Test
    void relayCannotBeOff() {
        Map<Rule, Mode> modes = new EnumMap<>(Rule.class);
        modes.put(Rule.RELAY, Mode.OFF);
        assertThatThrownBy(() -> RuleModes.of(modes))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("relay");
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"REJECT", "DEFER", "MONITOR"})
    void relayMayBeRejectDeferOrMonitor(Mode mode) {
        assertThat(RuleModes.of(Map.of(Rule.RELAY, mode)).modeOf(Rule.RELAY)).isEqualTo(mode);
    }

    @ParameterizedTest
    @EnumSource(value = Rule.class, names = {"RELAY", "SUSPENDED_SENDER"}, mode = EnumSource.Mode.EXCLUDE)
    void otherRulesMayBeOff(Rule rule) {
        RuleModes modes = RuleModes.of(Map.of(rule, Mode.OFF));
        assertThat(modes.isOff(rule)).isTrue();
        assertThat(modes.isOff(Rule.RELAY)).isFalse();
    }

    @Test
    void unconfiguredRulesTakeTheirDefaultMode() {
        RuleModes modes = RuleModes.of(Map.of(Rule.PERCENT_HACK, Mode.MONITOR));
        assertThat(modes.modeOf(Rule.PERCENT_HACK)).isEqualTo(Mode.MONITOR);
        for (Rule rule : Rule.values()) {
            Mode expected = rule == Rule.SUSPENDED_SENDER ? Mode.DEFER : Mode.REJECT;
            if (rule != Rule.PERCENT_HACK) {
                assertThat(modes.modeOf(rule)).as(rule.name()).isEqualTo(expected);
            }
            assertThat(RuleModes.defaults().modeOf(rule)).isEqualTo(expected);
        }
    }

    @Test
    void ruleModesCopiesTheMap() {
        Map<Rule, Mode> map = new EnumMap<>(Rule.class);
        map.put(Rule.BANG_PATH, Mode.MONITOR);
        RuleModes modes = RuleModes.of(map);
        map.put(Rule.BANG_PATH, Mode.OFF);
        assertThat(modes.modeOf(Rule.BANG_PATH)).isEqualTo(Mode.MONITOR);
    }

    @Test
    void applyLeavesRuleLessReasonsUnchanged() {
        RuleModes modes = RuleModes.of(Map.of(Rule.RELAY, Mode.MONITOR, Rule.SENDER_OWNERSHIP, Mode.OFF));
        Verdict lookupFailed = Verdict.of(Reason.LOCAL_DOMAIN_LOOKUP_FAILED, "later");
        Verdict applied = modes.apply(lookupFailed);
        assertThat(applied).isSameAs(lookupFailed);
        assertThat(applied.replyLine()).isEqualTo("451 4.3.0 later");

        Verdict ruleLessRefusal = Verdict.refuse(Reason.PROBE_BANNED, "554", "5.7.1", "no");
        assertThat(modes.apply(ruleLessRefusal)).isSameAs(ruleLessRefusal);
        assertThat(modes.apply(ruleLessRefusal).outcome()).isEqualTo(Outcome.REFUSED);
    }

    @Test
    void applyUsesTheReasonsRule() {
        RuleModes modes = RuleModes.of(Map.of(Rule.PERCENT_HACK, Mode.DEFER, Rule.BANG_PATH, Mode.OFF));
        assertThat(modes.apply(Verdict.of(Reason.ROUTING_PERCENT_HACK, "x")).replyLine()).isEqualTo("450 4.7.1 x");
        assertThat(modes.apply(Verdict.of(Reason.ROUTING_BANG_PATH, "x")).isAllowed()).isTrue();
        assertThat(modes.apply(Verdict.of(Reason.ROUTING_SOURCE_ROUTE, "x")).replyLine()).isEqualTo("550 5.7.1 x");
    }

    @Test
    void modeParse() {
        assertThat(Mode.parse(" Monitor ")).isEqualTo(Mode.MONITOR);
        assertThat(Mode.parse("off")).isEqualTo(Mode.OFF);
        assertThatThrownBy(() -> Mode.parse("sometimes"))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("reject, defer, monitor, off");
        assertThat(Mode.DEFER.configName()).isEqualTo("defer");
    }
}
