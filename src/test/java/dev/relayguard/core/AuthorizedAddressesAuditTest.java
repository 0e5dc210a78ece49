package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

class AuthorizedAddressesAuditTest {

    private static TrustedNetworks trusted(String... networks) {
        List<IpNetwork> parsed = new ArrayList<>();
        for (String network : networks) {
            parsed.add(IpNetwork.parse(network));
        }
        return TrustedNetworks.of(parsed);
    }

    private static List<String> entries(List<AuthorizedAddressesAudit.Mismatch> mismatches) {
        return mismatches.stream().map(AuthorizedAddressesAudit.Mismatch::entry).collect(Collectors.toList());
    }

    @Test
    void everythingIsReportedWhenRelayGuardTrustsNobody() {
        List<AuthorizedAddressesAudit.Mismatch> mismatches = AuthorizedAddressesAudit.mismatches("0.0.0.0/0", TrustedNetworks.none());
        assertThat(mismatches).hasSize(1);
        assertThat(mismatches.get(0).entry()).isEqualTo("0.0.0.0/0");
        assertThat(mismatches.get(0).explanation()).contains("RelayGuard does not trust it");
        assertThat(mismatches.get(0).toString()).startsWith("0.0.0.0/0 (");
    }

    @Test
    void zeroSlashZeroIsReportedEvenWhenLoopbackIsTrusted() {
        assertThat(entries(AuthorizedAddressesAudit.mismatches("127.0.0.0/8, 0.0.0.0/0", trusted("127.0.0.0/8"))))
            .containsExactly("0.0.0.0/0");
    }

    @Test
    void loopbackCoveredByEqualNetwork() {
        assertThat(AuthorizedAddressesAudit.mismatches("127.0.0.0/8", trusted("127.0.0.0/8"))).isEmpty();
    }

    @Test
    void loopbackNotCoveredBySingleHost() {
        assertThat(entries(AuthorizedAddressesAudit.mismatches("127.0.0.0/8", trusted("127.0.0.1/32"))))
            .containsExactly("127.0.0.0/8");
    }

    @Test
    void singleHostCoveredByItsNetwork() {
        assertThat(AuthorizedAddressesAudit.mismatches("127.0.0.1", trusted("127.0.0.0/8"))).isEmpty();
        assertThat(entries(AuthorizedAddressesAudit.mismatches("127.0.0.1", trusted("10.0.0.0/8"))))
            .containsExactly("127.0.0.1");
    }

    @Test
    void wildcardIsASlash24() {
        assertThat(AuthorizedAddressesAudit.toNetwork("127.0.0.*")).isEqualTo(IpNetwork.parse("127.0.0.0/24"));
        assertThat(AuthorizedAddressesAudit.mismatches("127.0.0.*", trusted("127.0.0.0/24"))).isEmpty();
        assertThat(entries(AuthorizedAddressesAudit.mismatches("127.0.0.*", trusted("127.0.0.0/25"))))
            .containsExactly("127.0.0.*");
    }

    @Test
    void shorterWildcards() {
        assertThat(AuthorizedAddressesAudit.toNetwork("10.*")).isEqualTo(IpNetwork.parse("10.0.0.0/8"));
        assertThat(AuthorizedAddressesAudit.toNetwork("10.1.*.*")).isEqualTo(IpNetwork.parse("10.1.0.0/16"));
        assertThat(AuthorizedAddressesAudit.toNetwork("*")).isEqualTo(IpNetwork.parse("0.0.0.0/0"));
    }

    @Test
    void netmaskForm() {
        assertThat(AuthorizedAddressesAudit.toNetwork("10.0.0.0/255.0.0.0")).isEqualTo(IpNetwork.parse("10.0.0.0/8"));
        assertThat(AuthorizedAddressesAudit.toNetwork("192.168.0.0/255.255.240.0")).isEqualTo(IpNetwork.parse("192.168.0.0/20"));
        assertThat(AuthorizedAddressesAudit.mismatches("10.0.0.0/255.0.0.0", trusted("10.0.0.0/8"))).isEmpty();
        assertThat(entries(AuthorizedAddressesAudit.mismatches("10.0.0.0/255.0.0.0", trusted("10.0.0.0/16"))))
            .containsExactly("10.0.0.0/255.0.0.0");
    }

