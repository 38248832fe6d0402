#!/usr/bin/env bash
# scripts/fuzz.sh - build the libFuzzer targets (tests/fuzz/fuzz_*.c; clang, ASan+UBSan) and
# run each for a bounded time from its seed corpus (tests/fuzz/corpus/<name>/, read only;
# new inputs go to a scratch directory). Used by scripts/test.sh with the default 15 s;
# tests/fuzz/README.md has the long-run command.
#   scripts/fuzz.sh [BUILD_DIR] [SECONDS]      (defaults: build/test/clang-fuzz, 15)
# Prints one "[ ok ]"/"[FAIL]" line per target, then "N passed, N failed" (what
# scripts/test.sh's step reads; also written to BUILD_DIR/test-totals). Exit 0 iff every target ran its time without a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/test/clang-fuzz}
secs=${2:-15}
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$dir"
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVBM_DEBUG=1 \
      -DKVBM_WERROR=ON -DKVBM_FUZZ=ON "-DKVBM_SANITIZE=address;undefined" -DKVBM_BUILD_TESTS=OFF \
      -DKVBM_BUILD_BENCH=OFF -DKVBM_BUILD_TOOLS=ON >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; echo "0 passed, 1 failed"; exit 1; }
cmake --build "$dir" -j "$jobs" --target fuzz_all >"$dir/build.log" 2>&1 || { tail -n 60 "$dir/build.log"; echo "0 passed, 1 failed"; exit 1; }
pass=0; fail=0
for bin in "$dir"/fuzz/fuzz_*; do
  name=$(basename "$bin"); name=${name#fuzz_}
  scratch="$dir/corpus-$name"; rm -rf "$scratch"; mkdir -p "$scratch"
  seeds=tests/fuzz/corpus/$name
  log="$dir/fuzz_$name.log"
  if "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$dir/crash-$name-" "$scratch" ${seeds:+$( [ -d "$seeds" ] && echo "$seeds")} >"$log" 2>&1; then
    echo "[ ok ] fuzz_$name ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?') runs in ${secs} s)"
    pass=$((pass + 1))
  else
    echo "[FAIL] fuzz_$name: see $log and $dir/crash-$name-*"; tail -n 30 "$log"
    fail=$((fail + 1))
  fi
done
echo "$pass $fail" >"$dir/test-totals"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
