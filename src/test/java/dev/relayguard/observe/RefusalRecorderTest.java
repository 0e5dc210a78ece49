package dev.relayguard.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.mockito.Mockito.when;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.james.metrics.api.Metric;
import org.apache.james.metrics.api.MetricFactory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;

class RefusalRecorderTest {
    private static final String REFUSED_UNAUTH = "relayguard.refused.relay.unauthenticated";
    private static final String MONITORED_UNAUTH = "relayguard.monitored.relay.unauthenticated";
    private static final String DEFERRED_UNAUTH = "relayguard.deferred.relay.unauthenticated";
    private static final String DEFERRED_LOOKUP = "relayguard.deferred.relay.domain-lookup-failed";

    private final Map<String, Metric> metrics = new LinkedHashMap<>();
    private MetricFactory metricFactory;
    private RefusalRecorder recorder;

    @BeforeEach
    void setUp() {
        metricFactory = mock(MetricFactory.class);
        when(metricFactory.generate(anyString()))
            .thenAnswer(invocation -> metrics.computeIfAbsent(invocation.getArgument(0), name -> mock(Metric.class)));
        recorder = new RefusalRecorder(metricFactory);
    }

    private static RefusalContext context() {
        return RefusalContext.smtp().sessionId("s1").clientIp("203.0.113.9").recipient("a@remote.org").build();
    }

    @Test
    void metricNames() {
        assertThat(RefusalRecorder.metricName(Outcome.REFUSED, Reason.RELAY_UNAUTHENTICATED)).isEqualTo(REFUSED_UNAUTH);
        assertThat(RefusalRecorder.metricName(Outcome.DEFERRED, Reason.LOCAL_DOMAIN_LOOKUP_FAILED)).isEqualTo(DEFERRED_LOOKUP);
    }

    @Test
    void constructorPreCreatesEveryRefusalCounter() {
        assertThat(metrics.keySet()).contains(REFUSED_UNAUTH, MONITORED_UNAUTH, DEFERRED_UNAUTH, DEFERRED_LOOKUP,
            "relayguard.refused.routing.percent-hack", "relayguard.deferred.session.too-many-refusals");
        // A reason that is always temporary has no refused or monitored counter.
        assertThat(metrics.keySet()).doesNotContain("relayguard.refused.relay.domain-lookup-failed",
            "relayguard.monitored.relay.domain-lookup-failed");
        // Written down, not computed by the code under test: 7 allowing reasons x 1 (accepted), 15 reasons with a
        // rule x 3 (refused, deferred, monitored), 10 + 2 (PROXY) + 6 (AUTH) reasons without a rule x 1 (their one reply),
        // plus degraded, suspensions, store-reset, suspicious logins, pipeline bounces suppressed and pipeline mails
        // held. A new Reason changes this number on purpose.
        assertThat(metrics).hasSize(7 + 15 * 3 + 10 + 2 + 6 + 6)
            .containsKeys("relayguard.pipeline.bounce-suppressed", "relayguard.pipeline.held", RefusalRecorder.DEGRADED_METRIC, RefusalRecorder.SUSPENSIONS_METRIC, RefusalRecorder.STORE_RESET_METRIC,
                RefusalRecorder.SUSPICIOUS_LOGINS_METRIC, "relayguard.refused.auth.failed", "relayguard.deferred.auth.client-banned",
                "relayguard.deferred.proxy.header-missing", "relayguard.deferred.proxy.not-a-balancer",
                "relayguard.deferred.probe.store-unavailable");
        verify(metricFactory).generate(REFUSED_UNAUTH);
        verify(metricFactory).generate(DEFERRED_LOOKUP);
        // No counter for reasons that allow.
        verify(metricFactory, never()).generate("relayguard.refused.relay.authenticated");
        // Pre-creation does not count anything.
        metrics.values().forEach(metric -> verifyNoInteractions(metric));
    }

