package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

/**
 * {@link PolicyDiff}: the policy summary (JMX {@code policySummary}, the reload lines) shows every setting, the
 * suspension of a compromised account included; the WARN when the relay rule goes to monitor mode.
 */
class PolicyDiffTest {
    private static final String MONITOR = "<rules><relay>monitor</relay></rules>";

    private static RelayGuardSettings settings(String policy) {
        byte[] xml = ("<relayguard>" + policy + "</relayguard>").getBytes(UTF_8);
        return PolicyFile.parse(PolicyFile.parseXml(xml, PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    /** Issue 15: the summary (JMX policySummary) shows the suspension of a compromised account, off or on, and its answer. */
    @Test
    void theSummaryShowsTheSuspensionSettingsAndItsAnswer() {
        RelayGuardSettings on = settings("<rateLimits><suspension><hits>5</hits><within>10m</within><suspendFor>2h</suspendFor>"
            + "</suspension></rateLimits><rules><suspendedSender>reject</suspendedSender></rules>");

        assertThat(PolicyDiff.describe(on).get("rateLimits")).endsWith(", suspension={hits=5, within=PT10M, suspendFor=PT2H}}");
        assertThat(PolicyDiff.describe(on).get("rules")).contains("suspendedSender=reject");
        assertThat(PolicyDiff.describe(settings("")).get("rateLimits")).endsWith(", suspension={off}}");
        assertThat(PolicyDiff.describe(settings("")).get("rules")).contains("suspendedSender=defer");
    }

    @Test
    void relayMonitorWarnsWhenItIsTurnedOnAndOnlyThen() {
        RelayGuardSettings reject = settings("");
        RelayGuardSettings monitor = settings(MONITOR);

        assertThat(PolicyDiff.relayMonitorWarning(null, monitor)).hasValueSatisfying(text -> assertThat(text)
            .startsWith("relayguard.xml: <rules><relay>monitor</relay>: relaying is decided by James's <authorizedAddresses>")
            .contains("relayguard.monitored.relay.*"));
        assertThat(PolicyDiff.relayMonitorWarning(reject, monitor)).isPresent();
        assertThat(PolicyDiff.relayMonitorWarning(null, reject)).isEmpty();
        assertThat(PolicyDiff.relayMonitorWarning(monitor, monitor)).as("still on: said already").isEmpty();
        assertThat(PolicyDiff.relayMonitorWarning(monitor, reject)).isEmpty();
        assertThat(PolicyDiff.relayMonitorWarning(null, settings("<rules><relay>defer</relay></rules>"))).isEmpty();
    }

    @Test
    void aReloadThatTurnsRelayMonitorOnLogsTheWarning() {
        AtomicReference<RelayGuardSettings> current = new AtomicReference<>(settings(""));
        PolicyReloader reloader = new PolicyReloader(current::get, current::set);
        Logger logger = (Logger) LoggerFactory.getLogger(PolicyReloader.LOGGER_NAME);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            reloader.source(() -> settings(MONITOR));
            reloader.reload();
            reloader.reload();
        } finally {
            logger.detachAppender(appender);
        }

        List<String> warnings = appender.list.stream().filter(event -> event.getLevel() == Level.WARN)
            .map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0)).contains("<relay>monitor</relay>", "not by RelayGuard's trustedNetworks");
    }

    /** Issue 16 (M4, L4): the local IP literals are in the summary, the reload's changes and the JSON view. */
    @Test
    void localIpLiteralsAreShownAndDiffed() {
        RelayGuardSettings before = settings("");
        RelayGuardSettings after = settings("<localIpLiterals><literal>192.0.2.1</literal><literal>IPv6:2001:db8::1</literal></localIpLiterals>");

        assertThat(PolicyDiff.describe(after)).containsEntry("localIpLiterals", "[192.0.2.1, 2001:db8:0:0:0:0:0:1]");
        assertThat(PolicyDiff.between(before, after)).containsExactly("localIpLiterals: [] -> [192.0.2.1, 2001:db8:0:0:0:0:0:1]");
    }

    @Test
    void theJsonViewHasListsAndObjectsWhereTheSummaryHasText() {
        RelayGuardSettings settings = settings("<trustedNetworks><network>10.0.0.0/8</network></trustedNetworks>"
            + "<relayDomains><domain>b.example</domain><domain>a.example</domain></relayDomains>"
            + "<localIpLiterals><literal>192.0.2.1</literal></localIpLiterals><rules><relay>monitor</relay></rules>");

        Map<String, Object> view = PolicyDiff.view(settings);

        assertThat(view.keySet()).containsExactlyElementsOf(PolicyDiff.describe(settings).keySet());
        assertThat(view.get("trustedNetworks")).isEqualTo(List.of("10.0.0.0/8"));
        assertThat(view.get("relayDomains")).isEqualTo(List.of("a.example", "b.example"));
        assertThat(view.get("localIpLiterals")).isEqualTo(List.of("192.0.2.1"));
        assertThat(view.get("rules")).isInstanceOfSatisfying(Map.class,
            rules -> assertThat(rules).containsEntry("relay", "monitor").containsKey("senderOwnership"));
        assertThat(PolicyDiff.view(settings("")).get("trustedNetworks")).isEqualTo(List.of());
    }
}
