#!/usr/bin/env bash
# tools/perf_replay_ab.sh - interleaved A/B replay throughput of two or more kvbm binaries.
# usage: tools/perf_replay_ab.sh ROUNDS BACKEND CAPACITY BINARY... [-- TRACE]
#
# Each round runs every binary once, as its own process (`--repeat 3`), alternating the
# order (A B, then B A, ...), so that a slow phase of a shared VM hits every binary alike.
# A run's figure is its best repetition (blocks_requested / manager_ms_min). Per binary it
# prints, over the rounds, the best run and the 90th / 75th percentiles and the median.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 4 ]; then
  echo "usage: $0 ROUNDS BACKEND CAPACITY BINARY... [-- TRACE]" >&2
  exit 2
fi
rounds=$1 backend=$2 cap=$3
shift 3
bins=()
trace=$here/../shared/data/traces/conversation_trace.jsonl
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then trace=$2; break; fi
  bins+=("$1")
  shift
done
if [ ! -r "$trace" ]; then
  echo "perf_replay_ab.sh: trace $trace not found (it lives in ../shared/data/traces/)" >&2
  exit 2
fi
for r in $(seq "$rounds"); do
  order=("${bins[@]}")
  if [ $((r % 2)) = 0 ]; then
    order=()
    for ((i = ${#bins[@]} - 1; i >= 0; i--)); do order+=("${bins[i]}"); done
  fi
  for b in "${order[@]}"; do
    "$b" replay "$trace" --backend "$backend" --capacity "$cap" --repeat 3 --format csv --no-progress |
      awk -F, -v b="$b" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { printf "%s %.4f\n", b, $col["blocks_requested"] / ($col["manager_ms_min"] * 1000) }'
  done
done | awk '
  { if (!($1 in n)) name[++k] = $1; n[$1]++; v[$1, n[$1]] = $2 }
  function sortv(key, m,   i, j, t) {
    for (i = 1; i <= m; i++) s[i] = v[key, i]
    for (i = 2; i <= m; i++) { t = s[i]; for (j = i - 1; j >= 1 && s[j] > t; j--) s[j + 1] = s[j]; s[j + 1] = t } }
  END {
    for (i = 1; i <= k; i++) { key = name[i]; m = n[key]; sortv(key, m)
      med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
      printf "%-40s n=%d best=%.2f p90=%.2f p75=%.2f median=%.2f\n", key, m, s[m],
             s[int(0.9 * (m - 1)) + 1], s[int(0.75 * (m - 1)) + 1], med }
  }'
