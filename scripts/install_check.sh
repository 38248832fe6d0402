#!/usr/bin/env bash
# scripts/install_check.sh BUILD_DIR - install the build into a temporary prefix and build two
# consumers against it: one with pkg-config, one with find_package(kvbm); check that
# pkg-config prints clean absolute paths and that the uninstall target removes every
# installed file; and that every optional library's kvbm-<name>.pc resolves (Requires
# included) and a consumer of one of them (kvbm-router when built) links and runs.
# Prints "N passed, N failed" (5 checks) as its last line; exit status 0 iff all passed.
set -uo pipefail
dir=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
cat > "$tmp/consumer.c" <<'C'
#include <stdio.h>
#include <kvbm/kvbm.h>
int main(void)
{
    kvbm_registry *r = NULL;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) return 1;
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = r; cfg.block_count = 4; cfg.backend = KVBM_BACKEND_LRU;
    kvbm_manager *m = NULL;
    if (kvbm_manager_create(&cfg, &m) != KVBM_OK) return 2;
    int ok = kvbm_manager_available_blocks(m) == 4 && kvbm_version_number() == KVBM_VERSION_NUMBER;
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
    printf("consumer %s\n", ok ? "ok" : "bad");
    return ok ? 0 : 3;
}
C
if cmake --install "$dir" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
  pc="$tmp/prefix/lib/pkgconfig"; [ -d "$pc" ] || pc=$(dirname "$(find "$tmp/prefix" -name kvbm.pc | head -n1)")
  if PKG_CONFIG_PATH="$pc" cc "$tmp/consumer.c" -o "$tmp/c1" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs kvbm) \
       -Wl,-rpath,"$tmp/prefix/lib" 2>"$tmp/c1.log" && "$tmp/c1" >/dev/null; then
    echo "[ ok ] install_pkg_config_consumer"; passed=$((passed + 1))
  else
    echo "[FAIL] install_pkg_config_consumer"; cat "$tmp/c1.log"; failed=$((failed + 1))
  fi
  mkdir -p "$tmp/cm"
  cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(kvbm REQUIRED)
add_executable(c2 ../consumer.c)
target_link_libraries(c2 PRIVATE kvbm::kvbm)
CM
  if cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/c2.log" 2>&1 \
     && cmake --build "$tmp/cm/b" >>"$tmp/c2.log" 2>&1 \
     && LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/cm/b/c2" >/dev/null; then
    echo "[ ok ] install_cmake_package_consumer"; passed=$((passed + 1))
  else
    echo "[FAIL] install_cmake_package_consumer"; tail -n 30 "$tmp/c2.log"; failed=$((failed + 1))
  fi
  flags=$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs kvbm | sed 's/ *$//')
  if [ "$flags" = "-I$tmp/prefix/include -L$tmp/prefix/lib -lkvbm" ]; then
    echo "[ ok ] install_pkg_config_clean_paths"; passed=$((passed + 1))
  else
    echo "[FAIL] install_pkg_config_clean_paths: '$flags'"; failed=$((failed + 1))
  fi
  ext_ok=1; ext_log=""
  for f in "$pc"/kvbm-*.pc; do
    [ -e "$f" ] || continue
    m=$(basename "$f" .pc)
    PKG_CONFIG_PATH="$pc" pkg-config --exists --print-errors "$m" 2>>"$tmp/ext.log" \
      || { ext_ok=0; ext_log="$ext_log $m"; }
  done
  if [ -e "$pc/kvbm-router.pc" ]; then
    printf '#include <stdio.h>\n#include <string.h>\n#include <kvbm/router_events.h>\nint main(void){return strcmp(kvbm_router_tier_name(kvbm_router_tier_from_medium("CPU_PINNED")),"host_pinned")!=0;}\n' > "$tmp/ext.c"
    PKG_CONFIG_PATH="$pc" cc "$tmp/ext.c" -o "$tmp/c3" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs kvbm-router) \
      2>>"$tmp/ext.log" && LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/c3" || { ext_ok=0; ext_log="$ext_log router-consumer"; }
  fi
  if [ "$ext_ok" = 1 ]; then
    echo "[ ok ] install_ext_libraries_pkg_config"; passed=$((passed + 1))
  else
    echo "[FAIL] install_ext_libraries_pkg_config:$ext_log"; cat "$tmp/ext.log"; failed=$((failed + 1))
  fi
  cp "$dir/install_manifest.txt" "$tmp/manifest"
  if cmake --build "$dir" --target uninstall >"$tmp/uninstall.log" 2>&1 \
     && ! xargs ls -d 2>/dev/null < "$tmp/manifest" | grep -q . \
     && [ -z "$(find "$tmp/prefix" -type f)" ]; then
    echo "[ ok ] uninstall_removes_every_installed_file"; passed=$((passed + 1))
  else
    echo "[FAIL] uninstall_removes_every_installed_file"; tail -n 20 "$tmp/uninstall.log"
    find "$tmp/prefix" -type f; failed=$((failed + 1))
  fi
else
  echo "[FAIL] install"; tail -n 30 "$tmp/install.log"; failed=5
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
