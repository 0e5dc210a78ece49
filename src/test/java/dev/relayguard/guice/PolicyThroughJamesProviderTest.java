package dev.relayguard.guice;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;

import org.apache.james.server.core.configuration.ConfigurationProvider;
import org.apache.james.server.core.configuration.FileConfigurationProvider;
import org.junit.jupiter.api.Test;

import dev.relayguard.config.InvalidConfigurationException;

/**
 * relayguard.xml read through James's configuration provider (when it is not a plain file): malformed XML stops James
 * naming the file, line and column, not {@code Error parsing null} (issue 15).
 */
class PolicyThroughJamesProviderTest {

    @Test
    void malformedRelayguardXmlNamesTheFileAndLine() {
        ConfigurationProvider james = (component, level) ->
            FileConfigurationProvider.getConfig(new ByteArrayInputStream("<relayguard>\n<rules>".getBytes(UTF_8)));

        assertThatThrownBy(() -> RelayGuardModule.readSettings(james))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: cannot be read: line 2, column")
            .hasMessageNotContaining("Error parsing null")
            .as("no chained parser exception to head a root-cause-first trace without the file name").hasNoCause();
    }
}
