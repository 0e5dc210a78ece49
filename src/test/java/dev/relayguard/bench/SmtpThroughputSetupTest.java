package dev.relayguard.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The throughput benchmark's James layouts follow the shipped sample (a sample change that the benchmark no longer
 * strips shows here, not an hour into a run), and its options pick the variants of each load.
 */
class SmtpThroughputSetupTest {
    private static final Path SAMPLE = Paths.get("conf-samples/single-node").toAbsolutePath();

    @TempDir
    Path temp;

    /** A project directory with the real sample and an empty target/extensions-jars (nothing is built here). */
    private Path project() throws IOException {
        Path project = temp.resolve("project");
        if (Files.exists(project)) {
            return project;
        }
        Files.createDirectories(project.resolve("conf-samples"));
        Files.createSymbolicLink(project.resolve("conf-samples/single-node"), SAMPLE);
        Files.createDirectories(project.resolve("target/extensions-jars"));
        Files.writeString(temp.resolve("keystore"), "not a keystore: never read here");
        return project;
    }

    private Path install(String variant, String redisUrl) throws IOException {
        Path root = temp.resolve(variant);
        SmtpThroughputJames.install(root, variant, project(), temp.resolve("keystore"), true, redisUrl);
        return root.resolve("conf");
    }

    @Test
    void stockLoadsNoRelayGuardClassOutsideComments() throws IOException {
        Path conf = install(SmtpThroughputJames.STOCK, null);

        assertThat(conf.resolve("relayguard.xml")).doesNotExist();
        // The files that name classes James loads (logback.xml may keep its dev.relayguard logger level: no class).
        for (String file : List.of("smtpserver.xml", "mailetcontainer.xml", "extensions.properties", "webadmin.properties")) {
            String text = Files.readString(conf.resolve(file)).replaceAll("(?s)<!--.*?-->", "").replaceAll("(?m)^\\s*#.*$", "");
            assertThat(text).as(file).doesNotContain("dev.relayguard");
        }
        assertThat(Files.readString(conf.resolve("webadmin.properties")))
            .contains("extensions.routes=org.apache.james.webadmin.dropwizard.MetricsRoutes\n");
        assertThat(Files.readString(conf.resolve("mailetcontainer.xml")))
            .contains("<matcher match=\"SMTPAuthSuccessful\"/>")
            .contains("<processor state=\"relay-denied\"");
    }

    @Test
    void everyVariantKeepsBothListenersWithTheSubmissionOneOnStartTls() throws IOException {
        for (String variant : List.of(SmtpThroughputJames.STOCK, SmtpThroughputJames.RELAYGUARD_FULL)) {
            String smtp = Files.readString(install(variant, null).resolve("smtpserver.xml"));

            assertThat(smtp).as(variant).contains("<jmxName>smtp-mx</jmxName>", "<jmxName>smtp-submission</jmxName>",
                "<tls socketTLS=\"false\" startTLS=\"true\">", "<requireSSL>true</requireSSL>");
            assertThat(smtp).as(variant).doesNotContain(":2525<", ":5870<");
        }
    }

    @Test
    void relayGuardFullKeepsTheSampleChecksAndChargesRaisedUserLimitsInMemory() throws IOException {
        String policy = Files.readString(install(SmtpThroughputJames.RELAYGUARD_FULL, null).resolve("relayguard.xml"));

        assertThat(policy).contains("<store>memory</store>", "<senderOwnership>strict</senderOwnership>",
            "<headerFrom>reject</headerFrom>", "<authLimits>", "<refusals>0</refusals>",
            "<limit measure=\"messages\" max=\"100000000\" per=\"1m\"/>");
        assertThat(policy).doesNotContain("max=\"20\" per=\"1m\"", "<network>127.0.0.0/8</network>");
    }

    @Test
    void relayGuardRedisPointsTheStoreAtTheBenchmarksRedis() throws IOException {
        String policy = Files.readString(install(SmtpThroughputJames.RELAYGUARD_REDIS, "redis://127.0.0.1:23456")
            .resolve("relayguard.xml"));

        assertThat(policy).contains("<store>redis</store> <redisURL>redis://127.0.0.1:23456</redisURL>")
            .doesNotContain("<store>memory</store>");
    }

    @Test
    void aRedisUrlGoesWithTheRedisVariantOnly() {
        assertThatThrownBy(() -> install(SmtpThroughputJames.RELAYGUARD_REDIS, null))
            .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> install(SmtpThroughputJames.RELAYGUARD_FULL, "redis://127.0.0.1:23456"))
            .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theCommandsRelayGuardsScriptsRunAreToldApartFromClientRequests() throws IOException {
        Set<String> inner = SmtpThroughputRedis.scriptCommands(Paths.get("").toAbsolutePath());

        assertThat(inner).contains("hmget", "time", "zadd").doesNotContain("evalsha", "eval", "info");
        assertThat(inner).allMatch(command -> command.equals(command.toLowerCase(Locale.ROOT)));
    }

    @Test
    void eachLoadHasItsOwnVariants() {
        assertThat(SmtpThroughput.Options.parse(new String[0]).variants)
            .containsExactly("stock", "relayguard", "relayguard-limiter");
        assertThat(SmtpThroughput.Options.parse(new String[] {"--variants", "stock,relayguard-redis", "--load", "submission"})
            .variants).containsExactly("stock", "relayguard-redis");
        assertThat(SmtpThroughput.Options.parse(new String[] {"--load", "submission"}).variants)
            .containsExactly("stock", "relayguard-full", "relayguard-redis");
        assertThatThrownBy(() -> SmtpThroughput.Options.parse(new String[] {"--variants", "stock,relayguard-redis"}))
            .hasMessageContaining("unknown variant relayguard-redis for --load mx");
        assertThatThrownBy(() -> SmtpThroughput.Options.parse(new String[] {"--load", "submission", "--variants", "relayguard-full"}))
            .hasMessageContaining("must include stock");
    }
}
