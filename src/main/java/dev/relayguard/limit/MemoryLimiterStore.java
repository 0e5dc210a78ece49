package dev.relayguard.limit;

import java.util.ArrayList;
import java.util.HashMap;
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

    /** The counters of one key: per counter id, SLOTS (bucket, amount) pairs. */
    private static final class KeyState {
        final Map<String, long[]> counters = new HashMap<>(4);
        volatile long lastUsedMillis;
        long longestWindowMillis;
        boolean removed;

        long[] counter(String counterId, boolean create) {
            long[] slots = counters.get(counterId);
            if (slots == null && create) {
                slots = new long[2 * SlidingWindow.SLOTS];
                for (int i = 0; i < SlidingWindow.SLOTS; i++) {
                    slots[2 * i] = Long.MIN_VALUE;
                }
                counters.put(counterId, slots);
            }
            return slots;
        }

        static long sum(long[] slots, long currentBucket) {
            long sum = 0;
            for (int i = 0; i < SlidingWindow.SLOTS; i++) {
                if (SlidingWindow.counts(slots[2 * i], currentBucket)) {
                    sum += slots[2 * i + 1];
                }
            }
            return sum;
        }

        static void add(long[] slots, long bucket, long amount) {
            int slot = (int) Math.floorMod(bucket, (long) SlidingWindow.SLOTS);
            if (slots[2 * slot] != bucket) {
                slots[2 * slot] = bucket;
                slots[2 * slot + 1] = 0;
            }
            slots[2 * slot + 1] += amount;
        }

        static void subtract(long[] slots, long bucket, long amount) {
            int slot = (int) Math.floorMod(bucket, (long) SlidingWindow.SLOTS);
            if (slots[2 * slot] == bucket) {
                slots[2 * slot + 1] = Math.max(0, slots[2 * slot + 1] - amount);
            }
        }
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
                long now = Math.max(clockMillis.getAsLong(), state.lastUsedMillis);
                state.lastUsedMillis = now;
                return acquireLocked(key, state, charges, now);
            }
        }
    }

    private static LimitDecision acquireLocked(String key, KeyState state, List<Charge> charges, long now) {
        LimitDecision refusal = null;
        for (Charge charge : charges) {
            Limit limit = charge.limit();
            long windowMillis = limit.window().toMillis();
            long bucket = SlidingWindow.bucketAt(now, windowMillis);
            long[] slots = state.counter(limit.counterId(), false);
            long used = slots == null ? 0 : KeyState.sum(slots, bucket);
            if (charge.amount() > limit.max()) {
                return LimitDecision.refused(limit, windowMillis, true);
            }
            if (used + charge.amount() > limit.max()) {
                long retry = SlidingWindow.retryAfterMillis(bucketsOf(slots), countsOf(slots), bucket,
                    used + charge.amount() - limit.max(), windowMillis, now);
                if (refusal == null || retry > refusal.retryAfterMillis()) {
                    refusal = LimitDecision.refused(limit, retry, false);
                }
            }
        }
        if (refusal != null) {
            return refusal;
        }
        List<Ticket.Entry> entries = new ArrayList<>(charges.size());
        for (Charge charge : charges) {
            Limit limit = charge.limit();
            long windowMillis = limit.window().toMillis();
            long bucket = SlidingWindow.bucketAt(now, windowMillis);
            KeyState.add(state.counter(limit.counterId(), true), bucket, charge.amount());
            state.longestWindowMillis = Math.max(state.longestWindowMillis, windowMillis);
            entries.add(new Ticket.Entry(limit.counterId(), windowMillis, bucket, charge.amount()));
        }
        return LimitDecision.admitted(new Ticket(key, entries, state));
    }

    private static long[] bucketsOf(long[] slots) {
        long[] buckets = new long[SlidingWindow.SLOTS];
        for (int i = 0; i < SlidingWindow.SLOTS; i++) {
            buckets[i] = slots == null ? Long.MIN_VALUE : slots[2 * i];
        }
        return buckets;
    }

    private static long[] countsOf(long[] slots) {
        long[] counts = new long[SlidingWindow.SLOTS];
        for (int i = 0; i < SlidingWindow.SLOTS && slots != null; i++) {
            counts[i] = slots[2 * i + 1];
        }
        return counts;
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
            for (Ticket.Entry entry : ticket.entries()) {
                long[] slots = state.counter(entry.counterId(), false);
                if (slots != null) {
                    KeyState.subtract(slots, entry.bucket(), entry.amount());
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
                    long[] slots = state.counter(limit.counterId(), false);
                    used = slots == null ? 0 : KeyState.sum(slots, SlidingWindow.bucketAt(now, limit.window().toMillis()));
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
        return "memory";
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
        return keys.computeIfAbsent(key, k -> {
            KeyState fresh = new KeyState();
            fresh.lastUsedMillis = now;
            return fresh;
        });
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
            if (isIdle(entry.getValue(), now)) {
                remove(entry.getKey(), entry.getValue());
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
                if (oldest == null || entry.getValue().lastUsedMillis < oldest.getValue().lastUsedMillis) {
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
        long longest = state.longestWindowMillis;
        // The last sub-bucket used stops counting SLOTS widths after it started (>= the window itself).
        return now - state.lastUsedMillis > SlidingWindow.SLOTS * SlidingWindow.width(longest);
    }
}
