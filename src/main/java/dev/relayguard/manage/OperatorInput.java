package dev.relayguard.manage;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Locale;

import javax.mail.internet.AddressException;

import org.apache.james.core.Domain;
import org.apache.james.core.MailAddress;
import org.apache.james.core.Username;
import org.apache.james.util.DurationParser;

/**
 * How every operator's argument is checked and written, whatever the door (JMX, WebAdmin, the Java API): refused
 * with an {@link IllegalArgumentException} naming the argument and the fault when it is missing, blank, too long or
 * holds a control character, a line or paragraph separator or a format character (Unicode category Cf: zero-width
 * spaces, bidirectional overrides), wherever it stands (a line break in a reason would otherwise forge an audit line,
 * a U+202E make it read backwards); then trimmed of surrounding spaces, nothing else ever removed. User names are
 * lower-cased, as rate limits and suspensions key them, and must be names James itself accepts.
 */
public final class OperatorInput {
    /** The longest user name accepted (James's own limit for a user name). */
    public static final int MAX_USER = 255;
    /** The longest suspension reason stored. */
    public static final int MAX_REASON = 500;
    /** The longest client address accepted ({@code 2001:db8::/64}, IPv4-mapped IPv6 and a zone fit well within). */
    public static final int MAX_ADDRESS = 100;
    /** The most entries {@code topRefused} lists. */
    public static final int MAX_TOP = 1000;

    private OperatorInput() {
    }

    /**
     * A login as RelayGuard's AUTH limits record it (what a client typed after AUTH, lower-cased, at most 255
     * characters: {@code LoginLimits.accountOf}), to lift an account throttle: any text the throttle list can show
     * (a login such as {@code x y@example.com} is throttled although it is no user name), so only control and format
     * characters are refused and surrounding spaces trimmed.
     */
    public static String login(String login) {
        return text("user", login, 255);
    }

