#!/usr/bin/env bash
# scripts/python_tests.sh BUILD_DIR - build the Python extension in-tree (python/kvbm/) against
# BUILD_DIR/libkvbm.a and run the pytest suite python/tests with /usr/bin/python3.
# Writes "PASSED FAILED" to BUILD_DIR/python-totals (a failed build, a pytest crash or
# "no tests collected" (exit 5) count as failures). Exit 0 iff nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$1
py=/usr/bin/python3
totals="$dir/python-totals"
echo "0 1" > "$totals"
if ! (cd python && KVBM_WERROR=1 KVBM_STATIC_LIB="../$dir/libkvbm.a" \
      $py setup.py -q build_ext --inplace --build-temp "../$dir/python-ext") \
      >"$dir/python-build.log" 2>&1; then
  tail -n 40 "$dir/python-build.log"
  echo "python: extension build failed"
  exit 1
fi
xml="$dir/pytest.xml"
rm -f "$xml"
PYTHONPATH=python timeout 900 $py -m pytest -q -p no:cacheprovider --junitxml="$xml" python/tests
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
echo "python: $p passed, $f failed"
[ "$f" -eq 0 ]
