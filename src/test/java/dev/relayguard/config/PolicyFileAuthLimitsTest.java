package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import dev.relayguard.core.AuthLimits;

/** The {@code <authLimits>} element of relayguard.xml: defaults, every key, and each error naming file, key and value. */
class PolicyFileAuthLimitsTest {

    private static RelayGuardSettings parse(String authLimitsBody) {
        String xml = "<relayguard>" + (authLimitsBody == null ? "" : "<authLimits>" + authLimitsBody + "</authLimits>")
            + "</relayguard>";
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    @Test
    void withoutTheElementTheDefaultsApply() {
        AuthLimits limits = parse(null).authLimits();

        assertThat(limits.maxFailuresPerConnection()).isEqualTo(3);
        assertThat(limits.clientBan().failures()).isEqualTo(10);
        assertThat(limits.clientBan().within()).isEqualTo(Duration.ofMinutes(10));
        assertThat(limits.clientBan().blockFor()).isEqualTo(Duration.ofHours(1));
        assertThat(limits.accountThrottle().failures()).isEqualTo(5);
        assertThat(limits.accountThrottle().within()).isEqualTo(Duration.ofMinutes(15));
        assertThat(limits.accountThrottle().blockFor()).isEqualTo(Duration.ofMinutes(15));
        assertThat(limits.knownClientsPerAccount()).isEqualTo(10);
        assertThat(limits.rememberKnownClientsFor()).isEqualTo(Duration.ofDays(30));
        assertThat(limits.successAfterFailures()).isEqualTo(3);
        assertThat(limits.suspendAfterSuspiciousSuccess()).isZero();
        assertThat(limits.maxTrackedClients()).isEqualTo(100_000);
        assertThat(limits.maxTrackedAccounts()).isEqualTo(100_000);
        assertThat(parse("").authLimits().toString()).as("an empty element").isEqualTo(AuthLimits.DEFAULT.toString());
    }

    @Test
    void everyKeyIsRead() {
        AuthLimits limits = parse("<maxFailuresPerConnection>4</maxFailuresPerConnection>"
            + "<clientBan><failures>11</failures><within>20m</within><banFor>2h</banFor></clientBan>"
            + "<accountThrottle><failures>6</failures><within>30m</within><throttleFor>45m</throttleFor></accountThrottle>"
            + "<knownClients><perAccount>7</perAccount><rememberFor>60d</rememberFor></knownClients>"
            + "<successAfterFailures><failures>5</failures><suspendFor>3h</suspendFor></successAfterFailures>"
            + "<maxTrackedClients>1234</maxTrackedClients><maxTrackedAccounts>5678</maxTrackedAccounts>").authLimits();

        assertThat(limits.maxFailuresPerConnection()).isEqualTo(4);
        assertThat(limits.clientBan().failures()).isEqualTo(11);
        assertThat(limits.clientBan().within()).isEqualTo(Duration.ofMinutes(20));
        assertThat(limits.clientBan().blockFor()).isEqualTo(Duration.ofHours(2));
        assertThat(limits.accountThrottle().failures()).isEqualTo(6);
        assertThat(limits.accountThrottle().within()).isEqualTo(Duration.ofMinutes(30));
        assertThat(limits.accountThrottle().blockFor()).isEqualTo(Duration.ofMinutes(45));
        assertThat(limits.knownClientsPerAccount()).isEqualTo(7);
        assertThat(limits.rememberKnownClientsFor()).isEqualTo(Duration.ofDays(60));
        assertThat(limits.successAfterFailures()).isEqualTo(5);
        assertThat(limits.suspendAfterSuspiciousSuccess()).isEqualTo(Duration.ofHours(3));
        assertThat(limits.maxTrackedClients()).isEqualTo(1234);
        assertThat(limits.maxTrackedAccounts()).isEqualTo(5678);
        assertThat(limits.accountHistory()).as("the larger of the throttle (6) and the signal (5)").isEqualTo(6);
    }

    @Test
    void zeroSwitchesARuleOffAndZeroDurationsAreAcceptedWhereTheyMeanNothingHeld() {
        AuthLimits limits = parse("<maxFailuresPerConnection>0</maxFailuresPerConnection>"
            + "<clientBan><failures>0</failures><banFor>0s</banFor></clientBan>"
            + "<accountThrottle><failures>0</failures><throttleFor>0</throttleFor></accountThrottle>"
            + "<successAfterFailures><failures>0</failures><suspendFor>0s</suspendFor></successAfterFailures>").authLimits();

        assertThat(limits.maxFailuresPerConnection()).isZero();
        assertThat(limits.clientBan().enabled()).isFalse();
        assertThat(limits.accountThrottle().enabled()).isFalse();
        assertThat(limits.clientBan().blockFor()).isZero();
        assertThat(limits.successAfterFailures()).isZero();
        assertThat(limits.accountHistory()).isZero();
        assertThat(limits.toString()).contains("clientBan={off}", "accountThrottle={off}");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "<maxFailuresPerConnection>-1</maxFailuresPerConnection> | authLimits.maxFailuresPerConnection | -1 | must not be negative",
        "<maxFailuresPerConnection>three</maxFailuresPerConnection> | authLimits.maxFailuresPerConnection | three | not a whole number",
        "<clientBan><failures>-2</failures></clientBan> | authLimits.clientBan.failures | -2 | must not be negative",
        "<clientBan><within>0s</within></clientBan> | authLimits.clientBan.within | 0s | must be longer than 0",
        "<clientBan><within>soon</within></clientBan> | authLimits.clientBan.within | soon | not a duration",
        "<clientBan><banFor>-5m</banFor></clientBan> | authLimits.clientBan.banFor | -5m | not a duration",
        "<accountThrottle><failures>x</failures></accountThrottle> | authLimits.accountThrottle.failures | x | not a whole number",
        "<accountThrottle><within>0</within></accountThrottle> | authLimits.accountThrottle.within | 0 | must be longer than 0",
        "<accountThrottle><throttleFor>later</throttleFor></accountThrottle> | authLimits.accountThrottle.throttleFor | later | not a duration",
        "<knownClients><perAccount>0</perAccount></knownClients> | authLimits.knownClients.perAccount | 0 | must be at least 1",
        "<knownClients><rememberFor>0d</rememberFor></knownClients> | authLimits.knownClients.rememberFor | 0d | must be longer than 0",
        "<successAfterFailures><failures>-1</failures></successAfterFailures> | authLimits.successAfterFailures.failures | -1 | must not be negative",
        "<successAfterFailures><suspendFor>1 fortnight</suspendFor></successAfterFailures> | authLimits.successAfterFailures.suspendFor | 1 fortnight | not a duration",
        "<successAfterFailures><failures>5</failures></successAfterFailures> | authLimits.successAfterFailures.failures | 5 | must be below authLimits.accountThrottle.failures (5)",
        "<maxTrackedClients>0</maxTrackedClients> | authLimits.maxTrackedClients | 0 | must be at least 1",
        "<maxTrackedAccounts>99999999999</maxTrackedAccounts> | authLimits.maxTrackedAccounts | 99999999999 | must be at most 2147483647",
    })
    void anInvalidValueIsNamedWithFileKeyAndValue(String body, String key, String value, String problem) {
        assertThatThrownBy(() -> parse(body))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: " + key + " = '" + value + "': ")
            .hasMessageContaining(problem == null ? "" : problem);
    }

