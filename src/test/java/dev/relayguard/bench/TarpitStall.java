package dev.relayguard.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.james.GuiceJamesServer;
import org.apache.james.MemoryJamesServerMain;

import dev.relayguard.it.RelayGuardServers;
import dev.relayguard.it.SampleConf;
import dev.relayguard.it.SmtpClient;

/**
 * What tarpitted clients do to legitimate mail on the same listener: a real in-process James 3.8.1 (the sample, probe
 * bans off, {@code <tarpitAfter>1</tarpitAfter><tarpitDelay>5s</tarpitDelay>}, no connection limit on refusals),
 * {@code N} attackers (default 16, James's default handler-executor count) each sending refused relay RCPTs in a loop,
 * and one legitimate client delivering a message to a local user, connection to {@code 250} after DATA. Prints the
 * legitimate delivery times without attackers, then with them. Not a test: figures for the report, no assertion.
 *
 * <p>Run (after {@code mvn -o test-compile} and {@code mvn -o dependency:build-classpath -Dmdep.outputFile=target/cp.txt}
 * with {@code -Dmdep.includeScope=test}), from the project directory:
 * {@code java -cp target/test-classes:target/classes:$(cat target/cp.txt) dev.relayguard.bench.TarpitStall [attackers] [rounds] [delaySeconds]}.
 * A legitimate delivery that waits more than 30 s for one reply (the test client's read timeout) prints as
 * {@code timeout}.
 */
public final class TarpitStall {
    private static final String POLICY = "<probeBans><refusals>0</refusals></probeBans>"
        + "<sessionLimits><maxRefusedRecipients>0</maxRefusedRecipients>"
        + "<tarpitAfter>1</tarpitAfter><tarpitDelay>%ds</tarpitDelay></sessionLimits>";

    /** Since the tarpit was removed ({@code delaySeconds} 0): the same attack, refusals answered at once. */
    private static final String NO_TARPIT = "<probeBans><refusals>0</refusals></probeBans>"
        + "<sessionLimits><maxRefusedRecipients>0</maxRefusedRecipients></sessionLimits>";

    private TarpitStall() {
    }

    public static void main(String[] args) throws Exception {
        int attackers = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int delaySeconds = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        Path dir = Files.createTempDirectory("tarpit-stall");
        SampleConf conf = SampleConf.copyTo(dir.resolve("conf")).policyXml(delaySeconds == 0 ? NO_TARPIT
            : String.format(POLICY, delaySeconds));
        GuiceJamesServer server = MemoryJamesServerMain.createServer(RelayGuardServers.configuration(dir, conf.dir()));
        server.start();
        try {
            int port = RelayGuardServers.mxPort(server);
            legitimate(port, 3); // warm-up
            System.out.println("without attackers: " + legitimate(port, rounds));
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger refused = new AtomicInteger();
            CountDownLatch started = new CountDownLatch(attackers);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < attackers; i++) {
                Thread thread = new Thread(() -> attack(port, stop, refused, started), "attacker-" + i);
                thread.setDaemon(true);
                thread.start();
                threads.add(thread);
            }
            started.await(60, TimeUnit.SECONDS);
            long start = System.nanoTime();
            String with = legitimate(port, rounds);
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.println("with " + attackers + " attackers, tarpit delay " + delaySeconds + " s: " + with);
            System.out.printf("refused attacker RCPTs answered meanwhile: %d in %.1f s%n", refused.get(), seconds);
            stop.set(true);
            for (Thread thread : threads) {
                thread.join(1_000); // daemons: a tarpitted one may still be waiting for its reply
            }
        } finally {
            server.stop();
        }
        System.exit(0); // James leaves non-daemon threads behind
    }

    /** Delivers {@code rounds} messages one after the other; their times in ms, sorted, with the median. */
    private static String legitimate(int port, int rounds) {
        List<Long> millis = new ArrayList<>();
        int timeouts = 0;
        for (int i = 0; i < rounds; i++) {
            long start = System.nanoTime();
            try (SmtpClient client = SmtpClient.connect(port)) {
                client.ehlo("legit.example");
                client.mailFrom("someone@legit.example");
                SmtpClient.Reply rcpt = client.rcptTo(RelayGuardServers.DEMO_USER);
                SmtpClient.Reply data = client.data("Subject: hello\r\n\r\nhi");
                if (rcpt.code() != 250 || data.code() != 250) {
                    throw new IllegalStateException("legitimate mail not accepted: " + rcpt + " / " + data);
                }
                client.command("QUIT");
                millis.add((System.nanoTime() - start) / 1_000_000);
            } catch (IOException e) {
                timeouts++;
            }
        }
        List<Long> sorted = new ArrayList<>(millis);
        Collections.sort(sorted);
        return (sorted.isEmpty() ? "" : "median " + sorted.get(sorted.size() / 2) + " ms, ") + "delivered " + sorted
            + " ms, timeout " + timeouts + "/" + rounds;
    }

    private static void attack(int port, AtomicBoolean stop, AtomicInteger refused, CountDownLatch started) {
        try (SmtpClient client = SmtpClient.connect(port)) {
            client.ehlo("attacker.example");
            client.mailFrom("x@attacker.example");
            boolean first = true;
            while (!stop.get()) {
                if (client.rcptTo("victim@remote.example").code() >= 500) {
                    refused.incrementAndGet();
                }
                if (first) {
                    started.countDown(); // answered once: the loop sends the next RCPT at once
                    first = false;
                }
            }
        } catch (IOException e) {
            System.out.println(Thread.currentThread().getName() + ": " + e);
        }
    }
}
