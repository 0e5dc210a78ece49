package dev.relayguard.config;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

import org.apache.commons.configuration2.HierarchicalConfiguration;
import org.apache.commons.configuration2.tree.ImmutableNode;
import org.apache.james.util.DurationParser;

import dev.relayguard.core.DomainName;
import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.Mode;
import dev.relayguard.core.ProbeBans;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.Rule;
import dev.relayguard.core.RuleModes;
import dev.relayguard.core.SenderOwnershipMode;
import dev.relayguard.core.SentByMailetPolicy;
import dev.relayguard.core.SessionLimits;
import dev.relayguard.core.TrustedNetworks;

/**
 * Reads RelayGuard's policy file ({@code relayguard.xml} in James's conf folder) into immutable, validated
 * values. Every key is known; an unknown key or a bad value is an {@link InvalidConfigurationException}
 * naming file, key and value. Everything is optional; the defaults are the safe ones.
 *
 * <pre>{@code
 * <relayguard>
 *   <trustedNetworks>                 <!-- clients that may relay without AUTH; empty by default -->
 *     <network>192.0.2.0/24</network>
 *     <network>2001:db8::/32</network>
 *   </trustedNetworks>
 *   <relayDomains>                    <!-- domains we accept for and relay onward (backup MX) -->
 *     <domain>backup.example</domain>
 *   </relayDomains>
 *   <localIpLiterals>                 <!-- user@[192.0.2.1] means us: accepted, not refused as routing -->
 *     <literal>192.0.2.1</literal>
 *   </localIpLiterals>
 *   <rules>                           <!-- reject (default) | defer | monitor | off (not for relay) -->
 *     <relay>reject</relay>
 *     <sourceRoute>reject</sourceRoute> <percentHack>reject</percentHack> <bangPath>reject</bangPath>
 *     <atInLocalPart>reject</atInLocalPart> <ipLiteral>reject</ipLiteral>
 *     <unqualifiedRecipient>reject</unqualifiedRecipient> <unqualifiedSender>reject</unqualifiedSender>
 *     <senderOwnership>reject</senderOwnership> <localSenderSpoof>reject</localSenderSpoof>
 *     <submissionAuth>reject</submissionAuth> <headerFrom>reject</headerFrom>
 *   </rules>
 *   <senderOwnership>strict</senderOwnership>   <!-- strict (default) | known-only | off -->
 *   <sessionLimits>
 *     <maxRefusedRecipients>5</maxRefusedRecipients>  <!-- then 421 4.7.0 and disconnect; 0 = off -->
 *     <tarpitAfter>0</tarpitAfter>                    <!-- delay each refusal from the Nth on; 0 = off -->
 *     <tarpitDelay>1s</tarpitDelay>                   <!-- at most 30s -->
 *   </sessionLimits>
 *   <pipeline>                         <!-- the mail pipeline (IsRelayDenied / RefuseRelay) -->
 *     <sentByMailet>allow</sentByMailet> <!-- allow (default) | null-sender-only | judge -->
 *   </pipeline>
 *   <probeBans>                        <!-- 421 4.7.0 at connect on MX listeners -->
 *     <refusals>10</refusals> <window>10m</window> <banFor>1h</banFor>   <!-- refusals 0 = off -->
 *     <maxTrackedIps>100000</maxTrackedIps>
 *   </probeBans>
 * </relayguard>
 * }</pre>
 */
public final class PolicyFile {
    /** The file name in James's conf folder, as read through James's ConfigurationProvider. */
    public static final String FILE_NAME = "relayguard.xml";
    public static final String COMPONENT = "relayguard";

