#!/usr/bin/env bash
# scripts/run.sh [ARGS...] - the main job: build kvbm (Release) and replay a workload.
# Without arguments: `kvbm replay` on its built-in synthetic workload (seeded).
# With arguments: passed to `kvbm replay`, e.g. scripts/run.sh ../shared/data/traces/conversation_trace.jsonl --backend lru
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
dir=build/release
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec "$dir/tools/kvbm" replay "$@"
