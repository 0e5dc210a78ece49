package dev.relayguard.webadmin;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

import javax.inject.Inject;

import org.apache.james.webadmin.Routes;
import org.apache.james.webadmin.utils.ErrorResponder;
import org.apache.james.webadmin.utils.ErrorResponder.ErrorType;
import org.apache.james.webadmin.utils.JsonTransformer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.PolicyDiff;
import dev.relayguard.core.AuthState;
import dev.relayguard.core.Holds;
import dev.relayguard.core.RefusalTally;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.manage.Operations;
import dev.relayguard.manage.OperatorInput;
import spark.HaltException;
import spark.Request;
import spark.Response;
import spark.Service;

/**
 * RelayGuard's WebAdmin door: the operators' {@link Operations} (the very rules the JMX bean applies) over James's
 * REST conventions, under {@value #BASE}. Enabled by {@code extensions.routes=dev.relayguard.webadmin.RelayGuardRoutes}
 * in {@code webadmin.properties}. Bad input (checked by {@code OperatorInput}) is a 400 with James's error body
 * {@code {"statusCode":400,"type":"InvalidArgument","message":…}}, never a 500; a store that cannot answer (Redis
 * down) is a 503 with the reason; a body over {@value #MAX_BODY} bytes is a 413.
 * Bodies are strict JSON objects: trailing content and duplicate keys are 400s. Every change is audited with
 * {@code door=webadmin}.
 */
public class RelayGuardRoutes implements Routes {
    public static final String BASE = "/relayguard";
    public static final String DOOR = "webadmin";
    /** The largest request body read, in bytes (a suspension's body is well under 1 kB). */
    public static final int MAX_BODY = 4096;
    private static final ObjectMapper JSON = new ObjectMapper()
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final RelayGuard guard;
    private final Operations operations;
    private final JsonTransformer jsonTransformer;

    @Inject
    public RelayGuardRoutes(RelayGuard guard, JsonTransformer jsonTransformer) {
        this.guard = guard;
        this.operations = new Operations(guard, DOOR, WebAdminActor::current);
        this.jsonTransformer = jsonTransformer;
    }

    @Override
    public String getBasePath() {
        return BASE;
    }

    @Override
    public void define(Service service) {
        service.before(BASE + "/*", WebAdminActor::remember); // who calls: audited as by=<JWT login or client IP>
        service.afterAfter(BASE + "/*", WebAdminActor::forget);
        service.get(BASE + "/health", this::health, jsonTransformer);
        service.get(BASE + "/suspensions", this::suspensions, jsonTransformer);
        service.put(BASE + "/suspensions/:user", this::suspend);
        service.delete(BASE + "/suspensions/:user", this::resume);
        service.get(BASE + "/bans", this::bans, jsonTransformer);
        service.delete(BASE + "/bans/:ip", this::liftBan);
        service.get(BASE + "/users/:user/usage", this::usage, jsonTransformer);
        service.delete(BASE + "/users/:user/usage", this::resetUsage);
        service.get(BASE + "/policy", this::policy, jsonTransformer);
        service.post(BASE + "/policy", this::reload, jsonTransformer);
        service.get(BASE + "/top", this::top, jsonTransformer);
        service.get(BASE + "/throttles", this::throttles, jsonTransformer);
        service.delete(BASE + "/throttles/:user", this::liftThrottle);
        service.get(BASE + "/counts", this::counts, jsonTransformer);
    }

    private Object health(Request request, Response response) {
        onlyParameters(request);
        // Asks the store now (-1: no answer), so a store that stopped while no SMTP decision ran is not called healthy.
        int activeBans = guard.probeBans().bannedCount();
        int trackedIps = guard.probeBans().trackedCount();
        String lastError = guard.senderLimits().lastStoreError();
        if (activeBans < 0 && (lastError == null || lastError.isEmpty())) {
            try {
                guard.probeBans().bans();
            } catch (IllegalStateException e) {
                lastError = Instant.ofEpochMilli(guard.senderLimits().nowMillis()) + " " + e.getMessage();
            }
        }
        Map<String, Object> health = new LinkedHashMap<>();
        health.put("storeKind", guard.senderLimits().store().kind());
        health.put("healthy", activeBans >= 0 && guard.senderLimits().storeHealthy() && guard.probeBans().holds().answers());
        health.put("lastError", lastError == null || lastError.isEmpty() ? null : lastError);
        health.put("degradedDecisions", guard.recorder().degradedCount());
        health.put("activeBans", activeBans);
        health.put("trackedIps", trackedIps);
        health.put("droppedBans", guard.probeBans().droppedBans());
        health.put("trackedKeys", guard.senderLimits().store().trackedKeys());
        return health;
    }

