package dev.relayguard.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/**
 * {@link RateLimitPolicy#limitsForUser}: defaults, then the domain's override, then the user's own, per measure; and
 * the same {@link LimitSet} (so the same charges lists, which the stores recognise by identity) at every call.
 */
class RateLimitPolicyTest {
    private static final Limit MESSAGES_DEFAULT = new Limit(Measure.MESSAGES, 10, Duration.ofMinutes(1));
    private static final Limit RECIPIENTS_DEFAULT = new Limit(Measure.RECIPIENTS, 100, Duration.ofMinutes(1));
    private static final Limit MESSAGES_DOMAIN = new Limit(Measure.MESSAGES, 50, Duration.ofMinutes(1));
    private static final Limit RECIPIENTS_USER = new Limit(Measure.RECIPIENTS, 5, Duration.ofHours(1));

    private final RateLimitPolicy policy = new RateLimitPolicy(
        LimitSet.of(List.of(MESSAGES_DEFAULT, RECIPIENTS_DEFAULT)),
        Map.of("Boss@Big.Example", LimitSet.of(List.of(RECIPIENTS_USER))),
        Map.of("BIG.example", LimitSet.of(List.of(MESSAGES_DOMAIN))),
        LimitSet.NONE);

    @Test
    void eachUserGetsTheDefaultsOverriddenByItsDomainThenByItsOwnLimits() {
        assertThat(policy.limitsForUser("someone@elsewhere.example").all()).containsExactly(MESSAGES_DEFAULT, RECIPIENTS_DEFAULT);
        assertThat(policy.limitsForUser("staff@big.example").all()).containsExactly(MESSAGES_DOMAIN, RECIPIENTS_DEFAULT);
        assertThat(policy.limitsForUser("BOSS@big.example").all()).containsExactly(MESSAGES_DOMAIN, RECIPIENTS_USER);
        assertThat(policy.limitsForUser("no-domain").all()).containsExactly(MESSAGES_DEFAULT, RECIPIENTS_DEFAULT);
    }

    @Test
    void aUserWithOverridesGetsTheSameLimitSetAndChargesEveryTime() {
        for (String user : List.of("someone@elsewhere.example", "staff@big.example", "boss@big.example")) {
            LimitSet first = policy.limitsForUser(user);
            LimitSet again = policy.limitsForUser(user.toUpperCase(java.util.Locale.ROOT));
            assertThat(again).as(user).isSameAs(first);
            assertThat(again.charges(Measure.MESSAGES, 1)).as(user).isSameAs(first.charges(Measure.MESSAGES, 1));
            assertThat(again.charges(Measure.RECIPIENTS, 1)).as(user).isSameAs(first.charges(Measure.RECIPIENTS, 1));
        }
        assertThat(policy.subjectFor("Staff@Big.Example", null).orElseThrow().limits())
            .isSameAs(policy.limitsForUser("staff@big.example"));
    }
}
