package dev.relayguard.guice;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.RelayGuard;

/**
 * Hot reload without JMX: checks {@code relayguard.xml} every {@code checkEvery} and, when its content changed,
 * reloads it with the same validate-then-swap rule as the JMX {@code reload()} (an invalid file is refused and
 * logged once; the current policy stays until the file changes again). A daemon thread; nothing to stop.
 */
final class PolicyFileWatcher {
    /** System property (e.g. in jvm.properties): how often to check, a duration like {@code 10s}; {@code 0} = off. */
    static final String CHECK_EVERY_PROPERTY = "relayguard.reload.checkEvery";
    private static final Logger LOGGER = LoggerFactory.getLogger(PolicyFileWatcher.class);

    private final File file;
    private final RelayGuard guard;
    private byte[] lastContent;

    private PolicyFileWatcher(File file, RelayGuard guard) {
        this.file = file;
        this.guard = guard;
        this.lastContent = read();
    }

    static void start(File file, RelayGuard guard, Duration checkEvery) {
        if (checkEvery.isZero() || checkEvery.isNegative()) {
            LOGGER.info("RelayGuard policy file watch is off; reload over JMX");
            return;
        }
        PolicyFileWatcher watcher = new PolicyFileWatcher(file, guard);
        ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "relayguard-policy-watch");
            thread.setDaemon(true);
            return thread;
        });
        executor.scheduleWithFixedDelay(watcher::check, checkEvery.toMillis(), checkEvery.toMillis(), TimeUnit.MILLISECONDS);
        LOGGER.info("RelayGuard watches {} every {}", file, checkEvery);
    }

    private void check() {
        byte[] content = read();
        if (Arrays.equals(content, lastContent)) {
            return;
        }
        lastContent = content;
        LOGGER.info("RelayGuard policy file {} changed; reloading", file);
        try {
            guard.reload();
        } catch (RuntimeException e) {
            // Already logged by reload(); the current policy stays.
        }
    }

    private byte[] read() {
        try {
            return Files.readAllBytes(file.toPath());
        } catch (IOException e) {
            return new byte[0];
        }
    }
}
