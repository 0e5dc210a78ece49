package dev.relayguard.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The memory {@link Holds}: "K hits within T hold for D", keyed by any string, with bounded memory: at most
 * {@code maxTracked} keys, the least recently active forgotten first. Account suspensions (users hitting their rate
 * limits; the {@code <rateLimits><suspension>} element of relayguard.xml; suspensions set by operators) are this
 * with the memory rate-limit store, and so is the refusal count behind a memory probe ban ({@link MemoryBans}).
 * Times are epoch milliseconds from the injected clock. Never throws for a store failure (there is none).
 *
 * <p><b>Kept across restarts</b> when given a file (the suspensions of the memory store:
 * {@code var/relayguard/suspensions.tsv} under James's working directory): every start, change and lift of a hold
 * rewrites it whole (a temporary file moved over it atomically, so a crash leaves the old or the new one, never half),
 * and a new instance reads it back, dropping holds that ended meanwhile. Hits collected are not kept. A file that
 * cannot be written is logged (one WARN until a write succeeds again) and the holds stay in force in memory; an
 * unreadable line is skipped with a WARN naming the file and the line.
 * Thread-safe.
 */
public final class Suspensions implements Holds {
    private static final Logger LOGGER = LoggerFactory.getLogger(Suspensions.class);

    private static final class Track {
        long[] times;
        int next;
        int filled;
        long heldUntil;
        String reason;

        Track(int size) {
            times = new long[Math.max(1, size)];
        }
    }

    private final LongSupplier clockMillis;
    private final Path file;
    private volatile Settings settings;
    private final LinkedHashMap<String, Track> tracks = new LinkedHashMap<>(256, 0.75f, true);
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
            if (track.times.length != Math.max(1, newSettings.hits())) {
                track.times = Arrays.copyOf(track.times, Math.max(1, newSettings.hits()));
                track.next = 0;
                track.filled = 0;
            }
        }
        evictOverflow();
    }

    @Override
    public synchronized Hold countHit(String key, String reason) {
        Settings current = settings;
        if (current.hits() == 0) {
            return null;
        }
        long now = clockMillis.getAsLong();
        Track track = tracks.computeIfAbsent(key, k -> new Track(current.hits()));
        evictOverflow();
        if (track.heldUntil > now) {
            return null;
        }
        track.times[track.next] = now;
        track.next = (track.next + 1) % track.times.length;
        track.filled = Math.min(track.filled + 1, track.times.length);
        long oldest = track.times[track.next % track.times.length];
        if (track.filled == current.hits() && now - oldest < current.withinMillis()) {
            track.heldUntil = now + current.holdMillis();
            track.reason = reason;
            track.filled = 0;
            save();
            return new Hold(key, track.heldUntil, reason);
        }
        return null;
    }

    @Override
    public synchronized void hold(String key, long untilMillis, String reason) {
        Track track = tracks.computeIfAbsent(key, k -> new Track(settings.hits()));
        track.heldUntil = untilMillis;
        track.reason = reason;
        evictOverflow();
        save();
    }

    @Override
    public synchronized Hold holdOf(String key) {
        Track track = tracks.get(key);
        return track != null && track.heldUntil > clockMillis.getAsLong() ? new Hold(key, track.heldUntil, track.reason) : null;
    }

    @Override
    public synchronized boolean lift(String key) {
        Track removed = tracks.remove(key);
        boolean held = removed != null && removed.heldUntil > clockMillis.getAsLong();
        if (held) {
            save();
        }
        return held;
    }

    @Override
    public synchronized List<Hold> active() {
        long now = clockMillis.getAsLong();
        List<Hold> result = new ArrayList<>();
        for (Map.Entry<String, Track> entry : tracks.entrySet()) {
            if (entry.getValue().heldUntil > now) {
                result.add(new Hold(entry.getKey(), entry.getValue().heldUntil, entry.getValue().reason));
            }
        }
        return result;
    }

    @Override
    public synchronized int trackedCount() {
        return tracks.size();
    }

    @Override
    public synchronized int heldCount() {
        return active().size();
    }

    @Override
    public String kind() {
        return file == null ? "memory" : "memory, kept in " + file;
    }

    /** The file the holds are kept in, or null. */
    public Path file() {
        return file;
    }

    private void evictOverflow() {
        Iterator<Map.Entry<String, Track>> eldest = tracks.entrySet().iterator();
        while (tracks.size() > settings.maxTracked() && eldest.hasNext()) {
            eldest.next();
            eldest.remove();
        }
    }

    // ----- the file: one hold a line, "key TAB untilMillis TAB reason", % escapes for % TAB CR LF -----

    private static final String HEADER = "# RelayGuard holds: key, end (epoch ms, -1 until lifted), reason. Rewritten whole on every change.";

    private void save() {
        if (file == null) {
            return;
        }
        StringBuilder text = new StringBuilder(HEADER).append('\n');
        long now = clockMillis.getAsLong();
        for (Map.Entry<String, Track> entry : tracks.entrySet()) {
            Track track = entry.getValue();
            if (track.heldUntil > now) {
                text.append(escape(entry.getKey())).append('\t').append(track.heldUntil == Hold.FOREVER ? -1 : track.heldUntil)
                    .append('\t').append(escape(track.reason == null ? "" : track.reason)).append('\n');
            }
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
            Files.write(temporary, text.toString().getBytes(StandardCharsets.UTF_8));
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            if (fileFailing) {
                fileFailing = false;
                LOGGER.info("RelayGuard holds written to {} again", file);
            }
        } catch (IOException | RuntimeException e) {
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
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
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
                if (fields.length != 3 || fields[0].isEmpty()) {
                    throw new IllegalArgumentException("3 tab-separated fields expected");
                }
                long until = Long.parseLong(fields[1]);
                long end = until == -1 ? Hold.FOREVER : until;
                if (end > now) {
                    Track track = tracks.computeIfAbsent(unescape(fields[0]), k -> new Track(settings.hits()));
                    track.heldUntil = end;
                    track.reason = unescape(fields[2]);
                }
            } catch (IllegalArgumentException e) {
                LOGGER.warn("RelayGuard skips line {} of {}: {}", number, file, e.getMessage());
            }
        }
        evictOverflow();
    }

    private static String escape(String text) {
        return text.replace("%", "%25").replace("\t", "%09").replace("\r", "%0D").replace("\n", "%0A");
    }

    private static String unescape(String text) {
        return text.replace("%09", "\t").replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%");
    }
}
