package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * Many sessions of one key at once. Threads start together on a latch; every join is bounded so that a
 * deadlock fails the test instead of hanging the build (a bound, not a performance assertion).
 */
class MemoryLimiterStoreConcurrencyTest {
    private static final int THREADS = 64;
    private static final int ATTEMPTS = 50;
    private static final long N = 100;
    private static final long HOUR = 3_600_000L;
    private static final long JOIN_BOUND_SECONDS = 60;
    private static final String KEY = "user:alice@example.com";

    private static final Limit LIMIT = new Limit(Measure.MESSAGES, N, Duration.ofHours(1));

    /** Runs {@code body(i)} on {@code count} threads released together; rethrows the first failure. */
    private static void runTogether(int count, ThrowingIntConsumer body) throws InterruptedException {
        CountDownLatch ready = new CountDownLatch(count);
        CountDownLatch go = new CountDownLatch(1);
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int index = i;
            Thread thread = new Thread(() -> {
                ready.countDown();
                try {
                    go.await();
                    body.accept(index);
                } catch (Throwable t) {
                    failures.add(t);
                }
            }, "limiter-test-" + i);
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
        assertThat(ready.await(JOIN_BOUND_SECONDS, TimeUnit.SECONDS)).isTrue();
        go.countDown();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(JOIN_BOUND_SECONDS);
        for (Thread thread : threads) {
            thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            assertThat(thread.isAlive()).as("%s still running after %d s (deadlock?)", thread.getName(), JOIN_BOUND_SECONDS).isFalse();
        }
        if (!failures.isEmpty()) {
            AssertionError error = new AssertionError("a worker failed: " + failures.peek(), failures.peek());
            failures.stream().skip(1).forEach(error::addSuppressed);
            throw error;
        }
    }

    @FunctionalInterface
    interface ThrowingIntConsumer {
        void accept(int index) throws Exception;
    }

    private static List<Charge> one() {
        return List.of(new Charge(LIMIT, 1));
    }

    private static long usage(MemoryLimiterStore store, String key) {
        return store.usage(key, List.of(LIMIT)).get(LIMIT);
    }

    // ----------------------------------------------------------------------------------------------------

    @RepeatedTest(5)
    void sixtyFourSessionsOfOneKeyAreAdmittedExactlyN() throws InterruptedException {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        MemoryLimiterStore store = new MemoryLimiterStore(1_000, clock::get);
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();

        runTogether(THREADS, i -> {
            for (int a = 0; a < ATTEMPTS; a++) {
                LimitDecision decision = store.acquire(KEY, one());
                if (decision.isAdmitted()) {
                    admitted.incrementAndGet();
                } else {
                    assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
                    assertThat(decision.retryAfterMillis()).isPositive();
                    refused.incrementAndGet();
                }
            }
        });

        assertThat(admitted.get()).isEqualTo(N);
        assertThat(refused.get()).isEqualTo(THREADS * ATTEMPTS - N);
        assertThat(usage(store, KEY)).isEqualTo(N);
        assertThat(store.trackedKeys()).isEqualTo(1);
    }

    /** The clock moves on while they race (each reading 1 ms later), all within one 6-minute sub-bucket. */
    @RepeatedTest(3)
    void sixtyFourSessionsWithATickingClockAreAdmittedExactlyN() throws InterruptedException {
        long subBucket = HOUR / SlidingWindow.SUB_BUCKETS;
        AtomicLong clock = new AtomicLong(1_700_000_000_000L / subBucket * subBucket);
        MemoryLimiterStore store = new MemoryLimiterStore(1_000, clock::getAndIncrement);
        AtomicInteger admitted = new AtomicInteger();

        runTogether(THREADS, i -> {
            for (int a = 0; a < ATTEMPTS; a++) {
                if (store.acquire(KEY, List.of(new Charge(LIMIT, 1 + (a + i) % 3))).isAdmitted()) {
                    admitted.incrementAndGet();
                }
            }
        });

        // usage only grows, and any amount-1 attempt fits while it is below N: it ends at exactly N
        assertThat(usage(store, KEY)).isEqualTo(N);
        assertThat(admitted.get()).isLessThanOrEqualTo((int) N);
    }

