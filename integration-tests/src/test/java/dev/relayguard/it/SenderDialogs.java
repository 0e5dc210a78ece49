package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardServers.DEMO_PASSWORD;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;
import static dev.relayguard.it.RelayGuardServers.DOMAIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerBuilder;
import org.apache.james.JamesServerExtension;
import org.apache.james.MemoryJamesConfiguration;
import org.apache.james.MemoryJamesServerMain;
import org.apache.james.utils.DataProbeImpl;
import org.apache.james.utils.GuiceProbe;

import com.google.inject.multibindings.Multibinder;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * What the sender-identity tests (issue 10: {@code SenderIdentityIT}, {@code HeaderFromIT},
 * {@code SenderRuleModesIT}, {@code PipelineSenderIT}) share: their users, an authenticated submission session
 * (STARTTLS, then AUTH PLAIN as {@code demo@relayguard.test}), one transaction through DATA, and waiting with
 * a deadline for what James delivered.
 */
final class SenderDialogs {
    /** Another user of the local domain: the address demo must not use. */
    static final String BOB = "bob@" + DOMAIN;
    /** Receives the test messages, so that demo's and bob's own mailboxes stay out of it. */
    static final String READER = "reader@" + DOMAIN;
    /** A user alias of demo (RecipientRewriteTable): demo may send as it. */
    static final String SALES = "sales@" + DOMAIN;
    /** A group alias that includes demo: a group does not make a sender. */
    static final String TEAM = "team@" + DOMAIN;

    private SenderDialogs() {
    }

    /**
     * A server from the sample after {@code edits}, like {@link RelayGuardServers#fromSample}, with the
     * {@link SpoolInjectionProbe} too (JMAP's door into the pipeline); its message limit raised for the tests'
     * own traffic ({@link #roomyMessageLimits}).
     */
    static JamesServerExtension server(Consumer<SampleConf> edits) {
        return new JamesServerBuilder<MemoryJamesConfiguration>(tmpDir -> {
            SampleConf conf = roomyMessageLimits(SampleConf.copyTo(tmpDir.toPath().resolve("conf")));
            edits.accept(conf);
            return RelayGuardServers.configuration(tmpDir.toPath(), conf.dir());
        })
            .server(MemoryJamesServerMain::createServer)
            .overrideServerModule(binder -> {
                Multibinder<GuiceProbe> probes = Multibinder.newSetBinder(binder, GuiceProbe.class);
                probes.addBinding().to(MailInjectionProbe.class);
                probes.addBinding().to(MailboxContentProbe.class);
                probes.addBinding().to(SpoolInjectionProbe.class);
            })
            .lifeCycle(JamesServerExtension.Lifecycle.PER_CLASS)
            .build();
    }

    /** The sample's message limit (20 per minute) would refuse a test class's own traffic: raised here only. */
    static SampleConf roomyMessageLimits(SampleConf conf) {
        return conf.replace("relayguard.xml", "<limit measure=\"messages\" max=\"20\" per=\"1m\"/>",
            "<limit measure=\"messages\" max=\"1000\" per=\"1m\"/>");
    }

    static void addUsers(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        data.fluent()
            .addUser(DEMO_USER, DEMO_PASSWORD)
            .addUser(BOB, "bob-password")
            .addUser(READER, "reader-password");
        data.addUserAliasMapping("sales", DOMAIN, DEMO_USER);
        data.addGroupAliasMapping(TEAM, DEMO_USER);
    }

    /** A session on the submission listener, after STARTTLS and a successful AUTH PLAIN as demo. */
    static SmtpClient submission(GuiceJamesServer server) throws Exception {
        SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server));
        smtp.ehlo("laptop.example");
        smtp.startTls("laptop.example");
        Reply auth = smtp.authPlain(DEMO_USER, DEMO_PASSWORD);
        if (auth.code() != 235) {
            smtp.close();
            throw new AssertionError("AUTH PLAIN as " + DEMO_USER + " failed: " + auth);
        }
        return smtp;
    }

    /**
     * {@code MAIL FROM:<mailFromArgument>} (written as sent, brackets and parameters included), one RCPT, and
     * DATA with {@code message} when both were accepted. The reply of the step that decided it, prefixed with
     * the step: {@code MAIL 553 5.7.1 ...}, {@code DATA 250 ...}.
     */
    static Step transaction(SmtpClient smtp, String mailFromArgument, String rcpt, String message) throws Exception {
        Reply mail = smtp.command("MAIL FROM:" + mailFromArgument);
        if (mail.code() != 250) {
            return new Step("MAIL", mail);
        }
        Reply rcptReply = smtp.rcptTo(rcpt);
        if (rcptReply.code() != 250) {
            smtp.command("RSET");
            return new Step("RCPT", rcptReply);
        }
        return new Step("DATA", smtp.data(message));
    }

    /** A message with these header lines (CRLF between them), a Subject carrying {@code token}, and a short body. */
    static String message(String token, String... headerLines) {
        StringBuilder message = new StringBuilder();
        for (String header : headerLines) {
            message.append(header).append("\r\n");
        }
        return message.append("To: <").append(READER).append(">\r\n")
            .append("Subject: ").append(token).append("\r\n")
            .append("\r\n")
            .append("body of ").append(token).toString();
    }

    /** A token unique in this JVM, to find one message among everything the class delivered. */
    static String token(String what) {
        return what + "-" + System.nanoTime();
    }

    static List<String> inbox(GuiceJamesServer server, String user) throws Exception {
        return server.getProbe(MailboxContentProbe.class).inbox(user);
    }

    static void awaitDelivered(GuiceJamesServer server, String user, String token) throws Exception {
        await(token + " in " + user + "'s INBOX",
            () -> inbox(server, user).stream().anyMatch(message -> message.contains(token)));
    }

    /** The delivered message carrying {@code token} (after {@link #awaitDelivered}). */
    static String delivered(GuiceJamesServer server, String user, String token) throws Exception {
        awaitDelivered(server, user, token);
        return inbox(server, user).stream().filter(message -> message.contains(token)).findFirst().orElseThrow();
    }

    /**
     * Nothing carrying {@code token} was delivered to READER: a later message from demo (the barrier) is waited
     * for first, so that a message James had queued would have had its chance to arrive.
     */
    static void assertNeverDelivered(GuiceJamesServer server, String token) throws Exception {
        String barrier = token("barrier"); // must not contain token
        try (SmtpClient smtp = submission(server)) {
            Step step = transaction(smtp, "<" + DEMO_USER + ">", READER, message(barrier, "From: <" + DEMO_USER + ">"));
            assertThat(step.summary()).as(step.toString()).isEqualTo("DATA 250");
        }
        awaitDelivered(server, READER, barrier);
        assertThat(inbox(server, READER)).noneMatch(message -> message.contains(token));
    }

    static void await(String what, Callable<Boolean> condition) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        while (!condition.call()) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("timed out after 30 s waiting for: " + what);
            }
            Thread.sleep(50);
        }
    }

    /** The step of a transaction that answered, and its reply. */
    static final class Step {
        final String step;
        final Reply reply;

        Step(String step, Reply reply) {
            this.step = step;
            this.reply = reply;
        }

        /** e.g. {@code MAIL 553 5.7.1}, or {@code DATA 250} for an accepted message. */
        String summary() {
            return reply.code() == 250 ? step + " 250" : step + " " + reply.code() + " " + reply.enhancedStatus();
        }

        @Override
        public String toString() {
            return step + " " + reply;
        }
    }
}
