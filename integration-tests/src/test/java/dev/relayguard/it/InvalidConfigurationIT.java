package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

import org.apache.james.GuiceJamesServer;
import org.apache.james.MemoryJamesServerMain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Invalid RelayGuard configuration stops James at startup, with a message naming file, key and value: one
 * failing start per door RelayGuard reads configuration through (the policy file, the SMTP handler's
 * parameters, a matcher's condition, a mailet's parameters). What each door refuses is unit-tested:
 * {@code PolicyFileTest}, {@code PolicyFileHardeningTest}, {@code PolicyFileReadingTest} and
 * {@code PolicyFileErrorsTest} for the policy file (unknown keys, relay domains, malformed XML, rate limits).
 *
 * <p>Issue 15's startup diagnostics: a missing {@code extensions.properties} line stops James naming the line and
 * the file, whether the mailet container or only the SMTP handler needs RelayGuard; malformed XML is named with its
 * line; a submission listener where James hides AUTH is one WARN (unit-tested in {@code SmtpServerXmlChecksTest}).
 */
class InvalidConfigurationIT {

    @TempDir
    Path tmp;

    @Test
    void badCidrStopsJames() {
        assertThat(startupFailure(conf -> conf.policy("<network>10.0.0.0/33</network>", "")))
            .contains("relayguard.xml", "trustedNetworks.network", "10.0.0.0/33", "prefix length");
    }

    @Test
    void matcherConditionWhereNoneIsTakenStopsJames() {
        assertThat(startupFailure(conf -> conf.replace("mailetcontainer.xml",
            "match=\"dev.relayguard.mailet.IsRelayDenied\"", "match=\"dev.relayguard.mailet.IsRelayDenied=everyone\"")))
            .contains("IsRelayDenied takes no condition", "everyone");
    }

    @Test
    void badMailetParameterStopsJames() {
        assertThat(startupFailure(conf -> conf.replace("mailetcontainer.xml",
            "<mailet match=\"dev.relayguard.mailet.IsRelayDenied\" class=\"dev.relayguard.mailet.RefuseRelay\"/>",
            "<mailet match=\"dev.relayguard.mailet.IsRelayDenied\" class=\"dev.relayguard.mailet.RefuseRelay\"><bounce>maybe</bounce></mailet>")))
            .contains("RefuseRelay", "bounce", "maybe");
    }

    @Test
    void unknownHandlerKeyStopsJames() {
        assertThat(startupFailure(conf -> conf.replace("smtpserver.xml", "<role>mx</role>", "<role>mx</role><rol>submission</rol>")))
            .contains("smtpserver.xml", "rol", "submission", "unknown key");
    }

    private static final Pattern RELAYGUARD_MAILET =
        Pattern.compile("\\s*<mailet [^>]*dev\\.relayguard\\.[^>]*?(/>|>.*?</mailet>)", Pattern.DOTALL);
    private static final Pattern RELAYGUARD_HANDLER =
        Pattern.compile("\\s*<handler class=\"dev\\.relayguard\\.smtp\\.RelayGuardHandler\"\\s*(/>|>.*?</handler>)", Pattern.DOTALL);
    private static final Pattern EXTENSION_LINE = Pattern.compile("(?m)^guice\\.extension\\.module=.*$");
    private static final String MISSING_LINE = "guice.extension.module=dev.relayguard.guice.RelayGuardModule";

    @Test
    void missingExtensionLineWithRelayGuardMailetsNamesTheLineAndFile() {
        String failure = startupFailure(conf -> {
            edit(conf, "extensions.properties", text -> EXTENSION_LINE.matcher(text).replaceAll(""));
            edit(conf, "smtpserver.xml", text -> RELAYGUARD_HANDLER.matcher(text).replaceAll(""));
        });

        assertThat(failure).contains("conf/extensions.properties", "\"" + MISSING_LINE + "\"")
            .doesNotContain("No injectable constructor");
    }

    @Test
    void missingExtensionLineWithOnlyTheSmtpHandlerNamesTheLineAndFile() {
        String failure = startupFailure(conf -> {
            edit(conf, "extensions.properties", text -> EXTENSION_LINE.matcher(text).replaceAll(""));
            edit(conf, "mailetcontainer.xml", text -> RELAYGUARD_MAILET.matcher(text).replaceAll(""));
            edit(conf, "webadmin.properties", text -> text.replace(",dev.relayguard.webadmin.RelayGuardRoutes", ""));
        });

        assertThat(failure).contains("conf/extensions.properties", "\"" + MISSING_LINE + "\"", "RelayGuardHandler")
            .doesNotContain("No injectable constructor");
    }

    @Test
    void malformedPolicyFileNamesTheFileAndLine() {
        String failure = startupFailure(conf -> conf.write("relayguard.xml", "<relayguard>\n  <trustedNetworks>\n</relayguard>\n"));

        assertThat(failure).contains("relayguard.xml: cannot be read as XML: line 3, column 3:").doesNotContain("Error parsing null");
    }

