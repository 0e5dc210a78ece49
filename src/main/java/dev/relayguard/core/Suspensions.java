package dev.relayguard.core;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * "K hits within T suspend for D", keyed by any string, with bounded memory: at most {@code maxKeys} keys,
 * the least recently active forgotten first. Account suspensions (users hitting their rate limits; the
 * {@code <rateLimits><suspension>} element of relayguard.xml) are this, and so is the refusal count behind a probe ban
 * (client IPs collecting relay refusals, see {@link ProbeBans}). Suspensions can also be set and lifted by hand.
 * Times are epoch milliseconds from the injected clock. Thread-safe.
 */
public final class Suspensions {
    /** The settings; {@code hits == 0} means nothing is ever suspended automatically. */
    public static final class Settings {
        private final int hits;
        private final long withinMillis;
        private final long suspendMillis;
        private final int maxKeys;

        /**
         * @param hits         how many hits within {@code withinMillis} start a suspension (0: never)
         * @param withinMillis the interval the hits must fall in, ms (positive)
         * @param suspendMillis how long a suspension lasts, ms (0 or more)
         * @param maxKeys      the most keys tracked (at least 1)
         * @throws IllegalArgumentException for values outside these ranges
         */
        public Settings(int hits, long withinMillis, long suspendMillis, int maxKeys) {
            if (hits < 0 || maxKeys < 1 || withinMillis <= 0 || suspendMillis < 0) {
                throw new IllegalArgumentException("hits >= 0, maxKeys >= 1, within > 0, suspendFor >= 0");
            }
            this.hits = hits;
            this.withinMillis = withinMillis;
            this.suspendMillis = suspendMillis;
            this.maxKeys = maxKeys;
        }

        /** As the reload diff and the policy summary show it, e.g. {@code {hits=3, within=PT10M, suspendFor=PT1H}}. */
        @Override
        public String toString() {
            return hits == 0 ? "{off}" : "{hits=" + hits + ", within=" + Duration.ofMillis(withinMillis)
                + ", suspendFor=" + Duration.ofMillis(suspendMillis) + "}";
        }
    }

    /** A suspended key, until when (epoch millis; {@code Long.MAX_VALUE}: until lifted), and why. */
    public static final class Suspension {
        private final String key;
        private final long untilMillis;
        private final String reason;

        Suspension(String key, long untilMillis, String reason) {
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
        long suspendedUntil;
        String reason;

        Track(int size) {
            times = new long[Math.max(1, size)];
        }
    }

    private final LongSupplier clockMillis;
    private volatile Settings settings;
    private final LinkedHashMap<String, Track> tracks = new LinkedHashMap<>(256, 0.75f, true);

    public Suspensions(Settings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.clockMillis = clockMillis;
    }

    /** New settings; suspensions and tracked keys are kept. */
    public synchronized void reconfigure(Settings newSettings) {
        this.settings = newSettings;
        for (Track track : tracks.values()) {
            if (track.times.length != Math.max(1, newSettings.hits)) {
                track.times = Arrays.copyOf(track.times, Math.max(1, newSettings.hits));
                track.next = 0;
                track.filled = 0;
            }
        }
        evictOverflow();
    }

    /**
     * Counts one hit against a key (a rate limit refused it, a relay probe was refused).
     *
     * @return true when this hit starts a suspension (the key was not suspended and it is the K-th within T)
     */
    public synchronized boolean countHit(String key, String reason) {
        Settings current = settings;
        if (current.hits == 0) {
            return false;
        }
        long now = clockMillis.getAsLong();
        Track track = tracks.computeIfAbsent(key, k -> new Track(current.hits));
        evictOverflow();
        if (track.suspendedUntil > now) {
            return false;
        }
        track.times[track.next] = now;
        track.next = (track.next + 1) % track.times.length;
        track.filled = Math.min(track.filled + 1, track.times.length);
        long oldest = track.times[track.next % track.times.length];
        if (track.filled == current.hits && now - oldest < current.withinMillis) {
            track.suspendedUntil = now + current.suspendMillis;
            track.reason = reason;
            track.filled = 0;
            return true;
        }
        return false;
    }

    /** Suspends a key by hand until {@code untilMillis} (epoch millis; {@code Long.MAX_VALUE}: until lifted). */
    public synchronized void suspend(String key, long untilMillis, String reason) {
        Track track = tracks.computeIfAbsent(key, k -> new Track(settings.hits));
        track.suspendedUntil = untilMillis;
        track.reason = reason;
        evictOverflow();
    }

    public synchronized boolean isSuspended(String key) {
        Track track = tracks.get(key);
        return track != null && track.suspendedUntil > clockMillis.getAsLong();
    }

    /** The suspension of a key, or null when it is not suspended. */
    public synchronized Suspension suspensionOf(String key) {
        Track track = tracks.get(key);
        return track != null && track.suspendedUntil > clockMillis.getAsLong() ? new Suspension(key, track.suspendedUntil, track.reason) : null;
    }

    /** Lifts a key's suspension and forgets its hits; true when it was suspended. */
    public synchronized boolean lift(String key) {
        Track removed = tracks.remove(key);
        return removed != null && removed.suspendedUntil > clockMillis.getAsLong();
    }

    /** The suspensions in force now. */
    public synchronized List<Suspension> active() {
        long now = clockMillis.getAsLong();
        List<Suspension> result = new ArrayList<>();
        for (Map.Entry<String, Track> entry : tracks.entrySet()) {
            if (entry.getValue().suspendedUntil > now) {
                result.add(new Suspension(entry.getKey(), entry.getValue().suspendedUntil, entry.getValue().reason));
            }
        }
        return result;
    }

    public synchronized int trackedCount() {
        return tracks.size();
    }

    public synchronized int suspendedCount() {
        return active().size();
    }

    private void evictOverflow() {
        Iterator<Map.Entry<String, Track>> eldest = tracks.entrySet().iterator();
        while (tracks.size() > settings.maxKeys && eldest.hasNext()) {
            eldest.next();
            eldest.remove();
        }
    }
}
