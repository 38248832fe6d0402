#!/usr/bin/env python3
"""python/bench/pair.py - paired A/B of replay.py's variant (a) (or b) between two builds of
the extension, in one process, for a loaded machine where separate runs differ by +-10 %.

Both packages are loaded side by side, each under its own package name; each side runs the
run_batch (run_per_block with --variant b) of its own replay.py on the same trace, the sides
alternating order every round (ABBA); thread CPU time per run. Prints each side's median
and the median, min and max of the per-round ratios (B's speed-up over A). Two copies of
the same build give the noise floor (a ratio of 1 +- ~1.5 % at 41 rounds, session 11).

A side is DIR:PKG[:REPLAY]: DIR (put on sys.path) holds the package PKG, a copy of python/kvbm/
with its built extension under another name (cp -r python/kvbm DIR/PKG); REPLAY is the
replay.py whose loop that side runs (default: the one next to this file). Example, the build
and loop of the session's start against the working tree:
  git show BASE:python/bench/replay.py > /tmp/base/replay.py
  cp python/bench/vllm_pool.py /tmp/base/; cp -r python/kvbm /tmp/base/kvbm_base  # base build
  PYTHONPATH=python /usr/bin/python3 python/bench/pair.py /tmp/base:kvbm_base:/tmp/base/replay.py \\
      python:kvbm --rounds 41
"""
import argparse
import importlib
import importlib.util
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load_side(spec, tag):
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise SystemExit(f"a side is DIR:PKG[:REPLAY], got {spec!r}")
    d, pkg = parts[0], parts[1]
    replay_path = parts[2] if len(parts) == 3 else os.path.join(HERE, "replay.py")
    sys.path.insert(0, os.path.abspath(d))
    try:
        mod = importlib.import_module(pkg)
    finally:
        sys.path.pop(0)
    s = importlib.util.spec_from_file_location(f"replay_{tag}", replay_path)
    replay = importlib.util.module_from_spec(s)
    s.loader.exec_module(replay)  # imports the default kvbm; its calls use mod from now on
    replay.kvbm = mod
    return replay


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", help="DIR:PKG[:REPLAY] of the baseline")
    ap.add_argument("b", help="DIR:PKG[:REPLAY] of the candidate")
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--variant", choices=("a", "b"), default="a")
    ap.add_argument("--capacity", type=int, default=4096)
    ap.add_argument("--backend", default="lru")
    ap.add_argument("--trace", default=None)
    args = ap.parse_args()
    ra, rb = load_side(args.a, "a"), load_side(args.b, "b")
    requests = ra.load(args.trace or ra.DEFAULT_TRACE)
    blocks = sum(len(r) // ra.BS for r in requests)
    fn = "run_batch" if args.variant == "a" else "run_per_block"
    sides = [(getattr(ra, fn), []), (getattr(rb, fn), [])]
    hits = set()
    for i in range(args.rounds):
        for run, acc in (sides if i % 2 == 0 else sides[::-1]):
            t = time.thread_time()
            hits.add(run(requests, args.capacity, args.backend)[0])
            acc.append(time.thread_time() - t)
    if len(hits) != 1:
        raise SystemExit(f"the sides disagree on the hit count: {sorted(hits)}")
    (_, ta), (_, tb) = sides
    ratios = sorted(a / b for a, b in zip(ta, tb))
    for name, t in (("A", ta), ("B", tb)):
        print(f"{name}: median {blocks / statistics.median(t) / 1e6:.3f} M blocks/s CPU "
              f"(best {blocks / min(t) / 1e6:.3f})")
    print(f"B/A speed-up: median {statistics.median(ratios):.3f} (min {ratios[0]:.3f}, "
          f"max {ratios[-1]:.3f}), {args.rounds} rounds, variant {args.variant}")


if __name__ == "__main__":
    main()
