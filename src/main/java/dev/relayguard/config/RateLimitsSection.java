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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.apache.james.util.DurationParser;
import org.apache.james.util.Size;

import dev.relayguard.core.DomainName;
import dev.relayguard.core.Holds;
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
 *   <suspension>                                   <!-- suspend a user hitting limits too often; hits 0 = off -->
 *     <hits>5</hits> <within>10m</within> <suspendFor>1h</suspendFor>
 *   </suspension>
 * </rateLimits>
 * }</pre>
 * A domain or user override replaces the limits of the measures it names and keeps the others.
 *
 * <p>{@code <suspension>} was called {@code <containment>} before; that name is still read, with one WARN per
 * read naming the file and key. Both in one file is an error. Every error is an
 * {@link InvalidConfigurationException} naming the file, the key and the value.
 */
final class RateLimitsSection {
    private static final Logger LOGGER = LoggerFactory.getLogger(RateLimitsSection.class);
    static final String SUSPENSION = "rateLimits.suspension";
    /** The deprecated name of {@link #SUSPENSION}: still read, with a WARN. */
    static final String CONTAINMENT = "rateLimits.containment";

    static final Pattern KEYS = Pattern.compile("rateLimits(\\.(store|maxTrackedKeys|redisURL|cluster|timeout|onStoreFailure"
        + "|users|trustedClients|domain|user|suspension|containment|(suspension|containment)\\.(hits|within|suspendFor)"
        + "|(users|trustedClients|domain|user)\\.limit(\\[@(measure|max|per)\\])?"
        + "|(domain|user)\\[@name\\]))?");
    /** The rateLimits keys given once per limit or per override: repeated on purpose. */
    static final Pattern LIST_KEYS = Pattern.compile("rateLimits\\.((users|trustedClients|domain|user)\\.limit(\\[@(measure|max|per)\\])?"
        + "|(domain|user)\\[@name\\]|domain|user)");

    private final HierarchicalConfiguration<ImmutableNode> config;
    private final String fileName;
    private final ConfigValues values;

    RateLimitsSection(HierarchicalConfiguration<ImmutableNode> config, String fileName) {
        this.config = config;
        this.fileName = fileName;
        this.values = ConfigValues.of(fileName, config);
    }

    RateLimitSettings parse() {
        if (config.configurationsAt("rateLimits").isEmpty()) {
            return RateLimitSettings.NONE;
        }
        StoreKind store = values.choice("rateLimits.store", StoreKind.class, StoreKind.MEMORY);
        String redisURL = config.getString("rateLimits.redisURL", null);
        long maxKeys = values.countAtLeast("rateLimits.maxTrackedKeys", 100_000, 1);
        boolean cluster = values.bool("rateLimits.cluster", false);
        Duration timeout = values.positiveDuration("rateLimits.timeout", Duration.ofMillis(500));
        if (store == StoreKind.REDIS) {
            checkRedisURL(redisURL, cluster);
        }
        RateLimiter.FailureMode failureMode = values.choice("rateLimits.onStoreFailure", RateLimiter.FailureMode.class,
            RateLimiter.FailureMode.FAIL_OPEN);
        RateLimitPolicy policy = new RateLimitPolicy(limits("rateLimits.users"), named("user"), named("domain"),
            limits("rateLimits.trustedClients"));
        String suspension = suspensionSection();
        long hits = values.count(suspension + ".hits", 0);
        Holds.Settings suspensionSettings = new Holds.Settings((int) Math.min(hits, Integer.MAX_VALUE),
            values.positiveDuration(suspension + ".within", Duration.ofMinutes(10)).toMillis(),
            values.duration(suspension + ".suspendFor", Duration.ofHours(1), null).toMillis(), (int) Math.min(maxKeys, Integer.MAX_VALUE));
        return new RateLimitSettings(policy, store, maxKeys, redisURL == null ? null : redisURL.trim(), cluster,
            timeout, failureMode, suspensionSettings);
    }

    /** {@code rateLimits.suspension}, or its deprecated alias {@code rateLimits.containment} (with a WARN); not both. */
    private String suspensionSection() {
        boolean suspension = !config.configurationsAt(SUSPENSION).isEmpty();
        boolean containment = !config.configurationsAt(CONTAINMENT).isEmpty();
        if (suspension && containment) {
            throw new InvalidConfigurationException(fileName, CONTAINMENT, "<containment>",
                "the deprecated name of <suspension>, which is also given; keep <suspension> only");
        }
        if (containment) {
            LOGGER.warn("{}: {} is deprecated, it is read as {} (same children): rename <containment> to <suspension>",
                fileName, CONTAINMENT, SUSPENSION);
            return CONTAINMENT;
        }
        return SUSPENSION;
    }

    /**
     * The Redis store's own reading of the URL ({@link RedisLimiterStore#checkURL}: standalone, TLS, Sentinel and
     * cluster seeds), its refusal named here with the password masked ({@link RedisLimiterStore#redact}).
     */
    private void checkRedisURL(String redisURL, boolean cluster) {
        String hint = "the redis store needs a redisURL such as redis://127.0.0.1:6379";
        if (redisURL == null) {
            throw new InvalidConfigurationException(fileName, "rateLimits.redisURL", "", "not given: " + hint);
        }
        try {
            RedisLimiterStore.checkURL(redisURL, cluster);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigurationException(fileName, "rateLimits.redisURL", RedisLimiterStore.redact(redisURL),
                hint + " (" + e.getMessage() + ")" + (cluster ? " with rateLimits.cluster = 'true'" : ""));
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
}
