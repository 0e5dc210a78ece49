package dev.relayguard.bench;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;

import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;

/**
 * Heap used per tracked key by the in-memory store, with the sample's limits (20 messages/min, 500/day, 200
 * recipients/h): fills N keys (default 1,000,000) with one message and one recipient each, and compares the
 * used heap after full GCs. Run by benchmarks/run-jmh.sh (needs about -Xmx2g).
 */
public final class MemoryPerKey {

    private MemoryPerKey() {
    }

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        Limit perMinute = new Limit(Measure.MESSAGES, 20, Duration.ofMinutes(1));
        Limit perDay = new Limit(Measure.MESSAGES, 500, Duration.ofDays(1));
        Limit recipients = new Limit(Measure.RECIPIENTS, 200, Duration.ofHours(1));
        List<Charge> message = List.of(new Charge(perMinute, 1), new Charge(perDay, 1));
        List<Charge> recipient = List.of(new Charge(recipients, 1));
        String[] names = new String[keys];
        for (int i = 0; i < keys; i++) {
            names[i] = "user:user" + i + "@example.com";
        }
        long before = usedAfterGc();
        MemoryLimiterStore store = new MemoryLimiterStore(keys, System::currentTimeMillis);
        for (int i = 0; i < keys; i++) {
            store.acquire(names[i], message);
            store.acquire(names[i], recipient);
        }
        long after = usedAfterGc();
        System.out.printf("keys=%d tracked=%d heapDelta=%d bytes => %.1f bytes per tracked key (key strings excluded: they existed before)%n",
            keys, store.trackedKeys(), after - before, (after - before) / (double) store.trackedKeys());
    }

    private static long usedAfterGc() throws InterruptedException {
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(200);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
