package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.DataProbeImpl;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * RelayGuard behind a PROXY-protocol load balancer, on one real James 3.8.1: two more MX listeners with
 * {@code <proxyRequired>true</proxyRequired>} beside the sample's. The test client plays the balancer from 127.0.0.1
 * and writes real PROXY headers, v1 text and v2 binary, naming clients in documentation networks. 127.0.0.0/8 is in
 * trustedNetworks, as the balancer of a careless operator would be: only the header's address may count.
 *
 * <ul>
 *   <li>{@code smtp-proxy}: no {@code <proxyNetworks>}: warned about at the first connection.</li>
 *   <li>{@code smtp-proxy-strict}: {@code <proxyNetworks>} without 127.0.0.1 (and overlapping trustedNetworks, warned
 *       about at startup): every connection here is refused at connect.</li>
 * </ul>
 */
class ProxyProtocolIT {
    private static final String BEAN = "org.apache.james:type=extension,name=RelayGuard";
    private static final String PROBE_BANNED = "relayguard.deferred.probe.banned";
    private static final String NOT_A_BALANCER = "relayguard.deferred.proxy.not-a-balancer";
    /** Registered before James boots: the startup warning is written while it does. */
    private static final LogCapture HANDLER_LOG = LogCapture.of("dev.relayguard.smtp.RelayGuardHandler");

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> conf
        .replace("smtpserver.xml", "</smtpservers>",
            proxiedListener("smtp-proxy", "") + proxiedListener("smtp-proxy-strict",
                "<proxyNetworks>192.0.2.0/24, 198.51.100.128/25</proxyNetworks>") + "</smtpservers>")
        .policyXml("<trustedNetworks><network>127.0.0.0/8</network><network>198.51.100.0/24</network></trustedNetworks>"
            + "<probeBans><refusals>10</refusals><window>10m</window><banFor>1h</banFor></probeBans>"));

    private static String proxiedListener(String jmxName, String handlerKeys) {
        return "<smtpserver enabled=\"true\"><jmxName>" + jmxName + "</jmxName><bind>127.0.0.1:0</bind>"
            + "<proxyRequired>true</proxyRequired>"
            + "<tls socketTLS=\"false\" startTLS=\"false\"/><connectiontimeout>360</connectiontimeout>"
            + "<auth><announce>never</announce><requireSSL>false</requireSSL><plainAuthEnabled>true</plainAuthEnabled></auth>"
            + "<verifyIdentity>false</verifyIdentity><addressBracketsEnforcement>true</addressBracketsEnforcement>"
            + "<smtpGreeting>RelayGuard behind a balancer</smtpGreeting>"
            + "<handlerchain><handler class=\"dev.relayguard.smtp.RelayGuardHandler\"><role>mx</role>" + handlerKeys + "</handler>"
            + "<handler class=\"org.apache.james.smtpserver.CoreCmdHandlerLoader\"/></handlerchain></smtpserver>\n";
    }

    @BeforeAll
    static void users(GuiceJamesServer server) throws Exception {
        server.getProbe(DataProbeImpl.class).fluent().addUser(RelayGuardServers.DEMO_USER, RelayGuardServers.DEMO_PASSWORD);
    }

    private static int port(String jmxName) throws Exception {
        String[] bound = (String[]) ManagementFactory.getPlatformMBeanServer()
            .getAttribute(new ObjectName("org.apache.james:type=server,name=" + jmxName), "BoundAddresses");
        return Integer.parseInt(bound[0].substring(bound[0].lastIndexOf(':') + 1));
    }

    /** The text header a balancer writes first: {@code PROXY TCP4 <client> 127.0.0.1 40000 25}. */
    static byte[] v1(String client) {
        return ("PROXY TCP4 " + client + " 127.0.0.1 40000 25\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The binary header (PROXY protocol v2): the 12-byte signature, version 2 / command PROXY ({@code 0x21}),
     * TCP over IPv4 ({@code 0x11}) or IPv6 ({@code 0x21}), the length of what follows, source and destination
     * addresses, source and destination ports.
     */
    static byte[] v2(String client) throws Exception {
        byte[] source = InetAddress.getByName(client).getAddress();
        byte[] destination = source.length == 4 ? InetAddress.getByName("127.0.0.1").getAddress()
            : InetAddress.getByName("::1").getAddress();
        ByteArrayOutputStream header = new ByteArrayOutputStream();
        header.write(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});
        header.write(0x21);
        header.write(source.length == 4 ? 0x11 : 0x21);
        int length = 2 * source.length + 4;
        header.write(length >> 8);
        header.write(length & 0xFF);
        header.write(source);
        header.write(destination);
        header.write(40000 >> 8);
        header.write(40000 & 0xFF);
        header.write(0);
        header.write(25);
        return header.toByteArray();
    }

    /** A connection through the "balancer" (127.0.0.1) to smtp-proxy, header sent after James's greeting. */
    private static SmtpClient through(byte[] header) throws Exception {
        SmtpClient smtp = SmtpClient.connect(port("smtp-proxy"));
        assertThat(smtp.greeting().code()).isEqualTo(220);
        smtp.send(header);
        return smtp;
    }

    /** EHLO, MAIL, RCPT to a remote domain: the RCPT reply. */
    private static Reply relayAttempt(byte[] header, int n) throws Exception {
        try (SmtpClient smtp = through(header)) {
            assertThat(smtp.ehlo("client.example").code()).isEqualTo(250);
            assertThat(smtp.mailFrom("someone@client.example").code()).isEqualTo(250);
            return smtp.rcptTo("v" + n + "@remote.example");
        }
    }

    private static String[] bans() throws Exception {
        MBeanServer jmx = ManagementFactory.getPlatformMBeanServer();
        return (String[]) jmx.invoke(new ObjectName(BEAN), "bans", new Object[0], new String[0]);
    }

    private static void earnBan(byte[] header) throws Exception {
        for (int i = 1; i <= 10; i++) {
            Reply refused = relayAttempt(header, i);
            assertThat(refused.code()).as("relay attempt " + i).isEqualTo(550);
            assertThat(refused.enhancedStatus()).isEqualTo("5.7.1");
        }
    }

    /** The banned client is refused at its first command, and the connection is closed. */
    private static void refusedAtFirstCommand(byte[] header, String client) throws Exception {
        long before = Metrics.inProcess().meterCount(PROBE_BANNED);
        try (SmtpClient smtp = through(header)) {
            Reply refused = smtp.ehlo("client.example");
            assertThat(refused.code()).isEqualTo(421);
            assertThat(refused.enhancedStatus()).isEqualTo("4.7.0");
            assertThat(refused.text()).contains("Too many relay attempts from " + client);
            assertThat(smtp.closedByServer()).isTrue();
        }
        assertThat(Metrics.inProcess().meterCount(PROBE_BANNED) - before).isEqualTo(1);
    }

    @Test
    void v1HeaderBansTheClientNotTheBalancerAndOtherClientsStillGetThrough(GuiceJamesServer server) throws Exception {
        earnBan(v1("203.0.113.5"));
        assertThat(bans()).anySatisfy(ban -> assertThat(ban).startsWith("203.0.113.5 since "))
            .noneSatisfy(ban -> assertThat(ban).startsWith("127.0.0.1"));

        refusedAtFirstCommand(v1("203.0.113.5"), "203.0.113.5");

        try (SmtpClient other = through(v1("203.0.113.6"))) {
            assertThat(other.ehlo("client.example").code()).isEqualTo(250);
            assertThat(other.mailFrom("someone@client.example").code()).isEqualTo(250);
            assertThat(other.rcptTo(RelayGuardServers.DEMO_USER).code()).isEqualTo(250);
        }
        // The balancer's own address (here also a direct client of the sample's MX listener) is not banned.
        try (SmtpClient direct = SmtpClient.connect(RelayGuardServers.mxPort(server))) {
            assertThat(direct.greeting().code()).isEqualTo(220);
        }
    }

    @Test
    void v1HeaderFromATrustedNetworkMayRelayFromElsewhereNotThoughTheBalancerIsTrusted() throws Exception {
        Reply trusted = relayAttempt(v1("198.51.100.7"), 1);
        assertThat(trusted.code()).as(trusted.toString()).isEqualTo(250);

        Reply stranger = relayAttempt(v1("203.0.113.7"), 2);
        assertThat(stranger.code()).isEqualTo(550);
        assertThat(stranger.text()).contains("Relaying denied");
    }

    @Test
    void v2HeaderWorksTheSame() throws Exception {
        assertThat(relayAttempt(v2("198.51.100.9"), 1).code()).isEqualTo(250);
        assertThat(relayAttempt(v2("203.0.113.9"), 2).code()).isEqualTo(550);
        assertThat(relayAttempt(v2("2001:db8::9"), 3).code()).as("TCP over IPv6").isEqualTo(550);

        earnBan(v2("203.0.113.10"));
        assertThat(bans()).anySatisfy(ban -> assertThat(ban).startsWith("203.0.113.10 since "))
            .noneSatisfy(ban -> assertThat(ban).startsWith("127.0.0.1"));
        refusedAtFirstCommand(v2("203.0.113.10"), "203.0.113.10");
        refusedAtFirstCommand(v1("203.0.113.10"), "203.0.113.10");
        try (SmtpClient other = through(v2("203.0.113.11"))) {
            assertThat(other.ehlo("client.example").code()).isEqualTo(250);
        }
    }

    @Test
    void proxyNetworksWithoutTheBalancerRefuseItAtConnect() throws Exception {
        long before = Metrics.inProcess().meterCount(NOT_A_BALANCER);
        try (SmtpClient smtp = SmtpClient.connect(port("smtp-proxy-strict"))) {
            assertThat(smtp.greeting().code()).isEqualTo(421);
            assertThat(smtp.greeting().enhancedStatus()).isEqualTo("4.7.0");
            assertThat(smtp.closedByServer()).isTrue();
        }
        assertThat(Metrics.inProcess().meterCount(NOT_A_BALANCER) - before).isEqualTo(1);
    }

    @Test
    void operatorsAreWarnedOfUnprotectedAndOverlappingProxyListeners() throws Exception {
        // startup: the strict listener's proxyNetworks overlap trustedNetworks
        assertThat(HANDLER_LOG.linesAt("WARN")).filteredOn(line -> line.contains("overlaps"))
            .singleElement().satisfies(line -> assertThat(line)
                .contains("smtpserver.xml", "<proxyNetworks>", "198.51.100.128/25 and 198.51.100.0/24"));

        relayAttempt(v1("203.0.113.20"), 1);
        relayAttempt(v1("203.0.113.21"), 2);
        int port = port("smtp-proxy");
        assertThat(HANDLER_LOG.linesAt("WARN")).filteredOn(line -> line.contains("can claim any address"))
            .singleElement().satisfies(line -> assertThat(line).contains("port " + port, "set <proxyNetworks>"));
        assertThat(HANDLER_LOG.linesAt("WARN")).filteredOn(line -> line.contains("is in trustedNetworks"))
            .singleElement().satisfies(line -> assertThat(line).contains("127.0.0.1", "port " + port));
    }
}
