package dev.relayguard.mailet;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

import org.apache.mailet.AttributeName;
import org.apache.mailet.AttributeUtils;
import org.apache.mailet.Mail;

import dev.relayguard.core.Client;
import dev.relayguard.core.IpNetwork;
import dev.relayguard.core.ListenerRole;
import dev.relayguard.observe.RefusalContext;

/**
 * What the pipeline knows about who sent a mail, as the decision core wants it. It trusts only facts that
 * RelayGuard can check itself: the authenticated user recorded by James (SMTP AUTH, JMAP) and the client
 * address; never James's {@code SMTPIsAuthNetwork} flag, which a too-wide {@code authorizedAddresses} sets
 * for everyone when RelayGuard's SMTP handler is missing.
 */
final class MailFacts {
    /** The user JMAP (RFC 8621) records on the mails it submits. */
    static final AttributeName JMAP_USER = AttributeName.of("org.apache.james.jmap.send.MailMetaData.username");

    private MailFacts() {
    }

    static Optional<String> authenticatedUser(Mail mail) {
        return AttributeUtils.getValueAndCastFromMail(mail, Mail.SMTP_AUTH_USER, String.class)
            .or(() -> AttributeUtils.getValueAndCastFromMail(mail, JMAP_USER, String.class));
    }

    static boolean sentByMailet(Mail mail) {
        return mail.getAttribute(Mail.SENT_BY_MAILET_ATTRIBUTE.getName()).isPresent();
    }

    /** The mail's remote address, parsed as an IP literal only (never a DNS lookup); null when absent or odd. */
    static InetAddress remoteAddress(Mail mail) {
        String remote = mail.getRemoteAddr();
        if (remote == null || remote.isBlank()) {
            return null;
        }
        try {
            return InetAddress.getByAddress(IpNetwork.parseAddressLiteral(remote.trim()));
        } catch (IllegalArgumentException | UnknownHostException e) {
            return null;
        }
    }

    static Client client(Mail mail) {
        return Client.of(remoteAddress(mail), authenticatedUser(mail).orElse(null), false, ListenerRole.MX);
    }

    static RefusalContext.Builder context(Mail mail) {
        InetAddress address = remoteAddress(mail);
        return RefusalContext.pipeline()
            .sessionId(mail.getName())
            .clientIp(address == null ? mail.getRemoteAddr() : address.getHostAddress())
            .authUser(authenticatedUser(mail).orElse(null))
            .sender(mail.getMaybeSender().asString());
    }
}