    @Test
    void aKeyGivenTwiceIsRefused() {
        assertThatThrownBy(() -> parse("<maxFailuresPerConnection>3</maxFailuresPerConnection>"
            + "<maxFailuresPerConnection>5</maxFailuresPerConnection>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessage("relayguard.xml: authLimits.maxFailuresPerConnection = '[3, 5]': given 2 times;"
                + " a setting takes one value (keep one element)");
        assertThatThrownBy(() -> parse("<clientBan><failures>1</failures></clientBan><clientBan><failures>2</failures></clientBan>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: authLimits.clientBan.failures = '[1, 2]': given 2 times");
    }

    @Test
    void anUnknownKeyUnderAuthLimitsIsRefused() {
        assertThatThrownBy(() -> parse("<maxFailures>3</maxFailures>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: authLimits.maxFailures = '3': unknown key (known: ")
            .hasMessageContaining("authLimits.maxFailuresPerConnection");
        assertThatThrownBy(() -> parse("<clientBan><failures>3</failures><window>10m</window></clientBan>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: authLimits.clientBan.window = '10m': unknown key");
    }

    @Test
    void thePolicySummaryAndTheReloadDiffShowTheAuthLimits() {
        RelayGuardSettings before = parse(null);
        RelayGuardSettings after = parse("<clientBan><failures>4</failures></clientBan>");

        assertThat(PolicyDiff.describe(before)).containsEntry("authLimits", AuthLimits.DEFAULT.toString());
        assertThat(PolicyDiff.between(before, after)).singleElement().asString()
            .startsWith("authLimits: ")
            .contains("clientBan={failures=10, within=PT10M, for=PT1H}")
            .contains("-> {maxFailuresPerConnection=3, clientBan={failures=4, within=PT10M, for=PT1H}");
        assertThat(PolicyDiff.between(before, parse(""))).as("an empty element is the defaults").isEmpty();
    }
}
