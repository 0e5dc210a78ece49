package dev.relayguard.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

/**
 * The shipped {@code conf-samples/single-node/logback.xml}, loaded as James loads it: one audit event becomes
 * exactly one console line (found by {@code grep relayguard.audit}, logger names printed whole) and one JSON line,
 * and reaches no appender of the root logger (the audit logger has {@code additivity="false"}), so an appender an
 * operator adds there cannot write it a second time.
 */
class SampleLogbackTest {
    @TempDir
    Path workingDirectory;

    @Test
    void oneAuditEventIsOneConsoleLineAndOneJsonLineAndNoRootAppenderRepeatsIt() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        LoggerContext context = new LoggerContext();
        ListAppender<ILoggingEvent> otherRootAppender = new ListAppender<>();
        try {
            System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
            context.putProperty("working.directory", workingDirectory.toString());
            JoranConfigurator configurator = new JoranConfigurator();
            configurator.setContext(context);
            configurator.doConfigure(Path.of("conf-samples/single-node/logback.xml").toFile());
            // An appender an operator adds to <root> (James's stock LOG_FILE, say) must not repeat the audit line.
            otherRootAppender.setContext(context);
            otherRootAppender.start();
            context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(otherRootAppender);
            context.getLogger(RefusalRecorder.AUDIT_LOGGER).info("outcome=bounce-suppressed path=pipeline why=sender-unverified");
            context.getLogger("dev.relayguard.guice.RelayGuardModule").info("module line");
        } finally {
            context.stop();
            System.setOut(stdout);
        }
        List<String> lines = console.toString(StandardCharsets.UTF_8).lines().collect(Collectors.toList());
        assertThat(lines).filteredOn(line -> line.contains("why=sender-unverified")).singleElement()
            .satisfies(line -> assertThat(line).contains(" relayguard.audit - "));
        assertThat(lines).filteredOn(line -> line.contains("module line")).singleElement()
            .satisfies(line -> assertThat(line).contains(" dev.relayguard.guice.RelayGuardModule - "));
        List<String> json = Files.readAllLines(workingDirectory.resolve("var/log/relayguard-audit.json"));
        assertThat(json).filteredOn(line -> line.contains("why=sender-unverified")).hasSize(1);
        assertThat(otherRootAppender.list).extracting(ILoggingEvent::getLoggerName)
            .containsExactly("dev.relayguard.guice.RelayGuardModule");
    }
}
