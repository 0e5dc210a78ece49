package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.apache.commons.configuration2.XMLConfiguration;
import org.apache.commons.configuration2.builder.FileBasedConfigurationBuilder;
import org.apache.commons.configuration2.builder.fluent.Parameters;
import org.apache.commons.configuration2.convert.DisabledListDelimiterHandler;
import org.apache.commons.configuration2.io.FileHandler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.relayguard.core.AuthLimits;
import dev.relayguard.core.Mode;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.Rule;
import dev.relayguard.core.SenderOwnershipMode;
import dev.relayguard.core.SessionLimits;

class PolicyFileHardeningTest {
    private static final String FILE = PolicyFile.FILE_NAME;

    /** Builds the configuration exactly as James's FileConfigurationProvider does. */
    private static XMLConfiguration xml(String xml) throws Exception {
        FileBasedConfigurationBuilder<XMLConfiguration> builder = new FileBasedConfigurationBuilder<>(XMLConfiguration.class)
            .configure(new Parameters().xml().setListDelimiterHandler(new DisabledListDelimiterHandler()));
        XMLConfiguration config = builder.getConfiguration();
        new FileHandler(config).load(new ByteArrayInputStream(xml.getBytes(UTF_8)));
        return config;
    }

    private static RelayGuardSettings parse(String xml) throws Exception {
        return PolicyFile.parse(xml(xml), FILE);
    }

    private static RelayGuardSettings parseBody(String body) throws Exception {
        return parse("<relayguard>" + body + "</relayguard>");
    }

    @Test
    void shippedSampleParsesWithSafeDefaults() throws Exception {
        String sample = Files.readString(Path.of("conf-samples/single-node/relayguard.xml"), UTF_8);
        RelayGuardSettings settings = parse(sample);
        RelayPolicy policy = settings.relayPolicy();
        for (Rule rule : Rule.values()) {
            assertThat(policy.modes().modeOf(rule)).as(rule.configKey()).isEqualTo(rule.defaultMode());
        }
        assertThat(policy.modes().modeOf(Rule.RELAY)).isEqualTo(Mode.REJECT);
        assertThat(policy.modes().modeOf(Rule.SUSPENDED_SENDER)).isEqualTo(Mode.DEFER);
        dev.relayguard.config.RateLimitSettings rates = settings.rateLimits();
        assertThat(rates.store()).isEqualTo(dev.relayguard.limit.StoreKind.MEMORY);
        assertThat(rates.policy().limitsForUser("anyone@relayguard.test").all()).extracting(Object::toString)
            .containsExactlyInAnyOrder("20 messages per 1m", "500 messages per 1d", "200 recipients per 1h");
        assertThat(policy.senderOwnership()).isEqualTo(SenderOwnershipMode.STRICT);
        assertThat(policy.trustedNetworks().asList()).isEmpty();
        assertThat(policy.relayDomains()).isEmpty();
        SessionLimits limits = settings.sessionLimits();
        assertThat(limits.maxRefusedRecipients()).isEqualTo(5);
        assertThat(limits.disconnects(6)).isTrue();
        ProbeBans.Settings bans = settings.probeBans();
        assertThat(bans.refusals()).isEqualTo(10);
        assertThat(bans.window()).isEqualTo(Duration.ofMinutes(10));
        assertThat(bans.banFor()).isEqualTo(Duration.ofHours(1));
        assertThat(bans.maxTrackedIps()).isEqualTo(100_000);
        assertThat(settings.authLimits()).as("every <authLimits> key of the sample is its default")
            .hasToString(AuthLimits.DEFAULT.toString());
    }

    @Test
    void emptyFileGivesTheSameDefaultsAsTheSample() throws Exception {
        RelayGuardSettings settings = parse("<relayguard/>");
        for (Rule rule : Rule.values()) {
            assertThat(settings.relayPolicy().modes().modeOf(rule)).isEqualTo(rule.defaultMode());
        }
        assertThat(settings.relayPolicy().senderOwnership()).isEqualTo(SenderOwnershipMode.STRICT);
        assertThat(settings.sessionLimits().maxRefusedRecipients()).isEqualTo(5);
        assertThat(settings.probeBans().refusals()).isEqualTo(10);
        assertThat(settings.probeBans().window()).isEqualTo(Duration.ofMinutes(10));
        assertThat(settings.probeBans().banFor()).isEqualTo(Duration.ofHours(1));
        assertThat(settings.probeBans().maxTrackedIps()).isEqualTo(100_000);
    }

