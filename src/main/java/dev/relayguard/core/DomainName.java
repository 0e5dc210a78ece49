package dev.relayguard.core;

import java.net.IDN;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Canonical domain names, so that one domain has one spelling: lower case, IDN U-labels turned into their
 * A-labels ({@code bücher.example} → {@code xn--bcher-kva.example}), without the one trailing dot a fully
 * qualified name may carry. IP literals ({@code [192.0.2.1]}) are kept, lower-cased.
 */
public final class DomainName {
    private static final Pattern HOSTNAME = Pattern.compile(
        "(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    private DomainName() {
    }

    public static String canonical(String domain) {
        String lower = domain.trim().toLowerCase(Locale.ROOT);
        if (lower.endsWith(".")) {
            lower = lower.substring(0, lower.length() - 1);
        }
        if (lower.startsWith("[")) {
            return lower;
        }
        if (!isAscii(lower)) {
            try {
                return IDN.toASCII(lower, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
            } catch (IllegalArgumentException e) {
                return lower; // not a valid IDN: compared as written, and never matches a configured domain
            }
        }
        return lower;
    }

    /** The U-label spelling of a canonical (A-label) name, for lookups in stores that kept the U-label. */
    public static String unicode(String canonicalDomain) {
        try {
            return IDN.toUnicode(canonicalDomain, IDN.ALLOW_UNASSIGNED);
        } catch (IllegalArgumentException e) {
            return canonicalDomain;
        }
    }

    /** True for a syntactically valid host name (letters, digits, hyphens; labels up to 63 chars). */
    public static boolean isValidHostName(String canonicalDomain) {
        return HOSTNAME.matcher(canonicalDomain).matches();
    }

    private static boolean isAscii(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) > 0x7f) {
                return false;
            }
        }
        return true;
    }
}
