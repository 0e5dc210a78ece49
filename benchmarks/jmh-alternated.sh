#!/usr/bin/env bash
# A JMH comparison measured in alternated rounds, the way smtp-throughput.sh alternates James variants: each round
# runs the anchor's benchmarks and ours, one fork each, in turn (the order swapped every round), and the ratio of a
# row is taken per round, then averaged over the rounds (geometric mean, with a 95% Student t interval on the
# logarithms, so that ours / anchor and anchor / ours agree).
#
# Why: JMH runs every fork of one benchmark before the next, so the two sides of a row are measured 10-30 minutes
# apart in a long run, and a slower spell of a shared host lands on one side only. Issue 17 ran into it: the same code gave
# 0.95 +-0.04 for one row in a 10-fork run of the whole table and 1.14 +-0.02 in a run of that row alone. Rounds of
# one fork per side put the two sides of a row a few minutes apart, and the spread between rounds shows in the
# interval instead of hiding between runs. Not part of the test suite (no timed assertions).
#
#   benchmarks/jmh-alternated.sh --rounds 6 --anchor 'LimiterVersusBucket4jBenchmark.bucket4j_' \
#       --ours 'LimiterVersusBucket4jBenchmark.relayGuard_' -- -wi 4 -w 1s -i 8 -r 1s
#   benchmarks/jmh-alternated.sh --rounds 6 --anchor 'RedisLimiterBenchmark.bare_' \
#       --ours 'RedisLimiterBenchmark.acquire_' -- -wi 3 -w 2s -i 5 -r 3s
#
# A row is the benchmark name after the side's prefix (e.g. _1thread) with its parameters. JMH options after --
# apply to every invocation (-f, -foe, -rf and -rff are set here). --threshold X: count the rounds whose ratio is below X
# (default 1; e.g. 0.8 for the Redis goal). Results: --out DIR, relative to the repository's root (default
# target/jmh-alternated):
# one CSV per round and side, and summary.md (--summary-only writes it again from the CSVs there, running nothing).
# RELAYGUARD_SKIP_BUILD=1 skips Maven.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=""
threshold=1
anchor=""
ours=""
out=target/jmh-alternated
summary_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds|--anchor|--ours|--out|--threshold)
      if [ $# -lt 2 ]; then echo "jmh-alternated.sh: $1 needs a value" >&2; exit 2; fi ;;
  esac
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --anchor) anchor="$2"; shift 2 ;;
    --ours) ours="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --threshold) threshold="$2"; shift 2 ;;
    --summary-only) summary_only=1; shift ;;
    --) shift; break ;;
    *) echo "jmh-alternated.sh: unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
if [ -z "$anchor" ] || [ -z "$ours" ]; then
  echo "jmh-alternated.sh: --anchor REGEX and --ours REGEX are required" >&2
  exit 2
fi
if [ -z "$rounds" ] && [ "$summary_only" = 1 ]; then # the rounds found in --out
  rounds=$(ls "$out" 2>/dev/null | sed -n 's/^round-\([0-9]*\)-ours\.csv$/\1/p' | sort -n | tail -1 || true)
