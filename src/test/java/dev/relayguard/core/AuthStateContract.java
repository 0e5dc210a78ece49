package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.relayguard.core.AuthLimits.Rule;
import dev.relayguard.core.AuthState.Block;
import dev.relayguard.core.AuthState.Failure;
import dev.relayguard.core.AuthState.Success;

/**
 * What every {@link AuthState} answers, on a fake clock: the counting rules of {@link AuthLimits} (thresholds,
 * sliding intervals, blocks that end, blocked keys that count nothing, known clients per account), lifting, the
 * lists of blocks and the bounds. {@link MemoryAuthStateContractTest} and {@code store.RedisAuthStateTest} run it.
 */
public abstract class AuthStateContract {
    private static final Duration BAN_WITHIN = Duration.ofMinutes(10);
    private static final Duration BAN_FOR = Duration.ofHours(1);
    private static final Duration THROTTLE_WITHIN = Duration.ofMinutes(15);
    private static final Duration THROTTLE_FOR = Duration.ofMinutes(20);
    private static final Duration REMEMBER = Duration.ofDays(30);

    /** 3 failures in 10 min ban a client 1 h; 4 in 15 min throttle an account 20 min; 2 known clients for 30 days. */
    protected static final AuthLimits LIMITS = limits(new Rule(3, BAN_WITHIN, BAN_FOR),
        new Rule(4, THROTTLE_WITHIN, THROTTLE_FOR), 2, 1_000, 1_000);

    protected final AtomicLong now = new AtomicLong(1_700_000_000_123L);
    private final List<AuthState> states = new ArrayList<>();

    /** A state with nothing in it yet, on {@code clock}. */
    protected abstract AuthState newState(AuthLimits limits, LongSupplier clock);

    protected static AuthLimits limits(Rule clientBan, Rule accountThrottle, int knownPerAccount, int maxClients,
                                       int maxAccounts) {
        return new AuthLimits(3, clientBan, accountThrottle, knownPerAccount, REMEMBER, 3, Duration.ZERO, maxClients,
            maxAccounts);
    }

    protected AuthState state(AuthLimits limits) {
        AuthState state = newState(limits, now::get);
        states.add(state);
        return state;
    }

    @AfterEach
    void closeStates() {
        states.forEach(AuthState::close);
    }

    private void advance(Duration duration) {
        now.addAndGet(duration.toMillis());
    }

    private void fail(AuthState state, String client, String account, int times) {
        for (int i = 0; i < times; i++) {
            assertThat(state.recordFailure(client, account).banStarted()).as("failure %d of %s", i + 1, client).isNull();
        }
    }

    // ----- spent failures, the one-call attempt check -----

    /** A short throttle (5 min) ends while its failures are still within the account's interval (15 min). */
    @Test
    void theFailuresThatStartedAThrottleAreSpentForTheNextOneButStillRecent() {
        AuthState state = state(limits(new Rule(0, BAN_WITHIN, BAN_FOR), new Rule(4, THROTTLE_WITHIN, Duration.ofMinutes(5)),
            2, 1_000, 1_000));
        for (int i = 0; i < 3; i++) {
            assertThat(state.recordFailure("192.0.2." + i, "alice").throttleStarted()).isNull();
        }
        assertThat(state.recordFailure("192.0.2.3", "alice").throttleStarted()).isNotNull();
        advance(Duration.ofMinutes(5));
        assertThat(state.throttleOf("alice")).isNull();

        for (int i = 0; i < 3; i++) {
            assertThat(state.recordFailure("192.0.2." + i, "alice").throttleStarted())
                .as("spent failures do not count towards the next throttle (failure %d after it)", i + 1).isNull();
        }
        assertThat(state.recordSuccess("alice", "198.51.100.1").recentFailures()).as("counted up to accountHistory").isEqualTo(4);
        assertThat(state.recordFailure("192.0.2.9", "alice").throttleStarted()).as("the 4th since the last throttle").isNotNull();
    }

