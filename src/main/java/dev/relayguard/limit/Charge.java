package dev.relayguard.limit;

/** An amount to count against one limit, e.g. 1 recipient against "200 recipients per 1h". */
public final class Charge {
    private final Limit limit;
    private final long amount;

    public Charge(Limit limit, long amount) {
        if (amount < 0) {
            throw new IllegalArgumentException("negative charge");
        }
        this.limit = limit;
        this.amount = amount;
    }

    public Limit limit() {
        return limit;
    }

    public long amount() {
        return amount;
    }
}
