package dev.relayguard.bench;

import static ch.qos.logback.classic.Level.INFO;
import static ch.qos.logback.classic.Level.WARN;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.LoggerContext;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;
import dev.relayguard.store.BareRoundTrip;
import dev.relayguard.store.RedisLimiterStore;
import dev.relayguard.store.RedisServerProcess;

/**
 * Decisions per second of the Redis store against the floor set by Redis itself (issue 17: {@code acquire} at
 * least 0.8 x the bare round trip), both in the same JMH run, on the Debian {@code redis-server} (7.0,
 * {@code /usr/bin/redis-server}) that each trial starts on a free loopback port ({@code --save "" --appendonly no})
 * and stops afterwards.
 *
 * <ul>
 *   <li>{@code acquire_*}: {@link RedisLimiterStore#acquire} (one EVALSHA of {@code acquire.lua}) of the sample's
 *       two message windows (per minute and per day) for a random key among 10,000, with limits so large
 *       ({@value #NEVER_FILLS}) that every decision is an admission: the common path, and the one that writes.</li>
 *   <li>{@code bare_*}: one EVALSHA of {@code return 1} ({@link BareRoundTrip}) through the same store's own
 *       connection: same Lettuce client, options, timeout and code path, the same hash-tagged key of a random
 *       subject and acquire's own arguments for the same charges (decide.lua's eleven, built and written by the
 *       same code), read back by the same binary reply. No Lua work, no precomputed write, no decision objects.</li>
 *   <li>{@code calls_*}: the floor of any script of this shape: one EVALSHA of {@code bench-clock-read-write.lua},
 *       acquire.lua's three {@code redis.call}s (TIME, HMGET of 3 fields, HSET of two 56-byte values) without the
 *       decision, and a 4-element reply, sent the same way. {@code acquire} / {@code calls} is what our Lua and
 *       Java decision cost; {@code calls} / {@code bare} what reading the clock and the counters costs at all.</li>
 *   <li>{@code getset_*}: the floor of any Lua design at all: one EVALSHA of {@code bench-read-write.lua}, one
 *       {@code GET} and one {@code SET ... PX} of a 130-byte string (a key's counters in one value), no {@code TIME}
 *       (the clock of the James node instead) and no decision. Where it stays under 0.8 x bare, no script that reads
 *       and writes a key's counters reaches the goal on this machine.</li>
 * </ul>
 *
 * <p>Each at 1 thread and at 4 threads ({@code @Threads} on the methods; a {@code -t} on the command line
 * overrides them all). The threads share the store's one connection (Lettuce pipelines their commands). Client
 * threads, Lettuce's I/O threads and redis-server share the machine's cores.
 *
 * <p>Each trial ends by printing what Redis itself did per decision, from {@code INFO commandstats} and
 * {@code INFO cpu} (reset after the warm-up call of the trial, so covering its warm-up and measured iterations):
 * the {@code usec_per_call} of {@code evalsha} (Redis's time per script, nested calls included), the calls of every
 * other command per decision (the {@code redis.call}s of the script; the store's marker check adds one
 * {@code evalsha} and one {@code get} per second), Redis's CPU (user + sys) per decision, and how many admissions the
 * store counted by its precomputed write ({@code unchanged.lua}) and how many by the full script. A trial in which
 * any acquisition was not an admission fails in its teardown (a store failure answers fast and would inflate the
 * figure).
 *
 * <pre>
 * benchmarks/run-jmh.sh RedisLimiterBenchmark -- -f 3 -wi 3 -w 2s -i 5 -r 3s
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class RedisLimiterBenchmark {
    private static final int KEYS = 10_000;
    private static final long NEVER_FILLS = Integer.MAX_VALUE;
    private static final Duration TIMEOUT = Duration.ofSeconds(2);

    private RedisServerProcess server;
    private RedisLimiterStore store;
    private String[] names;
    /** The keys of the getset anchor: strings, never the hashes that acquire and calls write. */
    private String[] stringNames;
    private List<Charge> charges;
    private final LongAdder decisions = new LongAdder();
    private final LongAdder notAdmitted = new LongAdder();
    private double cpuBefore;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        quietLogs();
        server = RedisServerProcess.start();
        Limit perMinute = new Limit(Measure.MESSAGES, NEVER_FILLS, Duration.ofMinutes(1));
        Limit perDay = new Limit(Measure.MESSAGES, NEVER_FILLS, Duration.ofDays(1));
        charges = List.of(new Charge(perMinute, 1), new Charge(perDay, 1));
        names = new String[KEYS];
        stringNames = new String[KEYS];
        for (int i = 0; i < KEYS; i++) {
            names[i] = "user:user" + i + "@example.com";
            stringNames[i] = "string:user" + i + "@example.com";
        }

        store = new RedisLimiterStore(server.url(), false, TIMEOUT);
        LimitDecision first = store.acquire("user:warmup@example.com", charges); // waits for the connection
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!first.isAdmitted() && System.nanoTime() < deadline) {
            Thread.sleep(100);
            first = store.acquire("user:warmup@example.com", charges);
        }
        if (!first.isAdmitted()) {
            throw new IllegalStateException("the Redis store does not admit: " + first);
        }
        // a key of their own: the calls anchor writes dummy values into the counters' fields of the key it is given
        String anchorCheck = "user:anchor-check@example.com";
        if (BareRoundTrip.evalsha(store, anchorCheck, charges) != 1) {
            throw new IllegalStateException("the bare script does not answer 1");
        }
        if (BareRoundTrip.clockReadWrite(store, anchorCheck, charges).size() != 4) {
            throw new IllegalStateException("the clock-read-write script does not answer 4 values");
        }
        // keys of its own: the script makes strings, where acquire.lua and the calls anchor make hashes
        if (BareRoundTrip.readWrite(store, stringNames[0], charges).size() != 4) {
            throw new IllegalStateException("the read-write script does not answer 4 values");
        }
        server.cli("CONFIG", "RESETSTAT");
        cpuBefore = redisCpuSeconds();
        decisions.reset();
        notAdmitted.reset();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        long refusedOrFailed = notAdmitted.sum();
        try {
            report();
        } finally {
            try {
                if (store != null) {
                    store.close();
                }
            } finally {
                if (server != null) {
                    server.close();
                }
            }
        }
        if (refusedOrFailed > 0) {
            throw new IllegalStateException(refusedOrFailed + " acquisitions were not admitted (store failures answer fast):"
                + " the acquire figure of this trial is meaningless");
        }
    }

    /** What Redis did per decision in this trial (INFO commandstats and cpu), on stdout. */
    private void report() {
        long count = Math.max(1, decisions.sum());
        double cpu = redisCpuSeconds() - cpuBefore;
        Map<String, Map<String, String>> stats = new TreeMap<>();
        for (String line : server.cli("INFO", "commandstats").split("\\r?\\n")) {
            if (line.startsWith("cmdstat_")) {
                Map<String, String> fields = new TreeMap<>();
                for (String field : line.substring(line.indexOf(':') + 1).split(",")) {
                    int eq = field.indexOf('=');
                    fields.put(field.substring(0, eq), field.substring(eq + 1));
                }
                stats.put(line.substring("cmdstat_".length(), line.indexOf(':')), fields);
            }
        }
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT,
            "%n[redis] %,d decisions; redis-server CPU %.2f us per decision (user+sys)", count, cpu * 1e6 / count));
        long inScripts = 0;
        for (Map.Entry<String, Map<String, String>> entry : stats.entrySet()) {
            String command = entry.getKey();
            long calls = Long.parseLong(entry.getValue().get("calls"));
            out.append(String.format(Locale.ROOT, "%n[redis]   %-14s %.3f calls per decision, usec_per_call %s", command,
                (double) calls / count, entry.getValue().get("usec_per_call")));
            if (!command.startsWith("eval") && !command.startsWith("config") && !command.startsWith("info")
                && !command.startsWith("script") && !command.equals("get")) { // get: the marker check
                inScripts += calls;
            }
        }
        out.append(String.format(Locale.ROOT, "%n[redis]   redis.call per decision (marker's get aside): %.3f", (double) inScripts / count));
        out.append(String.format(Locale.ROOT, "%n[redis]   acquisitions this trial: %s", BareRoundTrip.countedBy(store)));
        System.out.println(out);
    }

    private double redisCpuSeconds() {
        double seconds = 0;
        for (String line : server.cli("INFO", "cpu").split("\\r?\\n")) {
            if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
                seconds += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return seconds;
    }

    private String randomName() {
        return names[ThreadLocalRandom.current().nextInt(KEYS)];
    }

    private LimitDecision acquire() {
        LimitDecision decision = store.acquire(randomName(), charges);
        decisions.increment();
        if (!decision.isAdmitted()) {
            notAdmitted.increment();
        }
        return decision;
    }

    private long bare() {
        long reply = BareRoundTrip.evalsha(store, randomName(), charges);
        decisions.increment();
        return reply;
    }

    @Benchmark
    @Threads(1)
    public LimitDecision acquire_1thread() {
        return acquire();
    }

    @Benchmark
    @Threads(4)
    public LimitDecision acquire_4threads() {
        return acquire();
    }

    private List<Object> clockReadWrite() {
        List<Object> reply = BareRoundTrip.clockReadWrite(store, randomName(), charges);
        decisions.increment();
        return reply;
    }

    /** The second anchor: acquire.lua's three redis.calls without its decision (bench-clock-read-write.lua). */
    @Benchmark
    @Threads(1)
    public List<Object> calls_1thread() {
        return clockReadWrite();
    }

    @Benchmark
    @Threads(4)
    public List<Object> calls_4threads() {
        return clockReadWrite();
    }

    private List<Object> readWrite() {
        List<Object> reply = BareRoundTrip.readWrite(store, stringNames[ThreadLocalRandom.current().nextInt(KEYS)], charges);
        decisions.increment();
        return reply;
    }

    /**
     * The third anchor: one GET and one SET PX of a 130-byte string, no TIME, no decision (bench-read-write.lua): the
     * floor of a redesign that would keep a key's counters in one string and take the clock from the James node.
     */
    @Benchmark
    @Threads(1)
    public List<Object> getset_1thread() {
        return readWrite();
    }

    @Benchmark
    @Threads(4)
    public List<Object> getset_4threads() {
        return readWrite();
    }

    @Benchmark
    @Threads(1)
    public long bare_1thread() {
        return bare();
    }

    @Benchmark
    @Threads(4)
    public long bare_4threads() {
        return bare();
    }

    /** No logback configuration in this project: keep Lettuce and Netty from logging at DEBUG. */
    private static void quietLogs() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext) {
            LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
            context.getLogger(Logger.ROOT_LOGGER_NAME).setLevel(INFO);
            context.getLogger("io.lettuce").setLevel(WARN);
            context.getLogger("io.netty").setLevel(WARN);
        }
    }
}
