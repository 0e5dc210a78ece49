package dev.relayguard;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.james.metrics.tests.RecordingMetricFactory;
import org.junit.jupiter.api.Test;

import dev.relayguard.config.PolicyFile;
import dev.relayguard.config.RelayGuardSettings;
import dev.relayguard.core.Client;
import dev.relayguard.core.FlakyHolds;
import dev.relayguard.core.Holds;
import dev.relayguard.core.MemoryAuthState;
import dev.relayguard.core.Suspensions;
import dev.relayguard.core.Outcome;
import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.Charge;
import dev.relayguard.limit.Limit;
import dev.relayguard.limit.LimitDecision;
import dev.relayguard.limit.LimiterStore;
import dev.relayguard.limit.Measure;
import dev.relayguard.limit.MemoryLimiterStore;
import dev.relayguard.limit.RateLimitPolicy;
import dev.relayguard.limit.RateLimiter;
import dev.relayguard.limit.Ticket;
import dev.relayguard.limit.TransactionCharges;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/** {@link SenderLimits}: charging, the SIZE= pre-check, suspensions and store health, on a fake clock. */
class SenderLimitsTest {
    private static final String USER = "alice@example.com";
    private static final String LIMITS = "<users><limit measure=\"messages\" max=\"2\" per=\"1m\"/>"
        + "<limit measure=\"bytes\" max=\"1000\" per=\"1h\"/></users>";
    private static final String SUSPENSION = "<containment><hits>2</hits><within>10m</within><suspendFor>1h</suspendFor></containment>";
    private static final RefusalContext CONTEXT = RefusalContext.smtp().build();

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    private final RecordingMetricFactory metrics = new RecordingMetricFactory();
    private final FlakyStore store = new FlakyStore(new MemoryLimiterStore(1000, clock::get));

    private RelayGuard guard(String rateLimitsBody) {
        RelayGuard guard = new RelayGuard(settings(rateLimitsBody), domain -> false, (user, sender) -> false,
            new RefusalRecorder(metrics), clock::get, store);
        guard.reloader().source(() -> settings(rateLimitsBody.replace("fail-open", "fail-closed")));
        return guard;
    }

    private static RelayGuardSettings settings(String rateLimitsBody) {
        String xml = "<relayguard><rateLimits>" + rateLimitsBody + "</rateLimits></relayguard>";
        return PolicyFile.parse(PolicyFile.parseXml(xml.getBytes(UTF_8), PolicyFile.FILE_NAME), PolicyFile.FILE_NAME);
    }

    private static RateLimitPolicy.Subject subject(SenderLimits limits) {
        return limits.rateSubject(Client.of(null, "Alice@Example.com")).orElseThrow();
    }

    @Test
    void theSubjectOfAUserIsKeyedInLowerCase() {
        SenderLimits limits = guard(LIMITS).senderLimits();

        assertThat(subject(limits).key()).isEqualTo("user:" + USER);
        assertThat(limits.rateSubject(Client.of(null, null))).isEmpty();
    }

    @Test
    void theDeclaredSizeCheckRefusesWhatCannotFitAndCountsNothing() {
        SenderLimits limits = guard(LIMITS).senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);
        limits.chargeRate(subject, Measure.BYTES, 600, CONTEXT);
        int acquiresBefore = store.acquires.get();

        RateLimiter.Result fits = limits.checkDeclaredSize(subject, 400, CONTEXT);
        RateLimiter.Result tooBig = limits.checkDeclaredSize(subject, 401, CONTEXT);

        assertThat(fits.verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(fits.ticket()).isSameAs(Ticket.NONE);
        assertThat(tooBig.verdict().reason()).isEqualTo(Reason.RATE_BYTES);
        assertThat(tooBig.verdict().text()).startsWith("Byte rate limit exceeded (1000 bytes per 1h), retry in ");
        assertThat(store.acquires.get()).as("no acquire, no release: read only").isEqualTo(acquiresBefore);
        assertThat(store.releases.get()).isZero();
        Map<Limit, Long> usage = store.usage(subject.key(), subject.limits().all());
        assertThat(usage.values()).containsExactlyInAnyOrder(0L, 600L);
    }

