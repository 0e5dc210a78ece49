package dev.relayguard.guice;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.util.List;
import java.util.stream.Collectors;

import org.apache.james.server.core.configuration.ConfigurationProvider;
import org.apache.james.server.core.configuration.FileConfigurationProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.core.RelayPolicy;

/**
 * The startup WARNs about smtpserver.xml (issue 15): James's {@code <authorizedAddresses>} trusting more than
 * RelayGuard (one line per enabled listener, none for {@code enabled="false"}); a submission listener where James does
 * not offer AUTH to some clients; and a malformed smtpserver.xml named with its line, never {@code Error parsing null}.
 */
class SmtpServerXmlChecksTest {
    private static final String HANDLER = "<handlerchain><handler class=\"dev.relayguard.smtp.RelayGuardHandler\"><role>%s</role>"
        + "</handler><handler class=\"org.apache.james.smtpserver.CoreCmdHandlerLoader\"/></handlerchain>";
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

    /** smtpserver.xml read exactly as James 3.8.1's FileConfigurationProvider reads it (a stream without a name). */
    private static ConfigurationProvider smtpserverXml(String xml) {
        return (component, level) -> FileConfigurationProvider.getConfig(new ByteArrayInputStream(xml.getBytes(UTF_8)));
    }

    private static RelayPolicy policy(String relayguardXml) {
        return PolicyFile.parse(PolicyFile.parseXml(relayguardXml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME)
            .relayPolicy();
    }

    private List<String> warnings(String smtpserverXml, String relayguardXml) {
        SmtpServerXmlChecks.warnAboutConflicts(smtpserverXml(smtpserverXml), policy(relayguardXml));
        return appender.list.stream().filter(event -> event.getLevel() == Level.WARN)
            .map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
    }

    private static String listener(String name, String bind, String settings, String role) {
        return "<smtpserver><jmxName>" + name + "</jmxName><bind>" + bind + "</bind>" + settings
            + (role == null ? "" : String.format(HANDLER, role)) + "</smtpserver>";
    }

    @Test
    void inRelayMonitorModeTheMismatchSaysJamesLetsThemRelayAndRelayGuardCounts() {
        String smtpserver = "<smtpservers>" + listener("smtp-mx", "0.0.0.0:25",
            "<authorizedAddresses>10.0.0.0/8</authorizedAddresses>", "mx") + "</smtpservers>";

        assertThat(warnings(smtpserver, "<relayguard><rules><relay>monitor</relay></rules></relayguard>")).singleElement()
            .asString().contains("James lets those clients relay and RelayGuard only counts them")
            .doesNotContain("RelayGuard refuses relaying");
        appender.list.clear();
        assertThat(warnings(smtpserver, "<relayguard/>")).singleElement()
            .asString().endsWith("RelayGuard refuses relaying from those clients; add them to trustedNetworks if they really may relay.");
    }

    @Test
    void onlyEnabledListenersAreWarnedAbout() {
        List<String> warnings = warnings("<smtpservers>"
            + "<smtpserver enabled=\"false\"><jmxName>smtp-off</jmxName><bind>0.0.0.0:26</bind>"
            + "<authorizedAddresses>10.0.0.0/8</authorizedAddresses></smtpserver>"
            + "<smtpserver enabled=\"true\"><jmxName>smtp-on</jmxName><bind>0.0.0.0:25</bind>"
            + "<authorizedAddresses>10.0.0.0/8</authorizedAddresses></smtpserver>"
            + "<smtpserver><jmxName>smtp-default</jmxName><bind>0.0.0.0:587</bind>"
            + "<authorizedAddresses>10.0.0.0/8</authorizedAddresses></smtpserver>"
            + "</smtpservers>", "<relayguard/>");

        assertThat(warnings).hasSize(2);
        assertThat(warnings.get(0)).startsWith("smtpserver.xml listener 'smtp-on' (0.0.0.0:25)");
        assertThat(warnings.get(1)).startsWith("smtpserver.xml listener 'smtp-default' (0.0.0.0:587)");
        assertThat(String.join("\n", warnings)).doesNotContain("smtp-off");
    }

    @Test
    void jamesStockAuthorizedAddressesWithForUnauthorizedAddressesOnSubmissionIsWarnedWithTheFix() {
        List<String> warnings = warnings("<smtpservers>" + listener("smtp-submission", "0.0.0.0:587",
            "<auth><announce>forUnauthorizedAddresses</announce></auth><authorizedAddresses>127.0.0.0/8</authorizedAddresses>",
            "submission") + "</smtpservers>", "<relayguard><trustedNetworks><network>127.0.0.0/8</network></trustedNetworks></relayguard>");

        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0))
            .startsWith("smtpserver.xml listener 'smtp-submission' (0.0.0.0:587): <auth><announce>forUnauthorizedAddresses</announce>"
                + " with <authorizedAddresses>127.0.0.0/8</authorizedAddresses>")
            .contains("cannot submit")
            .contains("<role>submission</role>", "rules.submissionAuth reject")
            .contains("Fix: set <auth><announce>always</announce></auth> on this listener, or remove its <authorizedAddresses>");
    }

    @Test
    void theOlderAuthRequiredTrueIsReadAsJamesReadsIt() {
        List<String> warnings = warnings("<smtpservers>" + listener("smtp-submission", "0.0.0.0:587",
            "<authRequired>true</authRequired><authorizedAddresses>127.0.0.0/8</authorizedAddresses>", "submission")
            + "</smtpservers>", "<relayguard><trustedNetworks><network>127.0.0.0/8</network></trustedNetworks></relayguard>");

        assertThat(warnings).singleElement().asString().contains("<authRequired>true</authRequired> with <authorizedAddresses>");
    }

    @Test
    void aSubmissionListenerThatNeverOffersAuthIsWarned() {
        List<String> warnings = warnings("<smtpservers>" + listener("smtp-submission", "0.0.0.0:587", "", "submission")
            + "</smtpservers>", "<relayguard/>");

        assertThat(warnings).singleElement().asString()
            .contains("no <auth><announce> (James's default: never)", "offers AUTH to no client", "<auth><announce>always</announce></auth>");
    }

    @Test
    void noAuthWarningWhereAuthIsOfferedOrNotRequired() {
        String trusted = "<trustedNetworks><network>127.0.0.0/8</network></trustedNetworks>";
        List<String> warnings = warnings("<smtpservers>"
            + listener("submission-always", "0.0.0.0:587",
                "<auth><announce>ALWAYS</announce></auth><authorizedAddresses>127.0.0.0/8</authorizedAddresses>", "submission")
            + listener("submission-no-authorized", "0.0.0.0:588", "<auth><announce>forUnauthorizedAddresses</announce></auth>", "submission")
            + listener("mx", "0.0.0.0:25",
                "<auth><announce>forUnauthorizedAddresses</announce></auth><authorizedAddresses>127.0.0.0/8</authorizedAddresses>", "mx")
            + listener("mx-never", "0.0.0.0:26", "<auth><announce>never</announce></auth>", "mx")
            + listener("no-handler", "0.0.0.0:27", "<auth><announce>never</announce></auth>", null)
            + "<smtpserver enabled=\"false\"><jmxName>off</jmxName><auth><announce>never</announce></auth>"
            + String.format(HANDLER, "submission") + "</smtpserver>"
            + "</smtpservers>", "<relayguard>" + trusted + "</relayguard>");

        assertThat(warnings).isEmpty();
    }

    @Test
    void noAuthWarningWhenSubmissionAuthIsMonitoredOrOff() {
        String smtpserver = "<smtpservers>" + listener("smtp-submission", "0.0.0.0:587", "", "submission") + "</smtpservers>";

        assertThat(warnings(smtpserver, "<relayguard><rules><submissionAuth>monitor</submissionAuth></rules></relayguard>")).isEmpty();
        assertThat(warnings(smtpserver, "<relayguard><rules><submissionAuth>off</submissionAuth></rules></relayguard>")).isEmpty();
        assertThat(warnings(smtpserver, "<relayguard><rules><submissionAuth>defer</submissionAuth></rules></relayguard>")).hasSize(1);
    }

    @Test
    void malformedSmtpserverXmlIsNamedWithItsLineNotErrorParsingNull() {
        List<String> warnings = warnings("<smtpservers>\n<smtpserver>\n</smtpservers>", "<relayguard/>");

        assertThat(warnings).singleElement().asString()
            .startsWith("RelayGuard could not read smtpserver.xml")
            .contains("line 3, column")
            .doesNotContain("Error parsing null");
    }
}
