package dev.relayguard.core;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * A built-in fail2ban for relay probing: a client that collects {@code refusals} relay refusals within
 * {@code window} is banned for {@code banFor} ({@code <probeBans>} in relayguard.xml); banned clients get
 * {@code 421 4.7.0} on MX listeners (at connect, or at the first command behind a PROXY-protocol balancer). IPv6
 * clients are grouped by /64 (one customer's whole prefix). The bans are {@link Holds} keyed by {@link #keyOf}: in
 * memory on one node ({@link Suspensions} without a file, bounded: at most {@code maxTrackedIps} clients collecting refusals and,
 * apart, at most {@code maxBans} banned; lost on restart), or with the Redis rate-limit store in Redis, shared by
 * every node of a cluster and kept across restarts ({@code store.RedisHolds}). Thread-safe.
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
        private final TrustedNetworks exempt;

        /** At most {@code maxTrackedIps} clients tracked and, separately, at most as many banned. */
        public Settings(int refusals, Duration window, Duration banFor, int maxTrackedIps) {
            this(refusals, window, banFor, maxTrackedIps, maxTrackedIps);
        }

        public Settings(int refusals, Duration window, Duration banFor, int maxTrackedIps, int maxBans) {
            this(refusals, window, banFor, maxTrackedIps, maxBans, TrustedNetworks.none());
        }

        /**
         * @param exempt clients never banned and never counted (fail2ban's {@code ignoreip}; {@code <probeBans><exempt>}):
         *               the operator's own hosts, monitoring, a partner's relay
         */
        public Settings(int refusals, Duration window, Duration banFor, int maxTrackedIps, int maxBans, TrustedNetworks exempt) {
            if (refusals < 0 || maxTrackedIps < 1 || maxBans < 1 || window.isNegative() || window.isZero() || banFor.isNegative()) {
                throw new IllegalArgumentException("refusals >= 0, maxTrackedIps >= 1, maxBans >= 1, window > 0, banFor >= 0");
            }
            this.refusals = refusals;
            this.window = window;
            this.banFor = banFor;
            this.maxTrackedIps = maxTrackedIps;
            this.maxBans = maxBans;
            this.exempt = exempt;
        }

        /** The clients never banned nor counted. */
        public TrustedNetworks exempt() {
            return exempt;
        }

        /** True when the client is exempt from probe bans. */
        public boolean isExempt(InetAddress client) {
            return client != null && exempt.contains(client);
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

        /** As the rule of {@link Holds}: {@code refusals} hits within {@code window} hold a client for {@code banFor}. */
        public Holds.Settings asHolds() {
            return new Holds.Settings(refusals, window.toMillis(), banFor.toMillis(), maxTrackedIps, maxBans);
        }

        public boolean enabled() {
            return refusals > 0;
        }

        @Override
        public String toString() {
            return "{refusals=" + refusals + ", window=" + window + ", banFor=" + banFor + ", maxTrackedIps=" + maxTrackedIps
                + (maxBans == maxTrackedIps ? "" : ", maxBans=" + maxBans) + (exempt.asList().isEmpty() ? "" : ", exempt=" + exempt) + "}";
        }
    }

    /** Why a probe ban's hits are counted; the reason of every automatic ban. */
    public static final String REASON = "relay probing";

    private final Holds holds;
    private volatile Settings settings;

    /** In memory, on this node. */
    public ProbeBans(Settings settings, LongSupplier clockMillis) {
        this(settings, new Suspensions(settings.asHolds(), clockMillis));
    }

    /** Kept in {@code holds} (memory or Redis), created with {@code settings.asHolds()}. */
    public ProbeBans(Settings settings, Holds holds) {
        this.settings = settings;
        this.holds = holds;
    }

    /** New settings (after a policy reload); tracked clients and current bans are kept (within the new bounds). */
    public void reconfigure(Settings newSettings) {
        this.settings = newSettings;
        holds.reconfigure(newSettings.asHolds());
    }

    /**
     * Notes one relay refusal for this client.
     *
     * @return the ban this refusal started, or null (also when the store cannot answer: nothing counted)
     */
    public Holds.Hold recordRefusal(InetAddress client) {
        return client == null ? null : holds.countHit(keyOf(client), REASON);
    }

    /** The ban of a client in force now; null when none; {@link Holds#UNAVAILABLE} when the store cannot answer. */
    public Holds.Hold banOf(InetAddress client) {
        return client == null ? null : holds.holdOf(keyOf(client));
    }

    /** True when the client is banned now (false when the store cannot tell). */
    public boolean isBanned(InetAddress client) {
        Holds.Hold ban = banOf(client);
        return ban != null && !ban.isUnavailable();
    }

    /**
     * The clients banned right now.
     *
     * @throws IllegalStateException when the store cannot answer
     */
    public List<Holds.Hold> bans() {
        return holds.active();
    }

    /**
     * Lifts the ban of a client (an address, or for IPv6 any address of the /64) and forgets its refusals.
     *
     * @return true when a ban was lifted
     * @throws IllegalArgumentException when it is not an IP address
     * @throws IllegalStateException when the store cannot answer
     */
    public boolean lift(String address) {
        return holds.lift(keyOf(address));
    }

    /** Clients held: those collecting refusals plus those banned; -1 when the store cannot answer. */
    public int trackedCount() {
        return holds.trackedCount();
    }

    /** Clients banned now; -1 when the store cannot answer. */
    public int bannedCount() {
        return holds.heldCount();
    }

    /** Active bans dropped early because more than {@code maxBans} were active at once, since start. */
    public long droppedBans() {
        return holds.droppedHolds();
    }

    public Settings settings() {
        return settings;
    }

    /** Where the bans live. */
    public Holds holds() {
        return holds;
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
