package dev.relayguard.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * How often each subject (a user, a client IP) was refused in the last hour, per minute, for "who is refused
 * most right now" (over the whole hour or its last minutes). Bounded: at most {@code maxKeys} subjects, the least
 * recently refused forgotten first. Thread-safe.
 */
public final class RefusalTally {
    /** How many minutes are kept: the last hour, the current minute included. */
    public static final int MINUTES = 60;

    private static final class Counts {
        final int[] perMinute = new int[MINUTES];
        long lastMinute = Long.MIN_VALUE;

        void advanceTo(long minute) {
            if (lastMinute == Long.MIN_VALUE || minute - lastMinute >= MINUTES) {
                Arrays.fill(perMinute, 0);
            } else {
                for (long m = lastMinute + 1; m <= minute; m++) {
                    perMinute[(int) Math.floorMod(m, (long) MINUTES)] = 0;
                }
            }
            lastMinute = Math.max(lastMinute, minute);
        }

        /** The refusals of the last {@code minutes} minutes, the current one included (after {@link #advanceTo}). */
        int total(int minutes) {
            int sum = 0;
            for (long m = lastMinute - minutes + 1; m <= lastMinute; m++) {
                sum += perMinute[(int) Math.floorMod(m, (long) MINUTES)];
            }
            return sum;
        }
    }

    /** A subject and its refusals in the last hour. */
    public static final class Entry {
        private final String subject;
        private final int refusals;

        Entry(String subject, int refusals) {
            this.subject = subject;
            this.refusals = refusals;
        }

        public String subject() {
            return subject;
        }

        public int refusals() {
            return refusals;
        }

        @Override
        public String toString() {
            return subject + " " + refusals;
        }
    }

    private final int maxKeys;
    private final LongSupplier clockMillis;
    private final LinkedHashMap<String, Counts> counts = new LinkedHashMap<>(64, 0.75f, true);

    public RefusalTally(int maxKeys, LongSupplier clockMillis) {
        this.maxKeys = maxKeys;
        this.clockMillis = clockMillis;
    }

    public synchronized void add(String subject) {
        long minute = clockMillis.getAsLong() / 60_000;
        Counts entry = counts.computeIfAbsent(subject, key -> new Counts());
        entry.advanceTo(minute);
        entry.perMinute[(int) Math.floorMod(minute, (long) MINUTES)]++;
        while (counts.size() > maxKeys) {
            counts.remove(counts.keySet().iterator().next());
        }
    }

    /** The {@code n} subjects refused most in the last hour, most refused first. */
    public List<Entry> top(int n) {
        return top(n, MINUTES);
    }

    /**
     * The {@code n} subjects refused most in the last {@code minutes} minutes, most refused first (of equal counts,
     * by subject). Minutes are clock minutes: the current one (begun less than a minute ago) and the
     * {@code minutes - 1} before it, so {@code top(n, 1)} is this minute's refusals.
     *
     * @param minutes 1 to {@value #MINUTES}
     * @throws IllegalArgumentException when {@code minutes} is out of that range
     */
    public synchronized List<Entry> top(int n, int minutes) {
        if (minutes < 1 || minutes > MINUTES) {
            throw new IllegalArgumentException("minutes must be between 1 and " + MINUTES + " (only the last hour is kept), was "
                + minutes);
        }
        long minute = clockMillis.getAsLong() / 60_000;
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, Counts> entry : counts.entrySet()) {
            entry.getValue().advanceTo(minute);
            int total = entry.getValue().total(minutes);
            if (total > 0) {
                entries.add(new Entry(entry.getKey(), total));
            }
        }
        entries.sort(Comparator.comparingInt(Entry::refusals).reversed().thenComparing(Entry::subject));
        return entries.subList(0, Math.min(Math.max(n, 0), entries.size()));
    }

    public synchronized int size() {
        return counts.size();
    }
}
