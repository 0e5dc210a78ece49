package dev.relayguard.bench;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import io.github.bucket4j.Bucket;

/**
 * Limiter decisions per second: our {@link MemoryLimiterStore} against bucket4j 8.7.0 (local, in-heap, lock-free
 * buckets) with the same limits on the same keys, in one JMH run, so that each row's ratio comes from one run.
 * The rows are issue 17's: {1 key, 10,000 keys} × {admitting, refusing} × {1, 2 threads}, each measured for
 * both ({@code keys} and {@code path} are parameters; the thread count is in the method name).
 *
 * <p><b>Limits.</b> Two windows on one key, as the sample's message limits: ours one
 * {@code acquire(key, [1 against N/1m, 1 against M/1d])}, atomic across both windows; bucket4j one {@link Bucket}
 * per key with two bandwidths (capacity N refilled N per minute, capacity M refilled M per day) and one
 * {@code tryConsume(1)}, which bucket4j also applies atomically to both. {@code tryConsume} is bucket4j's
 * cheapest call (it does not compute a wait time, which our refusals carry), so it is the stricter anchor.
 *
 * <p><b>Refill: intervally</b> ({@code refillIntervally(N, 1m)}, {@code refillIntervally(M, 1d)}), bucket4j's
 * closest equivalent of our window: like ours it admits a burst of N and then nothing until about one window
 * later. Neither token-bucket refill is our rule (ours: at most N in <em>any</em> interval of length T; bucket4j
 * can let 2N through in some interval of length T). Greedy refill costs bucket4j the same code path.
 *
 * <p><b>Paths.</b> {@code refusing}: the sample's limits, 20 per minute and 500 per day; every key is filled
 * (both sides, 20 admissions) in the setup, so that every measured decision is a refusal (nothing leaves the
 * minute window before 66 s, longer than a fork's measurement). {@code admitting}: {@value #NEVER_FILLS} per
 * minute and per day on both sides (the largest limit ours accepts; for bucket4j a refill of 36 M tokens per
 * second, below its 1 per ns bound): at the rates measured here a fork charges well under that, so every
 * decision admits; both sides count 32-bit values and do the same work as with a small limit. The tear-down
 * checks that every key is still admitting (or still refused) on both sides, and fails the run otherwise.
 *
 * <p><b>Keys.</b> {@code keys} distinct users ({@code user:user<i>@example.com}), one picked at random per
 * decision with {@link ThreadLocalRandom}. bucket4j's buckets live in a {@code ConcurrentHashMap<String, Bucket>}
 * ({@code get}, then {@code computeIfAbsent} on a miss), as our store keeps its keys. Our store has room for
 * 1,000,000 keys: nothing is evicted. With 2 threads the state is shared ({@link Scope#Benchmark}): with one key
 * both threads decide on the same key (our per-key lock against bucket4j's CAS).
 *
 * <pre>
 * benchmarks/run-jmh.sh LimiterVersusBucket4j -- -f 3 -wi 3 -w 1s -i 5 -r 1s -prof gc
 * </pre>
 * Clocks: ours {@code System::currentTimeMillis} (as in production), bucket4j its default nanosecond meter.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LimiterVersusBucket4jBenchmark {
    /** A limit per window that a benchmark fork never fills (the largest {@link Limit} accepts). */
    static final long NEVER_FILLS = Integer.MAX_VALUE;
    private static final int REFUSING_PER_MINUTE = 20;
    private static final int REFUSING_PER_DAY = 500;

    @Param({"1", "10000"})
    public int keys;

    @Param({"admitting", "refusing"})
    public String path;

    private String[] names;
    private MemoryLimiterStore store;
    private List<Charge> charges;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
    private long perMinute;
    private long perDay;

    @Setup(Level.Trial)
    public void setUp() {
        boolean admitting = admitting();
        perMinute = admitting ? NEVER_FILLS : REFUSING_PER_MINUTE;
        perDay = admitting ? NEVER_FILLS : REFUSING_PER_DAY;
        store = new MemoryLimiterStore(1_000_000, System::currentTimeMillis);
        charges = List.of(new Charge(new Limit(Measure.MESSAGES, perMinute, Duration.ofMinutes(1)), 1),
            new Charge(new Limit(Measure.MESSAGES, perDay, Duration.ofDays(1)), 1));
        buckets.clear();
        names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "user:user" + i + "@example.com";
        }
        // Both sides really limit (or admit): 30 attempts per key, 20 admitted (refusing) or 30 (admitting).
        int expected = admitting ? 30 : REFUSING_PER_MINUTE;
        for (String key : names) {
            int ours = 0;
            int theirs = 0;
            for (int i = 0; i < 30; i++) {
                ours += store.acquire(key, charges).isAdmitted() ? 1 : 0;
                theirs += bucket(key).tryConsume(1) ? 1 : 0;
            }
            if (ours != expected || theirs != expected) {
                throw new IllegalStateException(key + ": expected " + expected + " admissions of 30, ours " + ours
                    + ", bucket4j " + theirs);
            }
        }
    }

    /** Fails the run if a decision of the path measured would not have been the one expected. */
    @TearDown(Level.Trial)
    public void checkPath() {
        boolean admitting = admitting();
        for (String key : names) {
            boolean ours = store.estimate(key, charges).isAdmitted();
            boolean theirs = bucket(key).estimateAbilityToConsume(1).canBeConsumed();
            if (ours != admitting || theirs != admitting) {
                throw new IllegalStateException(key + " left the " + path + " path: ours admits " + ours
                    + ", bucket4j " + theirs);
            }
        }
    }

    private boolean admitting() {
        if (!path.equals("admitting") && !path.equals("refusing")) {
            throw new IllegalArgumentException("path: admitting or refusing, not " + path);
        }
        return path.equals("admitting");
    }

    private Bucket newBucket() {
        return Bucket.builder()
            .addLimit(limit -> limit.capacity(perMinute).refillIntervally(perMinute, Duration.ofMinutes(1)))
            .addLimit(limit -> limit.capacity(perDay).refillIntervally(perDay, Duration.ofDays(1)))
            .build();
    }

    /** The key's bucket, created on its first decision (the way our store creates a key's counters). */
    private Bucket bucket(String key) {
        Bucket bucket = buckets.get(key);
        return bucket != null ? bucket : buckets.computeIfAbsent(key, k -> newBucket());
    }

    private String randomKey() {
        return names[ThreadLocalRandom.current().nextInt(keys)];
    }

    /** Ours, 1 thread: one atomic check-and-charge of both windows. */
    @Benchmark
    @Threads(1)
    public LimitDecision relayGuard_1thread() {
        return store.acquire(randomKey(), charges);
    }

    /** bucket4j, 1 thread: one atomic {@code tryConsume(1)} of both bandwidths. */
    @Benchmark
    @Threads(1)
    public boolean bucket4j_1thread() {
        return bucket(randomKey()).tryConsume(1);
    }

    /** Ours, 2 threads on the same store. */
    @Benchmark
    @Threads(2)
    public LimitDecision relayGuard_2threads() {
        return store.acquire(randomKey(), charges);
    }

    /** bucket4j, 2 threads on the same buckets. */
    @Benchmark
    @Threads(2)
    public boolean bucket4j_2threads() {
        return bucket(randomKey()).tryConsume(1);
    }
}