    /** The packaged jar in a James of its own (extensions-jars): the same message, and James exits. */
    @Test
    void missingExtensionLineMakesThePackagedJamesExitNamingTheLine() throws Exception {
        try (JamesProcess james = JamesProcess.install(tmp.resolve("james"))) {
            edit(james.conf(), "extensions.properties", text -> EXTENSION_LINE.matcher(text).replaceAll(""));
            james.start();

            assertThat(james.awaitExit(Duration.ofMinutes(3))).isEqualTo(1);
            assertThat(james.log()).contains("conf/extensions.properties: lacks the line \"" + MISSING_LINE + "\"")
                .doesNotContain("No injectable constructor");
        }
    }

    /** James's stock logback.xml (root WARN, no RelayGuard logger): one WARN at startup naming the lines to add. */
    @Test
    void stockLogbackRootWarnIsWarnedAboutOnceNamingTheLines() throws Exception {
        try (JamesProcess james = JamesProcess.install(tmp.resolve("james"))) {
            james.conf().write("logback.xml", "<configuration>"
                + "<appender name=\"CONSOLE\" class=\"ch.qos.logback.core.ConsoleAppender\">"
                + "<encoder><pattern>%d{HH:mm:ss.SSS} [%-5level] %logger{15} - %msg%n%rEx</pattern></encoder></appender>"
                + "<root level=\"WARN\"><appender-ref ref=\"CONSOLE\"/></root></configuration>");
            james.start();
            james.connectJmx().close(); // James has started

            String log = james.log();
            assertThat(log).containsOnlyOnce("RelayGuard's audit and INFO lines are not written")
                .contains("Add inside <configuration> in conf/logback.xml: <logger name=\"relayguard.audit\" level=\"INFO\"/>"
                    + " <logger name=\"dev.relayguard\" level=\"INFO\"/>");
        }
    }

    /** James itself then fails on the same file (its own message, not RelayGuard's); RelayGuard's WARN names the line. */
    @Test
    void malformedSmtpserverXmlIsNamedWithItsLineByRelayGuard() {
        LogCapture warnings = LogCapture.of("dev.relayguard.guice.RelayGuardModule");

        startupFailure(conf -> edit(conf, "smtpserver.xml", text -> text.replaceFirst("</jmxName>", "</jmxNam>")));

        assertThat(warnings.linesAt("WARN")).filteredOn(line -> line.startsWith("RelayGuard could not read smtpserver.xml"))
            .singleElement().asString().containsPattern("line \\d+, column \\d+: ").doesNotContain("Error parsing null");
    }

    @Test
    void submissionListenerHidingAuthFromAuthorizedAddressesIsWarnedAtStartup() throws Exception {
        SampleConf conf = SampleConf.copyTo(tmp.resolve("conf"));
        edit(conf, "smtpserver.xml", text -> {
            int submission = text.indexOf("<jmxName>smtp-submission</jmxName>");
            String tail = text.substring(submission).replaceFirst("<announce>\\w+</announce>",
                "<announce>forUnauthorizedAddresses</announce>").replaceFirst("<auth>", "<authorizedAddresses>127.0.0.0/8</authorizedAddresses><auth>");
            return text.substring(0, submission) + tail;
        });
        LogCapture warnings = LogCapture.of("dev.relayguard.guice.RelayGuardModule");
        GuiceJamesServer server = MemoryJamesServerMain.createServer(RelayGuardServers.configuration(tmp, conf.dir()));
        try {
            server.start();
        } finally {
            server.stop();
        }

        List<String> warned = warnings.linesAt("WARN");
        assertThat(warned).filteredOn(line -> line.contains("does not offer AUTH")).singleElement().asString()
            .startsWith("smtpserver.xml listener 'smtp-submission'")
            .contains("<auth><announce>forUnauthorizedAddresses</announce> with <authorizedAddresses>127.0.0.0/8</authorizedAddresses>",
                "Fix: set <auth><announce>always</announce></auth>");
    }

    private static void edit(SampleConf conf, String file, UnaryOperator<String> change) {
        Path path = conf.dir().resolve(file);
        try {
            String before = Files.readString(path, StandardCharsets.UTF_8);
            String after = change.apply(before);
            if (after.equals(before)) {
                throw new IllegalStateException(file + " unchanged: the sample no longer has what this test edits");
            }
            Files.writeString(path, after, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String startupFailure(Consumer<SampleConf> edits) {
        SampleConf conf = SampleConf.copyTo(tmp.resolve("conf"));
        edits.accept(conf);
        GuiceJamesServer server = MemoryJamesServerMain.createServer(RelayGuardServers.configuration(tmp, conf.dir()));
        try {
            server.start();
            fail("James started with an invalid configuration");
            return null;
        } catch (Exception e) {
            return causeChain(e);
        } finally {
            server.stop();
        }
    }

    private static String causeChain(Throwable e) {
        StringBuilder messages = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            messages.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage()).append('\n');
        }
        return messages.toString();
    }
}
