package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** {@link MemoryLimiterStore#estimate}: what acquire would answer, with nothing counted and nothing moved. */
class MemoryLimiterStoreEstimateTest {
    private static final Limit MESSAGES = new Limit(Measure.MESSAGES, 5, Duration.ofMinutes(1));
    private static final Limit BYTES = new Limit(Measure.BYTES, 1_000, Duration.ofHours(1));

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    private final MemoryLimiterStore store = new MemoryLimiterStore(100, clock::get);

    @Test
    void anUnknownKeyIsAdmittedAndNotCreated() {
        LimitDecision decision = store.estimate("user:new@example.com", List.of(new Charge(MESSAGES, 1)));

        assertThat(decision.isAdmitted()).isTrue();
        assertThat(decision.ticket()).isSameAs(Ticket.NONE);
        assertThat(store.trackedKeys()).isZero();
    }

    @Test
    void aChargeLargerThanTheLimitIsNeverAdmitted() {
        LimitDecision decision = store.estimate("k", List.of(new Charge(BYTES, 1_001)));

        assertThat(decision.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(decision.never()).isTrue();
        assertThat(decision.limit()).isEqualTo(BYTES);
    }

    @Test
    void aFullLimitIsRefusedWithAcquiresRetryAndNothingIsCounted() {
        for (int i = 0; i < 5; i++) {
            assertThat(store.acquire("k", List.of(new Charge(MESSAGES, 1))).isAdmitted()).isTrue();
            clock.addAndGet(7_000);
        }

        LimitDecision estimate = store.estimate("k", List.of(new Charge(MESSAGES, 1)));
        LimitDecision acquire = store.acquire("k", List.of(new Charge(MESSAGES, 1)));

        assertThat(estimate.kind()).isEqualTo(LimitDecision.Kind.REFUSED);
        assertThat(estimate.limit()).isEqualTo(MESSAGES);
        assertThat(estimate.retryAfterMillis()).isEqualTo(acquire.retryAfterMillis()).isPositive();
        assertThat(store.usage("k", List.of(MESSAGES))).containsEntry(MESSAGES, 5L);
    }

    @Test
    void anAdmittedEstimateCountsNothing() {
        store.acquire("k", List.of(new Charge(BYTES, 400)));

        for (int i = 0; i < 10; i++) {
            assertThat(store.estimate("k", List.of(new Charge(BYTES, 600))).isAdmitted()).isTrue();
        }

        assertThat(store.usage("k", List.of(BYTES))).containsEntry(BYTES, 400L);
        assertThat(store.acquire("k", List.of(new Charge(BYTES, 600))).isAdmitted()).isTrue();
        assertThat(store.estimate("k", List.of(new Charge(BYTES, 1))).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
    }

    @Test
    void anEstimateAtALaterTimeDoesNotMoveTheKeysClock() {
        store.acquire("k", List.of(new Charge(MESSAGES, 5)));
        // Estimate far in the future: everything counted has left the window then.
        clock.addAndGet(Duration.ofHours(2).toMillis());
        assertThat(store.estimate("k", List.of(new Charge(MESSAGES, 5))).isAdmitted()).isTrue();
        // Back to the time of the charge (a clock the store must not trust to be monotonic across keys):
        // the key's counts are still there, untouched by the estimate.
        clock.addAndGet(-Duration.ofHours(2).toMillis());
        assertThat(store.acquire("k", List.of(new Charge(MESSAGES, 1))).kind()).isEqualTo(LimitDecision.Kind.REFUSED);
    }

    @Test
    void estimateAlwaysAnswersWhatAcquireThenAnswers() {
        Random random = new Random(42);
        List<Limit> limits = List.of(MESSAGES, BYTES, new Limit(Measure.RECIPIENTS, 3, Duration.ofSeconds(10)));
        for (int step = 0; step < 5_000; step++) {
            clock.addAndGet(random.nextInt(3_000));
            String key = "user:" + random.nextInt(3);
            Limit limit = limits.get(random.nextInt(limits.size()));
            List<Charge> charges = List.of(new Charge(limit, 1 + random.nextInt((int) Math.min(limit.max(), 400))));

            LimitDecision estimate = store.estimate(key, charges);
            LimitDecision acquire = store.acquire(key, charges);

            assertThat(estimate.kind()).as("step %d", step).isEqualTo(acquire.kind());
            assertThat(estimate.limit()).isEqualTo(acquire.limit());
            assertThat(estimate.retryAfterMillis()).isEqualTo(acquire.retryAfterMillis());
            assertThat(estimate.never()).isEqualTo(acquire.never());
        }
    }
}
