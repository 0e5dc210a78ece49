package dev.relayguard.guice;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

import javax.inject.Singleton;

import org.apache.commons.configuration2.BaseHierarchicalConfiguration;
import org.apache.commons.configuration2.HierarchicalConfiguration;
import org.apache.commons.configuration2.ex.ConfigurationException;
import org.apache.commons.configuration2.tree.ImmutableNode;
import org.apache.james.domainlist.api.DomainList;
import org.apache.james.filesystem.api.FileSystem;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.rrt.api.CanSendFrom;
import org.apache.james.server.core.configuration.Configuration;
import org.apache.james.server.core.configuration.ConfigurationProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.ConfigErrors;
import dev.relayguard.config.InvalidConfigurationException;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.observe.RefusalRecorder;

/**
 * Binds the shared {@link RelayGuard} singleton that every RelayGuard hook, matcher and mailet uses.
 * Enable it in James's {@code conf/extensions.properties}:
 *
 * <pre>{@code
 * guice.extension.module=dev.relayguard.guice.RelayGuardModule
 * }</pre>
 *
 * <p>The policy is read once from {@code conf/relayguard.xml} (see {@link PolicyFile}); a missing file at startup
 * means the closed default (no trusted network, no relay domain). Invalid content stops James at startup. The file
 * is read safely (regular file only, at most {@link PolicyFile#MAX_BYTES}, no DTD or entity); on a reload (JMX or
 * file watch) a missing, unreadable or invalid file is refused and the current policy stays.
 */
public class RelayGuardModule extends AbstractModule {
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuardModule.class);

    /** The file of the memory store's suspensions, in James's {@code var/} directory. */
    static final String SUSPENSIONS_FILE = "file://var/relayguard/suspensions.tsv";

    /**
     * Starts and stops with James: {@link RelayGuardLifecycle}, an eager singleton (started when James's injector is
     * built, stopped by James's {@code @PreDestroy} stage). Not an {@code InitializationOperation} nor a
     * {@code CleanupTask}: those are Guice multibindings, and James 3.8.1's test servers ({@code JamesServerBuilder})
     * install an extension module twice (as an extension and as an override), which Guice refuses for a
     * multibinding ("Set&lt;InitializationOperation&gt; was bound multiple times").
     */
    @Override
    protected void configure() {
        bind(RelayGuardLifecycle.class).asEagerSingleton();
    }

    /** Only constructs: {@link RelayGuardLifecycle} starts and stops what needs it. */
    @Provides
    @Singleton
    RelayGuard relayGuard(ConfigurationProvider configurationProvider, DomainList domainList, CanSendFrom canSendFrom,
                          MetricFactory metricFactory, PolicyFileLocation location, FileSystem fileSystem) {
        RelayGuardSettings settings = readSettings(configurationProvider, location.file(), true);
        LOGGER.info("RelayGuard policy loaded from {}: {}", PolicyFile.FILE_NAME, settings);
        SmtpServerXmlChecks.warnAboutConflicts(configurationProvider, settings.relayPolicy());
        LimiterStore store = LimiterStores.create(settings.rateLimits());
        RelayGuard guard = new RelayGuard(settings, new DomainListLocalDomains(domainList),
            new CanSendFromOwnership(canSendFrom), new RefusalRecorder(metricFactory), System::currentTimeMillis,
            store, LimiterStores.authState(settings.authLimits(), store), LimiterStores.probeBans(settings.probeBans(), store),
            LimiterStores.suspensions(settings.rateLimits().suspension(), store, suspensionsFile(fileSystem)));
        LOGGER.info("RelayGuard keeps probe bans in {}, suspensions in {}, AUTH state in {}", guard.probeBans().holds().kind(),
            guard.senderLimits().suspensions().kind(), guard.loginLimits().state().kind());
        guard.reloader().source(() -> readSettings(configurationProvider, location.file(), false));
        return guard;
    }

    /**
     * Where the memory store keeps suspensions across restarts: {@value #SUSPENSIONS_FILE} under James's working
     * directory; null (memory only, one WARN) when James's file system cannot give a file there.
     */
    static Path suspensionsFile(FileSystem fileSystem) {
        try {
            return fileSystem.getFile(SUSPENSIONS_FILE).toPath();
        } catch (IOException | RuntimeException e) {
            LOGGER.warn("RelayGuard cannot keep suspensions in {} ({}): they will not survive a restart", SUSPENSIONS_FILE, e.toString());
            return null;
        }
    }

    /** Where James's FileConfigurationProvider reads relayguard.xml from; empty when it is not a plain file (e.g. classpath:). */
    @Provides
    @Singleton
    PolicyFileLocation policyFileLocation(FileSystem fileSystem, Configuration serverConfiguration) {
        try {
            return new PolicyFileLocation(Optional.of(
                fileSystem.getFile(serverConfiguration.configurationPath().asString() + PolicyFile.FILE_NAME)));
        } catch (IOException | RuntimeException e) {
            LOGGER.info("RelayGuard cannot locate {} as a file ({}); reading it through James's configuration provider, no file watch",
                PolicyFile.FILE_NAME, e.getMessage());
            return new PolicyFileLocation(Optional.empty());
        }
    }

    /** relayguard.xml as a file, when James reads it from one. */
    static final class PolicyFileLocation {
        private final Optional<File> file;

        PolicyFileLocation(Optional<File> file) {
            this.file = file;
        }

        Optional<File> file() {
            return file;
        }
    }

    /**
     * Reads relayguard.xml from {@code policyFile} safely (regular file only, size-capped, no DTD; see
     * {@link PolicyFile#readBytes}). A missing file means the closed default at startup only; during a reload it
     * is refused, so the current policy stays.
     */
    static RelayGuardSettings readSettings(ConfigurationProvider configurationProvider, Optional<File> policyFile, boolean atStartup) {
        if (policyFile.isEmpty()) {
            return readSettings(configurationProvider);
        }
        Path path = policyFile.get().toPath();
        Optional<RelayGuardSettings> settings = PolicyFile.read(path, PolicyFile.FILE_NAME);
        if (settings.isPresent()) {
            return settings.get();
        }
        if (atStartup) {
            LOGGER.info("RelayGuard found no {} at {}: the closed default applies", PolicyFile.FILE_NAME, path);
            return PolicyFile.parse(new BaseHierarchicalConfiguration(), PolicyFile.FILE_NAME);
        }
        throw new InvalidConfigurationException(path.toString(),
            "does not exist (deleted or moved?); a missing file means the closed default only at startup", null);
    }

    static RelayGuardSettings readSettings(ConfigurationProvider configurationProvider) {
        HierarchicalConfiguration<ImmutableNode> config;
        try {
            config = configurationProvider.getConfiguration(PolicyFile.COMPONENT);
        } catch (ConfigurationException | RuntimeException e) {
            throw new InvalidConfigurationException(PolicyFile.FILE_NAME, "cannot be read: " + ConfigErrors.describe(e),
                ConfigErrors.cause(e));
        }
        return PolicyFile.parse(config, PolicyFile.FILE_NAME);
    }
}
