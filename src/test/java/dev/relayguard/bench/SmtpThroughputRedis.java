package dev.relayguard.bench;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The local Redis of the {@code relayguard-redis} variant: Debian's {@code redis-server} (7.0 here) started by the
 * benchmark for one run, on 127.0.0.1 and a free port, with no persistence ({@code --save ""},
 * {@code --appendonly no}), stopped after the run. Its figures come from Redis itself, one {@code INFO all} over a
 * plain RESP connection: {@code commandstats} (calls and microseconds per command; Redis counts the commands a Lua
 * script runs under their own names too, so an {@code EVALSHA} that runs three {@code HGET} shows as 1 + 3 calls),
 * {@code cpu} ({@code used_cpu_sys} + {@code used_cpu_user}, seconds) and {@code stats}
 * ({@code total_reads_processed}: read events on client connections, i.e. request batches received: the round trips
 * as Redis sees them, commands run inside scripts not included). The benchmark's own {@code INFO} calls are left out.
 */
final class SmtpThroughputRedis implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path log;

    private SmtpThroughputRedis(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Starts {@code executable} in {@code dir} on a free port and waits (at most 30 s) until it answers PING. */
    static SmtpThroughputRedis start(Path executable, Path dir) throws IOException, InterruptedException {
        if (!Files.isExecutable(executable)) {
            throw new IllegalStateException(executable + " not found: the relayguard-redis variant needs a local redis-server "
                + "(Debian: apt-get install redis-server; or --redis-server PATH)");
        }
        Files.createDirectories(dir);
        int port = SmtpThroughputJames.freePort();
        Path log = dir.resolve("redis.log");
        Process process = new ProcessBuilder(executable.toString(), "--port", String.valueOf(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
        SmtpThroughputRedis redis = new SmtpThroughputRedis(process, port, log);
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        IOException last = null;
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                throw new IllegalStateException("redis-server exited with " + process.exitValue() + ": " + redis.logText());
            }
            try {
                if ("PONG".equals(redis.command("PING"))) {
                    return redis;
                }
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(100);
        }
        redis.close();
        throw new IllegalStateException("redis-server never answered PING on port " + port + ": " + redis.logText(), last);
    }

    /** The URL for {@code <rateLimits><redisURL>}. */
    String url() {
        return "redis://127.0.0.1:" + port;
    }

    /** Redis's counters since it started (the INFO command left out of the calls). */
    Stats stats() throws IOException {
        Stats stats = new Stats();
        double cpu = 0;
        for (String line : command("INFO all").split("\r\n")) {
            if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
                cpu += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
            } else if (line.startsWith("total_reads_processed:")) {
                stats.reads = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
            }
            // cmdstat_evalsha:calls=1234,usec=5678,usec_per_call=4.60,rejected_calls=0,failed_calls=0
            if (!line.startsWith("cmdstat_")) {
                continue;
            }
            String name = line.substring("cmdstat_".length(), line.indexOf(':'));
            if (name.equals("info")) {
                continue;
            }
            for (String field : line.substring(line.indexOf(':') + 1).split(",")) {
                String[] pair = field.split("=", 2);
                if (pair[0].equals("calls")) {
                    stats.calls.put(name, Long.parseLong(pair[1]));
                } else if (pair[0].equals("usec")) {
                    stats.usec.put(name, Long.parseLong(pair[1]));
                }
            }
        }
        stats.cpuSeconds = cpu;
        return stats;
    }

    /**
     * The commands RelayGuard's Lua scripts run ({@code redis.call('X'} / {@code redis.pcall('X'} in
     * {@code src/main/resources/dev/relayguard/store/*.lua}), lower case as {@code INFO commandstats} names them.
     * Every other command in the stats (EVALSHA, EVAL, and anything sent directly) is a request from a client.
     */
    static Set<String> scriptCommands(Path projectDir) throws IOException {
        Set<String> commands = new TreeSet<>();
        Pattern call = Pattern.compile("redis\\.p?call\\(\\s*['\"]([A-Za-z]+)['\"]");
        try (Stream<Path> scripts = Files.list(projectDir.resolve("src/main/resources/dev/relayguard/store"))) {
            for (Path script : (Iterable<Path>) scripts::iterator) {
                if (script.getFileName().toString().endsWith(".lua")) {
                    Matcher matcher = call.matcher(Files.readString(script));
                    while (matcher.find()) {
                        commands.add(matcher.group(1).toLowerCase(Locale.ROOT));
                    }
                }
            }
        }
        return commands;
    }

    /** Redis's own counters at one instant. */
    static final class Stats {
        final Map<String, Long> calls = new TreeMap<>();
        final Map<String, Long> usec = new TreeMap<>();
        double cpuSeconds;
        /** {@code total_reads_processed}: read events on client connections (-1 if this Redis does not report it). */
        long reads = -1;
    }

    /**
     * Read events of the benchmark's own {@code INFO} connections between two {@link #stats()} calls: the command
     * of the second, and the end-of-connection read of the first.
     */
    static final int OWN_READS_BETWEEN_STATS = 2;

    /**
     * One inline command on a fresh connection; the reply as text (simple string, or the bulk string's content).
     * Opening a connection per call keeps this class trivial; it is called a few times per run only.
     */
    private String command(String inline) throws IOException {
        try (Socket socket = new Socket()) {
            socket.setSoTimeout(10_000);
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
            OutputStream out = socket.getOutputStream();
            out.write((inline + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = new BufferedInputStream(socket.getInputStream());
            String first = readLine(in);
            if (first.startsWith("+")) {
                return first.substring(1);
            }
            if (first.startsWith("$")) {
                int length = Integer.parseInt(first.substring(1));
                byte[] body = in.readNBytes(Math.max(0, length));
                if (body.length != length) {
                    throw new IOException("short reply from Redis");
                }
                return new String(body, StandardCharsets.UTF_8);
            }
            throw new IOException("Redis answered " + first + " to " + inline);
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int b;
        while ((b = in.read()) != -1 && b != '\n') {
            if (b != '\r') {
                line.append((char) b);
            }
        }
        if (b == -1 && line.length() == 0) {
            throw new IOException("connection closed by Redis");
        }
        return line.toString();
    }

    private String logText() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /** Stops Redis (SIGTERM; killed after 20 s). */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** Kills Redis without waiting (shutdown hook of the benchmark). */
    void kill() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
