package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.commons.configuration2.XMLConfiguration;
import org.apache.commons.configuration2.builder.FileBasedConfigurationBuilder;
import org.apache.commons.configuration2.builder.fluent.Parameters;
import org.apache.commons.configuration2.convert.DisabledListDelimiterHandler;
import org.apache.commons.configuration2.io.FileHandler;
import org.junit.jupiter.api.Test;

import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.RelayPolicy;

class PolicyFileTest {
    private static final String FILE = PolicyFile.FILE_NAME;

    /** Builds the configuration exactly as James's FileConfigurationProvider does. */
    private static XMLConfiguration xml(String xml) throws Exception {
        FileBasedConfigurationBuilder<XMLConfiguration> builder = new FileBasedConfigurationBuilder<>(XMLConfiguration.class)
            .configure(new Parameters().xml().setListDelimiterHandler(new DisabledListDelimiterHandler()));
        XMLConfiguration config = builder.getConfiguration();
        new FileHandler(config).load(new ByteArrayInputStream(xml.getBytes(UTF_8)));
        return config;
    }

    private static RelayPolicy parse(String xml) throws Exception {
        return PolicyFile.parse(xml(xml), FILE).relayPolicy();
    }

    @Test
    void sampleFileParsesToClosedPolicy() throws Exception {
        String sample = Files.readString(Path.of("conf-samples/single-node/relayguard.xml"), UTF_8);
        RelayPolicy policy = parse(sample);
        assertThat(policy.trustedNetworks().asList()).isEmpty();
        assertThat(policy.relayDomains()).isEmpty();
        assertThat(policy.clientMayRelay(InetAddress.getByName("127.0.0.1"), null)).isFalse();
    }

    @Test
    void networksAndDomainsAreParsed() throws Exception {
        RelayPolicy policy = parse("<relayguard>"
            + "<trustedNetworks>"
            + "  <network>192.0.2.0/24</network>"
            + "  <network> 2001:db8::/32 </network>"
            + "  <network>198.51.100.7</network>"
            + "</trustedNetworks>"
            + "<relayDomains>"
            + "  <domain>Backup.Example.</domain>"
            + "  <domain>partner.example</domain>"
            + "</relayDomains>"
            + "</relayguard>");
        assertThat(policy.trustedNetworks().asList()).containsExactly(
            IpNetwork.parse("192.0.2.0/24"), IpNetwork.parse("2001:db8::/32"), IpNetwork.parse("198.51.100.7/32"));
        assertThat(policy.relayDomains()).containsExactlyInAnyOrder("backup.example", "partner.example");
        assertThat(policy.clientMayRelay(InetAddress.getByName("192.0.2.99"), null)).isTrue();
        assertThat(policy.clientMayRelay(InetAddress.getByName("203.0.113.9"), null)).isFalse();
    }

    @Test
    void singleNetworkWithCommaIsNotSplit() throws Exception {
        // James disables list splitting: "a,b" is one (invalid) value, never silently two networks.
        assertThatThrownBy(() -> parse("<relayguard><trustedNetworks>"
            + "<network>10.0.0.0/8,192.168.0.0/16</network></trustedNetworks></relayguard>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("10.0.0.0/8,192.168.0.0/16");
    }

    @Test
    void emptyConfigurationIsClosedPolicy() {
        RelayGuardSettings settings = PolicyFile.parse(new XMLConfiguration(), FILE);
        assertThat(settings.relayPolicy().trustedNetworks().asList()).isEmpty();
        assertThat(settings.relayPolicy().relayDomains()).isEmpty();
    }

    @Test
    void emptyRootElementIsClosedPolicy() throws Exception {
        RelayPolicy policy = parse("<relayguard/>");
        assertThat(policy.trustedNetworks().asList()).isEmpty();
        assertThat(policy.relayDomains()).isEmpty();
    }

    @Test
    void badCidrNamesFileKeyAndValue() {
        assertThatThrownBy(() -> parse("<relayguard><trustedNetworks>"
            + "<network>192.0.2.0/24</network><network>10.0.0.0/33</network>"
            + "</trustedNetworks></relayguard>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("trustedNetworks.network")
            .hasMessageContaining("10.0.0.0/33")
            .hasMessageContaining("0..32");
    }

    @Test
    void hostBitsInNetworkAreRejectedWithSuggestion() {
        assertThatThrownBy(() -> parse("<relayguard><trustedNetworks><network>10.0.0.1/8</network></trustedNetworks></relayguard>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("trustedNetworks.network")
            .hasMessageContaining("'10.0.0.1/8'")
            .hasMessageContaining("10.0.0.0/8?");
    }

    @Test
    void hostNameAsNetworkIsRejected() {
        assertThatThrownBy(() -> parse("<relayguard><trustedNetworks><network>localhost</network></trustedNetworks></relayguard>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("localhost");
    }

    @Test
    void emptyNetworkElementIsRejected() {
        assertThatThrownBy(() -> parse("<relayguard><trustedNetworks><network></network><network>10.0.0.0/8</network></trustedNetworks></relayguard>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("trustedNetworks.network");
    }

    @Test
    void unknownKeyIsNamed() {
        assertThatThrownBy(() -> parse("<relayguard><trustedNetwork>10.0.0.0/8</trustedNetwork></relayguard>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("trustedNetwork ")
            .hasMessageContaining("10.0.0.0/8")
            .hasMessageContaining("unknown key");
    }

    @Test
    void unknownNestedKeyIsNamed() {
        assertThatThrownBy(() -> parse("<relayguard><trustedNetworks><net>10.0.0.0/8</net></trustedNetworks></relayguard>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("trustedNetworks.net")
            .hasMessageContaining("unknown key");
    }

    @Test
    void invalidRelayDomainNamesKeyAndValue() {
        assertThatThrownBy(() -> parse("<relayguard><relayDomains><domain>good.example</domain><domain>bad_domain!</domain></relayDomains></relayguard>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("relayDomains.domain")
            .hasMessageContaining("bad_domain!")
            .hasMessageContaining("not a valid domain name");
    }

    @Test
    void fileNameInMessageIsTheOneGiven() throws Exception {
        XMLConfiguration config = xml("<relayguard><trustedNetworks><network>nope</network></trustedNetworks></relayguard>");
        assertThatThrownBy(() -> PolicyFile.parse(config, "other-name.xml"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("other-name.xml: ");
    }
}
