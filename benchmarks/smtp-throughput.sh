#!/usr/bin/env bash
# SMTP throughput of James 3.8.1, stock vs with RelayGuard, variants alternated in one run.
# Not part of the test suite. Builds, then runs dev.relayguard.bench.SmtpThroughput (src/test/java/dev/relayguard/bench).
# Two loads: --load mx (default; strangers on the MX listener: stock, relayguard, relayguard-limiter) and
# --load submission (users after STARTTLS + AUTH PLAIN on the submission listener, every feature on: stock,
# relayguard-full, relayguard-redis; the last starts /usr/bin/redis-server per run on a free 127.0.0.1 port).
#   benchmarks/smtp-throughput.sh                                    # 3 rounds, 120 s warm-up + 60 s measured per run
#   benchmarks/smtp-throughput.sh --rounds 1 --warmup 5 --measure 10 # quick check
#   benchmarks/smtp-throughput.sh --load submission --rounds 6       # issue 17 end to end (~65-75 min on 2 CPUs)
#   benchmarks/smtp-throughput.sh --help                             # every option
# Results: target/smtp-throughput/results.md, results.csv, throughput.png, logs/ (one James log per run).
# RELAYGUARD_SKIP_BUILD=1 skips Maven; RELAYGUARD_MVN_ARGS adds Maven arguments (e.g. -o for offline).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${RELAYGUARD_SKIP_BUILD:-0}" != "1" ]; then
  # shellcheck disable=SC2086
  mvn -q -B ${RELAYGUARD_MVN_ARGS:-} -DskipTests package
  # shellcheck disable=SC2086
  mvn -q -B ${RELAYGUARD_MVN_ARGS:-} test-compile dependency:build-classpath -Dmdep.includeScope=test \
      -Dmdep.outputFile=target/test-classpath.txt
fi
exec java -Djava.awt.headless=true -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" \
     dev.relayguard.bench.SmtpThroughput --project-dir "$PWD" "$@"
