package dev.relayguard.core;

import java.util.function.LongSupplier;

/** {@link MemoryAuthState} keeps the {@link AuthStateContract}. */
class MemoryAuthStateContractTest extends AuthStateContract {

    @Override
    protected AuthState newState(AuthLimits limits, LongSupplier clock) {
        return new MemoryAuthState(limits, clock);
    }
}
