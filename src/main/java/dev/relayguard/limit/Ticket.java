package dev.relayguard.limit;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * What one admitted acquisition counted, so that it can be given back: refused attempts and transactions
 * aborted before the end of DATA consume nothing. Immutable, apart from being released once.
 *
 * <p>Two forms: a list of {@link Entry}s (the Redis store's, and any store's), or the charges and the time they
 * were counted at (the memory store's, {@link #counted}: nothing is built per admission; {@link #entries()}
 * derives the same entries when asked).
 */
public final class Ticket {
    /** Nothing was counted (nothing to limit, or the store was down and the policy fails open). */
    public static final Ticket NONE = new Ticket("", List.of());

    /** One counted amount: which counters, which sub-bucket, how much. */
    public static final class Entry {
        private final String counterId;
        private final long windowMillis;
        private final long bucket;
        private final long amount;

        public Entry(String counterId, long windowMillis, long bucket, long amount) {
            this.counterId = counterId;
            this.windowMillis = windowMillis;
            this.bucket = bucket;
            this.amount = amount;
        }

        public String counterId() {
            return counterId;
        }

        public long windowMillis() {
            return windowMillis;
        }

        public long bucket() {
            return bucket;
        }

        public long amount() {
            return amount;
        }
    }

    private static final AtomicIntegerFieldUpdater<Ticket> RELEASED = AtomicIntegerFieldUpdater.newUpdater(Ticket.class, "released");

    private final String key;
    /** The entries; null until asked for when the ticket was made from charges. */
    private List<Entry> entries;
    /** The charges counted at {@link #atMillis} (memory store), or null. */
    private final List<Charge> charges;
    private final long atMillis;
    private final Object owner;
    private volatile int released;

    public Ticket(String key, List<Entry> entries) {
        this(key, entries, null);
    }

    /**
     * @param owner what the store counted in (the memory store's per-key state), so that a ticket from before a
     *              reset or an eviction gives nothing back to the counters that replaced it; null when unknown
     */
    public Ticket(String key, List<Entry> entries, Object owner) {
        this(key, List.copyOf(entries), null, 0, owner);
    }

    private Ticket(String key, List<Entry> entries, List<Charge> charges, long atMillis, Object owner) {
        this.key = key;
        this.entries = entries;
        this.charges = charges;
        this.atMillis = atMillis;
        this.owner = owner;
    }

    /**
     * The ticket of charges all counted at {@code atMillis}, each in the sub-bucket of its window that
     * {@code atMillis} falls in.
     *
     * @param charges an immutable list (kept as it is)
     */
    static Ticket counted(String key, List<Charge> charges, long atMillis, Object owner) {
        return new Ticket(key, null, charges, atMillis, owner);
    }

    /** The charges of a {@link #counted} ticket, else null. */
    List<Charge> charges() {
        return charges;
    }

    /** When the charges of a {@link #counted} ticket were counted. */
    long atMillis() {
        return atMillis;
    }

    /**
     * The part of this ticket that counted {@code part}'s limits, in {@code part}'s amounts (each at most what this
     * ticket counted against that limit; a limit this ticket did not count is left out): a ticket of its own, which
     * gives that part back once. For a transaction that reserved more than it used ({@link TransactionCharges}); this
     * ticket must then never be released whole.
     */
    public Ticket part(List<Charge> part) {
        if (charges != null) {
            List<Charge> kept = new ArrayList<>(part.size());
            for (Charge charge : part) {
                for (Charge counted : charges) {
                    if (counted.limit().counterId().equals(charge.limit().counterId())) {
                        kept.add(charge.amount() <= counted.amount() ? charge : new Charge(counted.limit(), counted.amount()));
                        break;
                    }
                }
            }
            return counted(key, List.copyOf(kept), atMillis, owner);
        }
        List<Entry> kept = new ArrayList<>(part.size());
        for (Charge charge : part) {
            Limit limit = charge.limit();
            for (Entry entry : entries) {
                if (entry.counterId().equals(limit.counterId()) && entry.windowMillis() == limit.windowMillis()) {
                    kept.add(new Entry(entry.counterId(), entry.windowMillis(), entry.bucket(), Math.min(charge.amount(), entry.amount())));
                    break;
                }
            }
        }
        return new Ticket(key, kept, owner);
    }

    public Object owner() {
        return owner;
    }

    /** True the first time only: a ticket gives back what it counted once, however often it is released. */
    public boolean markReleased() {
        return RELEASED.compareAndSet(this, 0, 1);
    }

    public String key() {
        return key;
    }

    public List<Entry> entries() {
        List<Entry> built = entries;
        if (built == null) { // a counted ticket: derived from its charges, the same list every time (immutable)
            List<Entry> list = new ArrayList<>(charges.size());
            for (Charge charge : charges) {
                Limit limit = charge.limit();
                list.add(new Entry(limit.counterId(), limit.windowMillis(), Math.floorDiv(atMillis, limit.width()), charge.amount()));
            }
            built = List.copyOf(list);
            entries = built;
        }
        return built;
    }

    public boolean isEmpty() {
        return charges != null ? charges.isEmpty() : entries.isEmpty();
    }
}
