package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import dev.relayguard.core.Reason;
import dev.relayguard.core.Verdict;

/**
 * A transaction's charges against the in-memory store on a fake clock: what is counted, committed and given back.
 * "Committed" means the caller keeps the counts (drops the object); the store's usage is read after each step.
 */
class TransactionChargesTest {
    private static final Limit MESSAGES = new Limit(Measure.MESSAGES, 2, Duration.ofMinutes(1));
    private static final Limit RECIPIENTS = new Limit(Measure.RECIPIENTS, 3, Duration.ofMinutes(1));
    private static final Limit BYTES = new Limit(Measure.BYTES, 1000, Duration.ofMinutes(1));
    private static final RateLimitPolicy.Subject ALICE =
        new RateLimitPolicy.Subject("user:alice@example.com", LimitSet.of(List.of(MESSAGES, RECIPIENTS, BYTES)));

    private final AtomicLong clock = new AtomicLong(1_000_000_000L);
    private final MemoryLimiterStore store = new MemoryLimiterStore(100, clock::get);
    private final RateLimiter limiter = new RateLimiter(store, clock::get);
    private final TransactionCharges.Meter meter = new TransactionCharges.Meter() {
        @Override
        public RateLimiter.Result charge(RateLimitPolicy.Subject subject, Measure measure, long amount) {
            return limiter.charge(subject, measure, amount, RateLimiter.FailureMode.FAIL_OPEN);
        }

        @Override
        public boolean isCurrent(Ticket ticket) {
            return store.isCurrent(ticket);
        }

        @Override
        public void release(Ticket ticket) {
            store.release(ticket);
        }
    };

    private long used(Limit limit) {
        return store.usage(ALICE.key(), List.of(limit)).getOrDefault(limit, 0L);
    }

    private TransactionCharges transaction(String... recipients) {
        TransactionCharges charges = new TransactionCharges(ALICE);
        assertThat(charges.chargeMessage(meter)).isEmpty();
        for (String recipient : recipients) {
            assertThat(charges.chargeRecipient(recipient, meter)).as(recipient).isEmpty();
        }
        return charges;
    }

    @Test
    void countsTheMessageAndEachRecipientUntilReleased() {
        TransactionCharges charges = transaction("a@remote.org", "b@remote.org");
        assertThat(used(MESSAGES)).isEqualTo(1);
        assertThat(used(RECIPIENTS)).isEqualTo(2);
        assertThat(charges.recipients()).containsExactly("a@remote.org", "b@remote.org");

        charges.release(meter);

        assertThat(used(MESSAGES)).isZero();
        assertThat(used(RECIPIENTS)).isZero();
        assertThat(charges.tickets()).isEmpty();
        charges.release(meter); // twice gives back nothing more
        assertThat(used(MESSAGES)).isZero();
    }

    @Test
    void aRefusedChargeCountsNothingAndKeepsEarlierCharges() {
        TransactionCharges charges = transaction("a@remote.org", "b@remote.org", "c@remote.org");

        Optional<Verdict> fourth = charges.chargeRecipient("d@remote.org", meter);

        assertThat(fourth).map(Verdict::reason).contains(Reason.RATE_RECIPIENTS);
        assertThat(fourth.get().replyCode()).isEqualTo("450");
        assertThat(used(RECIPIENTS)).isEqualTo(3);
        assertThat(charges.recipients()).hasSize(3);
        assertThat(used(MESSAGES)).isEqualTo(1);
    }

    @Test
    void withoutRecipientLimitsRecipientsAreNotCounted() {
        RateLimitPolicy.Subject messagesOnly = new RateLimitPolicy.Subject("user:bob@example.com", LimitSet.of(List.of(MESSAGES)));
        TransactionCharges charges = new TransactionCharges(messagesOnly);

        assertThat(charges.chargeRecipient("a@remote.org", meter)).isEmpty();
        assertThat(charges.recipients()).isEmpty();
        assertThat(charges.chargeBytes(1_000_000, meter)).isEmpty();
    }

    @Test
    void recipientsJamesDidNotAcceptAreGivenBackOncePerAddress() {
        TransactionCharges charges = transaction("a@remote.org", "b@remote.org", "a@remote.org");

        charges.releaseRecipientsNotIn(List.of("a@remote.org"), meter);

        assertThat(charges.recipients()).containsExactly("a@remote.org");
        assertThat(used(RECIPIENTS)).isEqualTo(1);
    }

    @Test
    void bytesOverTheLimitGiveEverythingBack() {
        TransactionCharges charges = transaction("a@remote.org");

        Optional<Verdict> bytes = charges.chargeBytes(1001, meter);

        assertThat(bytes).map(Verdict::reason).contains(Reason.RATE_BYTES);
        assertThat(bytes.get().replyCode()).isEqualTo("452");
        assertThat(used(MESSAGES)).isZero();
        assertThat(used(RECIPIENTS)).isZero();
        assertThat(used(BYTES)).isZero();
    }

    @Test
    void aFreshTransactionIsNotCountedAgain() {
        TransactionCharges charges = transaction("a@remote.org");
        List<Ticket> before = charges.tickets();

        assertThat(charges.recountIfStale(meter)).isEmpty();

        assertThat(charges.tickets()).isEqualTo(before);
        assertThat(used(MESSAGES)).isEqualTo(1);
        assertThat(used(RECIPIENTS)).isEqualTo(1);
    }

    @Test
    void aStaleTransactionIsCountedAgainNow() {
        TransactionCharges charges = transaction("a@remote.org", "b@remote.org");
        clock.addAndGet(67_000); // the window has moved on: the reservation is from another part of it

        assertThat(charges.recountIfStale(meter)).isEmpty();

        assertThat(used(MESSAGES)).isEqualTo(1);
        assertThat(used(RECIPIENTS)).isEqualTo(2);
        assertThat(charges.recipients()).containsExactly("a@remote.org", "b@remote.org");
        charges.release(meter);
        assertThat(used(RECIPIENTS)).as("one ticket holds the recounted recipients").isZero();
    }

    @Test
    void aStaleTransactionOverTheLimitNowKeepsNothingCounted() {
        TransactionCharges held = transaction("a@remote.org");
        clock.addAndGet(67_000);
        transaction("b@remote.org");
        transaction("c@remote.org"); // two messages in the current minute: the limit

        Optional<Verdict> refusal = held.recountIfStale(meter);

        assertThat(refusal).map(Verdict::reason).contains(Reason.RATE_MESSAGES);
        assertThat(held.tickets()).isEmpty();
        assertThat(used(MESSAGES)).isEqualTo(2);
        assertThat(used(RECIPIENTS)).isEqualTo(2);
    }
}
