package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.relayguard.it.SmtpClient.Reply;

/**
 * RelayGuard installed exactly as an operator does: the packaged {@code target/extensions-jars/} copied into
 * James's {@code extensions-jars/}, the single-node sample as {@code conf/}, James 3.8.1 started with
 * {@code MemoryJamesServerMain.main} in its own JVM. Then a relay attempt over SMTP, and the refusal counter
 * read over James's real JMX connector with the credentials James generated.
 */
class OperatorWayIT {

    @TempDir
    Path root;

    @Test
    void packagedJarRefusesRelayAndCountsItOverJmx() throws Exception {
        int jmxPort = freePort();
        SampleConf conf = SampleConf.copyTo(root.resolve("conf"));
        conf.replace("jmx.properties", "jmx.port=9999", "jmx.port=" + jmxPort);
        Path extensions = Files.createDirectories(root.resolve("extensions-jars"));
        List<Path> shipped = copyShippedJars(extensions);
        assertThat(shipped).anyMatch(jar -> jar.getFileName().toString().startsWith("relayguard-"));

        String jamesClasspath = Files.readString(Paths.get(System.getProperty("relayguard.jamesClasspathFile"))).trim();
        assertThat(jamesClasspath).doesNotContain("relayguard-").doesNotContain("target" + File.separator + "classes");

        Path log = root.resolve("james.log");
        Process james = new ProcessBuilder(
            Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx512m",
            "-Dworking.directory=" + root,
            "-Dlogback.configurationFile=" + conf.dir().resolve("logback.xml"),
            "-Dextra.props=" + conf.dir().resolve("jvm.properties"),
            "-cp", jamesClasspath,
            "org.apache.james.MemoryJamesServerMain")
            .directory(root.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
        try {
            Path passwordFile = conf.dir().resolve("jmxremote.password");
            try (JMXConnector jmx = awaitJmx(james, jmxPort, passwordFile, log)) {
                MBeanServerConnection connection = jmx.getMBeanServerConnection();
                int mxPort = awaitBoundPort(james, connection, "smtp-mx", log);

                try (SmtpClient smtp = SmtpClient.connect(mxPort)) {
                    smtp.ehlo("prober.example");
                    smtp.mailFrom("spammer@prober.example");
                    Reply rcpt = smtp.rcptTo("victim@remote.example");
                    assertThat(rcpt.code()).isEqualTo(550);
                    assertThat(rcpt.enhancedStatus()).isEqualTo("5.7.1");
                }
                assertThat(Metrics.over(connection).meterCount("relayguard.refused.relay.unauthenticated")).isEqualTo(1);
            }
            assertThat(Files.readString(log))
                .contains("Loading custom classpath resource")
                .contains("relayguard-")
                .contains("reason=relay.unauthenticated");
        } finally {
            james.destroy();
            if (!james.waitFor(60, TimeUnit.SECONDS)) {
                james.destroyForcibly();
            }
        }
    }

    private static List<Path> copyShippedJars(Path extensions) throws IOException {
        Path built = Paths.get(System.getProperty("relayguard.extensionsDir"));
        try (Stream<Path> jars = Files.list(built)) {
            for (Path jar : (Iterable<Path>) jars::iterator) {
                Files.copy(jar, extensions.resolve(jar.getFileName()));
            }
        }
        try (Stream<Path> copied = Files.list(extensions)) {
            return copied.collect(java.util.stream.Collectors.toList());
        }
    }

    private static JMXConnector awaitJmx(Process james, int port, Path passwordFile, Path log) throws Exception {
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + port + "/jmxrmi");
        Instant deadline = Instant.now().plus(Duration.ofMinutes(3));
        Exception last = null;
        while (Instant.now().isBefore(deadline)) {
            assertAlive(james, log);
            if (Files.exists(passwordFile)) {
                String[] credentials = Files.readString(passwordFile).trim().split("\\s+");
                try {
                    return JMXConnectorFactory.connect(url, Map.of(JMXConnector.CREDENTIALS, credentials));
                } catch (IOException | SecurityException e) {
                    last = e;
                }
            }
            Thread.sleep(250);
        }
        throw new AssertionError("JMX never came up on port " + port + "\n" + tail(log), last);
    }

    private static int awaitBoundPort(Process james, MBeanServerConnection connection, String jmxName, Path log) throws Exception {
        ObjectName server = new ObjectName("org.apache.james:type=server,name=" + jmxName);
        Instant deadline = Instant.now().plus(Duration.ofMinutes(3));
        while (Instant.now().isBefore(deadline)) {
            assertAlive(james, log);
            if (connection.isRegistered(server)) {
                String[] bound = (String[]) connection.getAttribute(server, "BoundAddresses");
                if (bound != null && bound.length > 0) {
                    String address = bound[0];
                    int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
                    if (port > 0) {
                        return port;
                    }
                }
            }
            Thread.sleep(250);
        }
        throw new AssertionError("SMTP listener " + jmxName + " never bound\n" + tail(log));
    }

    private static void assertAlive(Process james, Path log) throws IOException {
        if (!james.isAlive()) {
            throw new AssertionError("James exited with " + james.exitValue() + "\n" + tail(log));
        }
    }

    private static String tail(Path log) throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
