package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Hot reload without JMX: RelayGuard notices a changed relayguard.xml (checked every second in the tests,
 * every 10 s in the sample), swaps a valid one in, and refuses an invalid one, keeping the old policy.
 */
class HotReloadIT {
    private static final LogCapture RELAYGUARD_LOG = LogCapture.of("dev.relayguard.RelayGuard");
    private static SampleConf conf;

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(sample -> {
        conf = sample;
        sample.withoutProbeBans();
    });

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
        assertThat(relayAttempt(server)).isEqualTo(550);

        conf.replace("relayguard.xml", "<trustedNetworks/>", "<trustedNetworks><network>127.0.0.0/8</network></trustedNetworks>");
        awaitCode(server, 250);
        assertThat(RELAYGUARD_LOG.lines()).anySatisfy(line -> assertThat(line)
            .startsWith("RelayGuard policy reloaded: trustedNetworks: [] -> [127.0.0.0/8]"));

        conf.replace("relayguard.xml", "<network>127.0.0.0/8</network>", "<network>127.0.0.0/88</network>");
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        while (RELAYGUARD_LOG.linesAt("WARN").stream().noneMatch(line -> line.contains("reload refused"))) {
            assertThat(Instant.now()).isBefore(deadline);
            Thread.sleep(100);
        }
        assertThat(RELAYGUARD_LOG.linesAt("WARN")).anySatisfy(line -> assertThat(line)
            .contains("relayguard.xml", "trustedNetworks.network", "127.0.0.0/88"));
        assertThat(relayAttempt(server)).as("the old policy still holds").isEqualTo(250);

        conf.replace("relayguard.xml", "<trustedNetworks><network>127.0.0.0/88</network></trustedNetworks>", "<trustedNetworks/>");
        awaitCode(server, 550);
    }
}
