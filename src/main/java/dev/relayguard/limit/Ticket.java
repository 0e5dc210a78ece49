package dev.relayguard.limit;

import java.util.List;

/**
 * What one admitted acquisition counted, so that it can be given back: refused attempts and transactions
 * aborted before the end of DATA consume nothing. Immutable.
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

    private final String key;
    private final List<Entry> entries;
    private final Object owner;
    private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

    public Ticket(String key, List<Entry> entries) {
        this(key, entries, null);
    }

    /**
     * @param owner what the store counted in (the memory store's per-key state), so that a ticket from before a
     *              reset or an eviction gives nothing back to the counters that replaced it; null when unknown
     */
    public Ticket(String key, List<Entry> entries, Object owner) {
        this.key = key;
        this.entries = List.copyOf(entries);
        this.owner = owner;
    }

    public Object owner() {
        return owner;
    }

    /** True the first time only: a ticket gives back what it counted once, however often it is released. */
    public boolean markReleased() {
        return released.compareAndSet(false, true);
    }

    public String key() {
        return key;
    }

    public List<Entry> entries() {
        return entries;
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }
}
