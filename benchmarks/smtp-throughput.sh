#!/usr/bin/env bash
# SMTP throughput of James 3.8.1, stock vs with RelayGuard (every hook, in-memory limiter), alternated in one run.
# Not part of the test suite. Builds, then runs dev.relayguard.bench.SmtpThroughput (src/test/java/dev/relayguard/bench).
#   benchmarks/smtp-throughput.sh                                    # 3 rounds, 20 s warm-up + 40 s measured per run
#   benchmarks/smtp-throughput.sh --rounds 1 --warmup 5 --measure 10 # quick check
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
