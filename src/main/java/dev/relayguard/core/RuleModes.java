package dev.relayguard.core;

import java.util.EnumMap;
import java.util.Map;

/** The {@link Mode} of every {@link Rule}; its {@link Rule#defaultMode()} unless configured otherwise. Immutable. */
public final class RuleModes {
    private static final RuleModes DEFAULTS = new RuleModes(new EnumMap<>(Rule.class));

    private final Map<Rule, Mode> modes;

    private RuleModes(Map<Rule, Mode> modes) {
        this.modes = modes;
    }

    public static RuleModes defaults() {
        return DEFAULTS;
    }

    /** @throws IllegalArgumentException when a rule is given a mode it may not have ({@link Rule#checkMode}) */
    public static RuleModes of(Map<Rule, Mode> configured) {
        EnumMap<Rule, Mode> copy = new EnumMap<>(Rule.class);
        copy.putAll(configured);
        for (Map.Entry<Rule, Mode> entry : copy.entrySet()) {
            entry.getKey().checkMode(entry.getValue());
        }
        return new RuleModes(copy);
    }

    public Mode modeOf(Rule rule) {
        return modes.getOrDefault(rule, rule.defaultMode());
    }

    public boolean isOff(Rule rule) {
        return modeOf(rule) == Mode.OFF;
    }

    /** The verdict as the mode of its reason's rule has it (reasons without a rule are returned unchanged). */
    public Verdict apply(Verdict verdict) {
        Rule rule = verdict.reason().rule();
        return rule == null ? verdict : verdict.under(modeOf(rule));
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("{");
        for (Rule rule : Rule.values()) {
            text.append(text.length() > 1 ? ", " : "").append(rule.configKey()).append('=').append(modeOf(rule).configName());
        }
        return text.append('}').toString();
    }
}
