package dev.relayguard;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;

import dev.relayguard.config.InvalidConfigurationException;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.Holds;
import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * Probe bans that hit the right people (issue 15): {@code <probeBans><exempt>} (fail2ban's {@code ignoreip}) is
 * never banned nor counted, even when it was banned before a reload exempted it; an authenticated user's relay and
 * routing refusals count against the user, never towards the ban of the address it shares (a NAT).
 */
class ProbeBanExemptionTest {
    private static final LocalDomains NO_LOCAL_DOMAINS = domain -> false;

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    private final RecordingMetricFactory metrics = new RecordingMetricFactory();

    private static RelayGuardSettings settings(String probeBans) {
        String xml = "<relayguard><probeBans><refusals>2</refusals>" + probeBans + "</probeBans></relayguard>";
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    private RelayGuard guard(String probeBans) {
        return new RelayGuard(settings(probeBans), NO_LOCAL_DOMAINS, new RefusalRecorder(metrics));
    }

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void refuse(RelayGuard guard, Reason reason, InetAddress client, String authUser) {
        guard.record(Verdict.of(reason, "refused"), RefusalContext.smtp().clientIp(client.getHostAddress()).authUser(authUser).build(),
            client);
    }

    @Test
    void anExemptClientIsNeverCountedNorBanned() {
        RelayGuard guard = guard("<exempt><network>192.0.2.0/28</network><network>2001:db8::/64</network></exempt>");
        for (int i = 0; i < 5; i++) {
            refuse(guard, Reason.RELAY_UNAUTHENTICATED, ip("192.0.2.7"), null);
            refuse(guard, Reason.ROUTING_PERCENT_HACK, ip("2001:db8::9"), null);
            refuse(guard, Reason.RELAY_UNAUTHENTICATED, ip("192.0.2.77"), null);
        }

        assertThat(guard.banVerdict(ip("192.0.2.7"))).isEmpty();
        assertThat(guard.banVerdict(ip("2001:db8::9"))).isEmpty();
        assertThat(guard.probeBans().bans()).extracting(Holds.Hold::key).containsExactly("192.0.2.77");
        assertThat(guard.banVerdict(ip("192.0.2.77"))).map(Verdict::reason).contains(Reason.PROBE_BANNED);
        assertThat(guard.probeBans().trackedCount()).as("exempt clients are not even tracked").isEqualTo(1);
    }

    @Test
    void aClientBannedBeforeAReloadExemptedItIsLetIn() {
        RelayGuard guard = guard("");
        refuse(guard, Reason.RELAY_UNAUTHENTICATED, ip("198.51.100.4"), null);
        refuse(guard, Reason.RELAY_UNAUTHENTICATED, ip("198.51.100.4"), null);
        assertThat(guard.banVerdict(ip("198.51.100.4"))).isPresent();

        guard.reloader().source(() -> settings("<exempt><network>198.51.100.4</network></exempt>"));
        List<String> changes = guard.reloader().reload();

        assertThat(changes).anySatisfy(line -> assertThat(line).contains("exempt=[198.51.100.4/32]"));
        assertThat(guard.banVerdict(ip("198.51.100.4"))).isEmpty();
    }

    @Test
    void anAuthenticatedUsersRefusalsCountAgainstTheUserNotTheSharedAddress() {
        RelayGuard guard = guard("");
        InetAddress nat = ip("203.0.113.9");
        for (int i = 0; i < 5; i++) {
            refuse(guard, Reason.ROUTING_PERCENT_HACK, nat, "alice@example.com");
            refuse(guard, Reason.ROUTING_IP_LITERAL, nat, "alice@example.com");
        }

        assertThat(guard.banVerdict(nat)).as("the NAT, with every other user behind it").isEmpty();
        assertThat(guard.topRefused(1)).singleElement().satisfies(entry -> assertThat(entry.toString()).contains("user:alice@example.com"));

        refuse(guard, Reason.RELAY_PLAINTEXT_AUTH, nat, "mallory@example.com"); // a login that did not count: a stranger
        refuse(guard, Reason.RELAY_UNAUTHENTICATED, nat, null);
        assertThat(guard.banVerdict(nat)).map(Verdict::reason).contains(Reason.PROBE_BANNED);
    }

    @Test
    void anInvalidExemptNetworkNamesFileKeyAndValue() {
        assertThatThrownBy(() -> settings("<exempt><network>192.0.2.300</network></exempt>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml").hasMessageContaining("probeBans.exempt.network")
            .hasMessageContaining("192.0.2.300");
    }
}
