package dev.relayguard.core;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Who may relay where, and which addresses are acceptable at all. The one place these rules are written;
 * SMTP hooks and pipeline matchers ask it. Immutable; every verdict already carries its rule's {@link Mode}.
 *
 * <ul>
 *   <li>{@link #decide}: a recipient is accepted when the client is authenticated, or comes from a trusted
 *       network, or the recipient's domain is local (James's DomainList, or a configured local IP literal) or
 *       a relay domain (backup MX). Otherwise {@code 550 5.7.1}. A failed local-domain lookup gives
 *       {@code 451 4.3.0}: never a relay, never a permanent refusal of mail we may well serve.</li>
 *   <li>{@link #checkPath}: routing syntax in MAIL or RCPT (source routes, {@code %}, {@code !}, {@code @} in
 *       the local part, IP literals, unqualified recipients from strangers) is refused {@code 550 5.7.1},
 *       whatever the domain, local ones included.</li>
 *   <li>{@link #decideSender}: submission needs AUTH ({@code 530 5.7.0}); an authenticated user may only use
 *       sender addresses it owns ({@code 553 5.7.1}); on the MX role a stranger may not use a local sender.</li>
 * </ul>
 */
public final class RelayPolicy {
    private final TrustedNetworks trustedNetworks;
    private final Set<String> relayDomains;
    private final List<byte[]> localIpLiterals;
    private final RuleModes modes;
    private final SenderOwnershipMode senderOwnership;

    private RelayPolicy(TrustedNetworks trustedNetworks, Set<String> relayDomains, List<byte[]> localIpLiterals,
                        RuleModes modes, SenderOwnershipMode senderOwnership) {
        this.trustedNetworks = trustedNetworks;
        this.relayDomains = Set.copyOf(relayDomains.stream().map(DomainName::canonical).collect(Collectors.toSet()));
        this.localIpLiterals = List.copyOf(localIpLiterals);
        this.modes = modes;
        this.senderOwnership = senderOwnership;
    }

    public static RelayPolicy of(TrustedNetworks trustedNetworks, Set<String> relayDomains) {
        return new RelayPolicy(trustedNetworks, relayDomains, List.of(), RuleModes.defaults(), SenderOwnershipMode.STRICT);
    }

    /**
     * @param localIpLiterals IP addresses that, written as a domain literal ({@code user@[192.0.2.1]}), mean
     *                        this server: accepted as local instead of refused as routing syntax
     */
    public static RelayPolicy of(TrustedNetworks trustedNetworks, Set<String> relayDomains, List<String> localIpLiterals,
                                 RuleModes modes, SenderOwnershipMode senderOwnership) {
        List<byte[]> literals = new ArrayList<>();
        for (String literal : localIpLiterals) {
            literals.add(literalBytes(literal));
        }
        return new RelayPolicy(trustedNetworks, relayDomains, literals, modes, senderOwnership);
    }

    /** The safe default: nobody trusted, no relay domains, every rule rejecting, strict sender ownership. */
    public static RelayPolicy closed() {
        return of(TrustedNetworks.none(), Set.of());
    }

    /** True when this client may send anywhere: it authenticated, or it connects from a trusted network. */
    public boolean clientMayRelay(InetAddress client, String authenticatedUser) {
        return authenticatedUser != null || trustedNetworks.contains(client);
    }

    public boolean clientMayRelay(Client client) {
        return clientMayRelay(client.address().orElse(null), client.authenticatedUser().orElse(null));
    }

    public Verdict decide(RelayRequest request, LocalDomains localDomains) {
        if (request.authenticatedUser().isPresent()) {
            return Verdict.allow(Reason.AUTHENTICATED);
        }
        if (request.clientAddress().map(trustedNetworks::contains).orElse(false)) {
            return Verdict.allow(Reason.TRUSTED_NETWORK);
        }
        String domain = request.recipientDomain();
        if (relayDomains.contains(domain)) {
            return Verdict.allow(Reason.RELAY_DOMAIN);
        }
        if (isLocalIpLiteral(domain)) {
            return Verdict.allow(Reason.LOCAL_DOMAIN);
        }
        try {
            if (localDomains.isLocal(domain)) {
                return Verdict.allow(Reason.LOCAL_DOMAIN);
            }
        } catch (LocalDomains.LookupFailedException e) {
            return Verdict.of(Reason.LOCAL_DOMAIN_LOOKUP_FAILED,
                "Temporary failure checking whether " + domain + " is served here, try again later");
        }
        if (request.client().plaintextAuthIgnored()) {
            return modes.apply(Verdict.of(Reason.RELAY_PLAINTEXT_AUTH,
                "Relaying denied: authenticate over TLS (STARTTLS) to send to " + domain));
        }
        return modes.apply(Verdict.of(Reason.RELAY_UNAUTHENTICATED,
            "Relaying denied: " + domain + " is not served here and you are not authenticated"));
    }

    /**
     * Routing syntax in a path as the client wrote it. The strictest finding wins: reject beats defer beats
     * monitor. Rules that are off are skipped.
     *
     * @param recipient true for RCPT (unqualified addresses are only refused there, and only from strangers)
     */
    public Verdict checkPath(SmtpPath path, boolean recipient, Client client) {
        Verdict deferred = null;
        Verdict monitored = null;
        for (SmtpPath.Trick trick : path.tricks()) {
            if (trick == SmtpPath.Trick.UNQUALIFIED && (!recipient || clientMayRelay(client))) {
                continue;
            }
            if (trick == SmtpPath.Trick.IP_LITERAL && isLocalIpLiteral("[" + path.ipLiteral() + "]")) {
                continue;
            }
            Verdict verdict = modes.apply(Verdict.of(trick.reason(), routingText(trick, path)));
            if (verdict.outcome() == Outcome.REFUSED) {
                return verdict;
            }
            if (verdict.outcome() == Outcome.DEFERRED && deferred == null) {
                deferred = verdict;
            }
            if (verdict.outcome() == Outcome.MONITORED && monitored == null) {
                monitored = verdict;
            }
        }
        if (deferred != null) {
            return deferred;
        }
        return monitored != null ? monitored : Verdict.allow(Reason.ADDRESS_OK);
    }

    private static String routingText(SmtpPath.Trick trick, SmtpPath path) {
        if (trick == SmtpPath.Trick.UNQUALIFIED) {
            return "Unqualified address not accepted: write user@domain";
        }
        return "Routing syntax not accepted: " + trick.description();
    }

    /**
     * The MAIL FROM decision for this client (routing syntax in the sender is {@link #checkPath}'s job).
     *
     * @param sender the sender address as {@code local@domain}, or null for the null sender {@code <>}
     */
    public Verdict decideSender(Client client, String sender, LocalDomains localDomains, SenderOwnership ownership) {
        if (client.role() == ListenerRole.SUBMISSION && client.authenticatedUser().isEmpty()) {
            Verdict verdict = modes.apply(Verdict.of(Reason.SUBMISSION_AUTH_REQUIRED,
                client.plaintextAuthIgnored() ? "Authentication required over TLS (STARTTLS first)" : "Authentication required"));
            if (!verdict.passes()) {
                return verdict;
            }
            if (verdict.outcome() == Outcome.MONITORED) {
                Verdict senderVerdict = decideSenderAddress(client, sender, localDomains, ownership);
                return senderVerdict.passes() ? verdict : senderVerdict;
            }
        }
        return decideSenderAddress(client, sender, localDomains, ownership);
    }

    private Verdict decideSenderAddress(Client client, String sender, LocalDomains localDomains, SenderOwnership ownership) {
        if (sender == null) {
            return Verdict.allow(Reason.SENDER_OK);
        }
        String senderDomain = DomainName.canonical(sender.substring(sender.lastIndexOf('@') + 1));
        try {
            if (client.authenticatedUser().isPresent()) {
                return checkOwnership(client.authenticatedUser().get(), sender, senderDomain, localDomains, ownership);
            }
            if (client.role() == ListenerRole.MX && !modes.isOff(Rule.LOCAL_SENDER_SPOOF)
                    && !clientMayRelay(client) && localDomains.isLocal(senderDomain)) {
                return modes.apply(Verdict.of(Reason.SENDER_LOCAL_SPOOF,
                    "Sender address in a local domain requires authentication (use the submission port)"));
            }
        } catch (LocalDomains.LookupFailedException e) {
            return Verdict.of(Reason.SENDER_LOOKUP_FAILED, "Temporary failure checking the sender address, try again later");
        }
        return Verdict.allow(Reason.SENDER_OK);
    }

    private Verdict checkOwnership(String user, String sender, String senderDomain, LocalDomains localDomains,
                                   SenderOwnership ownership) throws LocalDomains.LookupFailedException {
        if (senderOwnership == SenderOwnershipMode.OFF || modes.isOff(Rule.SENDER_OWNERSHIP)) {
            return Verdict.allow(Reason.SENDER_OK);
        }
        if (senderOwnership == SenderOwnershipMode.KNOWN_ONLY && !localDomains.isLocal(senderDomain)) {
            return Verdict.allow(Reason.SENDER_OK);
        }
        if (sender.equalsIgnoreCase(user) || ownership.owns(user, sender)) {
            return Verdict.allow(Reason.SENDER_OK);
        }
        return modes.apply(Verdict.of(Reason.SENDER_NOT_OWNED, "Sender address not owned by authenticated user"));
    }

    /** True when {@code domain} is an IP literal ({@code [192.0.2.1]}, {@code [IPv6:2001:db8::1]}) configured as local. */
    public boolean isLocalIpLiteral(String domain) {
        if (localIpLiterals.isEmpty()) {
            return false;
        }
        // As written in RCPT ([192.0.2.1]), or as James's MailAddress gives it back (192.0.2.1, brackets dropped).
        String literal = domain.startsWith("[") && domain.endsWith("]") ? domain.substring(1, domain.length() - 1) : domain;
        byte[] bytes;
        try {
            bytes = literalBytes(literal);
        } catch (IllegalArgumentException e) {
            return false;
        }
        return localIpLiterals.stream().anyMatch(local -> Arrays.equals(local, bytes));
    }

    /** Bytes of an IP literal as written inside brackets: {@code 192.0.2.1} or {@code IPv6:2001:db8::1}. */
    static byte[] literalBytes(String literal) {
        String text = literal.trim();
        if (text.toLowerCase(Locale.ROOT).startsWith("ipv6:")) {
            text = text.substring(5);
        }
        byte[] bytes = IpNetwork.parseAddressLiteral(text);
        return IpNetwork.of(bytes, bytes.length * 8).isIpv4() && bytes.length == 16 ? Arrays.copyOfRange(bytes, 12, 16) : bytes;
    }

    public boolean isRelayDomain(String domain) {
        return relayDomains.contains(DomainName.canonical(domain));
    }

    public TrustedNetworks trustedNetworks() {
        return trustedNetworks;
    }

    public Set<String> relayDomains() {
        return relayDomains;
    }

    public RuleModes modes() {
        return modes;
    }

    public SenderOwnershipMode senderOwnership() {
        return senderOwnership;
    }

    @Override
    public String toString() {
        return "trustedNetworks=" + trustedNetworks + " relayDomains=" + new TreeSet<>(relayDomains)
            + " localIpLiterals=" + localIpLiterals.size() + " rules=" + modes + " senderOwnership=" + senderOwnership.configName();
    }
}
