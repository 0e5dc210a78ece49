package dev.relayguard.limit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The in-memory {@link LimiterStore} (one James node). Each key's counters are guarded by the key's own lock,
 * so decisions for different users never wait for each other and a decision is atomic across all the limits
 * it charges. Memory is bounded: at most {@code maxKeys} keys; keys whose counters have all left their windows
 * are dropped as they are met, and when the store is full the least recently used of a sample is dropped.
 */
public final class MemoryLimiterStore implements LimiterStore {
    private static final int EVICTION_SAMPLE = 16;

    /**
     * Which counters a key has and where their slots are: shared by every key with the same limits (interned),
     * so a key itself holds only its counts. A counter whose limit fits 16 bits (messages, recipients) keeps its
     * {@value SlidingWindow#SLOTS} slots in a {@code char[]}, a larger one (bytes) in an {@code int[]}.
     */
    static final class Layout {
        private static final ConcurrentHashMap<String, Layout> INTERNED = new ConcurrentHashMap<>();
        static final Layout EMPTY = new Layout(new String[0], new long[0], new boolean[0]);

        final String[] ids;
        final long[] windows;
        final long[] widths;
        final boolean[] wide;
        final int[] offsets;
        final int narrowSize;
        final int wideSize;
        final long longestWindow;

        private Layout(String[] ids, long[] windows, boolean[] wide) {
            this.ids = ids;
            this.windows = windows;
            this.wide = wide;
            this.widths = new long[ids.length];
            this.offsets = new int[ids.length];
            int narrow = 0;
            int wideCount = 0;
            long longest = 0;
            for (int i = 0; i < ids.length; i++) {
                widths[i] = SlidingWindow.width(windows[i]);
                offsets[i] = wide[i] ? wideCount++ * SlidingWindow.SLOTS : narrow++ * SlidingWindow.SLOTS;
                longest = Math.max(longest, windows[i]);
            }
            this.narrowSize = narrow * SlidingWindow.SLOTS;
            this.wideSize = wideCount * SlidingWindow.SLOTS;
            this.longestWindow = longest;
        }

        int index(String id) {
            for (int i = 0; i < ids.length; i++) {
                if (ids[i].equals(id)) {
                    return i;
                }
            }
            return -1;
        }

        /** This layout with the counter added, or made wide; interned. */
        Layout with(String id, long window, boolean needsWide) {
            int existing = index(id);
            int size = existing < 0 ? ids.length + 1 : ids.length;
            String[] newIds = Arrays.copyOf(ids, size);
            long[] newWindows = Arrays.copyOf(windows, size);
            boolean[] newWide = Arrays.copyOf(wide, size);
            int at = existing < 0 ? ids.length : existing;
            newIds[at] = id;
            newWindows[at] = window;
            newWide[at] = needsWide || (existing >= 0 && wide[existing]);
            StringBuilder signature = new StringBuilder();
            for (int i = 0; i < size; i++) {
                signature.append(newIds[i]).append(newWide[i] ? "W" : "N").append(',');
            }
            return INTERNED.computeIfAbsent(signature.toString(), k -> new Layout(newIds, newWindows, newWide));
        }
    }

    /** The counts of one key. Guarded by its own monitor. */
    private static final class KeyState {
        Layout layout = Layout.EMPTY;
        char[] narrow;
        int[] wide;
        /** The last time this key was used; every counter's slots are current as of this time. */
        long lastMillis;
        boolean removed;

        KeyState(long now) {
            this.lastMillis = now;
        }

        long get(int counter, int slot) {
            int at = layout.offsets[counter] + slot;
            return layout.wide[counter] ? wide[at] : narrow[at];
        }

        void set(int counter, int slot, long value) {
            int at = layout.offsets[counter] + slot;
            if (layout.wide[counter]) {
                wide[at] = (int) value;
            } else {
                narrow[at] = (char) value;
            }
        }

        /** Empties the slots of sub-buckets that have left their windows since lastMillis. */
        void advanceTo(long now) {
            if (now <= lastMillis) {
                return;
            }
            for (int c = 0; c < layout.ids.length; c++) {
                long width = layout.widths[c];
                long from = Math.floorDiv(lastMillis, width);
                long to = Math.floorDiv(now, width);
                if (to - from >= SlidingWindow.SLOTS) {
                    for (int s = 0; s < SlidingWindow.SLOTS; s++) {
                        set(c, s, 0);
                    }
                } else {
                    for (long b = from + 1; b <= to; b++) {
                        set(c, slotOf(b), 0);
                    }
                }
            }
            lastMillis = now;
        }

        long sum(int counter) {
            long sum = 0;
            for (int s = 0; s < SlidingWindow.SLOTS; s++) {
                sum += get(counter, s);
            }
            return sum;
        }

