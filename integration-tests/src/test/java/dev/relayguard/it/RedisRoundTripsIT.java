package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * How many Redis round trips each SMTP step of an authenticated submission costs with the Redis store (issue 17:
 * "at most one Redis round trip per connection or MAIL for the ban, AUTH and suspension lookups, never per RCPT").
 * James runs the shipped sample with {@code <store>redis</store>} (so the rate limits, the AUTH failure state, the
 * probe bans and the suspensions all live in Redis) plus a byte limit. A {@code MONITOR} connection sees every
 * command a client sends (commands a Lua script runs are shown apart, as {@code [.. lua]}, and not counted); after
 * each SMTP step a {@code PING} from a third connection marks the end of the step in the stream.
 */
class RedisRoundTripsIT {
    private static final String DOMAIN = RelayGuardServers.DOMAIN;
    private static final String PASSWORD = "secret-pw";
    private static final EmbeddedRedis REDIS = EmbeddedRedis.started();

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf
        .replace("relayguard.xml", "<store>memory</store>", "<store>redis</store><redisURL>" + REDIS.url() + "</redisURL>")
        .replace("relayguard.xml", "<!-- <limit measure=\"bytes\" max=\"200M\" per=\"1d\"/> -->",
            "<limit measure=\"bytes\" max=\"200M\" per=\"1d\"/>"));

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        DataProbeImpl data = server.getProbe(DataProbeImpl.class);
        data.addUser("sender@" + DOMAIN, PASSWORD);
        for (int i = 0; i < 3; i++) {
            data.addUser("rcpt" + i + "@" + DOMAIN, PASSWORD);
        }
    }

    @AfterAll
    static void stopRedis() {
        REDIS.stop();
    }

    /** Reads a MONITOR stream; {@link #step} returns the client commands seen since the last marker. */
    private static final class Monitor implements AutoCloseable {
        private final Socket monitor;
        private final Socket marker;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private int markers;

        Monitor(URI redis) throws IOException {
            monitor = new Socket(redis.getHost(), redis.getPort());
            marker = new Socket(redis.getHost(), redis.getPort());
            monitor.getOutputStream().write("MONITOR\r\n".getBytes(StandardCharsets.US_ASCII));
            BufferedReader in = new BufferedReader(new InputStreamReader(monitor.getInputStream(), StandardCharsets.UTF_8));
            Thread reader = new Thread(() -> {
                try {
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        lines.add(line);
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            }, "redis-monitor");
            reader.setDaemon(true);
            reader.start();
            step(); // skips "+OK"
        }

        /** The names of the commands clients other than the marker sent since the previous call. */
        List<String> step() throws IOException {
            String tag = "relayguard-step-" + (++markers);
            OutputStream out = marker.getOutputStream();
            out.write(("PING " + tag + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            marker.getInputStream().read(new byte[256]);
            List<String> commands = new ArrayList<>();
            while (true) {
                String line;
                try {
                    line = lines.poll(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
                if (line == null) {
                    throw new IOException("no marker " + tag + " in the MONITOR stream");
                }
                if (line.contains("\"" + tag + "\"")) {
                    return commands;
                }
                int bracket = line.indexOf(']');
                if (bracket < 0 || line.substring(0, bracket).contains(" lua")) {
                    continue; // "+OK", or a command run by a script
                }
                String rest = line.substring(bracket + 1).trim();
                if (rest.contains("\"relayguard:marker\"")) {
                    continue; // the store's background check for lost counters (every few seconds), not the session's
                }
                commands.add(describe(rest));
            }
        }

        /**
         * {@code "EVALSHA" "<sha>" "1" "relayguard:{user:x}" ...} as {@code evalsha relayguard:{user:x}} (every key the
         * call declares, space-separated); scripts loaded once as {@code eval (a script's first use)}.
         */
        private static String describe(String monitored) {
            String[] words = monitored.split("\" \"");
            String command = words[0].replace("\"", "").toLowerCase(Locale.ROOT);
            if (command.equals("evalsha") && words.length > 3) {
                int keys = Integer.parseInt(words[2].replace("\"", ""));
                StringBuilder described = new StringBuilder(command);
                for (int i = 0; i < keys && 3 + i < words.length; i++) {
                    described.append(' ').append(words[3 + i].replace("\"", ""));
                }
                return described.toString();
            }
            return command.equals("eval") ? "eval (a script's first use)" : command;
        }

        @Override
        public void close() throws IOException {
            monitor.close();
            marker.close();
        }
    }

    @Test
    void oneRoundTripPerRateDecisionAndNonePerRecipientReservedAtMail(GuiceJamesServer server) throws Exception {
        Map<String, List<String>> steps = new LinkedHashMap<>();
        try (Monitor monitor = new Monitor(URI.create(REDIS.url()))) {
            try (SmtpClient smtp = SmtpClient.connect(RelayGuardServers.submissionPort(server))) {
                steps.put("connect", monitor.step());
                smtp.ehlo("client.example");
                smtp.startTls("client.example");
                steps.put("EHLO + STARTTLS", monitor.step());
                assertThat(smtp.authPlain("sender@" + DOMAIN, PASSWORD).code()).isEqualTo(235);
                steps.put("AUTH", monitor.step());
                for (int message = 1; message <= 2; message++) {
                    assertThat(smtp.mailFrom("sender@" + DOMAIN).code()).isEqualTo(250);
                    steps.put("MAIL #" + message, monitor.step());
                    for (int i = 0; i < 3; i++) {
                        assertThat(smtp.rcptTo("rcpt" + i + "@" + DOMAIN).code()).isEqualTo(250);
                        steps.put("RCPT #" + message + "." + (i + 1), monitor.step());
                    }
                    assertThat(smtp.data("From: <sender@" + DOMAIN + ">\r\nSubject: round trips\r\n\r\nbody").code()).isEqualTo(250);
                    steps.put("DATA #" + message, monitor.step());
                }
            }
        }
        StringBuilder table = new StringBuilder("Redis round trips per SMTP step (client commands seen by MONITOR):\n");
        steps.forEach((step, commands) -> table.append(String.format("  %-16s %d %s%n", step, commands.size(), commands)));
        System.out.println(table);

        String counters = "evalsha relayguard:{user:sender@" + DOMAIN + "}";
        String suspension = "evalsha relayguard:hold:{suspension}:k:user:sender@" + DOMAIN;
        String chargeUnlessSuspended = counters + " relayguard:hold:{suspension}:k:user:sender@" + DOMAIN
            + " relayguard:hold:{suspension}:s:user:sender@" + DOMAIN;
        assertThat(steps.get("connect")).as(table.toString()).isEmpty();
        // The connection's first MAIL reserves one recipient with the message: the first RCPT takes it, the next two are
        // charged one by one. The second MAIL reserves 3 (the first message had 3): its RCPTs cost no round trip.
        assertThat(steps.get("RCPT #1.1")).as(table.toString()).isEmpty();
        assertThat(steps.get("RCPT #1.2")).as(table.toString()).containsExactly(counters);
        assertThat(steps.get("RCPT #1.3")).as(table.toString()).containsExactly(counters);
        for (int i = 1; i <= 3; i++) {
            assertThat(steps.get("RCPT #2." + i)).as(table.toString()).isEmpty();
        }
        // AUTH PLAIN with credentials: the attempt check (ban, throttle, known client) and the success, no other lookup.
        assertThat(steps.get("AUTH")).as(table.toString()).filteredOn(command -> command.startsWith("evalsha"))
            .map(command -> command.split(" ")[0] + " " + command.split(" ")[1]) // the call and its first key
            .containsExactly("evalsha relayguard:auth:{auth}:bans", "evalsha relayguard:auth:{auth}:k:sender@" + DOMAIN);
        // The second message, scripts loaded: the suspension lookup and the message charge in one script, one round trip
        // (the script reads the suspension's keys too: a standalone Redis; Redis Cluster keeps them in another slot).
        assertThat(steps.get("MAIL #2")).as(table.toString()).containsExactly(chargeUnlessSuspended);
        assertThat(steps.values()).as("no separate suspension lookup at any step\n" + table)
            .allSatisfy(commands -> assertThat(commands).noneMatch(command -> command.startsWith(suspension)));
        // The end of DATA: the byte charge (no reserved recipient left to give back); when the reservations made at MAIL and RCPT are no longer in the current
        // sub-bucket (the sample's 20/min: 6 s sub-buckets, a slow machine), they are counted again (more calls).
        assertThat(steps.get("DATA #2")).as(table.toString()).contains(counters).allMatch(counters::equals);
    }
}
