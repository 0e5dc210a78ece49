package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.apache.james.GuiceJamesServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A safe roll-out: rules in defer mode answer 4xx with the same enhanced status class, rules in monitor mode
 * let the command through but count and log "would have refused". Metrics keep the three outcomes apart. Runs as
 * {@link RelayPolicyIT.RefusalModes}, on the server {@link RelayPolicyIT} shares, with a policy of only these modes.
 */
abstract class RefusalModesGroup {
    private static final LogCapture AUDIT = LogCapture.of("relayguard.audit");

    @BeforeAll
    static void policy() {
        RelayPolicyIT.usePolicy(conf -> conf.policyXml(
            "<rules><relay>defer</relay><percentHack>monitor</percentHack><submissionAuth>defer</submissionAuth></rules>"
                + "<probeBans><refusals>0</refusals></probeBans>"));
    }

    @Test
    void relayRuleInDeferModeAnswers450(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        Attempt attempt = Attempt.run(RelayGuardServers.mxPort(server), false, null, null, "<a@sender.example>", "<b@remote.example>");
        assertThat(attempt.summary()).isEqualTo("RCPT 450 4.7.1");
        assertThat(attempt.reply().text()).contains("Relaying denied");
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.deferred.relay.unauthenticated", 1L));
    }

    @Test
    void percentHackInMonitorModeIsAcceptedCountedAndLogged(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        int lines = AUDIT.lines().size();
        Attempt attempt = Attempt.run(RelayGuardServers.mxPort(server), false, null, null, "<a@sender.example>",
            "<someone%remote.example@relayguard.test>");
        assertThat(attempt.step()).as(attempt.toString()).isEqualTo("DATA");
        assertThat(attempt.reply().code()).isEqualTo(250);
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.monitored.routing.percent-hack", 1L));
        assertThat(AUDIT.lines().subList(lines, AUDIT.lines().size()))
            .singleElement()
            .satisfies(line -> assertThat(line).contains("outcome=monitored", "reason=routing.percent-hack",
                "reply=\"550 5.7.1 Routing syntax not accepted"));
    }

    @Test
    void monitoredPercentHackStillCannotRelay(GuiceJamesServer server) throws Exception {
        // Monitor mode lifts RelayGuard's routing refusal, never the relay rule: this still goes nowhere remote.
        Attempt attempt = Attempt.run(RelayGuardServers.mxPort(server), false, null, null, "<a@sender.example>",
            "<someone%relayguard.test@remote.example>");
        assertThat(attempt.summary()).isEqualTo("RCPT 450 4.7.1");
    }

    @Test
    void submissionWithoutAuthInDeferModeAnswers454(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        Attempt attempt = Attempt.run(RelayGuardServers.submissionPort(server), true, null, null, "<a@laptop.example>", "<b@remote.example>");
        assertThat(attempt.summary()).isEqualTo("MAIL 454 4.7.0");
        assertThat(increasedSince(before)).containsEntry("relayguard.deferred.submission.auth-required", 1L);
    }
}
