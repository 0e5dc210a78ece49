package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The policy-file errors InvalidConfigurationIT used to boot James for, checked on the path James's startup takes
 * ({@link PolicyFile#read}: a real relayguard.xml in a folder): each names the file, the key and the value.
 * InvalidConfigurationIT keeps one failing start for the policy file (a bad CIDR); the rest are here or in
 * PolicyFileTest (a bad relay domain: {@code invalidRelayDomainNamesKeyAndValue}).
 */
class PolicyFileErrorsTest {

    @TempDir
    Path dir;

    private Path policy(String content) throws Exception {
        Path file = dir.resolve(PolicyFile.FILE_NAME);
        Files.writeString(file, content, UTF_8);
        return file;
    }

    /** The shipped sample, with {@code from} replaced by {@code to}. */
    private Path sampleWith(String from, String to) throws Exception {
        String sample = Files.readString(Paths.get("conf-samples/single-node/relayguard.xml"), UTF_8);
        if (!sample.contains(from)) {
            throw new IllegalStateException("the sample no longer contains " + from);
        }
        return policy(sample.replace(from, to));
    }

    @Test
    void anUnknownSectionIsNamedWithTheKeyBelowIt() throws Exception {
        Path file = policy("<relayguard><trustedNetwork><network>10.0.0.0/8</network></trustedNetwork></relayguard>");
        assertThatThrownBy(() -> PolicyFile.read(file, PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("trustedNetwork.network")
            .hasMessageContaining("10.0.0.0/8")
            .hasMessageContaining("unknown key");
    }

    @Test
    void anUnclosedElementIsAFileThatCannotBeRead() throws Exception {
        Path file = policy("<relayguard><trustedNetworks>");
        assertThatThrownBy(() -> PolicyFile.read(file, PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: ")
            .hasMessageContaining("cannot be read");
    }

    @Test
    void aRateLimitPeriodThatIsNotADurationIsNamedWithItsAttribute() throws Exception {
        Path file = sampleWith("max=\"20\" per=\"1m\"", "max=\"20\" per=\"soon\"");
        assertThatThrownBy(() -> PolicyFile.read(file, PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining("relayguard.xml")
            .hasMessageContaining("rateLimits.users.limit[@per]")
            .hasMessageContaining("soon");
    }

    /** A setting given twice is an error (the first used to win silently): a copy-pasted duplicate is reported. */
    @Test
    void aSettingGivenTwiceIsRefusedWithBothValues() throws Exception {
        Path file = policy("<relayguard><sessionLimits><maxRefusedRecipients>5</maxRefusedRecipients>"
            + "<maxRefusedRecipients>2</maxRefusedRecipients></sessionLimits></relayguard>");
        assertThatThrownBy(() -> PolicyFile.read(file, PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessage("relayguard.xml: sessionLimits.maxRefusedRecipients = '[5, 2]': given 2 times;"
                + " a setting takes one value (keep one element)");
        Path store = policy("<relayguard><rateLimits><store>memory</store><store>redis</store>"
            + "<users><limit measure=\"messages\" max=\"5\" per=\"1m\"/></users></rateLimits></relayguard>");
        assertThatThrownBy(() -> PolicyFile.read(store, PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: rateLimits.store = '[memory, redis]': given 2 times");
    }

    /** Lists stay lists: several networks, domains, limits and overrides. */
    @Test
    void listsMayRepeat() throws Exception {
        Path file = policy("<relayguard><trustedNetworks><network>10.0.0.0/8</network><network>192.168.0.0/16</network>"
            + "</trustedNetworks><relayDomains><domain>a.example</domain><domain>b.example</domain></relayDomains>"
            + "<rateLimits><users><limit measure=\"messages\" max=\"5\" per=\"1m\"/><limit measure=\"recipients\" max=\"50\" per=\"1h\"/></users>"
            + "<user name=\"a@b.example\"><limit measure=\"messages\" max=\"9\" per=\"1m\"/></user>"
            + "<user name=\"c@b.example\"><limit measure=\"messages\" max=\"8\" per=\"1m\"/></user></rateLimits></relayguard>");
        RelayGuardSettings settings = PolicyFile.read(file, PolicyFile.FILE_NAME).orElseThrow();
        assertThat(settings.relayPolicy().relayDomains()).hasSize(2);
        assertThat(settings.rateLimits().toString()).contains("a@b.example", "c@b.example");
    }

    /** The reload diff shows a changed suspension rule (it used to say "no change" and apply it). */
    @Test
    void theReloadDiffShowsTheSuspensionRule() throws Exception {
        String users = "<users><limit measure=\"messages\" max=\"5\" per=\"1m\"/></users>";
        RelayGuardSettings before = PolicyFile.read(policy("<relayguard><rateLimits>" + users + "</rateLimits></relayguard>"),
            PolicyFile.FILE_NAME).orElseThrow();
        RelayGuardSettings after = PolicyFile.read(policy("<relayguard><rateLimits>" + users
            + "<suspension><hits>3</hits></suspension></rateLimits></relayguard>"), PolicyFile.FILE_NAME).orElseThrow();
        assertThat(PolicyDiff.between(before, after)).singleElement().asString()
            .contains("suspension={off}").contains("suspension={hits=3, within=PT10M, suspendFor=PT1H}");
    }
}
