package dev.relayguard.config;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import java.util.Locale;

import org.apache.commons.configuration2.HierarchicalConfiguration;
import org.apache.commons.configuration2.XMLConfiguration;
import org.apache.commons.configuration2.builder.FileBasedConfigurationBuilder;
import org.apache.commons.configuration2.builder.fluent.Parameters;
import org.apache.commons.configuration2.convert.DisabledListDelimiterHandler;
import org.apache.commons.configuration2.ex.ConfigurationException;
import org.apache.commons.configuration2.io.FileHandler;
import org.apache.commons.configuration2.tree.ImmutableNode;

import dev.relayguard.core.AuthLimits;
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
 *     <tarpitAfter>0</tarpitAfter>                    <!-- removed: only 0 is accepted -->
 *     <tarpitDelay>1s</tarpitDelay>                   <!-- removed: accepted (at most 30s), no effect -->
 *   </sessionLimits>
 *   <pipeline>                         <!-- the mail pipeline (IsRelayDenied / RefuseRelay) -->
 *     <sentByMailet>allow</sentByMailet> <!-- allow (default) | null-sender-only | judge -->
 *   </pipeline>
 *   <probeBans>                        <!-- 421 4.7.0 at connect on MX listeners -->
 *     <refusals>10</refusals> <window>10m</window> <banFor>1h</banFor>   <!-- refusals 0 = off -->
 *     <maxTrackedIps>100000</maxTrackedIps>
 *     <exempt><network>192.0.2.10</network></exempt>   <!-- never banned nor counted (fail2ban's ignoreip) -->
 *   </probeBans>
 *   <rateLimits> ... </rateLimits>     <!-- limits per user, and <suspension>: see RateLimitsSection -->
 *   <authLimits>                       <!-- failed SMTP logins (AuthLimits); a count of 0 switches its rule off -->
 *     <maxFailuresPerConnection>3</maxFailuresPerConnection>  <!-- that refused AUTH: 421 4.7.0, closed -->
 *     <clientBan> <failures>10</failures> <within>10m</within> <banFor>1h</banFor> </clientBan>
 *     <accountThrottle> <failures>5</failures> <within>15m</within> <throttleFor>15m</throttleFor> </accountThrottle>
 *     <knownClients> <perAccount>10</perAccount> <rememberFor>30d</rememberFor> </knownClients>
 *     <successAfterFailures> <failures>3</failures> <suspendFor>0s</suspendFor> </successAfterFailures>
 *     <maxTrackedClients>100000</maxTrackedClients> <maxTrackedAccounts>100000</maxTrackedAccounts>
 *   </authLimits>
 * </relayguard>
 * }</pre>
 * Values are read with {@link ConfigValues}: booleans are {@code true} or {@code false}, counts whole numbers
 * {@code >= 0}, durations in James's syntax ({@code 500ms}, {@code 30s}, {@code 10m}, {@code 1h}), and each
 * rule's mode is checked once, by {@link Rule#checkMode}.
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
    static final String BAN_EXEMPT = "probeBans.exempt.network";
    static final String SENT_BY_MAILET = "pipeline.sentByMailet";
    static final String AUTH_MAX_PER_CONNECTION = "authLimits.maxFailuresPerConnection";
    static final String AUTH_BAN_FAILURES = "authLimits.clientBan.failures";
    static final String AUTH_BAN_WITHIN = "authLimits.clientBan.within";
    static final String AUTH_BAN_FOR = "authLimits.clientBan.banFor";
    static final String AUTH_THROTTLE_FAILURES = "authLimits.accountThrottle.failures";
    static final String AUTH_THROTTLE_WITHIN = "authLimits.accountThrottle.within";
    static final String AUTH_THROTTLE_FOR = "authLimits.accountThrottle.throttleFor";
    static final String AUTH_KNOWN_PER_ACCOUNT = "authLimits.knownClients.perAccount";
    static final String AUTH_KNOWN_REMEMBER_FOR = "authLimits.knownClients.rememberFor";
    static final String AUTH_SUSPICIOUS_FAILURES = "authLimits.successAfterFailures.failures";
    static final String AUTH_SUSPICIOUS_SUSPEND_FOR = "authLimits.successAfterFailures.suspendFor";
    static final String AUTH_MAX_TRACKED_CLIENTS = "authLimits.maxTrackedClients";
    static final String AUTH_MAX_TRACKED_ACCOUNTS = "authLimits.maxTrackedAccounts";
    private static final Duration MAX_TARPIT = Duration.ofSeconds(30);

    private static final Set<String> KNOWN_KEYS = knownKeys();
    /** The keys that are lists: every other key is given at most once. */
    private static final Set<String> LIST_KEYS = Set.of(TRUSTED_NETWORK, RELAY_DOMAIN, LOCAL_IP_LITERAL, BAN_EXEMPT);

    /** The largest policy file read; a larger one is refused before reading (a policy file is a few KiB). */
    public static final long MAX_BYTES = 1024 * 1024;

    private PolicyFile() {
    }

    /**
     * The bytes of the policy file at {@code path}, read safely: only a regular file (a FIFO, a directory or a
     * device is refused without opening it), at most {@link #MAX_BYTES} (refused before reading, and a file that
     * grows while read is refused too).
     *
     * @return empty when no file exists at {@code path}
     * @throws InvalidConfigurationException naming the file and why it cannot be read
     */
    public static Optional<byte[]> readBytes(Path path) {
        String name = path.toString();
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            throw new InvalidConfigurationException(name, "cannot be read: " + ConfigErrors.describe(e), e);
        }
        if (!attributes.isRegularFile()) {
            throw new InvalidConfigurationException(name, "is not a regular file ("
                + (attributes.isDirectory() ? "a directory" : "a FIFO, socket or device") + "); not read", null);
        }
        if (attributes.size() > MAX_BYTES) {
            throw new InvalidConfigurationException(name, "is " + attributes.size() + " bytes, larger than the "
                + MAX_BYTES + " bytes a policy file may have; not read", null);
        }
        try (InputStream in = Files.newInputStream(path)) {
            byte[] content = in.readNBytes((int) MAX_BYTES + 1);
            if (content.length > MAX_BYTES) {
                throw new InvalidConfigurationException(name, "grew beyond " + MAX_BYTES + " bytes while being read; not read", null);
            }
            return Optional.of(content);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            if (e instanceof InvalidConfigurationException) {
                throw (InvalidConfigurationException) e;
            }
            throw new InvalidConfigurationException(name, "cannot be read: " + ConfigErrors.describe(e), e);
        }
    }

    /**
     * Parses policy file content into a configuration, as James's FileConfigurationProvider does (no list
     * delimiters), but with an XML parser that refuses any DTD: no {@code <!DOCTYPE>}, no entity, no external
     * resource (XXE).
     *
     * @throws InvalidConfigurationException naming {@code fileName} when the content is not acceptable XML
     */
    public static XMLConfiguration parseXml(byte[] content, String fileName) {
        try {
            FileBasedConfigurationBuilder<XMLConfiguration> builder = new FileBasedConfigurationBuilder<>(XMLConfiguration.class)
                .configure(new Parameters().xml()
                    .setListDelimiterHandler(new DisabledListDelimiterHandler())
                    .setDocumentBuilder(hardenedDocumentBuilder()));
            XMLConfiguration config = builder.getConfiguration();
            new FileHandler(config).load(new ByteArrayInputStream(content));
            return config;
        } catch (ConfigurationException | ParserConfigurationException | RuntimeException e) {
            String why = ConfigErrors.describe(e);
            String lower = why.toLowerCase(Locale.ROOT);
            // A truncated file gets "XML document structures must start and end within the same entity": no DTD.
            boolean dtd = why.contains("DOCTYPE") || why.contains("DTD")
                || lower.contains("entity") && !lower.contains("within the same entity");
            throw new InvalidConfigurationException(fileName, "cannot be read as XML"
                + (dtd ? " (a DOCTYPE, DTD or entity is refused)" : "") + ": " + why, ConfigErrors.cause(e));
        } catch (StackOverflowError e) {
            // Elements nested thousands deep (well under the size limit) exhaust the parser's stack.
            throw new InvalidConfigurationException(fileName, "cannot be read as XML: elements nested too deeply", e);
        }
    }

    /** Reads and parses the policy file; empty when there is none. */
    public static Optional<RelayGuardSettings> read(Path path, String fileName) {
        return readBytes(path).map(content -> parse(parseXml(content, fileName), fileName));
    }

    private static DocumentBuilder hardenedDocumentBuilder() throws ParserConfigurationException {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        factory.setFeature("http://xml.org/sax/features/external-general-entities", false);
        factory.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
        factory.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        factory.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        factory.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
        factory.setXIncludeAware(false);
        factory.setExpandEntityReferences(false);
        factory.setValidating(false);
        DocumentBuilder builder = factory.newDocumentBuilder();
        builder.setEntityResolver((publicId, systemId) -> {
            throw new org.xml.sax.SAXException("external entity " + systemId + " refused");
        });
        builder.setErrorHandler(new org.xml.sax.ErrorHandler() {
            @Override
            public void warning(org.xml.sax.SAXParseException e) {
                // not an error
            }

            @Override
            public void error(org.xml.sax.SAXParseException e) throws org.xml.sax.SAXException {
                throw e;
            }

            @Override
            public void fatalError(org.xml.sax.SAXParseException e) throws org.xml.sax.SAXException {
                throw e;
            }
        });
        return builder;
    }

    private static Set<String> knownKeys() {
        Set<String> keys = new TreeSet<>(List.of(
            TRUSTED_NETWORK, "trustedNetworks", RELAY_DOMAIN, "relayDomains", LOCAL_IP_LITERAL, "localIpLiterals",
            "rules", SENDER_OWNERSHIP, "sessionLimits", MAX_REFUSED_RECIPIENTS, TARPIT_AFTER, TARPIT_DELAY,
            "probeBans", BAN_REFUSALS, BAN_WINDOW, BAN_FOR, BAN_MAX_TRACKED, "probeBans.exempt", BAN_EXEMPT, "pipeline", SENT_BY_MAILET,
            "authLimits", AUTH_MAX_PER_CONNECTION, "authLimits.clientBan", AUTH_BAN_FAILURES, AUTH_BAN_WITHIN, AUTH_BAN_FOR,
            "authLimits.accountThrottle", AUTH_THROTTLE_FAILURES, AUTH_THROTTLE_WITHIN, AUTH_THROTTLE_FOR,
            "authLimits.knownClients", AUTH_KNOWN_PER_ACCOUNT, AUTH_KNOWN_REMEMBER_FOR,
            "authLimits.successAfterFailures", AUTH_SUSPICIOUS_FAILURES, AUTH_SUSPICIOUS_SUSPEND_FOR,
            AUTH_MAX_TRACKED_CLIENTS, AUTH_MAX_TRACKED_ACCOUNTS));
        for (Rule rule : Rule.values()) {
            keys.add("rules." + rule.configKey());
        }
        return keys;
    }

    /**
     * Reads a parsed policy file into settings.
     *
     * @throws InvalidConfigurationException naming {@code fileName}, the key and the value of the first problem
     */
    @SuppressWarnings("unchecked")
    public static RelayGuardSettings parse(HierarchicalConfiguration<?> config, String fileName) {
        rejectUnknownKeys(config, fileName);
        ConfigValues values = ConfigValues.of(fileName, config);
        RelayPolicy policy = RelayPolicy.of(trustedNetworks(config, fileName), relayDomains(config, fileName),
            localIpLiterals(config, fileName), ruleModes(values),
            values.choice(SENDER_OWNERSHIP, SenderOwnershipMode.class, SenderOwnershipMode.STRICT));
        int tarpitAfter = values.intCount(TARPIT_AFTER, 0);
        if (tarpitAfter > 0) { // removed: a delayed answer held one of James's SMTP handler threads (see SessionLimits)
            throw values.invalid(TARPIT_AFTER, String.valueOf(tarpitAfter),
                "the tarpit was removed (a delayed reply stalled James's SMTP threads); set 0 or remove the key:"
                    + " maxRefusedRecipients still closes the connection with 421 4.7.0");
        }
        values.duration(TARPIT_DELAY, Duration.ofSeconds(1), MAX_TARPIT); // obsolete, still checked
        SessionLimits sessionLimits = new SessionLimits(
            values.intCount(MAX_REFUSED_RECIPIENTS, SessionLimits.DEFAULT.maxRefusedRecipients()));
        ProbeBans.Settings defaults = ProbeBans.Settings.DEFAULT;
        int maxTracked = values.intCount(BAN_MAX_TRACKED, defaults.maxTrackedIps(), 1);
        ProbeBans.Settings bans = new ProbeBans.Settings(values.intCount(BAN_REFUSALS, defaults.refusals()),
            values.positiveDuration(BAN_WINDOW, defaults.window()), values.duration(BAN_FOR, defaults.banFor(), null),
            maxTracked, maxTracked, networks(config, fileName, BAN_EXEMPT));
        RateLimitSettings rateLimits = new RateLimitsSection((HierarchicalConfiguration<ImmutableNode>) config, fileName).parse();
        SentByMailetPolicy sentByMailet = values.choice(SENT_BY_MAILET, SentByMailetPolicy.class, SentByMailetPolicy.ALLOW);
        return new RelayGuardSettings(policy, sessionLimits, bans, rateLimits, sentByMailet, authLimits(values));
    }

    private static AuthLimits authLimits(ConfigValues values) {
        AuthLimits defaults = AuthLimits.DEFAULT;
        AuthLimits.Rule ban = defaults.clientBan();
        AuthLimits.Rule throttle = defaults.accountThrottle();
        AuthLimits limits = new AuthLimits(
            values.intCount(AUTH_MAX_PER_CONNECTION, defaults.maxFailuresPerConnection()),
            new AuthLimits.Rule(values.intCount(AUTH_BAN_FAILURES, ban.failures()),
                values.positiveDuration(AUTH_BAN_WITHIN, ban.within()), values.duration(AUTH_BAN_FOR, ban.blockFor(), null)),
            new AuthLimits.Rule(values.intCount(AUTH_THROTTLE_FAILURES, throttle.failures()),
                values.positiveDuration(AUTH_THROTTLE_WITHIN, throttle.within()),
                values.duration(AUTH_THROTTLE_FOR, throttle.blockFor(), null)),
            values.intCount(AUTH_KNOWN_PER_ACCOUNT, defaults.knownClientsPerAccount(), 1),
            values.positiveDuration(AUTH_KNOWN_REMEMBER_FOR, defaults.rememberKnownClientsFor()),
            values.intCount(AUTH_SUSPICIOUS_FAILURES, defaults.successAfterFailures()),
            values.duration(AUTH_SUSPICIOUS_SUSPEND_FOR, defaults.suspendAfterSuspiciousSuccess(), null),
            values.intCount(AUTH_MAX_TRACKED_CLIENTS, defaults.maxTrackedClients(), 1),
            values.intCount(AUTH_MAX_TRACKED_ACCOUNTS, defaults.maxTrackedAccounts(), 1));
        int throttleAt = limits.accountThrottle().failures();
        if (limits.successAfterFailures() > 0 && throttleAt > 0 && limits.successAfterFailures() >= throttleAt) {
            throw values.invalid(AUTH_SUSPICIOUS_FAILURES, String.valueOf(limits.successAfterFailures()),
                "must be below " + AUTH_THROTTLE_FAILURES + " (" + throttleAt + "): from that many failures on, a client the"
                    + " account does not know is throttled before its password is checked, so such a login could not happen");
        }
        return limits;
    }

    private static void rejectUnknownKeys(HierarchicalConfiguration<?> config, String fileName) {
        for (Iterator<String> keys = config.getKeys(); keys.hasNext(); ) {
            String key = keys.next();
            if (!KNOWN_KEYS.contains(key) && !RateLimitsSection.KEYS.matcher(key).matches()) {
                throw new InvalidConfigurationException(fileName, key, String.valueOf(config.getProperty(key)),
                    "unknown key (known: " + String.join(", ", KNOWN_KEYS) + ", rateLimits.*)");
            }
            List<Object> given = config.getList(Object.class, key, List.of());
            if (given.size() > 1 && !LIST_KEYS.contains(key) && !RateLimitsSection.LIST_KEYS.matcher(key).matches()) {
                throw new InvalidConfigurationException(fileName, key, given.toString(),
                    "given " + given.size() + " times; a setting takes one value (keep one element)");
            }
        }
    }

    private static TrustedNetworks trustedNetworks(HierarchicalConfiguration<?> config, String fileName) {
        return networks(config, fileName, TRUSTED_NETWORK);
    }

    /** The {@code <network>} elements at {@code key}: IPv4/IPv6 addresses or CIDRs. */
    private static TrustedNetworks networks(HierarchicalConfiguration<?> config, String fileName, String key) {
        List<IpNetwork> networks = new ArrayList<>();
        for (String value : config.getList(String.class, key, List.of())) {
            try {
                networks.add(IpNetwork.parse(value));
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigurationException(fileName, key, value, e.getMessage());
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

    private static RuleModes ruleModes(ConfigValues values) {
        Map<Rule, Mode> modes = new EnumMap<>(Rule.class);
        for (Rule rule : Rule.values()) {
            modes.put(rule, values.value("rules." + rule.configKey(), text -> rule.checkMode(Mode.parse(text)), rule.defaultMode()));
        }
        return RuleModes.of(modes);
    }
}
