package dev.relayguard.observe;

import java.util.EnumMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

import org.apache.james.metrics.api.Metric;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.metrics.api.TimeMetric;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;

/**
 * Counts and logs every refusal: one James {@link MetricFactory} counter per outcome and reason
 * ({@code relayguard.refused.relay.unauthenticated}), one more per door the mail came through
 * ({@code relayguard.smtp.refused.relay.unauthenticated}, {@code relayguard.pipeline.refused...}; visible over JMX as
 * {@code metrics:name=relayguard.refused.relay.unauthenticated,type=meters}) and one INFO line on the
 * dedicated {@value #AUDIT_LOGGER} logger.
 */
public final class RefusalRecorder {
    /** Route this logger in logback.xml to its own file to feed fail2ban or a SIEM. */
    public static final String AUDIT_LOGGER = "relayguard.audit";
    private static final Logger AUDIT = LoggerFactory.getLogger(AUDIT_LOGGER);

    /** Rate-limit decisions taken without the store (it failed; the failure mode decided). */
    public static final String DEGRADED_METRIC = "relayguard.rate.degraded";
    /** Times the rate-limit store lost every counter behind our back (Redis flushed or restarted without persistence). */
    public static final String STORE_RESET_METRIC = "relayguard.rate.store-reset";
    /** Accounts suspended automatically after repeated limit hits. */
    public static final String SUSPENSIONS_METRIC = "relayguard.rate.suspensions";
    /** The audit reason of a login from an unknown client after many failed logins against the account. */
    public static final String SUSPICIOUS_LOGIN_REASON = "auth.success-after-failures";
    /** Logins from an unknown client after many failed logins against the account (authLimits/successAfterFailures). */
    public static final String SUSPICIOUS_LOGINS_METRIC = "relayguard.auth.success-after-failures";
    /** Pipeline refusals whose sender got no bounce because nobody verified it (it may be forged: backscatter). */
    public static final String BOUNCE_SUPPRESSED_METRIC = "relayguard.pipeline.bounce-suppressed";
    /** Pipeline mails held, never bounced, after a temporary verdict (a lookup or store failure, a rule in defer mode). */
    public static final String HELD_METRIC = "relayguard.pipeline.held";
    /** Timer of the SMTP door's RCPT relay decisions (README, "Timers"). */
    public static final String RCPT_DECISION_TIMER = "relayguard.decision.rcpt";
    /** Timer of the SMTP door's MAIL FROM decisions. */
    public static final String MAIL_DECISION_TIMER = "relayguard.decision.mail";
    /** Timer of the SMTP door's From:/Sender: decisions (the headers' reading not included). */
    public static final String HEADER_DECISION_TIMER = "relayguard.decision.header";
    /** Timer of one rate-limit charge (one store call; two when a MAIL's recipient reservation does not fit). */
    public static final String STORE_TIMER = "relayguard.rate.store";

    private final Map<Outcome, Map<Reason, Metric>> counters = new EnumMap<>(Outcome.class);

    private final Metric degraded;
    private final Metric storeResets;
    private final Metric suspensions;
    private final Metric suspiciousLogins;
    private final Metric bouncesSuppressed;
    private final Metric held;
    private final MetricFactory metricFactory;
    /** Per door (smtp, pipeline): per outcome and reason, created at the first decision (no string work per call). */
    private final java.util.concurrent.ConcurrentHashMap<String, Map<Outcome, Map<Reason, Metric>>> perPath =
        new java.util.concurrent.ConcurrentHashMap<>();

    public RefusalRecorder(MetricFactory metricFactory) {
        this.metricFactory = metricFactory;
        this.degraded = metricFactory.generate(DEGRADED_METRIC);
        this.storeResets = metricFactory.generate(STORE_RESET_METRIC);
        this.suspensions = metricFactory.generate(SUSPENSIONS_METRIC);
        this.suspiciousLogins = metricFactory.generate(SUSPICIOUS_LOGINS_METRIC);
        this.bouncesSuppressed = metricFactory.generate(BOUNCE_SUPPRESSED_METRIC);
        this.held = metricFactory.generate(HELD_METRIC);
        // Created up front so every counter is visible over JMX (at 0) before the first refusal.
        for (Outcome outcome : Outcome.values()) {
            counters.put(outcome, new EnumMap<>(Reason.class));
        }
        for (Reason reason : Reason.values()) {
            for (Outcome outcome : possibleOutcomes(reason)) {
                counters.get(outcome).put(reason, metricFactory.generate(metricName(outcome, reason)));
            }
        }
        // James registers a timer at its first use: each is started once here and never published (no sample), so
        // that it shows over JMX with a count of 0 from start-up, as the counters do.
        for (String timer : new String[] {RCPT_DECISION_TIMER, MAIL_DECISION_TIMER, HEADER_DECISION_TIMER, STORE_TIMER}) {
            metricFactory.timer(timer);
        }
    }

