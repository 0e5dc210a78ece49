package dev.relayguard.guice;

import java.io.File;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.PolicyReloader;

/**
 * Hot reload without JMX: checks {@code relayguard.xml} every {@code checkEvery} and, when it changed, reloads it
 * with the same validate-then-swap rule as the JMX {@code reload()}: an invalid, missing, oversized or non-regular
 * file is refused and logged once (WARN); the current policy stays until the file changes again. The file is read
 * with {@link PolicyFile#readBytes} (regular files only, size-capped), and no failure of one check, not even an
 * {@link Error}, stops the watch. A daemon thread, started at James's start and stopped at its stop
 * ({@link RelayGuardLifecycle}).
 */
final class PolicyFileWatcher {
    /** System property (e.g. in jvm.properties): how often to check, a duration like {@code 10s}; {@code 0} = off. */
    static final String CHECK_EVERY_PROPERTY = "relayguard.reload.checkEvery";
    private static final Logger LOGGER = LoggerFactory.getLogger(PolicyFileWatcher.class);
    /**
     * One watch per JVM, like the management bean: a newer RelayGuard (a server started again in the same JVM, as
     * tests do) replaces the older watch, which would otherwise keep reloading a guard nobody uses.
     */
    private static final AtomicReference<ScheduledExecutorService> CURRENT = new AtomicReference<>();

    private final File file;
    private final PolicyReloader reloader;
    private Snapshot last;

    private PolicyFileWatcher(File file, PolicyReloader reloader) {
        this.file = file;
        this.reloader = reloader;
        this.last = Snapshot.of(file);
    }

    /** Starts watching {@code file} (replacing an earlier watch in this JVM); nothing when {@code checkEvery} is 0. */
    static void start(File file, PolicyReloader reloader, Duration checkEvery) {
        if (checkEvery.isZero() || checkEvery.isNegative()) {
            LOGGER.info("RelayGuard policy file watch is off; reload over JMX");
            return;
        }
        PolicyFileWatcher watcher = new PolicyFileWatcher(file, reloader);
        ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "relayguard-policy-watch");
            thread.setDaemon(true);
            return thread;
        });
        executor.scheduleWithFixedDelay(watcher::checkSafely, checkEvery.toMillis(), checkEvery.toMillis(), TimeUnit.MILLISECONDS);
        ScheduledExecutorService previous = CURRENT.getAndSet(executor);
        if (previous != null) {
            previous.shutdownNow();
        }
        LOGGER.info("RelayGuard watches {} every {}", file, checkEvery);
    }

    /** Stops the current watch (James stops: see {@link RelayGuardLifecycle}); a later start watches again. */
    static void stop() {
        ScheduledExecutorService current = CURRENT.getAndSet(null);
        if (current != null) {
            current.shutdownNow();
            LOGGER.info("RelayGuard policy file watch stopped");
        }
    }

    /** One check; never throws, since a task that throws is never run again by scheduleWithFixedDelay. */
    void checkSafely() {
        try {
            check();
        } catch (Throwable e) {
            LOGGER.warn("RelayGuard policy file watch: checking {} failed, the current policy stays, next check as usual: {}",
                file, String.valueOf(e), e);
        }
    }

    private void check() {
        Snapshot now = Snapshot.of(file);
        if (now.equals(last)) {
            return;
        }
        last = now;
        LOGGER.info("RelayGuard policy file {} changed; reloading", file);
        try {
            reloader.reload();
        } catch (RuntimeException e) {
            // Already logged (WARN) by reload(); the current policy stays.
        }
    }

    /** What a check saw: the content of a readable file, or why it could not be read. */
    private static final class Snapshot {
        private final byte[] content;
        private final String problem;

        private Snapshot(byte[] content, String problem) {
            this.content = content;
            this.problem = problem;
        }

        static Snapshot of(File file) {
            try {
                Optional<byte[]> content = PolicyFile.readBytes(file.toPath());
                return content.map(bytes -> new Snapshot(bytes, null)).orElseGet(() -> new Snapshot(null, "missing"));
            } catch (RuntimeException e) {
                return new Snapshot(null, String.valueOf(e.getMessage()));
            }
        }

        @Override
        public boolean equals(Object other) {
            if (!(other instanceof Snapshot)) {
                return false;
            }
            Snapshot that = (Snapshot) other;
            return Arrays.equals(content, that.content) && Objects.equals(problem, that.problem);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(content) * 31 + Objects.hashCode(problem);
        }
    }
}