    private Object suspensions(Request request, Response response) {
        onlyParameters(request);
        List<Map<String, Object>> list = new ArrayList<>();
        for (Holds.Hold hold : fromStore("list the suspensions", () -> guard.senderLimits().suspensions().active())) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("user", hold.key().startsWith("user:") ? hold.key().substring("user:".length()) : hold.key());
            entry.put("since", sinceOf(hold));
            entry.put("until", hold.isForever() ? null : Instant.ofEpochMilli(hold.untilMillis()).toString());
            boolean manual = hold.reason() != null && hold.reason().startsWith(RateLimiter.OPERATOR_REASON_PREFIX);
            entry.put("manual", manual);
            entry.put("reason", manual ? hold.reason().substring(RateLimiter.OPERATOR_REASON_PREFIX.length())
                : hold.reason());
            list.add(entry);
        }
        return list;
    }

    private Object suspend(Request request, Response response) {
        onlyParameters(request);
        String user = checked(() -> OperatorInput.user(request.params("user")));
        JsonNode body = jsonObject(body(request), request.contentType());
        Set<String> known = Set.of("reason", "until", "duration");
        for (Iterator<String> names = body.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!known.contains(name)) {
                throw badRequest("unknown field in the body: " + printable(name)
                    + " (known: reason, until, duration)");
            }
        }
        String reason = checked(() -> OperatorInput.reason(text(body, "reason")));
        String until = text(body, "until");
        String duration = text(body, "duration");
        if (until != null && duration != null) {
            throw badRequest("give until or duration, not both");
        }
        Duration length = null;
        if (duration != null) {
            length = checked(() -> OperatorInput.duration(duration));
        } else if (until != null) {
            Instant end;
            try {
                end = Instant.parse(until.strip());
            } catch (DateTimeParseException e) {
                throw badRequest("until is not an ISO-8601 instant (example: 2030-01-01T00:00:00Z)");
            }
            Duration left = Duration.between(Instant.ofEpochMilli(guard.senderLimits().nowMillis()), end);
            if (left.compareTo(OperatorInput.MIN_DURATION) < 0 || left.compareTo(OperatorInput.MAX_SUSPENSION) > 0) {
                throw badRequest("until must be at least 1s in the future and at most 366 days ahead (longer: omit it)");
            }
            length = left;
        }
        Duration finalLength = length;
        fromStore("suspend " + user, () -> {
            operations.suspend(user, reason, finalLength);
            return null;
        });
        return noContent(response);
    }

    private Object resume(Request request, Response response) {
        onlyParameters(request);
        String user = checked(() -> OperatorInput.user(request.params("user")));
        if (!fromStore("resume " + user, () -> operations.resume(user))) {
            throw notFound(user + " is not suspended");
        }
        return noContent(response);
    }

    private Object bans(Request request, Response response) {
        onlyParameters(request);
        List<Map<String, Object>> list = new ArrayList<>();
        for (Holds.Hold hold : fromStore("list the probe bans", operations::bans)) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("ip", hold.key());
            entry.put("since", sinceOf(hold));
            entry.put("until", hold.isForever() ? null : Instant.ofEpochMilli(hold.untilMillis()).toString());
            entry.put("reason", hold.reason());
            entry.put("kind", "probe");
            list.add(entry);
        }
        for (AuthState.Block block : fromStore("list the AUTH bans", operations::authBans)) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("ip", block.key());
            entry.put("since", null); // AUTH bans do not record their start
            entry.put("until", Instant.ofEpochMilli(block.untilMillis()).toString());
            entry.put("reason", "failed logins");
            entry.put("kind", "auth");
            list.add(entry);
        }
        return list;
    }

    private Object liftBan(Request request, Response response) {
        onlyParameters(request);
        String ip = checked(() -> OperatorInput.address(request.params("ip")));
        boolean probe = fromStore("lift the probe ban of " + ip, () -> operations.liftBan(ip));
        boolean auth = fromStore("lift the AUTH ban of " + ip, () -> operations.liftAuthBan(ip));
        if (!probe && !auth) {
            throw notFound(ip + " is not banned");
        }
        return noContent(response);
    }

    private Object throttles(Request request, Response response) {
        onlyParameters(request);
        List<Map<String, Object>> list = new ArrayList<>();
        for (AuthState.Block block : fromStore("list the account throttles", operations::authThrottles)) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("login", block.key());
            entry.put("since", null); // throttles do not record their start
            entry.put("until", Instant.ofEpochMilli(block.untilMillis()).toString());
            entry.put("reason", "failed logins");
            list.add(entry);
        }
        return list;
    }

    private Object liftThrottle(Request request, Response response) {
        onlyParameters(request);
        String user = checked(() -> OperatorInput.login(request.params("user")));
        if (!fromStore("lift the throttle of " + user, () -> operations.liftAuthThrottle(user))) {
            throw notFound(user + " is not throttled");
        }
        return noContent(response);
    }

    private Object counts(Request request, Response response) {
        onlyParameters(request);
        return operations.counts();
    }

    private Object usage(Request request, Response response) {
        onlyParameters(request);
        String user = checked(() -> OperatorInput.user(request.params("user")));
        Map<String, Object> usage = new LinkedHashMap<>();
        usage.put("user", user);
        List<Map<String, Object>> limits = new ArrayList<>();
        for (Operations.Usage one : fromStore("read the usage of " + user, () -> operations.usageOf(user))) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("limit", one.limit().toString());
            entry.put("measure", one.limit().measure().configName());
            entry.put("max", one.limit().max());
            entry.put("windowSeconds", one.limit().window().getSeconds());
            entry.put("used", one.used());
            entry.put("retryAfterSeconds", one.retryAfterSeconds());
            limits.add(entry);
        }
        usage.put("limits", limits);
        return usage;
    }

    private Object resetUsage(Request request, Response response) {
        onlyParameters(request);
        String user = checked(() -> OperatorInput.user(request.params("user")));
        fromStore("reset the usage of " + user, () -> {
            operations.resetUsage(user);
            return null;
        });
        return noContent(response);
    }

    private Object policy(Request request, Response response) {
        onlyParameters(request);
        return PolicyDiff.view(guard.settings());
    }

    private Object reload(Request request, Response response) {
        String action = onlyParameters(request, "action").get("action");
        if (!"reload".equals(action)) {
            throw badRequest("action must be 'reload'");
        }
        List<String> changes = checked(operations::reload);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("changes", changes);
        return result;
    }

    private Object top(Request request, Response response) {
        Map<String, String> parameters = onlyParameters(request, "kind", "limit", "since");
        String kind = parameters.get("kind");
        String prefix;
        if (kind == null) {
            prefix = "";
        } else if ("users".equals(kind)) {
            prefix = "user:";
        } else if ("ips".equals(kind)) {
            prefix = "ip:";
        } else {
            throw badRequest("kind must be users or ips");
        }
        int limit = 10;
        String rawLimit = parameters.get("limit");
        if (rawLimit != null) {
            try {
                limit = Integer.parseInt(rawLimit.strip());
            } catch (NumberFormatException e) {
                throw badRequest("limit must be a whole number between 1 and " + OperatorInput.MAX_TOP);
            }
        }
        int n = limit;
        checked(() -> OperatorInput.count("limit", n));
        String rawSince = parameters.get("since");
        Duration since = rawSince == null ? OperatorInput.MAX_SINCE : checked(() -> OperatorInput.since(rawSince));
        List<RefusalTally.Entry> all = checked(() -> operations.topRefused(OperatorInput.MAX_TOP, since));
        List<Map<String, Object>> list = new ArrayList<>();
        for (RefusalTally.Entry entry : all) {
            if (list.size() < n && entry.subject().startsWith(prefix)) {
                Map<String, Object> item = new LinkedHashMap<>();
                item.put("kind", entry.subject().startsWith("user:") ? "user" : "ip");
                item.put("key", entry.subject().substring(entry.subject().indexOf(':') + 1));
                item.put("refusals", entry.refusals());
                list.add(item);
            }
        }
        return list;
    }

    /** When a hold started, ISO-8601 UTC like {@code until}; null when it was not recorded (a hold set by an earlier RelayGuard). */
    private static String sinceOf(Holds.Hold hold) {
        return hold.isStartKnown() ? Instant.ofEpochMilli(hold.sinceMillis()).toString() : null;
    }

    /**
     * Refuses any query parameter but {@code allowed} (a typo must not be silently ignored). Reads the query string
     * itself: the servlet's parameters would also hold a form-encoded body ({@code curl -d} without a JSON content type).
     */
    private static Map<String, String> onlyParameters(Request request, String... allowed) {
        Set<String> known = Set.of(allowed);
        Map<String, String> parameters = new LinkedHashMap<>();
        String query = request.raw().getQueryString();
        if (query == null || query.isEmpty()) {
            return parameters;
        }
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int equals = pair.indexOf('=');
            String name;
            String value;
            try {
                name = URLDecoder.decode(equals < 0 ? pair : pair.substring(0, equals), StandardCharsets.UTF_8);
                value = equals < 0 ? "" : URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw badRequest("the query string is not URL-encoded");
            }
            if (!known.contains(name)) {
                throw badRequest("unknown query parameter: " + printable(name)
                    + (allowed.length == 0 ? " (this route takes none)" : " (known: " + String.join(", ", allowed) + ")"));
            }
            if (parameters.put(name, value) != null) {
                throw badRequest("query parameter given twice: " + name);
            }
        }
        return parameters;
    }

    private static String printable(String text) {
        String shown = text.length() > 64 ? text.substring(0, 64) + "…" : text;
        StringBuilder out = new StringBuilder();
        shown.codePoints().forEach(c -> out.append(Character.isISOControl(c) || Character.getType(c) == Character.FORMAT
            ? "?" : new String(Character.toChars(c))));
        return out.toString();
    }

    private static JsonNode jsonObject(String body, String contentType) {
        if ((body == null || body.isBlank()) && contentType != null
            && contentType.toLowerCase(Locale.ROOT).startsWith("application/x-www-form-urlencoded")) {
            throw badRequest("the body was sent as a form (Content-Type: application/x-www-form-urlencoded, curl -d's"
                + " default): send it as JSON, with Content-Type: application/json (curl -H 'Content-Type: application/json')");
        }
        if (body == null || body.isBlank()) {
            throw badRequest("the body must be a JSON object, for example {\"reason\": \"spam wave\", \"duration\": \"2h\"}");
        }
        JsonNode node;
        try {
            node = JSON.readTree(body);
        } catch (IOException e) {
            throw badRequest("the body is not JSON, or not only JSON (one object, each key once)");
        }
        if (node == null || !node.isObject()) {
            throw badRequest("the body must be a JSON object");
        }
        return node;
    }

    /**
     * The request body, UTF-8, at most {@value #MAX_BODY} bytes, else a 413 with James's error body: a declared
     * {@code Content-Length} over the limit is refused without reading the body here. James's own request logging
     * ({@code LoggingRequestFilter}, before any route) has already read the whole body by then, for every WebAdmin
     * route alike, so the bound on memory is a proxy's, not ours (README, Management over WebAdmin); a chunked body
     * (no length) has been consumed by it and reaches the route empty: a 400 saying to send a length.
     */
    private static String body(Request request) {
        if (request.raw().getContentLengthLong() > MAX_BODY) {
            throw tooLarge();
        }
        byte[] bytes = request.bodyAsBytes();
        if (bytes == null || bytes.length == 0) {
            if ("chunked".equalsIgnoreCase(request.headers("Transfer-Encoding"))) {
                throw badRequest("a chunked body cannot be read: James's request logging reads it before any route;"
                    + " send it with a Content-Length (curl -d does)");
            }
            return "";
        }
        if (bytes.length > MAX_BODY) {
            throw tooLarge();
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw badRequest("the body is not UTF-8");
        }
    }

    private static HaltException tooLarge() {
        return ErrorResponder.builder()
            .statusCode(413)
            .type(ErrorType.INVALID_ARGUMENT)
            .message("the body is too long: at most " + MAX_BODY + " bytes")
            .haltError();
    }

    private static String text(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            throw badRequest(field + " must be a string");
        }
        return value.asText();
    }

    private static <T> T checked(Supplier<T> operation) {
        try {
            return operation.get();
        } catch (IllegalArgumentException e) {
            throw badRequest(e.getMessage());
        }
    }

    private static <T> T fromStore(String what, Supplier<T> operation) {
        try {
            return operation.get();
        } catch (IllegalArgumentException e) {
            throw badRequest(e.getMessage());
        } catch (IllegalStateException e) {
            throw ErrorResponder.builder()
                .statusCode(503)
                .type(ErrorType.SERVER_ERROR)
                .message("could not " + what + ": " + e.getMessage())
                .haltError();
        }
    }

    private static String noContent(Response response) {
        response.status(204);
        return "";
    }

    private static HaltException badRequest(String message) {
        return ErrorResponder.builder()
            .statusCode(400)
            .type(ErrorType.INVALID_ARGUMENT)
            .message(message)
            .haltError();
    }

    private static HaltException notFound(String message) {
        return ErrorResponder.builder()
            .statusCode(404)
            .type(ErrorType.NOT_FOUND)
            .message(message)
            .haltError();
    }
}
