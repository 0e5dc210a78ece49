package dev.relayguard.core;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.StringTokenizer;

/**
 * The argument of a {@code MAIL} or {@code RCPT} command cut exactly where James 3.8.1 cuts it, so that
 * RelayGuard reads the same path James will parse and record, and the same ESMTP parameters.
 *
 * <p>James 3.8.1 ({@code MailCmdHandler.doMAILFilter}, {@code RcptCmdHandler.doFilterChecks}, protocols-smtp):
 * <ul>
 *   <li>the text after the first {@code ':'} is the path and its parameters, trimmed;</li>
 *   <li>{@code MAIL}: the path ends at the first {@code '>'} after the first {@code '<'} (so
 *       {@code AUTH=<user@dom>} and any other {@code >} in a parameter stay in the parameters);
 *       {@code RCPT}: at the last {@code '>'}; either way only when a space and at least one more character
 *       follow it, otherwise the whole text is the path;</li>
 *   <li>the brackets are removed only when the path both starts with {@code '<'} and ends with {@code '>'};</li>
 *   <li>parameters are split on spaces, the name before the first {@code '='} upper-cased;</li>
 *   <li>a path without {@code '@'} is completed with the server's default domain (RFC 6409 §8 allows that on
 *       submission only); a {@code MAIL} path that is empty or just {@code "@"} is the null sender.</li>
 * </ul>
 * What this class reports is only what James's parsing hides afterwards: whether James will complete the
 * address ({@link #completedByServer()}) and whether it starts with a source route ({@link #hasSourceRoute()},
 * which James then fails to parse). Every other rule judges the address James recorded
 * ({@link SmtpPath#ofAddress}).
 */
public final class SmtpArgument {
    private final boolean mail;
    private final String path;
    private final Map<String, String> parameters;

    private SmtpArgument(boolean mail, String path, Map<String, String> parameters) {
        this.mail = mail;
        this.path = path;
        this.parameters = parameters;
    }

    /** Reads {@code FROM:<path> params} as James's MAIL handler does; null when James finds no {@code ':'}. */
    public static SmtpArgument ofMail(String argument) {
        return read(argument, true);
    }

    /** Reads {@code TO:<path> params} as James's RCPT handler does; null when James finds no {@code ':'}. */
    public static SmtpArgument ofRcpt(String argument) {
        return read(argument, false);
    }

    private static SmtpArgument read(String argument, boolean mail) {
        if (argument == null || argument.indexOf(':') <= 0) {
            return null;
        }
        String rest = argument.substring(argument.indexOf(':') + 1).trim();
        int end = mail ? rest.indexOf('>', rest.indexOf('<')) : rest.lastIndexOf('>');
        Map<String, String> parameters = Map.of();
        if (end > 0 && rest.length() > end + 2 && rest.charAt(end + 1) == ' ') {
            parameters = parameters(rest.substring(end + 2));
            rest = rest.substring(0, end + 1);
        }
        if (rest.startsWith("<") && rest.endsWith(">") && rest.length() >= 2) {
            rest = rest.substring(1, rest.length() - 1);
        }
        return new SmtpArgument(mail, rest, parameters);
    }

    private static Map<String, String> parameters(String text) {
        Map<String, String> parameters = new LinkedHashMap<>();
        StringTokenizer tokens = new StringTokenizer(text, " ");
        while (tokens.hasMoreTokens()) {
            String token = tokens.nextToken();
            int equals = token.indexOf('=');
            String name = equals > 0 ? token.substring(0, equals).toUpperCase(Locale.US) : token;
            String value = equals > 0 ? token.substring(equals + 1) : "";
            parameters.put(name, value); // James runs a parameter's hook for each occurrence: the last one stays
        }
        return Collections.unmodifiableMap(parameters);
    }

    /** The path James parses: brackets removed as James removes them, parameters cut off. */
    public String path() {
        return path;
    }

    /** The ESMTP parameters, names upper-cased (the last of a repeated name, as James keeps it), e.g. {@code SIZE -> 1000}. */
    public Map<String, String> parameters() {
        return parameters;
    }

    /** True for {@code MAIL FROM:<>} and James's other spelling of it, {@code MAIL FROM:<@>}. */
    public boolean isNullSender() {
        return mail && (path.isEmpty() || path.equals("@"));
    }

    /** True when James will append its default domain: a path (not the null sender) without any {@code '@'}. */
    public boolean completedByServer() {
        return !isNullSender() && !path.isEmpty() && path.indexOf('@') < 0;
    }

    /** True for {@code @hop,@hop:user@domain} (RFC 5321 §4.1.1.3 source routes). */
    public boolean hasSourceRoute() {
        return !isNullSender() && path.trim().startsWith("@");
    }

    /**
     * The local part of an address James will complete, lower-cased, e.g. {@code postmaster}; null when
     * James will not complete it.
     */
    public String unqualifiedLocalPart() {
        return completedByServer() ? path.trim().toLowerCase(Locale.ROOT) : null;
    }

    /**
     * The declared {@code SIZE=} in bytes (RFC 1870) as James's {@code MailSizeEsmtpExtension} reads it
     * ({@code Integer.parseInt}: a sign is accepted), or -1 when absent, negative, or not a number James accepts
     * (James then answers 501 itself).
     */
    public long declaredSize() {
        String size = parameters.get("SIZE");
        if (size == null) {
            return -1;
        }
        try {
            int value = Integer.parseInt(size);
            return value < 0 ? -1 : value;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    @Override
    public String toString() {
        return (mail ? "FROM:<" : "TO:<") + path + ">" + (parameters.isEmpty() ? "" : " " + parameters);
    }
}
