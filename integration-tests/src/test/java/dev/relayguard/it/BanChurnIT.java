package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;

import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * A probe ban outlives churn (issue 11): with maxTrackedIps 20, a banned client stays banned while 300 other
 * addresses each collect a relay refusal, which used to push the ban out of the tracker; the tracker stays bounded.
 */
class BanChurnIT {
    private static final int MAX_IPS = 20;
    private static final String PROBER = "127.0.0.9";

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf.policyXml(
        "<probeBans><refusals>3</refusals><window>10m</window><banFor>1h</banFor><maxTrackedIps>" + MAX_IPS
            + "</maxTrackedIps></probeBans>"));

    private static Object attribute(String name) throws Exception {
        return ManagementFactory.getPlatformMBeanServer().getAttribute(new ObjectName("org.apache.james:type=extension,name=RelayGuard"), name);
    }

    private static int refuseOneRelay(String ip, int mx) throws Exception {
        try (SmtpClient smtp = SmtpClient.connectFrom(ip, mx)) {
            if (smtp.greeting().code() != 220) {
                return smtp.greeting().code();
            }
            smtp.ehlo("churn.example");
            smtp.mailFrom("churn@churn.example");
            return smtp.rcptTo("victim@remote.example").code();
        }
    }

    @Test
    void anActiveBanSurvivesRefusalsFromManyOtherAddresses(GuiceJamesServer server) throws Exception {
        int mx = RelayGuardServers.mxPort(server);
        for (int i = 0; i < 3; i++) {
            assertThat(refuseOneRelay(PROBER, mx)).isEqualTo(550);
        }
        try (SmtpClient banned = SmtpClient.connectFrom(PROBER, mx)) {
            assertThat(banned.greeting().code()).isEqualTo(421);
        }

        int maxTracked = 0;
        for (int i = 0; i < 300; i++) {
            assertThat(refuseOneRelay("127.0." + (1 + i / 250) + "." + (1 + i % 250), mx)).isEqualTo(550);
            maxTracked = Math.max(maxTracked, (Integer) attribute("TrackedIps"));
        }

        try (SmtpClient stillBanned = SmtpClient.connectFrom(PROBER, mx)) {
            Reply greeting = stillBanned.greeting();
            assertThat(greeting.code()).isEqualTo(421);
            assertThat(greeting.enhancedStatus()).isEqualTo("4.7.0");
        }
        assertThat(maxTracked).isEqualTo(MAX_IPS + 1); // 20 collecting refusals + the one ban
        assertThat((Integer) attribute("ActiveBans")).isEqualTo(1);
        assertThat((Long) attribute("DroppedBans")).isZero();
    }
}
