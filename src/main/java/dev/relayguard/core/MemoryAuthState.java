package dev.relayguard.core;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * {@link AuthState} in memory, for one node. Bounded: at most {@code maxTrackedClients} clients (failing or banned)
 * and {@code maxTrackedAccounts} accounts in each of two maps (failing or throttled; with known clients), the least
 * recently active forgotten first, and at most {@code knownClients.perAccount} known clients per account (the least
 * recent dropped). A flood of failures under new user names therefore never erases the known clients of real
 * accounts: those live apart and grow only with successful logins. Thread-safe; times from the injected clock.
 */
public final class MemoryAuthState implements AuthState {

    /**
     * Failure times of one key (a ring of the most recent ones) and the end of its block. A block spends the
     * failures that started it ({@code unspent = 0}): they no longer count towards the next block, but still count
     * as the account's recent failures for a success after them.
     */
    private static final class Failures {
        long[] times;
        int next;
        int filled;
        int unspent;
        long blockedUntil;

        Failures(int size) {
            times = new long[Math.max(1, size)];
        }

        void add(long now) {
            times[next] = now;
            next = (next + 1) % times.length;
            filled = Math.min(filled + 1, times.length);
            unspent = Math.min(unspent + 1, times.length);
        }

        /** How many of the recorded failures are younger than {@code withinMillis}. */
        int since(long now, long withinMillis) {
            return count(filled, now, withinMillis);
        }

        /** How many of the failures not spent by a block are younger than {@code withinMillis}. */
        int unspentSince(long now, long withinMillis) {
            return count(unspent, now, withinMillis);
        }

        private int count(int latest, long now, long withinMillis) {
            int count = 0;
            for (int i = 1; i <= latest; i++) {
                if (now - times[(next - i + times.length) % times.length] < withinMillis) {
                    count++;
                }
            }
            return count;
        }

        /** A ring of another size keeps the most recent failures that fit. */
        void resize(int size) {
            int length = Math.max(1, size);
            if (times.length == length) {
                return;
            }
            int keep = Math.min(filled, length);
            long[] kept = new long[length];
            for (int i = 1; i <= keep; i++) {
                kept[keep - i] = times[(next - i + times.length) % times.length];
            }
            times = kept;
            next = keep % length;
            filled = keep;
            unspent = Math.min(unspent, keep);
        }
    }

    private final LongSupplier clockMillis;
    private volatile AuthLimits limits;
    private final LinkedHashMap<String, Failures> clients = new LinkedHashMap<>(256, 0.75f, true);
    private final LinkedHashMap<String, Failures> accounts = new LinkedHashMap<>(256, 0.75f, true);
    /** Account to its known clients and their last successful login (in login order, most recent last). */
    private final LinkedHashMap<String, LinkedHashMap<String, Long>> known = new LinkedHashMap<>(256, 0.75f, true);

    public MemoryAuthState(AuthLimits limits, LongSupplier clockMillis) {
        this.limits = limits;
        this.clockMillis = clockMillis;
    }

    @Override
    public synchronized void reconfigure(AuthLimits newLimits) {
        this.limits = newLimits;
        clients.values().forEach(f -> f.resize(newLimits.clientBan().failures()));
        accounts.values().forEach(f -> f.resize(newLimits.accountHistory()));
        for (LinkedHashMap<String, Long> clientsOfAccount : known.values()) {
            trim(clientsOfAccount, newLimits.knownClientsPerAccount());
        }
        trim(clients, newLimits.maxTrackedClients());
        trim(accounts, newLimits.maxTrackedAccounts());
        trim(known, newLimits.maxTrackedAccounts());
    }

    @Override
    public synchronized Block banOf(String clientKey) {
        return blockOf(clients, clientKey);
    }

    @Override
    public synchronized Block throttleOf(String account) {
        return blockOf(accounts, account);
    }

    private Block blockOf(Map<String, Failures> tracks, String key) {
        Failures failures = tracks.get(key);
        return failures != null && failures.blockedUntil > clockMillis.getAsLong() ? new Block(key, failures.blockedUntil) : null;
    }