    static final String TRUSTED_NETWORK = "trustedNetworks.network";
    static final String RELAY_DOMAIN = "relayDomains.domain";
    static final String LOCAL_IP_LITERAL = "localIpLiterals.literal";
    static final String SENDER_OWNERSHIP = "senderOwnership";
    static final String MAX_REFUSED_RECIPIENTS = "sessionLimits.maxRefusedRecipients";
    static final String TARPIT_AFTER = "sessionLimits.tarpitAfter";
    static final String TARPIT_DELAY = "sessionLimits.tarpitDelay";
    static final String BAN_REFUSALS = "probeBans.refusals";
    static final String BAN_WINDOW = "probeBans.window";
    static final String BAN_FOR = "probeBans.banFor";
    static final String BAN_MAX_TRACKED = "probeBans.maxTrackedIps";
    static final String SENT_BY_MAILET = "pipeline.sentByMailet";
    private static final Duration MAX_TARPIT = Duration.ofSeconds(30);

    private static final Set<String> KNOWN_KEYS = knownKeys();

    private PolicyFile() {
    }

    private static Set<String> knownKeys() {
        Set<String> keys = new TreeSet<>(List.of(
            TRUSTED_NETWORK, "trustedNetworks", RELAY_DOMAIN, "relayDomains", LOCAL_IP_LITERAL, "localIpLiterals",
            "rules", SENDER_OWNERSHIP, "sessionLimits", MAX_REFUSED_RECIPIENTS, TARPIT_AFTER, TARPIT_DELAY,
            "probeBans", BAN_REFUSALS, BAN_WINDOW, BAN_FOR, BAN_MAX_TRACKED, "pipeline", SENT_BY_MAILET));
        for (Rule rule : Rule.values()) {
            keys.add("rules." + rule.configKey());
        }
        return keys;
    }

    @SuppressWarnings("unchecked")
    public static RelayGuardSettings parse(HierarchicalConfiguration<?> config, String fileName) {
        rejectUnknownKeys(config, fileName);
        RelayPolicy policy = RelayPolicy.of(trustedNetworks(config, fileName), relayDomains(config, fileName),
            localIpLiterals(config, fileName), ruleModes(config, fileName),
            value(config, fileName, SENDER_OWNERSHIP, SenderOwnershipMode::parse, SenderOwnershipMode.STRICT));
        SessionLimits sessionLimits = new SessionLimits(
            count(config, fileName, MAX_REFUSED_RECIPIENTS, SessionLimits.DEFAULT.maxRefusedRecipients()),
            count(config, fileName, TARPIT_AFTER, SessionLimits.DEFAULT.tarpitAfter()),
            duration(config, fileName, TARPIT_DELAY, SessionLimits.DEFAULT.tarpitDelay(), MAX_TARPIT));
        ProbeBans.Settings defaults = ProbeBans.Settings.DEFAULT;
        int maxTracked = count(config, fileName, BAN_MAX_TRACKED, defaults.maxTrackedIps());
        if (maxTracked < 1) {
            throw new InvalidConfigurationException(fileName, BAN_MAX_TRACKED, String.valueOf(maxTracked), "must be at least 1");
        }
        Duration window = duration(config, fileName, BAN_WINDOW, defaults.window(), null);
        if (window.isZero()) {
            throw new InvalidConfigurationException(fileName, BAN_WINDOW, config.getString(BAN_WINDOW), "must be longer than 0");
        }
        ProbeBans.Settings bans = new ProbeBans.Settings(count(config, fileName, BAN_REFUSALS, defaults.refusals()),
            window, duration(config, fileName, BAN_FOR, defaults.banFor(), null), maxTracked);
        RateLimitSettings rateLimits = new RateLimitsSection((HierarchicalConfiguration<ImmutableNode>) config, fileName).parse();
        SentByMailetPolicy sentByMailet = value(config, fileName, SENT_BY_MAILET, SentByMailetPolicy::parse, SentByMailetPolicy.ALLOW);
        return new RelayGuardSettings(policy, sessionLimits, bans, rateLimits, sentByMailet);
    }

