package dev.relayguard.core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The memory {@link Holds} of probe bans (one node, lost on restart: with the Redis rate-limit store the bans live in
 * Redis, see {@code store.RedisHolds}). Keys collecting hits and held keys are bounded separately, so a flood of hits
 * from new keys can never lift a hold: a hold ends when it expires or is lifted, or, only when more than
 * {@code maxHeld} are in force at once, when it is the one ending soonest; such a dropped hold is counted
 * ({@link #droppedHolds()}). Thread-safe.
 */
public final class MemoryBans implements Holds {
    /** Hits of keys not held right now; a key that gets held leaves it (holds live apart). */
    private final Suspensions hits;
    /** Holds in force: key to hold. Guarded by {@code this}. */
    private final Map<String, Hold> held = new HashMap<>();
    private final AtomicLong dropped = new AtomicLong();
    private final LongSupplier clockMillis;
    private volatile Settings settings;

    public MemoryBans(Settings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.clockMillis = clockMillis;
        this.hits = new Suspensions(settings, clockMillis);
    }

    @Override
    public synchronized void reconfigure(Settings newSettings) {
        this.settings = newSettings;
        hits.reconfigure(newSettings);
        dropOverflow(clockMillis.getAsLong(), newSettings.maxHeld());
    }

    @Override
    public synchronized Hold countHit(String key, String reason) {
        long now = clockMillis.getAsLong();
        if (heldAt(key, now) != null) {
            return null;
        }
        Hold started = hits.countHit(key, reason);
        if (started == null) {
            return null;
        }
        hits.lift(key); // its hits are spent; the hold lives apart, out of reach of tracking churn
        if (started.untilMillis() > now) { // holdFor 0: nothing to keep
            dropOverflow(now, settings.maxHeld() - 1);
            held.put(key, started);
        }
        return started;
    }

    @Override
    public synchronized void hold(String key, long untilMillis, String reason) {
        long now = clockMillis.getAsLong();
        hits.lift(key);
        held.remove(key);
        if (untilMillis > now) {
            dropOverflow(now, settings.maxHeld() - 1);
            held.put(key, new Hold(key, untilMillis, reason));
        }
    }

    @Override
    public synchronized Hold holdOf(String key) {
        return heldAt(key, clockMillis.getAsLong());
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

    /** Forgets ended holds, then drops the holds ending soonest until at most {@code keep} remain. */
    private void dropOverflow(long now, int keep) {
        if (held.size() <= keep) {
            return;
        }
        held.values().removeIf(hold -> hold.untilMillis() <= now);
        while (held.size() > keep) {
            Iterator<Hold> holds = held.values().iterator();
            Hold soonest = holds.next();
            while (holds.hasNext()) {
                Hold hold = holds.next();
                if (hold.untilMillis() < soonest.untilMillis()) {
                    soonest = hold;
                }
            }
            held.remove(soonest.key());
            dropped.incrementAndGet();
        }
    }

    @Override
    public synchronized boolean lift(String key) {
        hits.lift(key);
        Hold removed = held.remove(key);
        return removed != null && removed.untilMillis() > clockMillis.getAsLong();
    }

    @Override
    public synchronized List<Hold> active() {
        long now = clockMillis.getAsLong();
        held.values().removeIf(hold -> hold.untilMillis() <= now);
        return new ArrayList<>(held.values());
    }

    @Override
    public synchronized int trackedCount() {
        return hits.trackedCount() + heldCount();
    }

    @Override
    public synchronized int heldCount() {
        long now = clockMillis.getAsLong();
        held.values().removeIf(hold -> hold.untilMillis() <= now);
        return held.size();
    }

    @Override
    public long droppedHolds() {
        return dropped.get();
    }

    @Override
    public String kind() {
        return "memory";
    }
}