fi
rounds=${rounds:-6}
if ! [[ "$threshold" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  echo "jmh-alternated.sh: --threshold must be a positive number, not $threshold" >&2
  exit 2
fi
if ! [[ "$rounds" =~ ^[0-9]+$ ]] || [ "$rounds" -lt 2 ]; then
  echo "jmh-alternated.sh: --rounds must be a whole number of at least 2, not $rounds" >&2
  exit 2
fi
if [ "$summary_only" = 1 ]; then
  :
elif [ "${RELAYGUARD_SKIP_BUILD:-0}" != "1" ]; then
  mvn -q -B -DskipTests test-compile dependency:build-classpath -Dmdep.includeScope=test \
      -Dmdep.outputFile=target/test-classpath.txt
fi
if [ "$summary_only" = 0 ]; then
CP="target/test-classes:target/classes:$(cat target/test-classpath.txt)"
mkdir -p "$out"
rm -f "$out"/round-*.csv
echo "# $(date -u '+%F %T') start; load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/log.txt"
for ((r = 1; r <= rounds; r++)); do
  if (( r % 2 == 1 )); then order="anchor ours"; else order="ours anchor"; fi
  for side in $order; do
    if [ "$side" = anchor ]; then regex="$anchor"; else regex="$ours"; fi
    echo "# $(date -u '+%T') round $r/$rounds: $side ($regex); load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/log.txt"
    java -cp "$CP" org.openjdk.jmh.Main "$regex" "$@" -f 1 -foe true -rf csv -rff "$out/round-$r-$side.csv" > "$out/round-$r-$side.log" 2>&1 \
      || { echo "jmh-alternated.sh: JMH failed, see $out/round-$r-$side.log" >&2; exit 1; }
  done
done
echo "# $(date -u '+%F %T') end; load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/log.txt"
fi

# Summary: per row, the mean of each side over the rounds, and the ratio ours / anchor per round: its geometric mean
# and 95% interval (Student t on the logarithms), and the rounds below --threshold.
shopt -s nullglob
csvs=("$out"/round-*.csv)
if [ ${#csvs[@]} -eq 0 ]; then
  echo "jmh-alternated.sh: no round-*.csv in $out to summarize" >&2
  exit 1
fi
ANCHOR_RE="$anchor" OURS_RE="$ours" awk -F, -v rounds="$rounds" -v threshold="$threshold" '
  function unquote(s) { gsub(/^"|"$/, "", s); return s }
  function max0(x) { return x > 0 ? x : 0 }
  # two-sided 95% Student t quantile for df degrees of freedom (as SmtpThroughputStats)
  function t95(df) {
    split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086", t, " ")
    return df <= 20 ? t[df] : df < 30 ? 2.06 : df < 60 ? 2.02 : 1.98
  }
  BEGIN { anchor = ENVIRON["ANCHOR_RE"]; ours = ENVIRON["OURS_RE"] }
  { sub(/\r$/, "") }                           # JMH ends its CSV lines with CR LF
  FNR == 1 {
    n = split(FILENAME, parts, "/"); name = parts[n]
    split(name, bits, "-"); round = bits[2]; side = bits[3]; sub(/\.csv$/, "", side)
    for (i = 1; i <= NF; i++) { header[i] = unquote($i) }
    next
  }
  {
    bench = unquote($1)
    if (bench ~ /:/) next                       # secondary metrics (profilers)
    prefix = side == "anchor" ? anchor : ours
    gsub(/^\^|\$$/, "", prefix)
    row = bench; sub(".*(" prefix ")", "", row)
    for (i = 8; i <= NF; i++) { row = row " " substr(header[i], 8) "=" unquote($i) }
    score[row, side, round] = $5; unit[row] = unquote($7)
    rows[row] = 1
  }
  END {
    printf "| Row | anchor mean ±95%% | ours mean ±95%% | unit | ratio ours / anchor (geometric mean of the rounds) | 95%% interval | rounds below %s |\n", threshold
    print "|---|---:|---:|---|---:|---|---:|"
    for (row in rows) {
      k = 0; sa = 0; so = 0; saa = 0; soo = 0; sl = 0; sll = 0; below = 0
      for (r = 1; r <= rounds; r++) {
        if (!((row, "anchor", r) in score) || !((row, "ours", r) in score)) continue
        a = score[row, "anchor", r]; o = score[row, "ours", r]
        k++; sa += a; so += o; saa += a * a; soo += o * o; l = log(o / a); sl += l; sll += l * l
        if (o / a < threshold) below++
      }
      if (k < rounds) {
        printf "jmh-alternated.sh: row %s has %d paired rounds of %d\n", row, k, rounds > "/dev/stderr"
      }
      if (k < 2) { printf "| %s | | | | fewer than 2 paired rounds | | |\n", row; continue }
      ml = sl / k; half = t95(k - 1) * sqrt(max0((sll - k * ml * ml) / (k - 1))) / sqrt(k)
      # the score of each side over the rounds: mean and its 95% half-interval in % of the mean
      ma = sa / k; mo = so / k
      ea = 100 * t95(k - 1) * sqrt(max0((saa - k * ma * ma) / (k - 1))) / sqrt(k) / ma
      eo = 100 * t95(k - 1) * sqrt(max0((soo - k * mo * mo) / (k - 1))) / sqrt(k) / mo
      printf "| %s | %.0f ±%.1f%% | %.0f ±%.1f%% | %s | **%.3f** | %.3f – %.3f | %d of %d |\n", row, ma, ea, mo, eo, unit[row], exp(ml), exp(ml - half), exp(ml + half), below, k
    }
  }' "${csvs[@]}" > "$out/summary.tmp" || { rm -f "$out/summary.tmp"; exit 1; }
{ head -2 "$out/summary.tmp"; tail -n +3 "$out/summary.tmp" | LC_ALL=C sort; } > "$out/summary.md"
rm -f "$out/summary.tmp"
cat "$out/summary.md"
