package dev.relayguard.guice;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.util.List;
import java.util.stream.Collectors;

import org.apache.commons.configuration2.XMLConfiguration;
import org.apache.commons.configuration2.io.FileHandler;
import org.apache.james.server.core.configuration.ConfigurationProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.core.TrustedNetworks;

/**
 * The startup WARN about James's {@code <authorizedAddresses>} trusting more than RelayGuard: one line per enabled
 * listener, none for a listener James does not start ({@code enabled="false"}, issue 15).
 */
class JamesTrustMismatchWarningTest {
    private final Logger logger = (Logger) LoggerFactory.getLogger(RelayGuardModule.class);
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    @BeforeEach
    void capture() {
        appender.start();
        logger.addAppender(appender);
    }

    @AfterEach
    void release() {
        logger.detachAppender(appender);
    }

    private static ConfigurationProvider smtpserverXml(String xml) {
        return (component, level) -> {
            XMLConfiguration config = new XMLConfiguration();
            new FileHandler(config).load(new ByteArrayInputStream(xml.getBytes(UTF_8)));
            return config;
        };
    }

    @Test
    void onlyEnabledListenersAreWarnedAbout() {
        ConfigurationProvider provider = smtpserverXml("<smtpservers>"
            + "<smtpserver enabled=\"false\"><jmxName>smtp-off</jmxName><bind>0.0.0.0:26</bind>"
            + "<authorizedAddresses>10.0.0.0/8</authorizedAddresses></smtpserver>"
            + "<smtpserver enabled=\"true\"><jmxName>smtp-on</jmxName><bind>0.0.0.0:25</bind>"
            + "<authorizedAddresses>10.0.0.0/8</authorizedAddresses></smtpserver>"
            + "<smtpserver><jmxName>smtp-default</jmxName><bind>0.0.0.0:587</bind>"
            + "<authorizedAddresses>10.0.0.0/8</authorizedAddresses></smtpserver>"
            + "</smtpservers>");

        RelayGuardModule.warnAboutJamesTrustingMore(provider, TrustedNetworks.none());

        List<String> warnings = appender.list.stream().filter(event -> event.getLevel() == Level.WARN)
            .map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
        assertThat(warnings).hasSize(2);
        assertThat(warnings.get(0)).startsWith("smtpserver.xml listener 'smtp-on' (0.0.0.0:25)");
        assertThat(warnings.get(1)).startsWith("smtpserver.xml listener 'smtp-default' (0.0.0.0:587)");
        assertThat(String.join("\n", warnings)).doesNotContain("smtp-off");
    }
}
