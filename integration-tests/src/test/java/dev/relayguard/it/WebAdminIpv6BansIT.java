package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.List;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * Probe bans lifted over WebAdmin let the client in again (issue 16), over IPv6 and IPv4: a client relaying from
 * {@code ::1} is banned by its /64 ({@code 0:0:0:0::/64} in {@code GET /relayguard/bans}),
 * {@code DELETE /relayguard/bans/{ip}} with another address of that /64 ({@code ::2}, URL-encoded) lifts it, and the
 * client gets its SMTP greeting again; an address of another /64 lifts nothing. The MX listener of the sample is bound
 * to {@code 127.0.0.1} and {@code ::1} ({@link SmtpListenerProbe}: James 3.8.1's {@code <bind>} cannot say {@code ::1}).
 */
class WebAdminIpv6BansIT {
    private static final String BANS = "/relayguard/bans";

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf
        .replace("relayguard.xml", "<refusals>10</refusals>", "<refusals>3</refusals>"));

    private static WebAdminClient webAdmin;
    private static int ipv4Port;
    private static int ipv6Port;

    @BeforeAll
    static void bindMxToBothLoopbacks(GuiceJamesServer server) throws Exception {
        webAdmin = WebAdminClient.of(server);
        List<InetSocketAddress> bound = server.getProbe(SmtpListenerProbe.class).rebind(RelayGuardServers.mxPort(server),
            new InetSocketAddress("127.0.0.1", 0), new InetSocketAddress("::1", 0));
        assertThat(bound).hasSize(2); // in no set order: James lists its bound channels as they come
        InetSocketAddress v4 = bound.stream().filter(a -> a.getAddress() instanceof Inet4Address).findFirst().orElseThrow();
        InetSocketAddress v6 = bound.stream().filter(a -> a.getAddress() instanceof Inet6Address).findFirst().orElseThrow();
        assertThat(v4.getAddress().getHostAddress()).isEqualTo("127.0.0.1");
        assertThat(v6.getAddress().getHostAddress()).isEqualTo("0:0:0:0:0:0:0:1");
        ipv4Port = v4.getPort();
        ipv6Port = v6.getPort();
    }

    @Test
    void anIpv6ClientIsBannedByItsSlash64AndAnotherAddressOfItLiftsTheBan() throws Exception {
        String ipv6 = "::1";
        banned(ipv6, ipv6Port);
        assertThat(webAdmin.ok("GET", BANS)).singleElement().satisfies(ban -> {
            assertThat(ban.get("ip").asText()).isEqualTo("0:0:0:0::/64");
            assertThat(ban.get("kind").asText()).isEqualTo("probe");
        });

        webAdmin.error(404, "notFound", "DELETE", BANS + "/" + encoded("0:0:0:1::1"), null);
        assertThat(greeting(ipv6, ipv6Port).code()).as("another /64 lifted nothing").isEqualTo(421);

        webAdmin.expect(204, "DELETE", BANS + "/" + encoded("::2"), null);
        assertThat(webAdmin.ok("GET", BANS)).isEmpty();
        assertThat(greeting(ipv6, ipv6Port).code()).as("lifted: greeted again").isEqualTo(220);
        webAdmin.error(404, "notFound", "DELETE", BANS + "/" + encoded("::1"), null);
    }

    @Test
    void anIpv4ClientLiftedOverWebAdminIsGreetedAgain() throws Exception {
        String ipv4 = "127.0.0.1";
        banned(ipv4, ipv4Port);
        assertThat(webAdmin.ok("GET", BANS)).anySatisfy(ban -> assertThat(ban.get("ip").asText()).isEqualTo(ipv4));
        webAdmin.expect(204, "DELETE", BANS + "/" + ipv4, null);
        assertThat(greeting(ipv4, ipv4Port).code()).as("lifted: greeted again").isEqualTo(220);
    }

    /** Three relay attempts refused from {@code host}, after which its next connection is turned away at once. */
    private static void banned(String host, int port) throws Exception {
        for (int i = 1; i <= 3; i++) {
            try (SmtpClient smtp = SmtpClient.connectTo(host, port)) {
                assertThat(smtp.greeting().code()).isEqualTo(220);
                smtp.ehlo("prober.example");
                assertThat(smtp.mailFrom("p@prober.example").code()).isEqualTo(250);
                Reply rcpt = smtp.rcptTo("v" + i + "@remote.example");
                assertThat(rcpt.code() + " " + rcpt.enhancedStatus()).as("%s", rcpt).isEqualTo("550 5.7.1");
            }
        }
        Reply turnedAway = greeting(host, port);
        assertThat(turnedAway.code() + " " + turnedAway.enhancedStatus()).as("%s", turnedAway).isEqualTo("421 4.7.0");
    }

    private static Reply greeting(String host, int port) throws Exception {
        try (SmtpClient smtp = SmtpClient.connectTo(host, port)) {
            return smtp.greeting();
        }
    }

    private static String encoded(String address) {
        return address.replace(":", "%3A");
    }
}
