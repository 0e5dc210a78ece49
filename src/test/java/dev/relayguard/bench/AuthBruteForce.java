package dev.relayguard.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import org.apache.james.GuiceJamesServer;
import org.apache.james.MemoryJamesServerMain;
import org.apache.james.utils.DataProbeImpl;

import dev.relayguard.it.RelayGuardServers;
import dev.relayguard.it.SampleConf;
import dev.relayguard.it.SmtpClient;

/**
 * Issue 13's load test: many parallel password guessers on the submission listener do not stall a legitimate user.
 * A real in-process James 3.8.1 from the sample (STARTTLS, AUTH after TLS, RelayGuard's default {@code <authLimits>});
 * {@code attackers} threads (default 32) each loop: connect from a 127.0.0.x source address (spread over
 * {@code sourceIps} addresses, default 200), EHLO, STARTTLS, then AUTH PLAIN with wrong passwords for the demo account
 * and for made-up accounts until the server closes or refuses; meanwhile one legitimate client (from 127.0.0.1, which
 * logged in before the attack) submits a message: connect, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT. Prints the
 * legitimate submission times without and with the attack, and what the attackers got (reply codes), i.e. how many
 * guesses reached James's password check. Not a test: figures for the report, no assertion.
 *
 * <p>Run from the project directory (after {@code mvn -o test-compile} and
 * {@code mvn -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/cp.txt}):
 * {@code java -cp target/test-classes:target/classes:$(cat target/cp.txt) dev.relayguard.bench.AuthBruteForce [attackers] [sourceIps] [seconds] [mode]}
 * with mode {@code auth} (the default), {@code tls-only} (the same connections and TLS handshakes without AUTH: what
 * TLS alone costs on this machine, where clients and server share the CPUs) or {@code mx-plain} (AUTH on the MX
 * listener without TLS: answered 503 before any credential is read; the third closes the connection)
 * or {@code benchmarks/auth-brute-force.sh}.
 */
public final class AuthBruteForce {
    private static final String USER = RelayGuardServers.DEMO_USER;
    private static final String PASSWORD = RelayGuardServers.DEMO_PASSWORD;
    /** Why legitimate submissions failed: the reply of the failing step, counted. */
    private static final Map<String, LongAdder> LEGITIMATE_FAILURES = new ConcurrentHashMap<>();
    /** Per step of a legitimate submission, the times in ms (cleared between the phases). */
    private static final Map<String, List<Long>> STEP_MILLIS = new ConcurrentHashMap<>();

    /** The time of each step of one submission. */
    private static final class Steps {
        private final Map<String, Long> millis = new LinkedHashMap<>();
        private long last = System.nanoTime();

        void lap(String step) {
            long now = System.nanoTime();
            millis.put(step, (now - last) / 1_000_000);
            last = now;
        }

        void addTo(Map<String, List<Long>> all) {
            millis.forEach((step, ms) -> all.computeIfAbsent(step, s -> Collections.synchronizedList(new ArrayList<>())).add(ms));
        }
    }

    /** The median of each step, in ms. */
    private static String medians() {
        Map<String, Long> medians = new LinkedHashMap<>();
        for (String step : List.of("connect", "ehlo", "starttls", "auth", "mail+rcpt", "data", "quit")) {
            List<Long> values = new ArrayList<>(STEP_MILLIS.getOrDefault(step, List.of()));
            Collections.sort(values);
            medians.put(step, values.isEmpty() ? -1 : values.get(values.size() / 2));
            medians.put(step + ".max", values.isEmpty() ? -1 : values.get(values.size() - 1));
        }
        STEP_MILLIS.clear();
        return "median ms per step " + medians;
    }

    private AuthBruteForce() {
    }

