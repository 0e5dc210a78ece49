package dev.relayguard.observe;

import dev.relayguard.core.Verdict;

/**
 * Formats one audit event (a refusal, a ban, an operator's action) as one {@code key=value} line, safe to feed
 * to fail2ban or a log shipper: values with spaces or quotes are quoted, control characters (a client could send
 * them in HELO, an operator in a JMX argument) are escaped so nobody can forge a log line. Every line written
 * on the {@code relayguard.audit} logger is built here.
 */
public final class AuditLine {

    private AuditLine() {
    }

    public static String format(Verdict verdict, RefusalContext context) {
        StringBuilder line = new StringBuilder(192);
        append(line, "outcome", verdict.outcome().metricWord());
        append(line, "reason", verdict.reason().code());
        append(line, "path", context.path());
        append(line, "session", context.sessionId());
        append(line, "ip", context.clientIp());
        append(line, "helo", context.helo());
        append(line, "user", context.authUser());
        append(line, "sender", context.sender());
        append(line, "rcpt", context.recipient());
        if (context.login() != null || context.mechanism() != null) { // AUTH lines only: the others keep their shape
            append(line, "login", context.login());
            append(line, "mechanism", context.mechanism());
        }
        append(line, "reply", verdict.replyLine());
        return line.toString();
    }

    /**
     * Any other audit event: {@code event("outcome", "suspended", "subject", key)} gives
     * {@code outcome=suspended subject=…}, every value escaped and quoted as needed (null is {@code -}).
     *
     * @param keysAndValues key, value, key, value…; keys are constants of the caller
     */
    public static String event(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("keys and values come in pairs");
        }
        StringBuilder line = new StringBuilder(128);
        for (int i = 0; i < keysAndValues.length; i += 2) {
            append(line, String.valueOf(keysAndValues[i]), keysAndValues[i + 1] == null ? null : String.valueOf(keysAndValues[i + 1]));
        }
        return line.toString();
    }

    private static void append(StringBuilder line, String key, String value) {
        if (line.length() > 0) {
            line.append(' ');
        }
        line.append(key).append('=').append(quote(value));
    }

    public static String quote(String value) {
        if (value == null || value.isEmpty()) {
            return "-";
        }
        boolean needsQuotes = false;
        StringBuilder escaped = new StringBuilder(value.length() + 2);
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                escaped.append('\\').append(c);
                needsQuotes = true;
            } else if (c < 0x20 || c == 0x7f || c == 0x85 || c == 0x2028 || c == 0x2029) {
                escaped.append(String.format(c < 0x100 ? "\\x%02x" : "\\u%04x", (int) c));
                needsQuotes = true;
            } else {
                if (c == ' ' || c == '=') {
                    needsQuotes = true;
                }
                escaped.append(c);
            }
        }
        return needsQuotes ? "\"" + escaped + "\"" : escaped.toString();
    }
}
