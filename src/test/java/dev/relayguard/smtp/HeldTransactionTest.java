package dev.relayguard.smtp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.commons.configuration2.XMLConfiguration;
import org.apache.commons.configuration2.builder.FileBasedConfigurationBuilder;
import org.apache.commons.configuration2.builder.fluent.Parameters;
import org.apache.commons.configuration2.convert.DisabledListDelimiterHandler;
import org.apache.commons.configuration2.io.FileHandler;
import org.apache.james.core.MailAddress;
import org.apache.james.core.MaybeSender;
import org.apache.james.metrics.api.Metric;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.metrics.api.TimeMetric;
import org.apache.james.protocols.smtp.SMTPSession;
import org.apache.james.protocols.smtp.hook.HookResult;
import org.apache.james.server.core.MailImpl;
import org.apache.mailet.Mail;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.observe.RefusalRecorder;

/**
 * Issue 11, held transactions: MAIL+RCPT in many sessions, kept alive, DATA much later. The promise "at most N
 * accepted in any interval T" is about the time of acceptance, so a reservation from an older part of the window
 * is counted again at the end of DATA. A fake clock makes the schedule exact; sessions keep real attachments.
 */
class HeldTransactionTest {
    private static final String USER = "alice@example.com";
    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private RelayGuardHandler handler;

    @BeforeEach
    void setUp() throws Exception {
        MetricFactory metricFactory = mock(MetricFactory.class);
        when(metricFactory.generate(anyString())).thenAnswer(invocation -> mock(Metric.class));
        when(metricFactory.timer(anyString())).thenAnswer(invocation -> mock(TimeMetric.class));
        RelayGuardSettings settings = PolicyFile.parse(xml("<relayguard><rateLimits><users>"
            + "<limit measure=\"messages\" max=\"2\" per=\"1m\"/>"
            + "<limit measure=\"recipients\" max=\"10\" per=\"1m\"/>"
            + "</users></rateLimits></relayguard>"), PolicyFile.FILE_NAME);
        RelayGuard guard = new RelayGuard(settings, domain -> domain.equals("example.com"), (user, sender) -> false,
            new RefusalRecorder(metricFactory), clock::get, new MemoryLimiterStore(1000, clock::get));
        handler = new RelayGuardHandler(guard);
    }

    private static XMLConfiguration xml(String xml) throws Exception {
        FileBasedConfigurationBuilder<XMLConfiguration> builder = new FileBasedConfigurationBuilder<>(XMLConfiguration.class)
            .configure(new Parameters().xml().setListDelimiterHandler(new DisabledListDelimiterHandler()));
        XMLConfiguration config = builder.getConfiguration();
        new FileHandler(config).load(new ByteArrayInputStream(xml.getBytes(UTF_8)));
        return config;
    }

    /** An authenticated TLS session with real attachment storage. */
    private static SMTPSession session() throws Exception {
        return new FakeSmtpSession("s" + System.nanoTime(), InetAddress.getByName("203.0.113.9")).authenticated(USER, true);
    }

    /** MAIL and one RCPT, as James would call the hooks; the MAIL verdict. */
    private HookResult open(SMTPSession session) throws Exception {
        HookResult mail = handler.doMail(session, MaybeSender.of(new MailAddress(USER)));
        if (mail.equals(HookResult.DECLINED)) {
            handler.doRcpt(session, MaybeSender.of(new MailAddress(USER)), new MailAddress("friend@example.com"));
        }
        return mail;
    }

    private HookResult data(SMTPSession session) throws Exception {
        Mail mail = MailImpl.builder().name("m" + System.nanoTime()).sender(new MailAddress(USER))
            .addRecipient(new MailAddress("friend@example.com"))
            .mimeMessage(new javax.mail.internet.MimeMessage(javax.mail.Session.getDefaultInstance(new java.util.Properties()),
                new ByteArrayInputStream(("From: " + USER + "\r\nSubject: held\r\n\r\nbody\r\n").getBytes(UTF_8))))
            .build();
        return handler.onMessage(session, mail);
    }

    @Test
    void heldTransactionsCannotBeAcceptedBeyondTheLimitOfTheWindowTheyAreAcceptedIn() throws Exception {
        SMTPSession first = session();
        SMTPSession second = session();
        assertThat(open(first)).isEqualTo(HookResult.DECLINED);
        assertThat(open(second)).isEqualTo(HookResult.DECLINED);
        assertThat(open(session()).getSmtpRetCode()).as("third MAIL in the same minute").isEqualTo("450");

        clock.addAndGet(67_000); // the window has moved on: two new reservations fit
        SMTPSession third = session();
        SMTPSession fourth = session();
        assertThat(open(third)).isEqualTo(HookResult.DECLINED);
        assertThat(open(fourth)).isEqualTo(HookResult.DECLINED);

        // Now DATA on all four, at the same moment: at most 2 may be accepted within one minute.
        int accepted = 0;
        for (SMTPSession session : new SMTPSession[] {first, second, third, fourth}) {
            HookResult end = data(session);
            if (end.equals(HookResult.DECLINED)) {
                accepted++;
            } else {
                assertThat(end.getSmtpRetCode()).isEqualTo("450");
                assertThat(end.getSmtpDescription()).startsWith("4.7.1 Message rate limit exceeded");
            }
        }
        assertThat(accepted).isEqualTo(2);
    }

    @Test
    void transactionHeldWithinItsSubBucketKeepsItsReservation() throws Exception {
        SMTPSession first = session();
        SMTPSession second = session();
        assertThat(open(first)).isEqualTo(HookResult.DECLINED);
        assertThat(open(second)).isEqualTo(HookResult.DECLINED);
        assertThat(data(first)).isEqualTo(HookResult.DECLINED);
        assertThat(data(second)).isEqualTo(HookResult.DECLINED);
        // Both counted once: a third MAIL in the same minute is over the limit.
        assertThat(open(session()).getSmtpRetCode()).isEqualTo("450");
    }

    @Test
    void aRefusedHeldTransactionKeepsNothingCounted() throws Exception {
        SMTPSession held = session();
        assertThat(open(held)).isEqualTo(HookResult.DECLINED);
        clock.addAndGet(67_000);
        SMTPSession a = session();
        SMTPSession b = session();
        assertThat(open(a)).isEqualTo(HookResult.DECLINED);
        assertThat(open(b)).isEqualTo(HookResult.DECLINED);
        assertThat(data(held).getSmtpRetCode()).isEqualTo("450");
        // The refused one gave everything back: a and b still fit.
        assertThat(data(a)).isEqualTo(HookResult.DECLINED);
        assertThat(data(b)).isEqualTo(HookResult.DECLINED);
    }
}