    @RepeatedTest(5)
    void acquireAndReleaseConcurrentlyNeverExceedsN() throws InterruptedException {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        MemoryLimiterStore store = new MemoryLimiterStore(1_000, clock::get);
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger released = new AtomicInteger();
        AtomicLong maxSeen = new AtomicLong();
        AtomicInteger samples = new AtomicInteger();
        CountDownLatch workersLeft = new CountDownLatch(THREADS);
        int samplers = 4;

        runTogether(THREADS + samplers, i -> {
            if (i >= THREADS) {
                do {
                    maxSeen.accumulateAndGet(usage(store, KEY), Math::max);
                    samples.incrementAndGet();
                } while (workersLeft.getCount() > 0);
                return;
            }
            try {
                for (int a = 0; a < ATTEMPTS; a++) {
                    LimitDecision decision = store.acquire(KEY, one());
                    if (decision.isAdmitted()) {
                        admitted.incrementAndGet();
                        if ((a + i) % 2 == 0) {
                            store.release(decision.ticket()); // an aborted transaction gives back its message
                            released.incrementAndGet();
                        }
                    }
                    maxSeen.accumulateAndGet(usage(store, KEY), Math::max);
                }
            } finally {
                workersLeft.countDown();
            }
        });

        assertThat(samples.get()).isPositive();
        assertThat(maxSeen.get()).as("largest usage ever observed").isLessThanOrEqualTo(N);
        assertThat(usage(store, KEY)).isEqualTo(admitted.get() - released.get()).isLessThanOrEqualTo(N);
        assertThat(released.get()).isPositive();
        assertThat(admitted.get()).as("released capacity was reused").isGreaterThan((int) N);
    }

    @Test
    void sixtyFourKeysEachGetTheirOwnN() throws InterruptedException {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        MemoryLimiterStore store = new MemoryLimiterStore(1_000, clock::get);
        Limit limit = new Limit(Measure.RECIPIENTS, 20, Duration.ofHours(1));
        AtomicInteger[] admitted = new AtomicInteger[THREADS];
        for (int i = 0; i < THREADS; i++) {
            admitted[i] = new AtomicInteger();
        }

        runTogether(THREADS, i -> {
            for (int a = 0; a < ATTEMPTS; a++) {
                if (store.acquire("user:" + i, List.of(new Charge(limit, 1))).isAdmitted()) {
                    admitted[i].incrementAndGet();
                }
            }
        });

        for (int i = 0; i < THREADS; i++) {
            assertThat(admitted[i].get()).as("key %d", i).isEqualTo(20);
            assertThat(store.usage("user:" + i, List.of(limit)).get(limit)).isEqualTo(20);
        }
        assertThat(store.trackedKeys()).isEqualTo(THREADS);
        assertThat(store.evictedActiveKeys()).isZero();
    }

    /** Key creation, sweeping, eviction and resets racing: no deadlock, memory stays bounded. */
    @Test
    void manyNewKeysRacingStayBounded() throws InterruptedException {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        long maxKeys = 100;
        int workers = 16;
        MemoryLimiterStore store = new MemoryLimiterStore(maxKeys, clock::get);
        Limit shortWindow = new Limit(Measure.MESSAGES, 5, Duration.ofMillis(50));

        runTogether(workers, i -> {
            for (int a = 0; a < 2_000; a++) {
                assertThat(store.acquire("user:" + i + "-" + a, List.of(new Charge(a % 2 == 0 ? LIMIT : shortWindow, 1))).isAdmitted())
                    .isTrue();
                if (a % 10 == 0) {
                    store.reset("user:" + i + "-" + (a / 2));
                }
                if (i % 4 == 0 && a % 20 == 0) {
                    clock.addAndGet(7); // short-window keys become idle over time
                }
            }
        });

        // each racing creator may add one key after another one made room
        assertThat(store.trackedKeys()).isLessThanOrEqualTo(maxKeys + workers);
    }

