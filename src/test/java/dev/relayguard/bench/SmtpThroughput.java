package dev.relayguard.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;

/**
 * SMTP throughput of James 3.8.1 with and without RelayGuard, measured the operator way. Run it with
 * {@code benchmarks/smtp-throughput.sh} (which builds first); {@code --help} lists the options.
 *
 * <p>Two loads ({@code --load}): {@code mx}, strangers delivering to local mailboxes on the MX listener (variants
 * {@code stock}, {@code relayguard}, {@code relayguard-limiter}), and {@code submission}, users logging in on the
 * submission listener (STARTTLS, AUTH PLAIN) and sending from their own address (variants {@code stock},
 * {@code relayguard-full}, {@code relayguard-redis}; the last with a local {@code redis-server} the benchmark starts
 * per run, whose {@code INFO commandstats} and {@code INFO cpu} give Redis calls and Redis CPU per message).
 *
 * <p>Each round starts, one at a time (the machine is small), a fresh James per variant (see
 * {@link SmtpThroughputJames}), creates the mailboxes over JMX, drives the same SMTP load at its MX listener from
 * this JVM ({@link SmtpThroughputLoad}), warms up, then measures: messages accepted per second, James's CPU time
 * from {@code /proc/<pid>/stat} (only James's JVM: the load runs here), James's own SMTP command timers and
 * RelayGuard's decision timers over JMX, client round-trip times, and the spool backlog. The order of the
 * variants rotates from round to round. Results: printed, and written to {@code target/smtp-throughput/}
 * ({@code results.md}, {@code results.csv}, {@code throughput.png}, one James log per run in {@code logs/}).
 */
public final class SmtpThroughput {
    static final String DOMAIN = "relayguard.test";
    /** The password of every mailbox and user the benchmark creates. */
    private static final String PASSWORD = "bench-password";
    private static final double RATIO_GOAL = 0.97;
    private static final double RCPT_ADDED_GOAL_MICROS = 20.0;

    private SmtpThroughput() {
    }

    // ------------------------------------------------------------------------------------------------ options

    static final class Options {
        Path projectDir = Paths.get(".").toAbsolutePath().normalize();
        Path outDir;
        int rounds = 3;
        int warmupSeconds = 120;
        int measureSeconds = 60;
        int clients = 16;
        int recipients = 5;
        int mailboxes = 200;
        int messagesPerConnection = 100;
        int bodyBytes = 512;
        boolean distinctSourceIps = true;
        String heap = "1g";
        /** Null until parsed: the variants of the load mode unless {@code --variants} names some. */
        List<String> variants;
        /** {@code --load submission}: authenticated users on the submission listener. */
        boolean submission;
        int users = 64;
        Path redisServer = Paths.get("/usr/bin/redis-server");
        boolean keep;
        List<String> jamesJvmOptions = new ArrayList<>();
        boolean discard = true;

        static Options parse(String[] args) {
            Options options = new Options();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (arg.equals("--help") || arg.equals("-h")) {
                    System.out.println(usage());
                    System.exit(0);
                }
                if (arg.equals("--keep")) {
                    options.keep = true;
                    continue;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(arg + " needs a value\n" + usage());
                }
                String value = args[++i];
                switch (arg) {
                    case "--project-dir": options.projectDir = Paths.get(value).toAbsolutePath().normalize(); break;
                    case "--out": options.outDir = Paths.get(value).toAbsolutePath().normalize(); break;
                    case "--rounds": options.rounds = positive(arg, value); break;
                    case "--warmup": options.warmupSeconds = positive(arg, value); break;
                    case "--measure": options.measureSeconds = positive(arg, value); break;
                    case "--clients": options.clients = positive(arg, value); break;
                    case "--recipients": options.recipients = positive(arg, value); break;
                    case "--mailboxes": options.mailboxes = positive(arg, value); break;
                    case "--messages-per-connection": options.messagesPerConnection = Integer.parseInt(value); break;
                    case "--body-bytes": options.bodyBytes = positive(arg, value); break;
                    case "--heap": options.heap = value; break;
                    case "--james-opt": options.jamesJvmOptions.add(value); break;
                    case "--delivery":
                        if (!value.equals("discard") && !value.equals("mailbox")) {
                            throw new IllegalArgumentException("--delivery discard|mailbox");
                        }
                        options.discard = value.equals("discard");
                        break;
                    case "--source-ips":
                        if (!value.equals("distinct") && !value.equals("single")) {
                            throw new IllegalArgumentException("--source-ips distinct|single");
                        }
                        options.distinctSourceIps = value.equals("distinct");
                        break;
                    case "--load":
                        if (!value.equals("mx") && !value.equals("submission")) {
                            throw new IllegalArgumentException("--load mx|submission");
                        }
                        options.submission = value.equals("submission");
                        break;
                    case "--users": options.users = positive(arg, value); break;
                    case "--redis-server": options.redisServer = Paths.get(value).toAbsolutePath().normalize(); break;
                    case "--variants":
                        options.variants = Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                            .collect(Collectors.toList());
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option " + arg + "\n" + usage());
                }
            }
            List<String> known = SmtpThroughputJames.variants(options.submission);
            if (options.variants == null) {
                options.variants = new ArrayList<>(known);
            }
            for (String variant : options.variants) {
                if (!known.contains(variant)) {
                    throw new IllegalArgumentException("unknown variant " + variant + " for --load "
                        + options.loadName() + " (known: " + known + ")");
                }
            }
            if (!options.variants.contains(SmtpThroughputJames.STOCK)) {
                throw new IllegalArgumentException("--variants must include stock (the reference)");
            }
            if (options.recipients > options.mailboxes) {
                throw new IllegalArgumentException("--recipients must not exceed --mailboxes");
            }
            if (options.clients > 240 && options.distinctSourceIps) {
                throw new IllegalArgumentException("at most 240 clients with --source-ips distinct");
            }
            if (options.outDir == null) {
                options.outDir = options.projectDir.resolve("target/smtp-throughput");
            }
            return options;
        }

