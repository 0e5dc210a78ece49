package dev.relayguard.config;

import org.xml.sax.SAXParseException;

/**
 * What an operator reads when a configuration file cannot be read: the parser's own words with the line and column
 * of the fault, never commons-configuration's {@code Error parsing null} (what it says when it parses a stream that
 * has no file name, as James's {@code FileConfigurationProvider} and {@link PolicyFile#parseXml} both do).
 */
public final class ConfigErrors {
    private static final String NAMELESS_PARSE_ERROR = "Error parsing null";

    private ConfigErrors() {
    }

    /**
     * Why {@code e} happened, for a message that already names the file: {@code line 3, column 14: <the parser's
     * message>} when an XML parser located the fault, else the outermost message followed by the root cause's.
     */
    public static String describe(Throwable e) {
        SAXParseException located = located(e);
        if (located != null) {
            return "line " + located.getLineNumber() + ", column " + located.getColumnNumber() + ": " + messageOf(located);
        }
        Throwable root = root(e);
        if (root == e || NAMELESS_PARSE_ERROR.equals(e.getMessage())) {
            return messageOf(root);
        }
        return e.getMessage() + " (" + messageOf(root) + ")";
    }

    /**
     * The cause to chain under a message built with {@link #describe}: none when an XML parser located the fault (the
     * message already holds its words, line and column; and James's logback pattern {@code %rEx} prints the root
     * cause first, so a chained parser exception would head the trace without the file's name), else {@code e}.
     */
    public static Throwable cause(Throwable e) {
        return located(e) != null ? null : e;
    }

    private static SAXParseException located(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SAXParseException && ((SAXParseException) t).getLineNumber() > 0) {
                return (SAXParseException) t;
            }
        }
        return null;
    }

    private static Throwable root(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }

    private static String messageOf(Throwable t) {
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }
}
