package dev.relayguard.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;

import dev.relayguard.bench.SmtpThroughput.Options;
import dev.relayguard.bench.SmtpThroughput.RunResult;

/** The benchmark's results as Markdown ({@code results.md}) and CSV ({@code results.csv}). */
final class SmtpThroughputReport {
    private static final String STOCK = SmtpThroughputJames.STOCK;

    private SmtpThroughputReport() {
    }

    /** Per-round paired comparisons of one RelayGuard variant against stock James. */
    static final class Comparison {
        final String variant;
        final SmtpThroughputStats throughputRatio;
        final SmtpThroughputStats cpuRatio;
        /** Per round: stock CPU per message / RelayGuard CPU per message (the throughput ratio if CPU-bound). */
        final SmtpThroughputStats cpuImpliedRatio;
        final SmtpThroughputStats rcptAdded;
        final SmtpThroughputStats rcptP99Added;
        final SmtpThroughputStats mailAdded;
        final SmtpThroughputStats mailP99Added;
        final SmtpThroughputStats clientRcptAdded;
        final SmtpThroughputStats clientRcptP99Added;
        final SmtpThroughputStats clientMailAdded;
        final SmtpThroughputStats cpuWithoutJitRatio;
        final SmtpThroughputStats smtpThreadsAdded;
        final SmtpThroughputStats spoolerAdded;

        Comparison(String variant, List<RunResult> results) {
            this.variant = variant;
            throughputRatio = paired(results, variant, r -> r.messagesPerSecond, true);
            cpuRatio = paired(results, variant, r -> r.jamesCpuMillisPerMessage, true);
            cpuImpliedRatio = paired(results, variant, r -> 1 / r.jamesCpuMillisPerMessage, true);
            rcptAdded = paired(results, variant, r -> r.timerMean("SMTP-rcpt"), false);
            rcptP99Added = paired(results, variant, r -> r.timerP99("SMTP-rcpt"), false);
            mailAdded = paired(results, variant, r -> r.timerMean("SMTP-mail"), false);
            mailP99Added = paired(results, variant, r -> r.timerP99("SMTP-mail"), false);
            clientRcptAdded = paired(results, variant, r -> r.clientRcpt.meanMicros, false);
            clientRcptP99Added = paired(results, variant, r -> r.clientRcpt.p99Micros, false);
            clientMailAdded = paired(results, variant, r -> r.clientMail.meanMicros, false);
            cpuWithoutJitRatio = paired(results, variant, RunResult::cpuMillisPerMessageWithoutJit, true);
            smtpThreadsAdded = paired(results, variant, r -> r.cpuGroup("smtp"), false);
            spoolerAdded = paired(results, variant, r -> r.cpuGroup("spooler"), false);
        }

        private static SmtpThroughputStats paired(List<RunResult> results, String variant, Function<RunResult, Double> f,
                                                  boolean ratio) {
            List<Double> values = new ArrayList<>();
            for (RunResult run : results) {
                if (!run.variant.equals(variant)) {
                    continue;
                }
                for (RunResult stock : results) {
                    if (stock.variant.equals(STOCK) && stock.round == run.round) {
                        double a = f.apply(run);
                        double b = f.apply(stock);
                        values.add(ratio ? a / b : a - b);
                    }
                }
            }
            return SmtpThroughputStats.of(values);
        }
    }

    /** Rounds needed for the 95% half-width of the tighter of the two ratios to reach {@code target}. */
    static int roundsFor(Comparison c, double target) {
        double sd = Math.min(c.throughputRatio.sd, c.cpuRatio.sd);
        if (Double.isNaN(sd) || sd == 0) {
            return c.throughputRatio.n;
        }
        int n = 2;
        while (n < 1000 && SmtpThroughputStats.t95(n - 1) * sd / Math.sqrt(n) > target) {
            n++;
        }
        return n;
    }

    static List<Comparison> comparisons(Options options, List<RunResult> results) {
        List<Comparison> comparisons = new ArrayList<>();
        for (String variant : options.variants) {
            if (!variant.equals(STOCK)) {
                comparisons.add(new Comparison(variant, results));
            }
        }
        return comparisons;
    }

