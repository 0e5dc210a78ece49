package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

class RelayPolicyTest {
    private static final LocalDomains EXAMPLE_COM_IS_LOCAL = domain -> domain.equals("example.com");
    private static final LocalDomains FAILING = domain -> {
        throw new LocalDomains.LookupFailedException("DomainList down", new RuntimeException("boom"));
    };

    private static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }

    private static TrustedNetworks trusted(String... networks) {
        List<IpNetwork> parsed = new ArrayList<>();
        for (String network : networks) {
            parsed.add(IpNetwork.parse(network));
        }
        return TrustedNetworks.of(parsed);
    }

    private static final RelayPolicy POLICY =
        RelayPolicy.of(trusted("192.0.2.0/24", "2001:db8::/32"), Set.of("Backup.Example."));

    private static InetAddress untrusted() throws Exception {
        return ip("203.0.113.9");
    }

    @Test
    void authenticatedClientMayRelayAnywhere() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), "alice@example.com", "remote.org"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(verdict.reason()).isEqualTo(Reason.AUTHENTICATED);
        assertThat(verdict.replyLine()).isEmpty();
        assertThat(verdict.replyCode()).isNull();
    }

    @Test
    void authenticatedWinsEvenWhenDomainLookupFails() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), "alice", "remote.org"), FAILING);
        assertThat(verdict.reason()).isEqualTo(Reason.AUTHENTICATED);
    }

    @Test
    void trustedIpv4ClientMayRelay() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(ip("192.0.2.10"), null, "remote.org"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.TRUSTED_NETWORK);
    }

    @Test
    void trustedIpv6ClientMayRelay() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(ip("2001:db8:42::1"), null, "remote.org"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.TRUSTED_NETWORK);
    }

    @Test
    void ipv4MappedClientInTrustedIpv4NetworkMayRelay() throws Exception {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xff;
        bytes[11] = (byte) 0xff;
        bytes[12] = (byte) 192;
        bytes[13] = 0;
        bytes[14] = 2;
        bytes[15] = 10;
        InetAddress mapped = Inet6Address.getByAddress(null, bytes, -1);
        Verdict verdict = POLICY.decide(RelayRequest.of(mapped, null, "remote.org"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.TRUSTED_NETWORK);

        InetAddress viaGetByAddress = InetAddress.getByAddress(bytes);
        assertThat(POLICY.decide(RelayRequest.of(viaGetByAddress, null, "remote.org"), EXAMPLE_COM_IS_LOCAL).reason())
            .isEqualTo(Reason.TRUSTED_NETWORK);
    }

    @Test
    void mappedClientOutsideTrustedNetworkIsRefused() throws Exception {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xff;
        bytes[11] = (byte) 0xff;
        bytes[12] = (byte) 203;
        bytes[13] = 0;
        bytes[14] = 113;
        bytes[15] = 9;
        InetAddress mapped = Inet6Address.getByAddress(null, bytes, -1);
        assertThat(POLICY.decide(RelayRequest.of(mapped, null, "remote.org"), EXAMPLE_COM_IS_LOCAL).outcome())
            .isEqualTo(Outcome.REFUSED);
    }

    @Test
    void localDomainIsAcceptedFromAnyone() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), null, "example.com"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.LOCAL_DOMAIN);
    }

    @Test
    void localDomainIsCaseInsensitiveAndIgnoresTrailingDot() throws Exception {
        List<String> asked = new ArrayList<>();
        LocalDomains recording = domain -> {
            asked.add(domain);
            return domain.equals("example.com");
        };
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), null, "Example.COM."), recording);
        assertThat(verdict.reason()).isEqualTo(Reason.LOCAL_DOMAIN);
        assertThat(asked).containsExactly("example.com");
    }

    @Test
    void relayDomainIsAcceptedCanonicalised() throws Exception {
        // Configured as "Backup.Example." ; asked as "BACKUP.example" and "backup.example."
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), null, "BACKUP.example"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.isAllowed()).isTrue();
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_DOMAIN);
        assertThat(POLICY.decide(RelayRequest.of(untrusted(), null, "backup.example."), EXAMPLE_COM_IS_LOCAL).reason())
            .isEqualTo(Reason.RELAY_DOMAIN);
        assertThat(POLICY.relayDomains()).containsExactly("backup.example");
        assertThat(POLICY.isRelayDomain("Backup.EXAMPLE.")).isTrue();
        assertThat(POLICY.isRelayDomain("other.example")).isFalse();
    }

    @Test
    void subdomainOfRelayDomainIsNotARelayDomain() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), null, "sub.backup.example"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
    }

    @Test
    void remoteDomainFromUntrustedUnauthenticatedClientIsRefused() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), null, "Remote.ORG"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.isAllowed()).isFalse();
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_UNAUTHENTICATED);
        assertThat(verdict.replyCode()).isEqualTo("550");
        assertThat(verdict.enhancedStatus()).isEqualTo("5.7.1");
        assertThat(verdict.text()).contains("Relaying denied").contains("remote.org");
        assertThat(verdict.replyLine()).startsWith("550 5.7.1 ").contains("Relaying denied").contains("remote.org");
    }

    @Test
    void lookupFailureDefersAndNeverAllows() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), null, "maybe-local.org"), FAILING);
        assertThat(verdict.isAllowed()).isFalse();
        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.reason()).isEqualTo(Reason.LOCAL_DOMAIN_LOOKUP_FAILED);
        assertThat(verdict.replyCode()).isEqualTo("451");
        assertThat(verdict.enhancedStatus()).isEqualTo("4.3.0");
        assertThat(verdict.text()).contains("maybe-local.org");
        assertThat(verdict.replyLine()).startsWith("451 4.3.0 ");
    }

    @Test
    void relayDomainIsAcceptedEvenWhenLookupFails() throws Exception {
        Verdict verdict = POLICY.decide(RelayRequest.of(untrusted(), null, "backup.example"), FAILING);
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_DOMAIN);
    }

    @Test
    void nullClientAddressIsRefusedForRemoteDomain() {
        RelayPolicy openToAllIpv4 = RelayPolicy.of(trusted("0.0.0.0/0", "::/0"), Set.of());
        Verdict verdict = openToAllIpv4.decide(RelayRequest.of(null, null, "remote.org"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(verdict.reason()).isEqualTo(Reason.RELAY_UNAUTHENTICATED);
    }

    @Test
    void nullClientAddressStillReachesLocalDomain() {
        Verdict verdict = POLICY.decide(RelayRequest.of(null, null, "example.com"), EXAMPLE_COM_IS_LOCAL);
        assertThat(verdict.reason()).isEqualTo(Reason.LOCAL_DOMAIN);
    }

    @Test
    void closedPolicyRefusesEvenLoopback() throws Exception {
        RelayPolicy closed = RelayPolicy.closed();
        assertThat(closed.trustedNetworks().asList()).isEmpty();
        assertThat(closed.relayDomains()).isEmpty();
        assertThat(closed.decide(RelayRequest.of(ip("127.0.0.1"), null, "remote.org"), EXAMPLE_COM_IS_LOCAL).outcome())
            .isEqualTo(Outcome.REFUSED);
        assertThat(closed.decide(RelayRequest.of(ip("127.0.0.1"), null, "example.com"), EXAMPLE_COM_IS_LOCAL).reason())
            .isEqualTo(Reason.LOCAL_DOMAIN);
    }

    @Test
    void clientMayRelay() throws Exception {
        assertThat(POLICY.clientMayRelay(untrusted(), "alice")).isTrue();
        assertThat(POLICY.clientMayRelay(null, "alice")).isTrue();
        assertThat(POLICY.clientMayRelay(ip("192.0.2.200"), null)).isTrue();
        assertThat(POLICY.clientMayRelay(ip("2001:db8::25"), null)).isTrue();
        assertThat(POLICY.clientMayRelay(untrusted(), null)).isFalse();
        assertThat(POLICY.clientMayRelay(ip("2001:db9::25"), null)).isFalse();
        assertThat(POLICY.clientMayRelay(null, null)).isFalse();
    }
}
