package dev.relayguard.core;

/** Answers whether this server receives mail for a domain (in James: its {@code DomainList}). */
@FunctionalInterface
public interface LocalDomains {

    /**
     * @param canonicalDomain as given by {@link DomainName#canonical(String)}
     * @throws LookupFailedException when the answer is unknown right now (the caller defers, never relays)
     */
    boolean isLocal(String canonicalDomain) throws LookupFailedException;

    final class LookupFailedException extends Exception {
        public LookupFailedException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
