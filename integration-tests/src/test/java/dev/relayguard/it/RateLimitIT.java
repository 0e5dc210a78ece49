package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardMeters.increasedSince;
import static dev.relayguard.it.RelayGuardMeters.relayGuardMeters;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import javax.mail.Session;
import javax.mail.internet.MimeMessage;
import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.mailrepository.api.MailRepositoryUrl;
import org.apache.james.server.core.MailImpl;
import org.apache.james.utils.DataProbeImpl;
import org.apache.james.utils.MailRepositoryProbeImpl;
import org.apache.mailet.Attribute;
import org.apache.mailet.AttributeValue;
import org.apache.mailet.Mail;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * Rate limits of authenticated senders against real James 3.8.1: answered at SMTP time with a 4xx, exact
 * (N+5 attempts, exactly N accepted, also from parallel sessions), nothing charged for aborted transactions,
 * byte limits at the end of DATA and on SIZE=, containment, and the pipeline mailet for mail injected without
 * SMTP.
 */
class RateLimitIT {
    private static final String DOMAIN = RelayGuardServers.DOMAIN;
    private static final String PASSWORD = "secret-pw";
    private static final MailRepositoryUrl LIMITED = MailRepositoryUrl.from("memory://var/mail/relayguard-rate-limited/");

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf.policyXml(
        "<probeBans><refusals>0</refusals></probeBans>"
            + "<rateLimits>"
            + "<users><limit measure=\"messages\" max=\"5\" per=\"1h\"/></users>"
            + "<user name=\"rcpt@" + DOMAIN + "\"><limit measure=\"recipients\" max=\"3\" per=\"1h\"/></user>"
            + "<user name=\"reserve@" + DOMAIN + "\"><limit measure=\"recipients\" max=\"5\" per=\"1h\"/></user>"
            + "<user name=\"unused@" + DOMAIN + "\"><limit measure=\"recipients\" max=\"4\" per=\"1h\"/></user>"
            + "<user name=\"abort@" + DOMAIN + "\"><limit measure=\"messages\" max=\"2\" per=\"1h\"/></user>"
            + "<user name=\"bytes@" + DOMAIN + "\"><limit measure=\"bytes\" max=\"3K\" per=\"1h\"/></user>"
            + "<user name=\"parallel@" + DOMAIN + "\"><limit measure=\"messages\" max=\"10\" per=\"1h\"/></user>"
            + "<user name=\"suspect@" + DOMAIN + "\"><limit measure=\"messages\" max=\"1\" per=\"1h\"/></user>"
            + "<user name=\"mailet@" + DOMAIN + "\"><limit measure=\"messages\" max=\"2\" per=\"1h\"/></user>"
            + "<containment><hits>6</hits><within>10m</within><suspendFor>1h</suspendFor></containment>"
            + "</rateLimits>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        for (String user : new String[] {"demo", "rcpt", "reserve", "unused", "abort", "bytes", "parallel", "suspect", "mailet", "friend"}) {
            data.addUser(user + "@" + DOMAIN, PASSWORD);
        }
    }

    private static SmtpClient authenticated(GuiceJamesServer server, String user) throws Exception {
        SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server));
        smtp.ehlo("client.example");
        smtp.startTls("client.example");
        assertThat(smtp.authPlain(user + "@" + DOMAIN, PASSWORD).code()).isEqualTo(235);
        return smtp;
    }

    /** One message on an open session; returns the deciding reply (MAIL refusal, or the end-of-DATA reply). */
    private static Reply send(SmtpClient smtp, String from, String to, String body) throws Exception {
        Reply mail = smtp.command("MAIL FROM:<" + from + ">");
        if (mail.code() != 250) {
            return mail;
        }
        Reply rcpt = smtp.rcptTo(to);
        if (rcpt.code() != 250) {
            smtp.command("RSET");
            return rcpt;
        }
        return smtp.data("From: <" + from + ">\r\nSubject: rate test\r\n\r\n" + body);
    }

    @Test
    void nPlusFiveMessagesExactlyNAcceptedTheRestDeferredAtMail(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        List<Reply> replies = new ArrayList<>();
        try (SmtpClient smtp = authenticated(server, "demo")) {
            for (int i = 0; i < 10; i++) {
                replies.add(send(smtp, "demo@" + DOMAIN, "friend@" + DOMAIN, "message " + i));
            }
        }
        assertThat(replies.subList(0, 5)).allSatisfy(reply -> assertThat(reply.code()).isEqualTo(250));
        assertThat(replies.subList(5, 10)).allSatisfy(reply -> {
            assertThat(reply.code()).isEqualTo(450);
            assertThat(reply.enhancedStatus()).isEqualTo("4.7.1");
            assertThat(reply.text()).containsPattern("Message rate limit exceeded \\(5 messages per 1h\\), retry in \\d+ s");
        });
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.deferred.rate.messages", 5L));
    }

    @Test
    void recipientLimitAnswersAtRcptAndTheMessageGoesToTheAcceptedOnes(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = authenticated(server, "rcpt")) {
            assertThat(smtp.mailFrom("rcpt@" + DOMAIN).code()).isEqualTo(250);
            for (int i = 1; i <= 3; i++) {
                assertThat(smtp.rcptTo("friend@" + DOMAIN).code()).isEqualTo(250);
            }
            Reply fourth = smtp.rcptTo("demo@" + DOMAIN);
            assertThat(fourth.code()).isEqualTo(450);
            assertThat(fourth.enhancedStatus()).isEqualTo("4.7.1");
            assertThat(fourth.text()).contains("Recipient rate limit exceeded (3 recipients per 1h)");
            assertThat(smtp.data("From: <rcpt@" + DOMAIN + ">\r\nSubject: three\r\n\r\nto three").code()).isEqualTo(250);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.deferred.rate.recipients", 1L));
    }

    /**
     * MAIL reserves as many recipients as the connection's last message had (one store call instead of one per RCPT):
     * the limit stays exact. A reservation that does not fit is not made (the RCPTs are charged one by one and the
     * one over the limit is answered 450), and the reserved recipients no RCPT took are given back at the end of DATA.
     */
    @Test
    void recipientsReservedAtMailKeepTheLimitExact(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = authenticated(server, "reserve")) {
            assertThat(sendTo(smtp, "reserve", 3)).containsExactly(250, 250, 250, 250);
            // 2 of 5 left: the reservation of 3 does not fit; two RCPTs pass, the third is over the limit
            assertThat(sendTo(smtp, "reserve", 3)).containsExactly(250, 250, 450, 250);
        }
        assertThat(usage("reserve@" + DOMAIN)).anyMatch(line -> line.contains("used 5 / 5"));

        try (SmtpClient smtp = authenticated(server, "unused")) {
            assertThat(sendTo(smtp, "unused", 2)).containsExactly(250, 250, 250);
            assertThat(sendTo(smtp, "unused", 1)).as("2 reserved, 1 taken").containsExactly(250, 250);
            assertThat(usage("unused@" + DOMAIN)).as("the unused one given back").anyMatch(line -> line.contains("used 3 / 4"));
            assertThat(sendTo(smtp, "unused", 1)).containsExactly(250, 250);
            assertThat(sendTo(smtp, "unused", 1)).containsExactly(450);
        }
    }

    /** MAIL, {@code recipients} RCPTs and DATA (RSET when no RCPT passed): the reply codes of RCPTs and the end of DATA. */
    private static List<Integer> sendTo(SmtpClient smtp, String user, int recipients) throws Exception {
        assertThat(smtp.mailFrom(user + "@" + DOMAIN).code()).isEqualTo(250);
        List<Integer> codes = new ArrayList<>();
        boolean any = false;
        for (int i = 0; i < recipients; i++) {
            int code = smtp.rcptTo("friend@" + DOMAIN).code();
            codes.add(code);
            any |= code == 250;
        }
        if (!any) {
            smtp.command("RSET");
            return codes;
        }
        codes.add(smtp.data("From: <" + user + "@" + DOMAIN + ">\r\nSubject: reserved\r\n\r\nbody").code());
        return codes;
    }

    private static List<String> usage(String user) throws Exception {
        ObjectName bean = new ObjectName("org.apache.james:type=extension,name=RelayGuard");
        return List.of((String[]) ManagementFactory.getPlatformMBeanServer().invoke(bean, "usage",
            new Object[] {user}, new String[] {String.class.getName()}));
    }

    @Test
    void abortedTransactionsConsumeNothing(GuiceJamesServer server) throws Exception {
        try (SmtpClient smtp = authenticated(server, "abort")) {
            for (int i = 0; i < 5; i++) {
                assertThat(smtp.mailFrom("abort@" + DOMAIN).code()).isEqualTo(250);
                assertThat(smtp.rcptTo("friend@" + DOMAIN).code()).isEqualTo(250);
                assertThat(smtp.command("RSET").code()).isEqualTo(250);
            }
        }
        for (int session = 0; session < 3; session++) { // MAIL then disconnect without QUIT's DATA
            try (SmtpClient smtp = authenticated(server, "abort")) {
                assertThat(smtp.mailFrom("abort@" + DOMAIN).code()).isEqualTo(250);
            }
        }
        awaitReleased("abort@" + DOMAIN);
        try (SmtpClient smtp = authenticated(server, "abort")) {
            assertThat(send(smtp, "abort@" + DOMAIN, "friend@" + DOMAIN, "one").code()).isEqualTo(250);
            assertThat(send(smtp, "abort@" + DOMAIN, "friend@" + DOMAIN, "two").code()).isEqualTo(250);
            assertThat(send(smtp, "abort@" + DOMAIN, "friend@" + DOMAIN, "three").code()).isEqualTo(450);
        }
    }

    /**
     * Waits until the MAILs of closed sessions no longer hold a charge: disconnect handling runs on the server's
     * event loop after the socket closes, so the management bean's usage is polled until it reads 0.
     */
    private static void awaitReleased(String user) throws Exception {
        ObjectName bean = new ObjectName("org.apache.james:type=extension,name=RelayGuard");
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        String[] usage;
        while (!(usage = (String[]) ManagementFactory.getPlatformMBeanServer().invoke(bean, "usage",
            new Object[] {user}, new String[] {String.class.getName()}))[0].contains("used 0 / ")) {
            assertThat(Instant.now()).as("charges of closed sessions released: %s", Arrays.toString(usage)).isBefore(deadline);
            Thread.sleep(50);
        }
        assertThat(usage).hasSize(1);
    }

    @Test
    void byteLimitAnswers452AtTheEndOfDataAndOnDeclaredSize(GuiceJamesServer server) throws Exception {
        String kilobyteAndAHalf = "x".repeat(1500);
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = authenticated(server, "bytes")) {
            assertThat(send(smtp, "bytes@" + DOMAIN, "friend@" + DOMAIN, kilobyteAndAHalf).code()).isEqualTo(250);
            Reply second = send(smtp, "bytes@" + DOMAIN, "friend@" + DOMAIN, kilobyteAndAHalf);
            assertThat(second.code()).isEqualTo(452);
            assertThat(second.enhancedStatus()).isEqualTo("4.7.1");
            assertThat(second.text()).contains("Byte rate limit exceeded (3072 bytes per 1h)");
            Reply declared = smtp.command("MAIL FROM:<bytes@" + DOMAIN + "> SIZE=5000");
            assertThat(declared.code()).isEqualTo(452);
            assertThat(declared.text()).contains("this message alone is larger than the limit");
            // A small message still fits: the refused one consumed nothing.
            assertThat(send(smtp, "bytes@" + DOMAIN, "friend@" + DOMAIN, "small").code()).isEqualTo(250);
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of("relayguard.deferred.rate.bytes", 2L));
    }

    @Test
    void parallelSessionsOfOneUserNeverGetMoreThanTheLimit(GuiceJamesServer server) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Callable<Integer>> sessions = new ArrayList<>();
            for (int s = 0; s < 8; s++) {
                sessions.add(() -> {
                    int accepted = 0;
                    try (SmtpClient smtp = authenticated(server, "parallel")) {
                        for (int i = 0; i < 3; i++) {
                            Reply reply = send(smtp, "parallel@" + DOMAIN, "friend@" + DOMAIN, "parallel");
                            if (reply.code() == 250) {
                                accepted++;
                            } else {
                                assertThat(reply.code()).isEqualTo(450);
                            }
                        }
                    }
                    return accepted;
                });
            }
            int accepted = 0;
            for (Future<Integer> result : pool.invokeAll(sessions, 2, TimeUnit.MINUTES)) {
                accepted += result.get();
            }
            assertThat(accepted).isEqualTo(10);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void repeatedLimitHitsSuspendTheAccount(GuiceJamesServer server) throws Exception {
        Map<String, Long> before = relayGuardMeters();
        try (SmtpClient smtp = authenticated(server, "suspect")) {
            assertThat(send(smtp, "suspect@" + DOMAIN, "friend@" + DOMAIN, "first").code()).isEqualTo(250);
            for (int i = 0; i < 6; i++) {
                assertThat(smtp.mailFrom("suspect@" + DOMAIN).code()).isEqualTo(450);
            }
            Reply suspended = smtp.mailFrom("suspect@" + DOMAIN);
            assertThat(suspended.code()).isEqualTo(450);
            assertThat(suspended.enhancedStatus()).isEqualTo("4.7.1");
            assertThat(suspended.text()).contains("Account suspended from sending");
        }
        assertThat(increasedSince(before)).isEqualTo(Map.of(
            "relayguard.deferred.rate.messages", 6L,
            "relayguard.rate.suspensions", 1L,
            "relayguard.deferred.rate.suspended", 1L));
    }

    @Test
    void mailInjectedWithoutSmtpIsChargedByTheMailetAndKeptWhenOverTheLimit(GuiceJamesServer server) throws Exception {
        MailRepositoryProbeImpl repositories = server.getProbe(MailRepositoryProbeImpl.class);
        long keptBefore = repositories.getRepositoryMailCount(LIMITED);
        Map<String, Long> before = relayGuardMeters();
        for (int i = 0; i < 4; i++) {
            server.getProbe(MailInjectionProbe.class).send(MailImpl.builder()
                .name("injected-" + i + "-" + System.nanoTime())
                .sender("mailet@" + DOMAIN)
                .addRecipient("friend@" + DOMAIN)
                .mimeMessage(message("injected " + i))
                .addAttribute(new Attribute(Mail.SMTP_AUTH_USER, AttributeValue.of("mailet@" + DOMAIN)))
                .build());
        }
        // Wait until all four are decided (two kept, two delivered), then count exactly.
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        while ((repositories.getRepositoryMailCount(LIMITED) - keptBefore) + injectedDelivered(server) < 4
            && Instant.now().isBefore(deadline)) {
            Thread.sleep(100);
        }
        assertThat(repositories.getRepositoryMailCount(LIMITED) - keptBefore).isEqualTo(2);
        assertThat(injectedDelivered(server)).isEqualTo(2);
        assertThat(increasedSince(before)).containsEntry("relayguard.deferred.rate.messages", 2L);
    }

    private static long injectedDelivered(GuiceJamesServer server) throws Exception {
        return server.getProbe(MailboxContentProbe.class).inbox("friend@" + DOMAIN).stream()
            .filter(message -> message.contains("Subject: injected")).count();
    }

    private static MimeMessage message(String text) throws Exception {
        MimeMessage message = new MimeMessage(Session.getInstance(new Properties()));
        message.setSubject("injected");
        message.setText(text);
        message.saveChanges();
        return message;
    }
}
