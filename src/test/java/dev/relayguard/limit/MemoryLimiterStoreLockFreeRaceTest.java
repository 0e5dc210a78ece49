package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/**
 * lock-free refusals (kept, or decided read only) racing admissions, releases and layout changes
 * (new counters, a counter widened above 16 bits) on one key, with a frozen clock. Bounded to about 1.5 s.
 */
class MemoryLimiterStoreLockFreeRaceTest {
    private static final String KEY = "user:alice@example.com";
    private static final long MAX = 3;
    private static final long RUN_NANOS = TimeUnit.MILLISECONDS.toNanos(1_500);

    @Test
    void lockFreeRefusalsRacingAdmissionsReleasesAndLayoutChangesNeverAdmitMoreThanTheLimit() throws Exception {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        MemoryLimiterStore store = new MemoryLimiterStore(100, clock::get);
        Limit limit = new Limit(Measure.MESSAGES, MAX, Duration.ofHours(1));
        List<Charge> one = List.of(new Charge(limit, 1));
        AtomicInteger held = new AtomicInteger();
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        AtomicInteger layouts = new AtomicInteger();
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        CountDownLatch go = new CountDownLatch(1);
        long end = System.nanoTime() + RUN_NANOS;
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            threads.add(new Thread(() -> {
                try {
                    go.await();
                    while (System.nanoTime() < end) {
                        LimitDecision decision = store.acquire(KEY, one);
                        if (decision.isAdmitted()) {
                            admitted.incrementAndGet();
                            int now = held.incrementAndGet();
                            if (now > MAX) {
                                throw new AssertionError(now + " held at once under " + limit);
                            }
                            Thread.onSpinWait();
                            held.decrementAndGet();
                            store.release(decision.ticket());
                        } else {
                            refused.incrementAndGet();
                            if (decision.limit() != limit || decision.never()) {
                                throw new AssertionError("refused by " + decision);
                            }
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        // layout changes while the others read lock-free: new counters, one widened above 16 bits
        threads.add(new Thread(() -> {
            try {
                go.await();
                int window = 10;
                while (System.nanoTime() < end) {
                    Limit other = window % 7 == 0
                        ? new Limit(Measure.BYTES, 100_000 + window, Duration.ofHours(2))
                        : new Limit(Measure.RECIPIENTS, 5, Duration.ofMillis(window * 10L));
                    LimitDecision decision = store.acquire(KEY, List.of(new Charge(other, window % 7 == 0 ? 70_000 : 1)));
                    if (decision.isAdmitted()) {
                        store.release(decision.ticket());
                    }
                    if (window < 400) {
                        window++;
                        layouts.incrementAndGet();
                    }
                }
            } catch (Throwable e) {
                failures.add(e);
            }
        }));
        for (Thread thread : threads) {
            thread.setDaemon(true);
            thread.start();
        }
        go.countDown();
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(10));
            assertThat(thread.isAlive()).isFalse();
        }
        assertThat(failures).isEmpty();
        assertThat(admitted.get()).isPositive();
        assertThat(store.usage(KEY, List.of(limit)).get(limit)).as("everything given back").isZero();
        MemoryLimiterStoreModelTest.checkTotals(store, "after the race ", List.of());
        for (int i = 0; i < MAX; i++) {
            assertThat(store.acquire(KEY, one).isAdmitted()).as("no refusal outlives the releases").isTrue();
        }
        assertThat(store.acquire(KEY, one).isAdmitted()).isFalse();
    }

    /**
     * A refusal racing a release: B retries (refused, lock-free, the kept refusal) while A releases; once A's
     * release has returned (and B saw it), B's next acquisition must be admitted: no kept refusal outlives the
     * give-back. Then B gives back and A takes again. Bounded to about 1.5 s.
     */
    @Test
    void aRefusalAfterAReleaseHasReturnedIsNeverTheKeptOne() throws Exception {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        MemoryLimiterStore store = new MemoryLimiterStore(100, clock::get);
        Limit limit = new Limit(Measure.MESSAGES, 1, Duration.ofHours(1));
        List<Charge> one = List.of(new Charge(limit, 1));
        AtomicInteger turn = new AtomicInteger(2); // 0: A holds; 4: A releasing; 1: A released; 2: B released; 3: stop
        AtomicInteger rounds = new AtomicInteger();
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        long end = System.nanoTime() + RUN_NANOS;
        Thread a = new Thread(() -> {
            try {
                while (System.nanoTime() < end) {
                    LimitDecision mine = store.acquire(KEY, one);
                    if (!mine.isAdmitted()) {
                        throw new AssertionError("A refused after B gave back: " + mine);
                    }
                    turn.set(0);
                    for (int spin = 0; spin < 50; spin++) {
                        Thread.onSpinWait(); // let B be refused meanwhile
                    }
                    turn.set(4); // releasing
                    store.release(mine.ticket());
                    turn.set(1);
                    while (turn.get() != 2) {
                        if (System.nanoTime() > end + 5_000_000_000L) {
                            throw new AssertionError("B never took its turn");
                        }
                        Thread.yield(); // 2 CPUs: let B run
                    }
                    rounds.incrementAndGet();
                }
                turn.set(3);
            } catch (Throwable e) {
                failures.add(e);
                turn.set(3);
            }
        });
        Thread b = new Thread(() -> {
            try {
                while (true) {
                    int seen = turn.get();
                    if (seen == 3) {
                        return;
                    }
                    LimitDecision decision = store.acquire(KEY, one);
                    if (seen == 1 && !decision.isAdmitted()) {
                        throw new AssertionError("refused after the release returned: " + decision);
                    }
                    if (decision.isAdmitted()) {
                        if (seen == 0 && turn.get() == 0) {
                            // admitted although A held it when B looked and still does: counted twice
                            throw new AssertionError("admitted while A held the only one");
                        }
                        store.release(decision.ticket());
                        turn.set(2);
                        while (turn.get() == 2) {
                            Thread.yield();
                        }
                    }
                }
            } catch (Throwable e) {
                failures.add(e);
                turn.set(3);
            }
        });
        a.setDaemon(true);
        b.setDaemon(true);
        a.start();
        b.start();
        a.join(30_000);
        b.join(30_000);
        assertThat(a.isAlive() || b.isAlive()).as("both finished (failures: %s)", failures).isFalse();
        assertThat(failures).isEmpty();
        assertThat(rounds.get()).isPositive();
    }

    /**
     * The kept refusal, read lock-free, is replaced on almost every call when threads ask with two charge lists
     * refused by different limits (each list's refusal replaces the other's) while others read it. A read that mixed
     * two of them (one list's decision with the other's charges, as a kept refusal spread over several fields would
     * allow without validating its read) would answer a list with a limit it does not charge. Bounded to about 1.5 s.
     */
    @Test
    void aKeptRefusalIsNeverAnsweredForTheChargesOfAnotherOne() throws Exception {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        MemoryLimiterStore store = new MemoryLimiterStore(100, clock::get);
        Limit messages = new Limit(Measure.MESSAGES, 1, Duration.ofHours(1));
        Limit recipients = new Limit(Measure.RECIPIENTS, 1, Duration.ofHours(1));
        List<Charge> aMessage = List.of(new Charge(messages, 1));
        List<Charge> aRecipient = List.of(new Charge(recipients, 1));
        assertThat(store.acquire(KEY, aMessage).isAdmitted()).isTrue();
        assertThat(store.acquire(KEY, aRecipient).isAdmitted()).isTrue();
        AtomicInteger refusals = new AtomicInteger();
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        CountDownLatch go = new CountDownLatch(1);
        long end = System.nanoTime() + RUN_NANOS;
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            boolean alternate = t % 2 == 0;
            List<Charge> own = t < 2 ? aMessage : aRecipient;
            threads.add(new Thread(() -> {
                try {
                    go.await();
                    for (long i = 0; System.nanoTime() < end; i++) {
                        List<Charge> asked = alternate && (i & 1) == 1 ? (own == aMessage ? aRecipient : aMessage) : own;
                        Limit expected = asked == aMessage ? messages : recipients;
                        LimitDecision decision = store.acquire(KEY, asked);
                        if (decision.isAdmitted() || decision.limit() != expected) {
                            throw new AssertionError("asked " + expected + ", answered " + decision);
                        }
                        refusals.incrementAndGet();
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        threads.forEach(thread -> {
            thread.setDaemon(true);
            thread.start();
        });
        go.countDown();
        for (Thread thread : threads) {
            thread.join(30_000);
        }
        assertThat(failures).isEmpty();
        assertThat(refusals.get()).isPositive();
    }
}