    @Test
    void aReloadedFailureModeAppliesAtTheNextChargeAndTheStoreHealthFollowsTheStore() {
        RelayGuard guard = guard(LIMITS + "<onStoreFailure>fail-open</onStoreFailure>");
        SenderLimits limits = guard.senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);
        store.failing.set(true);

        RateLimiter.Result open = limits.chargeRate(subject, Measure.MESSAGES, 1, CONTEXT);
        guard.reloader().reload();
        RateLimiter.Result closed = limits.chargeRate(subject, Measure.MESSAGES, 1, CONTEXT);
        RateLimiter.Result closedSize = limits.checkDeclaredSize(subject, 10, CONTEXT);

        assertThat(open.verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(open.degraded()).isTrue();
        assertThat(closed.verdict().reason()).isEqualTo(Reason.RATE_STORE_UNAVAILABLE);
        assertThat(closedSize.verdict().reason()).isEqualTo(Reason.RATE_STORE_UNAVAILABLE);
        assertThat(guard.recorder().degradedCount()).isEqualTo(3);
        assertThat(limits.storeHealthy()).isFalse();
        assertThat(limits.lastStoreError()).endsWith(" Redis is down");

        store.failing.set(false);
        assertThat(limits.chargeRate(subject, Measure.MESSAGES, 1, CONTEXT).degraded()).isFalse();
        assertThat(limits.storeHealthy()).isTrue();
    }

    @Test
    void repeatedLimitHitsSuspendAndTheRetryTimeComesFromTheInjectedClock() {
        SenderLimits limits = guard(LIMITS + "<containment><hits>2</hits><within>10m</within><suspendFor>1h</suspendFor></containment>")
            .senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);
        limits.chargeRate(subject, Measure.MESSAGES, 2, CONTEXT);
        assertThat(limits.checkSuspension(subject, CONTEXT).outcome()).isEqualTo(Outcome.ALLOWED);

        limits.chargeRate(subject, Measure.MESSAGES, 1, CONTEXT);
        limits.chargeRate(subject, Measure.MESSAGES, 1, CONTEXT);
        clock.addAndGet(60 * 60 * 1000 - 90_000); // 90 s of the hour left, on the fake clock only

