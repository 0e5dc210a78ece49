package dev.relayguard.config;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.UnaryOperator;

import org.apache.commons.configuration2.ImmutableConfiguration;
import org.apache.james.util.DurationParser;

import dev.relayguard.core.ConfigName;

/**
 * Reads typed values from one configuration source, strictly: a value that is present but not acceptable is an
 * {@link InvalidConfigurationException} naming the source, the key and the value as written, e.g.
 * {@code relayguard.xml: probeBans.window = 'soon': not a duration (examples: 500ms, 30s, 10m, 1h)}. An absent
 * or blank value is the fallback. Values are trimmed before parsing.
 *
 * <p>The source is anything that answers "the text of this key, or null": the policy file or a James
 * {@code <handler>}/{@code <mailet>} configuration ({@link #of(String, ImmutableConfiguration)}), or a mailet's
 * init parameters ({@link #of(String, UnaryOperator)} with {@code getInitParameter}). {@code source} is what
 * the message names first: {@code relayguard.xml}, or {@code mailetcontainer.xml: RefuseRelay}.
 */
public final class ConfigValues {
    /** The duration syntax named in errors. */
    static final String DURATION_EXAMPLES = "not a duration (examples: 500ms, 30s, 10m, 1h)";

    private final String source;
    private final UnaryOperator<String> reader;

    private ConfigValues(String source, UnaryOperator<String> reader) {
        this.source = Objects.requireNonNull(source);
        this.reader = Objects.requireNonNull(reader);
    }

    /** Values of a commons-configuration source (the policy file, a James handler or mailet configuration). */
    public static ConfigValues of(String source, ImmutableConfiguration config) {
        return new ConfigValues(source, key -> config.getString(key, null));
    }

    /** Values from any key → text lookup that answers null for an absent key (a mailet's getInitParameter). */
    public static ConfigValues of(String source, UnaryOperator<String> reader) {
        return new ConfigValues(source, reader);
    }

    /** What errors name first: the file, or file and component. */
    public String source() {
        return source;
    }

    /** The trimmed text of {@code key}; empty when absent or blank. */
    public Optional<String> text(String key) {
        String raw = reader.apply(key);
        return raw == null || raw.isBlank() ? Optional.empty() : Optional.of(raw.trim());
    }

    /** The trimmed text of {@code key}, or {@code fallback} when absent or blank. */
    public String text(String key, String fallback) {
        return text(key).orElse(fallback);
    }

    /**
     * The value of {@code key} as {@code parser} reads it (from trimmed text), or {@code fallback} when absent.
     *
     * @throws InvalidConfigurationException when {@code parser} throws an IllegalArgumentException: its message is the problem
     */
    public <T> T value(String key, Function<String, T> parser, T fallback) {
        Optional<String> text = text(key);
        if (text.isEmpty()) {
            return fallback;
        }
        try {
            return parser.apply(text.get());
        } catch (IllegalArgumentException e) {
            throw invalid(key, text.get(), e.getMessage());
        }
    }

    /** Strictly {@code true} or {@code false} (lower case); anything else is refused ("expected true or false"). */
    public boolean bool(String key, boolean fallback) {
        return value(key, text -> {
            if (!text.equals("true") && !text.equals("false")) {
                throw new IllegalArgumentException("expected true or false");
            }
            return text.equals("true");
        }, fallback);
    }

    /** A whole number, at least 0 ("not a whole number", "must not be negative"). */
    public long count(String key, long fallback) {
        return value(key, text -> {
            long parsed;
            try {
                parsed = Long.parseLong(text);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a whole number");
            }
            if (parsed < 0) {
                throw new IllegalArgumentException("must not be negative");
            }
            return parsed;
        }, fallback);
    }

    /** {@link #count} that fits an int ("must be at most 2147483647"). */
    public int intCount(String key, int fallback) {
        return intCount(key, fallback, 0);
    }

    /** {@link #intCount} of at least {@code min} ("must be at least N"). */
    public int intCount(String key, int fallback, int min) {
        long parsed = countAtLeast(key, fallback, min);
        if (parsed > Integer.MAX_VALUE) {
            throw invalid(key, text(key, ""), "must be at most " + Integer.MAX_VALUE);
        }
        return (int) parsed;
    }

    /** {@link #count} of at least {@code min} ("must be at least N"). */
    public long countAtLeast(String key, long fallback, long min) {
        long parsed = count(key, fallback);
        if (parsed < min) {
            throw invalid(key, text(key, String.valueOf(parsed)), "must be at least " + min);
        }
        return parsed;
    }

    /**
     * A duration in James's syntax ({@code 500ms}, {@code 30s}, {@code 10m}, {@code 1h}, {@code 1d}; a bare
     * number is seconds), not negative and, when {@code max} is not null, at most {@code max}
     * ("must be between 0 and Ns").
     */
    public Duration duration(String key, Duration fallback, Duration max) {
        Duration parsed = value(key, text -> {
            try {
                return DurationParser.parse(text, ChronoUnit.SECONDS);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(DURATION_EXAMPLES);
            }
        }, fallback);
        if (parsed.isNegative() || (max != null && parsed.compareTo(max) > 0)) {
            throw invalid(key, text(key, parsed.toString()),
                max == null ? "must not be negative" : "must be between 0 and " + max.getSeconds() + "s");
        }
        return parsed;
    }

    /** {@link #duration} that must be longer than zero ("must be longer than 0"). */
    public Duration positiveDuration(String key, Duration fallback) {
        Duration parsed = duration(key, fallback, null);
        if (parsed.isZero()) {
            throw invalid(key, text(key, parsed.toString()), "must be longer than 0");
        }
        return parsed;
    }

    /** One of the constants of {@code type}, by its kebab-case {@link ConfigName#configName()} ("expected a, b or c"). */
    public <E extends Enum<E> & ConfigName> E choice(String key, Class<E> type, E fallback) {
        return value(key, text -> ConfigName.parse(type, text), fallback);
    }

    /** The exception for a bad value of {@code key}: names this source, the key and the value. */
    public InvalidConfigurationException invalid(String key, String value, String problem) {
        return new InvalidConfigurationException(source, key, value, problem);
    }
}
