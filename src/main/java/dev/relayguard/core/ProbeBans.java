package dev.relayguard.core;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * A built-in fail2ban for relay probing: a client that collects {@code refusals} relay refusals within
 * {@code window} is banned for {@code banFor}; banned clients get {@code 421 4.7.0} at connect on MX listeners.
 * IPv6 clients are grouped by /64 (one customer's whole prefix). Memory is bounded: at most
 * {@code maxTrackedIps} clients collecting refusals are tracked, the least recently active forgotten first, and at
 * most {@code maxBans} clients are banned. The two are bounded separately, so a flood of refusals from new
 * addresses can never unban anyone: an active ban ends when it expires or is lifted, or, only when more than
 * {@code maxBans} bans are active at once, when it is the one ending soonest; such a dropped ban is counted
 * ({@link #droppedBans()}). Thread-safe.
 */
public final class ProbeBans {
    /** The settings; {@code refusals == 0} switches bans off. */
    public static final class Settings {
        public static final Settings DEFAULT = new Settings(10, Duration.ofMinutes(10), Duration.ofHours(1), 100_000);

        private final int refusals;
        private final Duration window;
        private final Duration banFor;
        private final int maxTrackedIps;
        private final int maxBans;

        /** At most {@code maxTrackedIps} clients tracked and, separately, at most as many banned. */
        public Settings(int refusals, Duration window, Duration banFor, int maxTrackedIps) {
            this(refusals, window, banFor, maxTrackedIps, maxTrackedIps);
        }

        public Settings(int refusals, Duration window, Duration banFor, int maxTrackedIps, int maxBans) {
            if (refusals < 0 || maxTrackedIps < 1 || maxBans < 1 || window.isNegative() || window.isZero() || banFor.isNegative()) {
                throw new IllegalArgumentException("refusals >= 0, maxTrackedIps >= 1, maxBans >= 1, window > 0, banFor >= 0");
            }
            this.refusals = refusals;
            this.window = window;
            this.banFor = banFor;
            this.maxTrackedIps = maxTrackedIps;
            this.maxBans = maxBans;
        }

        public int refusals() {
            return refusals;
        }

        public Duration window() {
            return window;
        }

        public Duration banFor() {
            return banFor;
        }

        public int maxTrackedIps() {
            return maxTrackedIps;
        }

        /** How many clients may be banned at once (bounded apart from the tracked ones). */
        public int maxBans() {
            return maxBans;
        }

        public boolean enabled() {
            return refusals > 0;
        }

        @Override
        public String toString() {
            return "{refusals=" + refusals + ", window=" + window + ", banFor=" + banFor + ", maxTrackedIps=" + maxTrackedIps
                + (maxBans == maxTrackedIps ? "" : ", maxBans=" + maxBans) + "}";
        }
    }

    /** One banned client: its key (IPv4 address or IPv6 /64) and when the ban ends (epoch millis). */
    public static final class Ban {
        private final String client;
        private final long untilMillis;

        Ban(String client, long untilMillis) {
            this.client = client;
            this.untilMillis = untilMillis;
        }

        public String client() {
            return client;
        }

        public long untilMillis() {
            return untilMillis;
        }

        @Override
        public String toString() {
            return client + " until " + Instant.ofEpochMilli(untilMillis);
        }
    }

    /** Refusals of clients not banned right now; a client that gets banned leaves it (bans live apart). */
    private final Suspensions refusals;
    /** Active bans: client key to end (epoch millis). Guarded by {@code this}. */
    private final Map<String, Long> bans = new HashMap<>();
    private final AtomicLong droppedBans = new AtomicLong();
    private final LongSupplier clockMillis;
    private volatile Settings settings;

    public ProbeBans(Settings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.clockMillis = clockMillis;
        this.refusals = new Suspensions(refusalSettings(settings), clockMillis);
    }

    private static Suspensions.Settings refusalSettings(Settings settings) {
        return new Suspensions.Settings(settings.refusals(), settings.window().toMillis(), settings.banFor().toMillis(), settings.maxTrackedIps());
    }

    /** New settings (after a policy reload); tracked clients and current bans are kept (within the new bounds). */
    public synchronized void reconfigure(Settings newSettings) {
        this.settings = newSettings;
        refusals.reconfigure(refusalSettings(newSettings));
        dropOverflow(clockMillis.getAsLong(), newSettings.maxBans());
    }

    /**
     * Notes one relay refusal for this client.
     *
     * @return true when this refusal starts a ban
     */
    public synchronized boolean recordRefusal(InetAddress client) {
        if (client == null) {
            return false;
        }
        String key = keyOf(client);
        long now = clockMillis.getAsLong();
        if (bannedAt(key, now)) {
            return false;
        }
        if (!refusals.countHit(key, "relay probing")) {
            return false;
        }
        Suspensions.Suspension block = refusals.suspensionOf(key);
        refusals.lift(key);  // its refusals are spent; the ban lives apart, out of reach of tracking churn
        if (block == null) { // banFor 0: nothing to hold
            return true;
        }
        dropOverflow(now, settings.maxBans() - 1);
        bans.put(key, block.untilMillis());
        return true;
    }

    public synchronized boolean isBanned(InetAddress client) {
        return client != null && bannedAt(keyOf(client), clockMillis.getAsLong());
    }

    private boolean bannedAt(String key, long now) {
        Long until = bans.get(key);
        if (until == null) {
            return false;
        }
        if (until > now) {
            return true;
        }
        bans.remove(key);
        return false;
    }

    /** Forgets expired bans, then drops the bans ending soonest until at most {@code keep} remain. */
    private void dropOverflow(long now, int keep) {
        if (bans.size() <= keep) {
            return;
        }
        bans.values().removeIf(until -> until <= now);
        while (bans.size() > keep) {
            Iterator<Map.Entry<String, Long>> entries = bans.entrySet().iterator();
            Map.Entry<String, Long> soonest = entries.next();
            while (entries.hasNext()) {
                Map.Entry<String, Long> entry = entries.next();
                if (entry.getValue() < soonest.getValue()) {
                    soonest = entry;
                }
            }
            bans.remove(soonest.getKey());
            droppedBans.incrementAndGet();
        }
    }

    /** The clients banned right now. */
    public synchronized List<Ban> bans() {
        long now = clockMillis.getAsLong();
        bans.values().removeIf(until -> until <= now);
        List<Ban> result = new ArrayList<>();
        for (Map.Entry<String, Long> ban : bans.entrySet()) {
            result.add(new Ban(ban.getKey(), ban.getValue()));
        }
        return result;
    }

    /**
     * Lifts the ban of a client (an address, or for IPv6 any address of the /64) and forgets its refusals.
     *
     * @return true when a ban was lifted
     */
    public synchronized boolean lift(String address) {
        String key = keyOf(address);
        refusals.lift(key);
        Long until = bans.remove(key);
        return until != null && until > clockMillis.getAsLong();
    }

    /** Clients held: those collecting refusals plus those banned. */
    public synchronized int trackedCount() {
        return refusals.trackedCount() + bannedCount();
    }

    public synchronized int bannedCount() {
        long now = clockMillis.getAsLong();
        bans.values().removeIf(until -> until <= now);
        return bans.size();
    }

    /** Active bans dropped early because more than {@code maxBans} were active at once, since start. */
    public long droppedBans() {
        return droppedBans.get();
    }

    public Settings settings() {
        return settings;
    }

    /**
     * The key of a client address as an operator types it: an IPv4 address, or any IPv6 address of the /64 (or the
     * /64 itself, {@code 2001:db8:1:2::/64}); no DNS.
     *
     * @throws IllegalArgumentException ({@code not an IP address: …}) when it is null or not an IP address
     */
    public static String keyOf(String address) {
        if (address == null) {
            throw new IllegalArgumentException("not an IP address: null");
        }
        try {
            return keyOf(InetAddress.getByAddress(IpNetwork.parseAddressLiteral(address.trim().replaceFirst("/64$", ""))));
        } catch (UnknownHostException | IllegalArgumentException e) {
            throw new IllegalArgumentException("not an IP address: " + address);
        }
    }

    /** The key a client is tracked under: its IPv4 address, or its IPv6 /64 ({@code 2001:db8:1:2::/64}). */
    public static String keyOf(InetAddress client) {
        byte[] bytes = IpNetwork.comparableBytes(client);
        if (bytes.length == 4) {
            return (bytes[0] & 0xff) + "." + (bytes[1] & 0xff) + "." + (bytes[2] & 0xff) + "." + (bytes[3] & 0xff);
        }
        StringBuilder prefix = new StringBuilder();
        for (int i = 0; i < 8; i += 2) {
            prefix.append(Integer.toHexString(((bytes[i] & 0xff) << 8) | (bytes[i + 1] & 0xff))).append(':');
        }
        return prefix.append(":/64").toString();
    }
}
