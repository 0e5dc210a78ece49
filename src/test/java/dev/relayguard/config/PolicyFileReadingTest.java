package dev.relayguard.config;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Reading relayguard.xml safely: regular files only, size-capped, no DTD or entity (XXE). */
class PolicyFileReadingTest {
    private static final String GOOD = "<relayguard><relayDomains><domain>backup.example</domain></relayDomains></relayguard>";

    @TempDir
    Path dir;

    private Path file() {
        return dir.resolve(PolicyFile.FILE_NAME);
    }

    @Test
    void aGoodFileIsRead() throws Exception {
        Files.writeString(file(), GOOD, UTF_8);
        Optional<RelayGuardSettings> settings = PolicyFile.read(file(), PolicyFile.FILE_NAME);
        assertThat(settings).isPresent();
        assertThat(settings.get().relayPolicy().relayDomains()).containsExactly("backup.example");
    }

    @Test
    void aMissingFileIsEmptyNotAnError() {
        assertThat(PolicyFile.readBytes(file())).isEmpty();
        assertThat(PolicyFile.read(file(), PolicyFile.FILE_NAME)).isEmpty();
    }

    @Test
    void aDirectoryIsRefused() throws Exception {
        Files.createDirectory(file());
        assertThatThrownBy(() -> PolicyFile.readBytes(file()))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining(file().toString())
            .hasMessageContaining("not a regular file")
            .hasMessageContaining("directory");
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void aFifoIsRefusedWithoutBlocking() throws Exception {
        Process mkfifo;
        try {
            mkfifo = new ProcessBuilder("mkfifo", file().toString()).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            assumeThat(false).as("mkfifo not available: " + e.getMessage()).isTrue();
            return;
        }
        assertThat(mkfifo.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assumeThat(mkfifo.exitValue()).as("mkfifo failed").isZero();

        assertThatThrownBy(() -> PolicyFile.readBytes(file()))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining(file().toString())
            .hasMessageContaining("not a regular file");
    }

    @Test
    void anOversizedFileIsRefusedBeforeReading() throws Exception {
        try (RandomAccessFile sparse = new RandomAccessFile(file().toFile(), "rw")) {
            sparse.setLength(64L * 1024 * 1024); // 64 MiB, sparse: nothing is written, and nothing may be read
        }
        assertThatThrownBy(() -> PolicyFile.readBytes(file()))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining(file().toString())
            .hasMessageContaining(String.valueOf(64L * 1024 * 1024))
            .hasMessageContaining("larger than");
    }

    @Test
    void aFileOfExactlyTheLimitIsRead() throws Exception {
        byte[] content = new byte[(int) PolicyFile.MAX_BYTES];
        java.util.Arrays.fill(content, (byte) ' ');
        byte[] good = GOOD.getBytes(UTF_8);
        System.arraycopy(good, 0, content, 0, good.length);
        Files.write(file(), content);
        assertThat(PolicyFile.read(file(), PolicyFile.FILE_NAME)).isPresent();
    }

    @Test
    void anUnreadableFileIsRefused() throws Exception {
        assumeThat(System.getProperty("user.name")).as("root reads files whatever their mode").isNotEqualTo("root");
        Files.writeString(file(), GOOD, UTF_8);
        Files.setPosixFilePermissions(file(), PosixFilePermissions.fromString("---------"));
        try {
            assumeThat(Files.isReadable(file())).as("this user can read mode 000 files").isFalse();
            assertThatThrownBy(() -> PolicyFile.readBytes(file()))
                .isInstanceOf(InvalidConfigurationException.class)
                .hasMessageContaining(file().toString())
                .hasMessageContaining("cannot be read");
        } finally {
            Files.setPosixFilePermissions(file(), PosixFilePermissions.fromString("rw-------"));
        }
    }

    @Test
    void anExternalEntityIsRefusedAndTheErrorNamesTheFile() throws Exception {
        Path secret = dir.resolve("hostname");
        Files.writeString(secret, "leaked.example", UTF_8);
        Files.writeString(file(), "<!DOCTYPE relayguard [<!ENTITY x SYSTEM \"" + secret.toUri() + "\">]>"
            + "<relayguard><relayDomains><domain>&x;</domain></relayDomains></relayguard>", UTF_8);
        assertThatThrownBy(() -> PolicyFile.read(file(), PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith(PolicyFile.FILE_NAME + ": ")
            .hasMessageContaining("DOCTYPE")
            .hasMessageNotContaining("leaked.example");
    }

    @Test
    void anyDoctypeIsRefusedEvenWithoutEntities() {
        assertThatThrownBy(() -> PolicyFile.parseXml(("<!DOCTYPE relayguard>" + GOOD).getBytes(UTF_8), PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith(PolicyFile.FILE_NAME + ": ")
            .hasMessageContaining("DOCTYPE");
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void entityExpansionBombsAreRefused() {
        StringBuilder bomb = new StringBuilder("<!DOCTYPE relayguard [<!ENTITY a \"aaaaaaaaaa\">");
        for (char c = 'b'; c <= 'j'; c++) {
            bomb.append("<!ENTITY ").append(c).append(" \"")
                .append(String.valueOf("&" + (char) (c - 1) + ";").repeat(10)).append("\">");
        }
        bomb.append("]><relayguard><relayDomains><domain>&j;</domain></relayDomains></relayguard>");
        assertThatThrownBy(() -> PolicyFile.parseXml(bomb.toString().getBytes(UTF_8), PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith(PolicyFile.FILE_NAME + ": ");
    }

    @Test
    void elementsNestedTooDeeplyAreAClearRefusalNotAnError() {
        // Under the size limit, but deep enough to exhaust the parser's stack.
        String deep = "<relayguard>" + "<a>".repeat(100_000) + "</a>".repeat(100_000) + "</relayguard>";
        assertThatThrownBy(() -> PolicyFile.parseXml(deep.getBytes(java.nio.charset.StandardCharsets.UTF_8), PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageContaining(PolicyFile.FILE_NAME);
    }

    @Test
    void aPlainSyntaxErrorDoesNotBlameADoctype() {
        assertThatThrownBy(() -> PolicyFile.parseXml(new byte[0], PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageNotContaining("DOCTYPE");
    }

    @Test
    void malformedXmlNamesTheFile() {
        assertThatThrownBy(() -> PolicyFile.parseXml("<relayguard>".getBytes(UTF_8), PolicyFile.FILE_NAME))
            .isInstanceOf(InvalidConfigurationException.class)
            .hasMessageStartingWith(PolicyFile.FILE_NAME + ": ");
    }

    @Test
    void parsingMatchesJamesForTheShippedSample() throws Exception {
        byte[] sample = Files.readAllBytes(Path.of("conf-samples/single-node/relayguard.xml"));
        RelayGuardSettings settings = PolicyFile.parse(PolicyFile.parseXml(sample, PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
        assertThat(settings.rateLimits().store()).isEqualTo(dev.relayguard.limit.StoreKind.MEMORY);
    }
}
