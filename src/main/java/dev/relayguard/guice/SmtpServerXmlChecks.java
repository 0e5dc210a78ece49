package dev.relayguard.guice;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import org.apache.commons.configuration2.HierarchicalConfiguration;
import org.apache.commons.configuration2.ex.ConfigurationException;
import org.apache.commons.configuration2.tree.ImmutableNode;
import org.apache.james.server.core.configuration.ConfigurationProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.config.ConfigErrors;
import dev.relayguard.config.PolicyFile;
import dev.relayguard.core.AuthorizedAddressesAudit;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.core.Mode;
import dev.relayguard.core.RelayPolicy;
import dev.relayguard.core.Rule;
import dev.relayguard.core.TrustedNetworks;

/**
 * Startup WARNs about James's {@code conf/smtpserver.xml} settings that work against relayguard.xml, read once when
 * RelayGuard starts; they never stop James. Each enabled listener ({@code enabled="false"} ones James does not
 * start are skipped) is checked for:
 * <ul>
 *   <li>{@code <authorizedAddresses>} trusting clients RelayGuard's {@code trustedNetworks} do not cover;</li>
 *   <li>a listener where RelayGuard's handler has {@code <role>submission</role>} (every transaction needs AUTH,
 *       RFC 6409 §4.3) while James does not offer AUTH in its EHLO reply (RFC 4954 §3) to some clients:
 *       {@code <auth><announce>forUnauthorizedAddresses</announce>} (or the older {@code <authRequired>true</authRequired>})
 *       with {@code <authorizedAddresses>}, or {@code never} (James 3.8.1's default when neither is set). Mail
 *       clients do not try AUTH that is not offered, so those clients cannot submit at all. An MX listener is not
 *       checked: there RelayGuard refuses relaying without AUTH ({@code 503}/{@code 550}) whatever James offers.</li>
 * </ul>
 */
final class SmtpServerXmlChecks {
    /** The module's logger, as before these checks had a class of their own: operators' filters and greps keep working. */
    private static final Logger LOGGER = LoggerFactory.getLogger(RelayGuardModule.class);
    static final String SMTP_HANDLER_CLASS = "dev.relayguard.smtp.RelayGuardHandler";
    static final String FILE = "smtpserver.xml";

    private SmtpServerXmlChecks() {
    }

    /** Reads smtpserver.xml once and runs every check; a file that cannot be read is one WARN naming it. */
    static void warnAboutConflicts(ConfigurationProvider configurationProvider, RelayPolicy policy) {
        enabledListeners(configurationProvider).ifPresent(listeners -> {
            warnAboutJamesTrustingMore(listeners, policy.trustedNetworks(), policy.modes().modeOf(Rule.RELAY));
            warnAboutAuthNotOffered(listeners, policy.modes().modeOf(Rule.SUBMISSION_AUTH));
        });
    }

    /** The {@code <smtpserver>} elements James starts; empty (after one WARN) when smtpserver.xml cannot be read. */
    static Optional<List<HierarchicalConfiguration<ImmutableNode>>> enabledListeners(ConfigurationProvider configurationProvider) {
        List<HierarchicalConfiguration<ImmutableNode>> servers;
        try {
            servers = configurationProvider.getConfiguration("smtpserver").configurationsAt("smtpserver");
        } catch (ConfigurationException | RuntimeException e) {
            LOGGER.warn("RelayGuard could not read {} to compare its listeners with {}: {}", FILE, PolicyFile.FILE_NAME,
                ConfigErrors.describe(e));
            return Optional.empty();
        }
        List<HierarchicalConfiguration<ImmutableNode>> enabled = new ArrayList<>();
        for (HierarchicalConfiguration<ImmutableNode> server : servers) {
            if (server.getBoolean("[@enabled]", true)) {
                enabled.add(server);
            }
        }
        return Optional.of(enabled);
    }

