package dev.relayguard.config;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import org.apache.commons.configuration2.HierarchicalConfiguration;
import org.apache.commons.configuration2.tree.ImmutableNode;
import org.apache.james.util.DurationParser;
import org.apache.james.util.Size;

import dev.relayguard.core.DomainName;
import dev.relayguard.core.Suspensions;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitSet;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.StoreKind;
import dev.relayguard.store.RedisLimiterStore;

/**
 * The {@code <rateLimits>} section of {@code relayguard.xml}:
 *
 * <pre>{@code
 * <rateLimits>
 *   <store>memory</store>                         <!-- memory (default) | redis -->
 *   <maxTrackedKeys>100000</maxTrackedKeys>        <!-- memory store bound -->
 *   <redisURL>redis://127.0.0.1:6379</redisURL>    <!-- redis store: comma-separated URLs for a cluster -->
 *   <cluster>false</cluster>
 *   <timeout>500ms</timeout>                       <!-- per decision -->
 *   <onStoreFailure>fail-open</onStoreFailure>     <!-- fail-open (accept, count, log) | fail-closed (451 4.3.0) -->
 *   <users>                                        <!-- every authenticated user -->
 *     <limit measure="messages" max="20" per="1m"/>
 *     <limit measure="messages" max="500" per="1d"/>
 *     <limit measure="recipients" max="200" per="1h"/>
 *     <limit measure="bytes" max="100M" per="1h"/>
 *   </users>
 *   <domain name="partner.example"> <limit measure="messages" max="100" per="1m"/> </domain>
 *   <user name="newsletter@example.com"> <limit measure="recipients" max="5000" per="1h"/> </user>
 *   <trustedClients> <limit measure="messages" max="100" per="1m"/> </trustedClients>  <!-- by IP, IPv6 /64 -->
 *   <containment>                                  <!-- suspend a user hitting limits too often; hits 0 = off -->
 *     <hits>5</hits> <within>10m</within> <suspendFor>1h</suspendFor>
 *   </containment>
 * </rateLimits>
 * }</pre>
 * A domain or user override replaces the limits of the measures it names and keeps the others.
 */
final class RateLimitsSection {
    static final Pattern KEYS = Pattern.compile("rateLimits(\\.(store|maxTrackedKeys|redisURL|cluster|timeout|onStoreFailure"
        + "|users|trustedClients|domain|user|containment|containment\\.(hits|within|suspendFor)"
        + "|(users|trustedClients|domain|user)\\.limit(\\[@(measure|max|per)\\])?"
        + "|(domain|user)\\[@name\\]))?");

    private final HierarchicalConfiguration<ImmutableNode> config;
    private final String fileName;

    RateLimitsSection(HierarchicalConfiguration<ImmutableNode> config, String fileName) {
        this.config = config;
        this.fileName = fileName;
    }

    RateLimitSettings parse() {
        if (config.configurationsAt("rateLimits").isEmpty()) {
            return RateLimitSettings.NONE;
        }
        String storeName = text("rateLimits.store", "memory").toLowerCase(Locale.ROOT);
        StoreKind store;
        try {
            store = StoreKind.parse(storeName);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigurationException(fileName, "rateLimits.store", storeName, e.getMessage());
        }
        String redisURL = config.getString("rateLimits.redisURL", null);
        long maxKeys = number("rateLimits.maxTrackedKeys", 100_000);
        if (maxKeys < 1) {
            throw new InvalidConfigurationException(fileName, "rateLimits.maxTrackedKeys", String.valueOf(maxKeys), "must be at least 1");
        }
        String cluster = text("rateLimits.cluster", "false");
        if (!cluster.equals("true") && !cluster.equals("false")) {
            throw new InvalidConfigurationException(fileName, "rateLimits.cluster", cluster, "expected true or false");
        }
        Duration timeout = duration("rateLimits.timeout", Duration.ofMillis(500));
        if (timeout.isZero()) {
            throw new InvalidConfigurationException(fileName, "rateLimits.timeout", text("rateLimits.timeout", ""), "must be longer than 0");
        }
        if (store == StoreKind.REDIS) {
            checkRedisURL(redisURL, cluster.equals("true"));
        }
        RateLimiter.FailureMode failureMode;
        String failure = text("rateLimits.onStoreFailure", "fail-open");
        try {
            failureMode = RateLimiter.FailureMode.parse(failure);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigurationException(fileName, "rateLimits.onStoreFailure", failure, e.getMessage());
        }
        RateLimitPolicy policy = new RateLimitPolicy(limits("rateLimits.users"), named("user"), named("domain"),
            limits("rateLimits.trustedClients"));
        long hits = number("rateLimits.containment.hits", 0);
        Suspensions.Settings containment = new Suspensions.Settings((int) Math.min(hits, Integer.MAX_VALUE),
            positive("rateLimits.containment.within", Duration.ofMinutes(10)).toMillis(),
            duration("rateLimits.containment.suspendFor", Duration.ofHours(1)).toMillis(), (int) Math.min(maxKeys, Integer.MAX_VALUE));
        return new RateLimitSettings(policy, store, maxKeys, redisURL == null ? null : redisURL.trim(), cluster.equals("true"),
            timeout, failureMode, containment);
    }

