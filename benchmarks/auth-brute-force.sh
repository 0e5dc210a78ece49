#!/usr/bin/env bash
# Issue 13's load test: parallel password guessers on the submission listener vs one legitimate user.
# Not part of the test suite. Builds, then runs dev.relayguard.bench.AuthBruteForce (src/test/java/dev/relayguard/bench).
#   benchmarks/auth-brute-force.sh                 # 32 attackers from 200 source IPs (127.0.0.x) for 60 s
#   benchmarks/auth-brute-force.sh 64 250 120 auth # attackers, source IPs, seconds, mode: auth | tls-only | mx-plain
# RELAYGUARD_SKIP_BUILD=1 skips Maven; RELAYGUARD_MVN_ARGS adds Maven arguments (e.g. -o for offline).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${RELAYGUARD_SKIP_BUILD:-0}" != "1" ]; then
  # shellcheck disable=SC2086
  mvn -q -B ${RELAYGUARD_MVN_ARGS:-} test-compile dependency:build-classpath -Dmdep.includeScope=test \
      -Dmdep.outputFile=target/test-classpath.txt
fi
exec java -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" dev.relayguard.bench.AuthBruteForce "$@"
