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

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;

/**
 * The shipped {@code conf-samples/single-node/logback.xml}, loaded as James loads it: one audit event becomes
 * exactly one console line (found by {@code grep relayguard.audit}, logger names printed whole) and one JSON line.
 */
class SampleLogbackTest {
    @TempDir
    Path workingDirectory;

    @Test
    void oneAuditEventIsOneConsoleLineAndOneJsonLine() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        LoggerContext context = new LoggerContext();
        try {
            System.setOut(new PrintStream(console, true, StandardCharsets.UTF_8));
            context.putProperty("working.directory", workingDirectory.toString());
            JoranConfigurator configurator = new JoranConfigurator();
            configurator.setContext(context);
            configurator.doConfigure(Path.of("conf-samples/single-node/logback.xml").toFile());
            context.getLogger(RefusalRecorder.AUDIT_LOGGER).info("outcome=bounce-suppressed path=pipeline why=sender-unverified");
            context.getLogger("dev.relayguard.guice.RelayGuardModule").info("module line");
        } finally {
            context.stop();
            System.setOut(stdout);
        }
        List<String> lines = console.toString(StandardCharsets.UTF_8).lines().collect(Collectors.toList());
        System.out.println(lines);
        assertThat(lines).filteredOn(line -> line.contains("why=sender-unverified")).singleElement()
            .satisfies(line -> assertThat(line).contains(" relayguard.audit - "));
        assertThat(lines).filteredOn(line -> line.contains("module line")).singleElement()
            .satisfies(line -> assertThat(line).contains(" dev.relayguard.guice.RelayGuardModule - "));
        List<String> json = Files.readAllLines(workingDirectory.resolve("var/log/relayguard-audit.json"));
        System.out.println(json);
        assertThat(json).filteredOn(line -> line.contains("why=sender-unverified")).hasSize(1);
    }
}
