package dev.relayguard.mailet;

import java.util.function.Function;

import javax.mail.MessagingException;

import org.apache.mailet.base.GenericMailet;

import dev.relayguard.config.ConfigValues;
import dev.relayguard.config.InvalidConfigurationException;

/**
 * A mailet's init parameters read with RelayGuard's {@link ConfigValues}: the same strict parsing and the same
 * messages as the policy file, naming {@code mailetcontainer.xml}, the mailet, the parameter and the value
 * ({@code mailetcontainer.xml: RefuseRelay: bounce = 'maybe': expected true or false}). A bad value is the
 * {@link MessagingException} James expects from {@code init()}, which stops James.
 */
final class MailetParameters {
    private MailetParameters() {
    }

    /**
     * What {@code reader} reads from {@code mailet}'s parameters.
     *
     * @throws MessagingException with the {@link InvalidConfigurationException}'s message when a value is refused
     */
    static <T> T read(GenericMailet mailet, Function<ConfigValues, T> reader) throws MessagingException {
        ConfigValues values = ConfigValues.of("mailetcontainer.xml: " + mailet.getClass().getSimpleName(), mailet::getInitParameter);
        try {
            return reader.apply(values);
        } catch (InvalidConfigurationException e) {
            throw new MessagingException(e.getMessage(), e);
        }
    }
}
