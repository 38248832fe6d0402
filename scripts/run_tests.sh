#!/usr/bin/env bash
# scripts/run_tests.sh BUILD_DIR [LABELS] - run the tests of one build through CTest.
# LABELS is a ctest -L regex over the labels CMakeLists.txt gives every test: unit,
# concurrency (default 'all': every test, labelled or not). Timeouts are the per-test
# TIMEOUT properties set in CMakeLists.txt. Failing tests print their output.
# Counts the test cases: sums every binary's "N passed, N failed" line (a failed binary
# without one, e.g. a crash or a timeout, counts as one failure), prints that sum as the
# last line and writes "passed failed" to BUILD_DIR/test-totals.
set -uo pipefail
dir=$1; labels=${2:-all}
jobs=${KVBM_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
select=(-L "$labels"); [ "$labels" = all ] && select=()
ctest --test-dir "$dir" "${select[@]}" -j "$jobs" --output-on-failure --no-tests=error
rc=$?
log="$dir/Testing/Temporary/LastTest.log"
read -r passed failed < <(awk '
  /^[0-9]+\/[0-9]+ Test: /           { name = $3; p = 0; f = 0; seen = 0; ok = 0; next }
  /^[0-9]+ passed, [0-9]+ failed$/   { p = $1; f = $3; seen = 1; next }
  /^Test Passed\.$/                  { ok = 1; next }
  name != "" && / end time: /        { if (!ok && (!seen || f == 0)) f = 1
                                       P += p; F += f; name = "" }
  END { print P + 0, F + 0 }' "$log" 2>/dev/null || echo "0 1")
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # ctest itself failed
echo "$passed $failed" > "$dir/test-totals"
echo "$passed passed, $failed failed"
