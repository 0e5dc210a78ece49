package dev.relayguard.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A copy of {@code conf-samples/single-node/} for one test server, so the tests run the sample exactly as
 * shipped, with only what a test must change: listeners on port 0 (the OS picks free ports), DNS pointed
 * at loopback (no real DNS from tests), a freshly generated keystore, and per-test edits.
 */
public final class SampleConf {
    private final Path confDir;

    private SampleConf(Path confDir) {
        this.confDir = confDir;
    }

    public static Path projectDir() {
        return Paths.get(System.getProperty("relayguard.projectDir", ".")).toAbsolutePath().normalize();
    }

    public static Path sampleDir() {
        return projectDir().resolve("conf-samples/single-node");
    }

    /** Copies the sample into {@code confDir} and applies the test-only changes listed above. */
    public static SampleConf copyTo(Path confDir) {
        SampleConf conf = copyOf(sampleDir(), confDir);
        conf.replace("smtpserver.xml", "<bind>127.0.0.1:2525</bind>", "<bind>127.0.0.1:0</bind>");
        conf.replace("smtpserver.xml", "<bind>127.0.0.1:5870</bind>", "<bind>127.0.0.1:0</bind>");
        conf.replace("webadmin.properties", "port=8000", "port=0");
        conf.write("dnsservice.xml", "<dnsservice><autodiscover>false</autodiscover>"
            + "<servers><server>127.0.0.1</server></servers><authoritative>false</authoritative>"
            + "<maxcachesize>50000</maxcachesize></dnsservice>");
        generateKeystore(confDir.resolve("keystore"));
        return conf;
    }

    /**
     * Copies every file of {@code sourceDir} except its {@code README.md} into {@code confDir}, unchanged (no test
     * edit): a configuration other than our sample, James's own one say.
     */
    public static SampleConf copyOf(Path sourceDir, Path confDir) {
        try {
            Files.createDirectories(confDir);
            try (Stream<Path> files = Files.list(sourceDir)) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    if (!file.getFileName().toString().equals("README.md")) {
                        Files.copy(file, confDir.resolve(file.getFileName()));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new SampleConf(confDir);
    }

    public Path dir() {
        return confDir;
    }

    public SampleConf replace(String file, String from, String to) {
        try {
            Path path = confDir.resolve(file);
            String content = Files.readString(path);
            if (!content.contains(from)) {
                throw new IllegalStateException(file + " does not contain " + from);
            }
            Files.writeString(path, content.replace(from, to));
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public SampleConf write(String file, String content) {
        try {
            Files.writeString(confDir.resolve(file), content, StandardCharsets.UTF_8);
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Replaces the policy file with this content inside {@code <relayguard>}. */
    public SampleConf policyXml(String inner) {
        return write("relayguard.xml", "<relayguard>" + inner + "</relayguard>");
    }

    /** Switches probe bans off in the sample policy (tests that refuse many relays from 127.0.0.1). */
    public SampleConf withoutProbeBans() {
        return replace("relayguard.xml", "<refusals>10</refusals>", "<refusals>0</refusals>");
    }

    /** Replaces the policy file with these trusted networks and relay domains. */
    public SampleConf policy(String trustedNetworksXml, String relayDomainsXml) {
        return write("relayguard.xml", "<relayguard><trustedNetworks>" + trustedNetworksXml + "</trustedNetworks>"
            + "<relayDomains>" + relayDomainsXml + "</relayDomains></relayguard>");
    }

    static void generateKeystore(Path keystore) {
        Path keytool = Paths.get(System.getProperty("java.home"), "bin", "keytool");
        try {
            Process process = new ProcessBuilder(keytool.toString(), "-genkeypair", "-alias", "james", "-keyalg", "RSA",
                "-keysize", "2048", "-storetype", "PKCS12", "-keystore", keystore.toString(),
                "-storepass", "james72laBalle", "-keypass", "james72laBalle",
                "-dname", "CN=localhost", "-validity", "30")
                .redirectErrorStream(true)
                .start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException("keytool failed: " + output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
