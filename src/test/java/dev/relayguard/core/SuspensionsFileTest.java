package dev.relayguard.core;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.relayguard.core.Holds.Hold;
import dev.relayguard.core.Holds.Settings;

/**
 * {@link Suspensions} kept in a file (the memory store's {@code var/relayguard/suspensions.tsv}): what a restart
 * reads back, what it drops, how the file is written and what happens when it cannot be written or read.
 */
class SuspensionsFileTest {
    private static final Settings RULE = new Settings(3, Duration.ofMinutes(10).toMillis(), Duration.ofHours(1).toMillis(), 1_000);
    private static final long T0 = 1_700_000_000_000L;

    @TempDir
    Path james;

    private final AtomicLong clock = new AtomicLong(T0);
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(Suspensions.class);
    private Path file;
    private Level level;

    @BeforeEach
    void setUp() {
        file = james.resolve("var/relayguard/suspensions.tsv");
        logs.start();
        logger.addAppender(logs);
        level = logger.getLevel();
        logger.setLevel(Level.INFO);
    }

    @AfterEach
    void tearDown() {
        logger.detachAppender(logs);
        logger.setLevel(level);
    }

    private Suspensions open() {
        return new Suspensions(RULE, clock::get, file);
    }

    private List<String> logged(Level level) {
        return logs.list.stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage)
            .collect(Collectors.toList());
    }

    @Test
    void aRestartReadsBackManualTimedAndAutomaticHoldsWithTheirReasonsButNoHits() {
        Suspensions before = open();
        before.hold("user:alice", Hold.FOREVER, "operator: leaked");
        before.hold("user:bob", T0 + 7_200_000, "suspicious login");
        before.countHit("user:carol", "rate limit");
        before.countHit("user:carol", "rate limit");
        before.countHit("user:carol", "rate limit");
        before.countHit("user:dave", "rate limit");
        before.countHit("user:dave", "rate limit");
        clock.addAndGet(60_000);

        Suspensions after = open();

        assertThat(after.active()).extracting(Hold::key, Hold::untilMillis, Hold::reason).containsExactly(
            tuple("user:carol", T0 + 3_600_000, "rate limit"),
            tuple("user:bob", T0 + 7_200_000, "suspicious login"),
            tuple("user:alice", Hold.FOREVER, "operator: leaked"));
        assertThat(after.countHit("user:dave", "rate limit")).as("hits are not kept").isNull();
        assertThat(after.kind()).isEqualTo("memory, kept in " + file);
        assertThat(logs.list).isEmpty();
    }

    @Test
    void aRestartReadsBackWhenEveryHoldStarted() {
        Suspensions before = open();
        before.hold("user:alice", Hold.FOREVER, "operator: leaked");
        clock.addAndGet(60_000);
        before.countHit("user:carol", "rate limit");
        before.countHit("user:carol", "rate limit");
        before.countHit("user:carol", "rate limit");
        clock.addAndGet(60_000);
        before.hold("user:alice", T0 + 7_200_000, "operator: two hours will do");

        assertThat(open().active()).extracting(Hold::key, Hold::sinceMillis, Hold::untilMillis).containsExactly(
            tuple("user:carol", T0 + 60_000, T0 + 60_000 + 3_600_000),
            tuple("user:alice", T0, T0 + 7_200_000));
    }

    /**
     * A file written by an earlier RelayGuard ({@code key TAB end TAB reason}, no start): its holds are read with the
     * start unknown, written back so (-1) with the next change, and a key of it held again by hand keeps the unknown
     * start (it has been held all along).
     */
    @Test
    void aFileWithoutStartsIsReadWithTheStartsUnknownAndKeepsThemUnknown() throws IOException {
        Files.createDirectories(file.getParent());
        Files.write(file, List.of(
            "# RelayGuard holds: key, end (epoch ms, -1 until lifted), reason. Rewritten whole on every change.",
            "user:alice\t-1\toperator: leaked",
            "user:bob\t" + (T0 + 60_000) + "\tsuspicious login"), UTF_8);

        Suspensions holds = open();

        assertThat(holds.active()).extracting(Hold::key, Hold::sinceMillis, Hold::isStartKnown).containsExactly(
            tuple("user:bob", Hold.START_UNKNOWN, false),
            tuple("user:alice", Hold.START_UNKNOWN, false));
        assertThat(logs.list).isEmpty();
        holds.hold("user:bob", T0 + 120_000, "suspicious login, still");
        holds.hold("user:carol", Hold.FOREVER, "operator");
        assertThat(Files.readAllLines(file, UTF_8)).contains("user:alice\t-1\toperator: leaked\t-1",
            "user:bob\t" + (T0 + 120_000) + "\tsuspicious login, still\t-1", "user:carol\t-1\toperator\t" + T0);
        assertThat(open().active()).extracting(Hold::key, Hold::sinceMillis).containsExactly(
            tuple("user:bob", Hold.START_UNKNOWN),
            tuple("user:alice", Hold.START_UNKNOWN),
            tuple("user:carol", T0));
    }

    @Test
    void holdsThatEndedMeanwhileAreNotReadBack() {
        Suspensions before = open();
        before.hold("user:alice", T0 + 60_000, "brief");
        before.hold("user:bob", T0 + 60_001, "a little longer");
        clock.addAndGet(60_000);

        assertThat(open().active()).extracting(Hold::key).containsExactly("user:bob");
    }

    @Test
    void aLiftIsKept() {
        Suspensions before = open();
        before.hold("user:alice", Hold.FOREVER, "operator");
        before.hold("user:bob", Hold.FOREVER, "operator");
        assertThat(before.lift("user:alice")).isTrue();

        assertThat(open().active()).extracting(Hold::key).containsExactly("user:bob");
        assertThat(open().lift("user:bob")).isTrue();
        assertThat(open().active()).isEmpty();
    }

    @Test
    void theFileIsRewrittenWholeThroughATemporaryFileThatDoesNotStay() throws IOException {
        Suspensions holds = open();
        holds.hold("user:alice", Hold.FOREVER, "operator");
        holds.hold("user:bob", T0 + 60_000, "suspicious login");
        holds.lift("user:alice");

        try (Stream<Path> files = Files.list(file.getParent())) {
            assertThat(files.map(path -> path.getFileName().toString())).containsExactly("suspensions.tsv");
        }
        assertThat(Files.readAllLines(file, UTF_8)).containsExactly(
            "# RelayGuard holds: key, end (epoch ms, -1 until lifted), reason, start (epoch ms, -1 unknown). Rewritten whole on every change.",
            "user:bob\t" + (T0 + 60_000) + "\tsuspicious login\t" + T0);
        clock.addAndGet(1_000);
        holds.hold("user:carol", Hold.FOREVER, "operator");
        assertThat(Files.readAllLines(file, UTF_8)).hasSize(3).contains("user:carol\t-1\toperator\t" + (T0 + 1_000));
    }

    @Test
    void anUnreadableLineIsSkippedWithAWarnNamingTheFileAndTheLineAndTheOthersAreRead() throws IOException {
        Files.createDirectories(file.getParent());
        Files.write(file, List.of(
            "# a comment",
            "user:alice\t-1\toperator",
            "garbage",
            "user:bob\tsoon\toperator",
            "",
            "user:carol\t" + (T0 + 60_000) + "\tsuspicious login",
            "\t-1\tno key",
            "user:dave\t-7\tnegative",
            "user:erin\t-1\tfar\ttoo\tmany",
            "user:frank\t-1\toperator\tyesterday",
            "user:grace\t-1\toperator\t-2",
            "user:heidi\t-1\toperator\t" + T0), UTF_8);

        Suspensions holds = open();

        assertThat(holds.active()).extracting(Hold::key).containsExactly("user:carol", "user:alice", "user:heidi");
        String fields = "4 tab-separated fields expected: key, end, reason, start (or the first 3)";
        assertThat(logged(Level.WARN)).containsExactly(
            "RelayGuard skips line 3 of " + file + ": " + fields,
            "RelayGuard skips line 4 of " + file + ": For input string: \"soon\"",
            "RelayGuard skips line 7 of " + file + ": " + fields,
            "RelayGuard skips line 8 of " + file + ": end -7 is neither epoch ms nor -1",
            "RelayGuard skips line 9 of " + file + ": " + fields,
            "RelayGuard skips line 10 of " + file + ": For input string: \"yesterday\"",
            "RelayGuard skips line 11 of " + file + ": start -2 is neither epoch ms nor -1");
    }

    /** The break-trial's dialog: one line with bytes that are not UTF-8 spoiled every suspension of the file. */
    @Test
    void bytesThatAreNotUtf8SpoilTheirLineOnly() throws IOException {
        Files.createDirectories(file.getParent());
        byte[] good = ("user:alice\t-1\toperator\nuser:bob\t-1\tpassword leaked\n").getBytes(UTF_8);
        byte[] bad = {0x00, (byte) 0xff, (byte) 0xfe, '\n'};
        byte[] all = new byte[good.length + bad.length];
        System.arraycopy(good, 0, all, 0, good.length);
        System.arraycopy(bad, 0, all, good.length, bad.length);
        Files.write(file, all);

        Suspensions holds = open();

        assertThat(holds.active()).extracting(Hold::key).containsExactlyInAnyOrder("user:alice", "user:bob");
        assertThat(logged(Level.WARN)).singleElement().satisfies(line -> assertThat(line)
            .startsWith("RelayGuard skips line 3 of " + file + ": "));
    }

    @Test
    void aFileThatCannotBeWrittenIsLoggedOnceAndTheHoldsStayInForceUntilItCanAgain() throws IOException {
        Files.createDirectories(james.resolve("var"));
        Files.write(james.resolve("var/relayguard"), new byte[0]); // a file where the directory should be
        Suspensions holds = open();

        holds.hold("user:alice", Hold.FOREVER, "operator");
        holds.hold("user:bob", Hold.FOREVER, "operator");
        holds.lift("user:bob");

        assertThat(holds.holdOf("user:alice")).isNotNull();
        assertThat(logged(Level.WARN)).singleElement().satisfies(line -> assertThat(line)
            .startsWith("RelayGuard could not write the holds to " + file + " (")
            .endsWith("they stay in force on this node but a restart will lose them"));

        Files.delete(james.resolve("var/relayguard"));
        holds.hold("user:carol", Hold.FOREVER, "operator");

        assertThat(logged(Level.INFO)).containsExactly("RelayGuard holds written to " + file + " again");
        assertThat(open().active()).extracting(Hold::key).containsExactly("user:alice", "user:carol");
    }

    @Test
    void keysAndReasonsWithTabsNewlinesPercentAndALeadingHashRoundTripOneLineEach() throws IOException {
        List<String> keys = List.of("user:a\tb", "user:line\nbreak\r", "user:100%25%09", "#user:hash", "user:#inside", "user:ü✉");
        Suspensions before = open();
        for (String key : keys) {
            before.hold(key, Hold.FOREVER, "why:\t" + key + "\r\n%0A|");
        }

        List<Hold> after = open().active();

        assertThat(after).extracting(Hold::key).containsExactlyInAnyOrderElementsOf(keys);
        assertThat(after).allSatisfy(hold -> assertThat(hold.reason()).isEqualTo("why:\t" + hold.key() + "\r\n%0A|"));
        assertThat(Files.readAllLines(file, UTF_8)).hasSize(1 + keys.size())
            .contains("%23user:hash\t-1\twhy:%09#user:hash%0D%0A%250A|\t" + T0);
    }

    @Test
    void aMissingFileIsNoHoldsAndItsDirectoryIsCreatedAtTheFirstHold() {
        Suspensions holds = open();
        assertThat(holds.active()).isEmpty();
        assertThat(Files.exists(file.getParent())).isFalse();

        holds.hold("user:alice", Hold.FOREVER, "operator");

        assertThat(file).exists();
        assertThat(logs.list).isEmpty();
    }

    @Test
    void readingKeepsAtMostMaxHeldTheOnesEndingLastAndCountsTheDropped() {
        Suspensions before = open();
        for (int i = 1; i <= 4; i++) {
            before.hold("user:" + i, T0 + i * 60_000L, "operator");
        }

        Suspensions after = new Suspensions(new Settings(3, 600_000, 3_600_000, 1_000, 2), clock::get, file);

        assertThat(after.active()).extracting(Hold::key).containsExactly("user:3", "user:4");
        assertThat(after.droppedHolds()).isEqualTo(2);
    }
}