    /**
     * A user name as rate limits and suspensions key it: trimmed, lower-case. Besides {@link #text}'s checks, it must
     * hold no space, pass James's {@link Username#of} (one {@code @} at most, a valid domain after it:
     * {@code a@b@c}, {@code @}, {@code x@} are refused) and its local part must be one {@link MailAddress} accepts
     * (RFC 5321 dot-string or quoted string: {@code ..}, {@code .a}, {@code a.} are refused).
     */
    public static String user(String user) {
        String name = text("user", user, MAX_USER).toLowerCase(Locale.ROOT);
        for (int i = 0; i < name.length(); i++) {
            if (Character.isWhitespace(name.charAt(i)) || Character.isSpaceChar(name.charAt(i))) {
                throw new IllegalArgumentException("user must not contain spaces (found one at position " + i + ")");
            }
        }
        Username username;
        try {
            username = Username.of(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("user is not a user name James accepts (" + e.getMessage() + "): " + name);
        }
        try {
            // a name without a domain (James without virtual hosting) is checked as a local part of any domain
            new MailAddress(username.getLocalPart() + "@" + username.getDomainPart().map(Domain::asString).orElse("localhost"));
        } catch (AddressException e) {
            throw new IllegalArgumentException("user is not a user name James accepts (" + e.getMessage() + ")");
        }
        return name;
    }

    /**
     * Why a user is suspended: trimmed, at most {@value #MAX_REASON} characters, on one line, without control or
     * format (Cf) characters: refused, not escaped, so what the audit log and the lists show is what was typed.
     */
    public static String reason(String reason) {
        return text("reason", reason, MAX_REASON);
    }

    /** A client IP address (or IPv6 /64 prefix) as typed: trimmed; whether it is an address is the caller's check. */
    public static String address(String address) {
        return text("ip", address, MAX_ADDRESS);
    }

    /**
     * The shortest duration an operator may give (suspension, look back): 1 second; shorter ones ({@code 1ms}) are
     * refused rather than ending a suspension at once.
     */
    public static final Duration MIN_DURATION = Duration.ofSeconds(1);

    /** The longest timed suspension an operator may give: a year (longer: suspend until resumed). */
    public static final Duration MAX_SUSPENSION = Duration.ofDays(366);

    /**
     * How long a suspension lasts: a James duration ({@code 90m}, {@code 2h}, {@code 7d}; a bare number is seconds)
     * or an ISO-8601 one ({@code PT90M}), at least {@link #MIN_DURATION} and at most {@link #MAX_SUSPENSION}.
     *
     * @throws IllegalArgumentException naming the argument, for anything else
     */
    public static Duration duration(String value) {
        String text = text("duration", value, 32);
        Duration duration = parseDuration("duration", text, "90m, 2h, 7d");
        if (duration.compareTo(MIN_DURATION) < 0 || duration.compareTo(MAX_SUSPENSION) > 0) {
            throw new IllegalArgumentException("duration must be at least 1s and at most 366d (longer: suspend until resumed): " + text);
        }
        return duration;
    }

    /** The longest look back of {@code topRefused}: the hour of refusals RelayGuard keeps ({@code core.RefusalTally}). */
    public static final Duration MAX_SINCE = Duration.ofHours(1);

    /**
     * How far back {@code topRefused} counts: a duration as {@link #duration} takes it ({@code 15m}, {@code 1h},
     * {@code PT30M}), at least {@link #MIN_DURATION} and at most {@link #MAX_SINCE}.
     *
     * @throws IllegalArgumentException naming the argument, for anything else (over an hour: only the last hour is kept)
     */
    public static Duration since(String value) {
        String text = text("since", value, 32);
        Duration since = parseDuration("since", text, "15m, 1h, PT30M");
        if (since.compareTo(MIN_DURATION) < 0) {
            throw new IllegalArgumentException("since must be at least 1s: " + text);
        }
        if (since.compareTo(MAX_SINCE) > 0) {
            throw new IllegalArgumentException("since must be at most 1h: only the last hour of refusals is kept, was " + text);
        }
        return since;
    }

    /** A James duration (a bare number is seconds) or, starting with P, an ISO-8601 duration. */
    private static Duration parseDuration(String name, String text, String examples) {
        try {
            return text.charAt(0) == 'P' || text.charAt(0) == 'p' ? Duration.parse(text) : DurationParser.parse(text, ChronoUnit.SECONDS);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(name + " is not a duration (examples: " + examples + "): " + text);
        }
    }

    /** How many entries a list shows: 1 to {@value #MAX_TOP}. */
    public static int count(String name, int n) {
        if (n < 1 || n > MAX_TOP) {
            throw new IllegalArgumentException(name + " must be between 1 and " + MAX_TOP + ", was " + n);
        }
        return n;
    }

    private static String text(String name, String value, int max) {
        if (value == null) {
            throw new IllegalArgumentException(name + " is required");
        }
        // Checked before trimming: strip() would silently drop a leading tab or U+2028. By code point, so that format
        // characters outside the BMP (U+1D173, tag characters) are seen, and a lone surrogate is refused, not mangled.
        for (int i = 0; i < value.length(); ) {
            int c = value.codePointAt(i);
            String at = String.format("U+%04X", c) + " at position " + (i + 1);
            if (Character.isISOControl(c) || c == 0x2028 || c == 0x2029) {
                throw new IllegalArgumentException(name + " must not contain control characters or line breaks (found " + at + ")");
            }
            int type = Character.getType(c);
            if (type == Character.FORMAT) {
                throw new IllegalArgumentException(name + " must not contain format characters such as zero-width spaces or"
                    + " direction marks (found " + at + ")");
            }
            if (type == Character.SURROGATE) { // a surrogate without its pair
                throw new IllegalArgumentException(name + " must be well-formed Unicode text (found " + at + ")");
            }
            i += Character.charCount(c);
        }
        String trimmed = value.strip();
        if (trimmed.isEmpty()) {
            throw new IllegalArgumentException(name + " must not be blank");
        }
        if (trimmed.length() > max) {
            throw new IllegalArgumentException(name + " is too long: " + trimmed.length() + " characters, at most " + max);
        }
        return trimmed;
    }
}
