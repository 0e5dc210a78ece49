package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;

import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Suspensions} kept in a file keeps the {@link HoldsContract}, and after every change a new instance on the
 * same file reads back exactly the holds in force ({@link SuspensionsFileTest} checks the file itself).
 */
class SuspensionsFileContractTest extends HoldsContract {
    @TempDir
    Path directory;

    @Override
    protected Holds newHolds(Holds.Settings settings, LongSupplier clock) {
        return new ReadBack(settings, clock, directory.resolve("var/relayguard/suspensions.tsv"));
    }

    /** The holds, checked against a fresh read of their file after every change. */
    private static final class ReadBack implements Holds {
        private final Suspensions holds;
        private final LongSupplier clock;
        private final Path file;
        private Settings settings;

        ReadBack(Settings settings, LongSupplier clock, Path file) {
            this.holds = new Suspensions(settings, clock, file);
            this.settings = settings;
            this.clock = clock;
            this.file = file;
        }

        private void readBack(String after) {
            assertThat(lines(new Suspensions(settings, clock, file).active())).as("read back after %s", after)
                .isEqualTo(lines(holds.active()));
        }

        private static List<String> lines(List<Hold> holds) {
            return holds.stream().map(hold -> hold.key() + "\u0000" + hold.sinceMillis() + "\u0000" + hold.untilMillis() + "\u0000" + hold.reason())
                .collect(Collectors.toList());
        }

        @Override
        public Hold countHit(String key, String reason) {
            Hold started = holds.countHit(key, reason);
            readBack("countHit " + key);
            return started;
        }

        @Override
        public void hold(String key, long untilMillis, String reason) {
            holds.hold(key, untilMillis, reason);
            readBack("hold " + key);
        }

        @Override
        public Hold holdOf(String key) {
            return holds.holdOf(key);
        }

        @Override
        public boolean lift(String key) {
            boolean lifted = holds.lift(key);
            readBack("lift " + key);
            return lifted;
        }

        @Override
        public List<Hold> active() {
            return holds.active();
        }

        @Override
        public int trackedCount() {
            return holds.trackedCount();
        }

        @Override
        public int heldCount() {
            return holds.heldCount();
        }

        @Override
        public long droppedHolds() {
            return holds.droppedHolds();
        }

        @Override
        public void reconfigure(Settings newSettings) {
            holds.reconfigure(newSettings);
            settings = newSettings;
            readBack("reconfigure");
        }

        @Override
        public String kind() {
            return holds.kind();
        }
    }
}