    /** A hot key raced by sessions that also create keys of their own: still exactly N for the hot key. */
    @Test
    void aHotKeyStaysExactWhileOtherKeysAreCreated() throws InterruptedException {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        int workers = 16;
        MemoryLimiterStore store = new MemoryLimiterStore(10_000, clock::get);
        AtomicInteger hotAdmitted = new AtomicInteger();

        runTogether(workers, i -> {
            for (int a = 0; a < 200; a++) {
                store.acquire("user:" + i + "-" + a, one());
                if (store.acquire(KEY, one()).isAdmitted()) {
                    hotAdmitted.incrementAndGet();
                }
            }
        });

        assertThat(hotAdmitted.get()).isEqualTo(N);
        assertThat(usage(store, KEY)).isEqualTo(N);
        assertThat(store.trackedKeys()).isEqualTo(workers * 200 + 1);
        assertThat(store.evictedActiveKeys()).isZero();
    }

    /**
     * A session that stalls while reading the clock just before a sub-bucket boundary (lock contention, GC)
     * while another is admitted just after it never lets both in beside an earlier admission.
     *
     * <p>Sequence, N=2 per 10 s (sub-buckets of 1 s): X admitted at 500; session A reads the clock at 9 999 and
     * stalls; session B asks at 10 000. Once reported as a bug: the store read the clock before the key's lock,
     * so B could be admitted first and A then with its stale "now" (its 11-sub-bucket view ending one sub-bucket
     * early misses B): X, B and A within [500, 10 500), 3 > N. The store now reads the clock only under the
     * key's lock (a lock-free read only ever refuses, and is dropped when anything was counted meanwhile): A,
     * stalled under the lock, decides first and B waits for it, or the other way round; either way at most one
     * of them is admitted.
     */
    @Test
    void aSessionThatStallsOnTheClockNeverLetsTwoIntoOneWindow() throws InterruptedException {
        Limit limit = new Limit(Measure.MESSAGES, 2, Duration.ofSeconds(10));
        AtomicLong clock = new AtomicLong(500);
        CountDownLatch aReadTheClock = new CountDownLatch(1);
        CountDownLatch resumeA = new CountDownLatch(1);
        AtomicBoolean stallNextRead = new AtomicBoolean();
        LongSupplier stallingClock = () -> {
            long now = clock.get();
            if (stallNextRead.compareAndSet(true, false)) {
                aReadTheClock.countDown();
                try {
                    resumeA.await(JOIN_BOUND_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return now;
        };
        MemoryLimiterStore store = new MemoryLimiterStore(100, stallingClock);
        List<Charge> charge = List.of(new Charge(limit, 1));
        assertThat(store.acquire(KEY, charge).isAdmitted()).as("X at 500").isTrue();

        clock.set(9_999);
        stallNextRead.set(true);
        AtomicReferenceDecision a = new AtomicReferenceDecision();
        Thread sessionA = new Thread(() -> a.set(store.acquire(KEY, charge)), "session-A");
        sessionA.setDaemon(true);
        sessionA.start();
        assertThat(aReadTheClock.await(JOIN_BOUND_SECONDS, TimeUnit.SECONDS)).isTrue();

        clock.set(10_000);
        AtomicReferenceDecision b = new AtomicReferenceDecision();
        Thread sessionB = new Thread(() -> {
            resumeA.countDown(); // A resumes as B asks: whichever gets the key's lock first decides first
            b.set(store.acquire(KEY, charge));
        }, "session-B");
        sessionB.setDaemon(true);
        sessionB.start();
        sessionA.join(TimeUnit.SECONDS.toMillis(JOIN_BOUND_SECONDS));
        sessionB.join(TimeUnit.SECONDS.toMillis(JOIN_BOUND_SECONDS));
        assertThat(sessionA.isAlive()).isFalse();
        assertThat(sessionB.isAlive()).isFalse();

        long usage = store.usage(KEY, List.of(limit)).get(limit); // clock at 10 000
        assertThat(a.get().isAdmitted() && b.get().isAdmitted())
            .as("A and B both admitted beside X in [500, 10 500) (A %s, B %s, usage now %d)", a.get(), b.get(), usage)
            .isFalse();
        assertThat(a.get().isAdmitted() || b.get().isAdmitted()).as("one of them fits").isTrue();
        assertThat(usage).isEqualTo(2);
    }

    /**
     * Refusals decided lock-free (a key refused before) racing with give-backs, resets and the clock: no
     * refusal outlives what made it (a release or a reset is seen by the next decision), and never more than N.
     * Half the threads ask, a quarter release the tickets the askers hand them, the rest reset the key now and
     * then; every admission happens between two resets, so the admissions are at most N per reset, plus N.
     */
    @RepeatedTest(3)
    void lockFreeRefusalsNeverHideAReleaseOrAReset() throws InterruptedException {
        AtomicLong clock = new AtomicLong(1_700_000_000_000L);
        MemoryLimiterStore store = new MemoryLimiterStore(1_000, clock::get);
        Queue<Ticket> handedOver = new ConcurrentLinkedQueue<>();
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger released = new AtomicInteger();
        AtomicInteger resets = new AtomicInteger();
        AtomicLong maxSeen = new AtomicLong();
        CountDownLatch askersLeft = new CountDownLatch(THREADS / 2);

        runTogether(THREADS, i -> {
            if (i < THREADS / 2) {
                try {
                    for (int a = 0; a < ATTEMPTS * 4; a++) {
                        LimitDecision decision = store.acquire(KEY, one());
                        if (decision.isAdmitted()) {
                            admitted.incrementAndGet();
                            handedOver.add(decision.ticket());
                        } else {
                            assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
                        }
                        if (a % 50 == 0) {
                            clock.incrementAndGet(); // within one 6-minute sub-bucket all along
                        }
                    }
                } finally {
                    askersLeft.countDown();
                }
            } else if (i < THREADS * 3 / 4) {
                do {
                    Ticket ticket = handedOver.poll();
                    if (ticket != null) {
                        store.release(ticket);
                        released.incrementAndGet();
                    }
                    maxSeen.accumulateAndGet(usage(store, KEY), Math::max);
                } while (askersLeft.getCount() > 0);
            } else {
                for (int r = 0; r < 3 && askersLeft.getCount() > 0; r++) {
                    Thread.yield();
                    store.reset(KEY);
                    resets.incrementAndGet();
                }
            }
        });

        assertThat(maxSeen.get()).as("largest usage ever observed").isLessThanOrEqualTo(N);
        assertThat(admitted.get()).isLessThanOrEqualTo((int) N * (resets.get() + 1) + released.get());
        // Quiet now: give back everything still held; the key then admits N again, and refuses the next one.
        Ticket ticket;
        while ((ticket = handedOver.poll()) != null) {
            store.release(ticket);
        }
        assertThat(usage(store, KEY)).as("everything given back or reset").isZero();
        for (int k = 0; k < N; k++) {
            assertThat(store.acquire(KEY, one()).isAdmitted()).as("admission %d after the race", k + 1).isTrue();
        }
        assertThat(store.acquire(KEY, one()).isAdmitted()).as("N + 1 after the race").isFalse();
    }

    private static final class AtomicReferenceDecision {
        private volatile LimitDecision decision;

        void set(LimitDecision decision) {
            this.decision = decision;
        }

        LimitDecision get() {
            return decision;
        }
    }
}