        Verdict suspended = limits.checkSuspension(subject, CONTEXT);
        assertThat(suspended.reason()).isEqualTo(Reason.RATE_SUSPENDED);
        assertThat(suspended.text()).isEqualTo("Account suspended from sending after repeated rate limit hits, retry in 90 s");
        assertThat(metrics.countFor(RefusalRecorder.SUSPENSIONS_METRIC)).isEqualTo(1);
    }

    @Test
    void anAllowedChargeIsCountedOnItsPathWithoutBuildingItsContextARefusalIsRecordedWithIt() {
        SenderLimits limits = guard(LIMITS).senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);
        AtomicInteger built = new AtomicInteger();
        java.util.function.Supplier<RefusalContext> context = () -> {
            built.incrementAndGet();
            return RefusalContext.smtp().authUser(USER).build();
        };

        RateLimiter.Result admitted = limits.chargeRate(subject, Measure.MESSAGES, 2, RefusalContext.SMTP, context);
        assertThat(admitted.verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(built).hasValue(0);
        String allowed = "relayguard.smtp." + Outcome.ALLOWED.metricWord() + "." + admitted.verdict().reason().code();
        assertThat(metrics.countFor(allowed)).isEqualTo(1);

        RateLimiter.Result refused = limits.chargeRate(subject, Measure.MESSAGES, 1, RefusalContext.SMTP, context);
        assertThat(refused.verdict().reason()).isEqualTo(Reason.RATE_MESSAGES);
        assertThat(built).hasValue(1);
        assertThat(metrics.countFor("relayguard.smtp." + refused.verdict().outcome().metricWord() + "." + Reason.RATE_MESSAGES.code()))
            .isEqualTo(1);
    }

    @Test
    void releaseAndCurrentReservationsGoToTheStore() {
        SenderLimits limits = guard(LIMITS).senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);
        RateLimiter.Result charged = limits.chargeRate(subject, Measure.MESSAGES, 2, CONTEXT);

        assertThat(limits.isRateReservationCurrent(charged.ticket())).isTrue();
        limits.releaseRate(charged.ticket());
        assertThat(limits.chargeRate(subject, Measure.MESSAGES, 2, CONTEXT).verdict().outcome()).isEqualTo(Outcome.ALLOWED);
    }

    /** A RelayGuard whose suspensions live in {@code suspensions} (a store that can go down). */
    private RelayGuard guard(String rateLimitsBody, FlakyHolds suspensions) {
        RelayGuardSettings settings = settings(rateLimitsBody);
        return new RelayGuard(settings, domain -> false, (user, sender) -> false, new RefusalRecorder(metrics), clock::get,
            store, new MemoryAuthState(settings.authLimits(), clock::get), new Suspensions(settings.probeBans().asHolds(), clock::get),
            suspensions);
    }

    private FlakyHolds flakySuspensions() {
        return new FlakyHolds(settings(LIMITS + SUSPENSION).rateLimits().suspension(), clock::get);
    }

    @Test
    void failOpenLetsASenderThroughWhenItsSuspensionCannotBeReadAndCountsItDegraded() {
        FlakyHolds suspensions = flakySuspensions();
        RelayGuard guard = guard(LIMITS + SUSPENSION + "<onStoreFailure>fail-open</onStoreFailure>", suspensions);
        SenderLimits limits = guard.senderLimits();
        suspensions.hold(subject(limits).key(), Holds.Hold.FOREVER, "operator: leaked");
        suspensions.down(true);

        Verdict verdict = limits.checkSuspension(subject(limits), CONTEXT);

        assertThat(verdict.outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(guard.recorder().degradedCount()).isEqualTo(1);
        assertThat(limits.storeHealthy()).isFalse();
        assertThat(limits.lastStoreError()).endsWith(" suspensions unavailable");

        suspensions.down(false);
        assertThat(limits.checkSuspension(subject(limits), CONTEXT).reason()).as("nothing lost").isEqualTo(Reason.RATE_SUSPENDED);
        assertThat(limits.chargeRate(subject(limits), Measure.MESSAGES, 1, CONTEXT).degraded()).isFalse();
        assertThat(limits.storeHealthy()).isTrue();
    }

    @Test
    void failClosedDefersASenderWhoseSuspensionCannotBeReadWith451() {
        FlakyHolds suspensions = flakySuspensions().down(true);
        RelayGuard guard = guard(LIMITS + SUSPENSION + "<onStoreFailure>fail-closed</onStoreFailure>", suspensions);
        SenderLimits limits = guard.senderLimits();

        Verdict verdict = limits.checkSuspension(subject(limits), CONTEXT);

        assertThat(verdict.outcome()).isEqualTo(Outcome.DEFERRED);
        assertThat(verdict.reason()).isEqualTo(Reason.RATE_STORE_UNAVAILABLE);
        assertThat(verdict.replyCode() + " " + verdict.enhancedStatus()).isEqualTo("451 4.3.0");
        assertThat(metrics.countFor("relayguard.deferred.rate.store-unavailable")).isEqualTo(1);
        assertThat(guard.recorder().degradedCount()).isEqualTo(1);
        assertThat(limits.storeHealthy()).isFalse();
    }

    @Test
    void limitHitsWhileTheSuspensionsAreDownSuspendNobodyAndThrowNothing() {
        FlakyHolds suspensions = flakySuspensions().down(true);
        SenderLimits limits = guard(LIMITS + SUSPENSION, suspensions).senderLimits();
        limits.chargeRate(subject(limits), Measure.MESSAGES, 2, CONTEXT);

        for (int i = 0; i < 5; i++) {
            assertThat(limits.chargeRate(subject(limits), Measure.MESSAGES, 1, CONTEXT).limitHit()).isTrue();
        }

        assertThat(metrics.countFor(RefusalRecorder.SUSPENSIONS_METRIC)).isZero();
        suspensions.down(false);
        assertThat(suspensions.holdOf(subject(limits).key())).isNull();
    }

    // ----- MAIL: the suspension and the message charge in one call -----

    @Test
    void atMailASuspendedSenderIsRefusedAndNothingIsCountedAnUnsuspendedOneIsCharged() {
        FlakyHolds suspensions = flakySuspensions();
        RelayGuard guard = guard(LIMITS + SUSPENSION, suspensions);
        SenderLimits limits = guard.senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);

        RateLimiter.Result charged = limits.chargeRateUnlessSuspended(subject, Measure.MESSAGES, 1, RefusalContext.SMTP, () -> CONTEXT);
        suspensions.hold(subject.key(), clock.get() + 90_000, "operator: leaked");
        RateLimiter.Result suspended = limits.chargeRateUnlessSuspended(subject, Measure.MESSAGES, 1, RefusalContext.SMTP, () -> CONTEXT);

        assertThat(charged.verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(charged.suspension()).isNull();
        assertThat(charged.ticket()).isNotSameAs(Ticket.NONE);
        assertThat(suspended.verdict().reason()).isEqualTo(Reason.RATE_SUSPENDED);
        assertThat(suspended.verdict().text()).isEqualTo("Account suspended from sending by the postmaster, retry in 90 s");
        assertThat(suspended.suspension().reason()).isEqualTo("operator: leaked");
        assertThat(suspended.ticket()).isSameAs(Ticket.NONE);
        assertThat(suspended.limitHit()).as("a suspension is no limit hit").isFalse();
        assertThat(store.acquires).as("the suspended MAIL counted nothing").hasValue(1);
        assertThat(store.usage(subject.key(), subject.limits().all()).values()).containsExactlyInAnyOrder(1L, 0L);
        assertThat(metrics.countFor("relayguard.deferred.rate.suspended")).isEqualTo(1);
    }

    @Test
    void atMailASuspensionUnderAMonitorRuleIsRecordedAndTheMessageStillCharged() {
        FlakyHolds suspensions = flakySuspensions();
        SenderLimits limits = guard(LIMITS + SUSPENSION + "</rateLimits><rules><suspendedSender>monitor</suspendedSender></rules><rateLimits>",
            suspensions).senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);
        suspensions.hold(subject.key(), Holds.Hold.FOREVER, "operator: watch");

        RateLimiter.Result result = limits.chargeRateUnlessSuspended(subject, Measure.MESSAGES, 1, RefusalContext.SMTP, () -> CONTEXT);

        assertThat(result.verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(result.ticket()).as("charged after the monitored suspension").isNotSameAs(Ticket.NONE);
        assertThat(store.acquires).hasValue(1);
        assertThat(metrics.countFor("relayguard.monitored.rate.suspended")).isEqualTo(1);
    }

    @Test
    void atMailASuspensionThatCannotBeReadIsDecidedByTheFailureModeAndChargedOnlyUnderFailOpen() {
        RelayGuard open = guard(LIMITS + SUSPENSION + "<onStoreFailure>fail-open</onStoreFailure>", flakySuspensions().down(true));
        RelayGuard shut = guard(LIMITS + SUSPENSION + "<onStoreFailure>fail-closed</onStoreFailure>", flakySuspensions().down(true));
        RateLimitPolicy.Subject subject = subject(open.senderLimits());

        RateLimiter.Result opened = open.senderLimits().chargeRateUnlessSuspended(subject, Measure.MESSAGES, 1,
            RefusalContext.SMTP, () -> CONTEXT);
        RateLimiter.Result closed = shut.senderLimits().chargeRateUnlessSuspended(subject, Measure.MESSAGES, 1,
            RefusalContext.SMTP, () -> CONTEXT);

        assertThat(opened.verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(opened.ticket()).as("fail-open: the message is still charged").isNotSameAs(Ticket.NONE);
        assertThat(closed.verdict().reason()).isEqualTo(Reason.RATE_STORE_UNAVAILABLE);
        assertThat(closed.degraded()).isTrue();
        assertThat(store.acquires).as("fail-closed: nothing charged").hasValue(1);
        assertThat(open.recorder().degradedCount()).as("one degraded decision each (one metric factory)").isEqualTo(2);
        assertThat(open.senderLimits().lastStoreError()).endsWith(" suspensions unavailable");
    }

    // ----- the mail pipeline (ChargeSenderLimits): the suspension and all the charges in one call -----

    @Test
    void inThePipelineTheSuspensionAndEveryChargeAreOneStoreCallAllOrNothing() {
        FlakyHolds suspensions = flakySuspensions();
        SenderLimits limits = guard(LIMITS + SUSPENSION, suspensions).senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);
        List<Charge> message = new java.util.ArrayList<>(subject.limits().charges(Measure.MESSAGES, 1));
        message.addAll(subject.limits().charges(Measure.BYTES, 600));
        RefusalContext pipeline = RefusalContext.pipeline().build();

        RateLimiter.Result first = limits.chargeRateUnlessSuspended(subject, message, pipeline);
        RateLimiter.Result tooBig = limits.chargeRateUnlessSuspended(subject, message, pipeline);
        suspensions.hold(subject.key(), clock.get() + 60_000, "operator: leaked");
        RateLimiter.Result suspended = limits.chargeRateUnlessSuspended(subject, List.of(message.get(0)), pipeline);

        assertThat(first.verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(first.ticket()).isNotSameAs(Ticket.NONE);
        assertThat(tooBig.verdict().reason()).as("named after the limit that refused").isEqualTo(Reason.RATE_BYTES);
        assertThat(suspended.verdict().reason()).isEqualTo(Reason.RATE_SUSPENDED);
        assertThat(suspended.ticket()).isSameAs(Ticket.NONE);
        assertThat(store.usage(subject.key(), subject.limits().all()).values())
            .as("one message and its 600 bytes: the refused and the suspended ones counted nothing")
            .containsExactlyInAnyOrder(1L, 600L);
        assertThat(store.acquiresUnlessHeld).as("one store call per message").hasValue(3);
        assertThat(store.acquires).as("the suspended one charged nothing").hasValue(2);
        assertThat(metrics.countFor("relayguard.pipeline.deferred.rate.bytes")).isEqualTo(1);
        assertThat(metrics.countFor("relayguard.pipeline.deferred.rate.suspended")).isEqualTo(1);
    }

    /** A memory store that fails on demand, counting the writing calls. */
    private static final class FlakyStore implements LimiterStore {
        final LimiterStore delegate;
        final AtomicBoolean failing = new AtomicBoolean();
        final AtomicInteger acquires = new AtomicInteger();
        final AtomicInteger releases = new AtomicInteger();
        final AtomicInteger acquiresUnlessHeld = new AtomicInteger();

        FlakyStore(LimiterStore delegate) {
            this.delegate = delegate;
        }

        @Override
        public LimitDecision acquire(String key, List<Charge> charges) {
            acquires.incrementAndGet();
            return failing.get() ? LimitDecision.storeFailed("Redis is down") : delegate.acquire(key, charges);
        }

        @Override
        public HoldOrDecision acquireUnlessHeld(String key, List<Charge> charges, Holds holds, String holdKey) {
            acquiresUnlessHeld.incrementAndGet();
            return LimiterStore.super.acquireUnlessHeld(key, charges, holds, holdKey);
        }

        @Override
        public LimitDecision estimate(String key, List<Charge> charges) {
            return failing.get() ? LimitDecision.storeFailed("Redis is down") : delegate.estimate(key, charges);
        }

        @Override
        public void release(Ticket ticket) {
            releases.incrementAndGet();
            delegate.release(ticket);
        }

        @Override
        public boolean isCurrent(Ticket ticket) {
            return delegate.isCurrent(ticket);
        }

        @Override
        public Map<Limit, Long> usage(String key, List<Limit> limits) {
            return delegate.usage(key, limits);
        }

        @Override
        public void reset(String key) {
            delegate.reset(key);
        }

        @Override
        public long trackedKeys() {
            return delegate.trackedKeys();
        }

        @Override
        public String kind() {
            return "flaky";
        }
    }

    /**
     * MAIL reserving recipients: one store call and one allowed count when it fits; a recipient limit that does not
     * let the reservation fit is no refusal (nothing recorded; the message alone, a second call); a message limit or
     * a suspension is the MAIL's decision, recorded once.
     */
    @Test
    void mailReservingRecipientsRecordsOnlyTheMessagesDecision() {
        SenderLimits limits = guard("<users><limit measure=\"messages\" max=\"2\" per=\"1m\"/>"
            + "<limit measure=\"recipients\" max=\"5\" per=\"1m\"/></users>" + SUSPENSION).senderLimits();
        RateLimitPolicy.Subject subject = subject(limits);
        String allowed = "relayguard.smtp." + Outcome.ALLOWED.metricWord() + "." + Reason.RATE_OK.code();

        TransactionCharges.MailCharge reserved = limits.chargeMessageReserving(subject,
            subject.limits().messageWithRecipients(4), RefusalContext.SMTP, () -> CONTEXT);
        assertThat(reserved.reserved()).isTrue();
        assertThat(reserved.result().verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(store.acquires.get()).isEqualTo(1);
        assertThat(metrics.countFor(allowed)).isEqualTo(1);

        TransactionCharges.MailCharge alone = limits.chargeMessageReserving(subject,
            subject.limits().messageWithRecipients(4), RefusalContext.SMTP, () -> CONTEXT);
        assertThat(alone.reserved()).as("1 recipient of 5 left: no reservation").isFalse();
        assertThat(alone.result().verdict().outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(store.acquires.get()).isEqualTo(3);
        assertThat(metrics.countFor(allowed)).isEqualTo(2);
        assertThat(metrics.countFor("relayguard.deferred." + Reason.RATE_RECIPIENTS.code())).isZero();
        assertThat(store.usage(subject.key(), subject.limits().all()).values()).containsExactlyInAnyOrder(2L, 4L);

        TransactionCharges.MailCharge third = limits.chargeMessageReserving(subject,
            subject.limits().messageWithRecipients(1), RefusalContext.SMTP, () -> CONTEXT);
        assertThat(third.reserved()).isFalse();
        assertThat(third.result().verdict().reason()).isEqualTo(Reason.RATE_MESSAGES);
        assertThat(store.acquires.get()).as("a message limit: the MAIL's refusal, no second call").isEqualTo(4);
        assertThat(metrics.countFor("relayguard.deferred." + Reason.RATE_MESSAGES.code())).isEqualTo(1);

        limits.chargeRate(subject, Measure.MESSAGES, 1, CONTEXT); // the second hit: suspended (SUSPENSION: 2 hits)
        TransactionCharges.MailCharge suspended = limits.chargeMessageReserving(subject,
            subject.limits().messageWithRecipients(1), RefusalContext.SMTP, () -> CONTEXT);
        assertThat(suspended.reserved()).isFalse();
        assertThat(suspended.result().verdict().reason()).isEqualTo(Reason.RATE_SUSPENDED);
        assertThat(metrics.countFor("relayguard.deferred." + Reason.RATE_SUSPENDED.code())).isEqualTo(1);
    }
}
