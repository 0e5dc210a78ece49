package dev.relayguard;

import java.util.List;

import dev.relayguard.core.Outcome;
import dev.relayguard.core.RefusalTally;
import dev.relayguard.core.Verdict;
import dev.relayguard.limit.SubjectKey;
import dev.relayguard.observe.RefusalContext;
import dev.relayguard.observe.RefusalRecorder;

/**
 * Where every verdict is recorded, whoever took it (the decision facade, the sender limits): counted and logged
 * by the {@link RefusalRecorder}, and a refused or deferred one tallied against its user or client IP for the
 * operators' "refused most" list.
 */
final class Refusals {
    private final RefusalRecorder recorder;
    private final RefusalTally tally;

    Refusals(RefusalRecorder recorder, RefusalTally tally) {
        this.recorder = recorder;
        this.tally = tally;
    }

    RefusalRecorder recorder() {
        return recorder;
    }

    /**
     * Counts an allowed verdict taken on a path ({@link RefusalContext#SMTP}, {@link RefusalContext#PIPELINE}):
     * all {@link #record} does for it, without building a context for the audit line it never writes.
     *
     * @throws IllegalArgumentException for a verdict that is not allowed (those are recorded with their context)
     */
    void countAllowed(Verdict verdict, String path) {
        if (!verdict.isAllowed()) {
            throw new IllegalArgumentException("only an allowed verdict is counted without its context: " + verdict);
        }
        recorder.count(verdict, path);
    }

    void record(Verdict verdict, RefusalContext context) {
        recorder.record(verdict, context);
        if (verdict.outcome() == Outcome.REFUSED || verdict.outcome() == Outcome.DEFERRED) {
            if (context.authUser() != null) {
                tally.add(SubjectKey.user(context.authUser()));
            } else if (context.clientIp() != null) {
                tally.add("ip:" + context.clientIp());
            }
        }
    }

    List<RefusalTally.Entry> top(int n, int minutes) {
        return tally.top(n, minutes);
    }
}
