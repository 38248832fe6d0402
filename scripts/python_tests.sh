#!/usr/bin/env bash
# scripts/python_tests.sh BUILD_DIR [asan] - build the Python extension against
# BUILD_DIR/libkvbm.a and run the pytest suite python/tests with /usr/bin/python3.
#   default: gcc, built in-tree (python/kvbm/), the shipping configuration
#   asan:    clang with -fsanitize=address,undefined into BUILD_DIR/python-lib (BUILD_DIR must
#            be an ASan+UBSan build); the uninstrumented interpreter gets the ASan runtime
#            through LD_PRELOAD (leak detection off: CPython keeps memory until exit)
# Ends with the line "N passed, N failed" (scripts/test.sh's step contract) and writes
# "PASSED FAILED" to BUILD_DIR/python-totals; a failed build, a pytest crash or "no tests
# collected" (exit 5) count as failures. Exit 0 iff nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath -m "$1") # absolute: the build runs in python/
mode=${2:-release}
py=/usr/bin/python3
totals="$dir/python-totals"
echo "0 1" > "$totals"
pypath=python
preload=""
if [ "$mode" = asan ]; then
  pypath="$dir/python-lib"
  mkdir -p "$pypath/kvbm"
  cp python/kvbm/__init__.py python/kvbm/__init__.pyi python/kvbm/py.typed "$pypath/kvbm/"
  san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
  build=(env CC=clang LDSHARED="clang -shared" CFLAGS="$san" LDFLAGS="$san -shared-libasan"
         $py setup.py -q build_ext --force --build-lib "$pypath" --build-temp "$dir/python-ext")
  preload=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
else
  build=($py setup.py -q build_ext --force --inplace --build-temp "$dir/python-ext")
fi
if ! (cd python && KVBM_WERROR=1 KVBM_STATIC_LIB="$dir/libkvbm.a" "${build[@]}") \
      >"$dir/python-build.log" 2>&1; then
  tail -n 40 "$dir/python-build.log"
  echo "python: extension build failed ($mode)"
  echo "0 passed, 1 failed"
  exit 1
fi
xml="$dir/pytest.xml"
rm -f "$xml"
PYTHONPATH="$pypath" LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 \
  UBSAN_OPTIONS=print_stacktrace=1 \
  timeout 900 $py -m pytest -q -p no:cacheprovider --junitxml="$xml" python/tests
rc=$?
read -r p f < <($py - "$xml" "$rc" <<'PY'
import sys, xml.etree.ElementTree as ET
path, rc = sys.argv[1], int(sys.argv[2])
try:
    root = ET.parse(path).getroot()
    s = root if root.tag == "testsuite" else root.find("testsuite")
    tests, fail = int(s.get("tests")), int(s.get("failures")) + int(s.get("errors"))
    skipped = int(s.get("skipped"))
except Exception:
    tests, fail, skipped = 0, 0, 0
passed = tests - fail - skipped
if rc == 5 or tests == 0 or (rc != 0 and fail == 0):
    fail += 1  # no tests, or pytest failed without a failing test (crash, usage error)
print(passed, fail)
PY
)
echo "$p $f" > "$totals"
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
