package dev.relayguard.core;

import java.util.function.LongSupplier;

/** {@link MemoryBans} keeps the {@link HoldsContract}. */
class MemoryBansContractTest extends HoldsContract {

    @Override
    protected Holds newHolds(Holds.Settings settings, LongSupplier clock) {
        return new MemoryBans(settings, clock);
    }
}
