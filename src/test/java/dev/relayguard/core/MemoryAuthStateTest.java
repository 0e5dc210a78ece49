package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import dev.relayguard.LoginLimits;

/** {@link MemoryAuthState}: failures, bans, throttles, known clients and the bounds on state, on a fake clock. */
class MemoryAuthStateTest {
    private static final Duration WITHIN = Duration.ofMinutes(10);
    private static final Duration BAN_FOR = Duration.ofHours(1);
    private static final Duration THROTTLE_WITHIN = Duration.ofMinutes(15);
    private static final Duration THROTTLE_FOR = Duration.ofMinutes(5);
    private static final Duration REMEMBER = Duration.ofDays(30);
    private static final String ACCOUNT = "alice@example.com";
    private static final String CLIENT = "203.0.113.9";

    private final AtomicLong clock = new AtomicLong(1_700_000_000_000L);

    /** Client ban 3 within 10m for 1h; throttle 4 within 15m for 5m; 2 known clients per account; signal at 2. */
    private static AuthLimits limits(int maxClients, int maxAccounts) {
        return limits(3, 4, 2, maxClients, maxAccounts);
    }

    private static AuthLimits limits(int banFailures, int throttleFailures, int knownPerAccount, int maxClients, int maxAccounts) {
        return new AuthLimits(3, new AuthLimits.Rule(banFailures, WITHIN, BAN_FOR),
            new AuthLimits.Rule(throttleFailures, THROTTLE_WITHIN, THROTTLE_FOR), knownPerAccount, REMEMBER, 2,
            Duration.ZERO, maxClients, maxAccounts);
    }

    private MemoryAuthState state(AuthLimits limits) {
        return new MemoryAuthState(limits, clock::get);
    }

    private MemoryAuthState state() {
        return state(limits(1000, 1000));
    }

    private void advance(Duration duration) {
        clock.addAndGet(duration.toMillis());
    }

    private static String client(int i) {
        return "198.51." + (i / 256 % 256) + "." + (i % 256);
    }

    // ---- client bans ---------------------------------------------------------------------------------

    @Test
    void theBanStartsExactlyAtTheThresholdWithinTheWindowAndCoversEveryAccount() {
        MemoryAuthState state = state();
        assertThat(state.recordFailure(CLIENT, "a@example.com").banStarted()).isNull();
        advance(Duration.ofMinutes(4));
        assertThat(state.recordFailure(CLIENT, "b@example.com").banStarted()).isNull();
        assertThat(state.banOf(CLIENT)).isNull();
        advance(Duration.ofMinutes(5));

        AuthState.Block ban = state.recordFailure(CLIENT, "c@example.com").banStarted();

        assertThat(ban).isNotNull();
        assertThat(ban.key()).isEqualTo(CLIENT);
        assertThat(ban.untilMillis()).isEqualTo(clock.get() + BAN_FOR.toMillis());
        assertThat(state.banOf(CLIENT).untilMillis()).isEqualTo(ban.untilMillis());
        assertThat(state.banOf("203.0.113.10")).as("another client").isNull();
    }

    @Test
    void aFailureAsOldAsTheWindowNoLongerCounts() {
        MemoryAuthState state = state();
        state.recordFailure(CLIENT, ACCOUNT);
        advance(Duration.ofMinutes(5));
        state.recordFailure(CLIENT, ACCOUNT);
        advance(Duration.ofMinutes(5)); // the first failure is now exactly 10m old: out of the window

        assertThat(state.recordFailure(CLIENT, ACCOUNT).banStarted()).isNull();
        assertThat(state.banOf(CLIENT)).isNull();
        advance(Duration.ofMillis(1));
        assertThat(state.recordFailure(CLIENT, ACCOUNT).banStarted()).as("3 within the last 10m").isNotNull();
    }

    @Test
    void theBanLastsBanForCountsNothingWhileInForceAndCountingStartsAfreshAfterwards() {
        MemoryAuthState state = state();
        for (int i = 0; i < 3; i++) {
            state.recordFailure(CLIENT, "user" + i + "@example.com");
        }
        long until = state.banOf(CLIENT).untilMillis();
        for (int i = 0; i < 10; i++) {
            assertThat(state.recordFailure(CLIENT, "other" + i + "@example.com").banStarted()).isNull();
        }
        assertThat(state.banOf(CLIENT).untilMillis()).as("not extended").isEqualTo(until);

        clock.set(until - 1);
        assertThat(state.banOf(CLIENT)).isNotNull();
        clock.set(until);
        assertThat(state.banOf(CLIENT)).isNull();
        assertThat(state.bans()).isEmpty();

        assertThat(state.recordFailure(CLIENT, ACCOUNT).banStarted()).as("nothing carried over").isNull();
        assertThat(state.recordFailure(CLIENT, ACCOUNT).banStarted()).isNull();
        assertThat(state.recordFailure(CLIENT, ACCOUNT).banStarted()).isNotNull();
    }

