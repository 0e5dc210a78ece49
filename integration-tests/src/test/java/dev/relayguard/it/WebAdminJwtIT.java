package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.util.Base64;
import java.util.List;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.apache.james.utils.WebAdminGuiceProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * With WebAdmin's JWT on, RelayGuard's routes are protected like James's own: no token or a bad one is a 401, an
 * admin token signed by the configured key is let through.
 */
class WebAdminJwtIT {
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final KeyPair KEYS = keys();

    private static final LogCapture AUDIT = LogCapture.of("relayguard.audit");

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> {
        try {
            Path pem = conf.dir().resolve("jwt_publickey");
            Files.writeString(pem, "-----BEGIN PUBLIC KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(KEYS.getPublic().getEncoded())
                + "\n-----END PUBLIC KEY-----\n");
            conf.replace("webadmin.properties", "jwt.enabled=false",
                "jwt.enabled=true\njwt.publickeypem.url=file://" + pem.toAbsolutePath());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    });

    private static KeyPair keys() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            return generator.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String token(boolean admin) throws Exception {
        Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
        String header = url.encodeToString("{\"alg\":\"RS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String payload = url.encodeToString(("{\"sub\":\"admin@relayguard.test\",\"admin\":" + admin + "}").getBytes(StandardCharsets.UTF_8));
        Signature signature = Signature.getInstance("SHA256withRSA");
        signature.initSign(KEYS.getPrivate());
        signature.update((header + "." + payload).getBytes(StandardCharsets.US_ASCII));
        return header + "." + payload + "." + url.encodeToString(signature.sign());
    }

    private static int status(GuiceJamesServer server, String method, String path, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + server.getProbe(WebAdminGuiceProbe.class).getWebAdminPort().getValue() + path))
            .method(method, HttpRequest.BodyPublishers.noBody());
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    @Test
    void noTokenOrABadOneIs401AndAnAdminTokenPasses(GuiceJamesServer server) throws Exception {
        assertThat(status(server, "GET", "/relayguard/health", null)).isEqualTo(401);
        assertThat(status(server, "GET", "/relayguard/suspensions", null)).isEqualTo(401);
        assertThat(status(server, "DELETE", "/relayguard/bans/192.0.2.7", null)).isEqualTo(401);
        assertThat(status(server, "POST", "/relayguard/policy?action=reload", null)).isEqualTo(401);
        assertThat(status(server, "GET", "/relayguard/health", "not.a.token")).isEqualTo(401);
        assertThat(status(server, "GET", "/relayguard/health", token(false))).isEqualTo(401);

        assertThat(status(server, "GET", "/relayguard/health", token(true))).isEqualTo(200);
        assertThat(status(server, "DELETE", "/relayguard/bans/192.0.2.7", token(true))).isEqualTo(404);
    }

    /** Issue 16 (M2): a change made with a token is audited as made by the token's login (James's LOGIN attribute). */
    @Test
    void aChangeIsAuditedAsMadeByTheTokensLogin(GuiceJamesServer server) throws Exception {
        int mark = AUDIT.lines().size();

        assertThat(status(server, "DELETE", "/relayguard/bans/192.0.2.8", token(true))).isEqualTo(404);

        List<String> lines = AUDIT.lines();
        assertThat(lines.subList(mark, lines.size())).hasSize(2)
            .allSatisfy(line -> assertThat(line).contains(" ip=192.0.2.8 ").endsWith(" door=webadmin by=admin@relayguard.test"));
    }
}
