package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.it.EmbeddedRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;

/**
 * A real redis-server (embedded-redis's binary, a free loopback port) for the tests of one class, emptied before each
 * test, with a plain connection to look at its keys, SIGSTOP/SIGCONT to pause it, and what a test opens closed after
 * it: {@code @RegisterExtension static final LocalRedis REDIS = new LocalRedis();}.
 */
public final class LocalRedis implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
    /** The store's timeout for a healthy Redis. */
    public static final Duration TIMEOUT = Duration.ofSeconds(2);
    /** The store's timeout when a test makes Redis fail (the messages say "no answer within 300 ms"). */
    public static final Duration SHORT_TIMEOUT = Duration.ofMillis(300);
    /** A bound for "does not hang", not a performance assertion. */
    public static final long NOT_HANGING_MILLIS = 5_000;

    /** What a test runs while Redis is paused. */
    public interface WhilePaused {
        void run() throws Exception;
    }

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private EmbeddedRedis redis;
    private RedisClient client;
    private StatefulRedisConnection<String, String> connection;

    @Override
    public void beforeAll(ExtensionContext context) {
        ((Logger) LoggerFactory.getLogger("io.lettuce")).setLevel(Level.WARN);
        ((Logger) LoggerFactory.getLogger("io.netty")).setLevel(Level.WARN);
        redis = EmbeddedRedis.started();
        client = RedisClient.create(RedisURI.create(redis.url()));
        connection = client.connect();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        connection.close();
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        redis.stop();
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        raw().flushall();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            try {
                closeables.get(i).close();
            } catch (Exception ignored) {
                // best effort
            }
        }
        closeables.clear();
    }

    /** Closed after the current test, the last registered first. */
    public <T extends AutoCloseable> T closeAfterTest(T closeable) {
        closeables.add(closeable);
        return closeable;
    }

    public String url() {
        return redis.url();
    }

    public RedisCommands<String, String> raw() {
        return connection.sync();
    }

    /** Runs {@code during} with Redis stopped by SIGSTOP, then lets it go on (SIGCONT) whatever happened. */
    public void paused(WhilePaused during) throws Exception {
        long pid = pid();
        signal("STOP", pid);
        try {
            during.run();
        } finally {
            signal("CONT", pid);
        }
    }

    /** The lines {@code type} logs at INFO and above during the current test. */
    public ListAppender<ILoggingEvent> captureLogs(Class<?> type) {
        Logger logger = (Logger) LoggerFactory.getLogger(type);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        Level level = logger.getLevel();
        logger.setLevel(Level.INFO);
        closeAfterTest(() -> {
            logger.detachAppender(appender);
            logger.setLevel(level);
        });
        return appender;
    }

    public static List<String> messages(ListAppender<ILoggingEvent> logs, Level level) {
        return logs.list.stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage)
            .collect(Collectors.toList());
    }

    /** Polls every 50 ms until {@code condition} holds; fails after 15 s. */
    public static void pollUntil(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("in time: %s", what).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    private long pid() {
        for (String line : raw().info("server").split("\\r?\\n")) {
            if (line.startsWith("process_id:")) {
                return Long.parseLong(line.substring("process_id:".length()).trim());
            }
        }
        throw new IllegalStateException("no process_id in INFO server");
    }

    private static void signal(String signal, long pid) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).as("kill -%s %d", signal, pid).isZero();
    }
}