    @Test
    void aBanForOfZeroStartsNoBanButSpendsTheFailures() {
        MemoryAuthState state = state(new AuthLimits(3, new AuthLimits.Rule(2, WITHIN, Duration.ZERO),
            new AuthLimits.Rule(0, THROTTLE_WITHIN, THROTTLE_FOR), 2, REMEMBER, 0, Duration.ZERO, 10, 10));

        for (int i = 0; i < 5; i++) {
            assertThat(state.recordFailure(CLIENT, ACCOUNT)).isSameAs(AuthState.Failure.NOTHING);
        }
        assertThat(state.banOf(CLIENT)).isNull();
        assertThat(state.bans()).isEmpty();
    }

    @Test
    void aRuleWithZeroFailuresIsOffAndTracksNothing() {
        MemoryAuthState state = state(new AuthLimits(3, new AuthLimits.Rule(0, WITHIN, BAN_FOR),
            new AuthLimits.Rule(0, THROTTLE_WITHIN, THROTTLE_FOR), 2, REMEMBER, 0, Duration.ZERO, 10, 10));

        for (int i = 0; i < 50; i++) {
            assertThat(state.recordFailure(CLIENT, ACCOUNT)).isSameAs(AuthState.Failure.NOTHING);
        }
        assertThat(state.banOf(CLIENT)).isNull();
        assertThat(state.throttleOf(ACCOUNT)).isNull();
        assertThat(state.trackedClients()).isZero();
        assertThat(state.trackedAccounts()).isZero();
    }

    // ---- account throttles -----------------------------------------------------------------------------

    @Test
    void failuresFromManyClientsThrottleTheAccountExactlyAtTheThresholdForThrottleFor() {
        MemoryAuthState state = state();
        for (int i = 0; i < 3; i++) {
            assertThat(state.recordFailure(client(i), ACCOUNT).throttleStarted()).isNull();
            advance(Duration.ofMinutes(4));
        }
        assertThat(state.throttleOf(ACCOUNT)).isNull();

        AuthState.Failure fourth = state.recordFailure(client(3), ACCOUNT);

        assertThat(fourth.throttleStarted().key()).isEqualTo(ACCOUNT);
        assertThat(fourth.throttleStarted().untilMillis()).isEqualTo(clock.get() + THROTTLE_FOR.toMillis());
        assertThat(fourth.banStarted()).as("one failure per client: no ban").isNull();
        assertThat(state.throttleOf(ACCOUNT).untilMillis()).isEqualTo(fourth.throttleStarted().untilMillis());
        assertThat(state.throttleOf("bob@example.com")).isNull();
        assertThat(state.bans()).isEmpty();
    }

    @Test
    void aThrottleCountsNothingWhileInForceAndCountingStartsAfreshAfterwards() {
        MemoryAuthState state = state();
        for (int i = 0; i < 4; i++) {
            state.recordFailure(client(i), ACCOUNT);
        }
        long until = state.throttleOf(ACCOUNT).untilMillis();
        for (int i = 10; i < 20; i++) {
            assertThat(state.recordFailure(client(i), ACCOUNT).throttleStarted()).isNull();
        }
        assertThat(state.throttles()).singleElement().satisfies(block -> {
            assertThat(block.key()).isEqualTo(ACCOUNT);
            assertThat(block.untilMillis()).isEqualTo(until);
        });

        clock.set(until - 1);
        assertThat(state.throttleOf(ACCOUNT)).isNotNull();
        clock.set(until);
        assertThat(state.throttleOf(ACCOUNT)).isNull();
        assertThat(state.throttles()).isEmpty();

        for (int i = 20; i < 23; i++) {
            assertThat(state.recordFailure(client(i), ACCOUNT).throttleStarted()).as("failure %s", i).isNull();
        }
        assertThat(state.recordFailure(client(23), ACCOUNT).throttleStarted()).isNotNull();
    }

    @Test
    void failuresOutsideTheThrottleWindowDoNotCount() {
        MemoryAuthState state = state();
        for (int i = 0; i < 3; i++) {
            state.recordFailure(client(i), ACCOUNT);
        }
        advance(THROTTLE_WITHIN);

        assertThat(state.recordFailure(client(3), ACCOUNT).throttleStarted()).isNull();
        assertThat(state.throttleOf(ACCOUNT)).isNull();
    }

