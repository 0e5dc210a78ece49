package dev.relayguard.guice;

import javax.inject.Provider;

import dev.relayguard.RelayGuard;
import dev.relayguard.config.InvalidConfigurationException;

/**
 * What Guice finds for {@link RelayGuard} when {@link RelayGuardModule} is not installed ({@code @ProvidedBy} on
 * {@link RelayGuard}): the handler, a matcher or a mailet of RelayGuard is configured but James's
 * {@code conf/extensions.properties} lacks the line
 *
 * <pre>{@code
 * guice.extension.module=dev.relayguard.guice.RelayGuardModule
 * }</pre>
 *
 * Asked for a {@link RelayGuard}, it throws an {@link InvalidConfigurationException} naming that line and file, which
 * stops James, instead of Guice's "No injectable constructor" naming a mailet. When the module is installed, its
 * binding wins and this class is never used.
 */
public final class ModuleNotInstalled implements Provider<RelayGuard> {
    /** The line James's {@code conf/extensions.properties} needs. */
    public static final String EXTENSION_LINE = "guice.extension.module=" + RelayGuardModule.class.getName();
    static final String FILE = "conf/extensions.properties";
    /** The line is quoted: Guice shortens unquoted class names in its messages ({@code =RelayGuardModule}). */
    static final String MESSAGE = "lacks the line \"" + EXTENSION_LINE + "\" (RelayGuard's handler, matchers and"
        + " mailets need the RelayGuard object that module binds). Add that line (several modules: one line, names"
        + " separated by commas) and put the RelayGuard jar in James's extensions-jars/ folder";

    /** @throws InvalidConfigurationException always, naming {@value #FILE} and {@link #EXTENSION_LINE} */
    @Override
    public RelayGuard get() {
        throw new InvalidConfigurationException(FILE, MESSAGE, null);
    }
}