    @Test
    void possibleOutcomesPerKindOfReason() {
        assertThat(RefusalRecorder.possibleOutcomes(Reason.AUTHENTICATED)).containsExactly(Outcome.ALLOWED);
        assertThat(RefusalRecorder.possibleOutcomes(Reason.RELAY_UNAUTHENTICATED))
            .containsExactly(Outcome.REFUSED, Outcome.DEFERRED, Outcome.MONITORED);
        assertThat(RefusalRecorder.possibleOutcomes(Reason.RATE_SUSPENDED))
            .containsExactly(Outcome.REFUSED, Outcome.DEFERRED, Outcome.MONITORED);
        assertThat(RefusalRecorder.possibleOutcomes(Reason.LOCAL_DOMAIN_LOOKUP_FAILED)).containsExactly(Outcome.DEFERRED);
        assertThat(RefusalRecorder.possibleOutcomes(Reason.SESSION_TOO_MANY_REFUSALS)).containsExactly(Outcome.DEFERRED);
        assertThat(RefusalRecorder.possibleOutcomes(Reason.ADDRESS_TOO_LONG)).containsExactly(Outcome.REFUSED);
        assertThat(metrics.keySet()).contains("relayguard.refused.address.too-long")
            .doesNotContain("relayguard.deferred.address.too-long", "relayguard.monitored.address.too-long",
                "relayguard.refused.session.too-many-refusals");
    }

    @Test
    void refusalIncrementsExactlyItsCounterOnce() {
        recorder.record(Verdict.refuse(Reason.RELAY_UNAUTHENTICATED, "550", "5.7.1", "Relaying denied"), context());

        verify(metrics.get(REFUSED_UNAUTH), times(1)).increment();
        verifyNoInteractions(metrics.get(MONITORED_UNAUTH), metrics.get(DEFERRED_UNAUTH), metrics.get(DEFERRED_LOOKUP));
    }

    @Test
    void deferralIncrementsTheDeferredCounter() {
        recorder.record(Verdict.defer(Reason.LOCAL_DOMAIN_LOOKUP_FAILED, "451", "4.3.0", "try later"), context());

        verify(metrics.get(DEFERRED_LOOKUP), times(1)).increment();
        verifyNoInteractions(metrics.get(REFUSED_UNAUTH), metrics.get(MONITORED_UNAUTH), metrics.get(DEFERRED_UNAUTH));
    }

    @Test
    void twoRefusalsCountTwice() {
        Verdict refused = Verdict.refuse(Reason.RELAY_UNAUTHENTICATED, "550", "5.7.1", "Relaying denied");
        recorder.record(refused, context());
        recorder.record(refused, context());
        verify(metrics.get(REFUSED_UNAUTH), times(2)).increment();
    }

    @Test
    void allowedVerdictIncrementsOnlyItsAcceptedCounters() {
        recorder.record(Verdict.allow(Reason.AUTHENTICATED), context());
        verify(metrics.get("relayguard.accepted.relay.authenticated"), times(1)).increment();
        verify(metrics.get("relayguard.smtp.accepted.relay.authenticated"), times(1)).increment();
        metrics.entrySet().stream().filter(entry -> !entry.getKey().endsWith("accepted.relay.authenticated"))
            .forEach(entry -> verifyNoInteractions(entry.getValue()));
    }

    @Test
    void monitoredVerdictIncrementsTheMonitoredCounter() {
        recorder.record(Verdict.refuse(Reason.RELAY_UNAUTHENTICATED, "550", "5.7.1", "Relaying denied")
            .under(dev.relayguard.core.Mode.MONITOR), context());

        verify(metrics.get(MONITORED_UNAUTH), times(1)).increment();
        verifyNoInteractions(metrics.get(REFUSED_UNAUTH), metrics.get(DEFERRED_UNAUTH));
    }

    @Test
    void aSuppressedBounceAndAHeldMailCountOnlyTheirOwnCounter() {
        RefusalContext pipeline = RefusalContext.pipeline().sessionId("mail-1").sender("victim@remote.example").build();

        recorder.recordBounceSuppressed(pipeline, "sender-unverified");
        recorder.recordHeld(pipeline, "memory://var/mail/relayguard-held/");
        recorder.recordHeld(pipeline, "memory://var/mail/relayguard-held/");

        verify(metrics.get("relayguard.pipeline.bounce-suppressed"), times(1)).increment();
        verify(metrics.get("relayguard.pipeline.held"), times(2)).increment();
        metrics.entrySet().stream().filter(entry -> !entry.getKey().startsWith("relayguard.pipeline."))
            .forEach(entry -> verifyNoInteractions(entry.getValue()));
        assertThat(recorder.counts()).containsKeys("relayguard.pipeline.bounce-suppressed", "relayguard.pipeline.held");
    }
}
