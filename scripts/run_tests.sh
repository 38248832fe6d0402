#!/usr/bin/env bash
# scripts/run_tests.sh BUILD_DIR [all|concurrency] - run the test binaries of one build.
# Prints each binary's per-case lines and adds its "N passed, N failed" summary to the
# totals in BUILD_DIR/test-totals (passed failed). A binary that dies without a summary
# counts as one failure.
set -uo pipefail
dir=$1; which=${2:-all}
passed=0; failed=0
for t in "$dir"/tests/*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  if [ "$which" = concurrency ] && ! [[ "$name" =~ concurrent|stress|race ]]; then continue; fi
  log=$(mktemp)
  timeout 900 "$t" >"$log" 2>&1
  rc=$?
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  if [ -n "$summary" ]; then
    p=${summary%% passed*}; f=${summary#*, }; f=${f%% failed*}
  else
    p=0; f=1
  fi
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$f" -ne 0 ]; then
    echo "---- $name (exit $rc) ----"; tail -n 60 "$log"
  else
    echo "  $name: $p passed"
  fi
  passed=$((passed + p)); failed=$((failed + f))
  rm -f "$log"
done
echo "$passed $failed" > "$dir/test-totals"
