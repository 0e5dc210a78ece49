package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * The built-in fail2ban: a client IP that collects relay refusals is refused at connect on the MX listener,
 * never on submission; an operator lists and lifts bans over JMX. Runs as {@link RelayPolicyIT.ProbeBan}, on the
 * server {@link RelayPolicyIT} shares, with a policy of only these probe-ban settings (reloaded: a reload
 * reconfigures the ban thresholds; 127.0.0.1 starts with no refusals and no ban).
 */
abstract class ProbeBanGroup {
    private static final String BEAN = "org.apache.james:type=extension,name=RelayGuard";

    @BeforeAll
    static void policy() {
        RelayPolicyIT.usePolicy(conf -> conf.policyXml(
            "<probeBans><refusals>3</refusals><window>10m</window><banFor>1h</banFor><maxTrackedIps>1000</maxTrackedIps></probeBans>"));
    }

    @Test
    void probingClientIsBannedOnMxButNotOnSubmissionAndTheOperatorCanLiftTheBan(GuiceJamesServer server) throws Exception {
        int mx = RelayGuardServers.mxPort(server);
        MBeanServer jmx = ManagementFactory.getPlatformMBeanServer();
        ObjectName bean = new ObjectName(BEAN);
        long bannedBefore = Metrics.inProcess().meterCount("relayguard.deferred.probe.banned");

        for (int i = 1; i <= 3; i++) {
            Attempt attempt = Attempt.run(mx, false, null, null, "<p@prober.example>", "<v" + i + "@remote.example>");
            assertThat(attempt.summary()).isEqualTo("RCPT 550 5.7.1");
        }

        try (SmtpClient banned = SmtpClient.connect(mx)) {
            Reply greeting = banned.greeting();
            assertThat(greeting.code()).isEqualTo(421);
            assertThat(greeting.enhancedStatus()).isEqualTo("4.7.0");
            assertThat(greeting.text()).contains("Too many relay attempts");
        }
        assertThat(Metrics.inProcess().meterCount("relayguard.deferred.probe.banned") - bannedBefore).isEqualTo(1);
        assertThat((String[]) jmx.invoke(bean, "bans", new Object[0], new String[0]))
            .singleElement().satisfies(ban -> assertThat(ban).startsWith("127.0.0.1 since "));
        assertThat((Integer) jmx.getAttribute(bean, "TrackedIps")).isEqualTo(1);
        assertThat(((Number) jmx.getAttribute(new ObjectName("metrics:name=relayguard.bans.active,type=gauges"), "Value")).intValue())
            .isEqualTo(1);

        // The submission listener never bans: a user behind the same NAT can still send.
        Attempt user = Attempt.run(RelayGuardServers.submissionPort(server), true,
            RelayGuardServers.DEMO_USER, RelayGuardServers.DEMO_PASSWORD, "<" + RelayGuardServers.DEMO_USER + ">", "<friend@remote.example>");
        assertThat(user.relayed()).as(user.toString()).isTrue();

        assertThat((Boolean) jmx.invoke(bean, "lift", new Object[] {"127.0.0.1"}, new String[] {String.class.getName()})).isTrue();
        try (SmtpClient again = SmtpClient.connect(mx)) {
            assertThat(again.greeting().code()).isEqualTo(220);
        }
        assertThat((String[]) jmx.invoke(bean, "bans", new Object[0], new String[0])).isEmpty();
    }
}
