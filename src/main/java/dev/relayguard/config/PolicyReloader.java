package dev.relayguard.config;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads the policy: reads it again from its source (the module passes "read conf/relayguard.xml again"),
 * validates it, and swaps it in whole, or refuses it and keeps the current one. What the operator's
 * {@code reload()} (JMX) and the policy file watch call. The source is read and parsed outside any lock (a slow
 * or stuck read blocks no other operation); only the swap holds this object's monitor, and a reload that started
 * earlier never overwrites one that started later. Thread-safe.
 */
public final class PolicyReloader {
    /** The logger of the reload lines: still {@code dev.relayguard.RelayGuard}, which operators' log filters name. */
    public static final String LOGGER_NAME = "dev.relayguard.RelayGuard";
    private static final Logger LOGGER = LoggerFactory.getLogger(LOGGER_NAME);

    private final Supplier<RelayGuardSettings> current;
    private final Consumer<RelayGuardSettings> swap;
    private volatile Supplier<RelayGuardSettings> source;
    /** Reloads started, in order; a reload applies only if no later-started one was applied before it. */
    private final AtomicLong reloadsStarted = new AtomicLong();
    private long reloadApplied; // guarded by this

    /**
     * @param current the settings in force
     * @param swap    puts validated settings in force (state such as bans, suspensions and counters is kept)
     */
    public PolicyReloader(Supplier<RelayGuardSettings> current, Consumer<RelayGuardSettings> swap) {
        this.current = Objects.requireNonNull(current);
        this.swap = Objects.requireNonNull(swap);
        this.source = current;
    }

    /**
     * Where {@link #reload()} reads the policy from; until set, the current settings (a reload changes nothing).
     * The source throws (any {@link RuntimeException}, typically {@link InvalidConfigurationException}) to refuse.
     */
    public void source(Supplier<RelayGuardSettings> source) {
        this.source = Objects.requireNonNull(source);
    }

    /**
     * Reads the policy again; a valid one is swapped in atomically (counters, bans and suspensions are kept), an
     * invalid, missing or unreadable one is refused (one WARN) and the current policy stays. A policy that puts the
     * relay rule in monitor mode is announced with a WARN ({@link PolicyDiff#relayMonitorWarning}).
     *
     * @return what changed, one line each (empty: nothing changed, or a later reload was applied first)
     * @throws IllegalArgumentException with the reason, when the new policy is refused
     */
    public List<String> reload() {
        long ticket = reloadsStarted.incrementAndGet();
        RelayGuardSettings next;
        try {
            next = source.get();
        } catch (RuntimeException e) {
            LOGGER.warn("RelayGuard policy reload refused, the current policy stays: {}", e.getMessage());
            throw new IllegalArgumentException("reload refused, the current policy stays: " + e.getMessage());
        }
        synchronized (this) {
            if (ticket < reloadApplied) {
                LOGGER.info("RelayGuard policy reload superseded by a later reload; nothing changed");
                return List.of();
            }
            reloadApplied = ticket;
            RelayGuardSettings previous = current.get();
            List<String> changes = PolicyDiff.between(previous, next);
            swap.accept(next);
            LOGGER.info("RelayGuard policy reloaded: {}", changes.isEmpty() ? "no change" : String.join("; ", changes));
            PolicyDiff.relayMonitorWarning(previous, next).ifPresent(LOGGER::warn);
            return changes;
        }
    }
}
