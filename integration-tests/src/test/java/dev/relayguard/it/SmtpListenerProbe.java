package dev.relayguard.it;

import java.net.InetSocketAddress;
import java.util.List;

import javax.inject.Inject;

import org.apache.james.protocols.lib.netty.AbstractConfigurableAsyncServer;
import org.apache.james.smtpserver.netty.SMTPServerFactory;
import org.apache.james.utils.GuiceProbe;

/**
 * Binds a running SMTP listener of James to other addresses. James 3.8.1 cannot be told an IPv6 literal in
 * {@code <bind>}: {@code AbstractConfigurableAsyncServer.configure} splits {@code [::1]:0} on every {@code ':'}, so a
 * listener on {@code ::1} needs a host name resolving to it, which a test machine may not have. The listener is the
 * configured one (same handler chain, RelayGuard included), only unbound and bound again.
 */
public class SmtpListenerProbe implements GuiceProbe {
    private final SMTPServerFactory servers;

    @Inject
    public SmtpListenerProbe(SMTPServerFactory servers) {
        this.servers = servers;
    }

    /**
     * Unbinds the listener on {@code port} and binds it to {@code addresses} (port 0: the OS picks one).
     *
     * @return the addresses it listens on now, with their ports
     */
    public List<InetSocketAddress> rebind(int port, InetSocketAddress... addresses) throws Exception {
        AbstractConfigurableAsyncServer server = servers.getServers().stream()
            .filter(listener -> listener.getListenAddresses().stream().anyMatch(bound -> bound.getPort() == port))
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("no SMTP listener on port " + port));
        server.unbind();
        server.setListenAddresses(addresses);
        server.bind();
        return server.getListenAddresses();
    }
}