    private static void rejectUnknownKeys(HierarchicalConfiguration<?> config, String fileName) {
        for (Iterator<String> keys = config.getKeys(); keys.hasNext(); ) {
            String key = keys.next();
            if (!KNOWN_KEYS.contains(key) && !RateLimitsSection.KEYS.matcher(key).matches()) {
                throw new InvalidConfigurationException(fileName, key, String.valueOf(config.getProperty(key)),
                    "unknown key (known: " + String.join(", ", KNOWN_KEYS) + ", rateLimits.*)");
            }
        }
    }

    private static TrustedNetworks trustedNetworks(HierarchicalConfiguration<?> config, String fileName) {
        List<IpNetwork> networks = new ArrayList<>();
        for (String value : config.getList(String.class, TRUSTED_NETWORK, List.of())) {
            try {
                networks.add(IpNetwork.parse(value));
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigurationException(fileName, TRUSTED_NETWORK, value, e.getMessage());
            }
        }
        return TrustedNetworks.of(networks);
    }

    private static Set<String> relayDomains(HierarchicalConfiguration<?> config, String fileName) {
        Set<String> domains = new LinkedHashSet<>();
        for (String value : config.getList(String.class, RELAY_DOMAIN, List.of())) {
            String domain = DomainName.canonical(value);
            if (!DomainName.isValidHostName(domain)) {
                throw new InvalidConfigurationException(fileName, RELAY_DOMAIN, value, "not a valid domain name");
            }
            domains.add(domain);
        }
        return domains;
    }

    private static List<String> localIpLiterals(HierarchicalConfiguration<?> config, String fileName) {
        List<String> literals = new ArrayList<>();
        for (String value : config.getList(String.class, LOCAL_IP_LITERAL, List.of())) {
            String literal = value.trim().replaceAll("^\\[|\\]$", "");
            try {
                IpNetwork.parse(literal.replaceFirst("(?i)^ipv6:", ""));
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigurationException(fileName, LOCAL_IP_LITERAL, value, e.getMessage());
            }
            literals.add(literal);
        }
        return literals;
    }

    private static RuleModes ruleModes(HierarchicalConfiguration<?> config, String fileName) {
        Map<Rule, Mode> modes = new EnumMap<>(Rule.class);
        for (Rule rule : Rule.values()) {
            String key = "rules." + rule.configKey();
            Mode mode = value(config, fileName, key, Mode::parse, rule.defaultMode());
            if (mode == Mode.OFF && !rule.mayBeOff()) {
                throw new InvalidConfigurationException(fileName, key, config.getString(key),
                    "the relay rule can be reject, defer or monitor, never off");
            }
            modes.put(rule, mode);
        }
        return RuleModes.of(modes);
    }

    private static <T> T value(HierarchicalConfiguration<?> config, String fileName, String key, Function<String, T> parser, T fallback) {
        String raw = config.getString(key, null);
        if (raw == null || raw.isBlank()) {
            return fallback;
        }
        try {
            return parser.apply(raw);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigurationException(fileName, key, raw, e.getMessage());
        }
    }

    private static int count(HierarchicalConfiguration<?> config, String fileName, String key, int fallback) {
        return value(config, fileName, key, raw -> {
            int parsed;
            try {
                parsed = Integer.parseInt(raw.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a whole number");
            }
            if (parsed < 0) {
                throw new IllegalArgumentException("must not be negative");
            }
            return parsed;
        }, fallback);
    }

    private static Duration duration(HierarchicalConfiguration<?> config, String fileName, String key, Duration fallback, Duration max) {
        Duration parsed = value(config, fileName, key, raw -> {
            try {
                return DurationParser.parse(raw.trim(), ChronoUnit.SECONDS);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("not a duration (examples: 500ms, 30s, 10m, 1h)");
            }
        }, fallback);
        if (parsed.isNegative() || (max != null && parsed.compareTo(max) > 0)) {
            throw new InvalidConfigurationException(fileName, key, config.getString(key),
                max == null ? "must not be negative" : "must be between 0 and " + max.getSeconds() + "s");
        }
        return parsed;
    }
}