        String loadName() {
            return submission ? "submission" : "mx";
        }

        private static int positive(String option, String value) {
            int parsed = Integer.parseInt(value);
            if (parsed < 1) {
                throw new IllegalArgumentException(option + " must be at least 1");
            }
            return parsed;
        }

        static String usage() {
            return String.join("\n",
                "SmtpThroughput: SMTP throughput of James 3.8.1, stock vs with RelayGuard (benchmarks/smtp-throughput.sh).",
                "  --project-dir DIR              the RelayGuard checkout, built (default .)",
                "  --load mx|submission           mx: strangers deliver to local mailboxes on the MX listener (no TLS, no AUTH);",
                "                                 submission: each connection to the submission listener runs STARTTLS and",
                "                                 AUTH PLAIN as one of --users users, then sends from that user's address",
                "                                 (MAIL FROM and From:) to local mailboxes (default mx)",
                "  --users N                      users of the submission load, created over JMX like the mailboxes (default 64)",
                "  --redis-server PATH            the redis-server relayguard-redis starts per run (default /usr/bin/redis-server)",
                "  --rounds N                     rounds; each runs every variant once, order rotating (default 3)",
                "  --warmup S                     warm-up seconds per run (default 120: on a 2-CPU machine James's throughput",
                "                                 still climbs after 60 s while the JIT compiles; see the 10 s rates printed)",
                "  --measure S                    measured seconds per run (default 60)",
                "  --clients C                    parallel SMTP clients (default 16)",
                "  --recipients R                 recipients per message (default 5)",
                "  --mailboxes M                  local mailboxes created over JMX, recipients picked among them (default 200)",
                "  --messages-per-connection K    QUIT and reconnect every K messages, 0 = never (default 100)",
                "  --body-bytes B                 body size (default 512)",
                "  --source-ips distinct|single   client i connects from 127.0.0.(10+i), or all from 127.0.0.1 (default distinct)",
                "  --delivery discard|mailbox     discard: every variant's local-delivery ends in Null instead of LocalDelivery",
                "                                 (James's in-memory mailboxes slow down as they fill, see results.md);",
                "                                 mailbox: the sample's LocalDelivery (default discard)",
                "  --variants LIST                mx: among stock,relayguard,relayguard-limiter; submission: among",
                "                                 stock,relayguard-full,relayguard-redis (default all of the load; stock required)",
                "  --heap SIZE                    James -Xms/-Xmx (default 1g)",
                "  --james-opt OPTION             one more James JVM option, same for every variant (repeatable; e.g. a profiler)",
                "  --out DIR                      results directory (default target/smtp-throughput)",
                "  --keep                         keep the James installations (temp dirs) after each run",
                "Quick check: --rounds 1 --warmup 5 --measure 10");
        }

