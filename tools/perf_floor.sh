#!/usr/bin/env bash
# tools/perf_floor.sh - kvbm replay's manager phase as a share of the LRU floor (issue 16).
# usage: tools/perf_floor.sh [-r ROUNDS] [-c CAPS] [-b BACKENDS] [KVBM_BINARY] [TRACE]
#   ROUNDS    rounds (default 5); CAPS comma list (default 4096,16384);
#   BACKENDS  comma list of kvbm replay backends (default lineage,lineage-fifo,lru,multi-lru,hashmap)
#
# The floor is ../shared/tools/lru_floor.c: the replay model with one hash table and one LRU
# list (one thread, no registry, no atomics), compiled here at benchmark time with
# `cc -O3 -o lru_floor lru_floor.c -lxxhash`. Every round runs, per capacity, the floor and
# then every backend once, each its own process, alternating the order between rounds
# (floor first, then floor last), so that a slow phase of a shared VM hits both alike. Both
# report their best of 5 repetitions (lru_floor: fixed 5; kvbm: --repeat 5, manager_ms_min).
# Per round the share is kvbm / floor of that round; the table prints medians over rounds.
# The floor's hit count must equal kvbm's LRU hits (checked, printed).
# Without ../shared (or KVBM_SHARED) the floor cannot be built: the script says so and
# prints kvbm's figures alone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${KVBM_SHARED:-$here/../shared}
rounds=5 caps=4096,16384 backends=lineage,lineage-fifo,lru,multi-lru,hashmap
while getopts "r:c:b:" o; do
  case $o in
    r) rounds=$OPTARG ;;
    c) caps=$OPTARG ;;
    b) backends=$OPTARG ;;
    *) echo "usage: $0 [-r ROUNDS] [-c CAPS] [-b BACKENDS] [KVBM_BINARY] [TRACE]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
bin=${1:-$here/build/release/tools/kvbm}
trace=${2:-$shared/data/traces/conversation_trace.jsonl}
if [ ! -x "$bin" ]; then echo "perf_floor.sh: no kvbm binary at $bin" >&2; exit 2; fi
if [ ! -r "$trace" ]; then
  echo "perf_floor.sh: trace $trace not found (it lives in ../shared/data/traces/; pass TRACE)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
floor=""
if [ -r "$shared/tools/lru_floor.c" ]; then
  if cc -O3 -o "$work/lru_floor" "$shared/tools/lru_floor.c" -lxxhash 2> "$work/cc.err"; then
    floor=$work/lru_floor
  else
    echo "perf_floor.sh: compiling $shared/tools/lru_floor.c failed:" >&2
    cat "$work/cc.err" >&2
  fi
else
  echo "perf_floor.sh: FLOOR UNAVAILABLE: $shared/tools/lru_floor.c not found (../shared is absent" >&2
  echo "  or incomplete; set KVBM_SHARED). Printing kvbm's figures alone, no shares." >&2
fi

IFS=, read -r -a cap_list <<< "$caps"
IFS=, read -r -a be_list <<< "$backends"
echo "# $(date -u +%FT%TZ) $(uname -n) load: $(cut -d' ' -f1-3 /proc/loadavg); kvbm: $bin; trace: $trace" >&2
# raw lines: round cap name mblocks_per_s hits
for r in $(seq "$rounds"); do
  for cap in "${cap_list[@]}"; do
    run_floor() {
      [ -n "$floor" ] || return 0
      "$floor" "$trace" "$cap" --json |
        sed -E 's/.*"blocks_hit":([0-9]+).*"blocks_per_s":([0-9.]+).*/\1 \2/' |
        awk -v r="$r" -v c="$cap" '{ printf "%s %s floor %.4f %s\n", r, c, $2 / 1e6, $1 }'
    }
    run_kvbm() {
      for be in "${be_list[@]}"; do
        "$bin" replay "$trace" --backend "$be" --capacity "$cap" --repeat 5 --format csv --no-progress |
          awk -F, -v r="$r" -v c="$cap" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            { printf "%s %s %s %.4f %s\n", r, c, $col["backend"],
                     $col["blocks_requested"] / ($col["manager_ms_min"] * 1000), $col["blocks_hit"] }'
      done
    }
    if [ $((r % 2)) = 1 ]; then run_floor; run_kvbm; else run_kvbm; run_floor; fi
  done
done > "$work/raw"

awk -v have_floor="${floor:+1}" '
  { v[$1, $2, $3] = $4; hits[$2, $3] = $5
    if (!(($2, $3) in seen)) { seen[$2, $3] = 1; key[++k] = $2 SUBSEP $3 }
    if ($1 > rounds) rounds = $1 }
  function median(a, m,   i, j, t) {
    for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
  END {
    printf "| backend | capacity | rounds | M blocks/s (median of best-of-5) | floor M blocks/s | share of floor (median) | min / max share |\n"
    printf "|---|---:|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= k; i++) {
      split(key[i], p, SUBSEP); cap = p[1]; name = p[2]
      if (name == "floor") continue
      m = 0; lo = 1e9; hi = 0
      for (r = 1; r <= rounds; r++) if ((r, cap, name) in v) {
        a[++m] = v[r, cap, name]
        if (have_floor) { s = v[r, cap, name] / v[r, cap, "floor"]; sh[m] = s; if (s < lo) lo = s; if (s > hi) hi = s }
        f[m] = v[r, cap, "floor"] }
      kv = median(a, m)
      if (have_floor) {
        fl = median(f, m); share = median(sh, m)
        printf "| %s | %s | %d | %.2f | %.2f | %.1f%% | %.1f%% / %.1f%% |\n", name, cap, m, kv, fl, 100 * share, 100 * lo, 100 * hi
      } else
        printf "| %s | %s | %d | %.2f | unavailable | - | - |\n", name, cap, m, kv
    }
    if (have_floor)
      for (i = 1; i <= k; i++) { split(key[i], p, SUBSEP)
        if (p[2] == "lru") printf "hits at %s: floor %s, kvbm lru %s (%s)\n", p[1], hits[p[1], "floor"], hits[p[1], "lru"],
                                  hits[p[1], "floor"] == hits[p[1], "lru"] ? "equal" : "DIFFERENT" }
    else print "floor: unavailable (../shared/tools/lru_floor.c absent) - no shares"
  }' "$work/raw"
