package dev.relayguard.it;

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
import java.util.stream.Collectors;
import java.util.stream.Stream;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * James 3.8.1 installed and started the operator way, in its own JVM: {@code <root>/conf} from the sample,
 * {@code <root>/extensions-jars} from the packaged {@code target/extensions-jars}, started with
 * {@code MemoryJamesServerMain.main} on the James memory server's class path (which does not hold our jar).
 */
public final class JamesProcess implements AutoCloseable {
    private final Path root;
    private final SampleConf conf;
    private int jmxPort;
    private final Path log;
    private Process process;

    private JamesProcess(Path root, SampleConf conf, int jmxPort) {
        this.root = root;
        this.conf = conf;
        this.jmxPort = jmxPort;
        this.log = root.resolve("james.log");
    }

    /**
     * Lays out {@code root} like a James installation; JMX and WebAdmin on loopback ports free at this moment (they
     * must be written in the configuration: James's JMX cannot take port 0). Should another process take one of
     * them before James binds it, {@link #connectJmx()} starts James again on other ports.
     */
    public static JamesProcess install(Path root) throws IOException {
        return install(root, SampleConf.copyTo(root.resolve("conf")));
    }

    /**
     * As {@link #install(Path)} with a configuration already laid in {@code <root>/conf} whose
     * {@code jmx.properties} says {@code jmx.port=9999} and {@code webadmin.properties} {@code port=0}.
     */
    public static JamesProcess install(Path root, SampleConf conf) throws IOException {
        int jmxPort = freePort();
        conf.replace("jmx.properties", "jmx.port=9999", "jmx.port=" + jmxPort);
        conf.replace("webadmin.properties", "port=0", "port=" + freePort());
        Path extensions = Files.createDirectories(root.resolve("extensions-jars"));
        try (Stream<Path> jars = Files.list(Paths.get(System.getProperty("relayguard.extensionsDir")))) {
            for (Path jar : (Iterable<Path>) jars::iterator) {
                Files.copy(jar, extensions.resolve(jar.getFileName()));
            }
        }
        return new JamesProcess(root, conf, jmxPort);
    }

    /** The WebAdmin port written into webadmin.properties. */
    public int webAdminPort() throws IOException {
        String properties = java.nio.file.Files.readString(conf.dir().resolve("webadmin.properties"));
        java.util.regex.Matcher port = java.util.regex.Pattern.compile("(?m)^port=(\\d+)").matcher(properties);
        if (!port.find()) {
            throw new IllegalStateException("no port in webadmin.properties");
        }
        return Integer.parseInt(port.group(1));
    }

    public SampleConf conf() {
        return conf;
    }

    public List<String> extensionJars() throws IOException {
        try (Stream<Path> jars = Files.list(root.resolve("extensions-jars"))) {
            return jars.map(jar -> jar.getFileName().toString()).collect(Collectors.toList());
        }
    }

    public static String jamesClasspath() throws IOException {
        return Files.readString(Paths.get(System.getProperty("relayguard.jamesClasspathFile"))).trim();
    }

    public JamesProcess start() throws IOException {
        process = new ProcessBuilder(
            Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx512m",
            "-Dworking.directory=" + root,
            "-Dlogback.configurationFile=" + conf.dir().resolve("logback.xml"),
            "-Dextra.props=" + conf.dir().resolve("jvm.properties"),
            "-cp", jamesClasspath(),
            "org.apache.james.MemoryJamesServerMain")
            .directory(root.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
        return this;
    }

    /**
     * Waits for James's JMX connector and logs in with the credentials James generated. When James exited because
     * its JMX or WebAdmin port was taken in the meantime, it is started again on other free ports (at most twice).
     */
    public JMXConnector connectJmx() throws Exception {
        for (int restarts = 0; ; restarts++) {
            try {
                return awaitJmx();
            } catch (AssertionError e) {
                if (restarts == 2 || process.isAlive() || !log().contains("Address already in use")) {
                    throw e;
                }
                int taken = jmxPort;
                jmxPort = freePort();
                conf.replace("jmx.properties", "jmx.port=" + taken, "jmx.port=" + jmxPort);
                conf.replace("webadmin.properties", "port=" + webAdminPort(), "port=" + freePort());
                start();
            }
        }
    }

    private JMXConnector awaitJmx() throws Exception {
        Path passwordFile = conf.dir().resolve("jmxremote.password");
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + jmxPort + "/jmxrmi");
        // A bound for "it never starts", not a timing: two James JVMs booting side by side on 2 busy CPUs took over 3 min.
        Instant deadline = Instant.now().plus(Duration.ofMinutes(6));
        Exception last = null;
        while (Instant.now().isBefore(deadline)) {
            assertAlive();
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
        throw new AssertionError("JMX never came up on port " + jmxPort + "\n" + logTail(), last);
    }

    /** The port an SMTP listener bound (it was configured with port 0), read from its James MBean. */
    public int boundPort(MBeanServerConnection connection, String jmxName) throws Exception {
        ObjectName server = new ObjectName("org.apache.james:type=server,name=" + jmxName);
        Instant deadline = Instant.now().plus(Duration.ofMinutes(3));
        while (Instant.now().isBefore(deadline)) {
            assertAlive();
            if (connection.isRegistered(server)) {
                String[] bound = (String[]) connection.getAttribute(server, "BoundAddresses");
                if (bound != null && bound.length > 0) {
                    int port = Integer.parseInt(bound[0].substring(bound[0].lastIndexOf(':') + 1));
                    if (port > 0) {
                        return port;
                    }
                }
            }
            Thread.sleep(250);
        }
        throw new AssertionError("SMTP listener " + jmxName + " never bound\n" + logTail());
    }

    /** Waits for the JVM to exit on its own and returns its exit code. */
    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("James did not exit within " + timeout);
        }
        return process.exitValue();
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    private void assertAlive() throws IOException {
        if (!process.isAlive()) {
            throw new AssertionError("James exited with " + process.exitValue() + "\n" + logTail());
        }
    }

    private String logTail() throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy(); // SIGTERM: James's shutdown hook stops it cleanly
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