    @Test
    void anAttemptIsBlockedByTheClientsBanOrByTheThrottleOfAnAccountThatDoesNotKnowTheClient() {
        AuthState state = state(LIMITS);
        state.recordSuccess("alice", "198.51.100.1");
        assertThat(state.checkAttempt("192.0.2.1", "alice")).isSameAs(AuthState.Attempt.FREE);
        fail(state, "192.0.2.1", "alice", 2);
        state.recordFailure("192.0.2.1", "alice"); // the client's 3rd: banned
        state.recordFailure("192.0.2.2", "alice"); // the account's 4th: throttled

        AuthState.Attempt banned = state.checkAttempt("192.0.2.1", "bob");
        assertThat(banned.ban()).extracting(Block::key).isEqualTo("192.0.2.1");
        assertThat(banned.throttle()).isNull();
        AuthState.Attempt stranger = state.checkAttempt("192.0.2.3", "alice");
        assertThat(stranger.ban()).isNull();
        assertThat(stranger.throttle()).extracting(Block::key, Block::untilMillis)
            .containsExactly("alice", now.get() + THROTTLE_FOR.toMillis());
        assertThat(state.checkAttempt("198.51.100.1", "alice")).as("a known client").isSameAs(AuthState.Attempt.FREE);
        assertThat(state.checkAttempt("192.0.2.3", "bob")).as("another account").isSameAs(AuthState.Attempt.FREE);
    }

    // ----- clients -----

    @Test
    void theThresholdWithinTheIntervalBansTheClient() {
        AuthState state = state(LIMITS);
        fail(state, "192.0.2.1", "alice", 2);
        assertThat(state.banOf("192.0.2.1")).isNull();

        long expectedEnd = now.get() + BAN_FOR.toMillis();
        Failure third = state.recordFailure("192.0.2.1", "bob");

        assertThat(third.banStarted()).isNotNull();
        assertThat(third.banStarted().key()).isEqualTo("192.0.2.1");
        assertThat(third.banStarted().untilMillis()).isEqualTo(expectedEnd);
        assertThat(third.throttleStarted()).isNull();
        assertThat(state.banOf("192.0.2.1")).extracting(Block::key, Block::untilMillis).containsExactly("192.0.2.1", expectedEnd);
        assertThat(state.banOf("192.0.2.2")).isNull();
        assertThat(state.bans()).extracting(Block::key, Block::untilMillis)
            .containsExactly(tuple("192.0.2.1", expectedEnd));
        assertThat(state.trackedClients()).isEqualTo(1);
    }

    @Test
    void aFailureAsOldAsTheIntervalNoLongerCounts() {
        AuthState state = state(LIMITS);
        fail(state, "192.0.2.1", "alice", 1);
        advance(Duration.ofMinutes(5));
        fail(state, "192.0.2.1", "alice", 1);
        advance(Duration.ofMinutes(5)); // the first failure is exactly 10 min old: out

        assertThat(state.recordFailure("192.0.2.1", "alice").banStarted()).isNull();
        advance(Duration.ofMillis(1));
        assertThat(state.recordFailure("192.0.2.1", "alice").banStarted()).as("three within 10 min").isNotNull();
    }

    @Test
    void aBanEndsAfterItsDurationAndCountingStartsAfresh() {
        AuthState state = state(LIMITS);
        fail(state, "2001:db8:1:2::/64", "alice", 2);
        Block ban = state.recordFailure("2001:db8:1:2::/64", "alice").banStarted();
        advance(BAN_FOR.minusMillis(1));
        assertThat(state.banOf("2001:db8:1:2::/64")).isNotNull();

        advance(Duration.ofMillis(1));

        assertThat(now.get()).isEqualTo(ban.untilMillis());
        assertThat(state.banOf("2001:db8:1:2::/64")).isNull();
        assertThat(state.bans()).isEmpty();
        fail(state, "2001:db8:1:2::/64", "alice", 2);
        assertThat(state.recordFailure("2001:db8:1:2::/64", "alice").banStarted()).isNotNull();
    }

    @Test
    void aBannedClientCountsNothingMoreButItsAccountStillCounts() {
        AuthState state = state(LIMITS);
        fail(state, "192.0.2.1", "alice", 2);
        Block ban = state.recordFailure("192.0.2.1", "alice").banStarted();
        advance(Duration.ofMinutes(1));
        Failure fourthOfAlice = state.recordFailure("192.0.2.1", "alice");
        assertThat(fourthOfAlice.banStarted()).isNull();
        assertThat(fourthOfAlice.throttleStarted()).as("alice's failures count from a banned client too").isNotNull();
        advance(Duration.ofMinutes(58));
        assertThat(state.recordFailure("192.0.2.1", "bob").banStarted()).as("banned: counts nothing").isNull();
        assertThat(state.banOf("192.0.2.1").untilMillis()).as("not extended").isEqualTo(ban.untilMillis());

        advance(Duration.ofMinutes(1));

        assertThat(state.banOf("192.0.2.1")).isNull();
        fail(state, "192.0.2.1", "bob", 2); // the failures during the ban did not count
        assertThat(state.recordFailure("192.0.2.1", "bob").banStarted()).isNotNull();
    }