        /** Makes room for this counter (added, or moved to 32-bit slots when its limit needs them). */
        int ensure(Limit limit) {
            String id = limit.counterId();
            boolean needsWide = limit.max() > Character.MAX_VALUE;
            int index = layout.index(id);
            if (index >= 0 && (layout.wide[index] || !needsWide)) {
                return index;
            }
            Layout next = layout.with(id, limit.window().toMillis(), needsWide);
            char[] newNarrow = next.narrowSize == 0 ? null : new char[next.narrowSize];
            int[] newWide = next.wideSize == 0 ? null : new int[next.wideSize];
            Layout old = layout;
            for (int c = 0; c < old.ids.length; c++) {
                int target = next.index(old.ids[c]);
                for (int s = 0; s < SlidingWindow.SLOTS; s++) {
                    long value = get(c, s);
                    int at = next.offsets[target] + s;
                    if (next.wide[target]) {
                        newWide[at] = (int) value;
                    } else {
                        newNarrow[at] = (char) value;
                    }
                }
            }
            layout = next;
            narrow = newNarrow;
            wide = newWide;
            return layout.index(id);
        }
    }

    private static int slotOf(long bucket) {
        return (int) Math.floorMod(bucket, (long) SlidingWindow.SLOTS);
    }

    private final ConcurrentHashMap<String, KeyState> keys = new ConcurrentHashMap<>();
    private final LongSupplier clockMillis;
    private final long maxKeys;
    private final AtomicLong evictedActive = new AtomicLong();
    private Iterator<Map.Entry<String, KeyState>> sweeper;

    public MemoryLimiterStore(long maxKeys, LongSupplier clockMillis) {
        if (maxKeys < 1) {
            throw new IllegalArgumentException("maxKeys must be at least 1");
        }
        this.maxKeys = maxKeys;
        this.clockMillis = clockMillis;
    }

    @Override
    public LimitDecision acquire(String key, List<Charge> charges) {
        if (charges.isEmpty()) {
            return LimitDecision.admitted(Ticket.NONE);
        }
        while (true) {
            KeyState state = stateFor(key, clockMillis.getAsLong());
            synchronized (state) {
                if (state.removed) {
                    continue; // evicted between lookup and lock: take the fresh one
                }
                // Read the time under the key's lock: a decision never uses a time older than one already used.
                long now = Math.max(clockMillis.getAsLong(), state.lastMillis);
                return acquireLocked(key, state, charges, now);
            }
        }
    }

    private static LimitDecision acquireLocked(String key, KeyState state, List<Charge> charges, long now) {
        state.advanceTo(now);
        LimitDecision refusal = refusal(state, charges, now);
        if (refusal != null) {
            return refusal;
        }
        List<Ticket.Entry> entries = new ArrayList<>(charges.size());
        for (Charge charge : charges) {
            Limit limit = charge.limit();
            long windowMillis = limit.window().toMillis();
            long bucket = SlidingWindow.bucketAt(now, windowMillis);
            int counter = state.ensure(limit);
            int slot = slotOf(bucket);
            state.set(counter, slot, state.get(counter, slot) + charge.amount());
            entries.add(new Ticket.Entry(limit.counterId(), windowMillis, bucket, charge.amount()));
        }
        return LimitDecision.admitted(new Ticket(key, entries, state));
    }

    /** The charge that does not fit in {@code state} (advanced to {@code now}), the one freeing up last; null when all fit. */
    private static LimitDecision refusal(KeyState state, List<Charge> charges, long now) {
        LimitDecision refusal = null;
        for (Charge charge : charges) {
            Limit limit = charge.limit();
            long windowMillis = limit.window().toMillis();
            if (charge.amount() > limit.max()) {
                return LimitDecision.refused(limit, windowMillis, true);
            }
            int counter = state.layout.index(limit.counterId());
            long used = counter < 0 ? 0 : state.sum(counter);
            if (used + charge.amount() > limit.max()) {
                long bucket = SlidingWindow.bucketAt(now, windowMillis);
                long retry = SlidingWindow.retryAfterMillis(bucketsOf(bucket), countsOf(state, counter), bucket,
                    used + charge.amount() - limit.max(), windowMillis, now);
                if (refusal == null || retry > refusal.retryAfterMillis()) {
                    refusal = LimitDecision.refused(limit, retry, false);
                }
            }
        }
        return refusal;
    }

    /** Read only: decides on a copy of the key's counts, so neither the counts nor the key's time move. */
    @Override
    public LimitDecision estimate(String key, List<Charge> charges) {
        KeyState copy = new KeyState(0);
        KeyState state = keys.get(key);
        if (state != null) {
            synchronized (state) {
                copy.layout = state.layout;
                copy.narrow = state.narrow == null ? null : state.narrow.clone();
                copy.wide = state.wide == null ? null : state.wide.clone();
                copy.lastMillis = state.lastMillis;
            }
        }
        long now = Math.max(clockMillis.getAsLong(), copy.lastMillis);
        copy.advanceTo(now);
        LimitDecision refusal = refusal(copy, charges, now);
        return refusal != null ? refusal : LimitDecision.admitted(Ticket.NONE);
    }

