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

    /** Store calls that count ({@code acquire}), whatever the meter. */
    private final AtomicLong acquisitions = new AtomicLong();
    /** The SMTP hooks' meter at MAIL: reserves recipients with the message when every limit admits them. */
    private final TransactionCharges.Meter reserving = new TransactionCharges.Meter() {
        @Override
        public RateLimiter.Result charge(RateLimitPolicy.Subject subject, Measure measure, long amount) {
            acquisitions.incrementAndGet();
            return meter.charge(subject, measure, amount);
        }

        @Override
        public TransactionCharges.MailCharge chargeReserving(RateLimitPolicy.Subject subject, List<Charge> messageWithRecipients) {
            acquisitions.incrementAndGet();
            RateLimiter.Result result = limiter.charge(subject, messageWithRecipients, null, RateLimiter.FailureMode.FAIL_OPEN);
            if (result.limitHit() && result.verdict().reason() == Reason.RATE_RECIPIENTS) {
                return new TransactionCharges.MailCharge(charge(subject, Measure.MESSAGES, 1), false);
            }
            return new TransactionCharges.MailCharge(result, result.verdict().isAllowed());
        }

        @Override
        public boolean isCurrent(Ticket ticket) {
            return meter.isCurrent(ticket);
        }

        @Override
        public void release(Ticket ticket) {
            meter.release(ticket);
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

    @Test
    void mailReservesRecipientsThatRcptsTakeWithoutAStoreCall() {
        TransactionCharges charges = new TransactionCharges(ALICE);

        assertThat(charges.chargeMessage(reserving, 2)).isEmpty();
        assertThat(used(MESSAGES)).isEqualTo(1);
        assertThat(used(RECIPIENTS)).as("reserved at MAIL").isEqualTo(2);
        assertThat(charges.chargeRecipient("a@remote.org", reserving)).isEmpty();
        assertThat(charges.chargeRecipient("b@remote.org", reserving)).isEmpty();
        assertThat(acquisitions.get()).as("one store call: MAIL's").isEqualTo(1);
        assertThat(charges.reservedUnused()).isZero();

        assertThat(charges.chargeRecipient("c@remote.org", reserving)).as("past the reservation: a charge of its own").isEmpty();
        assertThat(acquisitions.get()).isEqualTo(2);
        assertThat(used(RECIPIENTS)).isEqualTo(3);
        charges.commit(reserving);
        assertThat(used(RECIPIENTS)).isEqualTo(3);
        assertThat(used(MESSAGES)).isEqualTo(1);
        charges.release(reserving); // after a commit, nothing is given back
        assertThat(used(RECIPIENTS)).isEqualTo(3);
    }

    @Test
    void commitGivesBackTheReservedRecipientsNoRcptTook() {
        TransactionCharges charges = new TransactionCharges(ALICE);
        assertThat(charges.chargeMessage(reserving, 3)).isEmpty();
        assertThat(charges.chargeRecipient("a@remote.org", reserving)).isEmpty();
        assertThat(used(RECIPIENTS)).isEqualTo(3);

        charges.commit(reserving);

        assertThat(used(RECIPIENTS)).isEqualTo(1);
        assertThat(used(MESSAGES)).isEqualTo(1);
    }

    @Test
    void anAbortedTransactionGivesBackItsWholeReservation() {
        TransactionCharges charges = new TransactionCharges(ALICE);
        assertThat(charges.chargeMessage(reserving, 2)).isEmpty();
        assertThat(charges.chargeRecipient("a@remote.org", reserving)).isEmpty();

        charges.release(reserving);

        assertThat(used(MESSAGES)).isZero();
        assertThat(used(RECIPIENTS)).isZero();
        assertThat(charges.tickets()).isEmpty();
    }

    @Test
    void aRecipientJamesRefusedLaterReturnsToTheReservation() {
        TransactionCharges charges = new TransactionCharges(ALICE);
        assertThat(charges.chargeMessage(reserving, 2)).isEmpty();
        assertThat(charges.chargeRecipient("a@remote.org", reserving)).isEmpty();
        assertThat(charges.chargeRecipient("b@remote.org", reserving)).isEmpty();

        charges.releaseRecipientsNotIn(List.of("b@remote.org"), reserving);
        assertThat(charges.reservedUnused()).isEqualTo(1);
        charges.commit(reserving);

        assertThat(charges.recipients()).isEmpty();
        assertThat(used(RECIPIENTS)).isEqualTo(1);
    }

    @Test
    void nearTheLimitNothingIsReservedAndRecipientsAreChargedOneByOne() {
        TransactionCharges first = new TransactionCharges(ALICE);
        assertThat(first.chargeMessage(reserving, 2)).isEmpty();
        first.chargeRecipient("a@remote.org", reserving);
        first.chargeRecipient("b@remote.org", reserving);
        first.commit(reserving); // 2 of 3 recipients used this minute

        TransactionCharges second = new TransactionCharges(ALICE);
        assertThat(second.chargeMessage(reserving, 2)).as("the reservation does not fit: the message alone").isEmpty();
        assertThat(acquisitions.get()).as("MAIL: the reservation tried, then the message alone").isEqualTo(3);
        assertThat(second.reservationRefused()).isTrue();
        assertThat(first.reservationRefused()).isFalse();
        assertThat(second.reservedUnused()).isZero();
        assertThat(used(MESSAGES)).isEqualTo(2);
        assertThat(used(RECIPIENTS)).isEqualTo(2);
        assertThat(second.chargeRecipient("c@remote.org", reserving)).isEmpty();
        Optional<Verdict> fourth = second.chargeRecipient("d@remote.org", reserving);

        assertThat(fourth).map(Verdict::reason).contains(Reason.RATE_RECIPIENTS);
        assertThat(used(RECIPIENTS)).isEqualTo(3);
    }

    @Test
    void aReservationNeverExceedsTheSmallestRecipientLimit() {
        TransactionCharges charges = new TransactionCharges(ALICE);

        assertThat(charges.chargeMessage(reserving, 50)).isEmpty();

        assertThat(charges.reservedUnused()).as("3 recipients per minute").isEqualTo(3);
        assertThat(used(RECIPIENTS)).isEqualTo(3);
    }

    @Test
    void aStaleReservationIsCountedAgainAsTheRecipientsTaken() {
        TransactionCharges charges = new TransactionCharges(ALICE);
        assertThat(charges.chargeMessage(reserving, 3)).isEmpty();
        assertThat(charges.chargeRecipient("a@remote.org", reserving)).isEmpty();
        clock.addAndGet(67_000);

        assertThat(charges.recountIfStale(reserving)).isEmpty();
        charges.commit(reserving);

        assertThat(used(MESSAGES)).isEqualTo(1);
        assertThat(used(RECIPIENTS)).isEqualTo(1);
    }

    @Test
    void aTicketsPartGivesBackThatPartOnlyInEitherForm() {
        Ticket counted = store.acquire(ALICE.key(), ALICE.limits().messageWithRecipients(3)).ticket();
        store.release(counted.part(ALICE.limits().charges(Measure.RECIPIENTS, 2)));
        assertThat(used(RECIPIENTS)).isEqualTo(1);
        assertThat(used(MESSAGES)).isEqualTo(1);

        Ticket more = counted.part(List.of(new Charge(RECIPIENTS, 5), new Charge(BYTES, 10)));
        assertThat(more.charges()).as("capped at what the ticket counted; a limit it did not count left out")
            .singleElement().satisfies(charge -> assertThat(charge.amount()).isEqualTo(3));

        Ticket entries = new Ticket(ALICE.key(), counted.entries());
        Ticket part = entries.part(ALICE.limits().charges(Measure.RECIPIENTS, 1));
        assertThat(part.entries()).singleElement().satisfies(entry -> {
            assertThat(entry.counterId()).isEqualTo(RECIPIENTS.counterId());
            assertThat(entry.amount()).isEqualTo(1);
        });
        store.release(part);
        assertThat(used(RECIPIENTS)).isZero();
        assertThat(used(MESSAGES)).isEqualTo(1);
    }
}
