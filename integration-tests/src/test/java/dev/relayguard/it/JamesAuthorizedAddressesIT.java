package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * The classic Docker/NAT mistake: James's authorizedAddresses trusts 0.0.0.0/0, RelayGuard's trustedNetworks
 * is empty. RelayGuard still refuses the outsider, and said so at startup.
 */
class JamesAuthorizedAddressesIT {
    private static final String REFUSED_METRIC = "relayguard.refused.relay.unauthenticated";
    private static final LogCapture MODULE_LOG = LogCapture.of("dev.relayguard.guice.RelayGuardModule");

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf ->
        conf.replace("smtpserver.xml", "<jmxName>smtp-mx</jmxName>",
            "<jmxName>smtp-mx</jmxName>\n        <authorizedAddresses>0.0.0.0/0, 127.0.0.0/8</authorizedAddresses>"));

    @BeforeAll
    static void demoUser(GuiceJamesServer server) throws Exception {
        // The local recipient must exist: the sample's ValidRcptHandler refuses unknown users (550 5.1.1).
        server.getProbe(DataProbeImpl.class).fluent().addUser(RelayGuardServers.DEMO_USER, RelayGuardServers.DEMO_PASSWORD);
    }

    @Test
    void outsiderIsRefusedDespiteJamesTrustingEveryone(GuiceJamesServer server) throws Exception {
        long before = Metrics.inProcess().meterCount(REFUSED_METRIC);
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("docker-nat.example");
            smtp.mailFrom("spammer@prober.example");
            Reply rcpt = smtp.rcptTo("victim@remote.example");
            assertThat(rcpt.code()).isEqualTo(550);
            assertThat(rcpt.enhancedStatus()).isEqualTo("5.7.1");
            // The same session may still deliver locally.
            assertThat(smtp.rcptTo(RelayGuardServers.DEMO_USER).code()).isEqualTo(250);
        }
        assertThat(Metrics.inProcess().meterCount(REFUSED_METRIC) - before).isEqualTo(1);
    }

    @Test
    void startupWarnedOnceNamingTheMismatch() {
        assertThat(MODULE_LOG.linesAt("WARN"))
            .filteredOn(line -> line.contains("authorizedAddresses"))
            .singleElement()
            .satisfies(line -> assertThat(line).contains("smtp-mx", "0.0.0.0/0", "127.0.0.0/8", "relayguard.xml"));
    }
}
