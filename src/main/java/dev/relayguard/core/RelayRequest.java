package dev.relayguard.core;

import java.net.InetAddress;
import java.util.Optional;

/**
 * The facts one relay decision needs about one recipient: who the client is and where the mail goes.
 * Built by the SMTP hook from the session, by matchers from the mail.
 */
public final class RelayRequest {
    private final Client client;
    private final String recipientDomain;

    private RelayRequest(Client client, String recipientDomain) {
        this.client = client;
        this.recipientDomain = DomainName.canonical(recipientDomain);
    }

    /**
     * @param clientAddress     the connecting client (after PROXY protocol), or null when unknown
     * @param authenticatedUser the SMTP AUTH identity, or null when the session did not authenticate
     * @param recipientDomain   the recipient's domain, any case, with or without a trailing dot
     */
    public static RelayRequest of(InetAddress clientAddress, String authenticatedUser, String recipientDomain) {
        return new RelayRequest(Client.of(clientAddress, authenticatedUser), recipientDomain);
    }

    public static RelayRequest of(Client client, String recipientDomain) {
        return new RelayRequest(client, recipientDomain);
    }

    public Client client() {
        return client;
    }

    public Optional<InetAddress> clientAddress() {
        return client.address();
    }

    public Optional<String> authenticatedUser() {
        return client.authenticatedUser();
    }

    public String recipientDomain() {
        return recipientDomain;
    }
}
