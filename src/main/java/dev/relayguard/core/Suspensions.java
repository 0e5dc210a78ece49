package dev.relayguard.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The memory {@link Holds}: "K hits within T hold for D", keyed by any string, with bounded memory. Account
 * suspensions (users hitting their rate limits: the {@code <rateLimits><suspension>} element of relayguard.xml;
 * suspensions set by operators over JMX; suspicious logins) are this with the memory rate-limit store, and so are the
 * memory probe bans (without a file: bans are not kept across restarts). Times are epoch milliseconds from the injected clock. Never throws for a
 * store failure (there is none).
 *
 * <p><b>Bounds.</b> Keys collecting hits and held keys are bounded apart, so that a flood of hits from new keys can
 * never lift a hold: at most {@code maxTracked} keys collecting hits (the least recently hit forgotten first, with its
 * hits) and at most {@code maxHeld} holds; a hold ends when it expires or is lifted, or, only when more than
 * {@code maxHeld} are in force at once, when it is the one ending soonest (the hold being set always stays); such a
 * dropped hold is counted ({@link #droppedHolds()}).
 *
 * <p><b>Kept across restarts</b> when given a file (the suspensions of the memory store:
 * {@code var/relayguard/suspensions.tsv} under James's working directory): every start, change and lift of a hold
 * rewrites it whole (a temporary file beside it moved over it atomically, so a crash leaves the old or the new one,
 * never half), and a new instance reads it back, dropping holds that ended meanwhile. Hits collected are not kept. A
 * file that cannot be written is logged (one WARN until a write succeeds again, then one INFO) and the holds stay in
 * force in memory; an unreadable line is skipped with a WARN naming the file and the line. The format: one hold a
 * line, {@code key TAB end TAB reason TAB start} (end: epoch ms, -1 until lifted; start: epoch ms), UTF-8, with
 * {@code %25 %09 %0D %0A} for {@code % TAB CR LF} and {@code %23} for a leading {@code #}; lines starting with
 * {@code #} are comments.
 * A line without the start (written by an earlier RelayGuard: {@code key TAB end TAB reason}) is read as a hold whose
 * start is unknown ({@link Hold#START_UNKNOWN}), and written back with the start unknown ({@code -1}) until it ends.
 * Thread-safe.
 */
public final class Suspensions implements Holds {
    private static final Logger LOGGER = LoggerFactory.getLogger(Suspensions.class);

    /** The recent hits of a key not held: a ring of the last {@code hits} times. */
    private static final class Track {
        long[] times;
        int next;
        int filled;

        Track(int size) {
            times = new long[Math.max(1, size)];
        }

        void add(long time) {
            times[next] = time;
            next = (next + 1) % times.length;
            filled = Math.min(filled + 1, times.length);
        }

        /** The oldest of the hits kept (valid when filled > 0). */
        long oldest() {
            return filled < times.length ? times[(next - filled + times.length) % times.length] : times[next];
        }

        long newest() {
            return times[(next - 1 + times.length) % times.length];
        }

        /** Keeps the newest hits that fit in {@code size}. */
        void resize(int size) {
            int length = Math.max(1, size);
            if (length == times.length) {
                return;
            }
            int keep = Math.min(filled, length);
            long[] resized = new long[length];
            for (int i = 0; i < keep; i++) { // oldest kept first
                resized[i] = times[(next - keep + i + times.length) % times.length];
            }
            times = resized;
            filled = keep;
            next = keep % length;
        }
    }

    private final LongSupplier clockMillis;
    private final Path file;
    private volatile Settings settings;
    /** Keys collecting hits (never a held key), least recently hit first. Guarded by {@code this}. */
    private final LinkedHashMap<String, Track> tracks = new LinkedHashMap<>(256, 0.75f, true);
    /** Holds (some possibly ended, forgotten when met). Guarded by {@code this}. */
    private final Map<String, Hold> held = new HashMap<>();
    private long dropped;
    private boolean fileFailing;

    /** In memory only. */
    public Suspensions(Settings settings, LongSupplier clockMillis) {
        this(settings, clockMillis, null);
    }

    /**
     * Kept in {@code file} too (null: in memory only); the holds it holds that have not ended are read now.
     *
     * @param file where the holds are kept; its directory is created when missing
     */
    public Suspensions(Settings settings, LongSupplier clockMillis, Path file) {
        this.settings = settings;
        this.clockMillis = clockMillis;
        this.file = file;
        if (file != null) {
            load();
        }
    }

    @Override
    public synchronized void reconfigure(Settings newSettings) {
        this.settings = newSettings;
        for (Track track : tracks.values()) {
            track.resize(newSettings.hits());
        }
        evictTracks(newSettings.maxTracked());
        if (dropOverflow(clockMillis.getAsLong(), newSettings.maxHeld())) {
            save();
        }
    }

    @Override
    public synchronized Hold countHit(String key, String reason) {
        Settings current = settings;
        if (current.hits() == 0) {
            return null;
        }
        long now = clockMillis.getAsLong();
        if (heldAt(key, now) != null) {
            return null;
        }
        Track track = tracks.get(key);
        if (track == null) {
            track = new Track(current.hits());
            tracks.put(key, track);
        }
        track.add(now);
        if (track.filled == current.hits() && now - track.oldest() < current.withinMillis()) {
            tracks.remove(key); // its hits are spent
            Hold started = new Hold(key, now, now + current.holdMillis(), reasonOf(reason));
            if (current.holdMillis() > 0) { // holdFor 0: nothing to keep
                put(started, now);
            }
            return started;
        }
        evictTracks(current.maxTracked());
        return null;
    }

    @Override
    public synchronized void hold(String key, long untilMillis, String reason) {
        long now = clockMillis.getAsLong();
        tracks.remove(key);
        Hold current = heldAt(key, now);
        held.remove(key);
        if (untilMillis > now) {
            long since = current == null ? now : current.sinceMillis(); // held all along: the same hold, a new end
            put(new Hold(key, since, untilMillis, reasonOf(reason)), now);
        } else {
            save();
        }
    }

    @Override
    public synchronized Hold holdOf(String key) {
        return heldAt(key, clockMillis.getAsLong());
    }

    @Override
    public synchronized boolean lift(String key) {
        tracks.remove(key);
        Hold removed = held.remove(key);
        boolean wasHeld = removed != null && removed.untilMillis() > clockMillis.getAsLong();
        if (wasHeld) {
            save();
        }
        return wasHeld;
    }

    /** The holds in force, soonest end first (then by key). */
    @Override
    public synchronized List<Hold> active() {
        forgetEnded(clockMillis.getAsLong());
        List<Hold> result = new ArrayList<>(held.values());
        result.sort(Comparator.comparingLong(Hold::untilMillis).thenComparing(Hold::key));
        return result;
    }

    /** Keys whose hits still matter (hit within the interval) plus keys held. */
    @Override
    public synchronized int trackedCount() {
        long now = clockMillis.getAsLong();
        long within = settings.withinMillis();
        tracks.values().removeIf(track -> track.filled == 0 || now - track.newest() >= within);
        return tracks.size() + heldCount();
    }

    @Override
    public synchronized int heldCount() {
        forgetEnded(clockMillis.getAsLong());
        return held.size();
    }

    @Override
    public synchronized long droppedHolds() {
        return dropped;
    }

    @Override
    public String kind() {
        return file == null ? "memory" : "memory, kept in " + file;
    }

    /** The file the holds are kept in, or null. */
    public Path file() {
        return file;
    }

    private Hold heldAt(String key, long now) {
        Hold hold = held.get(key);
        if (hold == null) {
            return null;
        }
        if (hold.untilMillis() > now) {
            return hold;
        }
        held.remove(key);
        return null;
    }

    /** Holds a key (not held now), dropping the holds ending soonest to stay within maxHeld; saves. */
    private void put(Hold hold, long now) {
        dropOverflow(now, settings.maxHeld() - 1);
        held.put(hold.key(), hold);
        save();
    }

    private void forgetEnded(long now) {
        held.values().removeIf(hold -> hold.untilMillis() <= now);
    }

    /**
     * Forgets ended holds, then drops the holds ending soonest (of equal ends, the least key first, as Redis orders a
     * sorted set) until at most {@code keep} remain; true when any was.
     */
    private boolean dropOverflow(long now, int keep) {
        if (held.size() <= keep) {
            return false;
        }
        forgetEnded(now);
        boolean any = false;
        while (held.size() > keep) {
            Iterator<Hold> holds = held.values().iterator();
            Hold soonest = holds.next();
            while (holds.hasNext()) {
                Hold hold = holds.next();
                if (hold.untilMillis() < soonest.untilMillis()
                    || hold.untilMillis() == soonest.untilMillis() && hold.key().compareTo(soonest.key()) < 0) {
                    soonest = hold;
                }
            }
            held.remove(soonest.key());
            dropped++;
            any = true;
        }
        return any;
    }

    private void evictTracks(int maxTracked) {
        Iterator<Map.Entry<String, Track>> eldest = tracks.entrySet().iterator();
        while (tracks.size() > maxTracked && eldest.hasNext()) {
            eldest.next();
            eldest.remove();
        }
    }

    private static String reasonOf(String reason) {
        return reason == null ? "" : reason;
    }

    // ----- the file -----

    private static final String HEADER = "# RelayGuard holds: key, end (epoch ms, -1 until lifted), reason, start (epoch ms, -1 unknown)."
        + " Rewritten whole on every change.";

    private void save() {
        if (file == null) {
            return;
        }
        long now = clockMillis.getAsLong();
        StringBuilder text = new StringBuilder(HEADER).append('\n');
        for (Hold hold : held.values()) {
            if (hold.untilMillis() > now) {
                text.append(escape(hold.key())).append('\t').append(hold.isForever() ? -1 : hold.untilMillis())
                    .append('\t').append(escape(hold.reason())).append('\t').append(hold.sinceMillis()).append('\n');
            }
        }
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.write(temporary, text.toString().getBytes(StandardCharsets.UTF_8));
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            if (fileFailing) {
                fileFailing = false;
                LOGGER.info("RelayGuard holds written to {} again", file);
            }
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException | RuntimeException ignored) {
                // nothing more to do: the WARN below says the file is not kept
            }
            if (!fileFailing) {
                fileFailing = true;
                LOGGER.warn("RelayGuard could not write the holds to {} ({}): they stay in force on this node but a restart will lose them",
                    file, e.toString());
            }
        }
    }

    private void load() {
        if (!Files.exists(file)) {
            return;
        }
        List<String> lines;
        try {
            // Bytes that are not UTF-8 spoil their line only (decoded as U+FFFD, then skipped or read as written), never
            // the whole file: readAllLines would refuse every suspension for one bad byte.
            lines = List.of(new String(Files.readAllBytes(file), StandardCharsets.UTF_8).split("\r?\n", -1));
        } catch (IOException | RuntimeException e) {
            LOGGER.warn("RelayGuard could not read the holds kept in {} ({}): starting without them", file, e.toString());
            return;
        }
        long now = clockMillis.getAsLong();
        int number = 0;
        for (String line : lines) {
            number++;
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] fields = line.split("\t", -1);
            try {
                if (fields.length < 3 || fields.length > 4 || fields[0].isEmpty()) {
                    throw new IllegalArgumentException("4 tab-separated fields expected: key, end, reason, start (or the first 3)");
                }
                long until = Long.parseLong(fields[1]);
                if (until < -1) {
                    throw new IllegalArgumentException("end " + until + " is neither epoch ms nor -1");
                }
                long end = until == -1 ? Hold.FOREVER : until;
                long since = fields.length == 3 ? Hold.START_UNKNOWN : Long.parseLong(fields[3]);
                if (since < -1) {
                    throw new IllegalArgumentException("start " + since + " is neither epoch ms nor -1");
                }
                if (end > now) {
                    String key = unescape(fields[0]);
                    held.put(key, new Hold(key, since, end, unescape(fields[2])));
                }
            } catch (IllegalArgumentException e) {
                LOGGER.warn("RelayGuard skips line {} of {}: {}", number, file, e.getMessage());
            }
        }
        dropOverflow(now, settings.maxHeld());
    }

    private static String escape(String text) {
        String escaped = text.replace("%", "%25").replace("\t", "%09").replace("\r", "%0D").replace("\n", "%0A");
        return escaped.startsWith("#") ? "%23" + escaped.substring(1) : escaped;
    }

    /** Every {@code %} of an escaped text starts one of the escapes above, so replacing them in this order is exact. */
    private static String unescape(String text) {
        return text.replace("%23", "#").replace("%09", "\t").replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%");
    }
}