    /**
     * One WARN per listener whose {@code <authorizedAddresses>} trusts clients RelayGuard does not: RelayGuard refuses
     * their relaying where its handler runs (in relay monitor mode James lets them relay and RelayGuard counts them);
     * where it does not run, James alone decides.
     */
    static void warnAboutJamesTrustingMore(List<HierarchicalConfiguration<ImmutableNode>> listeners, TrustedNetworks trusted,
                                           Mode relayMode) {
        for (HierarchicalConfiguration<ImmutableNode> server : listeners) {
            List<AuthorizedAddressesAudit.Mismatch> mismatches =
                AuthorizedAddressesAudit.mismatches(server.getString("authorizedAddresses", ""), trusted);
            if (mismatches.isEmpty()) {
                continue;
            }
            boolean guarded = relayGuardRole(server).isPresent();
            LOGGER.warn("{} listener {}: authorizedAddresses trusts {} which RelayGuard's trustedNetworks {} in {} do not cover. {}",
                FILE, name(server), mismatches, trusted, PolicyFile.FILE_NAME,
                !guarded
                    ? "RelayGuard's handler is NOT in this listener's handlerchain: James alone lets those clients relay (open relay risk)."
                    : relayMode == Mode.MONITOR
                    ? "RelayGuard's relay rule is in monitor mode (<rules><relay>monitor</relay>): James lets those clients relay and"
                        + " RelayGuard only counts them (relayguard.monitored.relay.*); set <relay>reject</relay> to refuse them, or add"
                        + " them to trustedNetworks if they really may relay."
                    : "RelayGuard refuses relaying from those clients; add them to trustedNetworks if they really may relay.");
        }
    }

    /**
     * One WARN per submission listener (RelayGuard's handler with {@code <role>submission</role>}, rule
     * {@code submissionAuth} reject or defer) where James hides AUTH from some or all clients.
     */
    static void warnAboutAuthNotOffered(List<HierarchicalConfiguration<ImmutableNode>> listeners, Mode submissionAuth) {
        if (submissionAuth != Mode.REJECT && submissionAuth != Mode.DEFER) {
            return; // monitor/off: RelayGuard does not require AUTH there
        }
        for (HierarchicalConfiguration<ImmutableNode> server : listeners) {
            if (relayGuardRole(server).orElse(ListenerRole.MX) != ListenerRole.SUBMISSION) {
                continue;
            }
            String announce = server.getString("auth.announce", null);
            String authRequired = server.getString("authRequired", null);
            String setting = announce != null ? "<auth><announce>" + announce.trim() + "</announce>"
                : authRequired != null ? "<authRequired>" + authRequired.trim() + "</authRequired>"
                : "no <auth><announce> (James's default: never)";
            String authorized = server.getString("authorizedAddresses", "").trim();
            String mode = announceMode(announce, authRequired == null ? "false" : authRequired);
            String requires = "while RelayGuard's <role>submission</role> on this listener requires AUTH for every"
                + " transaction (rules.submissionAuth " + submissionAuth.configName() + " in " + PolicyFile.FILE_NAME + ")";
            if (mode.equals("forunauthorizedaddresses") && !authorized.isEmpty()) {
                LOGGER.warn("{} listener {}: {} with <authorizedAddresses>{}</authorizedAddresses> means James does not offer"
                        + " AUTH to clients in {} (no AUTH in its EHLO reply), {}: those clients (webmail on 127.0.0.1, say)"
                        + " cannot submit at all. Fix: set <auth><announce>always</announce></auth> on this listener, or remove"
                        + " its <authorizedAddresses>.",
                    FILE, name(server), setting, authorized, authorized, requires);
            } else if (mode.equals("never")) {
                LOGGER.warn("{} listener {}: {} means James offers AUTH to no client (no AUTH in its EHLO reply), {}:"
                        + " no client can submit. Fix: set <auth><announce>always</announce></auth> on this listener.",
                    FILE, name(server), setting, requires);
            }
        }
    }

    /** James 3.8.1's reading ({@code SMTPServer.AuthenticationAnnounceMode}), lower case; unknown words stop James anyway. */
    private static String announceMode(String announce, String authRequired) {
        if (announce != null) {
            return announce.trim().toLowerCase(Locale.US);
        }
        String legacy = authRequired.trim().toLowerCase(Locale.US);
        if (legacy.equals("true")) {
            return "forunauthorizedaddresses";
        }
        return legacy.equals("announce") ? "always" : "never";
    }

    /** The role of RelayGuard's handler in this listener's handlerchain; empty when the handler is not there. */
    private static Optional<ListenerRole> relayGuardRole(HierarchicalConfiguration<ImmutableNode> server) {
        for (HierarchicalConfiguration<ImmutableNode> handler : server.configurationsAt("handlerchain.handler")) {
            if (SMTP_HANDLER_CLASS.equals(handler.getString("[@class]", ""))) {
                try {
                    return Optional.of(ListenerRole.parse(handler.getString("role", ListenerRole.MX.configName())));
                } catch (IllegalArgumentException e) {
                    return Optional.of(ListenerRole.MX); // the handler itself stops James with the message
                }
            }
        }
        return Optional.empty();
    }

    private static String name(HierarchicalConfiguration<ImmutableNode> server) {
        return "'" + server.getString("jmxName", "?") + "' (" + server.getString("bind", "?") + ")";
    }
}
