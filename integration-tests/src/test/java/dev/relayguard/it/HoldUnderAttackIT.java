package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static dev.relayguard.it.RelayGuardServers.DEMO_PASSWORD;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static dev.relayguard.it.RelayGuardServers.DOMAIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * Issue 11 against real James: held transactions cannot beat "N per T" (the sample with 2 messages per 10 s), and
 * an address longer than SMTP carries is refused at RCPT instead of being accepted and lost in the pipeline.
 */
class HoldUnderAttackIT {
    private static final int MAX = 2;
    private static final String LONG_LOCAL_PART = "bounce-" + "x".repeat(90);

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf
        .withoutProbeBans()
        .replace("relayguard.xml", "<limit measure=\"messages\" max=\"20\" per=\"1m\"/>",
            "<limit measure=\"messages\" max=\"" + MAX + "\" per=\"10s\"/>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        server.getProbe(DataProbeImpl.class).fluent().addUser(DEMO_USER, DEMO_PASSWORD);
        // The long VERP-like recipient must exist: the sample's ValidRcptHandler refuses unknown users (550 5.1.1).
        server.getProbe(DataProbeImpl.class).addUserAliasMapping(LONG_LOCAL_PART, DOMAIN, DEMO_USER);
    }

    /** An authenticated submission session with MAIL and RCPT done; null when MAIL was refused (closed). */
    private static SmtpClient held(GuiceJamesServer server) throws Exception {
        SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server));
        smtp.ehlo("holder.example");
        smtp.startTls("holder.example");
        assertThat(smtp.authPlain(DEMO_USER, DEMO_PASSWORD).code()).isEqualTo(235);
        Reply mail = smtp.mailFrom(DEMO_USER);
        if (mail.code() != 250) {
            assertThat(mail.code()).as(mail.toString()).isEqualTo(450);
            smtp.close();
            return null;
        }
        assertThat(smtp.rcptTo(DEMO_USER).code()).isEqualTo(250);
        return smtp;
    }

    @Test
    void heldTransactionsCannotBeAcceptedBeyondTheLimit(GuiceJamesServer server) throws Exception {
        List<SmtpClient> sessions = new ArrayList<>();
        try {
            for (int i = 0; i < MAX; i++) {
                sessions.add(held(server));
            }
            assertThat(sessions).doesNotContainNull();
            assertThat(held(server)).as("MAIL over the limit").isNull();
            // Wait until the window has moved on: a new MAIL passes again (polling, not a fixed sleep).
            Instant deadline = Instant.now().plus(Duration.ofSeconds(40));
            SmtpClient later = null;
            while (later == null) {
                assertThat(Instant.now()).as("a MAIL passes again once the window moved").isBefore(deadline);
                for (SmtpClient session : sessions) {
                    assertThat(session.command("NOOP").code()).isEqualTo(250); // keep them alive
                }
                Thread.sleep(250);
                later = held(server);
            }
            sessions.add(later);
            SmtpClient another = held(server);
            if (another != null) {
                sessions.add(another);
            }
            Map<String, Long> before = relayGuardMeters();
            // DATA on every held session at once: at most MAX are accepted within the window they are accepted in.
            int accepted = 0;
            int deferred = 0;
            for (SmtpClient session : sessions) {
                Reply end = session.data("From: <" + DEMO_USER + ">\r\nSubject: held\r\n\r\nheld transaction");
                if (end.code() == 250) {
                    accepted++;
                } else {
                    assertThat(end.code() + " " + end.enhancedStatus()).as(end.toString()).isEqualTo("450 4.7.1");
                    assertThat(end.text()).contains("Message rate limit exceeded");
                    deferred++;
                }
            }
            assertThat(accepted).isEqualTo(MAX);
            assertThat(deferred).isEqualTo(sessions.size() - MAX);
            assertThat(increasedSince(before)).containsEntry("relayguard.deferred.rate.messages", (long) deferred);
        } finally {
            sessions.forEach(session -> {
                if (session != null) {
                    session.close();
                }
            });
        }
    }

    @Test
    void anAddressLongerThanSmtpCarriesIsRefusedAtRcpt(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("long.example");
            assertThat(smtp.mailFrom("someone@sender.example").code()).isEqualTo(250);
            Reply rcpt = smtp.rcptTo("a".repeat(300) + "@" + DOMAIN);
            assertThat(rcpt.code() + " " + rcpt.enhancedStatus()).isEqualTo("553 5.1.3");
            assertThat(rcpt.text()).contains("Recipient address too long");
            // A long but carried local part (VERP, SRS: over 64 octets) is still accepted.
            assertThat(smtp.rcptTo(LONG_LOCAL_PART + "@" + DOMAIN).code()).isEqualTo(250);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.refused.address.too-long", 1L));
    }
}
