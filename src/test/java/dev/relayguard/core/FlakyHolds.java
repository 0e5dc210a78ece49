package dev.relayguard.core;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Memory holds ({@link Suspensions}) whose store goes down on demand, answering as {@code store.RedisHolds} does
 * when Redis does not answer: {@link Holds#UNAVAILABLE}, no hit counted, operators' calls throwing
 * {@link IllegalStateException} (with a cause, as Lettuce gives one), counts -1, unhealthy.
 */
public final class FlakyHolds implements Holds {
    /** The message of a failure, as RedisLimiterStore words a timeout. */
    public static final String FAILURE = "redis redis://127.0.0.1:6379: no answer within 300 ms";

    private final Suspensions holds;
    private final AtomicBoolean down = new AtomicBoolean();

    public FlakyHolds(Settings settings, LongSupplier clockMillis) {
        this.holds = new Suspensions(settings, clockMillis);
    }

    /** Down (every call fails) or up again. */
    public FlakyHolds down(boolean isDown) {
        down.set(isDown);
        return this;
    }

    private void demand() {
        if (down.get()) {
            throw new IllegalStateException(FAILURE, new RuntimeException("io.lettuce.core.RedisCommandTimeoutException"));
        }
    }

    @Override
    public Hold countHit(String key, String reason) {
        return down.get() ? null : holds.countHit(key, reason);
    }

    @Override
    public void hold(String key, long untilMillis, String reason) {
        demand();
        holds.hold(key, untilMillis, reason);
    }

    @Override
    public Hold holdOf(String key) {
        return down.get() ? UNAVAILABLE : holds.holdOf(key);
    }

    @Override
    public boolean lift(String key) {
        demand();
        return holds.lift(key);
    }

    @Override
    public List<Hold> active() {
        demand();
        return holds.active();
    }

    @Override
    public int trackedCount() {
        return down.get() ? -1 : holds.trackedCount();
    }

    @Override
    public int heldCount() {
        return down.get() ? -1 : holds.heldCount();
    }

    @Override
    public void reconfigure(Settings settings) {
        holds.reconfigure(settings);
    }

    @Override
    public boolean healthy() {
        return !down.get();
    }

    @Override
    public String kind() {
        return "flaky";
    }
}