    // ---- known clients ---------------------------------------------------------------------------------

    @Test
    void theKnownClientsOfAnAccountAreItsMostRecentSuccessfulLogins() {
        MemoryAuthState state = state();
        state.recordSuccess(ACCOUNT, "192.0.2.1");
        advance(Duration.ofMinutes(1));
        state.recordSuccess(ACCOUNT, "192.0.2.2");
        advance(Duration.ofMinutes(1));
        assertThat(state.isKnownClient(ACCOUNT, "192.0.2.1")).as("a check is not a login").isTrue();

        state.recordSuccess(ACCOUNT, "192.0.2.3");

        assertThat(state.isKnownClient(ACCOUNT, "192.0.2.1")).as("the least recent login, dropped").isFalse();
        assertThat(state.isKnownClient(ACCOUNT, "192.0.2.2")).isTrue();
        assertThat(state.isKnownClient(ACCOUNT, "192.0.2.3")).isTrue();
        assertThat(state.isKnownClient("bob@example.com", "192.0.2.3")).as("per account").isFalse();
    }

    @Test
    void aNewLoginRefreshesAKnownClientAgainstTheBound() {
        MemoryAuthState state = state();
        state.recordSuccess(ACCOUNT, "192.0.2.1");
        state.recordSuccess(ACCOUNT, "192.0.2.2");
        state.recordSuccess(ACCOUNT, "192.0.2.1");

        state.recordSuccess(ACCOUNT, "192.0.2.3");

        assertThat(state.isKnownClient(ACCOUNT, "192.0.2.1")).isTrue();
        assertThat(state.isKnownClient(ACCOUNT, "192.0.2.2")).isFalse();
    }

    @Test
    void aKnownClientIsRememberedForRememberForAfterItsLastLogin() {
        MemoryAuthState state = state();
        state.recordSuccess(ACCOUNT, CLIENT);
        advance(Duration.ofDays(20));
        state.recordSuccess(ACCOUNT, CLIENT); // refreshes
        advance(Duration.ofDays(20));
        assertThat(state.isKnownClient(ACCOUNT, CLIENT)).as("40 days after the first, 20 after the last").isTrue();

        advance(REMEMBER.minus(Duration.ofDays(20)).minusMillis(1));
        assertThat(state.isKnownClient(ACCOUNT, CLIENT)).isTrue();
        advance(Duration.ofMillis(1));
        assertThat(state.isKnownClient(ACCOUNT, CLIENT)).isFalse();
        assertThat(state.recordSuccess(ACCOUNT, CLIENT).clientWasKnown()).as("forgotten, so a new client").isFalse();
    }

    @Test
    void aSuccessTellsWhetherTheClientWasKnownAndTheAccountsRecentFailures() {
        MemoryAuthState state = state();
        state.recordFailure(client(1), ACCOUNT);
        advance(Duration.ofMinutes(10));
        state.recordFailure(client(2), ACCOUNT);
        state.recordFailure(client(3), ACCOUNT);
        advance(Duration.ofMinutes(5)); // the first failure is now 15m old: out of accountThrottle.within

        AuthState.Success first = state.recordSuccess(ACCOUNT, CLIENT);
        AuthState.Success second = state.recordSuccess(ACCOUNT, CLIENT);

        assertThat(first.clientWasKnown()).isFalse();
        assertThat(first.recentFailures()).isEqualTo(2);
        assertThat(second.clientWasKnown()).isTrue();
        assertThat(second.recentFailures()).as("a success does not forget the failures").isEqualTo(2);
        assertThat(state.recordSuccess("bob@example.com", CLIENT).recentFailures()).isZero();
    }

    /** The throttle ended (throttleFor 5m) but its failures are still within accountThrottle.within (15m). */
    @Test
    void theFailuresThatStartedAThrottleStillCountAsRecentForASuccessAfterIt() {
        MemoryAuthState state = state();
        for (int i = 0; i < 4; i++) {
            state.recordFailure(client(i), ACCOUNT);
        }
        advance(THROTTLE_FOR);
        assertThat(state.throttleOf(ACCOUNT)).isNull();

        AuthState.Success success = state.recordSuccess(ACCOUNT, CLIENT);

        assertThat(success.clientWasKnown()).isFalse();
        assertThat(success.recentFailures()).isEqualTo(4);
    }

