package dev.relayguard.limit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The in-memory {@link LimiterStore} (one James node). Each key's counters are guarded by the key's own lock,
 * so decisions for different users never wait for each other and a decision is atomic across all the limits
 * it charges. Memory is bounded: at most {@code maxKeys} keys; keys whose counters have all left their windows
 * are dropped as they are met, and when the store is full the least recently used of a sample is dropped.
 *
 * <p><b>Hot path.</b> The key's lock is a sequence lock (a version, odd while a writer holds it): a key that was
 * refused before is first decided read only, without the lock, and the decision is kept when the version did
 * not move during the read (nothing was counted, given back or reset meanwhile), since a refusal writes
 * nothing; admissions and every write take the lock. A refusal is the same object until the instant it names
 * moves ({@link LimitDecision#refusedUntil}), a charge larger than its limit is refused by the limit's own
 * decision, and an admission allocates its decision and its ticket only. Creating a key takes no store-wide
 * lock ({@link ConcurrentHashMap#computeIfAbsent}; the sweep of idle keys is skipped while another thread runs
 * it). Figures: {@code docs/PERFORMANCE.md} §2.
 */
public final class MemoryLimiterStore implements LimiterStore {
    private static final int EVICTION_SAMPLE = 16;

    /**
     * Which counters a key has and where their slots are: shared by every key with the same limits (interned),
     * so a key itself holds only its counts. A counter whose limit fits 16 bits (messages, recipients) keeps its
     * {@value SlidingWindow#SLOTS} slots and their running total ({@link #BLOCK} entries) in a {@code char[]}, a
     * larger one (bytes) in an {@code int[]}. The total is what every slot holds together: what the counter
     * holds while the key's time is in its current sub-bucket (no slot to skip), read without a sum.
     */
    static final class Layout {
        private static final ConcurrentHashMap<String, Layout> INTERNED = new ConcurrentHashMap<>();
        /** Entries per counter: its slots, then their total. */
        static final int BLOCK = SlidingWindow.SLOTS + 1;
        /** Where a counter's total is within its block. */
        static final int TOTAL = SlidingWindow.SLOTS;
        static final Layout EMPTY = new Layout(new String[0], new long[0], new boolean[0]);

        final String[] ids;
        final long[] windows;
        final long[] widths;
        final boolean[] wide;
        final int[] offsets;
        final int narrowSize;
        final int wideSize;
        final long longestWindow;
        /** A width that divides every counter's width (their gcd): no slot moves while now / step is unchanged. */
        final SubBucketIndex steps;

        private Layout(String[] ids, long[] windows, boolean[] wide) {
            this.ids = ids;
            this.windows = windows;
            this.wide = wide;
            this.widths = new long[ids.length];
            this.offsets = new int[ids.length];
            int narrow = 0;
            int wideCount = 0;
            long longest = 0;
            long gcd = 0;
            for (int i = 0; i < ids.length; i++) {
                widths[i] = SlidingWindow.width(windows[i]);
                offsets[i] = wide[i] ? wideCount++ * BLOCK : narrow++ * BLOCK;
                longest = Math.max(longest, windows[i]);
                gcd = gcd(gcd, widths[i]);
            }
            this.steps = new SubBucketIndex(Math.max(1, gcd));
            this.narrowSize = narrow * BLOCK;
            this.wideSize = wideCount * BLOCK;
            this.longestWindow = longest;
        }

        private static long gcd(long a, long b) {
            return b == 0 ? a : gcd(b, a % b);
        }

        /** The charges last resolved against this layout and their counters (shared by every key of the layout). */
        private Resolved resolved;

        /** Each charge's counter in this layout, -1 when it has none yet; the array is not to be changed. */
        int[] countersOf(List<Charge> charges) {
            Resolved last = resolved;
            if (last != null && last.charges == charges) {
                return last.counters;
            }
            int[] counters = new int[charges.size()];
            for (int i = 0; i < counters.length; i++) {
                counters[i] = index(charges.get(i).limit().counterId());
            }
            resolved = new Resolved(charges, counters);
            return counters;
        }

        int index(String id) {
            String[] all = ids;
            for (int i = 0; i < all.length; i++) {
                if (all[i] == id) { // counter ids are interned (Limit#counterId)
                    return i;
                }
            }
            for (int i = 0; i < all.length; i++) {
                if (all[i].equals(id)) {
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

    /** Charges and their counters in one layout; immutable once published (final fields). */
    private static final class Resolved {
        final List<Charge> charges;
        final int[] counters;

        Resolved(List<Charge> charges, int[] counters) {
            this.charges = charges;
            this.counters = counters;
        }
    }

    /** The counts of one key, guarded by its own sequence lock ({@link #lock()}). */
    static final class KeyState {
        private static final VarHandle VERSION;
        private static final int SPINS_BEFORE_YIELD = 64;

        static {
            try {
                VERSION = MethodHandles.lookup().findVarHandle(KeyState.class, "version", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        Layout layout = Layout.EMPTY;
        char[] narrow;
        int[] wide;
        /** The last time this key was written; every counter's slots are current as of this time. */
        long lastMillis;
        boolean removed;
        /** The last refusal made for this key, with what it holds for (read lock-free); null after an admission. */
        KeptRefusal kept;
        /** Even: free; odd: a writer holds the key. Moves on every write, so that a reader can validate. */
        private volatile int version;

        KeyState(long now) {
            this.lastMillis = now;
        }

        void lock() {
            int spins = 0;
            while (true) {
                int v = version;
                if ((v & 1) == 0 && VERSION.compareAndSet(this, v, v + 1)) {
                    return;
                }
                if (++spins < SPINS_BEFORE_YIELD) {
                    Thread.onSpinWait();
                } else {
                    spins = 0;
                    Thread.yield(); // the holder may be descheduled: let it run
                }
            }
        }

        void unlock() {
            VERSION.setRelease(this, version + 1);
        }

        /** The version to validate a lock-free read against; odd (a writer is active): do not read. */
        int readStart() {
            return version;
        }

        /** Under the lock: the version the key will have once this writer unlocks. */
        int versionAfterUnlock() {
            return version + 1;
        }

        /** True when nothing was written since {@code readStart} returned {@code start}. */
        boolean readValid(int start) {
            VarHandle.acquireFence();
            return version == start;
        }

        long get(int counter, int slot) {
            int at = layout.offsets[counter] + slot;
            return layout.wide[counter] ? wide[at] : narrow[at];
        }

        /** Adds {@code delta} (negative to take out) to a slot and to the counter's total. Under the lock. */
        void add(int counter, int slot, long delta) {
            int from = layout.offsets[counter];
            if (layout.wide[counter]) {
                wide[from + slot] += (int) delta;
                wide[from + Layout.TOTAL] += (int) delta;
            } else {
                narrow[from + slot] += (char) delta;
                narrow[from + Layout.TOTAL] += (char) delta;
            }
        }

        /** Empties a slot (its count leaves the total). Under the lock. */
        void clear(int counter, int slot) {
            add(counter, slot, -get(counter, slot));
        }

        /** Empties the slots of sub-buckets that have left their windows since lastMillis. Under the lock. */
        void advanceTo(long now) {
            if (now <= lastMillis) {
                return;
            }
            Layout current = layout;
            if (current.steps.indexOf(now) != current.steps.indexOf(lastMillis)) {
                for (int c = 0; c < current.ids.length; c++) {
                    long width = current.widths[c];
                    long from = Math.floorDiv(lastMillis, width);
                    long to = Math.floorDiv(now, width);
                    if (to - from >= SlidingWindow.SLOTS) {
                        for (int s = 0; s < SlidingWindow.SLOTS; s++) {
                            clear(c, s);
                        }
                    } else {
                        for (long b = from + 1; b <= to; b++) {
                            clear(c, slotOf(b));
                        }
                    }
                }
            }
            lastMillis = now;
        }

        /** What the counter holds (after {@link #advanceTo}). */
        long sum(int counter) {
            return get(counter, Layout.TOTAL);
        }

        /** Makes room for {@code amount} more in this counter (added, or moved to 32-bit slots when needed). Under the lock. */
        int ensure(Limit limit, long amount) {
            String id = limit.counterId();
            int index = layout.index(id);
            // 32-bit slots for a limit above 16 bits, or for a count that would pass 16 bits (two charges on one
            // counter in one list, each fitting its own limit: counted, never wrapped)
            boolean needsWide = limit.max() > Character.MAX_VALUE
                || (index >= 0 && get(index, Layout.TOTAL) + amount > Character.MAX_VALUE);
            if (index >= 0 && (layout.wide[index] || !needsWide)) {
                return index;
            }
            Layout next = layout.with(id, limit.windowMillis(), needsWide);
            char[] newNarrow = next.narrowSize == 0 ? null : new char[next.narrowSize];
            int[] newWide = next.wideSize == 0 ? null : new int[next.wideSize];
            Layout old = layout;
            for (int c = 0; c < old.ids.length; c++) {
                int target = next.index(old.ids[c]);
                for (int s = 0; s < Layout.BLOCK; s++) { // the slots and their total
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

    /**
     * A refusal and what makes it still the answer: made at {@code version} of the key for these charges. While
     * the key's version has not moved (nothing was counted, given back, advanced or reset) and its instant has not
     * come, deciding again on the same charges gives this very refusal: without writes counts only leave their
     * windows, so no limit starts refusing, and the limit that frees up last still refuses until its instant
     * (ties broken by the same order). Immutable (final fields: safe to publish and read without the lock).
     */
    static final class KeptRefusal {
        final LimitDecision decision;
        final List<Charge> charges;
        final int version;
        final long untilMillis;

        KeptRefusal(LimitDecision decision, List<Charge> charges, int version) {
            this.decision = decision;
            this.charges = charges;
            this.version = version;
            this.untilMillis = decision.retryAtMillis();
        }

        /** Same limits (the very objects: a reload makes new ones) and amounts, in the same order. */
        boolean holdsFor(List<Charge> other) {
            List<Charge> mine = charges;
            if (other == mine) {
                return true;
            }
            int size = mine.size();
            if (other.size() != size) {
                return false;
            }
            for (int i = 0; i < size; i++) {
                Charge a = mine.get(i);
                Charge b = other.get(i);
                if (a.limit() != b.limit() || a.amount() != b.amount()) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * The counts of one key as read at one time, lock-free or under the lock: read only, at any {@code now} not
     * before the key's time (slots of sub-buckets that left their windows since then are skipped, not emptied).
     * A lock-free read may see fields of different writes: it never throws for that (the arrays are checked
     * against the layout) and its answer is dropped unless the key's version did not move.
     */
    private static final class Snapshot {
        private Snapshot() {
        }

        /** False when the arrays do not match the layout (a lock-free read during a write). */
        static boolean consistent(Layout layout, char[] narrow, int[] wide) {
            return (layout.narrowSize == 0 || (narrow != null && narrow.length >= layout.narrowSize))
                && (layout.wideSize == 0 || (wide != null && wide.length >= layout.wideSize));
        }

        static long count(Layout layout, char[] narrow, int[] wide, int counter, long bucket) {
            int at = layout.offsets[counter] + slotOf(bucket);
            return layout.wide[counter] ? wide[at] : narrow[at];
        }

        /** What counter {@code counter} holds at bucket {@code current}, its slots being current at bucket {@code last}. */
        static long used(Layout layout, char[] narrow, int[] wide, int counter, long last, long current) {
            if (last == current) { // the common case: every slot counts, their total is kept
                int at = layout.offsets[counter] + Layout.TOTAL;
                return layout.wide[counter] ? wide[at] : narrow[at];
            }
            long sum = 0;
            for (long b = Math.max(last, current) - SlidingWindow.SUB_BUCKETS; b <= last; b++) {
                if (b > current - SlidingWindow.SLOTS) {
                    sum += count(layout, narrow, wide, counter, b);
                }
            }
            return sum;
        }

        /** The instant enough has left the window for {@code needed} more to fit (see {@link SlidingWindow#retryAfterMillis}). */
        static long retryAt(Layout layout, char[] narrow, int[] wide, int counter, long last, long current,
                            long needed, long width) {
            long freed = 0;
            for (long bucket = current - SlidingWindow.SUB_BUCKETS; bucket <= current; bucket++) {
                if (bucket <= last && bucket > last - SlidingWindow.SLOTS) {
                    freed += count(layout, narrow, wide, counter, bucket);
                }
                if (freed >= needed) {
                    // This sub-bucket stops counting when the current bucket reaches bucket + SLOTS.
                    return (bucket + SlidingWindow.SLOTS) * width;
                }
            }
            return (current + SlidingWindow.SLOTS) * width;
        }
    }

    private static int slotOf(long bucket) {
        return (int) Math.floorMod(bucket, (long) SlidingWindow.SLOTS);
    }

    private static final LimitDecision ADMITTED_NOTHING = LimitDecision.admitted(Ticket.NONE);

    private final ConcurrentHashMap<String, KeyState> keys = new ConcurrentHashMap<>();
    private final LongSupplier clockMillis;
    private final long maxKeys;
    private final AtomicLong evictedActive = new AtomicLong();
    /** Held by the thread sweeping idle keys; the others skip the sweep instead of waiting. */
    private final AtomicBoolean sweeping = new AtomicBoolean();
    private Iterator<Map.Entry<String, KeyState>> sweeper;

    /**
     * @param maxKeys     the most keys tracked at once (at least 1); beyond it, idle or least recently used keys are dropped
     * @param clockMillis the time in milliseconds (epoch milliseconds in production: {@code System::currentTimeMillis})
     */
    public MemoryLimiterStore(long maxKeys, LongSupplier clockMillis) {
        if (maxKeys < 1) {
            throw new IllegalArgumentException("maxKeys must be at least 1");
        }
        this.maxKeys = maxKeys;
        this.clockMillis = clockMillis;
    }

    @Override
    public LimitDecision acquire(String key, List<Charge> given) {
        if (given.isEmpty()) {
            return ADMITTED_NOTHING;
        }
        // Immutable from here on (the same list when it already is): the kept refusal and the counters resolved
        // per layout are found by the list's identity, which must not stand for other charges later.
        List<Charge> charges = List.copyOf(given);
        KeyState state = keys.get(key);
        if (state == null) {
            state = stateFor(key);
        }
        while (true) {
            int version = state.readStart();
            KeptRefusal kept = state.kept;
            if (kept != null && (version & 1) == 0) { // refused before: most likely refused again, which needs no write
                if (kept.version == version && kept.holdsFor(charges) && clockMillis.getAsLong() < kept.untilMillis) {
                    return kept.decision; // nothing moved since it was made (see KeptRefusal)
                }
                Layout layout = state.layout;
                char[] narrow = state.narrow;
                int[] wide = state.wide;
                long last = state.lastMillis;
                boolean removed = state.removed;
                LimitDecision refusal = removed || !Snapshot.consistent(layout, narrow, wide) ? null
                    : refusal(kept, layout, narrow, wide, last, charges, Math.max(clockMillis.getAsLong(), last));
                if (refusal != null && state.readValid(version)) {
                    keep(state, refusal, charges, version);
                    return refusal;
                }
            }
            state.lock();
            try {
                if (!state.removed) {
                    // Read the time under the key's lock: a decision never uses a time older than one already used.
                    return acquireLocked(key, state, charges, Math.max(clockMillis.getAsLong(), state.lastMillis));
                }
            } finally {
                state.unlock();
            }
            state = stateFor(key); // evicted or reset between lookup and lock: take the fresh one
        }
    }

    private LimitDecision acquireLocked(String key, KeyState state, List<Charge> charges, long now) {
        state.advanceTo(now); // the key's time is now: every counter's total is what it holds
        List<Charge> counted = charges; // immutable (acquire)
        // One pass, counting as it checks (the common case: every counter exists and everything fits)...
        Layout layout = state.layout;
        int[] counters = layout.countersOf(counted);
        int added = 0;
        while (added < counters.length) {
            Charge charge = counted.get(added);
            Limit limit = charge.limit();
            int counter = counters[added];
            long max = limit.max();
            if (counter < 0 || (max > Character.MAX_VALUE && !layout.wide[counter])
                || state.get(counter, Layout.TOTAL) + charge.amount() > max) {
                break;
            }
            state.add(counter, limit.slotAt(now), charge.amount());
            added++;
        }
        if (added == counters.length) {
            state.kept = null;
            return LimitDecision.admitted(Ticket.counted(key, counted, now, state));
        }
        for (int i = 0; i < added; i++) { // ...else nothing counted after all, and the careful way
            Charge charge = counted.get(i);
            state.add(counters[i], charge.limit().slotAt(now), -charge.amount());
        }
        LimitDecision refusal = refusal(state.kept, layout, state.narrow, state.wide, now, counted, now);
        if (refusal != null) {
            keep(state, refusal, charges, state.versionAfterUnlock());
            return refusal;
        }
        for (int i = 0; i < counted.size(); i++) {
            Charge charge = counted.get(i);
            Limit limit = charge.limit();
            int counter = state.ensure(limit, charge.amount()); // adds the counter, or moves it to 32-bit slots
            state.add(counter, limit.slotAt(now), charge.amount());
        }
        state.kept = null;
        return LimitDecision.admitted(Ticket.counted(key, counted, now, state));
    }

    /** Keeps a refusal made at {@code version} for reuse (a charge larger than its limit is not kept: no instant). */
    private static void keep(KeyState state, LimitDecision refusal, List<Charge> charges, int version) {
        KeptRefusal kept = state.kept;
        if (!refusal.never() && (kept == null || kept.decision != refusal || kept.version != version || kept.charges != charges)) {
            state.kept = new KeptRefusal(refusal, charges, version);
        }
    }

    /**
     * The charge that does not fit at {@code now} in the counts given (current as of {@code lastMillis}), the one
     * freeing up last; null when all fit. Read only: the refusal {@code kept} before is returned when it is the
     * same answer (no allocation).
     */
    private LimitDecision refusal(KeptRefusal kept, Layout layout, char[] narrow, int[] wide, long lastMillis,
                                  List<Charge> charges, long now) {
        Limit refusing = null;
        long refusedUntil = 0;
        int[] counters = layout.countersOf(charges);
        for (int i = 0; i < charges.size(); i++) {
            Charge charge = charges.get(i);
            Limit limit = charge.limit();
            long amount = charge.amount();
            if (amount > limit.max()) {
                return limit.tooLarge();
            }
            int counter = counters[i];
            if (counter < 0) {
                continue; // nothing counted yet, and the charge is not larger than the limit
            }
            long width = limit.width();
            long last = limit.bucketAt(lastMillis);
            long current = lastMillis == now ? last : limit.bucketAt(now);
            long used = Snapshot.used(layout, narrow, wide, counter, last, current);
            if (used + amount > limit.max()) {
                long until = Snapshot.retryAt(layout, narrow, wide, counter, last, current, used + amount - limit.max(), width);
                if (refusing == null || until > refusedUntil) {
                    refusing = limit;
                    refusedUntil = until;
                }
            }
        }
        if (refusing == null) {
            return null;
        }
        if (kept != null && kept.decision.refusesUntil(refusing, refusedUntil, clockMillis)) {
            return kept.decision;
        }
        return LimitDecision.refusedUntil(refusing, refusedUntil, clockMillis);
    }

    /** Read only: decides on the key's counts as they are, so neither the counts nor the key's time move. */
    @Override
    public LimitDecision estimate(String key, List<Charge> given) {
        List<Charge> charges = List.copyOf(given); // immutable: counters are resolved by the list's identity
        KeyState state = keys.get(key);
        LimitDecision refusal;
        if (state == null) {
            refusal = refusal(null, Layout.EMPTY, null, null, 0, charges, clockMillis.getAsLong());
        } else {
            state.lock();
            try {
                long now = Math.max(clockMillis.getAsLong(), state.lastMillis);
                refusal = refusal(state.kept, state.layout, state.narrow, state.wide, state.lastMillis, charges, now);
            } finally {
                state.unlock();
            }
        }
        return refusal != null ? refusal : ADMITTED_NOTHING;
    }

    @Override
    public boolean isCurrent(Ticket ticket) {
        long now = clockMillis.getAsLong();
        List<Charge> charges = ticket.charges();
        if (charges != null) {
            for (int i = 0; i < charges.size(); i++) {
                Limit limit = charges.get(i).limit();
                if (limit.bucketAt(ticket.atMillis()) != limit.bucketAt(now)) {
                    return false;
                }
            }
            return true;
        }
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
        state.lock();
        try {
            state.advanceTo(Math.max(clockMillis.getAsLong(), state.lastMillis));
            List<Charge> charges = ticket.charges();
            if (charges != null) {
                for (int i = 0; i < charges.size(); i++) {
                    Charge charge = charges.get(i);
                    Limit limit = charge.limit();
                    giveBack(state, limit.counterId(), Math.floorDiv(ticket.atMillis(), limit.width()), limit.width(), charge.amount());
                }
            } else {
                for (Ticket.Entry entry : ticket.entries()) {
                    giveBack(state, entry.counterId(), entry.bucket(), SlidingWindow.width(entry.windowMillis()), entry.amount());
                }
            }
        } finally {
            state.unlock();
        }
    }

    /** Takes {@code amount} out of the slot of {@code bucket} when that sub-bucket still counts. Under the lock. */
    private static void giveBack(KeyState state, String counterId, long bucket, long width, long amount) {
        int counter = state.layout.index(counterId);
        long current = Math.floorDiv(state.lastMillis, width);
        if (counter >= 0 && SlidingWindow.counts(bucket, current)) {
            int slot = slotOf(bucket);
            state.add(counter, slot, -Math.min(amount, state.get(counter, slot)));
        }
    }

    @Override
    public Map<Limit, Long> usage(String key, List<Limit> limits) {
        Map<Limit, Long> usage = new LinkedHashMap<>();
        KeyState state = keys.get(key);
        long now = clockMillis.getAsLong();
        if (state != null) {
            state.lock();
            try {
                state.advanceTo(Math.max(now, state.lastMillis));
                for (Limit limit : limits) {
                    int counter = state.layout.index(limit.counterId());
                    usage.put(limit, counter < 0 ? 0 : state.sum(counter));
                }
            } finally {
                state.unlock();
            }
        } else {
            for (Limit limit : limits) {
                usage.put(limit, 0L);
            }
        }
        return usage;
    }

    @Override
    public void reset(String key) {
        KeyState state = keys.remove(key);
        if (state != null) {
            markRemoved(state);
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

    /** The key's state, created when missing (after a sweep of idle keys, and an eviction when the store is full). */
    private KeyState stateFor(String key) {
        KeyState state = keys.get(key);
        if (state != null) {
            return state;
        }
        long now = clockMillis.getAsLong();
        sweep(now);
        if (keys.size() >= maxKeys) {
            evictOne(now);
        }
        return keys.computeIfAbsent(key, k -> new KeyState(now));
    }

    /** Drops a few idle keys (everything counted has left the window) each time a key is created; skipped when busy. */
    private void sweep(long now) {
        if (!sweeping.compareAndSet(false, true)) {
            return; // another thread sweeps: creating this key does not wait for it
        }
        try {
            for (int i = 0; i < EVICTION_SAMPLE; i++) {
                if (sweeper == null || !sweeper.hasNext()) {
                    sweeper = keys.entrySet().iterator();
                    if (!sweeper.hasNext()) {
                        return;
                    }
                }
                Map.Entry<String, KeyState> entry = sweeper.next();
                KeyState state = entry.getValue();
                state.lock();
                try {
                    if (isIdle(state, now) && keys.remove(entry.getKey(), state)) {
                        state.removed = true;
                    }
                } finally {
                    state.unlock();
                }
            }
        } finally {
            sweeping.set(false);
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
            KeyState state = oldest.getValue();
            state.lock();
            try {
                if (keys.remove(oldest.getKey(), state)) {
                    state.removed = true;
                }
            } finally {
                state.unlock();
            }
        }
    }

    private static void markRemoved(KeyState state) {
        state.lock();
        try {
            state.removed = true;
        } finally {
            state.unlock();
        }
    }

    private static boolean isIdle(KeyState state, long now) {
        long longest = state.layout.longestWindow;
        // The last sub-bucket used stops counting SLOTS widths after it started (>= the window itself).
        return now - state.lastMillis > SlidingWindow.SLOTS * SlidingWindow.width(longest);
    }
}