    @Test
    void aRuleWithCountZeroIsOffAndTracksNothing() {
        AuthState state = state(limits(new Rule(0, BAN_WITHIN, BAN_FOR), new Rule(0, THROTTLE_WITHIN, THROTTLE_FOR),
            2, 1_000, 1_000));
        for (int i = 0; i < 10; i++) {
            assertThat(state.recordFailure("192.0.2.1", "alice")).isSameAs(Failure.NOTHING);
        }

        assertThat(state.banOf("192.0.2.1")).isNull();
        assertThat(state.throttleOf("alice")).isNull();
        assertThat(state.trackedClients()).isZero();
        Success success = state.recordSuccess("alice", "192.0.2.2");
        assertThat(success.recentFailures()).as("still counted for successAfterFailures: at most 3 kept").isEqualTo(3);
    }

    @Test
    void aBlockOfZeroDurationOnlyStartsTheCountAfresh() {
        AuthState state = state(limits(new Rule(3, BAN_WITHIN, Duration.ZERO), new Rule(4, THROTTLE_WITHIN, THROTTLE_FOR),
            2, 1_000, 1_000));
        fail(state, "192.0.2.1", "a", 3);

        assertThat(state.banOf("192.0.2.1")).isNull();
        assertThat(state.bans()).isEmpty();
        fail(state, "192.0.2.1", "b", 3);
    }

    // ----- accounts -----

    @Test
    void failuresFromManyClientsThrottleTheAccount() {
        AuthState state = state(LIMITS);
        for (int i = 1; i <= 3; i++) {
            assertThat(state.recordFailure("198.51.100." + i, "alice@example.com").throttleStarted()).isNull();
        }
        long expectedEnd = now.get() + THROTTLE_FOR.toMillis();

        Failure fourth = state.recordFailure("198.51.100.4", "alice@example.com");

        assertThat(fourth.throttleStarted()).extracting(Block::key, Block::untilMillis)
            .containsExactly("alice@example.com", expectedEnd);
        assertThat(fourth.banStarted()).isNull();
        assertThat(state.throttleOf("alice@example.com").untilMillis()).isEqualTo(expectedEnd);
        assertThat(state.throttleOf("bob@example.com")).isNull();
        assertThat(state.throttles()).extracting(Block::key).containsExactly("alice@example.com");
        assertThat(state.recordFailure("198.51.100.5", "alice@example.com").throttleStarted()).as("throttled: counts nothing").isNull();

        advance(THROTTLE_FOR);

        assertThat(state.throttleOf("alice@example.com")).isNull();
        assertThat(state.throttles()).isEmpty();
        assertThat(state.recordSuccess("alice@example.com", "198.51.100.9").recentFailures())
            .as("the throttle spent the failures before it; the one during it did not count").isZero();
    }

    @Test
    void accountKeysMayHoldAnyCharacter() {
        AuthState state = state(LIMITS);
        String account = "we}ird:{user} name@example.com";
        for (int i = 0; i < 3; i++) {
            state.recordFailure("192.0.2." + i, account);
        }
        assertThat(state.recordFailure("192.0.2.9", account).throttleStarted().key()).isEqualTo(account);
        assertThat(state.throttles()).extracting(Block::key).containsExactly(account);
        state.recordSuccess(account, "192.0.2.50");
        assertThat(state.isKnownClient(account, "192.0.2.50")).isTrue();
    }

    // ----- known clients and successful logins -----

    @Test
    void aClientIsKnownForRememberForAfterItsLastSuccess() {
        AuthState state = state(LIMITS);
        assertThat(state.isKnownClient("alice", "192.0.2.1")).isFalse();

        assertThat(state.recordSuccess("alice", "192.0.2.1").clientWasKnown()).isFalse();
        assertThat(state.isKnownClient("alice", "192.0.2.1")).isTrue();
        assertThat(state.isKnownClient("bob", "192.0.2.1")).isFalse();
        assertThat(state.isKnownClient("alice", "192.0.2.2")).isFalse();
        advance(Duration.ofDays(20));
        assertThat(state.recordSuccess("alice", "192.0.2.1").clientWasKnown()).isTrue(); // refreshed
        advance(Duration.ofDays(20));
        assertThat(state.isKnownClient("alice", "192.0.2.1")).isTrue();

        advance(Duration.ofDays(10)); // exactly 30 days after the last success

        assertThat(state.isKnownClient("alice", "192.0.2.1")).isFalse();
        assertThat(state.recordSuccess("alice", "192.0.2.1").clientWasKnown()).isFalse();
    }

