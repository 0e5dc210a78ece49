package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Path;
import java.time.Duration;

import javax.management.MBeanServerConnection;
import javax.management.remote.JMXConnector;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * RelayGuard installed exactly as an operator does (see {@link JamesProcess}): a relay attempt over SMTP,
 * the refusal counter read over James's real JMX connector with the credentials James generated; and an
 * invalid policy file that makes James exit at startup with a message naming file, key and value.
 */
class OperatorWayIT {

    @TempDir
    Path root;

    @Test
    void packagedJarRefusesRelayAndCountsItOverJmx() throws Exception {
        try (JamesProcess james = JamesProcess.install(root)) {
            assertThat(james.extensionJars()).anyMatch(jar -> jar.startsWith("relayguard-") && jar.endsWith(".jar"));
            assertThat(JamesProcess.jamesClasspath())
                .doesNotContain("relayguard-")
                .doesNotContain("target" + File.separator + "classes");
            james.start();
            try (JMXConnector jmx = james.connectJmx()) {
                MBeanServerConnection connection = jmx.getMBeanServerConnection();
                int mxPort = james.boundPort(connection, "smtp-mx");
                try (SmtpClient smtp = SmtpClient.connect(mxPort)) {
                    smtp.ehlo("prober.example");
                    smtp.mailFrom("spammer@prober.example");
                    Reply rcpt = smtp.rcptTo("victim@remote.example");
                    assertThat(rcpt.code()).isEqualTo(550);
                    assertThat(rcpt.enhancedStatus()).isEqualTo("5.7.1");
                }
                assertThat(Metrics.over(connection).meterCount("relayguard.refused.relay.unauthenticated")).isEqualTo(1);
            }
            assertThat(james.log())
                .containsPattern("Loading custom classpath resource .*extensions-jars/relayguard-")
                .contains("reason=relay.unauthenticated");
        }
    }

    @Test
    void invalidPolicyFileMakesJamesExitNamingFileKeyAndValue() throws Exception {
        try (JamesProcess james = JamesProcess.install(root)) {
            james.conf().policy("<network>192.0.2.0/24</network><network>10.0.0.300/8</network>", "");
            james.start();
            assertThat(james.awaitExit(Duration.ofMinutes(3))).isEqualTo(1);
            assertThat(james.log()).contains("relayguard.xml: trustedNetworks.network = '10.0.0.300/8'");
        }
    }
}
