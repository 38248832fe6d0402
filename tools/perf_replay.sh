#!/usr/bin/env bash
# tools/perf_replay.sh - replay throughput for docs/PERFORMANCE.md (issue 6).
# usage: tools/perf_replay.sh [KVBM_BINARY] [TRACE] [REPEAT]
# Prints a markdown table: every backend at capacities 4096 and 16384 on the Mooncake
# conversation trace; manager phase only (hashing is a separate phase), median of REPEAT runs,
# wall clock and thread CPU time (the CPU figure is the robust one on a shared machine).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/release/tools/kvbm}   # what scripts/run.sh and make build
trace=${2:-$here/../shared/data/traces/conversation_trace.jsonl}
repeat=${3:-9}
echo "| backend | capacity | hit rate | evictions | duplicates | hash ms | manager ms (median) | manager ms (best) | Mblocks/s wall (median) | Mblocks/s wall (best) | Mblocks/s CPU (median) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for cap in 4096 16384; do
  "$bin" replay "$trace" --capacity "$cap" --repeat "$repeat" --format csv --no-progress |
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { best = $col["blocks_requested"] / ($col["manager_ms_min"] / 1000);
      printf "| %s | %s | %.2f%% | %s | %s | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f |\n",
        $col["backend"], $col["capacity"], 100 * $col["hit_rate"], $col["evictions"],
        $col["duplicate_blocks"], $col["hash_ms"], $col["manager_ms"], $col["manager_ms_min"],
        $col["blocks_per_s"] / 1e6, best / 1e6, $col["blocks_per_cpu_s"] / 1e6 }'
done
