package dev.relayguard.mailet;

import javax.mail.MessagingException;

import org.apache.mailet.base.GenericMatcher;

/**
 * A matcher that takes no condition: {@code match="dev.relayguard.mailet.IsRelayDenied"} is right,
 * {@code match="dev.relayguard.mailet.IsRelayDenied=anything"} stops James with
 * {@code mailetcontainer.xml: matcher IsRelayDenied takes no condition, got 'anything'}.
 */
public abstract class NoConditionMatcher extends GenericMatcher {
    /** @throws MessagingException when a condition is given */
    @Override
    public final void init() throws MessagingException {
        String condition = getCondition();
        if (condition != null && !condition.isBlank()) {
            throw new MessagingException("mailetcontainer.xml: matcher " + getClass().getSimpleName()
                + " takes no condition, got '" + condition + "'");
        }
    }
}
