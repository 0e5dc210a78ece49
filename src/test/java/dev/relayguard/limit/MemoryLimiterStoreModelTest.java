package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/**
 * the memory store against a plain model of {@link SlidingWindow}'s rule (counts per sub-bucket in a
 * map, nothing cached), over random operations with a monotone fake clock: acquisitions of random charges (limits
 * rebuilt as by reloads, some above 65535 so that counters widen, the same list object reused or not), releases,
 * resets, estimates, usage. After every step the running total of every counter must equal the sum of its slots.
 */
class MemoryLimiterStoreModelTest {
    private static final Measure[] MEASURES = Measure.values();
    private static final long[] WINDOWS = {3_600_000L, 60_000L, 90_000L, 15L, 1_001L, 7_000L};
    private static final long[] MAXES = {1, 2, 3, 5, 20, 100, 65_534, 65_535, 65_536, 100_000, Integer.MAX_VALUE};

    /** The rule, computed from scratch: counts per counter id per sub-bucket. */
    static final class ModelKey {
        final int generation;
        final Map<String, Map<Long, Long>> counts = new HashMap<>();

        ModelKey(int generation) {
            this.generation = generation;
        }

        long used(Limit limit, long now) {
            long current = Math.floorDiv(now, limit.width());
            long sum = 0;
            for (Map.Entry<Long, Long> e : counts.getOrDefault(limit.counterId(), Map.of()).entrySet()) {
                if (SlidingWindow.counts(e.getKey(), current)) {
                    sum += e.getValue();
                }
            }
            return sum;
        }

        long until(Limit limit, long now, long needed) {
            long width = limit.width();
            long current = Math.floorDiv(now, width);
            Map<Long, Long> byBucket = counts.getOrDefault(limit.counterId(), Map.of());
            long freed = 0;
            for (long b = current - SlidingWindow.SUB_BUCKETS; b <= current; b++) {
                freed += byBucket.getOrDefault(b, 0L);
                if (freed >= needed) {
                    return (b + SlidingWindow.SLOTS) * width;
                }
            }
            throw new AssertionError("never frees up");
        }
    }

    /** Model answer: null when admitted; else {limit, never, until}. */
    static final class Refusal {
        final Limit limit;
        final boolean never;
        final long until;

        Refusal(Limit limit, boolean never, long until) {
            this.limit = limit;
            this.never = never;
            this.until = until;
        }
    }

    static Refusal decide(ModelKey key, List<Charge> charges, long now) {
        Limit refusing = null;
        long until = 0;
        for (Charge charge : charges) {
            Limit limit = charge.limit();
            if (charge.amount() > limit.max()) {
                return new Refusal(limit, true, 0);
            }
            if (key == null) {
                continue;
            }
            long used = key.used(limit, now);
            if (used + charge.amount() > limit.max()) {
                long u = key.until(limit, now, used + charge.amount() - limit.max());
                if (refusing == null || u > until) {
                    refusing = limit;
                    until = u;
                }
            }
        }
        return refusing == null ? null : new Refusal(refusing, false, until);
    }

    static final class ModelTicket {
        final Ticket ticket;
        final String key;
        final int generation;
        final List<Charge> charges;
        final long at;
        boolean released;

        ModelTicket(Ticket ticket, String key, int generation, List<Charge> charges, long at) {
            this.ticket = ticket;
            this.key = key;
            this.generation = generation;
            this.charges = charges;
            this.at = at;
        }
    }

    @Test
    void randomOperationsAgreeWithTheModel() throws Exception {
        for (long seed = 1; seed <= 40; seed++) {
            run(seed, 1_500, false);
        }
    }

    /**
     * The clock also goes back: every decision is made at max(clock, the key's time), the key's time read from
     * the store (a lock-free refusal does not move it); the model must agree at that time.
     */
    @Test
    void randomOperationsAgreeWithTheModelWhenTheClockGoesBack() throws Exception {
        for (long seed = 1_000; seed < 1_040; seed++) {
            run(seed, 1_500, true);
        }
    }

    private static final Field KEYS;
    private static final Field LAST;