    static String markdown(Options options, List<RunResult> results, Set<String> timerNames, long ticksPerSecond, Duration took) {
        StringBuilder md = new StringBuilder();
        md.append("# SMTP throughput: James 3.8.1 stock vs James 3.8.1 with RelayGuard (load: ").append(options.loadName())
            .append(")\n\n");
        md.append("Run ").append(java.time.ZonedDateTime.now().withNano(0)).append(" by `benchmarks/smtp-throughput.sh` (")
            .append("`dev.relayguard.bench.SmtpThroughput`), ").append(took.toMinutes()).append(" min ")
            .append(took.toSecondsPart()).append(" s in all.\n\n");
        md.append("- Machine: ").append(Runtime.getRuntime().availableProcessors()).append(" CPUs, Java ")
            .append(System.getProperty("java.version")).append(" (James and the load generator in two JVMs on the same CPUs), ")
            .append(ticksPerSecond).append(" clock ticks/s.\n");
        md.append("- Load: ").append(options.describe()).append(". ");
        if (options.submission) {
            md.append("Submission listener on 127.0.0.1: each connection runs EHLO, STARTTLS (the run's self-signed "
                + "certificate), EHLO, AUTH PLAIN as one of the ").append(options.users).append(" users `userK@relayguard.test` "
                + "(created over JMX like the mailboxes; a client's next connection logs in as another user), then sends "
                + "one command at a time (no pipelining) MAIL FROM the user's own address with a `From:` header of the same "
                + "address, every recipient a local mailbox `boxK@relayguard.test`.\n");
        } else {
            md.append("MX listener (no AUTH), plain SMTP on 127.0.0.1, one command at a time (no pipelining), MAIL FROM a "
                + "stranger (`loadN@senderN.example`), every recipient a local mailbox `boxK@relayguard.test`.\n");
        }
        if (options.discard) {
            md.append("- Delivery: `discard`. In every variant alike, the `local-delivery` processor ends in `Null` instead of "
                + "`LocalDelivery`; everything before it runs (RelayGuard's mailets, RecipientRewriteTable, RecipientIsLocal, "
                + "Sieve, AddDeliveredToHeader). Why: with `LocalDelivery`, James 3.8.1's in-memory mailboxes cost 8–16 ms of "
                + "CPU per message on a 2-CPU machine, a cost that grows with the number of messages stored (a profile shows "
                + "the in-memory mappers scanning every stored message on each append); the spool then grows by about "
                + "100 messages/s and the figures measure the mailbox store, not SMTP. `--delivery mailbox` measures with it.\n");
        } else {
            md.append("- Delivery: `mailbox` (the sample's `LocalDelivery` into James's in-memory mailboxes; its cost grows "
                + "with the number of stored messages and dominates; watch the spool column).\n");
        }
        md.append("- James: `MemoryJamesServerMain` 3.8.1 in its own JVM (`-Xms").append(options.heap).append(" -Xmx")
            .append(options.heap).append(" -XX:+UseG1GC`), conf from `conf-samples/single-node`, started fresh for every run, ")
            .append("one at a time; the order of the variants rotates from round to round.\n\n");
        md.append("## Variants\n\n");
        md.append("| Variant | James configuration |\n|---|---|\n");
        for (String variant : options.variants) {
            md.append("| `").append(variant).append("` | ").append(describeVariant(variant, options)).append(" |\n");
        }
        md.append('\n');

        md.append("## Per run\n\n");
        md.append("Means of James's timers are over the measured window (difference of James's cumulative histograms); "
            + "p99 are cumulative since James started (James's timers never reset, warm-up included). CPU is James's JVM only "
            + "(`/proc/<pid>/stat` utime+stime over the window). Client RTT: round trip seen by the load generator. Times in µs. "
            + "CPU by thread group (`/proc/<pid>/task/*/stat`): SMTP threads = the listeners' Netty threads (TLS included), where every SMTP "
            + "hook runs (RelayGuard's included); spooler = the mailet pipeline (RelayGuard's mailets included); JIT = the C1/C2 "
            + "compiler threads; GC; other = the rest of the process (JMX, timers, logging appenders…). Other cores = CPUs busy "
            + "outside James and the load generator (other processes, the kernel's loopback network stack); with the load "
            + "average (which also counts the benchmark's own runnable threads) they show when something else ran beside a run.\n\n");
        md.append("| Round | # | Variant | msgs/s | msgs | fail | James CPU ms/msg | of which µs/msg: SMTP threads / spooler / JIT / GC / other "
            + "| James cores | system busy | loadgen cores | other cores | load avg "
            + "| GC ms/msg | SMTP-rcpt mean | SMTP-rcpt p99 | SMTP-mail mean | SMTP-mail p99 | client RCPT mean | client RCPT p99 "
            + "| client MAIL mean | client DATA mean | spool start→end | heap MB |\n");
        md.append("|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
        for (RunResult r : results) {
            md.append(String.format(Locale.ROOT,
                "| %d | %d | %s | %.1f | %d | %d | %.3f | %.0f / %.0f / %.0f / %.0f / %.0f | %.2f | %.0f%% | %.2f | %.2f | %.1f | %.3f | %s | %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %s→%s | %d |\n",
                r.round, r.position + 1, r.variant, r.messagesPerSecond, r.messages, r.failures, r.jamesCpuMillisPerMessage,
                r.cpuGroup("smtp"), r.cpuGroup("spooler"), r.cpuGroup("jit"), r.cpuGroup("gc"), r.cpuGroup("other"),
                r.jamesCpuCores, r.systemBusyFraction * 100, r.loadGeneratorCpuCores, r.otherCores, r.loadAverage, r.gcMillisPerMessage,
                f1(r.timerMean("SMTP-rcpt")), f1(r.timerP99("SMTP-rcpt")), f1(r.timerMean("SMTP-mail")), f1(r.timerP99("SMTP-mail")),
                r.clientRcpt.meanMicros, r.clientRcpt.p99Micros, r.clientMail.meanMicros, r.clientData.meanMicros,
                r.spoolStart < 0 ? "?" : String.valueOf(r.spoolStart), r.spoolEnd < 0 ? "?" : String.valueOf(r.spoolEnd), r.heapUsedMb));
        }

        md.append("\nAccepted messages per second in successive 10 s slices (warm-up | measured), to see whether the "
            + "JIT had settled and how much the rate wanders within a run:\n\n");
        for (RunResult r : results) {
            md.append("- round ").append(r.round).append(' ').append(r.variant).append(": ")
                .append(SmtpThroughput.rateText(r.warmupRates)).append(" | ").append(SmtpThroughput.rateText(r.measuredRates))
                .append('\n');
        }

        md.append("\n## Summary per variant (mean over rounds, [min – max])\n\n");
        md.append("| Variant | msgs/s | spread (max−min)/mean | James CPU ms/msg | CPU spread | CPU without JIT ms/msg "
            + "| SMTP-thread CPU µs/msg | spooler CPU µs/msg | SMTP-rcpt mean µs | SMTP-rcpt p99 µs "
            + "| SMTP-mail mean µs | SMTP-mail p99 µs | client RCPT RTT mean / p99 µs | relayguard.decision.rcpt mean / p99 µs "
            + "| relayguard.decision.mail mean µs | relayguard.rate.store mean µs |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (String variant : options.variants) {
            SmtpThroughputStats tp = SmtpThroughputStats.of(SmtpThroughput.values(results, variant, r -> r.messagesPerSecond));
            SmtpThroughputStats cpu = SmtpThroughputStats.of(SmtpThroughput.values(results, variant, r -> r.jamesCpuMillisPerMessage));
            SmtpThroughputStats noJit = SmtpThroughputStats.of(SmtpThroughput.values(results, variant, RunResult::cpuMillisPerMessageWithoutJit));
            md.append(String.format(Locale.ROOT, "| %s | %.1f [%.1f – %.1f] | %.1f%% | %.3f [%.3f – %.3f] | %.1f%% | %.3f [%.3f – %.3f] | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s |\n",
                variant, tp.mean, tp.min, tp.max, tp.relativeSpread() * 100, cpu.mean, cpu.min, cpu.max, cpu.relativeSpread() * 100,
                noJit.mean, noJit.min, noJit.max,
                f0(mean(results, variant, r -> r.cpuGroup("smtp"))), f0(mean(results, variant, r -> r.cpuGroup("spooler"))),
                f1(mean(results, variant, r -> r.timerMean("SMTP-rcpt"))), f1(mean(results, variant, r -> r.timerP99("SMTP-rcpt"))),
                f1(mean(results, variant, r -> r.timerMean("SMTP-mail"))), f1(mean(results, variant, r -> r.timerP99("SMTP-mail"))),
                f0(mean(results, variant, r -> r.clientRcpt.meanMicros)), f0(mean(results, variant, r -> r.clientRcpt.p99Micros)),
                f1(mean(results, variant, r -> r.timerMean("relayguard.decision.rcpt"))),
                f1(mean(results, variant, r -> r.timerP99("relayguard.decision.rcpt"))),
                f1(mean(results, variant, r -> r.timerMean("relayguard.decision.mail"))),
                f1(mean(results, variant, r -> r.timerMean("relayguard.rate.store")))));
        }

        List<Comparison> comparisons = comparisons(options, results);
        int rounds = options.rounds;
        md.append("\n## Against stock James (paired by round)\n\n");
        md.append("Each RelayGuard run is compared with the stock run of the same round; mean of the per-round figures, "
            + "[min – max], and ± the half-width of the 95% confidence interval of the mean (Student t")
            .append(rounds > 1 ? ", " + (rounds - 1) + " degrees of freedom" : "; none with a single round").append(").\n\n");
        md.append("| Variant | throughput ratio (RG/stock) | James CPU per msg ratio | CPU-implied throughput ratio (stock/RG CPU) "
            + "| CPU without JIT ratio | SMTP-thread CPU added µs/msg | spooler CPU added µs/msg "
            + "| SMTP-rcpt mean added µs | SMTP-rcpt p99 added µs | SMTP-mail mean added µs | SMTP-mail p99 added µs "
            + "| client RCPT RTT mean added µs | client MAIL RTT mean added µs |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Comparison c : comparisons) {
            md.append("| ").append(c.variant).append(" | ").append(withSpread(c.throughputRatio, "%.3f"))
                .append(" | ").append(withSpread(c.cpuRatio, "%.3f"))
                .append(" | ").append(withSpread(c.cpuImpliedRatio, "%.3f"))
                .append(" | ").append(withSpread(c.cpuWithoutJitRatio, "%.3f"))
                .append(" | ").append(withSpread(c.smtpThreadsAdded, "%+.0f"))
                .append(" | ").append(withSpread(c.spoolerAdded, "%+.0f"))
                .append(" | ").append(withSpread(c.rcptAdded, "%+.1f"))
                .append(" | ").append(withSpread(c.rcptP99Added, "%+.1f"))
                .append(" | ").append(withSpread(c.mailAdded, "%+.1f"))
                .append(" | ").append(withSpread(c.mailP99Added, "%+.1f"))
                .append(" | ").append(withSpread(c.clientRcptAdded, "%+.0f"))
                .append(" | ").append(withSpread(c.clientMailAdded, "%+.0f")).append(" |\n");
        }

        md.append("\n## Goals\n\n");
        for (Comparison c : comparisons) {
            md.append("- `").append(c.variant).append("`: throughput ratio ≥ ").append(SmtpThroughput.ratioGoal()).append(": ")
                .append("wall-clock ").append(verdictAtLeast(c.throughputRatio, SmtpThroughput.ratioGoal(), "%.3f"))
                .append(" CPU-based (stock CPU/msg ÷ RG CPU/msg): ")
                .append(verdictAtLeast(c.cpuImpliedRatio, SmtpThroughput.ratioGoal(), "%.3f")).append("\n");
            md.append("- `").append(c.variant).append("`: RCPT latency added ≤ ").append((int) SmtpThroughput.rcptAddedGoalMicros())
                .append(" µs (James's SMTP-rcpt timer, window mean): ")
                .append(verdictAtMost(c.rcptAdded, SmtpThroughput.rcptAddedGoalMicros(), "%+.1f µs")).append("\n");
        }

        redisSection(md, options, results);

        md.append("\n## What this method can resolve\n\n");
        for (String variant : options.variants) {
            SmtpThroughputStats tp = SmtpThroughputStats.of(SmtpThroughput.values(results, variant, r -> r.messagesPerSecond));
            SmtpThroughputStats cpu = SmtpThroughputStats.of(SmtpThroughput.values(results, variant, r -> r.jamesCpuMillisPerMessage));
            md.append(String.format(Locale.ROOT, "- `%s` across rounds: throughput %.1f msgs/s, spread %.1f%% (max−min)/mean%s; "
                    + "James CPU per message spread %.1f%%%s.\n", variant, tp.mean, tp.relativeSpread() * 100,
                tp.n >= 2 ? String.format(Locale.ROOT, ", CV %.1f%%", tp.sd / tp.mean * 100) : "",
                cpu.relativeSpread() * 100, cpu.n >= 2 ? String.format(Locale.ROOT, ", CV %.1f%%", cpu.sd / cpu.mean * 100) : ""));
        }
        for (Comparison c : comparisons) {
            if (c.throughputRatio.n >= 2) {
                md.append(String.format(Locale.ROOT, "- `%s` vs stock: with %d paired rounds the 95%% interval of the throughput ratio "
                        + "is ±%.1f%% (per-round ratios %.3f – %.3f) and of the CPU-per-message ratio ±%.1f%% (%.3f – %.3f); "
                        + "of the SMTP-rcpt mean difference ±%.1f µs. Differences smaller than these are not resolved by this "
                        + "run (a difference must be about 1.5× larger to be detected reliably); the interval shrinks as "
                        + "1/√rounds, so resolving ±%.0f%% would take about %d rounds.\n",
                    c.variant, c.throughputRatio.n, c.throughputRatio.ci95 * 100, c.throughputRatio.min, c.throughputRatio.max,
                    c.cpuRatio.ci95 * 100, c.cpuRatio.min, c.cpuRatio.max, c.rcptAdded.ci95,
                    (1 - SmtpThroughput.ratioGoal()) * 100, roundsFor(c, 1 - SmtpThroughput.ratioGoal())));
            } else {
                md.append("- `").append(c.variant).append("` vs stock: one round gives no estimate of the noise. With the ±10% "
                    + "run-to-run variation of wall-clock throughput on a small shared machine, one pair of runs cannot resolve "
                    + "a throughput difference smaller than about ±10–14%; run `--rounds 3` or more (the interval then follows "
                    + "from the spread of the paired rounds, and CPU per message is usually several times tighter).\n");
            }
        }
        md.append("- Wall-clock throughput depends on what else the shared machine does; James's CPU time per message does not "
            + "depend on how long James waits, so its ratio is the finer measure of the cost RelayGuard adds (as long as the "
            + "spool backlog stays flat, see the per-run table: CPU spent delivering a backlog is charged to the window it "
            + "is delivered in). On 2 CPUs with James CPU-bound, throughput ≈ CPU available ÷ CPU per message. "
            + "Both are paired by round, so slow drifts of the machine cancel; what remains is the run-to-run noise above "
            + "(JIT compilation order, garbage collection, neighbours on the host).\n");
        md.append("- Timer resolution: James's timers are HdrHistograms with 2 significant digits (≈1% of the value); "
            + "window means by difference are exact up to that.\n");

        md.append("\n## What the timers cover\n\n");
        md.append("- `SMTP-rcpt` / `SMTP-mail` are James's own timers of its RCPT and MAIL command handlers: all their hooks, "
            + "RelayGuard's `doRcpt` (relay decision, counters, limiter charge of the recipient) and `doMail` included. "
            + "RelayGuard's raw-command checks (routing syntax in the path as written; at MAIL also the sender rules and the "
            + "limiter's message charge) run as a separate command handler just before James's and are not inside these timers: "
            + "RelayGuard's own timers (`relayguard.decision.mail`, `relayguard.rate.store`) and the client round-trip times "
            + "show them.\n");
        md.append("- Client round-trip times include everything on James's side (Netty, all handlers) plus queueing for the "
            + "2 CPUs shared by ").append(options.clients).append(" clients and James, so they are far larger than the timers.\n");
        md.append("- Timers found over JMX (`metrics:type=timers,*`): ").append(String.join(", ", timerNames)).append(".\n");

        for (String variant : options.variants) {
            if (variant.equals(STOCK)) {
                continue;
            }
            RunResult last = null;
            for (RunResult r : results) {
                if (r.variant.equals(variant)) {
                    last = r;
                }
            }
            if (last != null) {
                md.append("\n## RelayGuard counters, last `").append(variant).append("` run (whole run, warm-up included)\n\n");
                md.append("The hooks ran on every transaction (non-zero counters only; limiter keys tracked: ")
                    .append(last.trackedKeys).append(").");
                md.append("\n\n```\n");
                for (String count : last.relayGuardCounts) {
                    if (!count.endsWith("=0")) {
                        md.append(count).append('\n');
                    }
                }
                md.append("```\n");
            }
        }
        boolean anyErrors = results.stream().anyMatch(r -> !r.errors.isEmpty());
        if (anyErrors) {
            md.append("\n## Errors seen by the load generator\n\n");
            for (RunResult r : results) {
                if (!r.errors.isEmpty()) {
                    md.append("- round ").append(r.round).append(' ').append(r.variant).append(": ").append(r.errors).append('\n');
                }
            }
        }
        long fallbacks = results.stream().mapToLong(r -> r.bindFallbacks).sum();
        if (fallbacks > 0) {
            md.append("\nNote: ").append(fallbacks).append(" connections could not bind their 127.0.0.x source address and used the default.\n");
        }
        return md.toString();
    }

    /** Redis's own figures of the {@code relayguard-redis} runs (nothing when there are none). */
    static void redisSection(StringBuilder md, Options options, List<RunResult> results) {
        List<RunResult> runs = new ArrayList<>();
        Set<String> commands = new java.util.TreeSet<>();
        for (RunResult r : results) {
            if (r.hasRedis()) {
                runs.add(r);
                commands.addAll(r.redisCalls.keySet());
            }
        }
        if (runs.isEmpty()) {
            return;
        }
        md.append("\n## Redis (`relayguard-redis`), over the measured window\n\n");
        md.append("From Redis itself (`INFO all` at the two ends of the window; the benchmark's own `INFO` left out). "
            + "`INFO commandstats` counts the commands a Lua script runs (`redis.call`) under their own names as well as the "
            + "commands clients send. Round trips: the requests clients sent, i.e. `evalsha` + `eval` + every command that "
            + "none of RelayGuard's scripts (`src/main/resources/dev/relayguard/store/*.lua`) runs; a command sent both "
            + "directly and from a script would be missed (RelayGuard's stores send everything as scripts). Decisions: MAIL "
            + "+ accepted RCPTs + end of DATA. Round trips / decision spreads the logins' round trips (one login per ")
            .append(options.messagesPerConnection)
            .append(" messages) over the decisions; without logins takes the window's logins out at ")
            .append(SmtpThroughput.RunResult.ROUND_TRIPS_PER_LOGIN)
            .append(" round trips each (the AUTH row that `RedisRoundTripsIT` asserts: the attempt check and the success "
                + "record). Read events: `total_reads_processed`, request batches read from "
            + "client connections (fewer than the requests when the client pipelines concurrent sessions' commands on one "
            + "connection). Redis CPU: `used_cpu_sys` + `used_cpu_user`.\n\n");
        md.append("| Round | msgs | logins | round trips / msg | round trips / decision | without logins | read events / msg "
            + "| EVALSHA+EVAL / msg | all commands / msg | Redis CPU µs / msg | Redis CPU cores | evalsha µs per call");
        for (String command : commands) {
            md.append(" | `").append(command).append("` / msg");
        }
        md.append(" |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:");
        for (int i = 0; i < commands.size(); i++) {
            md.append("|---:");
        }
        md.append("|\n");
        for (RunResult r : runs) {
            long evalshaCalls = r.redisCalls.getOrDefault("evalsha", 0L);
            md.append(String.format(Locale.ROOT, "| %d | %d | %d | %.2f | %.3f | %.3f | %.2f | %.2f | %.2f | %.1f | %.3f | %s",
                r.round, r.messages, r.measuredLogins, r.redisRoundTripsPerMessage(), r.redisRoundTripsPerDecision(),
                r.redisRoundTripsPerDecisionWithoutLogins(), r.redisReadsPerMessage(),
                r.redisCallsPerMessage("evalsha", "eval"), r.redisAllCallsPerMessage(), r.redisCpuMicrosPerMessage(),
                r.redisCpuMillis / 1000 / r.windowSeconds,
                evalshaCalls == 0 ? "n/a" : f1(r.redisUsec.getOrDefault("evalsha", 0L) / (double) evalshaCalls)));
            for (String command : commands) {
                md.append(String.format(Locale.ROOT, " | %.3f", r.redisCallsPerMessage(command)));
            }
            md.append(" |\n");
        }
        SmtpThroughputStats perDecision = SmtpThroughputStats.of(values(runs, RunResult::redisRoundTripsPerDecisionWithoutLogins));
        md.append("\n- Redis round trips per MAIL/RCPT/DATA decision ≤ 1 (the logins' own taken out): ")
            .append(verdictAtMost(perDecision, 1.0, "%.3f")).append(" With the logins' spread over the decisions: ")
            .append(withSpread(SmtpThroughputStats.of(values(runs, RunResult::redisRoundTripsPerDecision)), "%.3f"))
            .append(". Per message: ")
            .append(withSpread(SmtpThroughputStats.of(values(runs, RunResult::redisRoundTripsPerMessage)), "%.2f"))
            .append("; Redis CPU per message: ")
            .append(withSpread(SmtpThroughputStats.of(values(runs, RunResult::redisCpuMicrosPerMessage)), "%.1f"))
            .append(" µs.\n");
    }

    private static List<Double> values(List<RunResult> runs, Function<RunResult, Double> f) {
        List<Double> values = new ArrayList<>();
        for (RunResult r : runs) {
            values.add(f.apply(r));
        }
        return values;
    }

    /** One row of the variants table. */
    static String describeVariant(String variant, Options options) {
        switch (variant) {
            case SmtpThroughputJames.STOCK:
                return "the sample with RelayGuard removed: no `RelayGuardHandler` in `smtpserver.xml`, empty `extensions.properties`, "
                    + "no `RelayGuardRoutes` in `webadmin.properties`, "
                    + "no `relayguard.xml`, no extension jars; `mailetcontainer.xml` transport without RelayGuard's four mailets and with "
                    + "James's own ending (`relay-allowed` composite → relay, the rest → `relay-denied`)"
                    + (options.submission ? ". Submission: James's own AUTH (after STARTTLS, `requireSSL`), the sample's "
                        + "`verifyIdentity false` (James's own sender check off, as in the sample: so RelayGuard's sender "
                        + "ownership and header checks are counted in full as added cost)" : "");
            case SmtpThroughputJames.RELAYGUARD:
                return "the sample as shipped: `RelayGuardHandler` on both listeners, the Guice module, "
                    + "`IsSenderNotOwned`+`RefuseSender`, `ChargeSenderLimits`, `HasRoutingSyntax`/`IsRelayDenied`+`RefuseRelay` mailets, in-memory limiter; only "
                    + "`probeBans refusals 0` and the `users` limits raised (10⁸/min…). The clients are strangers: every hook runs "
                    + "(connect ban check, raw MAIL/RCPT checks, sender rules with the local-sender lookup, relay decision with a "
                    + "DomainList lookup per RCPT, counters), but a stranger has no rate subject, so the limiter charges nothing";
            case SmtpThroughputJames.RELAYGUARD_LIMITER:
                return "as `relayguard`, plus `127.0.0.0/8` in `trustedNetworks` and raised `trustedClients` "
                    + "limits (messages per 1m and per 1d, recipients per 1h, bytes per 1d): every MAIL, RCPT and end of DATA is "
                    + "also charged to the in-memory limiter (key: the client IP"
                    + (options.distinctSourceIps ? ", one per client" : ", all clients share 127.0.0.1") + "). "
                    + "The relay decision is then the trusted-network shortcut (no DomainList lookup)";
            case SmtpThroughputJames.RELAYGUARD_FULL:
                return "the sample as shipped, every feature on: sender ownership `strict` at MAIL, the `From:`/`Sender:` "
                    + "header check at end of DATA, `<authLimits>` (attempt check before and success record after each AUTH), "
                    + "per-user rate limits in memory (messages per 1m and per 1d, recipients per 1h, bytes per 1d, raised to "
                    + "10⁸/min… so nothing is refused but every MAIL, RCPT and end of DATA is charged to the user's key), the "
                    + "mailets; only `probeBans refusals 0`";
            case SmtpThroughputJames.RELAYGUARD_REDIS:
                return "as `relayguard-full` with `<store>redis</store>` on a local `redis-server` the benchmark starts per "
                    + "run (127.0.0.1, free port, `--save \"\" --appendonly no`) and stops: rate limits, AUTH failure state, "
                    + "known clients, suspensions and bans live in Redis";
            default:
                return "?";
        }
    }

    static String csv(List<RunResult> results) {
        StringBuilder csv = new StringBuilder("round,position,variant,window_s,messages,recipients,failures,msgs_per_s,james_cpu_ms,"
            + "james_cpu_ms_per_msg,james_cores,system_busy,loadgen_cores,gc_ms_per_msg,smtp_rcpt_mean_us,smtp_rcpt_p99_us,"
            + "smtp_mail_mean_us,smtp_mail_p99_us,rg_decision_rcpt_mean_us,rg_decision_mail_mean_us,rg_rate_store_mean_us,"
            + "client_mail_mean_us,client_mail_p99_us,client_rcpt_mean_us,client_rcpt_p99_us,client_data_mean_us,client_data_p99_us,"
            + "spool_start,spool_end,heap_used_mb,startup_s,logins,measured_logins,redis_round_trips_per_msg,redis_round_trips_per_decision,redis_round_trips_per_decision_without_logins,"
            + "redis_read_events_per_msg,redis_evalsha_eval_per_msg,redis_all_commands_per_msg,redis_cpu_us_per_msg\n");
        for (RunResult r : results) {
            csv.append(String.format(Locale.ROOT, "%d,%d,%s,%.3f,%d,%d,%d,%.2f,%.1f,%.4f,%.3f,%.3f,%.3f,%.4f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,"
                    + "%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%d,%d,%d,%.1f,%d,%d,%.3f,%.4f,%.4f,%.3f,%.3f,%.3f,%.2f\n",
                r.round, r.position + 1, r.variant, r.windowSeconds, r.messages, r.recipients, r.failures, r.messagesPerSecond,
                r.jamesCpuMillis, r.jamesCpuMillisPerMessage, r.jamesCpuCores, r.systemBusyFraction, r.loadGeneratorCpuCores,
                r.gcMillisPerMessage, r.timerMean("SMTP-rcpt"), r.timerP99("SMTP-rcpt"), r.timerMean("SMTP-mail"),
                r.timerP99("SMTP-mail"), r.timerMean("relayguard.decision.rcpt"), r.timerMean("relayguard.decision.mail"),
                r.timerMean("relayguard.rate.store"), r.clientMail.meanMicros, r.clientMail.p99Micros, r.clientRcpt.meanMicros,
                r.clientRcpt.p99Micros, r.clientData.meanMicros, r.clientData.p99Micros, r.spoolStart, r.spoolEnd, r.heapUsedMb,
                r.startupSeconds, r.logins, r.measuredLogins, r.redisRoundTripsPerMessage(), r.redisRoundTripsPerDecision(),
                r.redisRoundTripsPerDecisionWithoutLogins(), r.redisReadsPerMessage(),
                r.redisCallsPerMessage("evalsha", "eval"), r.redisAllCallsPerMessage(), r.redisCpuMicrosPerMessage()));
        }
        return csv.toString();
    }

    static double mean(List<RunResult> results, String variant, Function<RunResult, Double> f) {
        return SmtpThroughputStats.of(SmtpThroughput.values(results, variant, f)).mean;
    }

    static String withSpread(SmtpThroughputStats s, String format) {
        if (s.n == 0) {
            return "n/a";
        }
        String text = String.format(Locale.ROOT, format, s.mean);
        if (s.n >= 2) {
            text += String.format(Locale.ROOT, " [" + format + " – " + format + "] ±%s", s.min, s.max,
                String.format(Locale.ROOT, format.replace("+", ""), s.ci95));
        }
        return text;
    }

    static String verdictAtLeast(SmtpThroughputStats s, double goal, String format) {
        if (s.n == 0 || Double.isNaN(s.mean)) {
            return "no data.";
        }
        String value = String.format(Locale.ROOT, format, s.mean);
        if (s.n < 2 || Double.isNaN(s.ci95)) {
            return (s.mean >= goal ? "met on the measured value " : "not met on the measured value ") + value
                + " (one round: not resolved against the run-to-run noise).";
        }
        String interval = String.format(Locale.ROOT, "95%% interval " + format + " – " + format, s.mean - s.ci95, s.mean + s.ci95);
        if (s.mean - s.ci95 >= goal) {
            return "**met**, " + value + " (" + interval + ", resolved).";
        }
        if (s.mean + s.ci95 < goal) {
            return "**missed**, " + value + " (" + interval + ", resolved).";
        }
        return (s.mean >= goal ? "met on the mean, " : "below on the mean, ") + value + " (" + interval
            + ": the goal lies inside the noise, not resolved).";
    }

    static String verdictAtMost(SmtpThroughputStats s, double goal, String format) {
        if (s.n == 0 || Double.isNaN(s.mean)) {
            return "no data.";
        }
        String value = String.format(Locale.ROOT, format, s.mean);
        if (s.n < 2 || Double.isNaN(s.ci95)) {
            return (s.mean <= goal ? "met on the measured value " : "not met on the measured value ") + value + " (one round).";
        }
        String interval = String.format(Locale.ROOT, "95%% interval " + format + " – " + format, s.mean - s.ci95, s.mean + s.ci95);
        if (s.mean + s.ci95 <= goal) {
            return "**met**, " + value + " (" + interval + ", resolved).";
        }
        if (s.mean - s.ci95 > goal) {
            return "**missed**, " + value + " (" + interval + ", resolved).";
        }
        return (s.mean <= goal ? "met on the mean, " : "above on the mean, ") + value + " (" + interval
            + ": the goal lies inside the noise, not resolved).";
    }

    static String f1(double value) {
        return Double.isNaN(value) ? "n/a" : String.format(Locale.ROOT, "%.1f", value);
    }

    static String f0(double value) {
        return Double.isNaN(value) ? "n/a" : String.format(Locale.ROOT, "%.0f", value);
    }
}
