package dev.relayguard.webadmin;

import java.net.InetSocketAddress;

import javax.servlet.http.HttpServletRequest;

import org.apache.james.webadmin.authentication.AuthenticationFilter;

import spark.Request;
import spark.Response;

/**
 * Who calls a RelayGuard WebAdmin route, for the audit's {@code by=}: the JWT login James's {@code JwtFilter} put in
 * the request attribute {@value AuthenticationFilter#LOGIN} (WebAdmin with {@code jwt.enabled=true} in
 * webadmin.properties), else the HTTP client's address. Remembered per request thread by a {@code before} filter on
 * {@code /relayguard/*}, read by the {@link dev.relayguard.manage.Operations} of the routes when they audit.
 */
final class WebAdminActor {
    private static final ThreadLocal<String> CURRENT = new ThreadLocal<>();

    private WebAdminActor() {
    }

    /**
     * The JWT login of {@code request}, else the address of the TCP connection it came on (null when it has neither).
     * Not {@code request.ip()}: James's Jetty takes that from {@code X-Forwarded-For} / {@code Forwarded} headers, which
     * any caller can write (a trial logged {@code by=6.6.6.6} that way).
     */
    static String of(Request request) {
        Object login = request.attribute(AuthenticationFilter.LOGIN);
        if (login != null && !login.toString().isBlank()) {
            return login.toString();
        }
        return connectionAddress(request.raw());
    }

    private static String connectionAddress(HttpServletRequest raw) {
        org.eclipse.jetty.server.Request jetty = org.eclipse.jetty.server.Request.getBaseRequest(raw);
        if (jetty != null && jetty.getHttpChannel() != null && jetty.getHttpChannel().getEndPoint() != null) {
            InetSocketAddress remote = jetty.getHttpChannel().getEndPoint().getRemoteAddress();
            if (remote != null && remote.getAddress() != null) {
                return remote.getAddress().getHostAddress();
            }
        }
        return null;
    }

    /** A Spark {@code before} filter: remembers who calls for the rest of this request on this thread. */
    static void remember(Request request, Response response) {
        CURRENT.set(of(request));
    }

    /** A Spark {@code afterAfter} filter: forgets it when the request is answered (Jetty reuses its threads). */
    static void forget(Request request, Response response) {
        CURRENT.remove();
    }

    /** Who calls the request this thread serves (null outside a RelayGuard route). */
    static String current() {
        return CURRENT.get();
    }
}
