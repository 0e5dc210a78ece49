package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
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
}
