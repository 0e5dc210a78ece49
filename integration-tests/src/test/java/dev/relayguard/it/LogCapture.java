package dev.relayguard.it;

import java.util.List;
import java.util.stream.Collectors;

import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

/** Captures what one logger writes (James logs through logback), to assert on log lines operators rely on. */
public final class LogCapture {
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    private LogCapture(String loggerName) {
        appender.start();
        Logger logger = (Logger) LoggerFactory.getLogger(loggerName);
        // The test classpath's logback default may sit at WARN; operators run these loggers at INFO.
        logger.setLevel(ch.qos.logback.classic.Level.INFO);
        logger.addAppender(appender);
    }

    public static LogCapture of(String loggerName) {
        return new LogCapture(loggerName);
    }

    public List<String> lines() {
        synchronized (appender.list) {
            return appender.list.stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
        }
    }

    public List<String> linesAt(String level) {
        synchronized (appender.list) {
            return appender.list.stream()
                .filter(event -> event.getLevel().toString().equals(level))
                .map(ILoggingEvent::getFormattedMessage)
                .collect(Collectors.toList());
        }
    }
}
