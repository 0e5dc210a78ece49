package dev.relayguard.core;

import java.net.InetAddress;
import java.util.Optional;

/** Who is sending: the facts of an SMTP session (or of a mail in the pipeline) that decisions need. */
public final class Client {
    private final InetAddress address;
    private final String authenticatedUser;
    private final boolean plaintextAuthIgnored;
    private final ListenerRole role;

    private Client(InetAddress address, String authenticatedUser, boolean plaintextAuthIgnored, ListenerRole role) {
        this.address = address;
        this.authenticatedUser = authenticatedUser;
        this.plaintextAuthIgnored = plaintextAuthIgnored;
        this.role = role;
    }

    /** A client on an MX listener. */
    public static Client of(InetAddress address, String authenticatedUser) {
        return new Client(address, authenticatedUser, false, ListenerRole.MX);
    }

    /**
     * @param authenticatedUser    the AUTH identity that counts (null when none, or when it does not count)
     * @param plaintextAuthIgnored true when the client authenticated without TLS and the listener does not let
     *                             that grant anything: it is then treated as unauthenticated, and told why
     */
    public static Client of(InetAddress address, String authenticatedUser, boolean plaintextAuthIgnored, ListenerRole role) {
        return new Client(address, authenticatedUser, plaintextAuthIgnored, role);
    }

    public Optional<InetAddress> address() {
        return Optional.ofNullable(address);
    }

    public Optional<String> authenticatedUser() {
        return Optional.ofNullable(authenticatedUser);
    }

    public boolean plaintextAuthIgnored() {
        return plaintextAuthIgnored;
    }

    public ListenerRole role() {
        return role;
    }
}