    /**
     * The outcomes a reason can have: a rule's reason can be refused, deferred (defer mode) or monitored
     * (monitor mode); a reason without a rule has its one reply: always temporary (lookup failures, 421s) is only
     * ever deferred, always permanent (an address longer than SMTP carries) only ever refused.
     */
    public static Outcome[] possibleOutcomes(Reason reason) {
        if (!reason.isRefusal()) {
            return new Outcome[] {Outcome.ALLOWED};
        }
        if (reason.rule() == null) { // never softened: its own reply decides (4xx deferred, 5xx refused)
            return new Outcome[] {reason.replyCode().startsWith("4") ? Outcome.DEFERRED : Outcome.REFUSED};
        }
        return new Outcome[] {Outcome.REFUSED, Outcome.DEFERRED, Outcome.MONITORED};
    }

    public static String metricName(Outcome outcome, Reason reason) {
        return "relayguard." + outcome.metricWord() + "." + reason.code();
    }

    private Metric pathCounter(String path, Outcome outcome, Reason reason) {
        Map<Reason, Metric> byReason = perPath.computeIfAbsent(path, p -> {
            Map<Outcome, Map<Reason, Metric>> byOutcome = new EnumMap<>(Outcome.class);
            for (Outcome o : Outcome.values()) {
                byOutcome.put(o, new java.util.concurrent.ConcurrentHashMap<>());
            }
            return byOutcome;
        }).get(outcome);
        Metric metric = byReason.get(reason);
        if (metric == null) {
            metric = byReason.computeIfAbsent(reason, r -> metricFactory.generate(pathMetricName(path, outcome, r)));
        }
        return metric;
    }

    static String pathMetricName(String path, Outcome outcome, Reason reason) {
        return "relayguard." + path + "." + outcome.metricWord() + "." + reason.code();
    }

    /** A timer ({@code relayguard.decision.rcpt}, {@code relayguard.rate.store}), started now. */
    public TimeMetric startTimer(String name) {
        return metricFactory.timer(name);
    }

    /** Every RelayGuard counter with its count, by name. */
    public SortedMap<String, Long> counts() {
        SortedMap<String, Long> all = new TreeMap<>();
        counters.forEach((outcome, byReason) -> byReason.forEach((reason, metric) -> all.put(metricName(outcome, reason), metric.getCount())));
        perPath.forEach((path, byOutcome) -> byOutcome.forEach((outcome, byReason) ->
            byReason.forEach((reason, metric) -> all.put(pathMetricName(path, outcome, reason), metric.getCount()))));
        all.put(DEGRADED_METRIC, degraded.getCount());
        all.put(STORE_RESET_METRIC, storeResets.getCount());
        all.put(SUSPENSIONS_METRIC, suspensions.getCount());
        all.put(SUSPICIOUS_LOGINS_METRIC, suspiciousLogins.getCount());
        all.put(BOUNCE_SUPPRESSED_METRIC, bouncesSuppressed.getCount());
        all.put(HELD_METRIC, held.getCount());
        return all;
    }

    public long degradedCount() {
        return degraded.getCount();
    }

    /** Counts a verdict without an audit line (it is logged as part of another, e.g. the AUTH that closes a connection). */
    public void count(Verdict verdict, RefusalContext context) {
        count(verdict, context.path());
    }

    /**
     * Counts a verdict taken on a path ({@link RefusalContext#SMTP}, {@link RefusalContext#PIPELINE}): what
     * {@link #record} does for an allowed verdict, without the context an allowed verdict never logs.
     */
    public void count(Verdict verdict, String path) {
        counters.get(verdict.outcome()).get(verdict.reason()).increment();
        pathCounter(path, verdict.outcome(), verdict.reason()).increment();
    }

    public void recordDegraded() {
        degraded.increment();
    }

    public void recordStoreReset() {
        storeResets.increment();
    }

    public void recordSuspension() {
        suspensions.increment();
    }

    public void recordSuspiciousLogin() {
        suspiciousLogins.increment();
    }

    /**
     * Counts a refused pipeline mail whose sender gets no bounce ({@value #BOUNCE_SUPPRESSED_METRIC}) and writes
     * {@code outcome=bounce-suppressed ... why=<why>} on the audit logger.
     *
     * @param why why the sender gets none, e.g. {@code sender-unverified}
     */
    public void recordBounceSuppressed(RefusalContext context, String why) {
        bouncesSuppressed.increment();
        AUDIT.info(pipelineEvent("bounce-suppressed", context, "why", why));
    }

    /**
     * Counts a pipeline mail held after a temporary verdict ({@value #HELD_METRIC}) and writes
     * {@code outcome=held ... repository=<url>} on the audit logger.
     */
    public void recordHeld(RefusalContext context, String repository) {
        held.increment();
        AUDIT.info(pipelineEvent("held", context, "repository", repository));
    }

    private static String pipelineEvent(String outcome, RefusalContext context, String key, String value) {
        return AuditLine.event("outcome", outcome, "path", context.path(), "session", context.sessionId(), "ip", context.clientIp(),
            "user", context.authUser(), "sender", context.sender(), "rcpt", context.recipient(), key, value);
    }

    public void record(Verdict verdict, RefusalContext context) {
        count(verdict, context);
        if (verdict.isRecorded()) {
            AUDIT.info(AuditLine.format(verdict, context));
        }
    }
}
