package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;

import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A flood of distinct client IPs and of distinct authenticated users keeps RelayGuard's tracked state within
 * its configured bounds, asserted on the stores' own sizes (read over JMX), not on heap timing.
 */
class MemoryUnderAttackIT {
    private static final int MAX_IPS = 50;
    private static final int MAX_KEYS = 20;

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf.policyXml(
        "<probeBans><refusals>1000</refusals><window>1h</window><banFor>1h</banFor><maxTrackedIps>" + MAX_IPS + "</maxTrackedIps></probeBans>"
            + "<rateLimits><maxTrackedKeys>" + MAX_KEYS + "</maxTrackedKeys>"
            + "<users><limit measure=\"messages\" max=\"100\" per=\"1h\"/></users></rateLimits>"));

    private static Object attribute(String name) throws Exception {
        return ManagementFactory.getPlatformMBeanServer().getAttribute(new ObjectName("org.apache.james:type=extension,name=RelayGuard"), name);
    }

    @Test
    void floodOfClientIpsStaysWithinMaxTrackedIps(GuiceJamesServer server) throws Exception {
        int mx = RelayGuardServers.mxPort(server);
        int maxSeen = 0;
        for (int i = 0; i < 300; i++) {
            String ip = "127.0." + (1 + i / 250) + "." + (1 + i % 250);
            try (SmtpClient smtp = SmtpClient.connectFrom(ip, mx)) {
                smtp.ehlo("flood.example");
                smtp.mailFrom("flood@flood.example");
                assertThat(smtp.rcptTo("victim@remote.example").code()).isEqualTo(550);
            }
            maxSeen = Math.max(maxSeen, (Integer) attribute("TrackedIps"));
        }
        assertThat(maxSeen).isEqualTo(MAX_IPS);
    }

    @Test
    void floodOfUsersStaysWithinMaxTrackedKeys(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        int submission = RelayGuardServers.submissionPort(server);
        long maxSeen = 0;
        for (int i = 0; i < 60; i++) {
            String user = "flood" + i + "@" + RelayGuardServers.DOMAIN;
            data.addUser(user, "pw-" + i);
            try (SmtpClient smtp = SmtpClient.connect(submission)) {
                smtp.ehlo("flood.example");
                smtp.startTls("flood.example");
                assertThat(smtp.authPlain(user, "pw-" + i).code()).isEqualTo(235);
                assertThat(smtp.mailFrom(user).code()).isEqualTo(250);
                assertThat(smtp.rcptTo(user).code()).isEqualTo(250);
                assertThat(smtp.data("From: <" + user + ">\r\nSubject: flood\r\n\r\nflood").code()).isEqualTo(250);
            }
            maxSeen = Math.max(maxSeen, (Long) attribute("TrackedKeys"));
        }
        assertThat(maxSeen).isBetween(1L, (long) MAX_KEYS);
    }
}
