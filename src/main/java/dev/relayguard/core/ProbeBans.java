package dev.relayguard.core;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * A built-in fail2ban for relay probing: a client that collects {@code refusals} relay refusals within
 * {@code window} is banned for {@code banFor}; banned clients get {@code 421 4.7.0} at connect on MX listeners.
 * IPv6 clients are grouped by /64 (one customer's whole prefix). Memory is bounded: at most
 * {@code maxTrackedIps} clients are tracked, the least recently active is forgotten first. Thread-safe.
 */
public final class ProbeBans {
    /** The settings; {@code refusals == 0} switches bans off. */
    public static final class Settings {
        public static final Settings DEFAULT = new Settings(10, Duration.ofMinutes(10), Duration.ofHours(1), 100_000);

        private final int refusals;
        private final Duration window;
        private final Duration banFor;
        private final int maxTrackedIps;

        public Settings(int refusals, Duration window, Duration banFor, int maxTrackedIps) {
            if (refusals < 0 || maxTrackedIps < 1 || window.isNegative() || window.isZero() || banFor.isNegative()) {
                throw new IllegalArgumentException("refusals >= 0, maxTrackedIps >= 1, window > 0, banFor >= 0");
            }
            this.refusals = refusals;
            this.window = window;
            this.banFor = banFor;
            this.maxTrackedIps = maxTrackedIps;
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

        public boolean enabled() {
            return refusals > 0;
        }

        @Override
        public String toString() {
            return "{refusals=" + refusals + ", window=" + window + ", banFor=" + banFor + ", maxTrackedIps=" + maxTrackedIps + "}";
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
            return client + " until " + java.time.Instant.ofEpochMilli(untilMillis);
        }
    }

    private final Strikes strikes;
    private volatile Settings settings;

    public ProbeBans(Settings settings, LongSupplier clockMillis) {
        this.settings = settings;
        this.strikes = new Strikes(strikeSettings(settings), clockMillis);
    }

    private static Strikes.Settings strikeSettings(Settings settings) {
        return new Strikes.Settings(settings.refusals(), settings.window().toMillis(), settings.banFor().toMillis(), settings.maxTrackedIps());
    }

    /** New settings (after a policy reload); tracked clients and current bans are kept. */
    public void reconfigure(Settings newSettings) {
        this.settings = newSettings;
        strikes.reconfigure(strikeSettings(newSettings));
    }

    /**
     * Notes one relay refusal for this client.
     *
     * @return true when this refusal starts a ban
     */
    public boolean recordRefusal(InetAddress client) {
        return client != null && strikes.strike(keyOf(client), "relay probing");
    }

    public boolean isBanned(InetAddress client) {
        return client != null && strikes.isBlocked(keyOf(client));
    }

    /** The clients banned right now. */
    public List<Ban> bans() {
        List<Ban> result = new ArrayList<>();
        for (Strikes.Block block : strikes.blocks()) {
            result.add(new Ban(block.key(), block.untilMillis()));
        }
        return result;
    }

    /**
     * Lifts the ban of a client (an address, or for IPv6 any address of the /64) and forgets its refusals.
     *
     * @return true when a ban was lifted
     */
    public boolean lift(String address) {
        InetAddress parsed;
        try {
            parsed = InetAddress.getByAddress(IpNetwork.parseAddressLiteral(address.replaceFirst("/64$", "")));
        } catch (UnknownHostException | IllegalArgumentException e) {
            throw new IllegalArgumentException("not an IP address: " + address);
        }
        return strikes.lift(keyOf(parsed));
    }

    public int trackedCount() {
        return strikes.trackedCount();
    }

    public int bannedCount() {
        return strikes.blockedCount();
    }

    public Settings settings() {
        return settings;
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
