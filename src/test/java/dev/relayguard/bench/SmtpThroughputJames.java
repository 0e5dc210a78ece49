package dev.relayguard.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * One James 3.8.1 installation of the throughput benchmark, laid out and started the operator way (like
 * {@code integration-tests/.../JamesProcess}): {@code conf/} from {@code conf-samples/single-node}, the packaged
 * {@code target/extensions-jars} in {@code extensions-jars/} (RelayGuard variants only), {@code MemoryJamesServerMain}
 * in a child JVM on {@code target/james-classpath.txt}, James's real JMX connector with the credentials James
 * generates, listeners on {@code 127.0.0.1:0} and their ports read from the server MBeans.
 *
 * <p>Variants (same James files otherwise, same JVM options):
 * <ul>
 *   <li>{@code stock}: the sample with RelayGuard taken out: no RelayGuardHandler in {@code smtpserver.xml}, an empty
 *       {@code extensions.properties}, no {@code RelayGuardRoutes} in {@code webadmin.properties}, no
 *       {@code relayguard.xml}, no extension jars, and in {@code mailetcontainer.xml}
 *       James's own transport processor (relay-allowed composite, relay-denied processor) instead of RelayGuard's
 *       four mailets.</li>
 *   <li>{@code relayguard}: the sample as shipped (every hook, both mailets, the in-memory limiter) with probe bans
 *       off and the {@code users} limits raised so that nothing is ever refused. The load comes from strangers on
 *       the MX listener, which have no rate subject: the limiter is configured but charges nothing.</li>
 *   <li>{@code relayguard-limiter}: as {@code relayguard}, plus {@code 127.0.0.0/8} in {@code trustedNetworks} and
 *       raised {@code trustedClients} limits (messages in two windows, recipients, bytes): every MAIL, RCPT and end
 *       of DATA is charged to the in-memory limiter, keyed by the client IP.</li>
 * </ul>
 * Variants of the {@code submission} load (authenticated users on the submission listener, STARTTLS then AUTH PLAIN):
 * <ul>
 *   <li>{@code stock}: as above; James's own AUTH and relay rules on the same two listeners with the same TLS.</li>
 *   <li>{@code relayguard-full}: the sample as shipped, probe bans off and the {@code users} limits raised (still
 *       configured, so every MAIL, RCPT and end of DATA is charged to the user's key): sender ownership, the
 *       From:/Sender: header check, the AUTH limits (attempt check and success record per login), the rate limits
 *       in memory.</li>
 *   <li>{@code relayguard-redis}: as {@code relayguard-full} with {@code <store>redis</store>} and the URL of the
 *       benchmark's own {@link SmtpThroughputRedis}: rate limits, AUTH state, suspensions and bans in Redis.</li>
 * </ul>
 */
final class SmtpThroughputJames implements AutoCloseable {
    static final String STOCK = "stock";
    static final String RELAYGUARD = "relayguard";
    static final String RELAYGUARD_LIMITER = "relayguard-limiter";
    static final List<String> VARIANTS = List.of(STOCK, RELAYGUARD, RELAYGUARD_LIMITER);
    static final String RELAYGUARD_FULL = "relayguard-full";
    static final String RELAYGUARD_REDIS = "relayguard-redis";
    static final List<String> SUBMISSION_VARIANTS = List.of(STOCK, RELAYGUARD_FULL, RELAYGUARD_REDIS);
    /** The keystore password of smtpserver.xml in the sample (its {@code <secret>}). */
    static final String KEYSTORE_PASSWORD = "james72laBalle";

    /** The variants of a load mode: {@code mx} or {@code submission}. */
    static List<String> variants(boolean submission) {
        return submission ? SUBMISSION_VARIANTS : VARIANTS;
    }

    private static final String RAISED_LIMITS =
        "\n            <limit measure=\"messages\" max=\"100000000\" per=\"1m\"/>"
        + "\n            <limit measure=\"messages\" max=\"1000000000\" per=\"1d\"/>"
        + "\n            <limit measure=\"recipients\" max=\"1000000000\" per=\"1h\"/>"
        + "\n            <limit measure=\"bytes\" max=\"2000M\" per=\"1d\"/>\n        ";

    private final Path root;
    private final String variant;
    private final int jmxPort;
    private final int webAdminPort;
    private final Path log;
    private Process process;
    private JMXConnector connector;

    private SmtpThroughputJames(Path root, String variant, int jmxPort, int webAdminPort) {
        this.root = root;
        this.variant = variant;
        this.jmxPort = jmxPort;
        this.webAdminPort = webAdminPort;
        this.log = root.resolve("james.log");
    }

    /**
     * Lays out {@code root} as a James installation of this variant; {@code redisUrl} is the Redis of
     * {@code relayguard-redis} (null for the other variants).
     */
    static SmtpThroughputJames install(Path root, String variant, Path projectDir, Path keystore, boolean discard,
                                       String redisUrl) throws IOException {
        if (!VARIANTS.contains(variant) && !SUBMISSION_VARIANTS.contains(variant)) {
            throw new IllegalArgumentException("unknown variant " + variant + " (known: " + VARIANTS + ", "
                + SUBMISSION_VARIANTS + ")");
        }
        if (variant.equals(RELAYGUARD_REDIS) == (redisUrl == null)) {
            throw new IllegalArgumentException("a Redis URL is for relayguard-redis, and only for it");
        }
        Path conf = Files.createDirectories(root.resolve("conf"));
        try (Stream<Path> files = Files.list(projectDir.resolve("conf-samples/single-node"))) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Files.copy(file, conf.resolve(file.getFileName()));
            }
        }
        Files.copy(keystore, conf.resolve("keystore"));
        int jmxPort = freePort();
        int webAdminPort = freePort();
        replace(conf, "smtpserver.xml", "<bind>127.0.0.1:2525</bind>", "<bind>127.0.0.1:0</bind>");
        replace(conf, "smtpserver.xml", "<bind>127.0.0.1:5870</bind>", "<bind>127.0.0.1:0</bind>");
        replace(conf, "jmx.properties", "jmx.port=9999", "jmx.port=" + jmxPort);
        replace(conf, "webadmin.properties", "port=8000", "port=" + webAdminPort);
        // As the integration tests do: no real DNS (the benchmark only delivers locally).
        Files.writeString(conf.resolve("dnsservice.xml"), "<dnsservice><autodiscover>false</autodiscover>"
            + "<servers><server>127.0.0.1</server></servers><authoritative>false</authoritative>"
            + "<maxcachesize>50000</maxcachesize></dnsservice>\n");
        if (discard) {
            // Same in every variant: the whole pipeline runs (RelayGuard's mailets, RecipientRewriteTable,
            // RecipientIsLocal, Sieve, AddDeliveredToHeader), only the final mailbox append is dropped.
            replace(conf, "mailetcontainer.xml", "<mailet match=\"All\" class=\"LocalDelivery\"/>",
                "<mailet match=\"All\" class=\"Null\"/> <!-- smtp-throughput, delivery discard: was LocalDelivery -->");
        }
        Path extensions = Files.createDirectories(root.resolve("extensions-jars"));
        if (variant.equals(STOCK)) {
            removeRelayGuard(conf);
        } else {
            replace(conf, "relayguard.xml", "<refusals>10</refusals>", "<refusals>0</refusals>");
            replaceRegex(conf, "relayguard.xml", "(?s)<users>.*?</users>", "<users>" + RAISED_LIMITS + "</users>");
            if (variant.equals(RELAYGUARD_LIMITER)) {
                replace(conf, "relayguard.xml", "<trustedNetworks/>",
                    "<trustedNetworks><network>127.0.0.0/8</network></trustedNetworks>");
                replace(conf, "relayguard.xml", "</users>", "</users>\n        <trustedClients>" + RAISED_LIMITS + "</trustedClients>");
            }
            if (variant.equals(RELAYGUARD_REDIS)) {
                replace(conf, "relayguard.xml", "<store>memory</store>",
                    "<store>redis</store> <redisURL>" + redisUrl + "</redisURL>");
            }
            try (Stream<Path> jars = Files.list(projectDir.resolve("target/extensions-jars"))) {
                for (Path jar : (Iterable<Path>) jars::iterator) {
                    Files.copy(jar, extensions.resolve(jar.getFileName()));
                }
            }
        }
        return new SmtpThroughputJames(root, variant, jmxPort, webAdminPort);
    }

    /** The stock James configuration: the sample's files with every RelayGuard piece taken out. */
    private static void removeRelayGuard(Path conf) throws IOException {
        replaceRegex(conf, "smtpserver.xml",
            "(?s)[ \\t]*<handler class=\"dev\\.relayguard\\.smtp\\.RelayGuardHandler\">.*?</handler>[ \\t]*\\r?\\n", "");
        Files.writeString(conf.resolve("extensions.properties"), "# stock James 3.8.1: no extension module\n");
        Files.delete(conf.resolve("relayguard.xml"));
        replaceRegex(conf, "webadmin.properties", ",\\s*dev\\.relayguard\\.webadmin\\.RelayGuardRoutes", "");
        replaceRegex(conf, "mailetcontainer.xml",
            "[ \\t]*<mailet match=\"dev\\.relayguard\\.mailet\\.IsSenderNotOwned\" class=\"dev\\.relayguard\\.mailet\\.RefuseSender\"/>\\r?\\n", "");
        replaceRegex(conf, "mailetcontainer.xml",
            "[ \\t]*<mailet match=\"All\" class=\"dev\\.relayguard\\.mailet\\.ChargeSenderLimits\"/>\\r?\\n", "");
        replaceRegex(conf, "mailetcontainer.xml",
            "[ \\t]*<mailet match=\"dev\\.relayguard\\.mailet\\.HasRoutingSyntax\" class=\"dev\\.relayguard\\.mailet\\.RefuseRelay\"/>\\r?\\n", "");
        replaceRegex(conf, "mailetcontainer.xml",
            "[ \\t]*<mailet match=\"dev\\.relayguard\\.mailet\\.IsRelayDenied\" class=\"dev\\.relayguard\\.mailet\\.RefuseRelay\"/>\\r?\\n", "");
        // James 3.8.1's own transport ending: relay-allowed composite -> relay, everything else -> relay-denied.
        replace(conf, "mailetcontainer.xml", "<processor state=\"transport\" enableJmx=\"true\">",
            "<processor state=\"transport\" enableJmx=\"true\">\n"
            + "            <matcher name=\"relay-allowed\" match=\"org.apache.james.mailetcontainer.impl.matchers.Or\">\n"
            + "                <matcher match=\"SMTPAuthSuccessful\"/>\n"
            + "                <matcher match=\"SMTPIsAuthNetwork\"/>\n"
            + "                <matcher match=\"SentByMailet\"/>\n"
            + "            </matcher>");
        replaceRegex(conf, "mailetcontainer.xml",
            "<mailet match=\"All\" class=\"ToProcessor\">\\s*<processor>relay</processor>\\s*</mailet>",
            "<mailet match=\"relay-allowed\" class=\"ToProcessor\">\n"
            + "                <processor>relay</processor>\n"
            + "            </mailet>\n"
            + "            <mailet match=\"All\" class=\"ToProcessor\">\n"
            + "                <processor>relay-denied</processor>\n"
            + "            </mailet>");
        replace(conf, "mailetcontainer.xml", "</processors>",
            "    <processor state=\"relay-denied\" enableJmx=\"true\">\n"
            + "            <mailet match=\"All\" class=\"Bounce\">\n"
            + "                <attachment>none</attachment>\n"
            + "            </mailet>\n"
            + "            <mailet match=\"All\" class=\"ToRepository\">\n"
            + "                <repositoryPath>memory://var/mail/relay-denied/</repositoryPath>\n"
            + "            </mailet>\n"
            + "        </processor>\n"
            + "    </processors>");
        for (String file : List.of("smtpserver.xml", "mailetcontainer.xml", "extensions.properties", "webadmin.properties")) {
            String withoutComments = Files.readString(conf.resolve(file)).replaceAll("(?s)<!--.*?-->", "")
                .replaceAll("(?m)^\\s*#.*$", "");
            if (withoutComments.contains("dev.relayguard")) {
                throw new IllegalStateException("stock " + file + " still names dev.relayguard: the sample changed, "
                    + "update SmtpThroughputJames.removeRelayGuard");
            }
        }
    }

    Path root() {
        return root;
    }

    Path log() {
        return log;
    }

    String variant() {
        return variant;
    }

    SmtpThroughputJames start(String heap, List<String> extraJvmOptions) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xms" + heap);
        command.add("-Xmx" + heap);
        command.add("-XX:+UseG1GC");
        command.addAll(extraJvmOptions);
        command.add("-Dworking.directory=" + root);
        command.add("-Dlogback.configurationFile=" + root.resolve("conf/logback.xml"));
        command.add("-Dextra.props=" + root.resolve("conf/jvm.properties"));
        command.add("-cp");
        command.add(jamesClasspath);
        command.add("org.apache.james.MemoryJamesServerMain");
        process = new ProcessBuilder(command)
            .directory(root.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
        return this;
    }

    private static String jamesClasspath;

    static void jamesClasspath(Path projectDir) throws IOException {
        Path file = projectDir.resolve("target/james-classpath.txt");
        if (!Files.exists(file) || !Files.isDirectory(projectDir.resolve("target/extensions-jars"))) {
            throw new IllegalStateException(file + " or target/extensions-jars missing: run mvn -DskipTests package first"
                + " (benchmarks/smtp-throughput.sh does)");
        }
        jamesClasspath = Files.readString(file).trim();
    }

    long pid() {
        return process.pid();
    }

    /** Waits for James's JMX connector and logs in with the credentials James generated. */
    MBeanServerConnection connectJmx() throws Exception {
        Path passwordFile = root.resolve("conf/jmxremote.password");
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + jmxPort + "/jmxrmi");
        Instant deadline = Instant.now().plus(Duration.ofMinutes(4));
        Exception last = null;
        while (Instant.now().isBefore(deadline)) {
            assertAlive();
            if (Files.exists(passwordFile)) {
                String[] credentials = Files.readString(passwordFile).trim().split("\\s+");
                try {
                    connector = JMXConnectorFactory.connect(url, Map.of(JMXConnector.CREDENTIALS, credentials));
                    return connector.getMBeanServerConnection();
                } catch (IOException | SecurityException e) {
                    last = e;
                }
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException("JMX never came up on port " + jmxPort + "\n" + logTail(60), last);
    }

    /** The port an SMTP listener bound (configured with port 0), from its James MBean. */
    int boundPort(MBeanServerConnection connection, String jmxName) throws Exception {
        ObjectName server = new ObjectName("org.apache.james:type=server,name=" + jmxName);
        Instant deadline = Instant.now().plus(Duration.ofMinutes(4));
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
        throw new IllegalStateException("SMTP listener " + jmxName + " never bound\n" + logTail(60));
    }

    /** The size of James's spool queue from WebAdmin ({@code GET /mailQueues/spool}), or -1 when unavailable. */
    long spoolSize() {
        try {
            HttpURLConnection http = (HttpURLConnection) new URL("http://127.0.0.1:" + webAdminPort + "/mailQueues/spool")
                .openConnection();
            http.setConnectTimeout(2000);
            http.setReadTimeout(5000);
            if (http.getResponseCode() != 200) {
                return -1;
            }
            String body;
            try (InputStream in = http.getInputStream()) {
                body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            Matcher size = Pattern.compile("\"size\"\\s*:\\s*(\\d+)").matcher(body);
            return size.find() ? Long.parseLong(size.group(1)) : -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    void assertAlive() throws IOException {
        if (!process.isAlive()) {
            throw new IllegalStateException("James (" + variant + ") exited with " + process.exitValue() + "\n" + logTail(80));
        }
    }

    String logTail(int lines) throws IOException {
        if (!Files.exists(log)) {
            return "(no log)";
        }
        List<String> all = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (connector != null) {
            try {
                connector.close();
            } catch (IOException ignored) {
                // James may already be gone
            }
        }
        if (process != null && process.isAlive()) {
            process.destroy(); // SIGTERM: James's shutdown hook stops it cleanly
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /** Kills the child JVM without waiting (shutdown hook of the benchmark). */
    void kill() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
    }

    void copyLogTo(Path target) throws IOException {
        if (Files.exists(log)) {
            Files.createDirectories(target.getParent());
            Files.copy(log, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void replace(Path conf, String file, String from, String to) throws IOException {
        Path path = conf.resolve(file);
        String content = Files.readString(path);
        if (!content.contains(from)) {
            throw new IllegalStateException(file + " does not contain " + from + ": the sample changed, update SmtpThroughputJames");
        }
        Files.writeString(path, content.replace(from, to));
    }

    private static void replaceRegex(Path conf, String file, String regex, String to) throws IOException {
        Path path = conf.resolve(file);
        String content = Files.readString(path);
        Matcher matcher = Pattern.compile(regex).matcher(content);
        if (!matcher.find()) {
            throw new IllegalStateException(file + " has nothing matching " + regex + ": the sample changed, update SmtpThroughputJames");
        }
        Files.writeString(path, matcher.replaceAll(Matcher.quoteReplacement(to)));
    }

    /**
     * A port for James's JMX connector and WebAdmin, below the ephemeral range (32768+ on Linux): the load's client
     * connections of earlier runs linger in TIME_WAIT on ephemeral ports, and James's RMI registry binds the wildcard
     * address without SO_REUSEADDR, so an ephemeral "free" port can still fail there.
     */
    static int freePort() throws IOException {
        java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 20_000 + random.nextInt(12_000);
            if (USED_PORTS.contains(port)) {
                continue;
            }
            try (ServerSocket socket = new ServerSocket()) {
                socket.setReuseAddress(false);
                socket.bind(new java.net.InetSocketAddress(port));
                USED_PORTS.add(port);
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IOException("no free port found in 20000-31999");
    }

    /** Ports handed out in this benchmark run (each James gets fresh ones). */
    private static final java.util.Set<Integer> USED_PORTS = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static void generateKeystore(Path keystore) throws IOException, InterruptedException {
        Path keytool = Paths.get(System.getProperty("java.home"), "bin", "keytool");
        Process keytoolProcess = new ProcessBuilder(keytool.toString(), "-genkeypair", "-alias", "james", "-keyalg", "RSA",
            "-keysize", "2048", "-storetype", "PKCS12", "-keystore", keystore.toString(),
            "-storepass", KEYSTORE_PASSWORD, "-keypass", KEYSTORE_PASSWORD,
            "-dname", "CN=localhost", "-validity", "30")
            .redirectErrorStream(true)
            .start();
        String output = new String(keytoolProcess.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!keytoolProcess.waitFor(60, TimeUnit.SECONDS) || keytoolProcess.exitValue() != 0) {
            throw new IllegalStateException("keytool failed: " + output);
        }
    }
}