    @Override
    public synchronized boolean isKnownClient(String account, String clientKey) {
        Map<String, Long> clientsOfAccount = known.get(account);
        Long last = clientsOfAccount == null ? null : clientsOfAccount.get(clientKey);
        return last != null && clockMillis.getAsLong() - last < limits.rememberKnownClientsFor().toMillis();
    }

    @Override
    public synchronized Failure recordFailure(String clientKey, String account) {
        AuthLimits current = limits;
        long now = clockMillis.getAsLong();
        Block ban = count(clients, clientKey, current.clientBan(), current.clientBan().failures(), current.maxTrackedClients(), now);
        Block throttle = count(accounts, account, current.accountThrottle(), current.accountHistory(), current.maxTrackedAccounts(), now);
        return ban == null && throttle == null ? Failure.NOTHING : new Failure(ban, throttle);
    }

    /** Counts a failure; the block it starts, or null. A blocked key counts nothing more. */
    private static Block count(LinkedHashMap<String, Failures> tracks, String key, AuthLimits.Rule rule, int history,
                               int maxKeys, long now) {
        if (history == 0) {
            return null;
        }
        Failures failures = tracks.computeIfAbsent(key, k -> new Failures(history));
        trim(tracks, maxKeys);
        if (failures.blockedUntil > now) {
            return null;
        }
        failures.add(now);
        if (rule.enabled() && failures.unspentSince(now, rule.within().toMillis()) >= rule.failures()) {
            failures.unspent = 0; // spent: after the block, counting starts again
            failures.blockedUntil = now + rule.blockFor().toMillis();
            return rule.blockFor().isZero() ? null : new Block(key, failures.blockedUntil);
        }
        return null;
    }

    @Override
    public synchronized Success recordSuccess(String account, String clientKey) {
        AuthLimits current = limits;
        long now = clockMillis.getAsLong();
        boolean wasKnown = isKnownClient(account, clientKey);
        Failures failures = accounts.get(account);
        int recent = failures == null ? 0 : failures.since(now, current.accountThrottle().within().toMillis());
        LinkedHashMap<String, Long> clientsOfAccount = known.computeIfAbsent(account, a -> new LinkedHashMap<>(4));
        clientsOfAccount.remove(clientKey); // in the order of their last login (a mere check does not reorder)
        clientsOfAccount.put(clientKey, now);
        trim(clientsOfAccount, current.knownClientsPerAccount());
        trim(known, current.maxTrackedAccounts());
        return new Success(wasKnown, recent);
    }

    @Override
    public synchronized List<Block> bans() {
        return blocks(clients);
    }

    @Override
    public synchronized List<Block> throttles() {
        return blocks(accounts);
    }

    private List<Block> blocks(Map<String, Failures> tracks) {
        long now = clockMillis.getAsLong();
        List<Block> result = new ArrayList<>();
        for (Map.Entry<String, Failures> entry : tracks.entrySet()) {
            if (entry.getValue().blockedUntil > now) {
                result.add(new Block(entry.getKey(), entry.getValue().blockedUntil));
            }
        }
        return result;
    }

    @Override
    public synchronized boolean liftBan(String clientKey) {
        Failures removed = clients.remove(clientKey);
        return removed != null && removed.blockedUntil > clockMillis.getAsLong();
    }

    @Override
    public synchronized boolean liftThrottle(String account) {
        Failures removed = accounts.remove(account);
        return removed != null && removed.blockedUntil > clockMillis.getAsLong();
    }

    @Override
    public synchronized long trackedClients() {
        return clients.size();
    }

    @Override
    public synchronized long trackedAccounts() {
        return Math.max(accounts.size(), known.size());
    }

    /** Accounts with at least one known client (tests, gauges). */
    public synchronized int accountsWithKnownClients() {
        return known.size();
    }

    @Override
    public String kind() {
        return "memory";
    }

    /** Drops the least recently used entries until at most {@code max} remain. */
    private static void trim(LinkedHashMap<String, ?> map, int max) {
        Iterator<String> eldest = map.keySet().iterator();
        while (map.size() > max && eldest.hasNext()) {
            eldest.next();
            eldest.remove();
        }
    }
}