    /** The bucket index each slot holds at {@code currentBucket}. */
    private static long[] bucketsOf(long currentBucket) {
        long[] buckets = new long[SlidingWindow.SLOTS];
        for (long b = currentBucket - SlidingWindow.SUB_BUCKETS; b <= currentBucket; b++) {
            buckets[slotOf(b)] = b;
        }
        return buckets;
    }

    private static long[] countsOf(KeyState state, int counter) {
        long[] counts = new long[SlidingWindow.SLOTS];
        for (int s = 0; s < SlidingWindow.SLOTS && counter >= 0; s++) {
            counts[s] = state.get(counter, s);
        }
        return counts;
    }

    @Override
    public boolean isCurrent(Ticket ticket) {
        long now = clockMillis.getAsLong();
        for (Ticket.Entry entry : ticket.entries()) {
            if (entry.bucket() != SlidingWindow.bucketAt(now, entry.windowMillis())) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void release(Ticket ticket) {
        if (ticket == null || ticket.isEmpty() || !ticket.markReleased()) {
            return;
        }
        KeyState state = keys.get(ticket.key());
        if (state == null || (ticket.owner() != null && ticket.owner() != state)) {
            return; // the key was reset or evicted since: its new counters owe this ticket nothing
        }
        synchronized (state) {
            state.advanceTo(Math.max(clockMillis.getAsLong(), state.lastMillis));
            for (Ticket.Entry entry : ticket.entries()) {
                int counter = state.layout.index(entry.counterId());
                long current = SlidingWindow.bucketAt(state.lastMillis, entry.windowMillis());
                if (counter >= 0 && SlidingWindow.counts(entry.bucket(), current)) {
                    int slot = slotOf(entry.bucket());
                    state.set(counter, slot, Math.max(0, state.get(counter, slot) - entry.amount()));
                }
            }
        }
    }

    @Override
    public Map<Limit, Long> usage(String key, List<Limit> limits) {
        Map<Limit, Long> usage = new LinkedHashMap<>();
        KeyState state = keys.get(key);
        long now = clockMillis.getAsLong();
        for (Limit limit : limits) {
            long used = 0;
            if (state != null) {
                synchronized (state) {
                    state.advanceTo(Math.max(now, state.lastMillis));
                    int counter = state.layout.index(limit.counterId());
                    used = counter < 0 ? 0 : state.sum(counter);
                }
            }
            usage.put(limit, used);
        }
        return usage;
    }

    @Override
    public void reset(String key) {
        KeyState state = keys.remove(key);
        if (state != null) {
            synchronized (state) {
                state.removed = true;
            }
        }
    }

    @Override
    public long trackedKeys() {
        return keys.size();
    }

    /** Keys dropped while their counters still counted (the store was full): the limit was not enforced for them. */
    public long evictedActiveKeys() {
        return evictedActive.get();
    }

    @Override
    public String kind() {
        return StoreKind.MEMORY.configName();
    }

    private KeyState stateFor(String key, long now) {
        KeyState state = keys.get(key);
        if (state != null) {
            return state;
        }
        sweep(now);
        if (keys.size() >= maxKeys) {
            evictOne(now);
        }
        return keys.computeIfAbsent(key, k -> new KeyState(now));
    }

    /** Drops a few idle keys (everything counted has left the window) each time a key is created. */
    private synchronized void sweep(long now) {
        for (int i = 0; i < EVICTION_SAMPLE; i++) {
            if (sweeper == null || !sweeper.hasNext()) {
                sweeper = keys.entrySet().iterator();
                if (!sweeper.hasNext()) {
                    return;
                }
            }
            Map.Entry<String, KeyState> entry = sweeper.next();
            KeyState state = entry.getValue();
            synchronized (state) {
                if (isIdle(state, now) && keys.remove(entry.getKey(), state)) {
                    state.removed = true;
                }
            }
        }
    }

    /** The store is full: drop an idle key if the sample has one, else the least recently used of the sample. */
    private synchronized void evictOne(long now) {
        while (keys.size() >= maxKeys) {
            Map.Entry<String, KeyState> oldest = null;
            Iterator<Map.Entry<String, KeyState>> it = keys.entrySet().iterator();
            for (int i = 0; i < EVICTION_SAMPLE && it.hasNext(); i++) {
                Map.Entry<String, KeyState> entry = it.next();
                if (isIdle(entry.getValue(), now)) {
                    oldest = entry;
                    break;
                }
                if (oldest == null || entry.getValue().lastMillis < oldest.getValue().lastMillis) {
                    oldest = entry;
                }
            }
            if (oldest == null) {
                return;
            }
            if (!isIdle(oldest.getValue(), now)) {
                evictedActive.incrementAndGet();
            }
            remove(oldest.getKey(), oldest.getValue());
        }
    }

    private void remove(String key, KeyState state) {
        synchronized (state) {
            if (keys.remove(key, state)) {
                state.removed = true;
            }
        }
    }

    private static boolean isIdle(KeyState state, long now) {
        long longest = state.layout.longestWindow;
        // The last sub-bucket used stops counting SLOTS widths after it started (>= the window itself).
        return now - state.lastMillis > SlidingWindow.SLOTS * SlidingWindow.width(longest);
    }
}
