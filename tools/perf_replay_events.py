#!/usr/bin/python3
"""tools/perf_replay_events.py - issue 18's replay bar: `kvbm replay` with and without
`--events nats://...`, alternated, with the CPU time of every component.

Starts its own nats-server on a free loopback port. Per run it polls the replay's threads
(/proc/PID/task/*/stat, every 2 ms, last value kept; "main" is the replaying thread,
"kvbm" the client library's unnamed threads) and reads nats-server's CPU before and
after. Prints per run: blocks/s (wall, manager phase), manager-phase CPU ms of the
replaying thread, and CPU ms per thread name and of nats-server; then the medians.

  tools/perf_replay_events.py KVBM TRACE [--pairs 5] [--repeat 3] [--backend lineage]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def stat_ticks(path):
    with open(path) as f:
        raw = f.read()
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2:].split()
    return comm, int(rest[11]) + int(rest[12])  # utime + stime


def run(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    threads = {}
    while p.poll() is None:
        try:
            for tid in os.listdir(f"/proc/{p.pid}/task"):
                try:
                    threads[tid] = stat_ticks(f"/proc/{p.pid}/task/{tid}/stat")
                except OSError:
                    pass
        except OSError:
            pass
        time.sleep(0.002)
    out, err = p.communicate()
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{err.decode()}")
    by_name = {}
    for tid, (comm, t) in threads.items():
        name = "main" if int(tid) == p.pid else comm  # unnamed others: libnats' threads
        by_name[name] = by_name.get(name, 0) + t * TICK_MS
    return json.loads(out), by_name, err.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kvbm")
    ap.add_argument("trace")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backend", default="lineage")
    a = ap.parse_args()
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="kvbm-perf-ev-")
    srv = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port)],
                           stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "nats.log"), "w"))
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        base = [a.kvbm, "replay", a.trace, "--backend", a.backend, "--repeat", str(a.repeat), "--format", "json"]
        rows = {"off": [], "on": []}
        for i in range(a.pairs):
            for mode in ("off", "on"):
                cmd = base + (["--events", f"nats://127.0.0.1:{port}"] if mode == "on" else [])
                _, s0 = stat_ticks(f"/proc/{srv.pid}/stat")
                res, thr, err = run(cmd)
                _, s1 = stat_ticks(f"/proc/{srv.pid}/stat")
                srv_ms = (s1 - s0) * TICK_MS
                rows[mode].append((res["blocks_per_s"], res["manager_cpu_ms"], srv_ms))
                lost = [l for l in err.splitlines() if "lost" in l]
                print(f"{i} {mode:3} {res['blocks_per_s'] / 1e6:6.2f} M blocks/s  manager cpu {res['manager_cpu_ms']:6.1f} ms  "
                      f"threads {json.dumps({k: round(v) for k, v in sorted(thr.items())})}  nats-server {srv_ms:.0f} ms"
                      + (f"  [{lost[-1].strip()}]" if lost else ""), flush=True)
        med = {m: [statistics.median(c) for c in zip(*rows[m])] for m in rows}
        print(f"median off: {med['off'][0] / 1e6:.2f} M blocks/s, manager cpu {med['off'][1]:.1f} ms")
        print(f"median on : {med['on'][0] / 1e6:.2f} M blocks/s, manager cpu {med['on'][1]:.1f} ms, nats-server {med['on'][2]:.0f} ms")
        ratios = sorted(on[0] / off[0] for on, off in zip(rows["on"], rows["off"]))
        print("pair ratios (wall):", " ".join(f"{r:.2f}" for r in ratios), f" median {statistics.median(ratios):.2f}")
        print(f"ratio by manager cpu: {med['off'][1] / med['on'][1]:.2f}")
    finally:
        srv.terminate()
        srv.wait(timeout=10)


if __name__ == "__main__":
    main()
