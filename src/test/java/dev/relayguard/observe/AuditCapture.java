package dev.relayguard.observe;

import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

/**
 * The lines one test writes on the {@value RefusalRecorder#AUDIT_LOGGER} logger, at INFO as operators run it:
 * {@code @RegisterExtension final AuditCapture audit = new AuditCapture();} then {@code audit.lines()}.
 */
public final class AuditCapture implements BeforeEachCallback, AfterEachCallback {
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(RefusalRecorder.AUDIT_LOGGER);

    @Override
    public void beforeEach(ExtensionContext context) {
        logger.setLevel(Level.INFO);
        appender.start();
        logger.addAppender(appender);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        logger.detachAppender(appender);
    }

    /** The formatted lines so far, oldest first. */
    public List<String> lines() {
        synchronized (appender.list) {
            return appender.list.stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
        }
    }
}
