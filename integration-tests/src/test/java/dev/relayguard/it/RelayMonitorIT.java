package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * {@code <rules><relay>monitor</relay></rules>} on real James 3.8.1: RelayGuard observes, James's own
 * {@code <authorizedAddresses>} decide. The MX listener trusts 127.0.0.1 only ({@code <authorizedAddresses>}); RelayGuard's
 * trustedNetworks cover neither 127.0.0.1 nor 127.0.0.2. A stranger's relay from 127.0.0.1 is relayed (James allows it)
 * and counted as monitored; from 127.0.0.2 James refuses it with its own reply, and it is counted too. Put back to
 * {@code reject} by a reload, RelayGuard refuses again, whatever James's authorizedAddresses say.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RelayMonitorIT {
    private static final String MONITORED = "relayguard.monitored.relay.unauthenticated";
    private static final String REFUSED = "relayguard.refused.relay.unauthenticated";
    private static final String POLICY = "<trustedNetworks><network>192.0.2.0/24</network></trustedNetworks>"
        + "<probeBans><refusals>0</refusals></probeBans>";
    private static final LogCapture AUDIT = LogCapture.of("relayguard.audit");
    private static final LogCapture POLICY_LOG = LogCapture.of("dev.relayguard.RelayGuard");
    private static SampleConf conf;

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(sample -> {
        conf = sample;
        sample.replace("smtpserver.xml", "<jmxName>smtp-mx</jmxName>",
                "<jmxName>smtp-mx</jmxName>\n        <authorizedAddresses>127.0.0.1/32</authorizedAddresses>")
            .policyXml(POLICY + "<rules><relay>monitor</relay></rules>");
    });

    @Test
    @Order(1)
    void startupWarnedThatJamesDecidesRelaying(GuiceJamesServer server) {
        assertThat(POLICY_LOG.linesAt("WARN")).filteredOn(line -> line.contains("<relay>monitor</relay>"))
            .singleElement()
            .satisfies(line -> assertThat(line).contains("relaying is decided by James's <authorizedAddresses>"));
    }

    @Test
    @Order(2)
    void aStrangerJamesAuthorizesRelaysAndIsCountedAndLogged(GuiceJamesServer server) throws Exception {
        // The sample refuses unknown local recipients at RCPT (ValidRcptHandler): the local recipient must exist.
        DataProbeImpl users = server.getProbe(DataProbeImpl.class);
        if (!Arrays.asList(users.listUsers()).contains(RelayGuardServers.DEMO_USER)) {
            users.fluent().addUser(RelayGuardServers.DEMO_USER, RelayGuardServers.DEMO_PASSWORD);
        }
        long before = Metrics.inProcess().meterCount(MONITORED);
        int lines = AUDIT.lines().size();
        try (SmtpClient smtp = SmtpClient.connectFrom("127.0.0.1", RelayGuardServers.mxPort(server))) {
            smtp.ehlo("authorized.example");
            assertThat(smtp.mailFrom("someone@sender.example").code()).isEqualTo(250);
            Reply rcpt = smtp.rcptTo("victim@remote.example");
            assertThat(rcpt.code()).as(rcpt.toString()).isEqualTo(250);
            assertThat(smtp.rcptTo(RelayGuardServers.DEMO_USER).code()).as("a local recipient is no monitored relay").isEqualTo(250);
            smtp.command("RSET");
        }
        assertThat(Metrics.inProcess().meterCount(MONITORED) - before).isEqualTo(1);
        assertThat(AUDIT.lines().subList(lines, AUDIT.lines().size())).singleElement()
            .satisfies(line -> assertThat(line).contains("outcome=monitored", "reason=relay.unauthenticated",
                "victim@remote.example", "reply=\"550 5.7.1 Relaying denied"));
    }

    @Test
    @Order(3)
    void aStrangerJamesDoesNotAuthorizeGetsJamesOwnRefusalAndIsCounted(GuiceJamesServer server) throws Exception {
        long monitoredBefore = Metrics.inProcess().meterCount(MONITORED);
        long refusedBefore = Metrics.inProcess().meterCount(REFUSED);
        try (SmtpClient smtp = SmtpClient.connectFrom("127.0.0.2", RelayGuardServers.mxPort(server))) {
            smtp.ehlo("stranger.example");
            smtp.mailFrom("someone@sender.example");
            Reply rcpt = smtp.rcptTo("victim@remote.example");
            assertThat(rcpt.code()).as(rcpt.toString()).isEqualTo(550);
            assertThat(rcpt.text()).as("James's reply, not RelayGuard's").contains("Requested action not taken: relaying denied")
                .doesNotContain("Relaying denied:");
        }
        assertThat(Metrics.inProcess().meterCount(MONITORED) - monitoredBefore).isEqualTo(1);
        assertThat(Metrics.inProcess().meterCount(REFUSED) - refusedBefore).isZero();
    }

    @Test
    @Order(4)
    void backToRejectRelayGuardRefusesWhatJamesWouldAllow(GuiceJamesServer server) throws Exception {
        conf.policyXml(POLICY + "<rules><relay>reject</relay></rules>");
        List<String> changes = List.of((String[]) RelayPolicyIT.invoke("reload", new Object[0], new String[0]));
        assertThat(changes).anyMatch(change -> change.startsWith("rules:"));
        long before = Metrics.inProcess().meterCount(REFUSED);
        try (SmtpClient smtp = SmtpClient.connectFrom("127.0.0.1", RelayGuardServers.mxPort(server))) {
            smtp.ehlo("authorized.example");
            smtp.mailFrom("someone@sender.example");
            Reply rcpt = smtp.rcptTo("victim@remote.example");
            assertThat(rcpt.code()).as(rcpt.toString()).isEqualTo(550);
            assertThat(rcpt.enhancedStatus()).isEqualTo("5.7.1");
            assertThat(rcpt.text()).contains("Relaying denied: remote.example is not served here");
        }
        assertThat(Metrics.inProcess().meterCount(REFUSED) - before).isEqualTo(1);
    }
}
