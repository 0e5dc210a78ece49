package dev.relayguard.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import org.apache.james.GuiceJamesServer;
import org.apache.james.utils.WebAdminGuiceProbe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** James's WebAdmin of an in-process server over real HTTP (127.0.0.1), with the checks the WebAdmin ITs share. */
public final class WebAdminClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;

    private WebAdminClient(String base) {
        this.base = base;
    }

    /** WebAdmin of this server; paths are then given from the root ({@code /relayguard/health}, {@code /users}). */
    public static WebAdminClient of(GuiceJamesServer server) {
        return new WebAdminClient("http://127.0.0.1:" + server.getProbe(WebAdminGuiceProbe.class).getWebAdminPort().getValue());
    }

    /** Sends {@code body} (null: none) as JSON. */
    public HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The answer's status, after checking it is {@code expected}. */
    public HttpResponse<String> expect(int expected, String method, String path, String body) throws Exception {
        HttpResponse<String> response = send(method, path, body);
        assertThat(response.statusCode()).as("%s %s: %s", method, path, response.body()).isEqualTo(expected);
        return response;
    }

    /** The JSON of a 200 answer. */
    public JsonNode ok(String method, String path) throws Exception {
        return JSON.readTree(expect(200, method, path, null).body());
    }

    /**
     * James's error body ({@code ErrorResponder}: {@code {"statusCode":…,"type":…,"message":…}}) of an answer with
     * this status, after checking its fields agree with the status and {@code type}.
     */
    public JsonNode error(int status, String type, String method, String path, String body) throws Exception {
        HttpResponse<String> response = expect(status, method, path, body);
        JsonNode error = JSON.readTree(response.body());
        assertThat(error.get("statusCode").asInt()).as(response.body()).isEqualTo(status);
        assertThat(error.get("type").asText()).as(response.body()).isEqualTo(type);
        assertThat(error.get("message").asText()).as(response.body()).isNotBlank();
        return error;
    }
}
