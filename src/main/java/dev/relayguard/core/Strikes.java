package dev.relayguard.core;

import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * "K strikes within T blocks for D", keyed by any string, with bounded memory: at most {@code maxKeys} keys,
 * the least recently active forgotten first. Probe bans (client IPs collecting relay refusals) and account
 * suspensions (users hitting their rate limits) are both this. Blocks can also be set and lifted by hand.
 * Thread-safe.
 */
public final class Strikes {
    /** The settings; {@code strikes == 0} means nothing is ever blocked automatically. */
    public static final class Settings {
        private final int strikes;
        private final long withinMillis;
        private final long blockMillis;
        private final int maxKeys;

        public Settings(int strikes, long withinMillis, long blockMillis, int maxKeys) {
            if (strikes < 0 || maxKeys < 1 || withinMillis <= 0 || blockMillis < 0) {
                throw new IllegalArgumentException("strikes >= 0, maxKeys >= 1, within > 0, block >= 0");
            }
            this.strikes = strikes;
            this.withinMillis = withinMillis;
            this.blockMillis = blockMillis;
            this.maxKeys = maxKeys;
        }
    }

    /** A blocked key, until when (epoch millis), and why. */
    public static final class Block {
        private final String key;
        private final long untilMillis;
        private final String reason;

        Block(String key, long untilMillis, String reason) {
            this.key = key;
            this.untilMillis = untilMillis;
            this.reason = reason;
        }

        public String key() {
            return key;
        }

        public long untilMillis() {
            return untilMillis;
        }

        public String reason() {
            return reason;
        }
    }

    private static final class Track {
        long[] times;
        int next;
        int filled;
        long blockedUntil;
        String reason;

        Track(int size) {
            times = new long[Math.max(1, size)];
        }
    }

    private final LongSupplier clockMillis;
    private volatile Settings settings;
    private final LinkedHashMap<String, Track> tracks = new LinkedHashMap<>(256, 0.75f, true);

    public Strikes(Settings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.clockMillis = clockMillis;
    }

    /** New settings; blocks and tracked keys are kept. */
    public synchronized void reconfigure(Settings newSettings) {
        this.settings = newSettings;
        for (Track track : tracks.values()) {
            if (track.times.length != Math.max(1, newSettings.strikes)) {
                track.times = Arrays.copyOf(track.times, Math.max(1, newSettings.strikes));
                track.next = 0;
                track.filled = 0;
            }
        }
        evictOverflow();
    }

    /**
     * One strike against a key.
     *
     * @return true when this strike starts a block
     */
    public synchronized boolean strike(String key, String reason) {
        Settings current = settings;
        if (current.strikes == 0) {
            return false;
        }
        long now = clockMillis.getAsLong();
        Track track = tracks.computeIfAbsent(key, k -> new Track(current.strikes));
        evictOverflow();
        if (track.blockedUntil > now) {
            return false;
        }
        track.times[track.next] = now;
        track.next = (track.next + 1) % track.times.length;
        track.filled = Math.min(track.filled + 1, track.times.length);
        long oldest = track.times[track.next % track.times.length];
        if (track.filled == current.strikes && now - oldest < current.withinMillis) {
            track.blockedUntil = now + current.blockMillis;
            track.reason = reason;
            track.filled = 0;
            return true;
        }
        return false;
    }

    /** Blocks a key by hand until {@code untilMillis}. */
    public synchronized void block(String key, long untilMillis, String reason) {
        Track track = tracks.computeIfAbsent(key, k -> new Track(settings.strikes));
        track.blockedUntil = untilMillis;
        track.reason = reason;
        evictOverflow();
    }

    public synchronized boolean isBlocked(String key) {
        Track track = tracks.get(key);
        return track != null && track.blockedUntil > clockMillis.getAsLong();
    }

    /** The block of a key, or null when it is not blocked. */
    public synchronized Block blockOf(String key) {
        Track track = tracks.get(key);
        return track != null && track.blockedUntil > clockMillis.getAsLong() ? new Block(key, track.blockedUntil, track.reason) : null;
    }

    /** Lifts a key's block and forgets its strikes; true when it was blocked. */
    public synchronized boolean lift(String key) {
        Track removed = tracks.remove(key);
        return removed != null && removed.blockedUntil > clockMillis.getAsLong();
    }

    public synchronized java.util.List<Block> blocks() {
        long now = clockMillis.getAsLong();
        java.util.List<Block> result = new java.util.ArrayList<>();
        for (Map.Entry<String, Track> entry : tracks.entrySet()) {
            if (entry.getValue().blockedUntil > now) {
                result.add(new Block(entry.getKey(), entry.getValue().blockedUntil, entry.getValue().reason));
            }
        }
        return result;
    }

    public synchronized int trackedCount() {
        return tracks.size();
    }

    public synchronized int blockedCount() {
        return blocks().size();
    }

    private void evictOverflow() {
        Iterator<Map.Entry<String, Track>> eldest = tracks.entrySet().iterator();
        while (tracks.size() > settings.maxKeys && eldest.hasNext()) {
            eldest.next();
            eldest.remove();
        }
    }
}
