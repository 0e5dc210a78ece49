package dev.relayguard.guice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.mockito.Mockito.mock;

import org.apache.commons.configuration2.XMLConfiguration;
import org.apache.james.domainlist.api.DomainList;
import org.apache.james.filesystem.api.FileSystem;
import org.apache.james.mailrepository.api.MailRepositoryStore;
import org.apache.james.metrics.api.GaugeRegistry;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.apache.james.rrt.api.CanSendFrom;
import org.apache.james.server.core.configuration.Configuration;
import org.apache.james.server.core.configuration.ConfigurationProvider;
import org.apache.james.user.api.UsersRepository;
import org.junit.jupiter.api.Test;

import com.google.inject.AbstractModule;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Module;
import com.google.inject.ProvisionException;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.InvalidConfigurationException;
import dev.relayguard.mailet.IsRelayDenied;
import dev.relayguard.mailet.RefuseRelay;
import dev.relayguard.smtp.RelayGuardHandler;

/**
 * Without {@link RelayGuardModule} (its line missing from {@code conf/extensions.properties}), whatever asks Guice for
 * a {@link RelayGuard} gets one message naming that line and file; with the module, the module's binding wins over
 * {@code @ProvidedBy}.
 */
class ModuleNotInstalledTest {
    /** What James binds itself, without RelayGuard's module. */
    private static final Module JAMES = new AbstractModule() {
        @Override
        protected void configure() {
            bind(MailRepositoryStore.class).toInstance(mock(MailRepositoryStore.class));
            bind(DomainList.class).toInstance(mock(DomainList.class));
            bind(UsersRepository.class).toInstance(mock(UsersRepository.class));
            bind(CanSendFrom.class).toInstance(mock(CanSendFrom.class));
            bind(MetricFactory.class).toInstance(new RecordingMetricFactory());
            bind(GaugeRegistry.class).toInstance(mock(GaugeRegistry.class));
            bind(FileSystem.class).toInstance(mock(FileSystem.class)); // no file: relayguard.xml through the provider
            bind(Configuration.class).toInstance(Configuration.builder().workingDirectory("/nonexistent").build());
            bind(ConfigurationProvider.class).toInstance((component, level) -> new XMLConfiguration());
        }
    };

    @Test
    void aMailetWithoutTheModuleNamesTheMissingLineAndFile() {
        Injector injector = Guice.createInjector(JAMES);

        assertThatThrownBy(() -> injector.getInstance(RefuseRelay.class))
            .isInstanceOf(ProvisionException.class)
            .hasMessageContaining("conf/extensions.properties")
            .hasMessageContaining("guice.extension.module=dev.relayguard.guice.RelayGuardModule")
            .hasMessageNotContaining("No injectable constructor")
            .hasRootCauseInstanceOf(InvalidConfigurationException.class);
    }

    @Test
    void theSmtpHandlerAndAMatcherWithoutTheModuleGetTheSameMessage() {
        Injector injector = Guice.createInjector(JAMES);

        for (Class<?> type : new Class<?>[] {RelayGuardHandler.class, IsRelayDenied.class}) {
            assertThatThrownBy(() -> injector.getInstance(type))
                .hasRootCauseMessage(ModuleNotInstalled.FILE + ": " + ModuleNotInstalled.MESSAGE);
        }
        assertThat(ModuleNotInstalled.MESSAGE).contains(ModuleNotInstalled.EXTENSION_LINE);
    }

    @Test
    void theModulesBindingWinsOverProvidedBy() {
        Injector injector = Guice.createInjector(JAMES, new RelayGuardModule());
        try {
            RelayGuard guard = injector.getInstance(RelayGuard.class);

            assertThat(injector.getInstance(RefuseRelay.class)).isNotNull();
            assertThat(injector.getInstance(RelayGuard.class)).isSameAs(guard);
        } finally {
            injector.getInstance(RelayGuardLifecycle.class).stop();
        }
    }
}
