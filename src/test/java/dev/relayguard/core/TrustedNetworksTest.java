package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class TrustedNetworksTest {

    private static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }

    private static TrustedNetworks of(String... networks) {
        List<IpNetwork> parsed = new ArrayList<>();
        for (String network : networks) {
            parsed.add(IpNetwork.parse(network));
        }
        return TrustedNetworks.of(parsed);
    }

    @Test
    void noneContainsNothing() throws Exception {
        TrustedNetworks none = TrustedNetworks.none();
        assertThat(none.asList()).isEmpty();
        assertThat(none.contains(ip("127.0.0.1"))).isFalse();
        assertThat(none.contains(ip("::1"))).isFalse();
        assertThat(none.contains(ip("203.0.113.9"))).isFalse();
        assertThat(none.covers(IpNetwork.parse("127.0.0.1"))).isFalse();
        assertThat(none.covers(IpNetwork.parse("0.0.0.0/0"))).isFalse();
    }

    @Test
    void emptyListContainsNothing() throws Exception {
        assertThat(TrustedNetworks.of(List.of()).contains(ip("10.0.0.1"))).isFalse();
    }

    @Test
    void nullClientIsNeverTrusted() {
        assertThat(of("0.0.0.0/0", "::/0").contains(null)).isFalse();
    }

    @Test
    void anyOfSeveralNetworksMatches() throws Exception {
        TrustedNetworks trusted = of("192.0.2.0/24", "10.0.0.0/8", "2001:db8::/32");
        assertThat(trusted.contains(ip("192.0.2.77"))).isTrue();
        assertThat(trusted.contains(ip("10.9.8.7"))).isTrue();
        assertThat(trusted.contains(ip("2001:db8:5::1"))).isTrue();
        assertThat(trusted.contains(ip("192.0.3.1"))).isFalse();
        assertThat(trusted.contains(ip("172.16.0.1"))).isFalse();
        assertThat(trusted.contains(ip("2001:db9::1"))).isFalse();
    }

    @Test
    void mappedClientMatchedByIpv4Network() throws Exception {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xff;
        bytes[11] = (byte) 0xff;
        bytes[12] = (byte) 192;
        bytes[13] = 0;
        bytes[14] = 2;
        bytes[15] = 77;
        InetAddress mapped = Inet6Address.getByAddress(null, bytes, -1);
        assertThat(of("192.0.2.0/24").contains(mapped)).isTrue();
        assertThat(of("198.51.100.0/24").contains(mapped)).isFalse();
    }

    @Test
    void coversWhenOneNetworkHoldsTheWholeCandidate() {
        TrustedNetworks trusted = of("10.0.0.0/8", "192.0.2.0/24");
        assertThat(trusted.covers(IpNetwork.parse("10.1.0.0/16"))).isTrue();
        assertThat(trusted.covers(IpNetwork.parse("192.0.2.128/25"))).isTrue();
        assertThat(trusted.covers(IpNetwork.parse("192.0.2.1"))).isTrue();
        assertThat(trusted.covers(IpNetwork.parse("192.0.0.0/16"))).isFalse();
        assertThat(trusted.covers(IpNetwork.parse("0.0.0.0/0"))).isFalse();
        assertThat(trusted.covers(IpNetwork.parse("172.16.0.0/12"))).isFalse();
    }

    @Test
    void asListKeepsOrderAndIsImmutable() {
        List<IpNetwork> source = new ArrayList<>(List.of(IpNetwork.parse("10.0.0.0/8"), IpNetwork.parse("2001:db8::/32")));
        TrustedNetworks trusted = TrustedNetworks.of(source);
        source.clear(); // defensive copy: later changes to the caller's list do not leak in
        assertThat(trusted.asList()).containsExactly(IpNetwork.parse("10.0.0.0/8"), IpNetwork.parse("2001:db8::/32"));
        assertThatThrownBy(() -> trusted.asList().add(IpNetwork.parse("0.0.0.0/0")))
            .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void toStringListsNetworks() {
        assertThat(of("10.0.0.0/8", "192.0.2.0/24")).hasToString("[10.0.0.0/8, 192.0.2.0/24]");
        assertThat(TrustedNetworks.none()).hasToString("[]");
    }
}
