package dev.relayguard.it;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A policy file turned against us (issue 11): deleted, replaced by a directory, a FIFO or a 64 MiB file, made
 * unreadable, or carrying an XXE. Each time the file watcher and the JMX {@code reload} keep the current policy and
 * say why (WARN), nothing blocks, and the watcher still picks up a good file afterwards.
 * The policy marker is a relay domain: RCPT to it from an unauthenticated stranger gets 250, any other remote 550.
 */
class PolicyFileUnderAttackIT {
    private static final LogCapture RELAYGUARD_LOG = LogCapture.of("dev.relayguard.RelayGuard");
    private static final Duration DEADLINE = Duration.ofSeconds(20);
    private static SampleConf conf;
    private static int generation;

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(sample -> {
        conf = sample;
        sample.policyXml(policy("initial.example"));
    });

    private static String policy(String relayDomain) {
        return "<relayDomains><domain>" + relayDomain + "</domain></relayDomains>"
            + "<probeBans><refusals>0</refusals></probeBans>"
            + "<sessionLimits><maxRefusedRecipients>0</maxRefusedRecipients></sessionLimits>";
    }

    private Path file() {
        return conf.dir().resolve("relayguard.xml");
    }

    private static int rcptCode(GuiceJamesServer server, String domain) throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            smtp.ehlo("attacker.example");
            assertThat(smtp.mailFrom("someone@elsewhere.example").code()).isEqualTo(250);
            return smtp.rcptTo("postmaster@" + domain).code();
        }
    }

    private static void awaitRcptCode(GuiceJamesServer server, String domain, int expected) throws Exception {
        Instant deadline = Instant.now().plus(DEADLINE);
        int code;
        while ((code = rcptCode(server, domain)) != expected) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("RCPT to " + domain + " still " + code + ", expected " + expected);
            }
            Thread.sleep(200);
        }
    }

    /** Waits for a WARN line written after {@code mark} (a count of earlier WARN lines) that matches. */
    private static String awaitWarn(int mark, Predicate<String> matching, String what) throws Exception {
        Instant deadline = Instant.now().plus(DEADLINE);
        while (true) {
            List<String> warns = RELAYGUARD_LOG.linesAt("WARN");
            for (String line : warns.subList(Math.min(mark, warns.size()), warns.size())) {
                if (matching.test(line)) {
                    return line;
                }
            }
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("no WARN about " + what + " in " + warns.subList(Math.min(mark, warns.size()), warns.size()));
            }
            Thread.sleep(100);
        }
    }

    /** Writes a good policy (replacing whatever is at the path) and waits until the watcher has applied it. */
    private String installGood(GuiceJamesServer server) throws Exception {
        String domain = "good-" + (++generation) + ".example";
        Path tmp = conf.dir().resolve(".relayguard.xml.tmp");
        Files.writeString(tmp, "<relayguard>" + policy(domain) + "</relayguard>", UTF_8);
        if (Files.isDirectory(file())) {
            Files.delete(file());
        }
        Files.move(tmp, file(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        awaitRcptCode(server, domain, 250);
        return domain;
    }

    private static Object jmxReload() throws Exception {
        return ManagementFactory.getPlatformMBeanServer()
            .invoke(new ObjectName("org.apache.james:type=extension,name=RelayGuard"), "reload", null, null);
    }

    /** The JMX reload answers within seconds and refuses, saying why; the current policy stays. */
    private static void assertJmxReloadRefused(String why) {
        CompletableFuture<Object> reload = CompletableFuture.supplyAsync(() -> {
            try {
                return jmxReload();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertThatThrownBy(() -> reload.get(10, TimeUnit.SECONDS))
            .as("JMX reload is refused promptly")
            .hasStackTraceContaining("reload refused, the current policy stays")
            .hasStackTraceContaining(why);
    }

    private void assertKeptAfterBadFile(GuiceJamesServer server, String kept, String why) throws Exception {
        int mark = RELAYGUARD_LOG.linesAt("WARN").size();
        awaitWarn(mark, line -> line.contains("reload refused, the current policy stays") && line.contains(why), why);
        assertThat(rcptCode(server, kept)).as("the old policy (relay domain " + kept + ") still applies").isEqualTo(250);
        assertJmxReloadRefused(why);
        assertThat(rcptCode(server, kept)).as("the old policy still applies after a JMX reload").isEqualTo(250);
        assertThat(rcptCode(server, "unlisted.example")).as("and relaying elsewhere is still refused").isEqualTo(550);
    }

    @BeforeEach
    void startFromAGoodFile(GuiceJamesServer server) throws Exception {
        awaitRcptCode(server, "unlisted.example", 550);
    }

    @Test
    void deletedFileKeepsThePolicy(GuiceJamesServer server) throws Exception {
        String kept = installGood(server);
        Files.delete(file());
        assertKeptAfterBadFile(server, kept, "does not exist");
        installGood(server);
    }

    @Test
    void directoryKeepsThePolicy(GuiceJamesServer server) throws Exception {
        String kept = installGood(server);
        Files.delete(file());
        Files.createDirectory(file());
        assertKeptAfterBadFile(server, kept, "not a regular file (a directory)");
        installGood(server);
    }

    @Test
    void fifoNeitherBlocksNorChangesThePolicy(GuiceJamesServer server) throws Exception {
        String kept = installGood(server);
        Files.delete(file());
        Process mkfifo = new ProcessBuilder("mkfifo", file().toString()).redirectErrorStream(true).start();
        assertThat(mkfifo.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(mkfifo.exitValue()).as("mkfifo").isZero();
        assertKeptAfterBadFile(server, kept, "not a regular file");
        Files.delete(file());
        installGood(server);
    }

    @Test
    void oversizedFileIsRefusedBeforeReading(GuiceJamesServer server) throws Exception {
        String kept = installGood(server);
        long size = 64L * 1024 * 1024;
        Path big = conf.dir().resolve(".big.tmp");
        try (RandomAccessFile sparse = new RandomAccessFile(big.toFile(), "rw")) {
            sparse.setLength(size);
        }
        Files.move(big, file(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        assertKeptAfterBadFile(server, kept, size + " bytes, larger than");
        installGood(server);
    }

    @Test
    void unreadableFileKeepsThePolicy(GuiceJamesServer server) throws Exception {
        assumeThat(System.getProperty("user.name")).as("root reads files whatever their mode: skipped as root").isNotEqualTo("root");
        String kept = installGood(server);
        Path unreadable = conf.dir().resolve(".unreadable.tmp");
        Files.writeString(unreadable, "<relayguard>" + policy("never.example") + "</relayguard>", UTF_8);
        Files.setPosixFilePermissions(unreadable, PosixFilePermissions.fromString("---------"));
        Files.move(unreadable, file(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        try {
            assertKeptAfterBadFile(server, kept, "cannot be read");
        } finally {
            Files.setPosixFilePermissions(file(), PosixFilePermissions.fromString("rw-r--r--"));
        }
        installGood(server);
    }

    @Test
    void xxeIsRefused(GuiceJamesServer server) throws Exception {
        String kept = installGood(server);
        Path secret = conf.dir().resolve("secret-hostname");
        Files.writeString(secret, "leaked.example", UTF_8);
        Path tmp = conf.dir().resolve(".xxe.tmp");
        Files.writeString(tmp, "<!DOCTYPE relayguard [<!ENTITY x SYSTEM \"" + secret.toUri() + "\">]>"
            + "<relayguard><relayDomains><domain>&x;</domain></relayDomains>"
            + "<probeBans><refusals>0</refusals></probeBans></relayguard>", UTF_8);
        Files.move(tmp, file(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        int mark = RELAYGUARD_LOG.linesAt("WARN").size();
        String warn = awaitWarn(mark, line -> line.contains("DOCTYPE"), "the DOCTYPE");
        assertThat(warn).contains("relayguard.xml").doesNotContain("leaked.example");
        assertThat(rcptCode(server, "leaked.example")).as("the entity's content is no relay domain").isEqualTo(550);
        assertThat(rcptCode(server, kept)).isEqualTo(250);
        assertJmxReloadRefused("DOCTYPE");
        installGood(server);
    }
}
