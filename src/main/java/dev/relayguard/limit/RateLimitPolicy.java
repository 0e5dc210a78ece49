package dev.relayguard.limit;

import java.net.InetAddress;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Who is limited, and how much. Keyed by who is accountable: the authenticated user (never the forgeable MAIL
 * FROM; a null-sender message from an authenticated user is charged to that user); optionally, an
 * unauthenticated client of a trusted network by its IP (IPv6: its /64). A user's limits are the defaults,
 * with the measures its domain's override defines replaced, then the measures its own override defines.
 */
public final class RateLimitPolicy {
    public static final RateLimitPolicy NONE = new RateLimitPolicy(LimitSet.NONE, Map.of(), Map.of(), LimitSet.NONE);

    private final LimitSet userDefaults;
    private final Map<String, LimitSet> perUser;
    private final Map<String, LimitSet> perDomain;
    private final LimitSet trustedClients;
    /** The limits of a user with a domain override, merged once (the same LimitSet, so the same charges, every time). */
    private final Map<String, LimitSet> mergedPerDomain;
    /** The limits of a user with an own override, merged once with its domain's. */
    private final Map<String, LimitSet> mergedPerUser;

    public RateLimitPolicy(LimitSet userDefaults, Map<String, LimitSet> perUser, Map<String, LimitSet> perDomain, LimitSet trustedClients) {
        this.userDefaults = userDefaults;
        this.perUser = lowerCaseKeys(perUser);
        this.perDomain = lowerCaseKeys(perDomain);
        this.trustedClients = trustedClients;
        Map<String, LimitSet> domains = new TreeMap<>();
        this.perDomain.forEach((domain, override) -> domains.put(domain, userDefaults.overriddenBy(override)));
        this.mergedPerDomain = Map.copyOf(domains);
        Map<String, LimitSet> users = new TreeMap<>();
        this.perUser.forEach((user, override) -> users.put(user, merged(userDefaults, this.perDomain, user).overriddenBy(override)));
        this.mergedPerUser = Map.copyOf(users);
    }

    /** The defaults with the override of the user's domain, if any (the order {@link #limitsForUser} documents). */
    private static LimitSet merged(LimitSet defaults, Map<String, LimitSet> perDomain, String user) {
        LimitSet domain = ofDomain(perDomain, user);
        return domain == null ? defaults : defaults.overriddenBy(domain);
    }

    /** The limits of the user's domain in {@code byDomain}, or null (no override, or a name without {@code @}). */
    private static LimitSet ofDomain(Map<String, LimitSet> byDomain, String user) {
        int at = user.lastIndexOf('@');
        return at < 0 ? null : byDomain.get(user.substring(at + 1));
    }

    private static Map<String, LimitSet> lowerCaseKeys(Map<String, LimitSet> map) {
        Map<String, LimitSet> copy = new TreeMap<>();
        map.forEach((key, value) -> copy.put(key.toLowerCase(Locale.ROOT), value));
        return Map.copyOf(copy);
    }

    /** The subject to charge for a client: its user, else (trusted network clients) its IP; empty: not limited. */
    public Optional<Subject> subjectFor(String authenticatedUser, InetAddress trustedClient) {
        if (authenticatedUser != null) {
            String user = authenticatedUser.toLowerCase(Locale.ROOT);
            LimitSet limits = limitsForUser(user);
            return limits.isEmpty() ? Optional.empty() : Optional.of(new Subject(SubjectKey.user(user), limits));
        }
        if (trustedClient != null && !trustedClients.isEmpty()) {
            return Optional.of(new Subject(SubjectKey.ip(trustedClient), trustedClients));
        }
        return Optional.empty();
    }

    public LimitSet limitsForUser(String user) {
        String lower = user.toLowerCase(Locale.ROOT);
        LimitSet own = mergedPerUser.get(lower);
        if (own != null) {
            return own;
        }
        LimitSet domain = ofDomain(mergedPerDomain, lower);
        return domain == null ? userDefaults : domain;
    }

    public boolean isEmpty() {
        return userDefaults.isEmpty() && perUser.isEmpty() && perDomain.isEmpty() && trustedClients.isEmpty();
    }

    @Override
    public String toString() {
        return "{users=" + userDefaults + ", perDomain=" + perDomain + ", perUser=" + perUser + ", trustedClients=" + trustedClients + "}";
    }

    /** A limited subject: its store key ({@code user:alice@example.com}, {@code ip:192.0.2.7}) and its limits. */
    public static final class Subject {
        private final String key;
        private final LimitSet limits;

        public Subject(String key, LimitSet limits) {
            this.key = key;
            this.limits = limits;
        }

        public String key() {
            return key;
        }

        public LimitSet limits() {
            return limits;
        }
    }
}
