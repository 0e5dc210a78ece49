package dev.relayguard.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
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
import org.slf4j.LoggerFactory;

import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;
import dev.relayguard.store.RedisLimiterStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import redis.embedded.RedisServer;

/**
 * Decisions per second of the Redis store against the floor set by Redis itself, on a real redis-server (the
 * 6.2 binary of embedded-redis) that the benchmark starts on a free loopback port for each trial (no
 * persistence) and stops afterwards.
 *
 * <ul>
 *   <li>{@code acquire_*}: {@link RedisLimiterStore#acquire} (one EVALSHA of {@code acquire.lua}) of the sample's
 *       two message windows (1 per minute and 1 per day) for a random key among 10,000, with limits so large
 *       (10^12) that every decision is an admission: the common path, and the one that writes.</li>
 *   <li>{@code rawEvalsha_*}: the cost of one round trip, EVALSHA of {@code return 1} (no keys) through a plain
 *       Lettuce sync connection to the same Redis: no Lua work, no argument building, no reply parsing. The
 *       goal: {@code acquire >= 0.8 x rawEvalsha} at the same thread count.</li>
 *   <li>{@code rawAcquireScript_*}: for the breakdown, the same {@code acquire.lua} with the same arguments
 *       through the plain Lettuce sync connection (arguments prepared in advance): {@code rawEvalsha} minus
 *       this is what the script costs in Redis, this minus {@code acquire} what our Java side costs.</li>
 * </ul>
 *
 * <p>Each at 1 thread and at 4 threads ({@code @Threads} on the methods; a {@code -t} on the command line
 * overrides them all). Both clients use one connection shared by all threads (Lettuce pipelines the commands of
 * concurrent threads on it), with the same client resources (2 I/O threads, 2 computation threads). The client
 * threads, Lettuce's I/O thread and redis-server share the machine's cores, so on a small machine the
 * 4-thread figures say more about that sharing than about Redis. A trial in which any acquisition was not an
 * admission fails in its teardown (a store failure answers fast and would inflate the figure).
 *
 * <pre>
 * benchmarks/run-jmh.sh RedisLimiterBenchmark
 * benchmarks/run-jmh.sh 'RedisLimiterBenchmark.(acquire|rawEvalsha)'
 * benchmarks/run-jmh.sh RedisLimiterBenchmark -- -bm sample -tu us    # busy machine: read the p0.50 lines
 * </pre>
 * (run-jmh.sh already passes -f/-wi/-w/-i/-r: JMH refuses them twice, so change those with java ... Main directly.)
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class RedisLimiterBenchmark {
    private static final int KEYS = 10_000;
    private static final long NEVER_FILLS = Integer.MAX_VALUE;
    private static final Duration TIMEOUT = Duration.ofSeconds(2);

    private RedisServer server;
    private RedisLimiterStore store;
    private ClientResources rawResources;
    private RedisClient rawClient;
    private StatefulRedisConnection<String, String> rawConnection;
    private RedisCommands<String, String> raw;
    private String trivialSha;
    private String acquireSha;

    private String[] names;
    private String[][] redisKeys;
    private List<Charge> charges;
    private String[] acquireArgs;
    private final LongAdder notAdmitted = new LongAdder();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        quietLogs();
        int port = freePort();
        server = RedisServer.newRedisServer()
            .bind("127.0.0.1")
            .port(port)
            .setting("save \"\"")
            .setting("appendonly no")
            .build();
        server.start();

        Limit perMinute = new Limit(Measure.MESSAGES, NEVER_FILLS, Duration.ofMinutes(1));
        Limit perDay = new Limit(Measure.MESSAGES, NEVER_FILLS, Duration.ofDays(1));
        charges = List.of(new Charge(perMinute, 1), new Charge(perDay, 1));
        names = new String[KEYS];
        redisKeys = new String[KEYS][];
        for (int i = 0; i < KEYS; i++) {
            names[i] = "user:user" + i + "@example.com";
            redisKeys[i] = new String[] {RedisLimiterStore.redisKey(names[i])};
        }
        // What RedisLimiterStore.acquire sends for these charges ("" = use the Redis clock).
        acquireArgs = new String[] {"", "2",
            perMinute.counterId(), Long.toString(perMinute.window().toMillis()), Long.toString(NEVER_FILLS), "1",
            perDay.counterId(), Long.toString(perDay.window().toMillis()), Long.toString(NEVER_FILLS), "1"};

        store = new RedisLimiterStore("redis://127.0.0.1:" + port, false, TIMEOUT);
        LimitDecision first = store.acquire("user:warmup@example.com", charges); // waits for the connection
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!first.isAdmitted() && System.nanoTime() < deadline) {
            Thread.sleep(100);
            first = store.acquire("user:warmup@example.com", charges);
        }
        if (!first.isAdmitted()) {
            throw new IllegalStateException("the Redis store does not admit: " + first);
        }

        rawResources = DefaultClientResources.builder().ioThreadPoolSize(2).computationThreadPoolSize(2).build();
        rawClient = RedisClient.create(rawResources, RedisURI.create("redis://127.0.0.1:" + port));
        rawConnection = rawClient.connect();
        raw = rawConnection.sync();
        trivialSha = raw.scriptLoad("return 1");
        acquireSha = raw.scriptLoad(resource("/dev/relayguard/store/decide.lua") + resource("/dev/relayguard/store/acquire.lua"));
        Long one = raw.evalsha(trivialSha, ScriptOutputType.INTEGER);
        List<Object> reply = raw.evalsha(acquireSha, ScriptOutputType.MULTI, redisKeys[0], acquireArgs);
        if (one == null || one != 1 || ((Number) reply.get(0)).longValue() != 1) {
            throw new IllegalStateException("unexpected replies " + one + " " + reply);
        }
        notAdmitted.reset();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        long refusedOrFailed = notAdmitted.sum();
        try {
            if (store != null) {
                store.close();
            }
            if (rawConnection != null) {
                rawConnection.close();
            }
            if (rawClient != null) {
                rawClient.shutdown();
            }
            if (rawResources != null) {
                rawResources.shutdown();
            }
        } finally {
            if (server != null) {
                server.stop();
            }
        }
        if (refusedOrFailed > 0) {
            throw new IllegalStateException(refusedOrFailed + " acquisitions were not admitted (store failures answer fast):"
                + " the acquire figure of this trial is meaningless");
        }
    }

    private int randomIndex() {
        return ThreadLocalRandom.current().nextInt(KEYS);
    }

    private LimitDecision acquire() {
        LimitDecision decision = store.acquire(names[randomIndex()], charges);
        if (!decision.isAdmitted()) {
            notAdmitted.increment();
        }
        return decision;
    }

    private Long rawEvalsha() {
        return raw.evalsha(trivialSha, ScriptOutputType.INTEGER);
    }

    private List<Object> rawAcquireScript() {
        return raw.evalsha(acquireSha, ScriptOutputType.MULTI, redisKeys[randomIndex()], acquireArgs);
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

    @Benchmark
    @Threads(1)
    public Long rawEvalsha_1thread() {
        return rawEvalsha();
    }

    @Benchmark
    @Threads(4)
    public Long rawEvalsha_4threads() {
        return rawEvalsha();
    }

    @Benchmark
    @Threads(1)
    public List<Object> rawAcquireScript_1thread() {
        return rawAcquireScript();
    }

    @Benchmark
    @Threads(4)
    public List<Object> rawAcquireScript_4threads() {
        return rawAcquireScript();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static String resource(String path) {
        try (InputStream in = RedisLimiterBenchmark.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + path);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** No logback configuration in this project: keep Lettuce and Netty from logging at DEBUG. */
    private static void quietLogs() {
        if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext) {
            ch.qos.logback.classic.LoggerContext context = (ch.qos.logback.classic.LoggerContext) LoggerFactory.getILoggerFactory();
            context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).setLevel(ch.qos.logback.classic.Level.INFO);
            context.getLogger("io.lettuce").setLevel(ch.qos.logback.classic.Level.WARN);
            context.getLogger("io.netty").setLevel(ch.qos.logback.classic.Level.WARN);
        }
    }
}