    /** The Redis store's own reading of the URL (sentinel and cluster URLs included), its refusal named here. */
    private void checkRedisURL(String redisURL, boolean cluster) {
        String hint = "the redis store needs a redisURL such as redis://127.0.0.1:6379";
        if (redisURL == null) {
            throw new InvalidConfigurationException(fileName, "rateLimits.redisURL", "null", hint);
        }
        try {
            RedisLimiterStore.checkURL(redisURL, cluster);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigurationException(fileName, "rateLimits.redisURL", redisURL, hint + " (" + e.getMessage() + ")");
        }
    }

    private Map<String, LimitSet> named(String element) {
        Map<String, LimitSet> result = new LinkedHashMap<>();
        List<HierarchicalConfiguration<ImmutableNode>> sections = config.configurationsAt("rateLimits." + element);
        for (int i = 0; i < sections.size(); i++) {
            String name = sections.get(i).getString("[@name]", "").trim();
            String key = "rateLimits." + element + "[@name]";
            if (name.isEmpty()) {
                throw new InvalidConfigurationException(fileName, key, name, "a " + element + " override needs a name");
            }
            String canonical = element.equals("domain") ? DomainName.canonical(name)
                : name.substring(0, name.lastIndexOf('@') + 1).toLowerCase(Locale.ROOT) + DomainName.canonical(name.substring(name.lastIndexOf('@') + 1));
            if (result.put(canonical, limitsOf(sections.get(i), "rateLimits." + element)) != null) {
                throw new InvalidConfigurationException(fileName, key, name, "defined twice");
            }
        }
        return result;
    }

    private LimitSet limits(String path) {
        List<HierarchicalConfiguration<ImmutableNode>> sections = config.configurationsAt(path);
        return sections.isEmpty() ? LimitSet.NONE : limitsOf(sections.get(0), path);
    }

    private LimitSet limitsOf(HierarchicalConfiguration<ImmutableNode> section, String path) {
        List<Limit> limits = new ArrayList<>();
        for (HierarchicalConfiguration<ImmutableNode> limit : section.configurationsAt("limit")) {
            String measureText = limit.getString("[@measure]", "");
            Measure measure;
            try {
                measure = Measure.parse(measureText);
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigurationException(fileName, path + ".limit[@measure]", measureText, e.getMessage());
            }
            String maxText = limit.getString("[@max]", "");
            long max;
            try {
                max = measure == Measure.BYTES ? Size.parse(maxText).asBytes() : Long.parseLong(maxText.trim());
            } catch (RuntimeException e) {
                throw new InvalidConfigurationException(fileName, path + ".limit[@max]", maxText,
                    measure == Measure.BYTES ? "not a size (examples: 500K, 50M, 1G)" : "not a whole number");
            }
            if (max < 1 || max > Integer.MAX_VALUE) {
                throw new InvalidConfigurationException(fileName, path + ".limit[@max]", maxText,
                    "must be between 1 and " + Integer.MAX_VALUE + " (2G) per window");
            }
            String perText = limit.getString("[@per]", "");
            Duration per;
            try {
                per = DurationParser.parse(perText.trim(), ChronoUnit.SECONDS);
            } catch (RuntimeException e) {
                throw new InvalidConfigurationException(fileName, path + ".limit[@per]", perText, "not a duration (examples: 1m, 1h, 1d)");
            }
            if (per.toMillis() < 1000) {
                throw new InvalidConfigurationException(fileName, path + ".limit[@per]", perText, "must be at least 1s");
            }
            limits.add(new Limit(measure, max, per));
        }
        try {
            return LimitSet.of(limits);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigurationException(fileName, path + ".limit", limits.toString(), e.getMessage());
        }
    }

    private String text(String key, String fallback) {
        String value = config.getString(key, null);
        return value == null || value.isBlank() ? fallback : value.trim();
    }

    private long number(String key, long fallback) {
        String value = text(key, null);
        if (value == null) {
            return fallback;
        }
        try {
            long parsed = Long.parseLong(value);
            if (parsed < 0) {
                throw new NumberFormatException();
            }
            return parsed;
        } catch (NumberFormatException e) {
            throw new InvalidConfigurationException(fileName, key, value, "not a whole number >= 0");
        }
    }

    private Duration duration(String key, Duration fallback) {
        String value = text(key, null);
        if (value == null) {
            return fallback;
        }
        try {
            return DurationParser.parse(value, ChronoUnit.SECONDS);
        } catch (RuntimeException e) {
            throw new InvalidConfigurationException(fileName, key, value, "not a duration (examples: 500ms, 30s, 10m, 1h)");
        }
    }

    private Duration positive(String key, Duration fallback) {
        Duration parsed = duration(key, fallback);
        if (parsed.isZero()) {
            throw new InvalidConfigurationException(fileName, key, text(key, ""), "must be longer than 0");
        }
        return parsed;
    }
}
