package dev.relayguard.core;

import java.util.List;
import java.util.function.LongSupplier;

/**
 * The memory {@link Holds} of probe bans: one node, lost on restart (with the Redis rate-limit store the bans live in
 * Redis, see {@code store.RedisHolds}). The rule and bounds of {@link Suspensions} without its file: keys collecting
 * hits and held keys are bounded separately, so a flood of hits from new keys can never lift a hold; a hold ends when
 * it expires or is lifted, or, only when more than {@code maxHeld} are in force at once, when it is the one ending
 * soonest; such a dropped hold is counted ({@link #droppedHolds()}). Thread-safe.
 */
public final class MemoryBans implements Holds {
    private final Suspensions holds;

    public MemoryBans(Settings settings, LongSupplier clockMillis) {
        this.holds = new Suspensions(settings, clockMillis);
    }

    @Override
    public void reconfigure(Settings newSettings) {
        holds.reconfigure(newSettings);
    }

    @Override
    public Hold countHit(String key, String reason) {
        return holds.countHit(key, reason);
    }

    @Override
    public void hold(String key, long untilMillis, String reason) {
        holds.hold(key, untilMillis, reason);
    }

    @Override
    public Hold holdOf(String key) {
        return holds.holdOf(key);
    }

    @Override
    public boolean lift(String key) {
        return holds.lift(key);
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
    public String kind() {
        return "memory";
    }
}