    @Test
    void anAccountKeepsItsMostRecentKnownClients() {
        AuthState state = state(LIMITS); // 2 per account
        state.recordSuccess("alice", "192.0.2.1");
        advance(Duration.ofSeconds(1));
        state.recordSuccess("alice", "192.0.2.2");
        advance(Duration.ofSeconds(1));
        state.recordSuccess("alice", "192.0.2.1"); // .1 is now the most recent
        advance(Duration.ofSeconds(1));

        state.recordSuccess("alice", "192.0.2.3");

        assertThat(state.isKnownClient("alice", "192.0.2.1")).isTrue();
        assertThat(state.isKnownClient("alice", "192.0.2.2")).as("the least recent, dropped").isFalse();
        assertThat(state.isKnownClient("alice", "192.0.2.3")).isTrue();
    }

    @Test
    void aSuccessTellsTheAccountsRecentFailures() {
        AuthState state = state(LIMITS); // account history: max(4, 3) = 4
        long first = now.get();
        for (int i = 1; i <= 3; i++) {
            state.recordFailure("198.51.100." + i, "alice");
            advance(Duration.ofMillis(1));
        }
        state.recordFailure("198.51.100.1", "bob");

        Success success = state.recordSuccess("alice", "192.0.2.1");

        assertThat(success.clientWasKnown()).isFalse();
        assertThat(success.recentFailures()).isEqualTo(3);
        assertThat(state.recordSuccess("alice", "192.0.2.1").recentFailures()).as("a success forgets nothing").isEqualTo(3);
        now.set(first + THROTTLE_WITHIN.toMillis()); // the first failure is exactly 15 min old
        assertThat(state.recordSuccess("alice", "192.0.2.1").recentFailures()).isEqualTo(2);
        assertThat(state.recordSuccess("carol", "192.0.2.1").recentFailures()).isZero();
    }

    @Test
    void aSuccessCountsTheRecentFailuresUpToTheAccountHistory() {
        AuthState state = state(limits(new Rule(3, BAN_WITHIN, BAN_FOR), new Rule(0, THROTTLE_WITHIN, THROTTLE_FOR),
            2, 1_000, 1_000)); // throttle off, successAfterFailures 3: history 3
        for (int i = 1; i <= 5; i++) {
            assertThat(state.recordFailure("198.51.100." + i, "alice").throttleStarted()).isNull();
        }

        assertThat(state.recordSuccess("alice", "192.0.2.1").recentFailures()).isEqualTo(3);
        assertThat(state.throttleOf("alice")).isNull();
    }

    // ----- lifting -----

    @Test
    void liftingABanForgetsTheClientsFailures() {
        AuthState state = state(LIMITS);
        fail(state, "192.0.2.1", "alice", 2);
        state.recordFailure("192.0.2.1", "bob");
        fail(state, "192.0.2.2", "carol", 2);

        assertThat(state.liftBan("192.0.2.1")).isTrue();
        assertThat(state.liftBan("192.0.2.1")).isFalse();
        assertThat(state.liftBan("192.0.2.2")).as("failing, not banned").isFalse();

        assertThat(state.banOf("192.0.2.1")).isNull();
        assertThat(state.bans()).isEmpty();
        fail(state, "192.0.2.1", "dave", 2);
        assertThat(state.recordFailure("192.0.2.1", "dave").banStarted()).isNotNull();
        fail(state, "192.0.2.2", "carol", 2); // its two failures were forgotten
        assertThat(state.recordFailure("192.0.2.2", "carol").banStarted()).isNotNull();
    }

    @Test
    void liftingAThrottleForgetsTheAccountsFailuresNotItsKnownClients() {
        AuthState state = state(LIMITS);
        state.recordSuccess("alice", "192.0.2.100");
        for (int i = 1; i <= 4; i++) {
            state.recordFailure("198.51.100." + i, "alice");
        }
        assertThat(state.throttleOf("alice")).isNotNull();

        assertThat(state.liftThrottle("alice")).isTrue();
        assertThat(state.liftThrottle("alice")).isFalse();

        assertThat(state.throttleOf("alice")).isNull();
        assertThat(state.throttles()).isEmpty();
        assertThat(state.isKnownClient("alice", "192.0.2.100")).isTrue();
        assertThat(state.recordSuccess("alice", "192.0.2.100").recentFailures()).isZero();
    }

