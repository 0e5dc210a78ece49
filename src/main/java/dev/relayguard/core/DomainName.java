package dev.relayguard.core;

import java.util.Locale;
import java.util.regex.Pattern;

/** Canonical domain names: lower case, without the one trailing dot a fully qualified name may carry. */
public final class DomainName {
    private static final Pattern HOSTNAME = Pattern.compile(
        "(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    private DomainName() {
    }

    public static String canonical(String domain) {
        String lower = domain.trim().toLowerCase(Locale.ROOT);
        return lower.endsWith(".") ? lower.substring(0, lower.length() - 1) : lower;
    }

    /** True for a syntactically valid host name (letters, digits, hyphens; labels up to 63 chars). */
    public static boolean isValidHostName(String canonicalDomain) {
        return HOSTNAME.matcher(canonicalDomain).matches();
    }
}
