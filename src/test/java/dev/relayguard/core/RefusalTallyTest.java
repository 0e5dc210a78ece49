package dev.relayguard.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * {@link RefusalTally} on a fake clock: the whole hour, the last N clock minutes ({@code top(n, minutes)}), what falls
 * out of the hour, the order, the bounds; and against a list of every refusal kept whole.
 */
class RefusalTallyTest {
    /** 22:13:20 UTC: 20 s into a minute. */
    private static final long T0 = 1_700_000_000_000L;
    private static final long MINUTE = 60_000;

    private final AtomicLong clock = new AtomicLong(T0);
    private final RefusalTally tally = new RefusalTally(100, clock::get);

    private List<String> top(int n, int minutes) {
        return tally.top(n, minutes).stream().map(RefusalTally.Entry::toString).collect(Collectors.toList());
    }

    @Test
    void theLastMinutesAreTheCurrentClockMinuteAndTheOnesBeforeIt() {
        tally.add("ip:192.0.2.1"); // minute 0
        clock.addAndGet(40_000); // 22:14:00, minute 1
        tally.add("ip:192.0.2.2");
        tally.add("ip:192.0.2.2");
        clock.addAndGet(10 * MINUTE); // minute 11
        tally.add("user:alice");

        assertThat(top(10, 1)).containsExactly("user:alice 1");
        assertThat(top(10, 10)).containsExactly("user:alice 1");
        assertThat(top(10, 11)).containsExactly("ip:192.0.2.2 2", "user:alice 1");
        assertThat(top(10, 12)).containsExactly("ip:192.0.2.2 2", "ip:192.0.2.1 1", "user:alice 1");
        assertThat(top(10, RefusalTally.MINUTES)).isEqualTo(top(10, 12));
        assertThat(tally.top(10)).extracting(Object::toString).isEqualTo(top(10, 12));
        assertThat(top(1, 12)).containsExactly("ip:192.0.2.2 2");
    }

    @Test
    void onlyTheLastHourIsKept() {
        tally.add("ip:192.0.2.1");
        clock.addAndGet(59 * MINUTE);
        tally.add("ip:192.0.2.2");
        assertThat(top(10, 60)).containsExactly("ip:192.0.2.1 1", "ip:192.0.2.2 1");

        clock.addAndGet(MINUTE);

        assertThat(top(10, 60)).containsExactly("ip:192.0.2.2 1");
        clock.addAndGet(2 * 60 * MINUTE);
        assertThat(top(10, 60)).isEmpty();
    }

    @Test
    void minutesOutsideOneToSixtyAreRefused() {
        for (int minutes : new int[] {0, -1, 61, Integer.MAX_VALUE}) {
            assertThatThrownBy(() -> tally.top(10, minutes)).as("%d", minutes).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("minutes must be between 1 and 60 (only the last hour is kept), was " + minutes);
        }
    }

    /**
     * Refusals at random times over two hours, then a look at random moments: {@code top(n, minutes)} counts exactly
     * the refusals of the clock minutes {@code now/1min - minutes + 1 .. now/1min}, most first then by subject.
     */
    @Property(tries = 200)
    void countsWhatAListOfEveryRefusalCounts(@ForAll @Size(max = 60) List<@IntRange(min = 0, max = 7_200) Integer> secondsApart,
        @ForAll @Size(max = 60) List<@IntRange(min = 0, max = 4) Integer> subjects, @ForAll @IntRange(min = 1, max = 60) int minutes,
        @ForAll @IntRange(min = 0, max = 3_600) int lookAfterSeconds) {
        AtomicLong now = new AtomicLong(T0);
        RefusalTally checked = new RefusalTally(100, now::get);
        List<long[]> every = new ArrayList<>(); // {time, subject}
        for (int i = 0; i < Math.min(secondsApart.size(), subjects.size()); i++) {
            now.addAndGet(secondsApart.get(i) * 1000L / 60); // at most 2 h in all
            checked.add("ip:192.0.2." + subjects.get(i));
            every.add(new long[] {now.get(), subjects.get(i)});
        }
        now.addAndGet(lookAfterSeconds * 1000L);

        long current = now.get() / MINUTE;
        Map<String, Integer> expected = new HashMap<>();
        for (long[] refusal : every) {
            if (refusal[0] / MINUTE > current - minutes) {
                expected.merge("ip:192.0.2." + refusal[1], 1, Integer::sum);
            }
        }
        List<String> expectedTop = expected.entrySet().stream()
            .sorted(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
            .map(entry -> entry.getKey() + " " + entry.getValue()).collect(Collectors.toList());

        assertThat(checked.top(10, minutes)).extracting(Object::toString).containsExactlyElementsOf(expectedTop);
    }
}
