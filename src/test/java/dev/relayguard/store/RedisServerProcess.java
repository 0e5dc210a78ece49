package dev.relayguard.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One Debian {@code redis-server} (7.x, installed by {@code .ci/run}: {@code apt-get install redis-server redis-tools})
 * run by a test: on 127.0.0.1 and a free port, in its own temporary directory (its {@code dir}, log and any
 * config file), with {@code --save "" --appendonly no} unless the test passes {@code --save} or
 * {@code --appendonly} itself. Unit tests and ITs (same test classpath) share it.
 *
 * <pre>{@code
 * try (RedisServerProcess redis = RedisServerProcess.start()) {              // plain
 *     new RedisLimiterStore(redis.url(), false, timeout) ...
 * }
 * RedisServerProcess.builder().args("--requirepass", "pw").cliArgs("-a", "pw").start();   // any option
 * redis.kill("STOP"); redis.kill("CONT"); redis.kill("KILL"); redis.restart();            // faults
 * }</pre>
 *
 * <p>When the chosen port is taken before the server binds it, another free port is tried (up to 5 times).
 * {@link #restart()} keeps the port. Fails with {@link IllegalStateException} (with the log tail) when the server
 * does not become ready within 30 s.
 */
public final class RedisServerProcess implements AutoCloseable {
    private static final long READY_MILLIS = 30_000;
    private static final int PORT_ATTEMPTS = 5;

    /** What to start: extra arguments, config-file lines, the redis-cli options (auth, TLS) this server needs. */
    public static final class Builder {
        private final List<String> args = new ArrayList<>();
        private final List<String> configLines = new ArrayList<>();
        private final List<String> cliArgs = new ArrayList<>();
        private boolean tls;
        private boolean clusterBus;

        private Builder() {
        }

        /** Extra {@code redis-server} arguments, e.g. {@code "--requirepass", "secret"}. */
        public Builder args(String... more) {
            args.addAll(Arrays.asList(more));
            for (int i = 0; i + 1 < more.length; i++) {
                if (more[i].equals("--cluster-enabled") && more[i + 1].equals("yes")) {
                    clusterBus = true;
                }
            }
            return this;
        }

        /**
         * Lines of a config file written into the server's directory and passed first (needed by Sentinel, which
         * rewrites its file), e.g. {@code "sentinel monitor mymaster 127.0.0.1 6379 1"}.
         */
        public Builder configLines(String... lines) {
            configLines.addAll(Arrays.asList(lines));
            return this;
        }

        /** Options every {@link #cli} call adds, e.g. {@code "--user", "u", "--pass", "pw"} or the TLS ones. */
        public Builder cliArgs(String... more) {
            cliArgs.addAll(Arrays.asList(more));
            return this;
        }

        /**
         * Serves TLS only ({@code --port 0 --tls-port <port>}) with this certificate, key and CA (clients need no
         * certificate); {@link #url()} becomes {@code rediss://} and {@link #cli} trusts {@code caCert}.
         */
        public Builder tls(Path certFile, Path keyFile, Path caCert) {
            tls = true;
            args.addAll(List.of("--tls-cert-file", certFile.toString(), "--tls-key-file", keyFile.toString(),
                "--tls-ca-cert-file", caCert.toString(), "--tls-auth-clients", "no"));
            cliArgs.addAll(List.of("--tls", "--cacert", caCert.toString()));
            return this;
        }

        /** Starts the server and waits until it accepts connections. */
        public RedisServerProcess start() {
            return new RedisServerProcess(this);
        }
    }

    private final List<String> args;
    private final List<String> configLines;
    private final List<String> cliArgs;
    private final boolean tls;
    private final boolean clusterBus;
    private final Path dir;
    private int port;
    private Process process;

    /** A plain server ({@code redis-server --port <free>}), ready. */
    public static RedisServerProcess start(String... args) {
        return builder().args(args).start();
    }

    public static Builder builder() {
        return new Builder();
    }

    private RedisServerProcess(Builder builder) {
        this.args = List.copyOf(builder.args);
        this.configLines = List.copyOf(builder.configLines);
        this.cliArgs = List.copyOf(builder.cliArgs);
        this.tls = builder.tls;
        this.clusterBus = builder.clusterBus;
        try {
            this.dir = Files.createTempDirectory("relayguard-redis-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        IllegalStateException last = null;
        for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
            port = freePort(clusterBus);
            try {
                launch();
                return;
            } catch (PortTaken e) {
                last = e;
            }
        }
        deleteDir();
        throw new IllegalStateException("redis-server found no free port in " + PORT_ATTEMPTS + " attempts", last);
    }

    /** 127.0.0.1 */
    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return port;
    }

    /** {@code host:port} */
    public String address() {
        return host() + ":" + port;
    }

    /** {@code redis://127.0.0.1:<port>} ({@code rediss://} with TLS), no credentials. */
    public String url() {
        return (tls ? "rediss://" : "redis://") + address();
    }

    /** The process id of the running server. */
    public long pid() {
        return process.pid();
    }

    /** The server's own directory (its {@code dir}, {@code redis.log}, config file). */
    public Path dir() {
        return dir;
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /**
     * Sends a signal with {@code kill(1)}: {@code "KILL"} (waits until the process is gone), {@code "STOP"},
     * {@code "CONT"}, {@code "TERM"}.
     */
    public void kill(String signal) {
        run(List.of("kill", "-" + signal, Long.toString(pid())), 10_000);
        if (signal.equals("KILL") || signal.equals("9")) {
            awaitExit();
        }
    }

    /** Stops the server (SIGCONT then SIGTERM, SIGKILL after 10 s); {@link #restart()} starts it again. */
    public void stop() {
        if (process == null) {
            return;
        }
        if (process.isAlive()) {
            kill("CONT");
            process.destroy();
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
    }

    /** Stops the server if it runs, then starts it again on the same port and directory (data as persisted). */
    public void restart() {
        stop();
        long deadline = System.currentTimeMillis() + READY_MILLIS;
        while (true) {
            try {
                launch();
                return;
            } catch (PortTaken e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                sleep(200);
            }
        }
    }

    /**
     * Runs {@code redis-cli -h 127.0.0.1 -p <port> <cliArgs> <args>} and returns its output, trimmed.
     *
     * @throws IllegalStateException when redis-cli fails or takes more than 30 s
     */
    public String cli(String... command) {
        List<String> line = new ArrayList<>(List.of(binary("redis-cli"), "-h", host(), "-p", Integer.toString(port)));
        line.addAll(cliArgs);
        line.add("--no-auth-warning");
        line.addAll(Arrays.asList(command));
        return run(line, READY_MILLIS);
    }

    /** The server's log (stdout and stderr). */
    public String log() {
        try {
            Path log = dir.resolve("redis.log");
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    /** Stops the server and deletes its directory. */
    @Override
    public void close() {
        stop();
        deleteDir();
    }

    // ----- starting -----

    private static final class PortTaken extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        PortTaken(String message) {
            super(message);
        }
    }

    private void launch() {
        List<String> command = new ArrayList<>();
        command.add(binary("redis-server"));
        boolean sentinel = args.contains("--sentinel");
        if (!configLines.isEmpty()) {
            Path config = dir.resolve(sentinel ? "sentinel.conf" : "redis.conf");
            try {
                if (!Files.exists(config)) { // Sentinel rewrites its file: keep it across restarts
                    Files.write(config, configLines, StandardCharsets.UTF_8);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            command.add(config.toString());
        }
        if (tls) {
            command.addAll(List.of("--port", "0", "--tls-port", Integer.toString(port)));
        } else {
            command.addAll(List.of("--port", Integer.toString(port)));
        }
        command.addAll(List.of("--bind", "127.0.0.1", "--dir", dir.toString(), "--daemonize", "no"));
        if (!sentinel) {
            if (!args.contains("--save")) {
                command.addAll(List.of("--save", ""));
            }
            if (!args.contains("--appendonly")) {
                command.addAll(List.of("--appendonly", "no"));
            }
        }
        command.addAll(args);
        Path log = dir.resolve("redis.log");
        try {
            Files.deleteIfExists(log);
            process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        }
        long deadline = System.currentTimeMillis() + READY_MILLIS;
        while (true) {
            String text = log();
            if (text.contains("Address already in use")) {
                stop();
                throw new PortTaken("port " + port + " taken");
            }
            if (!process.isAlive()) {
                throw new IllegalStateException("redis-server exited (" + process.exitValue() + "): " + command + "\n" + tail(text));
            }
            if (text.contains("Ready to accept connections") || (sentinel && text.contains("Sentinel ID is"))) {
                return;
            }
            if (System.currentTimeMillis() > deadline) {
                stop();
                throw new IllegalStateException("redis-server not ready within " + READY_MILLIS + " ms: " + command + "\n" + tail(text));
            }
            sleep(20);
        }
    }

    private void awaitExit() {
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("redis-server " + pid() + " still alive 10 s after the signal");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A port free now (and its cluster bus port, port + 10000, when the server runs cluster mode). */
    private static int freePort(boolean clusterBus) {
        for (int attempt = 0; attempt < 100; attempt++) {
            int candidate;
            try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
                candidate = socket.getLocalPort();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (!clusterBus) {
                return candidate;
            }
            if (candidate + 10_000 <= 65_535 && isFree(candidate + 10_000)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no free port pair (port, port + 10000) for a cluster node");
    }

    private static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The path of a Redis tool ({@code redis-server}, {@code redis-cli}).
     *
     * @throws IllegalStateException naming the Debian packages when it is missing
     */
    static String binary(String name) {
        String path = System.getenv("PATH");
        List<String> dirs = new ArrayList<>(Arrays.asList((path == null ? "" : path).split(":")));
        dirs.addAll(List.of("/usr/bin", "/usr/sbin", "/usr/local/bin"));
        for (String candidate : dirs) {
            if (!candidate.isEmpty() && Files.isExecutable(Paths.get(candidate, name))) {
                return Paths.get(candidate, name).toString();
            }
        }
        throw new IllegalStateException(name + " is missing: install Debian's redis-server and redis-tools "
            + "(apt-get install -y redis-server redis-tools; .ci/run does it)");
    }

    /** Runs a command, returns its output (trimmed); fails on a non-zero exit or after {@code millis}. */
    static String run(List<String> command, long millis) {
        Path out = null;
        try {
            out = Files.createTempFile("relayguard-redis-cmd", ".out");
            Process child = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            child.getOutputStream().close();
            if (!child.waitFor(millis, TimeUnit.MILLISECONDS)) {
                child.destroyForcibly();
                throw new IllegalStateException("timed out after " + millis + " ms: " + command);
            }
            String text = Files.readString(out, StandardCharsets.UTF_8).trim();
            if (child.exitValue() != 0) {
                throw new IllegalStateException("failed (" + child.exitValue() + "): " + command + "\n" + text);
            }
            return text;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } finally {
            if (out != null) {
                out.toFile().delete();
            }
        }
    }

    private static String tail(String text) {
        return text.length() <= 2000 ? text : text.substring(text.length() - 2000);
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private void deleteDir() {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temp dir left behind is harmless
        }
    }
}