    @Test
    void hostBitsAreMaskedLikeJamesDoes() {
        assertThat(AuthorizedAddressesAudit.toNetwork("10.1.2.3/8")).isEqualTo(IpNetwork.parse("10.0.0.0/8"));
        assertThat(AuthorizedAddressesAudit.mismatches("10.1.2.3/8", trusted("10.0.0.0/8"))).isEmpty();
    }

    @Test
    void commaAndSpaceSeparatedLists() {
        String james = "127.0.0.0/8, 10.0.0.0/8 ,192.168.0.0/16\n\t172.16.0.0/12,,  ::1";
        List<AuthorizedAddressesAudit.Mismatch> mismatches =
            AuthorizedAddressesAudit.mismatches(james, trusted("127.0.0.0/8", "10.0.0.0/8", "::1"));
        assertThat(entries(mismatches)).containsExactly("192.168.0.0/16", "172.16.0.0/12");
    }

    @Test
    void allCoveredListGivesNoMismatch() {
        assertThat(AuthorizedAddressesAudit.mismatches("127.0.0.1 10.1.0.0/16,192.0.2.5", trusted("127.0.0.0/8", "10.0.0.0/8", "192.0.2.0/24")))
            .isEmpty();
    }

    @Test
    void hostNameIsReportedAsNotComparable() {
        List<AuthorizedAddressesAudit.Mismatch> mismatches =
            AuthorizedAddressesAudit.mismatches("127.0.0.0/8, mail.example.com", trusted("127.0.0.0/8"));
        assertThat(entries(mismatches)).containsExactly("mail.example.com");
        assertThat(mismatches.get(0).explanation()).contains("not an address RelayGuard can compare");
    }

    @Test
    void localhostNameIsNotComparableEvenIfItWouldResolveToATrustedAddress() {
        List<AuthorizedAddressesAudit.Mismatch> mismatches =
            AuthorizedAddressesAudit.mismatches("localhost", trusted("127.0.0.0/8", "::1"));
        assertThat(entries(mismatches)).containsExactly("localhost");
        assertThat(mismatches.get(0).explanation()).contains("not an address RelayGuard can compare");
    }

    @Test
    void ipv6Entries() {
        TrustedNetworks trusted = trusted("2001:db8::/32", "::1");
        assertThat(AuthorizedAddressesAudit.mismatches("2001:db8:1::/48 ::1", trusted)).isEmpty();
        List<AuthorizedAddressesAudit.Mismatch> mismatches = AuthorizedAddressesAudit.mismatches("2001:db8::/16, ::/0, fe80::1", trusted);
        assertThat(entries(mismatches)).containsExactly("2001:db8::/16", "::/0", "fe80::1");
        assertThat(mismatches).allSatisfy(m -> assertThat(m.explanation()).contains("RelayGuard does not trust it"));
    }

    @Test
    void ipv4TrustDoesNotCoverIpv6Entry() {
        assertThat(entries(AuthorizedAddressesAudit.mismatches("::1", trusted("0.0.0.0/0")))).containsExactly("::1");
    }

    @Test
    void nonNumericPrefixIsNotComparable() {
        List<AuthorizedAddressesAudit.Mismatch> mismatches = AuthorizedAddressesAudit.mismatches("10.0.0.0/x", trusted("10.0.0.0/8"));
        assertThat(entries(mismatches)).containsExactly("10.0.0.0/x");
        assertThat(mismatches.get(0).explanation()).contains("not an address RelayGuard can compare");
    }

    /*
     * BUG (reported, not fixed): toNetwork() falls back to IpNetwork.of(address, prefix) for any entry
     * IpNetwork.parse rejects, without checking the prefix range. "10.0.0.0/33" becomes a network with
     * prefix 33, which 10.0.0.0/8 "covers", so the invalid entry is silently accepted instead of reported.
     */
    @Test
    void outOfRangePrefixIsReported() {
        assertThat(entries(AuthorizedAddressesAudit.mismatches("10.0.0.0/33", trusted("10.0.0.0/8"))))
            .containsExactly("10.0.0.0/33");
    }

    @Test
    void emptyOrNullInputGivesEmptyList() {
        assertThat(AuthorizedAddressesAudit.mismatches(null, TrustedNetworks.none())).isEmpty();
        assertThat(AuthorizedAddressesAudit.mismatches("", TrustedNetworks.none())).isEmpty();
        assertThat(AuthorizedAddressesAudit.mismatches("  \n ", TrustedNetworks.none())).isEmpty();
        assertThat(AuthorizedAddressesAudit.mismatches(" , ,", TrustedNetworks.none())).isEmpty();
    }
}
