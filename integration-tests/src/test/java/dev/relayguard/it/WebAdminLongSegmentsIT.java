package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;

import org.apache.james.GuiceJamesServer;
import org.apache.james.JamesServerExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.relayguard.manage.OperatorInput;

/**
 * Over-long path segments on RelayGuard's WebAdmin routes (issue 16: "10 kB path segments" get a 400, never a 500).
 * A 10 kB segment never reaches a route: James's Jetty refuses a request line over its 8 KB header buffer with
 * {@code 414 URI Too Long}, for James's own routes alike. Shorter over-long segments (2 to 7 kB) reach the routes,
 * which answer James's {@code 400 InvalidArgument} naming the limit: {@value OperatorInput#MAX_USER} characters for a
 * user name, {@value OperatorInput#MAX_ADDRESS} for an address.
 */
class WebAdminLongSegmentsIT {
    private static final int URI_TOO_LONG = 414;
    private static final String TEN_KB = "x".repeat(10 * 1024);

    @RegisterExtension
    static JamesServerExtension james = RelayGuardServers.fromSample(conf -> { });

    private static WebAdminClient webAdmin;

    @BeforeAll
    static void setUp(GuiceJamesServer server) {
        webAdmin = WebAdminClient.of(server);
    }

    @Test
    void tenKilobyteSegmentsGetJettys414BeforeAnyRouteRunsOursAndJamessAlike() throws Exception {
        String[][] requests = {
            {"GET", "/relayguard/users/" + TEN_KB + "/usage"},
            {"DELETE", "/relayguard/users/" + TEN_KB + "/usage"},
            {"PUT", "/relayguard/suspensions/" + TEN_KB},
            {"DELETE", "/relayguard/suspensions/" + TEN_KB},
            {"DELETE", "/relayguard/bans/" + TEN_KB},
            {"GET", "/relayguard/health?" + TEN_KB + "=1"},
            {"PUT", "/users/" + TEN_KB},
            {"GET", "/domains/" + TEN_KB},
        };
        for (String[] request : requests) {
            HttpResponse<String> response = webAdmin.send(request[0], request[1], request[0].equals("PUT") ? "{\"reason\": \"r\"}" : null);
            assertThat(response.statusCode()).as("%s %s…: %s", request[0], request[1].substring(0, 30), response.body())
                .isEqualTo(URI_TOO_LONG);
        }
    }

    @Test
    void longUserNamesThatJettyLetsThroughGetOur400NamingTheLimit() throws Exception {
        for (int length : new int[] {OperatorInput.MAX_USER + 1, 2 * 1024, 5 * 1024, 7 * 1024}) {
            String user = "u".repeat(length);
            String says = "user is too long: " + length + " characters, at most " + OperatorInput.MAX_USER;
            assertThat(message("GET", "/relayguard/users/" + user + "/usage", null)).isEqualTo(says);
            assertThat(message("DELETE", "/relayguard/users/" + user + "/usage", null)).isEqualTo(says);
            assertThat(message("PUT", "/relayguard/suspensions/" + user, "{\"reason\": \"r\"}")).isEqualTo(says);
            assertThat(message("DELETE", "/relayguard/suspensions/" + user, null)).isEqualTo(says);
        }
        assertThat(webAdmin.ok("GET", "/relayguard/suspensions")).isEmpty();
    }

    @Test
    void longAddressesThatJettyLetsThroughGetOur400NamingTheLimit() throws Exception {
        for (int length : new int[] {OperatorInput.MAX_ADDRESS + 1, 2 * 1024, 5 * 1024, 7 * 1024}) {
            assertThat(message("DELETE", "/relayguard/bans/" + "1".repeat(length), null))
                .isEqualTo("ip is too long: " + length + " characters, at most " + OperatorInput.MAX_ADDRESS);
        }
    }

    private static String message(String method, String path, String body) throws Exception {
        return webAdmin.error(400, "InvalidArgument", method, path, body).get("message").asText();
    }
}
