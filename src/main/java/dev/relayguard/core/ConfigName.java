package dev.relayguard.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * An enum whose constants an operator writes in a configuration file: {@link #configName()} is the constant's
 * name in kebab case ({@code KNOWN_ONLY} is {@code known-only}), and {@link #parse} reads it back. Implemented
 * by {@link Mode}, {@link ListenerRole}, {@link SenderOwnershipMode}, {@link SentByMailetPolicy},
 * {@code limit.Measure}, {@code limit.StoreKind} and {@code limit.RateLimiter.FailureMode}, so every word in the files is read one way.
 */
public interface ConfigName {
    /** The enum constant's Java name ({@link Enum#name()}). */
    String name();

    /** The word written in the configuration: the constant's name, lower case, {@code _} written {@code -}. */
    default String configName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * The constant of {@code type} that {@code text} names: its {@link #configName()} or its Java name, in any
     * case, surrounding blanks ignored.
     *
     * @throws IllegalArgumentException "expected a, b or c" (the config names) when {@code text} names none
     */
    static <E extends Enum<E> & ConfigName> E parse(Class<E> type, String text) {
        String word = text == null ? "" : text.trim();
        for (E constant : type.getEnumConstants()) {
            if (constant.configName().equalsIgnoreCase(word) || constant.name().equalsIgnoreCase(word)) {
                return constant;
            }
        }
        throw new IllegalArgumentException("expected " + words(type));
    }

    /** The accepted words, for messages: {@code "a or b"}, {@code "a, b or c"}, from four on {@code "one of a, b, c, d"}. */
    static <E extends Enum<E> & ConfigName> String words(Class<E> type) {
        List<String> names = new ArrayList<>();
        for (E constant : type.getEnumConstants()) {
            names.add(constant.configName());
        }
        int last = names.size() - 1;
        if (last >= 3) {
            return "one of " + String.join(", ", names);
        }
        return last == 0 ? names.get(0) : String.join(", ", names.subList(0, last)) + " or " + names.get(last);
    }
}
