package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardServers.DEMO_PASSWORD;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;

import org.apache.james.GuiceJamesServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * The single-node sample exactly as shipped (ports aside, probe bans off): who may relay, with exact replies and
 * counts. Runs as {@link RelayPolicyIT.RelayDecision}, on the server {@link RelayPolicyIT} shares.
 */
abstract class RelayDecisionGroup {
    private static final String REFUSED_METRIC = "relayguard.refused.relay.unauthenticated";
    private static final LogCapture AUDIT = LogCapture.of("relayguard.audit");

    @BeforeAll
    static void samplePolicy() {
        RelayPolicyIT.useSamplePolicy();
    }

    @Test
    void outsiderToRemoteDomainIsRefusedWith550AndCounted(GuiceJamesServer server) throws Exception {
        long before = Metrics.inProcess().meterCount(REFUSED_METRIC);
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            assertThat(smtp.ehlo("prober.example").code()).isEqualTo(250);
            assertThat(smtp.mailFrom("spammer@prober.example").code()).isEqualTo(250);
            Reply rcpt = smtp.rcptTo("victim@remote.example");
            assertThat(rcpt.code()).isEqualTo(550);
            assertThat(rcpt.enhancedStatus()).isEqualTo("5.7.1");
            assertThat(rcpt.text()).contains("Relaying denied").contains("remote.example");
        }
        assertThat(Metrics.inProcess().meterCount(REFUSED_METRIC) - before).isEqualTo(1);
    }

    @Test
    void outsiderToLocalUserIsAcceptedAndDelivered(GuiceJamesServer server) throws Exception {
        long refusedBefore = Metrics.inProcess().meterCount(REFUSED_METRIC);
        long deliveredBefore = Metrics.inProcess().meterCount("localDeliveredMails");
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("friend.example");
            assertThat(smtp.mailFrom("friend@friend.example").code()).isEqualTo(250);
            assertThat(smtp.rcptTo(DEMO_USER).code()).isEqualTo(250);
            Reply data = smtp.data("Subject: hello\r\n\r\nA local delivery.");
            assertThat(data.code()).isEqualTo(250);
        }
        awaitMeter("localDeliveredMails", deliveredBefore + 1);
        assertThat(Metrics.inProcess().meterCount(REFUSED_METRIC)).isEqualTo(refusedBefore);
    }

    @Test
    void localDomainIsRecognisedWhateverItsCase(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("friend.example");
            smtp.mailFrom("friend@friend.example");
            assertThat(smtp.rcptTo("demo@RelayGuard.TEST").code()).isEqualTo(250);
        }
    }

    @Test
    void authenticatedUserMayRelayThroughData(GuiceJamesServer server) throws Exception {
        long before = Metrics.inProcess().meterCount(REFUSED_METRIC);
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server))) {
            smtp.ehlo("laptop.example");
            Reply afterTls = smtp.startTls("laptop.example");
            assertThat(afterTls.lines()).anyMatch(line -> line.contains("AUTH"));
            assertThat(smtp.authPlain(DEMO_USER, DEMO_PASSWORD).code()).isEqualTo(235);
            assertThat(smtp.mailFrom(DEMO_USER).code()).isEqualTo(250);
            assertThat(smtp.rcptTo("friend@remote.example").code()).isEqualTo(250);
            assertThat(smtp.data("From: <" + DEMO_USER + ">\r\nSubject: out\r\n\r\nRelayed for an authenticated user.").code()).isEqualTo(250);
        }
        assertThat(Metrics.inProcess().meterCount(REFUSED_METRIC)).isEqualTo(before);
    }

    @Test
    void unauthenticatedClientOnSubmissionIsAskedToAuthenticate(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server))) {
            smtp.ehlo("laptop.example");
            smtp.startTls("laptop.example");
            Reply mail = smtp.mailFrom("someone@laptop.example");
            assertThat(mail.code()).isEqualTo(530);
            assertThat(mail.enhancedStatus()).isEqualTo("5.7.0");
        }
    }

    @Test
    void failedAuthenticationGrantsNothing(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server))) {
            smtp.ehlo("laptop.example");
            smtp.startTls("laptop.example");
            assertThat(smtp.authPlain(DEMO_USER, "wrong-password").code()).isEqualTo(535);
            assertThat(smtp.mailFrom(DEMO_USER).code()).isEqualTo(530);
        }
    }

    @Test
    void refusalCounterEqualsNumberOfRefusalsExactly(GuiceJamesServer server) throws Exception {
        long before = Metrics.inProcess().meterCount(REFUSED_METRIC);
        int refused = 0;
        for (int session = 0; session < 3; session++) {
            try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
                smtp.ehlo("prober.example");
                smtp.mailFrom("x@prober.example");
                for (String rcpt : new String[] {"a@remote.example", DEMO_USER, "b@other.example", "c@third.example"}) {
                    if (smtp.rcptTo(rcpt).code() == 550) {
                        refused++;
                    }
                }
            }
        }
        assertThat(refused).isEqualTo(9);
        assertThat(Metrics.inProcess().meterCount(REFUSED_METRIC) - before).isEqualTo(refused);
    }

    @Test
    void everyRefusalWritesOneAuditLineWithItsContextAndNoCredentials(GuiceJamesServer server) throws Exception {
        int linesBefore = AUDIT.lines().size();
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("audit-helo.example");
            // James 3.8.1 takes AUTH on the MX port even though it does not announce it: RelayGuard refuses it there.
            assertThat(smtp.authPlain(DEMO_USER, "secret-guess-1234").code()).isEqualTo(503);
            smtp.mailFrom("audit-sender@prober.example");
            assertThat(smtp.rcptTo("audit-victim@remote.example").code()).isEqualTo(550);
        }
        assertThat(AUDIT.lines()).hasSize(linesBefore + 2);
        assertThat(AUDIT.lines().get(linesBefore))
            .contains("outcome=refused", "reason=auth.not-offered", "ip=127.0.0.1", "mechanism=PLAIN",
                "reply=\"503 5.5.1 Authentication not available on this port without TLS\"")
            .doesNotContain("secret-guess-1234");
        String line = AUDIT.lines().get(linesBefore + 1);
        assertThat(line)
            .contains("outcome=refused", "reason=relay.unauthenticated", "path=smtp", "ip=127.0.0.1",
                "helo=audit-helo.example", "user=-", "sender=audit-sender@prober.example",
                "rcpt=audit-victim@remote.example", "reply=\"550 5.7.1 Relaying denied")
            .containsPattern("session=\\S+")
            .doesNotContain("secret-guess-1234");
    }

    @Test
    void refusalCountersExistBeforeAnyRefusal() throws Exception {
        // Operators can graph a counter from 0; it must be registered at startup.
        assertThat(java.lang.management.ManagementFactory.getPlatformMBeanServer()
            .isRegistered(new javax.management.ObjectName("metrics:name=relayguard.deferred.relay.domain-lookup-failed,type=meters")))
            .isTrue();
    }

    static void awaitMeter(String name, long atLeast) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        while (Metrics.inProcess().meterCount(name) < atLeast) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError(name + " stayed at " + Metrics.inProcess().meterCount(name) + ", expected " + atLeast);
            }
            Thread.sleep(50);
        }
    }
}
