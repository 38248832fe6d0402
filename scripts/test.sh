#!/usr/bin/env bash
# scripts/test.sh - build kvbm and run every test. This is the README's test command and
# exactly what .ci/run executes. Builds (each with -Werror):
#   gcc   Release (KVBM_DEBUG=0)          : whole suite, the shipping configuration
#   clang ASan+UBSan (KVBM_DEBUG=2)      : whole suite, debug-only checks included
#   clang TSan (KVBM_DEBUG=1)            : concurrency tests (ctest label 'concurrency')
#   clang libFuzzer + ASan+UBSan         : every tests/fuzz/fuzz_*.c for 15 s (scripts/fuzz.sh)
#   python: pytest python/tests on the extension built in-tree against gcc-release's
#           libkvbm.a, and again built with clang ASan+UBSan against clang-asan's
# plus the install check. Every step ends with its own "N passed, N failed" line; the
# script ends with the line "N passed, N failed" summed over all steps (CI reads it) and
# exits 0 iff nothing failed.
#
# Adding a step (pytest for python/, a short fuzzer run, ...): one `step` line below with a
# command that prints "N passed, N failed" as its last such line (a step that prints none,
# or exits non-zero with 0 failures, counts as one failure).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
root=${KVBM_TEST_BUILD_ROOT:-build/test}
total_p=0; total_f=0

# step NAME CMD... - run CMD, show its output, add its last "N passed, N failed" line.
step() {
  local name=$1; shift
  echo "==== $name ===="
  local log; log=$(mktemp)
  set +e; "$@" 2>&1 | tee "$log"; local rc=${PIPESTATUS[0]}; set -e
  local line p=0 f=1
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
  rm -f "$log"
  if [ -n "$line" ]; then p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}; fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  total_p=$((total_p + p)); total_f=$((total_f + f))
  echo "==== $name: $p passed, $f failed ===="
}

# build NAME CC CMAKE_ARGS... - configure and build into $root/NAME (logs next to it).
build() {
  local name=$1 cc=$2; shift 2
  local dir="$root/$name"
  cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DKVBM_WERROR=ON -DKVBM_BUILD_TESTS=ON "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log"; echo "0 passed, 1 failed"; return 1; }
  cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 \
    || { tail -n 80 "$dir.build.log"; echo "0 passed, 1 failed"; return 1; }
  echo "built $dir (log: $dir.build.log)"
}

# build_and_test NAME CC LABELS CMAKE_ARGS... - one build and its tests (ctest -L LABELS, or
# every test for 'all').
build_and_test() {
  local name=$1 cc=$2 labels=$3; shift 3
  build "$name" "$cc" "$@" && ./scripts/run_tests.sh "$root/$name" "$labels"
}

mkdir -p "$root"
step "gcc-release" build_and_test gcc-release gcc all \
  -DCMAKE_BUILD_TYPE=Release -DKVBM_DEBUG=0
step "install check (pkg-config and CMake package consumers, optional libraries)" \
  ./scripts/install_check.sh "$root/gcc-release"
step "python (extension against gcc-release, pytest)" \
  ./scripts/python_tests.sh "$root/gcc-release"
step "clang-asan" build_and_test clang-asan clang all \
  -DCMAKE_BUILD_TYPE=Debug -DKVBM_DEBUG=2 "-DKVBM_SANITIZE=address;undefined" -DKVBM_BUILD_BENCH=OFF
step "python under ASan+UBSan (extension against clang-asan, pytest)" \
  ./scripts/python_tests.sh "$root/clang-asan" asan
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
step "clang-tsan" build_and_test clang-tsan clang concurrency \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVBM_DEBUG=1 -DKVBM_SANITIZE=thread -DKVBM_BUILD_BENCH=OFF \
  -DKVBM_BUILD_TOOLS=OFF
step "clang-fuzz: libFuzzer targets, ${KVBM_FUZZ_SECONDS:-15} s each" \
  ./scripts/fuzz.sh "$root/clang-fuzz" "${KVBM_FUZZ_SECONDS:-15}"

echo "${total_p} passed, ${total_f} failed"
[ "$total_f" -eq 0 ]
