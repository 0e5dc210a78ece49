package dev.relayguard.limit;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/** The limits of one subject, by measure; a measure may carry several windows (20 per 1m and 500 per 1d). */
public final class LimitSet {
    public static final LimitSet NONE = new LimitSet(new EnumMap<>(Measure.class));

    private final Map<Measure, List<Limit>> byMeasure;

    /** {@code charges(measure, 1)} of every measure, made once: messages and recipients are charged one at a time. */
    private final Map<Measure, List<Charge>> unitCharges;
    /** {@link #messageWithRecipients}{@code (n)} at index n, made at its first use (immutable lists: a race builds an equal one). */
    private final List<?>[] messageWithRecipients = new List<?>[MAX_RESERVED_RECIPIENTS + 1];
    /** See {@link #maxReservedRecipients()}: made once. */
    private final int maxReservedRecipients;
    private final boolean empty;

    /** The most recipients {@link #messageWithRecipients} counts with a message. */
    public static final int MAX_RESERVED_RECIPIENTS = 20;

    private LimitSet(Map<Measure, List<Limit>> byMeasure) {
        this.byMeasure = byMeasure;
        this.empty = byMeasure.values().stream().allMatch(List::isEmpty);
        this.unitCharges = new EnumMap<>(Measure.class);
        for (Measure measure : Measure.values()) {
            unitCharges.put(measure, build(measure, 1));
        }
        long reservable = limits(Measure.RECIPIENTS).isEmpty() ? 0 : MAX_RESERVED_RECIPIENTS;
        for (Limit limit : limits(Measure.RECIPIENTS)) {
            reservable = Math.min(reservable, limit.max());
        }
        this.maxReservedRecipients = (int) reservable;
    }

    /** @throws IllegalArgumentException when two limits share a measure and a window (they would share counters) */
    public static LimitSet of(List<Limit> limits) {
        Map<Measure, List<Limit>> byMeasure = new EnumMap<>(Measure.class);
        Set<String> counters = new HashSet<>();
        for (Limit limit : limits) {
            if (!counters.add(limit.counterId())) {
                throw new IllegalArgumentException("two limits on " + limit.measure().configName() + " per "
                    + SlidingWindow.humanDuration(limit.window()) + ": keep one");
            }
            byMeasure.computeIfAbsent(limit.measure(), m -> new ArrayList<>()).add(limit);
        }
        byMeasure.replaceAll((m, list) -> List.copyOf(list));
        return new LimitSet(byMeasure);
    }

    /** This set, with every measure that {@code override} defines replaced by the override's limits. */
    public LimitSet overriddenBy(LimitSet override) {
        Map<Measure, List<Limit>> merged = new EnumMap<>(Measure.class);
        merged.putAll(byMeasure);
        merged.putAll(override.byMeasure);
        return new LimitSet(merged);
    }

    public List<Limit> limits(Measure measure) {
        return byMeasure.getOrDefault(measure, List.of());
    }

    public List<Limit> all() {
        return byMeasure.values().stream().flatMap(List::stream).collect(Collectors.toList());
    }

    public boolean isEmpty() {
        return empty;
    }

    /** One charge of {@code amount} against every limit of {@code measure}; an immutable list (stores keep it as it is). */
    public List<Charge> charges(Measure measure, long amount) {
        return amount == 1 ? unitCharges.get(measure) : build(measure, amount);
    }

    /**
     * One message and {@code recipients} recipients, against every limit of both measures, as one list (one store call
     * counts all or none): MAIL reserving its transaction's recipients ahead of their RCPTs.
     *
     * @param recipients 1 to {@link #MAX_RESERVED_RECIPIENTS}
     * @throws IllegalArgumentException for another count
     */
    @SuppressWarnings("unchecked")
    public List<Charge> messageWithRecipients(int recipients) {
        if (recipients < 1 || recipients > MAX_RESERVED_RECIPIENTS) {
            throw new IllegalArgumentException("recipients reserved with a message: 1 to " + MAX_RESERVED_RECIPIENTS + ", not " + recipients);
        }
        List<Charge> made = (List<Charge>) messageWithRecipients[recipients];
        if (made == null) {
            List<Charge> both = new ArrayList<>(unitCharges.get(Measure.MESSAGES));
            both.addAll(charges(Measure.RECIPIENTS, recipients));
            made = List.copyOf(both);
            messageWithRecipients[recipients] = made;
        }
        return made;
    }

    /**
     * The most recipients a MAIL may reserve with its message: {@link #MAX_RESERVED_RECIPIENTS}, or the smallest
     * recipient limit when lower; 0 without a recipient limit (nothing to reserve).
     */
    public int maxReservedRecipients() {
        return maxReservedRecipients;
    }

    private List<Charge> build(Measure measure, long amount) {
        List<Limit> limits = limits(measure);
        Charge[] charges = new Charge[limits.size()];
        for (int i = 0; i < charges.length; i++) {
            charges[i] = new Charge(limits.get(i), amount);
        }
        return List.of(charges);
    }

    @Override
    public String toString() {
        return all().stream().map(Limit::toString).collect(Collectors.joining(", ", "[", "]"));
    }
}
