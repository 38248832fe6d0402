#!/usr/bin/env bash
# scripts/test.sh - build kvbm and run every test. This is the README's test command and
# exactly what .ci/run executes. Builds (each with -Werror):
#   gcc   Release (KVBM_DEBUG=0)          : whole suite, the shipping configuration
#   clang ASan+UBSan (KVBM_DEBUG=2)      : whole suite, debug-only checks included
#   clang TSan (KVBM_DEBUG=1)            : concurrency tests (*concurrent*, *stress*, *race*)
#   python: the extension built in-tree against gcc-release's libkvbm.a, pytest python/tests;
#           again with clang ASan+UBSan against clang-asan's libkvbm.a (runtime preloaded)
# Ends with the line "N passed, N failed" over all builds; exit 0 iff nothing failed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
root=${KVBM_TEST_BUILD_ROOT:-build/test}
total_p=0; total_f=0

run_build() {
  local name=$1 cc=$2 which=$3; shift 3
  local dir="$root/$name"
  echo "==== $name: configure + build ($cc) ===="
  cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" -DKVBM_WERROR=ON -DKVBM_BUILD_BENCH=ON \
        -DKVBM_BUILD_TOOLS=ON "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 || { tail -n 80 "$dir.build.log"; return 1; }
  echo "==== $name: tests ($which) ===="
  ./scripts/run_tests.sh "$dir" "$which"
  read -r p f < "$dir/test-totals"
  total_p=$((total_p + p)); total_f=$((total_f + f))
  echo "==== $name: $p passed, $f failed ===="
}

mkdir -p "$root"
status=0
run_build gcc-release gcc all -DCMAKE_BUILD_TYPE=Release -DKVBM_DEBUG=0 || { status=1; total_f=$((total_f + 1)); }
echo "==== install check (pkg-config and CMake package consumers) ===="
if ./scripts/install_check.sh "$root/gcc-release"; then :; else status=1; fi
if [ -f "$root/gcc-release/test-totals" ]; then
  read -r p f < "$root/gcc-release/test-totals"; total_p=$((total_p + p)); total_f=$((total_f + f))
fi
echo "==== python binding (extension against gcc-release, pytest) ===="
./scripts/python_tests.sh "$root/gcc-release" || status=1
read -r p f < "$root/gcc-release/python-totals"; total_p=$((total_p + p)); total_f=$((total_f + f))
run_build clang-asan clang all -DCMAKE_BUILD_TYPE=Debug -DKVBM_DEBUG=2 \
  "-DKVBM_SANITIZE=address;undefined" -DKVBM_BUILD_BENCH=OFF || { status=1; total_f=$((total_f + 1)); }
echo "==== python binding under ASan+UBSan (extension against clang-asan) ===="
./scripts/python_tests.sh "$root/clang-asan" asan || status=1
read -r p f < "$root/clang-asan/python-totals"; total_p=$((total_p + p)); total_f=$((total_f + f))
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
run_build clang-tsan clang concurrency -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVBM_DEBUG=1 \
  -DKVBM_SANITIZE=thread -DKVBM_BUILD_BENCH=OFF -DKVBM_BUILD_TOOLS=OFF || { status=1; total_f=$((total_f + 1)); }

echo "${total_p} passed, ${total_f} failed"
[ "$status" -eq 0 ] && [ "$total_f" -eq 0 ]
