package dev.relayguard.guice;

import java.io.File;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import javax.annotation.PreDestroy;
import javax.inject.Inject;

import org.apache.james.metrics.api.GaugeRegistry;
import org.apache.james.util.DurationParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.InvalidConfigurationException;
import dev.relayguard.core.AuthState;
import dev.relayguard.manage.RelayGuardManagement;
import dev.relayguard.observe.RefusalRecorder;

/**
 * What RelayGuard starts with James and stops with it. {@link #start()} (once injected, as James's injector is
 * built) registers the gauges and the management bean and starts the policy file watch; {@link #stop()} (James's
 * {@code @PreDestroy} stage, when James stops) stops the watch and closes the AUTH state and the rate-limit store (the
 * Redis client's threads). An eager singleton of {@link RelayGuardModule}.
 */
final class RelayGuardLifecycle {
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuardLifecycle.class);
    /** The parent logger of every RelayGuard class. */
    static final String EXTENSION_LOGGER = "dev.relayguard";

    private final RelayGuard guard;
    private final GaugeRegistry gauges;
    private final Optional<File> policyFile;

    @Inject
    RelayGuardLifecycle(RelayGuard guard, GaugeRegistry gauges, RelayGuardModule.PolicyFileLocation location) {
        this.guard = guard;
        this.gauges = gauges;
        this.policyFile = location.file();
    }

    /**
     * Called by Guice right after construction (method injection).
     *
     * @throws InvalidConfigurationException when {@value PolicyFileWatcher#CHECK_EVERY_PROPERTY} is not a duration
     */
    @Inject
    void start() {
        warnAboutDarkLogs(LoggerFactory.getLogger(RefusalRecorder.AUDIT_LOGGER), LoggerFactory.getLogger(EXTENSION_LOGGER));
        gauges.register("relayguard.bans.tracked-ips", () -> guard.probeBans().trackedCount());
        gauges.register("relayguard.bans.active", () -> guard.probeBans().bannedCount());
        gauges.register("relayguard.bans.dropped", () -> guard.probeBans().droppedBans());
        gauges.register("relayguard.rate.tracked-keys", () -> guard.senderLimits().store().trackedKeys());
        gauges.register("relayguard.rate.suspended-users", () -> guard.senderLimits().suspensions().heldCount());
        registerAuthGauges(guard.loginLimits().state());
        RelayGuardManagement.register(guard);
        policyFile.ifPresent(file -> {
            Duration checkEvery = checkEvery();
            if (file.exists()) {
                PolicyFileWatcher.start(file, guard.reloader(), checkEvery);
            }
        });
    }

    /**
     * One WARN when logback hides RelayGuard's INFO lines (James's stock {@code logback.xml} has root level WARN):
     * the {@value RefusalRecorder#AUDIT_LOGGER} logger (one line per refusal, ban, suspension) and the
     * {@value #EXTENSION_LOGGER} loggers (policy loaded, reloads, store incidents). The WARN names the
     * {@code <logger>} lines to add to {@code conf/logback.xml}; nothing when both are enabled for INFO.
     */
    static void warnAboutDarkLogs(Logger audit, Logger extension) {
        List<String> dark = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        for (Logger logger : List.of(audit, extension)) {
            if (!logger.isInfoEnabled()) {
                dark.add(logger.getName());
                lines.add("<logger name=\"" + logger.getName() + "\" level=\"INFO\"/>");
            }
        }
        if (!dark.isEmpty()) {
            LOGGER.warn("RelayGuard's audit and INFO lines are not written: logback does not enable {} for INFO (James's stock"
                    + " logback.xml has root level WARN), so refusals, bans, suspensions and policy reloads leave no trace."
                    + " Add inside <configuration> in conf/logback.xml: {}",
                String.join(" and ", dark), String.join(" ", lines));
        }
    }

    /**
     * The AUTH state ({@code <authLimits>}), read when a gauge is read: clients banned from AUTH and accounts throttled
     * (-1 when the store did not answer), clients and accounts tracked (-1 when the store cannot tell).
     */
    private void registerAuthGauges(AuthState auth) {
        gauges.register("relayguard.auth.banned-clients", () -> sizeOrMinusOne(auth, auth.bans()));
        gauges.register("relayguard.auth.throttled-accounts", () -> sizeOrMinusOne(auth, auth.throttles()));
        gauges.register("relayguard.auth.tracked-clients", auth::trackedClients);
        gauges.register("relayguard.auth.tracked-accounts", auth::trackedAccounts);
    }

    /** The size of a list the store just answered, or -1 when it could not (its answer is then empty). */
    private static int sizeOrMinusOne(AuthState auth, List<AuthState.Block> answered) {
        return auth.healthy() ? answered.size() : -1;
    }

    /** Never throws: James stops whatever happens here. */
    @PreDestroy
    public void stop() {
        PolicyFileWatcher.stop();
        closeQuietly("AUTH state", guard.loginLimits().state()::close); // before the store whose Redis it may use
        closeQuietly("probe bans", guard.probeBans().holds()::close);
        closeQuietly("suspensions", guard.senderLimits().suspensions()::close);
        closeQuietly("rate-limit store", guard.senderLimits().store()::close);
    }

    private static void closeQuietly(String what, Runnable close) {
        try {
            close.run();
        } catch (RuntimeException e) {
            LOGGER.warn("RelayGuard could not close its {}: {}", what, String.valueOf(e), e);
        }
    }

    /** {@value PolicyFileWatcher#CHECK_EVERY_PROPERTY} (a JVM system property), default 10 s; 0 = off. */
    static Duration checkEvery() {
        String property = System.getProperty(PolicyFileWatcher.CHECK_EVERY_PROPERTY, "10s");
        try {
            return DurationParser.parse(property.trim(), ChronoUnit.SECONDS);
        } catch (RuntimeException e) {
            throw new InvalidConfigurationException("jvm.properties", PolicyFileWatcher.CHECK_EVERY_PROPERTY, property,
                "not a duration (examples: 5s, 1m; 0 = off)");
        }
    }
}
