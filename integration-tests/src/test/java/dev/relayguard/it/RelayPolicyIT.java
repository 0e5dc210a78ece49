package dev.relayguard.it;

import static dev.relayguard.it.RelayGuardServers.DEMO_PASSWORD;
import static dev.relayguard.it.RelayGuardServers.DEMO_USER;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.util.function.Consumer;

import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Who may relay, against one real James 3.8.1 server for all the groups below (one boot instead of eight).
 * Each group is a {@code @Nested} class whose tests live in its own file ({@code ...Group}); before its tests
 * it puts its policy in place the way an operator does: it writes {@code relayguard.xml} and calls the MBean's
 * {@code reload()} ({@link #usePolicy}), or restores the shipped sample ({@link #useSamplePolicy}). Either way
 * the probe-ban state of 127.0.0.1 and the demo user's rate-limit usage start fresh.
 *
 * <p>What carries over between groups on the shared server: meter counts (every test asserts deltas), audit and
 * log lines (tests look only at the lines written after they start), and the users created here.
 */
class RelayPolicyIT {
    static final String OTHER_USER = "other@" + RelayGuardServers.DOMAIN;
    private static final String BEAN = "org.apache.james:type=extension,name=RelayGuard";
    private static SampleConf conf;
    private static String samplePolicy;

    /** The sample as shipped (ports aside), with probe bans off: several groups refuse many relays from 127.0.0.1. */
    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.sharedWithNestedClasses(sample -> {
        conf = sample;
        sample.withoutProbeBans();
    });

    @BeforeAll
    static void usersAndSamplePolicy(GuiceJamesServer server) throws Exception {
        server.getProbe(DataProbeImpl.class).fluent()
            .addUser(DEMO_USER, DEMO_PASSWORD)
            .addUser(OTHER_USER, "other-password");
        server.getProbe(DataProbeImpl.class).addUserAliasMapping("sales", RelayGuardServers.DOMAIN, DEMO_USER);
        // Recipients the sample's ValidRcptHandler must know: postmaster (RFC 5321 §4.5.1, an alias as the README
        // says) and the percent-hack address the monitor-mode test delivers (an alias, so James accepts it).
        // Aliases of the other user, so that what demo may send as stays as it was.
        server.getProbe(DataProbeImpl.class).addUserAliasMapping("postmaster", RelayGuardServers.DOMAIN, OTHER_USER);
        server.getProbe(DataProbeImpl.class).addUserAliasMapping("someone%remote.example", RelayGuardServers.DOMAIN, OTHER_USER);
        samplePolicy = Files.readString(conf.dir().resolve("relayguard.xml"));
    }

    /** The running server's conf folder (groups that edit relayguard.xml themselves, for the file watcher). */
    static SampleConf conf() {
        return conf;
    }

    /** Restores the sample's relayguard.xml (probe bans off) and reloads it; fresh ban and usage state. */
    static void useSamplePolicy() {
        usePolicy(sample -> sample.write("relayguard.xml", samplePolicy));
    }

    /**
     * Applies {@code edit} to the conf folder (a new relayguard.xml) and reloads it through the MBean; lifts any
     * probe ban of 127.0.0.1 (and forgets its refusals) and resets the demo user's rate-limit usage.
     *
     * @throws IllegalStateException when RelayGuard refuses the new policy
     */
    static void usePolicy(Consumer<SampleConf> edit) {
        edit.accept(conf);
        try {
            invoke("reload", new Object[0], new String[0]);
            invoke("lift", new Object[] {"127.0.0.1"}, new String[] {String.class.getName()});
            invoke("reset", new Object[] {DEMO_USER}, new String[] {String.class.getName()});
        } catch (Exception e) {
            throw new IllegalStateException("the policy for this group could not be put in place: " + e, e);
        }
    }

    static Object invoke(String operation, Object[] arguments, String[] signature) throws Exception {
        return ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName(BEAN), operation, arguments, signature);
    }

    @Nested
    class RelayDecision extends RelayDecisionGroup {
    }

    @Nested
    class RelayHardening extends RelayHardeningGroup {
    }

    @Nested
    class OpenRelayBattery extends OpenRelayBatteryGroup {
    }

    @Nested
    class TrustedNetwork extends TrustedNetworkGroup {
    }

    @Nested
    class RelayDomain extends RelayDomainGroup {
    }

    @Nested
    class ProbeBan extends ProbeBanGroup {
    }

    @Nested
    class RefusalModes extends RefusalModesGroup {
    }

    @Nested
    class HotReload extends HotReloadGroup {
    }
}