        String describe() {
            return String.format(Locale.ROOT, "load %s, rounds %d, warm-up %d s, measured %d s, %d clients (%s), %d recipients per message among %d "
                    + "mailboxes, %d messages per connection, %d-byte body, delivery %s, James heap %s, variants %s",
                submission ? "submission (STARTTLS + AUTH PLAIN as one of " + users + " users)" : "mx", rounds, warmupSeconds, measureSeconds, clients, distinctSourceIps ? "one 127.0.0.x source address each" : "all from 127.0.0.1",
                recipients, mailboxes, messagesPerConnection, bodyBytes, discard ? "discard (LocalDelivery replaced by Null)" : "mailbox (LocalDelivery)", heap, variants)
                + (jamesJvmOptions.isEmpty() ? "" : ", extra James JVM options " + jamesJvmOptions);
        }
    }

    // ------------------------------------------------------------------------------------------------ results

    /** A timer over the measured window: its count and mean by difference of the cumulative histograms. */
    static final class TimerWindow {
        final long count;
        final double meanMicros;
        /** p99 of James's cumulative histogram at the end of the window (James's timers never reset). */
        final double p99Micros;
        final double p50Micros;

        TimerWindow(long count, double meanMicros, double p50Micros, double p99Micros) {
            this.count = count;
            this.meanMicros = meanMicros;
            this.p50Micros = p50Micros;
            this.p99Micros = p99Micros;
        }
    }

    static final class TimerReading {
        final long count;
        final double meanMicros;
        final double p50Micros;
        final double p99Micros;

        TimerReading(long count, double meanMicros, double p50Micros, double p99Micros) {
            this.count = count;
            this.meanMicros = meanMicros;
            this.p50Micros = p50Micros;
            this.p99Micros = p99Micros;
        }
    }

    static final class Snapshot {
        long nanoTime;
        long cpuTicks;
        long systemBusyTicks;
        long systemTotalTicks;
        long loadGeneratorCpuNanos;
        long gcMillis;
        long spool;
        double loadAverage;
        Map<String, Long> threadGroupTicks = new TreeMap<>();
        Map<String, TimerReading> timers = new TreeMap<>();
        SmtpThroughputRedis.Stats redis;
    }

    static final class RunResult {
        /** Redis round trips of one successful AUTH PLAIN: the attempt check and the success record (RedisRoundTripsIT). */
        static final int ROUND_TRIPS_PER_LOGIN = 2;
        int round;
        int position;
        String variant;
        double windowSeconds;
        long messages;
        long recipients;
        long failures;
        double messagesPerSecond;
        double jamesCpuMillis;
        double jamesCpuMillisPerMessage;
        double jamesCpuCores;
        double systemBusyFraction;
        /** CPUs busy outside James's JVM and the load generator (other processes, and the kernel's network stack). */
        double otherCores;
        /** 1-minute load average at the end of the window (/proc/loadavg; counts the benchmark's own threads too). */
        double loadAverage;
        double loadGeneratorCpuCores;
        double gcMillisPerMessage;
        /** James CPU µs per message by thread group (see {@link #threadGroup}); "other" is the rest of the process. */
        Map<String, Double> cpuMicrosPerMessageByGroup = new LinkedHashMap<>();
        long spoolStart;
        long spoolEnd;
        double startupSeconds;
        long heapUsedMb;
        Map<String, TimerWindow> timers = new TreeMap<>();
        SmtpThroughputLoad.Latencies clientMail;
        SmtpThroughputLoad.Latencies clientRcpt;
        SmtpThroughputLoad.Latencies clientData;
        List<String> relayGuardCounts = List.of();
        long trackedKeys = -1;
        List<String> errors = List.of();
        long bindFallbacks;
        List<Double> warmupRates = List.of();
        List<Double> measuredRates = List.of();
        /** Successful logins over the whole run (submission load). */
        long logins;
        /** Successful logins that ended in the measured window (submission load). */
        long measuredLogins;
        /**
         * relayguard-redis only: Redis's read events on client connections over the window (request batches: the
         * round trips as Redis sees them), the benchmark's own INFO connections left out; else -1.
         */
        long redisReads = -1;
        /**
         * relayguard-redis only: requests clients sent over the window: EVALSHA, EVAL and every command no RelayGuard
         * script runs (commands a script runs are counted by Redis too, under their own names); else -1.
         */
        long redisRequests = -1;
        /**
         * relayguard-redis only: Redis's calls per command over the measured window (INFO excluded; commands run by
         * Lua scripts counted under their own names too); else empty.
         */
        Map<String, Long> redisCalls = new TreeMap<>();
        /** relayguard-redis only: Redis's microseconds per command over the measured window. */
        Map<String, Long> redisUsec = new TreeMap<>();
        /** relayguard-redis only: Redis's CPU (used_cpu_sys + used_cpu_user) over the window, ms; else NaN. */
        double redisCpuMillis = Double.NaN;

        boolean hasRedis() {
            return !Double.isNaN(redisCpuMillis);
        }

        long redisCallsTotal() {
            return redisCalls.values().stream().mapToLong(Long::longValue).sum();
        }

        /** Calls of one command (or the sum of several) per accepted message over the window (NaN without Redis). */
        double redisCallsPerMessage(String... commands) {
            long calls = 0;
            for (String command : commands) {
                calls += redisCalls.getOrDefault(command, 0L);
            }
            return hasRedis() && messages > 0 ? calls / (double) messages : Double.NaN;
        }

        /** Every command Redis counted (scripts' inner commands included) per accepted message. */
        double redisAllCallsPerMessage() {
            return hasRedis() && messages > 0 ? redisCallsTotal() / (double) messages : Double.NaN;
        }

        /** Redis read events (request batches) per accepted message (NaN without Redis). */
        double redisReadsPerMessage() {
            return hasRedis() && redisReads >= 0 && messages > 0 ? redisReads / (double) messages : Double.NaN;
        }

        /** Redis round trips (client requests) per accepted message (NaN without Redis). */
        double redisRoundTripsPerMessage() {
            return hasRedis() && messages > 0 ? redisRequests / (double) messages : Double.NaN;
        }

        /** SMTP decisions in the window: MAIL, each accepted RCPT, end of DATA. */
        long decisions() {
            return 2 * messages + recipients;
        }

        /** Redis round trips per MAIL/RCPT/DATA decision (the logins' round trips included, spread over them). */
        double redisRoundTripsPerDecision() {
            return hasRedis() && decisions() > 0 ? redisRequests / (double) decisions() : Double.NaN;
        }

        /**
         * Redis round trips per MAIL/RCPT/DATA decision without the logins' own: the window's logins taken out at
         * {@link #ROUND_TRIPS_PER_LOGIN} each (the AUTH row RedisRoundTripsIT asserts). NaN without Redis.
         */
        double redisRoundTripsPerDecisionWithoutLogins() {
            return hasRedis() && decisions() > 0
                ? (redisRequests - ROUND_TRIPS_PER_LOGIN * measuredLogins) / (double) decisions() : Double.NaN;
        }

        double redisCpuMicrosPerMessage() {
            return hasRedis() && messages > 0 ? redisCpuMillis * 1000 / messages : Double.NaN;
        }

        double cpuGroup(String group) {
            return cpuMicrosPerMessageByGroup.getOrDefault(group, Double.NaN);
        }

        /** James CPU ms per message without the JIT compiler threads (which still work during the first minutes). */
        double cpuMillisPerMessageWithoutJit() {
            return jamesCpuMillisPerMessage - cpuGroup("jit") / 1000;
        }

        TimerWindow timer(String name) {
            for (Map.Entry<String, TimerWindow> entry : timers.entrySet()) {
                if (entry.getKey().equalsIgnoreCase(name)) {
                    return entry.getValue();
                }
            }
            return null;
        }

        double timerMean(String name) {
            TimerWindow timer = timer(name);
            return timer == null ? Double.NaN : timer.meanMicros;
        }

        double timerP99(String name) {
            TimerWindow timer = timer(name);
            return timer == null ? Double.NaN : timer.p99Micros;
        }
    }

    // ------------------------------------------------------------------------------------------------ main

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        SmtpThroughputJames.jamesClasspath(options.projectDir);
        Files.createDirectories(options.outDir.resolve("logs"));
        long ticksPerSecond = clockTicksPerSecond();
        Path work = Files.createTempDirectory("smtp-throughput-");
        Path keystore = work.resolve("keystore");
        SmtpThroughputJames.generateKeystore(keystore);
        say("SMTP throughput benchmark: " + options.describe());
        say("machine: " + Runtime.getRuntime().availableProcessors() + " CPUs, Java " + System.getProperty("java.version")
            + ", clock ticks " + ticksPerSecond + "/s; James installations under " + work);
        List<RunResult> results = new ArrayList<>();
        Set<String> timerNames = new TreeSet<>();
        Instant started = Instant.now();
        for (int round = 1; round <= options.rounds; round++) {
            List<String> order = rotate(options.variants, round - 1);
            for (int position = 0; position < order.size(); position++) {
                String variant = order.get(position);
                say(String.format(Locale.ROOT, "round %d/%d, %s: starting James", round, options.rounds, variant));
                RunResult result = null;
                for (int attempt = 1; result == null; attempt++) {
                    try {
                        result = run(options, variant, round, position, work, keystore, ticksPerSecond, timerNames);
                    } catch (JamesDied e) {
                        if (attempt >= 3) {
                            throw e;
                        }
                        say("  " + e.getMessage() + "; this run starts again (attempt " + (attempt + 1) + " of 3)");
                    }
                }
                results.add(result);
                say(line(result));
            }
        }
        Duration took = Duration.between(started, Instant.now());
        String report = SmtpThroughputReport.markdown(options, results, timerNames, ticksPerSecond, took);
        Files.writeString(options.outDir.resolve("results.md"), report, StandardCharsets.UTF_8);
        Files.writeString(options.outDir.resolve("results.csv"), SmtpThroughputReport.csv(results), StandardCharsets.UTF_8);
        SmtpThroughputPlot.draw(options, results, options.outDir.resolve("throughput.png"));
        System.out.println();
        System.out.println(report);
        say("written: " + options.outDir.resolve("results.md") + ", " + options.outDir.resolve("results.csv") + ", "
            + options.outDir.resolve("throughput.png") + " (James logs in " + options.outDir.resolve("logs") + ")");
        if (!options.keep) {
            deleteTree(work);
        }
    }

    /** James ended while it was being measured (e.g. killed by something else on the machine). */
    static final class JamesDied extends RuntimeException {
        JamesDied(String message) {
            super(message);
        }
    }

    static List<String> rotate(List<String> variants, int by) {
        List<String> order = new ArrayList<>(variants);
        java.util.Collections.rotate(order, -(by % Math.max(1, order.size())));
        return order;
    }

    private static RunResult run(Options options, String variant, int round, int position, Path work, Path keystore,
                                 long ticksPerSecond, Set<String> timerNames) throws Exception {
        Path root = Files.createDirectories(work.resolve("round" + round + "-" + variant));
        SmtpThroughputRedis redis = variant.equals(SmtpThroughputJames.RELAYGUARD_REDIS)
            ? SmtpThroughputRedis.start(options.redisServer, root.resolve("redis")) : null;
        Thread redisKiller = redis == null ? null : new Thread(redis::kill, "kill-redis");
        if (redisKiller != null) {
            Runtime.getRuntime().addShutdownHook(redisKiller);
        }
        SmtpThroughputJames james;
        try {
            james = SmtpThroughputJames.install(root, variant, options.projectDir, keystore, options.discard,
                redis == null ? null : redis.url());
        } catch (IOException | RuntimeException e) {
            stopRedis(redis, redisKiller);
            throw e;
        }
        Thread killer = new Thread(james::kill, "kill-james");
        Runtime.getRuntime().addShutdownHook(killer);
        RunResult result = new RunResult();
        result.round = round;
        result.position = position;
        result.variant = variant;
        long startNanos = System.nanoTime();
        try {
            james.start(options.heap, options.jamesJvmOptions);
            MBeanServerConnection jmx = james.connectJmx();
            int port = james.boundPort(jmx, options.submission ? "smtp-submission" : "smtp-mx");
            result.startupSeconds = (System.nanoTime() - startNanos) / 1e9;
            boolean relayGuardLoaded = jmx.isRegistered(new ObjectName("org.apache.james:type=extension,name=RelayGuard"));
            if (relayGuardLoaded == variant.equals(SmtpThroughputJames.STOCK)) {
                throw new IllegalStateException(variant + ": RelayGuard management bean " + (relayGuardLoaded ? "present" : "absent")
                    + ", which this variant must not be");
            }
            createUsers(jmx, options.mailboxes, options.submission ? options.users : 0);
            SmtpThroughputLoad load = new SmtpThroughputLoad(port, options.clients, options.recipients, options.mailboxes,
                options.messagesPerConnection, options.bodyBytes, options.distinctSourceIps, DOMAIN,
                options.submission ? options.users : 0, PASSWORD, keystore);
            String check = sendOneWithRetries(load);
            if (!check.startsWith("250")) {
                throw new IllegalStateException(variant + ": a single test message was answered " + check + "\n" + james.logTail(40));
            }
            say(String.format(Locale.ROOT, "  James up in %.1f s, %s port %d, %d mailboxes%s%s; load for %d s warm-up + %d s measured",
                result.startupSeconds, options.submission ? "submission" : "MX", port, options.mailboxes,
                options.submission ? ", " + options.users + " users" : "", redis == null ? "" : ", " + redis.url(),
                options.warmupSeconds, options.measureSeconds));
            load.start();
            result.warmupRates = sleepSeconds(options.warmupSeconds, james, load, "warm-up");
            // The window is delimited by the phase switches; CPU and clocks are read right at them (fast /proc reads),
            // James's timers just after (a few JMX calls).
            Snapshot begin = snapshot(jmx, james, timerNames, load::beginMeasure);
            begin.redis = redis == null ? null : redis.stats();
            result.measuredRates = sleepSeconds(options.measureSeconds, james, load, "measured");
            load.endMeasure();
            Snapshot end = snapshot(jmx, james, timerNames, () -> { });
            end.redis = redis == null ? null : redis.stats();
            load.awaitStopped();
            fill(result, begin, end, load, ticksPerSecond,
                redis == null ? Set.of() : SmtpThroughputRedis.scriptCommands(options.projectDir));
            result.logins = load.logins();
            result.measuredLogins = load.measuredLogins();
            result.heapUsedMb = heapUsedMb(jmx);
            if (!variant.equals(SmtpThroughputJames.STOCK)) {
                ObjectName bean = new ObjectName("org.apache.james:type=extension,name=RelayGuard");
                result.relayGuardCounts = Arrays.asList((String[]) jmx.getAttribute(bean, "Counts"));
                result.trackedKeys = ((Number) jmx.getAttribute(bean, "TrackedKeys")).longValue();
            }
            james.assertAlive();
            return result;
        } catch (IllegalStateException e) {
            // Exited after it was up: killed from outside, worth another attempt; at start-up: a setup error, not.
            if (result.startupSeconds > 0 && e.getMessage() != null
                    && e.getMessage().startsWith("James (" + variant + ") exited with")) {
                throw new JamesDied(e.getMessage().lines().findFirst().orElse("James exited")
                    + " during the run (killed from outside?); its log: " + options.outDir.resolve("logs"));
            }
            throw e;
        } finally {
            james.close();
            james.copyLogTo(options.outDir.resolve("logs").resolve("round" + round + "-" + variant + ".log"));
            Runtime.getRuntime().removeShutdownHook(killer);
            stopRedis(redis, redisKiller);
            if (!options.keep) {
                deleteTree(root);
            }
        }
    }

    private static void stopRedis(SmtpThroughputRedis redis, Thread killer) throws InterruptedException {
        if (redis != null) {
            redis.close();
            Runtime.getRuntime().removeShutdownHook(killer);
        }
    }

    private static void fill(RunResult result, Snapshot begin, Snapshot end, SmtpThroughputLoad load, long ticksPerSecond,
                             Set<String> scriptCommands) {
        result.windowSeconds = (end.nanoTime - begin.nanoTime) / 1e9;
        result.messages = load.measuredMessages();
        result.recipients = load.measuredRecipients();
        result.failures = load.failures();
        result.errors = load.errorSamples();
        result.bindFallbacks = load.bindFallbacks();
        result.messagesPerSecond = result.messages / result.windowSeconds;
        result.jamesCpuMillis = (end.cpuTicks - begin.cpuTicks) * 1000.0 / ticksPerSecond;
        result.jamesCpuMillisPerMessage = result.messages == 0 ? Double.NaN : result.jamesCpuMillis / result.messages;
        result.jamesCpuCores = result.jamesCpuMillis / 1000.0 / result.windowSeconds;
        long total = end.systemTotalTicks - begin.systemTotalTicks;
        result.systemBusyFraction = total <= 0 ? Double.NaN : (end.systemBusyTicks - begin.systemBusyTicks) / (double) total;
        result.loadGeneratorCpuCores = end.loadGeneratorCpuNanos < 0 ? Double.NaN
            : (end.loadGeneratorCpuNanos - begin.loadGeneratorCpuNanos) / 1e9 / result.windowSeconds;
        result.otherCores = result.systemBusyFraction * Runtime.getRuntime().availableProcessors()
            - result.jamesCpuCores - (Double.isNaN(result.loadGeneratorCpuCores) ? 0 : result.loadGeneratorCpuCores);
        result.loadAverage = end.loadAverage;
        result.gcMillisPerMessage = result.messages == 0 ? Double.NaN : (end.gcMillis - begin.gcMillis) / (double) result.messages;
        long grouped = 0;
        for (String group : THREAD_GROUPS) {
            long ticks = end.threadGroupTicks.getOrDefault(group, 0L) - begin.threadGroupTicks.getOrDefault(group, 0L);
            grouped += ticks;
            result.cpuMicrosPerMessageByGroup.put(group, ticks * 1e6 / ticksPerSecond / Math.max(1, result.messages));
        }
        result.cpuMicrosPerMessageByGroup.put("other",
            (end.cpuTicks - begin.cpuTicks - grouped) * 1e6 / ticksPerSecond / Math.max(1, result.messages));
        result.spoolStart = begin.spool;
        result.spoolEnd = end.spool;
        for (Map.Entry<String, TimerReading> entry : end.timers.entrySet()) {
            TimerReading last = entry.getValue();
            TimerReading first = begin.timers.getOrDefault(entry.getKey(), new TimerReading(0, 0, 0, 0));
            long count = last.count - first.count;
            double mean = count <= 0 ? Double.NaN : (last.meanMicros * last.count - first.meanMicros * first.count) / count;
            result.timers.put(entry.getKey(), new TimerWindow(count, mean, last.p50Micros, last.p99Micros));
        }
        if (begin.redis != null && end.redis != null) {
            for (Map.Entry<String, Long> calls : end.redis.calls.entrySet()) {
                long delta = calls.getValue() - begin.redis.calls.getOrDefault(calls.getKey(), 0L);
                if (delta > 0) {
                    result.redisCalls.put(calls.getKey(), delta);
                    result.redisUsec.put(calls.getKey(), end.redis.usec.getOrDefault(calls.getKey(), 0L)
                        - begin.redis.usec.getOrDefault(calls.getKey(), 0L));
                }
            }
            result.redisCpuMillis = (end.redis.cpuSeconds - begin.redis.cpuSeconds) * 1000;
            result.redisRequests = 0;
            for (Map.Entry<String, Long> calls : result.redisCalls.entrySet()) {
                if (!scriptCommands.contains(calls.getKey())) {
                    result.redisRequests += calls.getValue();
                }
            }
            result.redisReads = begin.redis.reads < 0 || end.redis.reads < 0 ? -1
                : end.redis.reads - begin.redis.reads - SmtpThroughputRedis.OWN_READS_BETWEEN_STATS;
        }
        result.clientMail = load.mailLatencies();
        result.clientRcpt = load.rcptLatencies();
        result.clientData = load.dataLatencies();
    }

    // ------------------------------------------------------------------------------------------------ measuring

    /** Reads the clocks and CPU counters, runs {@code atSwitch} (the phase switch), then reads James's timers. */
    private static Snapshot snapshot(MBeanServerConnection jmx, SmtpThroughputJames james, Set<String> timerNames,
                                     Runnable atSwitch) throws Exception {
        Snapshot snapshot = new Snapshot();
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        snapshot.nanoTime = System.nanoTime();
        snapshot.cpuTicks = processCpuTicks(james.pid());
        snapshot.threadGroupTicks = threadGroupTicks(james.pid());
        long[] system = systemTicks();
        snapshot.systemBusyTicks = system[0];
        snapshot.systemTotalTicks = system[1];
        snapshot.loadGeneratorCpuNanos = os instanceof com.sun.management.OperatingSystemMXBean
            ? ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime() : -1;
        atSwitch.run();
        for (ObjectName name : jmx.queryNames(new ObjectName("metrics:type=timers,*"), null)) {
            String metric = ObjectName.unquote(quoted(name.getKeyProperty("name")));
            if (!metric.regionMatches(true, 0, "SMTP-", 0, 5) && !metric.startsWith("relayguard.")) {
                continue;
            }
            timerNames.add(metric);
            AttributeList attributes = jmx.getAttributes(name, new String[] {"Count", "Mean", "50thPercentile", "99thPercentile", "DurationUnit"});
            Map<String, Object> values = new LinkedHashMap<>();
            for (Attribute attribute : attributes.asList()) {
                values.put(attribute.getName(), attribute.getValue());
            }
            double toMicros = microsPerUnit(String.valueOf(values.get("DurationUnit")));
            snapshot.timers.put(metric, new TimerReading(((Number) values.get("Count")).longValue(),
                ((Number) values.get("Mean")).doubleValue() * toMicros,
                ((Number) values.get("50thPercentile")).doubleValue() * toMicros,
                ((Number) values.get("99thPercentile")).doubleValue() * toMicros));
        }
        snapshot.gcMillis = 0;
        for (ObjectName gc : jmx.queryNames(new ObjectName("java.lang:type=GarbageCollector,*"), null)) {
            snapshot.gcMillis += ((Number) jmx.getAttribute(gc, "CollectionTime")).longValue();
        }
        snapshot.spool = james.spoolSize();
        snapshot.loadAverage = loadAverage();
        return snapshot;
    }

    private static String quoted(String value) {
        return value.startsWith("\"") ? value : ObjectName.quote(value);
    }

    static double microsPerUnit(String unit) {
        switch (unit.toLowerCase(Locale.ROOT)) {
            case "nanoseconds": return 0.001;
            case "microseconds": return 1;
            case "milliseconds": return 1000;
            case "seconds": return 1_000_000;
            default: throw new IllegalStateException("unknown timer duration unit " + unit);
        }
    }

    /** utime + stime of a process, in clock ticks, from {@code /proc/<pid>/stat} (fields 14 and 15). */
    static long processCpuTicks(long pid) throws IOException {
        String stat = Files.readString(Paths.get("/proc/" + pid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /** Thread groups of James's JVM whose CPU time is reported separately. */
    static final List<String> THREAD_GROUPS = List.of("smtp", "spooler", "jit", "gc");

    /**
     * The group of a James thread, from its name in {@code /proc/<pid>/task/<tid>/comm} (15 characters): SMTP listeners'
     * Netty threads ({@code smtp-mx-io-…}, {@code smtp-mx-…}; where every SMTP hook, RelayGuard's included, runs),
     * the mail spooler ({@code spooler-…}, {@code memory-mail-que…}; the mailet pipeline), the JIT compilers, the GC.
     */
    static String threadGroup(String name) {
        if (name.startsWith("smtp-")) {
            return "smtp";
        }
        if (name.startsWith("spooler") || name.startsWith("memory-mail-que")) {
            return "spooler";
        }
        if (name.contains("CompilerThre")) {
            return "jit";
        }
        if (name.startsWith("GC Thread") || name.startsWith("G1 ") || name.equals("VM Thread")) {
            return "gc";
        }
        return "other";
    }

    /** utime + stime per thread group, summed over the live threads of the process. */
    static Map<String, Long> threadGroupTicks(long pid) {
        Map<String, Long> ticks = new TreeMap<>();
        try (Stream<Path> tasks = Files.list(Paths.get("/proc/" + pid + "/task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                try {
                    String stat = Files.readString(task.resolve("stat"));
                    String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
                    ticks.merge(threadGroup(name), Long.parseLong(fields[11]) + Long.parseLong(fields[12]), Long::sum);
                } catch (IOException | RuntimeException threadGone) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            // no per-thread figures
        }
        return ticks;
    }

    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Paths.get("/proc/loadavg")).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** {busy, total} clock ticks of all CPUs from the first line of {@code /proc/stat}. */
    static long[] systemTicks() {
        try {
            String first = Files.readAllLines(Paths.get("/proc/stat")).get(0);
            String[] fields = first.trim().split("\\s+");
            long total = 0;
            long idle = 0;
            for (int i = 1; i < fields.length && i <= 8; i++) {
                long value = Long.parseLong(fields[i]);
                total += value;
                if (i == 4 || i == 5) {
                    idle += value; // idle, iowait
                }
            }
            return new long[] {total - idle, total};
        } catch (IOException | RuntimeException e) {
            return new long[] {0, 0};
        }
    }

    static long clockTicksPerSecond() {
        try {
            Process getconf = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String output = new String(getconf.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            if (getconf.waitFor(10, TimeUnit.SECONDS) && getconf.exitValue() == 0) {
                return Long.parseLong(output);
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 100;
    }

    private static long heapUsedMb(MBeanServerConnection jmx) {
        try {
            javax.management.openmbean.CompositeData heap = (javax.management.openmbean.CompositeData)
                jmx.getAttribute(new ObjectName("java.lang:type=Memory"), "HeapMemoryUsage");
            return ((Number) heap.get("used")).longValue() / (1024 * 1024);
        } catch (Exception e) {
            return -1;
        }
    }

    /** Creates the mailboxes and the submission load's users over JMX, as an operator would. */
    private static void createUsers(MBeanServerConnection jmx, int mailboxes, int senders) throws Exception {
        ObjectName users = new ObjectName("org.apache.james:type=component,name=usersrepository");
        List<String> names = new ArrayList<>();
        for (int i = 0; i < mailboxes; i++) {
            names.add(SmtpThroughputLoad.mailbox(i, DOMAIN));
        }
        for (int i = 0; i < senders; i++) {
            names.add(SmtpThroughputLoad.user(i, DOMAIN));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Object>> created = new ArrayList<>();
            for (String user : names) {
                created.add(pool.submit(() -> jmx.invoke(users, "addUser", new Object[] {user, PASSWORD},
                    new String[] {String.class.getName(), String.class.getName()})));
            }
            for (Future<Object> future : created) {
                future.get(5, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The single test message before the load, tried up to three times: James 3.8.1 now and then closes a connection
     * right after the STARTTLS handshake (seen once in a smoke run, not reproduced), which must not end the run.
     */
    private static String sendOneWithRetries(SmtpThroughputLoad load) throws IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            try {
                return load.sendOne(0);
            } catch (IOException e) {
                if (attempt >= 3) {
                    throw e;
                }
                say("  test message failed (" + e + "), trying again");
                Thread.sleep(500);
            }
        }
    }

    /** Sleeps, checking that James lives, and prints the rate of accepted messages every 10 s. */
    private static List<Double> sleepSeconds(int seconds, SmtpThroughputJames james, SmtpThroughputLoad load, String phase)
            throws Exception {
        long start = System.nanoTime();
        long end = start + seconds * 1_000_000_000L;
        long lastReport = start;
        long lastCount = load.allMessages();
        List<Double> rates = new ArrayList<>();
        while (true) {
            long now = System.nanoTime();
            if (now - lastReport >= 10_000_000_000L || now >= end) {
                long count = load.allMessages();
                if (now > lastReport + 500_000_000L) {
                    rates.add((count - lastCount) / ((now - lastReport) / 1e9));
                }
                lastReport = now;
                lastCount = count;
            }
            long left = end - now;
            if (left <= 0) {
                say("    " + phase + " msgs/s per 10 s: " + rateText(rates));
                return rates;
            }
            Thread.sleep(Math.min(1000, Math.max(1, left / 1_000_000)));
            james.assertAlive();
        }
    }

    // ------------------------------------------------------------------------------------------------ output

    static String line(RunResult r) {
        return String.format(Locale.ROOT,
            "  round %d %-18s %8.1f msg/s (%d msgs, %d failures) | James CPU %.3f ms/msg (SMTP threads %.0f µs, spooler %.0f µs, "
                + "JIT %.0f µs, GC %.0f µs, other %.0f µs), %.2f cores; system busy %.0f%%, other processes %.2f cores, "
                + "load average %.1f; "
                + "load generator %.2f cores | SMTP-rcpt mean %.1f µs p99 %.1f µs | SMTP-mail mean %.1f µs p99 %.1f µs | "
                + "client RCPT RTT mean %.0f µs p99 %.0f µs | spool %d -> %d",
            r.round, r.variant, r.messagesPerSecond, r.messages, r.failures, r.jamesCpuMillisPerMessage, r.cpuGroup("smtp"),
            r.cpuGroup("spooler"), r.cpuGroup("jit"), r.cpuGroup("gc"), r.cpuGroup("other"), r.jamesCpuCores,
            r.systemBusyFraction * 100, r.otherCores, r.loadAverage, r.loadGeneratorCpuCores, r.timerMean("SMTP-rcpt"), r.timerP99("SMTP-rcpt"),
            r.timerMean("SMTP-mail"), r.timerP99("SMTP-mail"), r.clientRcpt.meanMicros, r.clientRcpt.p99Micros,
            r.spoolStart, r.spoolEnd)
            + (r.logins > 0 ? " | " + r.logins + " logins" : "")
            + (r.hasRedis() ? String.format(Locale.ROOT, " | Redis: %.2f round trips/msg (%.3f per MAIL/RCPT/DATA decision), "
                + "%.2f read events/msg, EVALSHA+EVAL %.2f/msg, all commands %.2f/msg %s, Redis CPU %.1f µs/msg",
                r.redisRoundTripsPerMessage(), r.redisRoundTripsPerDecision(), r.redisReadsPerMessage(),
                r.redisCallsPerMessage("evalsha", "eval"), r.redisAllCallsPerMessage(),
                r.redisCalls, r.redisCpuMicrosPerMessage()) : "")
            + (r.errors.isEmpty() ? "" : "\n    first errors: " + r.errors);
    }

    static String rateText(List<Double> rates) {
        return rates.stream().map(rate -> String.format(Locale.ROOT, "%.0f", rate)).collect(Collectors.joining(", "));
    }

    static void say(String text) {
        System.out.println("[smtp-throughput " + java.time.LocalTime.now().withNano(0) + "] " + text);
        System.out.flush();
    }

    static List<Double> values(List<RunResult> results, String variant, Function<RunResult, Double> f) {
        return results.stream().filter(r -> r.variant.equals(variant)).sorted(java.util.Comparator.comparingInt(r -> r.round))
            .map(f).collect(Collectors.toList());
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }

    static double ratioGoal() {
        return RATIO_GOAL;
    }

    static double rcptAddedGoalMicros() {
        return RCPT_ADDED_GOAL_MICROS;
    }
}
