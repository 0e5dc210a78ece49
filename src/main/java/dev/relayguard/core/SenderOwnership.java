package dev.relayguard.core;

/** Answers whether an authenticated user owns a sender address (in James: {@code CanSendFrom}, i.e. its RRT). */
@FunctionalInterface
public interface SenderOwnership {

    /**
     * @throws LocalDomains.LookupFailedException when the answer is unknown right now (the caller defers)
     */
    boolean owns(String authenticatedUser, String senderAddress) throws LocalDomains.LookupFailedException;
}
