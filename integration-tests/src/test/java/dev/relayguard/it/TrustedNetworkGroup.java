package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.james.GuiceJamesServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * RelayGuard's trustedNetworks is the authority: a network it trusts relays without AUTH even though James's
 * own authorizedAddresses (absent in the sample) trusts nobody. Runs as {@link RelayPolicyIT.TrustedNetwork}, on
 * the server {@link RelayPolicyIT} shares, with a policy of only these trusted networks.
 */
abstract class TrustedNetworkGroup {
    private static final String REFUSED_METRIC = "relayguard.refused.relay.unauthenticated";

    @BeforeAll
    static void policy() {
        RelayPolicyIT.usePolicy(conf -> conf.policy("<network>127.0.0.0/8</network><network>::1/128</network>", ""));
    }

    @Test
    void trustedClientRelaysThroughDataWithoutAuth(GuiceJamesServer server) throws Exception {
        long before = Metrics.inProcess().meterCount(REFUSED_METRIC);
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("app-server.internal");
            assertThat(smtp.mailFrom("app@internal.example").code()).isEqualTo(250);
            assertThat(smtp.rcptTo("customer@remote.example").code()).isEqualTo(250);
            assertThat(smtp.data("Subject: invoice\r\n\r\nFrom a trusted application server.").code()).isEqualTo(250);
        }
        assertThat(Metrics.inProcess().meterCount(REFUSED_METRIC)).isEqualTo(before);
    }
}
