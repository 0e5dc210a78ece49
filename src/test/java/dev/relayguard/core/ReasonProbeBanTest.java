package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** Which refusals a relay prober collects towards a probe ban: relaying without right, and routing tricks. */
class ReasonProbeBanTest {

    @Test
    void relayAndRoutingRefusalsCountAndNothingElse() {
        Set<Reason> counting = EnumSet.noneOf(Reason.class);
        for (Reason reason : Reason.values()) {
            if (reason.countsTowardsProbeBan()) {
                counting.add(reason);
            }
        }

        assertThat(counting).containsExactlyInAnyOrder(Reason.RELAY_UNAUTHENTICATED, Reason.RELAY_PLAINTEXT_AUTH,
            Reason.ROUTING_SOURCE_ROUTE, Reason.ROUTING_PERCENT_HACK, Reason.ROUTING_BANG_PATH,
            Reason.ROUTING_AT_IN_LOCAL_PART, Reason.ROUTING_IP_LITERAL, Reason.ROUTING_UNQUALIFIED);
    }

    @Test
    void everyCountingReasonIsARuledRefusal() {
        for (Reason reason : Reason.values()) {
            if (reason.countsTowardsProbeBan()) {
                assertThat(reason.isRefusal()).as("%s", reason).isTrue();
                assertThat(reason.rule()).as("%s", reason).isNotNull();
            }
        }
        assertThat(Reason.LOCAL_DOMAIN_LOOKUP_FAILED.countsTowardsProbeBan()).as("a lookup failure is not a probe").isFalse();
    }
}
