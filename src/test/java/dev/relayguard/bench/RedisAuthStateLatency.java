package dev.relayguard.bench;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.IntConsumer;

import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.relayguard.core.AuthLimits;
import dev.relayguard.it.EmbeddedRedis;
import dev.relayguard.store.RedisAuthState;
import dev.relayguard.store.RedisLimiterStore;

/**
 * The latency of one {@link RedisAuthState} call on loopback, one thread: {@code recordFailure} (one EVALSHA of
 * {@code auth-failure.lua}, counting for a client and an account), {@code banOf} and {@code recordSuccess}, each
 * timed over N calls (default 10,000) after 2,000 warm-up calls, against a redis-server (the 6.2 binary of
 * embedded-redis) started on a free port. Distinct clients and accounts, the default {@code <authLimits>}: most
 * failures count without starting a block. Prints mean, p50, p99 and max in microseconds.
 *
 * <pre>
 * mvn -q -DskipTests test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
 * java -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" dev.relayguard.bench.RedisAuthStateLatency 10000
 * </pre>
 */
public final class RedisAuthStateLatency {
    private static final int WARM_UP = 2_000;

    private RedisAuthStateLatency() {
    }

    public static void main(String[] args) {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(Level.WARN);
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        EmbeddedRedis redis = EmbeddedRedis.started();
        try (RedisLimiterStore store = new RedisLimiterStore(redis.url(), false, Duration.ofSeconds(2))) {
            RedisAuthState state = new RedisAuthState(store, AuthLimits.DEFAULT);
            time("recordFailure", calls, i -> state.recordFailure(client(i), "user" + (i % 5_000) + "@example.com"));
            time("banOf", calls, i -> state.banOf(client(i)));
            time("recordSuccess", calls, i -> state.recordSuccess("user" + (i % 5_000) + "@example.com", client(i)));
            if (!state.healthy()) {
                throw new IllegalStateException("Redis failed during the run: the figures are not round trips");
            }
        } finally {
            redis.stop();
        }
    }

    private static String client(int i) {
        return "10." + ((i >> 16) & 0xff) + "." + ((i >> 8) & 0xff) + "." + (i & 0xff);
    }

    private static void time(String what, int calls, IntConsumer call) {
        for (int i = 0; i < WARM_UP; i++) {
            call.accept(1_000_000 + i);
        }
        long[] nanos = new long[calls];
        for (int i = 0; i < calls; i++) {
            long started = System.nanoTime();
            call.accept(i);
            nanos[i] = System.nanoTime() - started;
        }
        Arrays.sort(nanos);
        double mean = Arrays.stream(nanos).average().orElse(0) / 1_000;
        System.out.println(String.format(Locale.ROOT, "%-14s %,d calls: mean %.0f us, p50 %d us, p99 %d us, max %d us",
            what, calls, mean, nanos[calls / 2] / 1_000, nanos[calls * 99 / 100] / 1_000, nanos[calls - 1] / 1_000));
    }
}
