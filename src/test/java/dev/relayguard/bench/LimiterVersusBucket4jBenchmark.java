package dev.relayguard.bench;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;

/**
 * Limiter decisions per second: our {@link MemoryLimiterStore} against bucket4j 8.7.0 (local, in-heap buckets)
 * configured with the same limits on the same keys, in one JMH run so that the figures are comparable.
 *
 * <p><b>Limits.</b> The sample's message limits on one key: 20 per minute AND 500 per day. Ours: one
 * {@code acquire(key, [1 against 20/1m, 1 against 500/1d])}, atomic across both windows. bucket4j: one
 * {@link Bucket} per key with two {@code Bandwidth}s (capacity 20 refilled 20 per minute, capacity 500 refilled
 * 500 per day), one {@code tryConsume(1)}, which bucket4j also applies atomically to every bandwidth.
 *
 * <p><b>Refill: intervally</b> ({@code refillIntervally(20, 1m)}, {@code refillIntervally(500, 1d)}), not
 * greedy/classic. Neither token-bucket refill is our rule (ours: at most N in <em>any</em> interval of length
 * T; both bucket4j refills let up to 2N through in some interval of length T), but intervally is the closer
 * one: like our window it admits a burst of N, then admits nothing until a whole chunk of capacity comes back
 * about one window later (ours: when the sub-buckets holding the burst leave the window, T to T + T/10;
 * bucket4j: the next interval boundary), so a sender that hits the limit is refused for about a window and its
 * retry delay is of the order of T, as with ours. Greedy refill instead gives one token back every T/N (3 s for
 * 20/min): a limited sender is admitted again one message at a time a few seconds later, a different shape.
 * The two refills cost the same in bucket4j (the same code path, a different refill formula); run
 * {@code -p refill=greedy} to check.
 *
 * <p><b>Keys.</b> {@code keys} distinct users ({@code user:user<i>@example.com}), one picked at random per
 * decision. Like our store, which creates a key's state on its first decision, bucket4j's buckets live in a
 * {@code ConcurrentHashMap<String, Bucket>} filled lazily ({@code get}, then {@code computeIfAbsent} on a
 * miss). Our store is given room for 1,000,000 keys, so nothing is evicted here. keys=1 is the worst case for
 * contention when run with several threads (every thread on the same key: our per-key monitor against
 * bucket4j's default lock-free CAS state).
 *
 * <p><b>Paths.</b> {@code admitting=false} is the sample's limits as written: after the first few decisions of
 * each key nearly every decision is a refusal (ours computes the retry delay of the refusing window; plain
 * {@code tryConsume} only says no, hence the third method {@link #bucket4jProbe}, {@code
 * tryConsumeAndReturnRemaining(1)}, which also computes the wait, the information our refusal carries).
 * {@code admitting=true} uses limits that never fill in a benchmark (same two windows, 3*10^10 per minute and
 * 4.32*10^13 per day: half the largest bucket4j accepts, one token per nanosecond), i.e. the admit path, which
 * is what most decisions are in production.
 *
 * <p><b>Threads.</b> No {@code @Threads}: JMH's default of one thread; pass {@code -t 2} / {@code -t 4} /
 * {@code -t max} to measure the same benchmarks under contention (the state is shared by all threads:
 * {@link Scope#Benchmark}). Clocks: ours {@code System::currentTimeMillis} (as in production), bucket4j its
 * default nanosecond time meter ({@code System.nanoTime}).
 *
 * <pre>
 * benchmarks/run-jmh.sh LimiterVersusBucket4j                     # 1 thread
 * benchmarks/run-jmh.sh LimiterVersusBucket4j -- -t 4              # 4 threads
 * benchmarks/run-jmh.sh LimiterVersusBucket4j -- -p keys=10000 -p admitting=true
 * benchmarks/run-jmh.sh LimiterVersusBucket4j -- -bm sample -tu ns   # busy machine: read the p0.50 lines
 * </pre>
 * (run-jmh.sh already passes -f/-wi/-w/-i/-r: JMH refuses them twice, so change those with java ... Main directly.)
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LimiterVersusBucket4jBenchmark {
    /** Per window: as large as bucket4j accepts (a refill of at most 1 token per nanosecond), halved. */
    private static final long NEVER_FILLS_PER_MINUTE = Integer.MAX_VALUE;
    private static final long NEVER_FILLS_PER_DAY = Integer.MAX_VALUE;

    @Param({"1", "10000"})
    public int keys;

    @Param({"false", "true"})
    public boolean admitting;

    /** bucket4j's refill: {@code intervally} (the closest to our window, see above) or {@code greedy}. */
    @Param({"intervally"})
    public String refill;

    private String[] names;

    private MemoryLimiterStore store;
    private List<Charge> charges;

    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();
    private long perMinute;
    private long perDay;

    @Setup
    public void setUp() {
        perMinute = admitting ? NEVER_FILLS_PER_MINUTE : 20;
        perDay = admitting ? NEVER_FILLS_PER_DAY : 500;
        store = new MemoryLimiterStore(1_000_000, System::currentTimeMillis);
        charges = List.of(new Charge(new Limit(Measure.MESSAGES, perMinute, Duration.ofMinutes(1)), 1),
            new Charge(new Limit(Measure.MESSAGES, perDay, Duration.ofDays(1)), 1));
        buckets.clear();
        if (!refill.equals("intervally") && !refill.equals("greedy")) {
            throw new IllegalArgumentException("refill: intervally or greedy, not " + refill);
        }
        names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "user:user" + i + "@example.com";
        }
        // Both sides really limit (or really admit) with these settings.
        String key = "user:check@example.com";
        int ours = 0;
        int theirs = 0;
        for (int i = 0; i < 30; i++) {
            ours += store.acquire(key, charges).isAdmitted() ? 1 : 0;
            theirs += bucket(key).tryConsume(1) ? 1 : 0;
        }
        int expected = admitting ? 30 : 20;
        if (ours != expected || theirs != expected) {
            throw new IllegalStateException("expected " + expected + " admissions of 30, ours " + ours + ", bucket4j " + theirs);
        }
        store.reset(key);
        buckets.remove(key);
    }

    private Bucket newBucket() {
        boolean greedy = refill.equals("greedy");
        return Bucket.builder()
            .addLimit(limit -> greedy
                ? limit.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1))
                : limit.capacity(perMinute).refillIntervally(perMinute, Duration.ofMinutes(1)))
            .addLimit(limit -> greedy
                ? limit.capacity(perDay).refillGreedy(perDay, Duration.ofDays(1))
                : limit.capacity(perDay).refillIntervally(perDay, Duration.ofDays(1)))
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

    /** Ours: one atomic check-and-charge of both windows. */
    @Benchmark
    public LimitDecision relayGuard() {
        return store.acquire(randomKey(), charges);
    }

    /** bucket4j: one atomic tryConsume(1) of both bandwidths. */
    @Benchmark
    public boolean bucket4j() {
        return bucket(randomKey()).tryConsume(1);
    }

    /** bucket4j, also computing how long a refused sender must wait (as our refusals do). */
    @Benchmark
    public ConsumptionProbe bucket4jProbe() {
        return bucket(randomKey()).tryConsumeAndReturnRemaining(1);
    }
}
