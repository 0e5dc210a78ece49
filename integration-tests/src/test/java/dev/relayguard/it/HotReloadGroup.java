package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.apache.james.GuiceJamesServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hot reload without JMX: RelayGuard notices a changed relayguard.xml (checked every second in the tests,
 * every 10 s in the sample), swaps a valid one in, and refuses an invalid one, keeping the old policy. Runs as
 * {@link RelayPolicyIT.HotReload}, on the server {@link RelayPolicyIT} shares, from the sample (probe bans off); it
 * looks only at log lines written after it starts.
 */
abstract class HotReloadGroup {
    private static final LogCapture RELAYGUARD_LOG = LogCapture.of("dev.relayguard.RelayGuard");

    @BeforeAll
    static void samplePolicy() {
        RelayPolicyIT.useSamplePolicy();
    }

    private static int relayAttempt(GuiceJamesServer server) throws Exception {
        return Attempt.run(RelayGuardServers.mxPort(server), false, null, null, "<app@internal.example>", "<customer@remote.example>")
            .reply().code();
    }

    private static void awaitCode(GuiceJamesServer server, int expected) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        int code;
        while ((code = relayAttempt(server)) != expected) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("still " + code + ", expected " + expected);
            }
            Thread.sleep(250);
        }
    }

    @Test
    void changedPolicyFileIsPickedUpAndABrokenOneIsRefused(GuiceJamesServer server) throws Exception {
        SampleConf conf = RelayPolicyIT.conf();
        int lines = RELAYGUARD_LOG.lines().size();
        int warnings = RELAYGUARD_LOG.linesAt("WARN").size();
        assertThat(relayAttempt(server)).isEqualTo(550);

        conf.replace("relayguard.xml", "<trustedNetworks/>", "<trustedNetworks><network>127.0.0.0/8</network></trustedNetworks>");
        awaitCode(server, 250);
        assertThat(since(RELAYGUARD_LOG.lines(), lines)).anySatisfy(line -> assertThat(line)
            .startsWith("RelayGuard policy reloaded: trustedNetworks: [] -> [127.0.0.0/8]"));

        conf.replace("relayguard.xml", "<network>127.0.0.0/8</network>", "<network>127.0.0.0/88</network>");
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        while (since(RELAYGUARD_LOG.linesAt("WARN"), warnings).stream()
            .noneMatch(line -> line.contains("reload refused") && line.contains("127.0.0.0/88"))) {
            assertThat(Instant.now()).isBefore(deadline);
            Thread.sleep(100);
        }
        assertThat(since(RELAYGUARD_LOG.linesAt("WARN"), warnings)).anySatisfy(line -> assertThat(line)
            .contains("relayguard.xml", "trustedNetworks.network", "127.0.0.0/88"));
        assertThat(relayAttempt(server)).as("the old policy still holds").isEqualTo(250);

        conf.replace("relayguard.xml", "<trustedNetworks><network>127.0.0.0/88</network></trustedNetworks>", "<trustedNetworks/>");
        awaitCode(server, 550);
    }

    private static List<String> since(List<String> lines, int from) {
        return lines.subList(from, lines.size());
    }
}
