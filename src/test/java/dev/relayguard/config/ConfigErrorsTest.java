package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.ByteArrayInputStream;

import org.apache.commons.configuration2.ex.ConfigurationException;
import org.apache.james.server.core.configuration.FileConfigurationProvider;
import org.junit.jupiter.api.Test;

/**
 * Malformed XML is reported with the file, line and column, never as commons-configuration's {@code Error parsing
 * null} (issue 15): in relayguard.xml as RelayGuard parses it, and in any file James's own provider parses.
 */
class ConfigErrorsTest {
    private static final String UNCLOSED = "<relayguard>\n  <trustedNetworks>\n</relayguard>";

    @Test
    void jamesOwnParserSaysErrorParsingNull() {
        Throwable james = catchThrowable(() -> FileConfigurationProvider.getConfig(new ByteArrayInputStream(UNCLOSED.getBytes(UTF_8))));

        assertThat(james).isInstanceOf(ConfigurationException.class).hasMessage("Error parsing null");
        assertThat(ConfigErrors.describe(james)).startsWith("line 3, column 3: ").doesNotContain("Error parsing null");
        assertThat(ConfigErrors.cause(james)).as("nothing to head a root-cause-first trace without the file name").isNull();
    }

    @Test
    void malformedPolicyFileNamesTheFileLineAndColumn() {
        Throwable thrown = catchThrowable(() -> PolicyFile.parseXml(UNCLOSED.getBytes(UTF_8), PolicyFile.FILE_NAME));

        assertThat(thrown).isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith("relayguard.xml: cannot be read as XML: line 3, column 3: ")
            .hasMessageContaining("trustedNetworks");
        for (Throwable t = thrown; t != null; t = t.getCause()) {
            assertThat(String.valueOf(t.getMessage())).doesNotContain("Error parsing null");
        }
    }

    @Test
    void aDoctypeIsStillBlamedWithItsPosition() {
        assertThatThrownBy(() -> PolicyFile.parseXml("<!DOCTYPE x [<!ENTITY e \"v\">]><relayguard/>".getBytes(UTF_8), PolicyFile.FILE_NAME))
            .hasMessageContaining("(a DOCTYPE, DTD or entity is refused)")
            .hasMessageContaining("line 1, column");
    }

    @Test
    void withoutAPositionTheOuterAndRootMessagesAreKept() {
        Exception e = new ConfigurationException("Unable to load", new IllegalStateException("disk gone"));

        assertThat(ConfigErrors.describe(e)).isEqualTo("Unable to load (disk gone)");
        assertThat(ConfigErrors.cause(e)).isSameAs(e);
        assertThat(ConfigErrors.describe(new IllegalStateException())).isEqualTo("IllegalStateException");
    }

    /** Issue 16 (L5): a truncated file is not blamed on a DOCTYPE it does not have. */
    @Test
    void aTruncatedFileIsNotCalledADoctype() {
        assertThatThrownBy(() -> PolicyFile.parseXml("<?xml version=\"1.0\"?>\n<relayguard><trustedNetworks>".getBytes(UTF_8), PolicyFile.FILE_NAME))
            .hasMessageStartingWith("relayguard.xml: cannot be read as XML: line 2, column ")
            .hasMessageNotContaining("DOCTYPE");
    }
}