    public static void main(String[] args) throws Exception {
        int attackers = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        int sourceIps = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 60;
        String mode = args.length > 3 ? args[3] : "auth";
        if (!List.of("auth", "tls-only", "mx-plain").contains(mode)) {
            throw new IllegalArgumentException("mode: auth (guess passwords after STARTTLS), tls-only (the same TLS"
                + " handshakes, no AUTH: what TLS alone costs) or mx-plain (AUTH on the MX listener, no TLS)");
        }
        Path dir = Files.createTempDirectory("auth-brute-force");
        // The sample's 20 messages per minute would refuse the legitimate user before any attacker does.
        SampleConf conf = SampleConf.copyTo(dir.resolve("conf"))
            .replace("relayguard.xml", "<limit measure=\"messages\" max=\"20\" per=\"1m\"/>",
                "<limit measure=\"messages\" max=\"100000\" per=\"1m\"/>")
            .replace("relayguard.xml", "<limit measure=\"messages\" max=\"500\" per=\"1d\"/>", "");
        GuiceJamesServer server = MemoryJamesServerMain.createServer(RelayGuardServers.configuration(dir, conf.dir()));
        server.start();
        try {
            server.getProbe(DataProbeImpl.class).fluent().addUser(USER, PASSWORD);
            int port = RelayGuardServers.submissionPort(server);
            int attackPort = "mx-plain".equals(mode) ? RelayGuardServers.mxPort(server) : port;
            submissions(port, 5); // warm-up; 127.0.0.1 becomes a known client of the account
            STEP_MILLIS.clear();
            List<Long> quiet = submissions(port, 20);
            System.out.println("without attackers: " + summary(quiet) + "; " + medians());

            AtomicBoolean stop = new AtomicBoolean();
            Map<String, LongAdder> replies = new ConcurrentHashMap<>();
            AtomicLong connections = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < attackers; i++) {
                int first = i;
                Thread thread = new Thread(() -> attack(attackPort, mode, first, attackers, sourceIps, stop, replies, connections), "attacker-" + i);
                thread.setDaemon(true);
                thread.start();
                threads.add(thread);
            }
            long start = System.nanoTime();
            List<Long> loaded = new ArrayList<>();
            while ((System.nanoTime() - start) / 1_000_000_000L < seconds) {
                loaded.addAll(submissions(port, 1));
                Thread.sleep(200);
            }
            double elapsed = (System.nanoTime() - start) / 1e9;
            stop.set(true);
            for (Thread thread : threads) {
                thread.join(5_000);
            }
            System.out.printf("with %d %s attackers from %d source IPs for %.0f s: %s; %s%n", attackers, mode, sourceIps, elapsed,
                summary(loaded), medians());
            Map<String, Long> sorted = new TreeMap<>();
            replies.forEach((code, count) -> sorted.put(code, count.sum()));
            long auths = sorted.values().stream().mapToLong(Long::longValue).sum();
            System.out.printf("attacker connections: %d (%.0f/s), AUTH replies: %d (%.0f/s) by code: %s%n",
                connections.get(), connections.get() / elapsed, auths, auths / elapsed, sorted);
            System.out.println("legitimate failures: " + LEGITIMATE_FAILURES);
            System.out.println("password checks James ran for attackers = replies 535 + 421 (454 and 538 come before any check)");
        } finally {
            server.stop();
        }
        System.exit(0); // attacker threads may still sit in a socket read; a stopped James can leave non-daemon threads
    }

    /** {@code rounds} legitimate submissions from 127.0.0.1; each one's time in ms (connect to QUIT), -1 when refused. */
    private static List<Long> submissions(int port, int rounds) {
        List<Long> times = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            long start = System.nanoTime();
            Steps steps = new Steps();
            try (SmtpClient smtp = SmtpClient.connectFrom("127.0.0.1", port)) {
                steps.lap("connect");
                smtp.ehlo("user.example");
                steps.lap("ehlo");
                smtp.startTls("user.example");
                steps.lap("starttls");
                SmtpClient.Reply failed = expect(smtp.authPlain(USER, PASSWORD), 235);
                steps.lap("auth");
                failed = failed != null ? failed : expect(smtp.mailFrom(USER), 250);
                failed = failed != null ? failed : expect(smtp.rcptTo(USER), 250);
                steps.lap("mail+rcpt");
                failed = failed != null ? failed : expect(smtp.data("From: <" + USER + ">\r\nSubject: load\r\n\r\nhello\r\n"), 250);
                steps.lap("data");
                smtp.command("QUIT");
                steps.lap("quit");
                if (failed != null) {
                    LEGITIMATE_FAILURES.computeIfAbsent(failed.toString(), r -> new LongAdder()).increment();
                }
                times.add(failed == null ? (System.nanoTime() - start) / 1_000_000 : -1);
                if (failed == null) {
                    steps.addTo(STEP_MILLIS);
                }
            } catch (Exception e) {
                LEGITIMATE_FAILURES.computeIfAbsent(e.toString(), r -> new LongAdder()).increment();
                times.add(-1L);
            }
        }
        return times;
    }

    private static SmtpClient.Reply expect(SmtpClient.Reply reply, int code) {
        return reply.code() == code ? null : reply;
    }

    private static void attack(int port, String mode, int first, int attackers, int sourceIps, AtomicBoolean stop,
                               Map<String, LongAdder> replies, AtomicLong connections) {
        long n = first;
        while (!stop.get()) {
            String source = "127.0.0." + (2 + (n % sourceIps) % 250);
            n += attackers;
            connections.incrementAndGet();
            try (SmtpClient smtp = SmtpClient.connectFrom(source, port)) {
                smtp.ehlo("guesser.example");
                if ("tls-only".equals(mode)) {
                    smtp.startTls("guesser.example");
                    replies.computeIfAbsent("NOOP " + smtp.command("NOOP").code(), c -> new LongAdder()).increment();
                    continue;
                }
                if ("auth".equals(mode)) {
                    smtp.startTls("guesser.example");
                }
                for (int guess = 0; guess < 10 && !stop.get(); guess++) {
                    String account = (n + guess) % 2 == 0 ? USER : "user" + (n % 1000) + "@relayguard.test";
                    SmtpClient.Reply reply = smtp.authPlain(account, "guess-" + n + "-" + guess);
                    replies.computeIfAbsent(String.valueOf(reply.code()), c -> new LongAdder()).increment();
                    if (reply.code() == 421 || reply.code() == 454 || reply.code() == 503) {
                        break;
                    }
                }
            } catch (IOException e) {
                replies.computeIfAbsent("closed", c -> new LongAdder()).increment();
            } catch (Exception e) {
                replies.computeIfAbsent("error:" + e.getClass().getSimpleName(), c -> new LongAdder()).increment();
            }
        }
    }

    private static String summary(List<Long> times) {
        List<Long> ok = new ArrayList<>();
        for (long t : times) {
            if (t >= 0) {
                ok.add(t);
            }
        }
        Collections.sort(ok);
        if (ok.isEmpty()) {
            return times.size() + " submissions, none delivered";
        }
        return String.format("%d submissions, %d delivered; ms median %d, p95 %d, max %d", times.size(), ok.size(),
            ok.get(ok.size() / 2), ok.get(Math.min(ok.size() - 1, (int) Math.ceil(ok.size() * 0.95) - 1)), ok.get(ok.size() - 1));
    }
}
