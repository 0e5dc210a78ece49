package dev.relayguard.guice;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.observe.RefusalRecorder;

/**
 * The startup WARN when logback hides RelayGuard's audit and INFO lines (James's stock logback.xml: root WARN), naming
 * the {@code <logger>} lines to add (issue 15). The levels are set in a logback context of the test's own.
 */
class DarkLogsWarningTest {
    private final Logger warnings = (Logger) LoggerFactory.getLogger(RelayGuardLifecycle.class);
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
    private final LoggerContext operatorsLogback = new LoggerContext();

    @BeforeEach
    void capture() {
        appender.start();
        warnings.addAppender(appender);
    }

    @AfterEach
    void release() {
        warnings.detachAppender(appender);
        operatorsLogback.stop();
    }

    private List<String> warnAbout(Level root, Level audit, Level extension) {
        operatorsLogback.getLogger(Logger.ROOT_LOGGER_NAME).setLevel(root);
        operatorsLogback.getLogger(RefusalRecorder.AUDIT_LOGGER).setLevel(audit);
        operatorsLogback.getLogger(RelayGuardLifecycle.EXTENSION_LOGGER).setLevel(extension);
        RelayGuardLifecycle.warnAboutDarkLogs(operatorsLogback.getLogger(RefusalRecorder.AUDIT_LOGGER),
            operatorsLogback.getLogger(RelayGuardLifecycle.EXTENSION_LOGGER));
        return appender.list.stream().filter(event -> event.getLevel() == Level.WARN)
            .map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
    }

    @Test
    void jamesStockRootWarnGetsOneWarnNamingBothLines() {
        List<String> warned = warnAbout(Level.WARN, null, null);

        assertThat(warned).hasSize(1);
        assertThat(warned.get(0))
            .contains("conf/logback.xml")
            .contains("<logger name=\"relayguard.audit\" level=\"INFO\"/>")
            .contains("<logger name=\"dev.relayguard\" level=\"INFO\"/>");
    }

    @Test
    void onlyTheDarkLoggerIsNamed() {
        List<String> warned = warnAbout(Level.WARN, null, Level.INFO);

        assertThat(warned).hasSize(1);
        assertThat(warned.get(0)).contains("<logger name=\"relayguard.audit\" level=\"INFO\"/>")
            .doesNotContain("<logger name=\"dev.relayguard\"");
    }

    @Test
    void anAuditLoggerAtWarnUnderAnInfoRootIsStillDark() {
        List<String> warned = warnAbout(Level.INFO, Level.WARN, null);

        assertThat(warned).hasSize(1);
        assertThat(warned.get(0)).contains("relayguard.audit").doesNotContain("<logger name=\"dev.relayguard\"");
    }

    @Test
    void nothingWhenBothAreEnabledForInfo() {
        assertThat(warnAbout(Level.WARN, Level.INFO, Level.INFO)).isEmpty();
        assertThat(warnAbout(Level.DEBUG, null, null)).isEmpty();
    }
}