    @Test
    void theListsHoldTheBlocksInForce() {
        AuthState state = state(LIMITS);
        fail(state, "192.0.2.1", "a", 3 - 1);
        Block first = state.recordFailure("192.0.2.1", "a").banStarted();
        advance(Duration.ofMinutes(30));
        fail(state, "192.0.2.2", "b", 2);
        Block second = state.recordFailure("192.0.2.2", "b").banStarted();

        assertThat(state.bans()).extracting(Block::key, Block::untilMillis).containsExactlyInAnyOrder(
            tuple("192.0.2.1", first.untilMillis()),
            tuple("192.0.2.2", second.untilMillis()));
        assertThat(state.throttles()).isEmpty();

        advance(Duration.ofMinutes(30));

        assertThat(state.bans()).extracting(Block::key).containsExactly("192.0.2.2");
    }

    // ----- reloads and bounds -----

    @Test
    void aReloadKeepsBlocksAndKnownClientsAndAppliesTheNewLimits() {
        AuthState state = state(LIMITS);
        fail(state, "192.0.2.1", "a", 2);
        Block ban = state.recordFailure("192.0.2.1", "a").banStarted();
        state.recordSuccess("alice", "192.0.2.50");

        state.reconfigure(limits(new Rule(3, BAN_WITHIN, Duration.ofHours(2)), new Rule(4, THROTTLE_WITHIN, THROTTLE_FOR),
            2, 1_000, 1_000));

        assertThat(state.banOf("192.0.2.1").untilMillis()).isEqualTo(ban.untilMillis());
        assertThat(state.isKnownClient("alice", "192.0.2.50")).isTrue();
        fail(state, "192.0.2.2", "b", 2);
        assertThat(state.recordFailure("192.0.2.2", "b").banStarted().untilMillis())
            .isEqualTo(now.get() + Duration.ofHours(2).toMillis());
    }

    @Test
    void atMostMaxTrackedClientsAreKept() {
        AuthState state = state(limits(new Rule(3, BAN_WITHIN, BAN_FOR), new Rule(4, THROTTLE_WITHIN, THROTTLE_FOR),
            2, 2, 1_000));
        fail(state, "192.0.2.1", "a", 2);
        advance(Duration.ofSeconds(1));
        fail(state, "192.0.2.2", "a", 1);
        advance(Duration.ofSeconds(1));
        fail(state, "192.0.2.3", "b", 1);

        assertThat(state.trackedClients()).isEqualTo(2);
        fail(state, "192.0.2.1", "c", 2); // forgotten: counts from zero again
        assertThat(state.recordFailure("192.0.2.1", "c").banStarted()).isNotNull();
    }

    @Test
    void aFloodOfFailuresUnderNewNamesKeepsTheKnownClientsOfRealAccounts() {
        AuthState state = state(limits(new Rule(0, BAN_WITHIN, BAN_FOR), new Rule(4, THROTTLE_WITHIN, THROTTLE_FOR),
            2, 1_000, 2));
        state.recordSuccess("alice", "192.0.2.1");
        advance(Duration.ofSeconds(1));
        state.recordSuccess("bob", "192.0.2.2");
        for (int i = 0; i < 20; i++) {
            advance(Duration.ofSeconds(1));
            state.recordFailure("198.51.100.1", "guess" + i);
        }

        assertThat(state.isKnownClient("alice", "192.0.2.1")).isTrue();
        assertThat(state.isKnownClient("bob", "192.0.2.2")).isTrue();
        assertThat(state.trackedAccounts()).isEqualTo(2);
    }

    @Test
    void atMostMaxTrackedAccountsKeepKnownClients() {
        AuthState state = state(limits(new Rule(3, BAN_WITHIN, BAN_FOR), new Rule(4, THROTTLE_WITHIN, THROTTLE_FOR),
            2, 1_000, 2));
        state.recordSuccess("alice", "192.0.2.1");
        advance(Duration.ofSeconds(1));
        state.recordSuccess("bob", "192.0.2.1");
        advance(Duration.ofSeconds(1));

        state.recordSuccess("carol", "192.0.2.1");

        assertThat(state.isKnownClient("alice", "192.0.2.1")).as("the least recent account, forgotten").isFalse();
        assertThat(state.isKnownClient("bob", "192.0.2.1")).isTrue();
        assertThat(state.isKnownClient("carol", "192.0.2.1")).isTrue();
        assertThat(state.trackedAccounts()).isEqualTo(2);
    }

    @Test
    void aHealthyStateSaysSo() {
        AuthState state = state(LIMITS);
        state.recordFailure("192.0.2.1", "alice");
        assertThat(state.healthy()).isTrue();
    }
}
