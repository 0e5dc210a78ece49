package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
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
}
