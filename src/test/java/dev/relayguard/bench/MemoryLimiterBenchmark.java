package dev.relayguard.bench;

import java.time.Duration;
import java.util.List;
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

/**
 * Limiter decisions per second of the in-memory store: one decision = one atomic check-and-charge of all the
 * windows of a measure (here the sample's two message windows, 20/min and 500/day). {@code keys} users, picked
 * at random per decision; {@code admitting} true uses limits that never fill (the admit path), false the
 * sample's limits (after warm-up nearly every decision is a refusal with its retry computation).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class MemoryLimiterBenchmark {
    @Param({"1", "10000"})
    public int keys;

    @Param({"true", "false"})
    public boolean admitting;

    private MemoryLimiterStore store;
    private List<Charge> charges;
    private String[] names;

    @Setup
    public void setUp() {
        store = new MemoryLimiterStore(1_000_000, System::currentTimeMillis);
        long perMinute = admitting ? Integer.MAX_VALUE : 20;
        long perDay = admitting ? Integer.MAX_VALUE : 500;
        charges = List.of(new Charge(new Limit(Measure.MESSAGES, perMinute, Duration.ofMinutes(1)), 1),
            new Charge(new Limit(Measure.MESSAGES, perDay, Duration.ofDays(1)), 1));
        names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "user:user" + i + "@example.com";
        }
    }

    @Benchmark
    public LimitDecision decide() {
        return store.acquire(names[ThreadLocalRandom.current().nextInt(keys)], charges);
    }
}
