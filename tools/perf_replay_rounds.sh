#!/usr/bin/env bash
# tools/perf_replay_rounds.sh - replay throughput on a noisy machine (issue 6).
# usage: tools/perf_replay_rounds.sh [KVBM_BINARY] [TRACE] [ROUNDS] [REPEAT]
#
# perf_replay.sh runs each capacity in one process, so a slow phase of a shared VM (whole
# runs ~1.6x slower for seconds at a time) lands on whichever backends run then. This
# script interleaves instead: every round runs every (capacity, backend) pair once as its
# own process (`--repeat REPEAT`, the run's median), and reports per pair, over the
# ROUNDS runs, the median and the 75th percentile of those medians and the best run's
# best repetition. A phase that slows one round slows every pair of that round alike.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/release/tools/kvbm}
trace=${2:-$here/../shared/data/traces/conversation_trace.jsonl}
rounds=${3:-10}
repeat=${4:-5}
if [ ! -r "$trace" ]; then
  echo "perf_replay_rounds.sh: trace $trace not found (it lives in ../shared/data/traces/)" >&2
  exit 2
fi
backends="lineage lineage-fifo lru multi-lru hashmap"
for r in $(seq "$rounds"); do
  for cap in 4096 16384; do
    for b in $backends; do
      "$bin" replay "$trace" --backend "$b" --capacity "$cap" --repeat "$repeat" --format csv --no-progress |
        awk -F, -v b="$b" -v cap="$cap" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
          { printf "%s %s %.4f %.4f\n", b, cap, $col["blocks_per_s"] / 1e6,
                   $col["blocks_requested"] / ($col["manager_ms_min"] * 1000) }'
    done
  done
done | awk -v repeat="$repeat" '
  { key = $1 " " $2; if (!(key in n)) name[++k] = key   # first-seen order
    n[key]++; v[key, n[key]] = $3; if ($4 > best[key]) best[key] = $4 }
  function sortv(key, m,   i, j, t) { for (i = 1; i <= m; i++) s[i] = v[key, i];
    for (i = 2; i <= m; i++) { t = s[i]; for (j = i - 1; j >= 1 && s[j] > t; j--) s[j + 1] = s[j]; s[j + 1] = t } }
  END {
    printf "| backend | capacity | runs | M blocks/s: median of run medians | 75th percentile | best |\n"
    printf "|---|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= k; i++) { key = name[i]; m = n[key]; sortv(key, m)
      med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
      p75 = s[int(0.75 * (m - 1) + 0.5) + 1]
      split(key, f, " ")
      printf "| %s | %s | %d x %d | %.2f | %.2f | %.2f |\n", f[1], f[2], m, repeat, med, p75, best[key] }
  }'
