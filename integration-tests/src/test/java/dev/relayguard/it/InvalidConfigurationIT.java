package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Path;
import java.util.function.Consumer;

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
