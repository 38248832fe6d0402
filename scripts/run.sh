#!/usr/bin/env bash
# scripts/run.sh [ARGS...] - the main job: build the kvbm tool (Release) and replay a workload.
# Without arguments: `kvbm replay` on its built-in synthetic workload (seeded).
# With arguments: passed to `kvbm replay`, e.g. scripts/run.sh ../shared/data/traces/conversation_trace.jsonl --backend lru
# Builds only the library and the tool (no tests, no benchmarks) in build/release, one
# progress line per phase; the build log is build/release.build.log.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/release
log=$dir.build.log
mkdir -p build
t0=$(date +%s)
phase() { printf 'run.sh: %s\n' "$*" >&2; }
./scripts/deps.sh
phase "configuring $dir (Release, library + kvbm tool)"
if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DKVBM_BUILD_TESTS=OFF -DKVBM_BUILD_BENCH=OFF \
       -DKVBM_BUILD_TOOLS=ON >"$log" 2>&1; then
  tail -n 40 "$log" >&2; phase "configure failed, full log: $log"; exit 1
fi
phase "building kvbm (log: $log)"
if ! cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" --target kvbm_tool >>"$log" 2>&1; then
  tail -n 40 "$log" >&2; phase "build failed, full log: $log"; exit 1
fi
phase "built in $(( $(date +%s) - t0 )) s; running: kvbm replay $*"
exec "$dir/tools/kvbm" replay "$@"
