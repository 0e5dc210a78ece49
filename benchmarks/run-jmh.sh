#!/usr/bin/env bash
# Runs RelayGuard's benchmarks and prints their figures. Not part of the test suite (no timed assertions).
#   benchmarks/run-jmh.sh                 # all JMH benchmarks, then memory per key
#   benchmarks/run-jmh.sh Memory          # JMH benchmarks whose name matches a regexp
# JMH options can follow after --, e.g.  benchmarks/run-jmh.sh Memory -- -f 1 -wi 3 -i 5
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-.}"
shift || true
[ "${1:-}" = "--" ] && shift
mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
CP="target/test-classes:target/classes:$(cat target/test-classpath.txt)"
# Default JMH options only when none are given (JMH refuses an option given twice).
[ $# -eq 0 ] && set -- -f 1 -wi 2 -w 2s -i 3 -r 3s
java -cp "$CP" org.openjdk.jmh.Main "$filter" "$@"
if [ "$filter" = "." ] || [[ "MemoryPerKey" =~ $filter ]]; then
  java -Xmx3g -cp "$CP" dev.relayguard.bench.MemoryPerKey 1000000
fi
