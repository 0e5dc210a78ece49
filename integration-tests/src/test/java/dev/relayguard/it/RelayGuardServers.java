package dev.relayguard.it;

import java.nio.file.Path;
import java.util.function.Consumer;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerBuilder;
import org.apache.james.JamesServerExtension;
import org.apache.james.MemoryJamesConfiguration;
import org.apache.james.MemoryJamesServerMain;
import org.apache.james.modules.protocols.SmtpGuiceProbe;
import org.apache.james.server.core.configuration.Configuration;

/** Real in-process James 3.8.1 memory servers configured from (a copy of) the single-node sample. */
public final class RelayGuardServers {
    public static final String DOMAIN = "relayguard.test";
    public static final String DEMO_USER = "demo@" + DOMAIN;
    public static final String DEMO_PASSWORD = "demo";

    private RelayGuardServers() {
    }

    /** A server from the sample, after {@code edits} to the copied conf folder; one server per test class. */
    public static JamesServerExtension fromSample(Consumer<SampleConf> edits) {
        return fromSample(edits, JamesServerExtension.Lifecycle.PER_CLASS);
    }

    /**
     * As {@link #fromSample(Consumer)}, but one server for the class and all its {@code @Nested} classes
     * ({@code PER_CLASS} would boot one more for each nested class).
     */
    public static JamesServerExtension sharedWithNestedClasses(Consumer<SampleConf> edits) {
        return fromSample(edits, JamesServerExtension.Lifecycle.PER_ENCLOSING_CLASS);
    }

    private static JamesServerExtension fromSample(Consumer<SampleConf> edits, JamesServerExtension.Lifecycle lifecycle) {
        return new JamesServerBuilder<MemoryJamesConfiguration>(tmpDir -> {
            SampleConf conf = SampleConf.copyTo(tmpDir.toPath().resolve("conf"));
            edits.accept(conf);
            return configuration(tmpDir.toPath(), conf.dir());
        })
            .server(MemoryJamesServerMain::createServer)
            .overrideServerModule(binder -> {
                com.google.inject.multibindings.Multibinder<org.apache.james.utils.GuiceProbe> probes =
                    com.google.inject.multibindings.Multibinder.newSetBinder(binder, org.apache.james.utils.GuiceProbe.class);
                probes.addBinding().to(MailInjectionProbe.class);
                probes.addBinding().to(MailboxContentProbe.class);
                probes.addBinding().to(SmtpListenerProbe.class);
            })
            .lifeCycle(lifecycle)
            .build();
    }

    public static MemoryJamesConfiguration configuration(Path workingDir, Path confDir) {
        return MemoryJamesConfiguration.builder()
            .workingDirectory(workingDir.toFile())
            .configurationPath(new Configuration.ConfigurationPath("file://" + confDir.toAbsolutePath() + "/"))
            .build();
    }

    public static int mxPort(GuiceJamesServer server) {
        return server.getProbe(SmtpGuiceProbe.class).getSmtpPort().getValue();
    }

    public static int submissionPort(GuiceJamesServer server) {
        return server.getProbe(SmtpGuiceProbe.class).getSmtpStartTlsPort().getValue();
    }
}
