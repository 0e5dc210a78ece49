package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import javax.management.MBeanServerConnection;
import javax.management.remote.JMXConnector;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * An operator's first day: RelayGuard installed into <b>James's own</b> 3.8.1 sample configuration (an unchanged copy
 * in {@code integration-tests/src/test/resources/james-3.8.1-sample-conf/}) by applying the steps of the README's
 * "Installing into an existing James 3.8.1" section mechanically: every block marked {@code <!-- install: NAME -->}
 * there is read from {@code README.md} and applied the way its text says (a missing block fails the test, so README and
 * test cannot drift). Then a real James 3.8.1 runs in its own JVM with the packaged jar in {@code extensions-jars/}
 * ({@link JamesProcess}), and the test checks what the steps promise: a stranger's relay refused ({@code 550 5.7.1})
 * even from 127.0.0.1, which stock {@code authorizedAddresses} trusts; an unknown local user refused at RCPT
 * ({@code 550 5.1.1}); local delivery into the INBOX; AUTH announced to a loopback client on both submission
 * listeners (STARTTLS on 587, implicit TLS on 465) and its relay accepted once authenticated; {@code grep relayguard.audit} matching the console; WebAdmin's {@code /metrics}
 * answering {@code 200} with {@code relayguard_} lines, and RelayGuard's WebAdmin routes (the README's
 * {@code extensions.routes}) answering {@code GET /relayguard/health} and {@code GET /relayguard/policy}.
 *
 * <p>Besides the README's steps, only these test-only edits are made: SMTP listeners ({@code 0.0.0.0:25}, {@code :465},
 * {@code :587}) and IMAP listeners ({@code :143}, {@code :993}) bound to {@code 127.0.0.1:0}; JMAP (port 80) disabled;
 * the JMX port ({@code 9999}) and WebAdmin port ({@code 8000}) replaced by free ones; the log path {@code /logs/}
 * moved into the temporary folder; DNS autodiscovery replaced by a loopback server (no real DNS from tests); a
 * keystore generated. The domain and the user are created over WebAdmin, as an operator does.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OperatorInstallIT {
    private static final String SECTION = "## Installing into an existing James 3.8.1";
    private static final Pattern MARKER = Pattern.compile("(?m)^[ \\t]*<!-- install: (.+?) -->[ \\t]*\\n");
    private static final Pattern ROLE_ROW = Pattern.compile("(?m)^\\| `([^`]+)` \\| (\\d+) \\|.*\\| `(mx|submission)` \\|\\s*$");
    private static final Pattern SED = Pattern.compile("sed -i 's/([^/]+)/([^/]*)/g' conf/(\\S+)");
    private static final Pattern SMTP_SERVER = Pattern.compile("(?s)<smtpserver .*?</smtpserver>");
    private static final Pattern CHAIN = Pattern.compile("(?s)<handlerchain>.*?</handlerchain>");
    private static final Pattern JMX_NAME = Pattern.compile("<jmxName>([^<]+)</jmxName>");
    private static final String RELAYGUARD_HANDLER = "<handler class=\"dev.relayguard.smtp.RelayGuardHandler\">";
    private static final String JAMES_CORE = "<handler class=\"org.apache.james.smtpserver.CoreCmdHandlerLoader\"/>";

    private static final String DOMAIN = "install.test";
    private static final String USER = "alice@" + DOMAIN;
    private static final String PASSWORD = "alice-secret";
    private static final String BOB = "bob@" + DOMAIN;
    private static final String GHOST = "ghost@" + DOMAIN;
    private static final String ADDRESS_ERROR = "var%2Fmail%2Faddress-error";
    private static final Pattern KEY = Pattern.compile("\"([^\"]+)\"");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path root;

    private final SmtpSink sink = SmtpSink.started();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private JamesProcess james;
    private JMXConnector jmx;
    private int mxPort;
    private int startTlsSubmissionPort;
    private int implicitTlsSubmissionPort;
    private Map<String, String> roles;

    @BeforeAll
    void installTheReadmeWayAndStart() throws Exception {
        Map<String, String> steps = installSteps(Files.readString(SampleConf.projectDir().resolve("README.md")));
        SampleConf conf = SampleConf.copyOf(
            SampleConf.projectDir().resolve("integration-tests/src/test/resources/james-3.8.1-sample-conf"), root.resolve("conf"));
        roles = roles(steps.get("smtpserver.xml roles"));
        applySmtpSteps(conf, steps);
        applyMailetSteps(conf, steps);
        setProperty(conf, "extensions.properties", steps.get("extensions.properties"));
        setProperty(conf, "webadmin.properties", steps.get("webadmin.properties"));
        conf.write("relayguard.xml", steps.get("relayguard.xml"));
        conf.replace("logback.xml", "</configuration>", steps.get("logback.xml loggers") + "</configuration>");
        applySed(conf, steps.get("logback.xml pattern"));
        testOnlyEdits(conf);
        conf.replace("mailetcontainer.xml", "<outgoingQueue>outgoing</outgoingQueue>",
            "<outgoingQueue>outgoing</outgoingQueue><gateway>127.0.0.1</gateway><gatewayPort>" + sink.port() + "</gatewayPort>");

        james = JamesProcess.install(root, conf);
        assertThat(james.extensionJars()).anyMatch(jar -> jar.startsWith("relayguard-"));
        james.start();
        jmx = james.connectJmx();
        MBeanServerConnection connection = jmx.getMBeanServerConnection();
        mxPort = james.boundPort(connection, "smtpserver-global");
        startTlsSubmissionPort = james.boundPort(connection, "smtpserver-authenticated");
        implicitTlsSubmissionPort = james.boundPort(connection, "smtpserver-TLS");
        assertThat(webAdmin("PUT", "/domains/" + DOMAIN, null).statusCode()).isEqualTo(204);
        assertThat(webAdmin("PUT", "/users/" + USER, "{\"password\":\"" + PASSWORD + "\"}").statusCode()).isEqualTo(204);
        assertThat(webAdmin("PUT", "/address/aliases/" + USER + "/sources/postmaster@" + DOMAIN, null).statusCode())
            .isEqualTo(204);
        assertThat(webAdmin("PUT", "/users/" + BOB, "{\"password\":\"" + PASSWORD + "\"}").statusCode()).isEqualTo(204);
        assertThat(webAdmin("PUT", "/address/aliases/nobody@" + DOMAIN + "/sources/" + GHOST, null).statusCode())
            .as("a dangling alias: its destination has no mailbox").isEqualTo(204);
    }

    @AfterAll
    void stop() throws Exception {
        if (jmx != null) {
            jmx.close();
        }
        if (james != null) {
            james.close();
        }
        sink.close();
    }

    @Test
    void theStepsGiveEveryStockListenerARoleAndKeepValidRcptHandlerAfterRelayGuard() throws Exception {
        assertThat(roles).containsOnly(
            Map.entry("smtpserver-global", "mx"),
            Map.entry("smtpserver-TLS", "submission"),
            Map.entry("smtpserver-authenticated", "submission"));
        String smtp = Files.readString(root.resolve("conf/smtpserver.xml"));
        List<String> chains = matches(CHAIN, smtp);
        assertThat(chains).hasSize(3).allSatisfy(chain -> assertThat(chain)
            .containsSubsequence(RELAYGUARD_HANDLER, "fastfail.ValidRcptHandler", JAMES_CORE));
    }

    @Test
    void strangerRelayIsRefusedEvenFromLoopbackThatStockAuthorizedAddressesTrusts() throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(mxPort)) {
            smtp.ehlo("prober.example");
            assertThat(smtp.mailFrom("spammer@prober.example").code()).isEqualTo(250);
            Reply rcpt = smtp.rcptTo("victim@remote.example");
            assertThat(rcpt.code()).as("%s", rcpt).isEqualTo(550);
            assertThat(rcpt.enhancedStatus()).isEqualTo("5.7.1");
        }
    }

    @Test
    void unknownLocalUserIsRefusedAtRcptSoNothingBouncesToAForgedSender() throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(mxPort)) {
            smtp.ehlo("sender.example");
            assertThat(smtp.mailFrom("victim@remote.example").code()).isEqualTo(250);
            Reply rcpt = smtp.rcptTo("no-such-user@" + DOMAIN);
            assertThat(rcpt.code()).as("%s", rcpt).isEqualTo(550);
            assertThat(rcpt.enhancedStatus()).isEqualTo("5.1.1");
            assertThat(rcpt.text()).contains("Unknown user: no-such-user@" + DOMAIN);
            assertThat(smtp.rcptTo("postmaster@" + DOMAIN).code()).as("postmaster, an alias as the README says").isEqualTo(250);
        }
    }

    @Test
    void strangersDeliverToALocalUserIntoItsInbox() throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(mxPort)) {
            smtp.ehlo("sender.example");
            assertThat(smtp.mailFrom("friend@remote.example").code()).isEqualTo(250);
            assertThat(smtp.rcptTo(USER).code()).isEqualTo(250);
            assertThat(smtp.data("From: <friend@remote.example>\r\nSubject: hello\r\n\r\nWelcome.").code()).isEqualTo(250);
        }
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        HttpResponse<String> count = inboxCount();
        while (!"1".equals(count.body().trim()) && Instant.now().isBefore(deadline)) {
            Thread.sleep(200);
            count = inboxCount();
        }
        assertThat(count.statusCode()).isEqualTo(200);
        assertThat(count.body().trim()).isEqualTo("1");
    }

    @Test
    void loopbackClientIsOfferedAuthOnSubmissionAndRelaysOnlyOnceAuthenticated() throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(startTlsSubmissionPort)) {
            assertThat(smtp.ehlo("webmail.local").lines()).noneMatch(line -> line.contains("AUTH"));
            Reply afterTls = smtp.startTls("webmail.local");
            assertThat(afterTls.lines()).as("EHLO after STARTTLS to 127.0.0.1: %s", afterTls)
                .anyMatch(line -> line.substring(4).startsWith("AUTH"));
            Reply mail = smtp.mailFrom(USER);
            assertThat(mail.code()).as("unauthenticated MAIL on submission: %s", mail).isEqualTo(530);
            assertThat(mail.enhancedStatus()).isEqualTo("5.7.0");
            assertThat(smtp.authPlain(USER, PASSWORD).code()).isEqualTo(235);
            assertThat(smtp.mailFrom(USER).code()).isEqualTo(250);
            assertThat(smtp.rcptTo("friend@remote.example").code()).isEqualTo(250);
            assertThat(smtp.data("From: <" + USER + ">\r\nSubject: out\r\n\r\nRelayed for a user.").code()).isEqualTo(250);
        }
    }

    @Test
    void loopbackClientIsOfferedAuthAtOnceOnTheImplicitTlsSubmissionListener() throws Exception {
        try (SmtpClient smtp = SmtpClient.connectImplicitTls(implicitTlsSubmissionPort)) {
            Reply ehlo = smtp.ehlo("webmail.local");
            assertThat(ehlo.lines()).as("EHLO over TLS to 127.0.0.1: %s", ehlo)
                .anyMatch(line -> line.substring(4).startsWith("AUTH"));
            assertThat(smtp.mailFrom(USER).code()).as("unauthenticated MAIL on submission").isEqualTo(530);
            assertThat(smtp.authPlain(USER, PASSWORD).code()).isEqualTo(235);
            assertThat(smtp.mailFrom(USER).code()).isEqualTo(250);
            assertThat(smtp.rcptTo("friend@remote.example").code()).isEqualTo(250);
        }
    }

    @Test
    void aStrangersMailToADanglingAliasIsKeptAndNotBouncedToItsForgedSender() throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(mxPort)) {
            smtp.ehlo("sender.example");
            assertThat(smtp.mailFrom("victim@remote.example").code()).isEqualTo(250);
            Reply rcpt = smtp.rcptTo(GHOST);
            assertThat(rcpt.code()).as("an alias passes ValidRcptHandler: %s", rcpt).isEqualTo(250);
            assertThat(smtp.data("From: <victim@remote.example>\r\nSubject: forged\r\n\r\nBackscatter bait.").code()).isEqualTo(250);
        }
        await("the stranger's mail kept in var/mail/address-error", () -> keptFrom("victim@remote.example"));
        // Bounce runs before ToRepository: a bounce, had there been one, is already spooled. A later mail relayed
        // to the sink, then empty queues, show that everything spooled before it went its way.
        try (SmtpClient smtp = SmtpClient.connectImplicitTls(implicitTlsSubmissionPort)) {
            smtp.ehlo("webmail.local");
            assertThat(smtp.authPlain(BOB, PASSWORD).code()).isEqualTo(235);
            assertThat(smtp.mailFrom(BOB).code()).isEqualTo(250);
            assertThat(smtp.rcptTo("marker@remote.example").code()).isEqualTo(250);
            assertThat(smtp.data("From: <" + BOB + ">\r\nSubject: marker\r\n\r\nAfter the forged one.").code()).isEqualTo(250);
        }
        await("the later mail relayed to the sink", () -> sink.recipients().contains("marker@remote.example"));
        await("spool and outgoing queues empty", () -> queueSize("spool") == 0 && queueSize("outgoing") == 0);
        assertThat(sink.recipients()).as("no bounce to the forged sender").doesNotContain("victim@remote.example");
    }

    @Test
    void anAuthenticatedUsersMailToADanglingAliasBouncesToTheUserAndIsKept() throws Exception {
        try (SmtpClient smtp = SmtpClient.connectImplicitTls(implicitTlsSubmissionPort)) {
            smtp.ehlo("webmail.local");
            assertThat(smtp.authPlain(BOB, PASSWORD).code()).isEqualTo(235);
            assertThat(smtp.mailFrom(BOB).code()).isEqualTo(250);
            assertThat(smtp.rcptTo(GHOST).code()).isEqualTo(250);
            assertThat(smtp.data("From: <" + BOB + ">\r\nSubject: to ghost\r\n\r\nTo a dangling alias.").code()).isEqualTo(250);
        }
        await("the bounce in " + BOB + "'s INBOX", () -> "1".equals(webAdmin("GET", "/users/" + BOB + "/mailboxes/INBOX/messageCount", null)
            .body().trim()));
        await("the user's mail kept in var/mail/address-error", () -> keptFrom(BOB));
    }

    @Test
    void startupLogsNoAuthorizedAddressesMismatchOnceTheStepsRemovedIt() throws Exception {
        assertThat(grep("authorizedAddresses")).filteredOn(line -> line.contains("WARN")).isEmpty();
    }

    @Test
    void auditLinesAreFoundByGrepOnTheConsoleAndPolicyLoadedIsLogged() throws Exception {
        try (SmtpClient smtp = SmtpClient.connect(mxPort)) {
            smtp.ehlo("prober.example");
            smtp.mailFrom("audit-probe@prober.example");
            assertThat(smtp.rcptTo("audit-victim@remote.example").code()).isEqualTo(550);
        }
        Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
        List<String> audit = grep("audit-victim@remote.example");
        while (audit.isEmpty() && Instant.now().isBefore(deadline)) {
            Thread.sleep(200);
            audit = grep("audit-victim@remote.example");
        }
        assertThat(audit).filteredOn(line -> line.contains("outcome=refused")).singleElement()
            .satisfies(line -> assertThat(line).contains("relayguard.audit", "reason=relay.unauthenticated"));
        assertThat(grep("relayguard.audit")).isNotEmpty();
        assertThat(grep("RelayGuard policy loaded from relayguard.xml")).singleElement()
            .satisfies(line -> assertThat(line).contains(" dev.relayguard."));
    }

    @Test
    void webAdminMetricsAnswerWithRelayGuardLines() throws Exception {
        HttpResponse<String> metrics = webAdmin("GET", "/metrics", null);
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body().lines()).anyMatch(line -> line.startsWith("relayguard_"));
    }

    @Test
    void relayGuardsWebAdminRoutesAnswerHealthAndTheEffectivePolicy() throws Exception {
        HttpResponse<String> health = webAdmin("GET", "/relayguard/health", null);
        assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
        JsonNode state = JSON.readTree(health.body());
        assertThat(state.get("storeKind").asText()).isEqualTo("memory");
        assertThat(state.get("healthy").asBoolean()).as(health.body()).isTrue();

        HttpResponse<String> policy = webAdmin("GET", "/relayguard/policy", null);
        assertThat(policy.statusCode()).as(policy.body()).isEqualTo(200);
        assertThat(policy.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
        JsonNode settings = JSON.readTree(policy.body());
        assertThat(settings.isObject()).as(policy.body()).isTrue();
        assertThat(settings.get("rules").get("relay").asText()).as("the README's relayguard.xml in effect").isEqualTo("reject");
        assertThat(settings.has("rateLimits")).isTrue();
    }

    /**
     * Issue 16 (M7): with the README's {@code cors.origin}, a CORS preflight from a web page's origin is not allowed
     * (James answers {@code Access-Control-Allow-Origin: *} without it, cors.enable or not).
     */
    @Test
    void aWebPageInTheAdminsBrowserIsNotAllowedToCallTheRoutes() throws Exception {
        HttpRequest preflight = HttpRequest.newBuilder(URI.create("http://localhost:" + james.webAdminPort()
                + "/relayguard/suspensions/x@example.com"))
            .timeout(Duration.ofSeconds(30))
            .header("Origin", "http://evil.example")
            .header("Access-Control-Request-Method", "PUT")
            .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
            .build();

        HttpResponse<String> answer = http.send(preflight, HttpResponse.BodyHandlers.ofString());

        assertThat(answer.headers().allValues("Access-Control-Allow-Origin")).as(answer.headers().map().toString())
            .containsExactly("https://webadmin.invalid");
    }

    /** The blocks of the README's install section, by marker name, de-indented (fenced code or a table). */
    static Map<String, String> installSteps(String readme) {
        int start = readme.indexOf(SECTION);
        assertThat(start).as("README section %s", SECTION).isNotNegative();
        int end = readme.indexOf("\n## ", start + SECTION.length());
        String section = readme.substring(start, end < 0 ? readme.length() : end);
        Map<String, String> steps = new LinkedHashMap<>();
        Matcher marker = MARKER.matcher(section);
        while (marker.find()) {
            List<String> lines = section.substring(marker.end()).lines().collect(Collectors.toList());
            String first = lines.get(0).trim();
            List<String> block = new ArrayList<>();
            if (first.startsWith("```")) {
                for (String line : lines.subList(1, lines.size())) {
                    if (line.trim().startsWith("```")) {
                        break;
                    }
                    block.add(line);
                }
            } else {
                for (String line : lines) {
                    if (!line.trim().startsWith("|")) {
                        break;
                    }
                    block.add(line);
                }
            }
            assertThat(block).as("block after <!-- install: %s -->", marker.group(1)).isNotEmpty();
            String indent = block.get(0).substring(0, block.get(0).indexOf(block.get(0).trim()));
            String text = block.stream().map(line -> line.startsWith(indent) ? line.substring(indent.length()) : line)
                .collect(Collectors.joining("\n", "", "\n"));
            assertThat(steps.put(marker.group(1), text)).as("marker %s twice", marker.group(1)).isNull();
        }
        assertThat(steps).containsOnlyKeys("extensions.properties", "smtpserver.xml handler", "smtpserver.xml roles",
            "smtpserver.xml ValidRcptHandler", "smtpserver.xml submission announce",
            "smtpserver.xml remove authorizedAddresses", "relayguard.xml", "mailetcontainer.xml error processors",
            "mailetcontainer.xml transport ChargeSenderLimits", "mailetcontainer.xml after RecipientRewriteTable",
            "mailetcontainer.xml relay", "mailetcontainer.xml transport IsSenderNotOwned",
            "logback.xml loggers", "logback.xml pattern", "webadmin.properties");
        return steps;
    }

    private static Map<String, String> roles(String table) {
        Map<String, String> roles = new LinkedHashMap<>();
        Matcher row = ROLE_ROW.matcher(table);
        while (row.find()) {
            roles.put(row.group(1), row.group(3));
        }
        return roles;
    }

    /**
     * Step 3: RelayGuard's handler first in every chain with the listener's role, ValidRcptHandler right after it
     * where missing, {@code <announce>} replaced on submission listeners, and the stock {@code <authorizedAddresses>}
     * line deleted from every listener.
     */
    private void applySmtpSteps(SampleConf conf, Map<String, String> steps) throws Exception {
        String handler = steps.get("smtpserver.xml handler");
        assertThat(handler).contains("<role>mx</role>");
        String validRcpt = steps.get("smtpserver.xml ValidRcptHandler").trim();
        String announce = steps.get("smtpserver.xml submission announce").trim();
        String removed = steps.get("smtpserver.xml remove authorizedAddresses").trim();
        String xml = Files.readString(conf.dir().resolve("smtpserver.xml"));
        Pattern removedLine = Pattern.compile("(?m)^[ \\t]*" + Pattern.quote(removed) + "[ \\t]*\\n");
        assertThat(matches(removedLine, xml)).as("stock listeners with %s", removed).hasSize(3);
        xml = removedLine.matcher(xml).replaceAll("");
        assertThat(xml).doesNotContain("<authorizedAddresses>");
        StringBuilder out = new StringBuilder();
        Matcher server = SMTP_SERVER.matcher(xml);
        int last = 0;
        while (server.find()) {
            String listener = server.group();
            Matcher jmxName = JMX_NAME.matcher(listener);
            assertThat(jmxName.find()).isTrue();
            String role = roles.get(jmxName.group(1));
            assertThat(role).as("README role of stock listener %s", jmxName.group(1)).isNotNull();
            String chain = "<handlerchain>\n" + handler.replace("<role>mx</role>", "<role>" + role + "</role>");
            if (!listener.contains(validRcpt)) {
                chain += validRcpt + "\n";
            }
            listener = listener.replace("<handlerchain>", chain);
            if (role.equals("submission")) {
                listener = listener.replaceAll("<announce>[^<]*</announce>", Matcher.quoteReplacement(announce));
            }
            out.append(xml, last, server.start()).append(listener);
            last = server.end();
        }
        out.append(xml.substring(last));
        conf.write("smtpserver.xml", out.toString());
    }

    /**
     * Steps 5 and 6: RelayGuard's mailets in {@code transport}, {@code relay} for whatever they let through, and the
     * stock {@code local-address-error} and {@code rrt-error} processors replaced by the README's.
     */
    private static void applyMailetSteps(SampleConf conf, Map<String, String> steps) throws Exception {
        String xml = Files.readString(conf.dir().resolve("mailetcontainer.xml"));
        String processors = steps.get("mailetcontainer.xml error processors");
        for (String state : Arrays.asList("local-address-error", "rrt-error")) {
            Pattern processor = Pattern.compile("(?s)<processor state=\"" + state + "\".*?</processor>");
            Matcher stock = processor.matcher(xml);
            Matcher readme = processor.matcher(processors);
            assertThat(stock.find()).as("stock processor %s", state).isTrue();
            assertThat(readme.find()).as("README processor %s", state).isTrue();
            assertThat(readme.group()).contains("match=\"SMTPAuthSuccessful\" class=\"Bounce\"")
                .doesNotContain("match=\"All\" class=\"Bounce\"");
            xml = xml.substring(0, stock.start()) + readme.group() + xml.substring(stock.end());
        }
        int transport = xml.indexOf("<processor state=\"transport\"");
        int firstMailet = xml.indexOf("<mailet ", transport);
        xml = xml.substring(0, firstMailet) + steps.get("mailetcontainer.xml transport IsSenderNotOwned")
            + steps.get("mailetcontainer.xml transport ChargeSenderLimits") + xml.substring(firstMailet);
        int rrt = xml.indexOf("</mailet>", xml.indexOf("class=\"RecipientRewriteTable\"", transport)) + "</mailet>".length();
        xml = xml.substring(0, rrt) + "\n" + steps.get("mailetcontainer.xml after RecipientRewriteTable") + xml.substring(rrt);
        Matcher relay = Pattern.compile("<mailet match=\"[^\"]*\" class=\"ToProcessor\">\\s*<processor>relay</processor>\\s*</mailet>")
            .matcher(xml);
        assertThat(relay.find()).isTrue();
        xml = xml.substring(0, relay.start()) + steps.get("mailetcontainer.xml relay") + xml.substring(relay.end());
        conf.write("mailetcontainer.xml", xml);
    }

    /**
     * Steps 2 and 8 as the README says them: the stock file (which ends with a commented {@code #key=} and no newline,
     * the trap of a literal {@code echo >>}) gets the README's {@code key=value} in place of the commented line; an
     * uncommented key gets the value comma-separated; else the line is added on a line of its own.
     */
    private static void setProperty(SampleConf conf, String file, String block) throws Exception {
        for (String line : block.strip().split("\n")) {
            setPropertyLine(conf, file, line.strip());
        }
    }

    /** One README line: added to an uncommented key, else in place of the commented one ({@code #key=…}, {@code #key}). */
    private static void setPropertyLine(SampleConf conf, String file, String line) throws Exception {
        String key = line.substring(0, line.indexOf('='));
        String value = line.substring(key.length() + 1);
        String content = Files.readString(conf.dir().resolve(file));
        if (key.startsWith("extensions.")) {
            assertThat(content).as("stock %s ends with #%s= and no newline", file, key).endsWith("#" + key + "=");
        }
        Matcher commented = Pattern.compile("(?m)^#" + Pattern.quote(key) + "(=.*)?$").matcher(content);
        Matcher existing = Pattern.compile("(?m)^" + Pattern.quote(key) + "=.*$").matcher(content);
        if (existing.find()) {
            content = content.substring(0, existing.end()) + "," + value + content.substring(existing.end());
        } else if (commented.find()) {
            content = content.substring(0, commented.start()) + line + content.substring(commented.end());
        } else {
            content = content + (content.endsWith("\n") ? "" : "\n") + line + "\n";
        }
        assertThat(content.lines()).as("%s: the README's line in effect", file).contains(line);
        conf.write(file, content);
    }

    private static void applySed(SampleConf conf, String command) throws Exception {
        Matcher sed = SED.matcher(command);
        assertThat(sed.find()).as("a sed command: %s", command).isTrue();
        String content = Files.readString(conf.dir().resolve(sed.group(3)));
        assertThat(content).contains(sed.group(1));
        conf.write(sed.group(3), content.replace(sed.group(1), sed.group(2)));
    }

    private void testOnlyEdits(SampleConf conf) {
        for (String port : Arrays.asList("25", "465", "587")) {
            conf.replace("smtpserver.xml", "<bind>0.0.0.0:" + port + "</bind>", "<bind>127.0.0.1:0</bind>");
        }
        for (String port : Arrays.asList("143", "993")) {
            conf.replace("imapserver.xml", "<bind>0.0.0.0:" + port + "</bind>", "<bind>127.0.0.1:0</bind>");
        }
        conf.replace("jmap.properties", "enabled=true", "enabled=false");
        conf.replace("webadmin.properties", "port=8000", "port=0");
        conf.replace("logback.xml", "/logs/", root.resolve("logs") + "/");
        conf.replace("dnsservice.xml", "<autodiscover>true</autodiscover>",
            "<autodiscover>false</autodiscover><servers><server>127.0.0.1</server></servers>");
        SampleConf.generateKeystore(conf.dir().resolve("keystore"));
    }

    /** Whether a mail from {@code sender} is in {@code var/mail/address-error} (WebAdmin {@code /mailRepositories}). */
    private boolean keptFrom(String sender) throws Exception {
        HttpResponse<String> keys = webAdmin("GET", "/mailRepositories/" + ADDRESS_ERROR + "/mails", null);
        if (keys.statusCode() != 200) {
            return false;
        }
        for (String key : matches(KEY, keys.body())) {
            String mail = webAdmin("GET", "/mailRepositories/" + ADDRESS_ERROR + "/mails/"
                + URLEncoder.encode(key.replace("\"", ""), StandardCharsets.UTF_8), null).body();
            if (mail.contains("\"sender\":\"" + sender + "\"")) {
                return true;
            }
        }
        return false;
    }

    private int queueSize(String queue) throws Exception {
        Matcher size = Pattern.compile("\"size\":(\\d+)").matcher(webAdmin("GET", "/mailQueues/" + queue, null).body());
        return size.find() ? Integer.parseInt(size.group(1)) : -1;
    }

    private interface Condition {
        boolean holds() throws Exception;
    }

    private static void await(String what, Condition condition) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (!condition.holds()) {
            assertThat(Instant.now()).as("waiting for %s", what).isBefore(deadline);
            Thread.sleep(200);
        }
    }

    private HttpResponse<String> inboxCount() throws Exception {
        return webAdmin("GET", "/users/" + USER + "/mailboxes/INBOX/messageCount", null);
    }

    private HttpResponse<String> webAdmin(String method, String path, String json) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + james.webAdminPort() + path))
            .timeout(Duration.ofSeconds(30));
        request = json == null ? request.method(method, HttpRequest.BodyPublishers.noBody())
            : request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The console lines containing {@code text}, as {@code grep text} would print them. */
    private List<String> grep(String text) throws Exception {
        return james.log().lines().filter(line -> line.contains(text)).collect(Collectors.toList());
    }

    private static List<String> matches(Pattern pattern, String text) {
        List<String> found = new ArrayList<>();
        Matcher matcher = pattern.matcher(text);
        while (matcher.find()) {
            found.add(matcher.group());
        }
        return found;
    }
}
