#!/usr/bin/env python3
"""python/bench/replay.py - prefix-cache replay of a Mooncake trace through kvbm's Python
binding and through a pure-Python model of vLLM v1's block pool.

The workload is the `kvbm replay` model (docs/design/cli.md): block size 4, trace id h at
position i -> token block [h]*4 of one sequence per request (PLHs chain by prefix), salt 0;
per request: match the prefix, allocate the rest (no room: release the matched blocks and
count the request as no-room), stage + register the new blocks, release all, tail first.
Hashing is included on every side (each request is hashed inside the timed loop).

  a   kvbm batch calls: Hashes.from_tokens, match_blocks, allocate_and_register(hashes,
      start, prefix) (allocate + stage + register in one call, appended to the matched
      prefix), release of the request's blocks (one call) - a handful of calls per request,
      no Python object per block
  b   kvbm per-block calls: TokenBlockSequence(...).blocks (a TokenBlock per block),
      match_blocks([plh]) per block until the first miss, then per new block
      allocate_block().complete(tb).register(), and release() per block
  c1  vLLM v1 block pool model (vllm_pool.py), hash((parent, tokens)) as block hash
  c2  the same with vLLM's default sha256(pickle((parent, tokens, extra)))

Prints blocks/s from wall time and from thread CPU time (median of --repeat interleaved
runs, each on a fresh pool; the CPU figure excludes time descheduled on a loaded machine),
the ratios a/c1, a/c2, b/c1, and the per-call overhead of match_blocks on a 1-block prefix. Usage:
  PYTHONPATH=python /usr/bin/python3 python/bench/replay.py [TRACE] [--capacity 4096]
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvbm  # noqa: E402
import vllm_pool  # noqa: E402

DEFAULT_TRACE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data",
                             "traces", "conversation_trace.jsonl")
BS = 4


def load(path):
    """Every request as its token list (trace id h -> h repeated BS times), the input an
    engine holds (vLLM keeps a request's token ids in a Python list)."""
    with open(path) as f:
        ids = [json.loads(line)["hash_ids"] for line in f if line.strip()]
    return [[t for t in r for _ in range(BS)] for r in ids]


TRACKER = "medium"  # --tracker: the kvbm replay model's Medium TinyLFU by default


def make_manager(capacity, backend):
    tracker = None if TRACKER == "none" else TRACKER
    return kvbm.Manager(capacity, block_size=BS, backend=backend,
                        registry=kvbm.Registry(tracker=tracker))


def run_batch(requests, capacity, backend):
    """(a) batch calls."""
    m = make_manager(capacity, backend)
    from_tokens, match, allocate_and_register = (kvbm.Hashes.from_tokens, m.match_blocks,
                                                 m.allocate_and_register)
    hits = no_room = 0
    Exhausted = kvbm.ExhaustedError
    for tokens in requests:
        hashes = from_tokens(tokens, BS)
        hit = match(hashes)
        k = len(hit)
        hits += k
        try:  # allocate len(hashes) - k, stage with hashes[k:], register; the result is
            # the request's block table (hit's blocks, then the new ones): release tail first
            allocate_and_register(hashes, k, hit).release()
        except Exhausted:  # raised by the allocation only (nothing taken, hit untouched)
            no_room += len(hashes) - k
            hit.release()
    check(m, capacity)
    return hits, no_room, m.metrics()["evictions"]


def run_per_block(requests, capacity, backend):
    """(b) per-block calls: one Python object and a few calls per block."""
    m = make_manager(capacity, backend)
    match, allocate_block = m.match_blocks, m.allocate_block
    Sequence = kvbm.TokenBlockSequence
    hits = no_room = 0
    for tokens in requests:
        tbs = Sequence(tokens, BS).blocks
        held = []
        for tb in tbs:
            hit = match([tb.plh])
            if not len(hit):
                break
            held.append(hit)
        k = len(held)
        hits += k
        if m.available_blocks < len(tbs) - k:
            no_room += len(tbs) - k
            for blk in reversed(held):
                blk.release()
            continue
        for tb in tbs[k:]:
            held.append(allocate_block().complete(tb).register())
        for blk in reversed(held):
            blk.release()
    check(m, capacity)
    return hits, no_room, m.metrics()["evictions"]


def run_vllm(hasher):
    def run(requests, capacity, backend):
        return vllm_pool.replay(requests, capacity, BS, hasher)
    return run


def check(m, capacity):
    if m.available_blocks != capacity:
        raise SystemExit(f"pool not whole after the run: {m.available_blocks}/{capacity}")
    m.check_invariants()


def match_overhead(n_calls=200000):
    """ns per match_blocks call on a 1-block prefix that hits (result released)."""
    m = kvbm.Manager(64, block_size=BS)
    h = kvbm.Hashes.from_tokens([7] * BS, BS)
    m.register(m.allocate(1).stage(h)).release()
    match = m.match_blocks
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter_ns()
        for _ in range(n_calls):
            match(h)  # dropped at once: the GC fallback releases it, as in real use with del
        best = min(best, (time.perf_counter_ns() - t) / n_calls)
    t = time.perf_counter_ns()
    for _ in range(n_calls):
        pass
    empty = (time.perf_counter_ns() - t) / n_calls
    return best - empty


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trace", nargs="?", default=DEFAULT_TRACE)
    ap.add_argument("--capacity", type=int, default=4096)
    ap.add_argument("--backend", default="lru", choices=kvbm.BACKENDS)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--variants", default="a,b,c1,c2")
    ap.add_argument("--tracker", default="medium", choices=("medium", "none"),
                    help="frequency tracker of kvbm's registry (LRU and the vLLM model do not "
                    "use one; 'medium' is the kvbm replay model's setting)")
    args = ap.parse_args()
    global TRACKER
    TRACKER = args.tracker
    if not os.path.exists(args.trace):
        raise SystemExit(f"trace not found: {args.trace} (../shared is absent?)")
    requests = load(args.trace)
    blocks = sum(len(r) // BS for r in requests)
    runners = {"a": run_batch, "b": run_per_block,
               "c1": run_vllm(vllm_pool.hashes_builtin), "c2": run_vllm(vllm_pool.hashes_sha256)}
    print(f"trace {os.path.basename(args.trace)}: {len(requests)} requests, {blocks} blocks; "
          f"capacity {args.capacity}, block size {BS}, kvbm backend {args.backend}, "
          f"tracker {args.tracker}, "
          f"median of {args.repeat}")
    rate, cpu_rate, results = {}, {}, {}
    names = args.variants.split(",")
    walls = {n: [] for n in names}
    cpus = {n: [] for n in names}
    for _ in range(args.repeat):  # interleaved, so that load changes hit every variant
        for name in names:
            t, c = time.perf_counter(), time.thread_time()
            results[name] = runners[name](requests, args.capacity, args.backend)
            cpus[name].append(time.thread_time() - c)
            walls[name].append(time.perf_counter() - t)
    print("  variant   wall M blocks/s (best)   CPU M blocks/s   hits  no-room  evictions")
    for name in names:
        rate[name] = blocks / statistics.median(walls[name])
        cpu_rate[name] = blocks / statistics.median(cpus[name])
        res = results[name]
        print(f"  {name:3s}      {rate[name] / 1e6:6.3f} ({blocks / min(walls[name]) / 1e6:.3f})"
              f"          {cpu_rate[name] / 1e6:6.3f}        {res[0]}  {res[1]}  {res[2]}")
    for x, y in (("a", "c1"), ("a", "c2"), ("b", "c1"), ("a", "b")):
        if x in rate and y in rate:
            print(f"  {x}/{y} = {rate[x] / rate[y]:.2f}x wall, {cpu_rate[x] / cpu_rate[y]:.2f}x CPU")
    hitsets = {r[0] for r in results.values()}
    print("  hit counts agree" if len(hitsets) == 1 else f"  hit counts differ: {results}")
    print(f"  match_blocks, 1-block prefix: {match_overhead():.0f} ns per call")


if __name__ == "__main__":
    main()
