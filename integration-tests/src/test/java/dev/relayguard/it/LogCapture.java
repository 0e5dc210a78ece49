package dev.relayguard.it;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

/** Captures what one logger writes (James logs through logback), to assert on log lines operators rely on. */
public final class LogCapture {
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    private LogCapture(String loggerName, ch.qos.logback.classic.Level level) {
        appender.start();
        Logger logger = (Logger) LoggerFactory.getLogger(loggerName);
        logger.setLevel(level);
        logger.addAppender(appender);
    }

    /** At INFO: the test classpath's logback default may sit at WARN; operators run these loggers at INFO. */
    public static LogCapture of(String loggerName) {
        return new LogCapture(loggerName, ch.qos.logback.classic.Level.INFO);
    }

    /** At DEBUG, for a test that shows what the logger said when it fails. */
    public static LogCapture ofDebug(String loggerName) {
        return new LogCapture(loggerName, ch.qos.logback.classic.Level.DEBUG);
    }

    /** Every captured event: time, level, thread, message and the first line of its throwable. */
    public String transcript() {
        return events().stream()
            .map(event -> java.time.Instant.ofEpochMilli(event.getTimeStamp()) + " " + event.getLevel() + " ["
                + event.getThreadName() + "] " + event.getFormattedMessage()
                + (event.getThrowableProxy() == null ? ""
                    : " | " + event.getThrowableProxy().getClassName() + ": " + event.getThrowableProxy().getMessage()))
            .collect(Collectors.joining("\n"));
    }

    public List<String> lines() {
        return events().stream().map(ILoggingEvent::getFormattedMessage).collect(Collectors.toList());
    }

    public List<String> linesAt(String level) {
        return events().stream()
            .filter(event -> event.getLevel().toString().equals(level))
            .map(ILoggingEvent::getFormattedMessage)
            .collect(Collectors.toList());
    }

    /**
     * A copy of the events so far. Logback appends under the appender's own lock ({@code AppenderBase.doAppend} is
     * synchronized on the appender), not the list's: reading the list under any other lock while another thread logs
     * fails with a ConcurrentModificationException.
     */
    private List<ILoggingEvent> events() {
        synchronized (appender) {
            return new ArrayList<>(appender.list);
        }
    }
}
