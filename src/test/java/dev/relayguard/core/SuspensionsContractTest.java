package dev.relayguard.core;

import java.util.function.LongSupplier;

/** {@link Suspensions} in memory keeps the {@link HoldsContract}. */
class SuspensionsContractTest extends HoldsContract {

    @Override
    protected Holds newHolds(Holds.Settings settings, LongSupplier clock) {
        return new Suspensions(settings, clock);
    }
}