    @Test
    void ruleModeIsParsed() throws Exception {
        RelayPolicy policy = parseBody("<rules><percentHack>monitor</percentHack><bangPath> DEFER </bangPath></rules>")
            .relayPolicy();
        assertThat(policy.modes().modeOf(Rule.PERCENT_HACK)).isEqualTo(Mode.MONITOR);
        assertThat(policy.modes().modeOf(Rule.BANG_PATH)).isEqualTo(Mode.DEFER);
        assertThat(policy.modes().modeOf(Rule.RELAY)).isEqualTo(Mode.REJECT);
        assertThat(policy.modes().modeOf(Rule.SOURCE_ROUTE)).isEqualTo(Mode.REJECT);
    }

    @ParameterizedTest
    @EnumSource(Rule.class)
    void everyRuleKeyIsKnown(Rule rule) throws Exception {
        RelayPolicy policy = parseBody("<rules><" + rule.configKey() + ">monitor</" + rule.configKey() + "></rules>")
            .relayPolicy();
        assertThat(policy.modes().modeOf(rule)).isEqualTo(Mode.MONITOR);
    }

    @Test
    void relayOffIsRejected() {
        assertThatThrownBy(() -> parseBody("<rules><relay>off</relay></rules>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("rules.relay")
            .hasMessageContaining("'off'");
    }

    @Test
    void otherRuleOffIsAccepted() throws Exception {
        RelayPolicy policy = parseBody("<rules><ipLiteral>off</ipLiteral></rules>").relayPolicy();
        assertThat(policy.modes().isOff(Rule.IP_LITERAL)).isTrue();
    }

    @Test
    void unknownModeIsRejected() {
        assertThatThrownBy(() -> parseBody("<rules><bangPath>sometimes</bangPath></rules>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("rules.bangPath")
            .hasMessageContaining("'sometimes'")
            .hasMessageContaining("reject, defer, monitor, off");
    }

    @Test
    void unknownRuleIsRejected() {
        assertThatThrownBy(() -> parseBody("<rules><percentHacks>reject</percentHacks></rules>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("rules.percentHacks")
            .hasMessageContaining("unknown key");
    }

    @Test
    void senderOwnershipKnownOnly() throws Exception {
        assertThat(parseBody("<senderOwnership>known-only</senderOwnership>").relayPolicy().senderOwnership())
            .isEqualTo(SenderOwnershipMode.KNOWN_ONLY);
        assertThat(parseBody("<senderOwnership>off</senderOwnership>").relayPolicy().senderOwnership())
            .isEqualTo(SenderOwnershipMode.OFF);
    }

    @Test
    void senderOwnershipLaxIsRejected() {
        assertThatThrownBy(() -> parseBody("<senderOwnership>lax</senderOwnership>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("senderOwnership")
            .hasMessageContaining("'lax'")
            .hasMessageContaining("strict, known-only or off");
    }

    @Test
    void tarpitDelayAboveThirtySecondsIsRejected() {
        assertThatThrownBy(() -> parseBody("<sessionLimits><tarpitDelay>45s</tarpitDelay></sessionLimits>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("sessionLimits.tarpitDelay")
            .hasMessageContaining("'45s'")
            .hasMessageContaining("30s");
    }

    @Test
    void theRemovedTarpitIsAcceptedOffAndRefusedOn() throws Exception {
        SessionLimits limits = parseBody("<sessionLimits><maxRefusedRecipients>3</maxRefusedRecipients>"
            + "<tarpitAfter>0</tarpitAfter><tarpitDelay>30s</tarpitDelay></sessionLimits>").sessionLimits();
        assertThat(limits.maxRefusedRecipients()).isEqualTo(3);
        assertThatThrownBy(() -> parseBody("<sessionLimits><tarpitAfter>2</tarpitAfter><tarpitDelay>2s</tarpitDelay></sessionLimits>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("sessionLimits.tarpitAfter")
            .hasMessageContaining("'2'")
            .hasMessageContaining("the tarpit was removed");
    }

    @Test
    void durationWithoutUnitIsSeconds() throws Exception {
        assertThat(parseBody("<probeBans><banFor>2</banFor></probeBans>").probeBans().banFor())
            .isEqualTo(Duration.ofSeconds(2));
    }

    @Test
    void maxRefusedRecipientsNotANumberIsRejected() {
        assertThatThrownBy(() -> parseBody("<sessionLimits><maxRefusedRecipients>five</maxRefusedRecipients></sessionLimits>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("sessionLimits.maxRefusedRecipients")
            .hasMessageContaining("'five'")
            .hasMessageContaining("not a whole number");
    }

    @Test
    void probeBansWindowZeroIsRejected() {
        assertThatThrownBy(() -> parseBody("<probeBans><window>0s</window></probeBans>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("probeBans.window")
            .hasMessageContaining("'0s'");
    }

    @Test
    void probeBansMaxTrackedZeroIsRejected() {
        assertThatThrownBy(() -> parseBody("<probeBans><maxTrackedIps>0</maxTrackedIps></probeBans>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("probeBans.maxTrackedIps")
            .hasMessageContaining("'0'")
            .hasMessageContaining("at least 1");
    }

    @Test
    void probeBansNegativeRefusalsIsRejected() {
        assertThatThrownBy(() -> parseBody("<probeBans><refusals>-1</refusals></probeBans>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("probeBans.refusals")
            .hasMessageContaining("'-1'")
            .hasMessageContaining("must not be negative");
    }

    @Test
    void probeBansZeroRefusalsSwitchesBansOff() throws Exception {
        ProbeBans.Settings bans = parseBody("<probeBans><refusals>0</refusals></probeBans>").probeBans();
        assertThat(bans.refusals()).isZero();
        assertThat(bans.enabled()).isFalse();
    }

    @Test
    void probeBansBadDurationIsRejected() {
        assertThatThrownBy(() -> parseBody("<probeBans><banFor>abc</banFor></probeBans>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("probeBans.banFor")
            .hasMessageContaining("'abc'")
            .hasMessageContaining("not a duration");
    }

    @Test
    void probeBansAreParsed() throws Exception {
        ProbeBans.Settings bans = parseBody("<probeBans><refusals>3</refusals><window>5m</window>"
            + "<banFor>2h</banFor><maxTrackedIps>50</maxTrackedIps></probeBans>").probeBans();
        assertThat(bans.refusals()).isEqualTo(3);
        assertThat(bans.window()).isEqualTo(Duration.ofMinutes(5));
        assertThat(bans.banFor()).isEqualTo(Duration.ofHours(2));
        assertThat(bans.maxTrackedIps()).isEqualTo(50);
    }

    @Test
    void localIpLiteralsAreAccepted() throws Exception {
        RelayPolicy policy = parseBody("<localIpLiterals><literal>[192.0.2.25]</literal>"
            + "<literal>IPv6:2001:db8::25</literal></localIpLiterals>").relayPolicy();
        assertThat(policy.isLocalIpLiteral("[192.0.2.25]")).isTrue();
        assertThat(policy.isLocalIpLiteral("[IPv6:2001:db8::25]")).isTrue();
        assertThat(policy.isLocalIpLiteral("[192.0.2.26]")).isFalse();
        assertThat(policy.isLocalIpLiteral("[IPv6:2001:db8::26]")).isFalse();
    }

    @Test
    void badLocalIpLiteralIsRejected() {
        assertThatThrownBy(() -> parseBody("<localIpLiterals><literal>999.1.1.1</literal></localIpLiterals>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("localIpLiterals.literal")
            .hasMessageContaining("999.1.1.1");
    }

    @Test
    void localIpLiteralNetworkIsRejected() {
        assertThatThrownBy(() -> parseBody("<localIpLiterals><literal>host.example</literal></localIpLiterals>"))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("localIpLiterals.literal")
            .hasMessageContaining("host.example");
    }
}
