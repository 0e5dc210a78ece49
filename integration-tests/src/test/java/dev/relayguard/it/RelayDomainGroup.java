package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.james.GuiceJamesServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * Backup MX: mail to a configured relay domain is accepted from anyone; other remote domains are not. Runs as
 * {@link RelayPolicyIT.RelayDomain}, on the server {@link RelayPolicyIT} shares, with a policy of only this relay domain.
 */
abstract class RelayDomainGroup {

    @BeforeAll
    static void policy() {
        RelayPolicyIT.usePolicy(conf -> conf.policy("", "<domain>Partner.Example.</domain>"));
    }

    @Test
    void relayDomainAcceptedFromStrangerThroughData(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("sender.example");
            smtp.mailFrom("someone@sender.example");
            assertThat(smtp.rcptTo("boss@partner.example").code()).isEqualTo(250);
            assertThat(smtp.data("Subject: for the partner\r\n\r\nQueued by the backup MX.").code()).isEqualTo(250);
        }
    }

    @Test
    void otherRemoteDomainStillRefusedInTheSameTransaction(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("sender.example");
            smtp.mailFrom("someone@sender.example");
            assertThat(smtp.rcptTo("boss@partner.example").code()).isEqualTo(250);
            Reply other = smtp.rcptTo("victim@elsewhere.example");
            assertThat(other.code()).isEqualTo(550);
            assertThat(other.enhancedStatus()).isEqualTo("5.7.1");
        }
    }
}