    static {
        try {
            KEYS = MemoryLimiterStore.class.getDeclaredField("keys");
            KEYS.setAccessible(true);
            LAST = MemoryLimiterStore.KeyState.class.getDeclaredField("lastMillis");
            LAST.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unchecked")
    private static MemoryLimiterStore.KeyState stateOf(MemoryLimiterStore store, String key) throws Exception {
        return ((ConcurrentHashMap<String, MemoryLimiterStore.KeyState>) KEYS.get(store)).get(key);
    }

    /** The time a decision is made at: max(clock, the key's time). */
    private static long nowFor(MemoryLimiterStore store, String key, long clock) throws Exception {
        MemoryLimiterStore.KeyState state = stateOf(store, key);
        return state == null ? clock : Math.max(clock, LAST.getLong(state));
    }

    private void run(long seed, int steps, boolean backwards) throws Exception {
        Random random = new Random(seed);
        AtomicLong clock = new AtomicLong(1_700_000_000_000L + random.nextInt(1_000_000));
        MemoryLimiterStore store = new MemoryLimiterStore(1_000, clock::get);
        String[] keyNames = {"k0", "k1", "k2"};
        Map<String, ModelKey> model = new HashMap<>();
        int[] generation = {0};
        List<ModelTicket> tickets = new ArrayList<>();
        // limit objects per counter (a reload makes new ones, sometimes with another max)
        Map<String, List<Limit>> pool = new HashMap<>();
        List<List<Charge>> reusedLists = new ArrayList<>();
        List<String> history = new ArrayList<>();
        Map<String, Object> states = new HashMap<>();
        for (int step = 0; step < steps; step++) {
            for (String name : keyNames) { // a key the store dropped as idle (a sweep) is forgotten by the model too
                if (model.containsKey(name) && stateOf(store, name) != states.get(name)) {
                    model.remove(name);
                    history.add(step + " swept " + name);
                }
            }
            int op = random.nextInt(100);
            String keyName = keyNames[random.nextInt(keyNames.length)];
            String where = "seed " + seed + " step " + step + " ";
            if (op < 55) {
                List<Charge> charges;
                if (!reusedLists.isEmpty() && random.nextInt(3) == 0) {
                    charges = reusedLists.get(random.nextInt(reusedLists.size()));
                } else {
                    charges = randomCharges(random, pool);
                    if (random.nextInt(4) == 0) {
                        reusedLists.add(charges);
                    }
                }
                long now = nowFor(store, keyName, clock.get());
                ModelKey key = model.get(keyName);
                Refusal expected = decide(key, charges, now);
                LimitDecision actual = store.acquire(keyName, charges);
                states.put(keyName, stateOf(store, keyName));
                history.add(step + " acquire " + keyName + " " + describe(charges) + " at " + now + " -> " + actual);
                check(where + "acquire " + describe(charges), expected, actual, clock.get(), history);
                if (expected == null) {
                    if (key == null) {
                        key = new ModelKey(++generation[0]);
                        model.put(keyName, key);
                    }
                    for (Charge charge : charges) {
                        key.counts.computeIfAbsent(charge.limit().counterId(), k -> new HashMap<>())
                            .merge(Math.floorDiv(now, charge.limit().width()), charge.amount(), Long::sum);
                    }
                    tickets.add(new ModelTicket(actual.ticket(), keyName, key.generation, List.copyOf(charges), now));
                }
            } else if (op < 75) {
                if (tickets.isEmpty()) {
                    continue;
                }
                ModelTicket t = tickets.get(random.nextInt(tickets.size()));
                long now = nowFor(store, t.key, clock.get());
                history.add(step + " release ticket of " + t.key + " " + describe(t.charges) + " at " + t.at + " now " + now);
                store.release(t.ticket);
                ModelKey key = model.get(t.key);
                if (!t.released && key != null && key.generation == t.generation) {
                    for (Charge charge : t.charges) {
                        long bucket = Math.floorDiv(t.at, charge.limit().width());
                        if (SlidingWindow.counts(bucket, Math.floorDiv(now, charge.limit().width()))) {
                            Map<Long, Long> byBucket = key.counts.get(charge.limit().counterId());
                            long had = byBucket.getOrDefault(bucket, 0L);
                            byBucket.put(bucket, had - Math.min(had, charge.amount()));
                        }
                    }
                }
                t.released = true;
            } else if (op < 85) {
                long[] steps2 = {0, 1, 2, 5, 100, 1_000, 6_000, 9_000, 60_000, 360_000, 3_600_000, 4_000_000};
                long delta = steps2[random.nextInt(steps2.length)] + (random.nextBoolean() ? random.nextInt(50) : 0);
                clock.addAndGet(backwards && random.nextInt(3) == 0 ? -delta : delta);
                history.add(step + " clock " + clock.get());
            } else if (op < 88) {
                store.reset(keyName);
                model.remove(keyName);
                history.add(step + " reset " + keyName);
            } else if (op < 94) {
                List<Charge> charges = randomCharges(random, pool);
                long now = nowFor(store, keyName, clock.get());
                Refusal expected = decide(model.get(keyName), charges, now);
                LimitDecision actual = store.estimate(keyName, charges);
                history.add(step + " estimate " + keyName + " " + describe(charges) + " -> " + actual);
                check(where + "estimate " + describe(charges), expected, actual, clock.get(), history);
            } else {
                List<Limit> limits = new ArrayList<>();
                for (List<Limit> l : pool.values()) {
                    limits.add(l.get(0));
                }
                long now = nowFor(store, keyName, clock.get());
                Map<Limit, Long> usage = store.usage(keyName, limits);
                ModelKey key = model.get(keyName);
                for (Limit limit : limits) {
                    long expected = key == null ? 0 : key.used(limit, now);
                    if (usage.get(limit) != expected) {
                        fail(where + "usage of " + limit + " " + usage.get(limit) + " != " + expected + "\n" + tail(history));
                    }
                }
            }
            checkTotals(store, where, history);
        }
    }

    private static List<Charge> randomCharges(Random random, Map<String, List<Limit>> pool) {
        int size = 1 + random.nextInt(3);
        List<Charge> charges = new ArrayList<>();
        Set<String> used = new HashSet<>();
        for (int i = 0; i < size; i++) {
            Measure measure = MEASURES[random.nextInt(MEASURES.length)];
            long window = WINDOWS[random.nextInt(WINDOWS.length)];
            String id = (measure.configName().charAt(0) + Long.toString(window)).intern();
            if (!used.add(id)) {
                continue;
            }
            List<Limit> limits = pool.computeIfAbsent(id, k -> new ArrayList<>());
            Limit limit;
            if (limits.isEmpty() || random.nextInt(8) == 0) {
                limit = new Limit(measure, MAXES[random.nextInt(MAXES.length)], Duration.ofMillis(window));
                limits.add(limit);
            } else {
                limit = limits.get(random.nextInt(limits.size()));
            }
            long amount;
            switch (random.nextInt(5)) {
                case 0:
                    amount = 0;
                    break;
                case 1:
                    amount = 1 + random.nextInt(70_000);
                    break;
                case 2:
                    amount = limit.max() - random.nextInt(3);
                    break;
                default:
                    amount = 1 + random.nextInt(3);
            }
            charges.add(new Charge(limit, Math.max(0, Math.min(amount, limit.max() + 1))));
        }
        return random.nextBoolean() ? List.copyOf(charges) : charges;
    }

    private static String describe(List<Charge> charges) {
        StringBuilder s = new StringBuilder("[");
        for (Charge c : charges) {
            s.append(c.amount()).append(" of ").append(c.limit()).append('@')
                .append(Integer.toHexString(System.identityHashCode(c.limit()))).append("; ");
        }
        return s.append(']').toString();
    }

    private static void check(String where, Refusal expected, LimitDecision actual, long clock, List<String> history) {
        if (expected == null) {
            if (!actual.isAdmitted()) {
                fail(where + ": expected admitted, got " + actual + "\n" + tail(history));
            }
            return;
        }
        if (actual.isAdmitted()) {
            fail(where + ": expected refused by " + expected.limit + " until " + expected.until + ", got admitted\n" + tail(history));
        }
        if (actual.limit() != expected.limit || actual.never() != expected.never) {
            fail(where + ": expected refused by " + expected.limit + " never=" + expected.never + ", got " + actual.limit()
                + " never=" + actual.never() + "\n" + tail(history));
        }
        long expectedRetry = expected.never ? expected.limit.windowMillis() : Math.max(0, expected.until - clock);
        if (actual.retryAfterMillis() != expectedRetry) {
            fail(where + ": retry " + actual.retryAfterMillis() + " != " + expectedRetry + "\n" + tail(history));
        }
    }

    private static String tail(List<String> history) {
        return String.join("\n", history.subList(Math.max(0, history.size() - 15), history.size()));
    }

    /** White box: every counter's total is the sum of its slots. */
    static void checkTotals(MemoryLimiterStore store, String where, List<String> history) throws Exception {
        Field keysField = MemoryLimiterStore.class.getDeclaredField("keys");
        keysField.setAccessible(true);
        @SuppressWarnings("unchecked")
        ConcurrentHashMap<String, MemoryLimiterStore.KeyState> keys = (ConcurrentHashMap<String, MemoryLimiterStore.KeyState>) keysField.get(store);
        for (Map.Entry<String, MemoryLimiterStore.KeyState> e : keys.entrySet()) {
            MemoryLimiterStore.KeyState state = e.getValue();
            for (int c = 0; c < state.layout.ids.length; c++) {
                long sum = 0;
                for (int s = 0; s < SlidingWindow.SLOTS; s++) {
                    sum += state.get(c, s);
                }
                long total = state.get(c, MemoryLimiterStore.Layout.TOTAL);
                if (total != sum) {
                    fail(where + e.getKey() + " counter " + state.layout.ids[c] + " total " + total + " != sum " + sum + "\n" + tail(history));
                }
            }
        }
    }
}
