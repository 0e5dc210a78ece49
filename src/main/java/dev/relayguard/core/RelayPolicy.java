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
     * What James's own parsing hides, read from the command as James cuts it ({@link SmtpArgument}): a source
     * route (James then fails to parse the path) and a path James will complete with its default domain.
     * <ul>
     *   <li>source route, MAIL or RCPT: {@code 550 5.7.1 Routing syntax not accepted: source route};</li>
     *   <li>RCPT without a domain from a client that may not relay ({@code postmaster} excepted, RFC 5321
     *       §4.5.1): {@code 550 5.7.1 Unqualified address not accepted};</li>
     *   <li>MAIL without a domain from a stranger on an MX listener: {@code 553 5.1.7} (RFC 5321 §2.3.5: fully
     *       qualified domains only between servers). On submission, and for authenticated or trusted clients,
     *       James completes it (RFC 6409 §8) and the completed address is judged by {@link #decideSender}.</li>
     * </ul>
     * Every other rule judges the address James recorded ({@link SmtpPath#ofAddress}, {@link #checkPath}).
     */
    public Verdict checkArgument(SmtpArgument argument, boolean recipient, Client client) {
        if (argument.hasSourceRoute()) {
            return modes.apply(Verdict.of(Reason.ROUTING_SOURCE_ROUTE, routingText(SmtpPath.Trick.SOURCE_ROUTE)));
        }
        if (argument.completedByServer() && !clientMayRelay(client)) {
            // Refused before James completes it; a routing trick in it is named first (percent hack, bang path).
            Verdict tricks = checkPath(SmtpPath.parse(argument.path()), recipient, client);
            if (recipient || !tricks.passes()) {
                return tricks; // for RCPT it already weighs the unqualified rule (postmaster excepted)
            }
            if (client.role() == ListenerRole.MX) {
                return modes.apply(Verdict.of(Reason.SENDER_UNQUALIFIED,
                    "Sender address must be fully qualified (RFC 5321 section 2.3.5): write user@domain"));
            }
        }
        return Verdict.allow(Reason.ADDRESS_OK);
    }

    /** The longest address SMTP guarantees to carry: a 256-octet path less its two brackets (RFC 5321 §4.5.3.1.3). */
    public static final int MAX_ADDRESS_LENGTH = 254;

    /**
     * An address (as James recorded it) longer than {@link #MAX_ADDRESS_LENGTH}: {@code 553 5.1.3} (RCPT) or
     * {@code 553 5.1.7} (MAIL), never softened by a mode: accepting it would only lose it later (James's user names
     * stop at 255 characters). Local parts over 64 octets (VERP, SRS) are accepted: RFC 5321 only requires 64.
     */
    public Verdict checkAddressLength(String address, boolean recipient) {
        if (address == null || address.length() <= MAX_ADDRESS_LENGTH) {
            return Verdict.allow(Reason.ADDRESS_OK);
        }
        String text = (recipient ? "Recipient" : "Sender") + " address too long: " + address.length()
            + " characters, at most " + MAX_ADDRESS_LENGTH + " (RFC 5321 section 4.5.3.1.3)";
        return recipient ? Verdict.of(Reason.ADDRESS_TOO_LONG, text)
            : Verdict.refuse(Reason.ADDRESS_TOO_LONG, "553", "5.1.7", text);
    }

    /**
     * Routing syntax in a path James cannot parse (its reply would be a plain syntax error, {@code 501}/{@code 553},
     * counted nowhere): {@code user@remote@local}, {@code "user@remote"} without domain... Read here as written,
     * so such probes are refused and counted like any other routing trick (and count towards a probe ban).
     * Allowed when the path carries no trick: James answers its syntax error.
     */
    public Verdict checkUnparseablePath(SmtpArgument argument, boolean recipient, Client client) {
        if (argument.path().indexOf('<') >= 0 || argument.path().indexOf('>') >= 0) {
            // Parameters James's cut left in the path (RCPT is cut at the last '>': ORCPT=rfc822;<x@y>): a syntax
            // error James answers itself, not a routing trick, and nothing to count towards a ban.
            return Verdict.allow(Reason.ADDRESS_OK);
        }
        return checkPath(SmtpPath.parse(argument.path()), recipient, client);
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
            Verdict verdict = modes.apply(Verdict.of(trick.reason(), routingText(trick)));
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

    private static String routingText(SmtpPath.Trick trick) {
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
                return ownsAddress(client.authenticatedUser().get(), sender, localDomains, ownership)
                    ? Verdict.allow(Reason.SENDER_OK)
                    : modes.apply(Verdict.of(Reason.SENDER_NOT_OWNED, "Sender address not owned by authenticated user"));
            }
            if (client.role() == ListenerRole.MX && !modes.isOff(Rule.LOCAL_SENDER_SPOOF)
                    && !clientMayRelay(client) && (isLocalIpLiteral(senderDomain) || localDomains.isLocal(senderDomain))) {
                return modes.apply(Verdict.of(Reason.SENDER_LOCAL_SPOOF,
                    "Sender address in a local domain requires authentication (use the submission port)"));
            }
        } catch (LocalDomains.LookupFailedException e) {
            return Verdict.of(Reason.SENDER_LOOKUP_FAILED, "Temporary failure checking the sender address, try again later");
        }
        return Verdict.allow(Reason.SENDER_OK);
    }

    /**
     * The one ownership rule, for MAIL FROM and for the From:/Sender: headers: under {@code strict} the user's
     * own address or an alias James's RecipientRewriteTable maps to it (a group alias does not make a sender);
     * under {@code known-only} the same for addresses in local domains, anything elsewhere; {@code off} anything.
     * Compared in canonical form ({@link Mailboxes#canonical}: case, IDN, needless quotes), and asked of the
     * ownership lookup both as written and canonical, so no spelling of one mailbox is another's.
     */
    private boolean ownsAddress(String user, String address, LocalDomains localDomains, SenderOwnership ownership)
            throws LocalDomains.LookupFailedException {
        if (senderOwnership == SenderOwnershipMode.OFF || modes.isOff(Rule.SENDER_OWNERSHIP)) {
            return true;
        }
        String canonical = Mailboxes.canonical(address);
        String domain = canonical.substring(canonical.lastIndexOf('@') + 1);
        if (senderOwnership == SenderOwnershipMode.KNOWN_ONLY && !isLocalIpLiteral(domain) && !localDomains.isLocal(domain)) {
            return true;
        }
        if (canonical.equals(Mailboxes.canonical(user))) {
            return true;
        }
        return ownership.owns(user, address) || (!canonical.equals(address) && ownership.owns(user, canonical));
    }

    /**
     * The author of an authenticated user's message (end of DATA): the one {@code From:} header, and the
     * {@code Sender:} header when there is one, must carry only addresses the user owns (the rule of
     * {@link #decideSender}). Refused ({@code 550 5.7.1}, or as rule {@code headerFrom}'s mode has it) when an
     * address is not owned ({@code sender.header-not-owned}), or when the author cannot be checked
     * ({@code sender.header-invalid}): no From:, several From: or Sender: headers (RFC 5322 §3.6 allows one),
     * a From: that is not a list of mailboxes (a group, a syntax error), a Sender: that is not one mailbox.
     * Not judged: unauthenticated mail (DMARC's job), and everything when the headerFrom rule or sender
     * ownership is off.
     */
    public Verdict decideAuthorHeaders(Client client, AuthorHeaders headers, LocalDomains localDomains,
                                       SenderOwnership ownership) {
        if (client.authenticatedUser().isEmpty() || modes.isOff(Rule.HEADER_FROM)
                || senderOwnership == SenderOwnershipMode.OFF || modes.isOff(Rule.SENDER_OWNERSHIP)) {
            return Verdict.allow(Reason.SENDER_OK);
        }
        String user = client.authenticatedUser().get();
        if (headers.from().isEmpty()) {
            return headerInvalid("Message has no From: header (RFC 5322 section 3.6 requires one)");
        }
        if (headers.from().size() > 1) {
            return headerInvalid("Message has " + headers.from().size() + " From: headers (RFC 5322 section 3.6 allows one)");
        }
        if (headers.sender().size() > 1) {
            return headerInvalid("Message has " + headers.sender().size() + " Sender: headers (RFC 5322 section 3.6 allows one)");
        }
        AuthorHeaders.Field from = headers.from().get(0);
        if (from.problem().isPresent()) {
            return headerInvalid("From: header is not a list of mailboxes: " + from.problem().get());
        }
        if (from.mailboxes().isEmpty()) {
            return headerInvalid("From: header has no address");
        }
        List<String> senderMailboxes = List.of();
        if (!headers.sender().isEmpty()) {
            AuthorHeaders.Field sender = headers.sender().get(0);
            if (sender.problem().isPresent()) {
                return headerInvalid("Sender: header is not a mailbox: " + sender.problem().get());
            }
            if (sender.mailboxes().size() != 1) {
                return headerInvalid("Sender: header must be exactly one mailbox");
            }
            senderMailboxes = sender.mailboxes();
        }
        try {
            for (String address : from.mailboxes()) {
                if (!ownsAddress(user, address, localDomains, ownership)) {
                    return modes.apply(Verdict.of(Reason.SENDER_HEADER_NOT_OWNED,
                        "From: header address not owned by authenticated user"));
                }
            }
            for (String address : senderMailboxes) {
                if (!ownsAddress(user, address, localDomains, ownership)) {
                    return modes.apply(Verdict.of(Reason.SENDER_HEADER_NOT_OWNED,
                        "Sender: header address not owned by authenticated user"));
                }
            }
        } catch (LocalDomains.LookupFailedException e) {
            return Verdict.of(Reason.SENDER_LOOKUP_FAILED, "Temporary failure checking the From: header, try again later");
        }
        return Verdict.allow(Reason.SENDER_OK);
    }

    private Verdict headerInvalid(String text) {
        return modes.apply(Verdict.of(Reason.SENDER_HEADER_INVALID, text));
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

    /** The local IP literals, as addresses ({@code 192.0.2.1}, {@code 2001:db8:0:0:0:0:0:1}), in configured order. */
    public List<String> localIpLiterals() {
        List<String> literals = new ArrayList<>();
        for (byte[] literal : localIpLiterals) {
            literals.add(IpNetwork.of(literal, literal.length * 8).toString().replaceFirst("/\\d+$", ""));
        }
        return literals;
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
