package dev.relayguard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;

/**
 * {@code rediss://} against Debian's redis-server serving TLS only ({@code --port 0 --tls-port}), with a throwaway CA
 * and server certificate made by {@code openssl} for this test. The operator trusts the CA the James way, with the
 * JVM trust store ({@code -Djavax.net.ssl.trustStore}); {@code ?verifyPeer=NONE} trusts any certificate.
 */
@Tag("slow") // still run by mvn test and CI; quick runs skip it with -DexcludedGroups=slow
class RedisTlsStoreTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(3);
    private static final String PASSWORD = "tls-and-a-password";
    private static final Limit LIMIT = new Limit(Measure.MESSAGES, 5, Duration.ofMinutes(1));

    private static Path certs;
    private static RedisServerProcess redis;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeAll
    static void startTlsRedis() throws IOException {
        ((Logger) LoggerFactory.getLogger("io.lettuce")).setLevel(Level.WARN);
        ((Logger) LoggerFactory.getLogger("io.netty")).setLevel(Level.WARN);
        certs = Files.createTempDirectory("relayguard-redis-tls-");
        makeCertificates(certs);
        redis = RedisServerProcess.builder()
            .tls(certs.resolve("server.crt"), certs.resolve("server.key"), certs.resolve("ca.crt"))
            .args("--requirepass", PASSWORD).cliArgs("-a", PASSWORD)
            .start();
    }

    @AfterAll
    static void stopTlsRedis() throws IOException {
        if (redis != null) {
            redis.close();
        }
        try (Stream<Path> paths = Files.walk(certs)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @AfterEach
    void closeEverything() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private RedisLimiterStore store(String url) {
        RedisLimiterStore store = new RedisLimiterStore(url, false, TIMEOUT);
        closeables.add(store);
        return store;
    }

    /** Sets a system property for this test only. */
    private void property(String name, String value) {
        String before = System.getProperty(name);
        System.setProperty(name, value);
        closeables.add(() -> {
            if (before == null) {
                System.clearProperty(name);
            } else {
                System.setProperty(name, before);
            }
        });
    }

    @Test
    void theServerSpeaksTlsOnly() {
        assertThat(redis.url()).startsWith("rediss://127.0.0.1:");
        assertThat(redis.cli("PING")).isEqualTo("PONG");
        RedisLimiterStore plain = store("redis://:" + PASSWORD + "@" + redis.address());
        assertThat(plain.acquire("k", List.of(new Charge(LIMIT, 1))).kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
    }

    @Test
    void withTheCaInTheJvmTrustStoreTheStoreWorksOverTls() {
        property("javax.net.ssl.trustStore", certs.resolve("trust.p12").toString());
        property("javax.net.ssl.trustStorePassword", "changeit");
        property("javax.net.ssl.trustStoreType", "PKCS12");
        RedisLimiterStore store = store("rediss://:" + PASSWORD + "@" + redis.address());

        RedisAuthStoreTest.everyOperationWorks(store);
        assertThat(redis.cli("EXISTS", RedisLimiterStore.redisKey("alice@example.com"))).isEqualTo("1");
    }

    @Test
    void anUntrustedCertificateIsRefused() {
        RedisLimiterStore store = store("rediss://:" + PASSWORD + "@" + redis.address());

        LimitDecision decision = store.acquire("k", List.of(new Charge(LIMIT, 1)));
        assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.STORE_FAILED);
        assertThat(decision.failure()).contains(redis.address()).doesNotContain(PASSWORD)
            .contains("certification path").contains("-Djavax.net.ssl.trustStore");
    }

    @Test
    void verifyPeerNoneTrustsAnyCertificate() {
        RedisLimiterStore store = store("rediss://:" + PASSWORD + "@" + redis.address() + "?verifyPeer=NONE");

        assertThat(store.acquire("k", List.of(new Charge(LIMIT, 1))).kind()).isEqualTo(LimitDecision.Kind.ADMITTED);
    }

    /** ca.crt/ca.key (a CA), server.crt/server.key (CN and SAN 127.0.0.1, signed by it), trust.p12 (the CA). */
    private static void makeCertificates(Path dir) throws IOException {
        String openssl = RedisServerProcess.binary("openssl");
        Files.write(dir.resolve("server.ext"), List.of("subjectAltName=IP:127.0.0.1,DNS:localhost",
            "extendedKeyUsage=serverAuth"), StandardCharsets.UTF_8);
        run(dir, openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=RelayGuard test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", "ca.key", "-out", "ca.crt");
        run(dir, openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr");
        run(dir, openssl, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "server.ext", "-out", "server.crt");
        run(dir, Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-importcert", "-noprompt",
            "-alias", "relayguard-test-ca", "-file", "ca.crt", "-keystore", "trust.p12", "-storetype", "PKCS12",
            "-storepass", "changeit");
    }

    private static void run(Path dir, String... command) {
        List<String> line = new ArrayList<>();
        line.add("sh");
        line.add("-c");
        StringBuilder text = new StringBuilder("cd '" + dir + "' &&");
        for (String part : command) {
            text.append(" '").append(part).append("'");
        }
        line.add(text.toString());
        RedisServerProcess.run(line, 60_000);
    }
}