    @Test
    void theAccountHistoryHoldsEnoughFailuresForTheSignalWhenTheThrottleIsOff() {
        MemoryAuthState state = state(new AuthLimits(3, new AuthLimits.Rule(0, WITHIN, BAN_FOR),
            new AuthLimits.Rule(0, THROTTLE_WITHIN, THROTTLE_FOR), 2, REMEMBER, 5, Duration.ZERO, 10, 10));
        for (int i = 0; i < 7; i++) {
            assertThat(state.recordFailure(client(i), ACCOUNT)).isSameAs(AuthState.Failure.NOTHING);
        }

        assertThat(state.recordSuccess(ACCOUNT, CLIENT).recentFailures()).as("counted up to accountHistory").isEqualTo(5);
        assertThat(state.throttleOf(ACCOUNT)).isNull();
    }

    // ---- lift and lists --------------------------------------------------------------------------------

    @Test
    void liftingABanEndsItAndForgetsTheClientsFailures() {
        MemoryAuthState state = state();
        for (int i = 0; i < 3; i++) {
            state.recordFailure(CLIENT, ACCOUNT);
        }
        state.recordFailure("192.0.2.7", ACCOUNT);
        state.recordFailure("192.0.2.7", ACCOUNT);

        assertThat(state.liftBan(CLIENT)).isTrue();
        assertThat(state.banOf(CLIENT)).isNull();
        assertThat(state.liftBan(CLIENT)).as("no longer banned").isFalse();
        assertThat(state.liftBan("192.0.2.7")).as("failing, not banned").isFalse();
        assertThat(state.recordFailure("192.0.2.7", ACCOUNT).banStarted()).as("its failures forgotten").isNull();
        assertThat(state.recordFailure(CLIENT, ACCOUNT).banStarted()).isNull();
        assertThat(state.recordFailure(CLIENT, ACCOUNT).banStarted()).isNull();
        assertThat(state.recordFailure(CLIENT, ACCOUNT).banStarted()).isNotNull();
    }

    @Test
    void liftingAThrottleEndsItAndForgetsTheAccountsFailuresButNotItsKnownClients() {
        MemoryAuthState state = state();
        state.recordSuccess(ACCOUNT, CLIENT);
        for (int i = 0; i < 4; i++) {
            state.recordFailure(client(i), ACCOUNT);
        }

        assertThat(state.liftThrottle(ACCOUNT)).isTrue();
        assertThat(state.throttleOf(ACCOUNT)).isNull();
        assertThat(state.liftThrottle(ACCOUNT)).isFalse();
        assertThat(state.isKnownClient(ACCOUNT, CLIENT)).isTrue();
        assertThat(state.recordSuccess(ACCOUNT, "192.0.2.99").recentFailures()).isZero();
    }

    @Test
    void theListsHoldTheBlocksInForceOnly() {
        MemoryAuthState state = state();
        for (int i = 0; i < 3; i++) {
            state.recordFailure("192.0.2.1", "a" + i + "@example.com");
        }
        advance(Duration.ofMinutes(30));
        for (int i = 0; i < 3; i++) {
            state.recordFailure("192.0.2.2", "b" + i + "@example.com");
        }
        for (int i = 0; i < 4; i++) {
            state.recordFailure(client(i), ACCOUNT);
        }
        state.recordFailure("192.0.2.3", ACCOUNT); // failing, not banned

        assertThat(state.bans()).extracting(AuthState.Block::key).containsExactlyInAnyOrder("192.0.2.1", "192.0.2.2");
        assertThat(state.throttles()).extracting(AuthState.Block::key).containsExactly(ACCOUNT);

        advance(Duration.ofMinutes(30)); // the first ban ends; the throttle too
        assertThat(state.bans()).extracting(AuthState.Block::key).containsExactly("192.0.2.2");
        assertThat(state.throttles()).isEmpty();
    }

    // ---- bounds ----------------------------------------------------------------------------------------

    @Test
    void aFloodOfNewClientsAndUserNamesKeepsTheMapsAtTheirBoundsAndTheKnownClientsOfRealAccounts() {
        MemoryAuthState state = state(limits(1000, 500));
        state.recordSuccess(ACCOUNT, CLIENT);
        state.recordSuccess(ACCOUNT, "192.0.2.1");

        for (int i = 0; i < 1_000_000; i++) {
            state.recordFailure("c" + i, "u" + i + "@example.com");
            if (i % 100_000 == 99_999) {
                assertThat(state.trackedClients()).isEqualTo(1000);
                assertThat(state.trackedAccounts()).isEqualTo(500);
            }
        }

        assertThat(state.trackedClients()).isEqualTo(1000);
        assertThat(state.trackedAccounts()).isEqualTo(500);
        assertThat(state.accountsWithKnownClients()).isEqualTo(1);
        assertThat(state.isKnownClient(ACCOUNT, CLIENT)).isTrue();
        assertThat(state.isKnownClient(ACCOUNT, "192.0.2.1")).isTrue();
        assertThat(state.recordSuccess(ACCOUNT, CLIENT).clientWasKnown()).isTrue();
    }

