package dev.relayguard.config;

/**
 * Invalid RelayGuard configuration. The message always names the file, the key and the offending value,
 * e.g. {@code relayguard.xml: trustedNetworks.network = '10.0.0.0/33': prefix length must be 0..32}.
 * Thrown while James starts, it stops James.
 */
public final class InvalidConfigurationException extends RuntimeException {

    public InvalidConfigurationException(String file, String key, String value, String problem) {
        super(file + ": " + key + " = '" + value + "': " + problem);
    }

    public InvalidConfigurationException(String file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
