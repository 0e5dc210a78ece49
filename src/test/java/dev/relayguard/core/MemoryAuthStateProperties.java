package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

/**
 * The client-ban rule of {@link MemoryAuthState} on random failure sequences, against the contract itself:
 *
 * <blockquote>N failures within T ban the client for B; the failures of a ban are spent; while banned nothing is
 * counted.</blockquote>
 *
 * The oracle keeps the counted failure times (those not during a ban, since the last ban started) and says a ban
 * starts exactly when N of them lie in the last T; so no interval of length T ever holds N counted failures without
 * a ban.
 */
class MemoryAuthStateProperties {
    private static final String CLIENT = "203.0.113.9";

    @Property(tries = 300)
    void aBanStartsExactlyWhenTheCountedFailuresOfTheLastWindowReachTheThreshold(
            @ForAll @IntRange(min = 1, max = 6) int failures,
            @ForAll @LongRange(min = 1, max = 100) long within,
            @ForAll @LongRange(min = 0, max = 100) long banFor,
            @ForAll @Size(min = 1, max = 80) List<@LongRange(min = 0, max = 60) Long> gaps) {
        AtomicLong clock = new AtomicLong(1_000_000L);
        MemoryAuthState state = new MemoryAuthState(new AuthLimits(3,
            new AuthLimits.Rule(failures, Duration.ofMillis(within), Duration.ofMillis(banFor)),
            new AuthLimits.Rule(0, Duration.ofMinutes(1), Duration.ZERO), 1, Duration.ofDays(1), 0, Duration.ZERO,
            10, 10), clock::get);
        List<Long> counted = new ArrayList<>();
        long bannedUntil = Long.MIN_VALUE;

        for (long gap : gaps) {
            long now = clock.addAndGet(gap);
            boolean bannedBefore = now < bannedUntil;
            assertThat(state.banOf(CLIENT) != null).isEqualTo(bannedBefore);

            AuthState.Block started = state.recordFailure(CLIENT, "user@example.com").banStarted();

            boolean shouldStart = false;
            if (!bannedBefore) {
                counted.add(now);
                long inWindow = counted.stream().filter(t -> now - t < within).count();
                if (inWindow >= failures) {
                    counted.clear();
                    bannedUntil = now + banFor;
                    shouldStart = banFor > 0;
                }
            }
            assertThat(started != null).as("ban started at %s", now).isEqualTo(shouldStart);
            if (started != null) {
                assertThat(started.untilMillis()).isEqualTo(bannedUntil);
            }
        }
    }
}
