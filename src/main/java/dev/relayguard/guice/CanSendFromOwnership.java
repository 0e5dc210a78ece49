package dev.relayguard.guice;

import org.apache.james.core.MailAddress;
import org.apache.james.core.Username;
import org.apache.james.rrt.api.CanSendFrom;

import dev.relayguard.core.LocalDomains;
import dev.relayguard.core.SenderOwnership;

/** {@link SenderOwnership} answered by James's {@link CanSendFrom}: the user's own address, or an alias its RRT maps to it. */
final class CanSendFromOwnership implements SenderOwnership {
    private final CanSendFrom canSendFrom;

    CanSendFromOwnership(CanSendFrom canSendFrom) {
        this.canSendFrom = canSendFrom;
    }

    @Override
    public boolean owns(String authenticatedUser, String senderAddress) throws LocalDomains.LookupFailedException {
        Username sender;
        try {
            sender = Username.fromMailAddress(new MailAddress(senderAddress));
        } catch (Exception e) {
            return false; // not an address anyone can own
        }
        try {
            return canSendFrom.userCanSendFrom(Username.of(authenticatedUser), sender);
        } catch (RuntimeException e) {
            throw new LocalDomains.LookupFailedException("CanSendFrom failed for " + senderAddress, e);
        }
    }
}