    @Test
    void theLeastRecentlyActiveAreForgottenFirst() {
        MemoryAuthState state = state(limits(2, 2));
        state.recordFailure("192.0.2.1", "a@example.com");
        state.recordFailure("192.0.2.1", "a@example.com");
        state.recordFailure("192.0.2.2", "b@example.com");
        state.recordFailure("192.0.2.1", "a@example.com"); // most recent again: its ban starts

        state.recordFailure("192.0.2.3", "c@example.com");

        assertThat(state.trackedClients()).isEqualTo(2);
        assertThat(state.banOf("192.0.2.1")).isNotNull();
        assertThat(state.recordFailure("192.0.2.2", "b@example.com").banStarted()).as("forgotten, counts from 1").isNull();
        assertThat(state.recordFailure("192.0.2.2", "b@example.com").banStarted()).isNull();
        assertThat(state.recordFailure("192.0.2.2", "b@example.com").banStarted()).isNotNull();
    }

    @Test
    void knownClientsOfManyAccountsAreBoundedByMaxTrackedAccounts() {
        MemoryAuthState state = state(limits(10, 3));
        for (int i = 0; i < 10; i++) {
            state.recordSuccess("user" + i + "@example.com", CLIENT);
        }

        assertThat(state.accountsWithKnownClients()).isEqualTo(3);
        assertThat(state.isKnownClient("user9@example.com", CLIENT)).isTrue();
        assertThat(state.isKnownClient("user6@example.com", CLIENT)).isFalse();
    }

    @Test
    void aReconfigureKeepsBansFailuresAndKnownClientsWithinTheNewBounds() {
        MemoryAuthState state = state(limits(3, 4, 3, 10, 10));
        for (int i = 0; i < 3; i++) {
            state.recordFailure("192.0.2.1", "a@example.com"); // banned
        }
        state.recordFailure("192.0.2.2", ACCOUNT);
        state.recordFailure("192.0.2.2", ACCOUNT);
        for (int i = 1; i <= 3; i++) {
            state.recordSuccess(ACCOUNT, "198.51.100." + i);
            advance(Duration.ofSeconds(1));
        }
        long banUntil = state.banOf("192.0.2.1").untilMillis();

        state.reconfigure(limits(4, 6, 2, 10, 10));

        assertThat(state.banOf("192.0.2.1").untilMillis()).isEqualTo(banUntil);
        assertThat(state.isKnownClient(ACCOUNT, "198.51.100.1")).as("over the new perAccount, least recent").isFalse();
        assertThat(state.isKnownClient(ACCOUNT, "198.51.100.2")).isTrue();
        assertThat(state.isKnownClient(ACCOUNT, "198.51.100.3")).isTrue();
        assertThat(state.recordFailure("192.0.2.2", ACCOUNT).banStarted()).as("3 of 4").isNull();
        assertThat(state.recordFailure("192.0.2.2", ACCOUNT).banStarted()).as("the failures before the reload count")
            .isNotNull();
    }

    @Test
    void aReconfigureToSmallerBoundsForgetsTheLeastRecentlyActive() {
        MemoryAuthState state = state(limits(100, 100));
        for (int i = 0; i < 50; i++) {
            state.recordFailure("c" + i, "u" + i + "@example.com");
            state.recordSuccess("k" + i + "@example.com", CLIENT);
        }

        state.reconfigure(limits(10, 5));

        assertThat(state.trackedClients()).isEqualTo(10);
        assertThat(state.trackedAccounts()).isEqualTo(5);
        assertThat(state.accountsWithKnownClients()).isEqualTo(5);
        assertThat(state.isKnownClient("k49@example.com", CLIENT)).isTrue();
        assertThat(state.isKnownClient("k44@example.com", CLIENT)).isFalse();
        state.recordFailure("c49", "u49@example.com");
        assertThat(state.recordFailure("c49", "u49@example.com").banStarted()).as("c49 kept with its failure").isNotNull();
    }

    @Test
    void itIsAMemoryStoreThatIsAlwaysHealthy() {
        MemoryAuthState state = state();
        assertThat(state.kind()).isEqualTo("memory");
        assertThat(state.healthy()).isTrue();
        assertThat(LoginLimits.accountOf("Alice@Example.COM")).isEqualTo(ACCOUNT);
    }
}
