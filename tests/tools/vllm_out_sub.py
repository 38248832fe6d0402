#!/usr/bin/python3
"""tests/tools/vllm_out_sub.py - an independent vLLM KV-event subscriber (python3-zmq,
python3-msgpack) for the `kvbm consolidate` CLI test.

usage: vllm_out_sub.py ENDPOINT N
Connects a SUB to ENDPOINT, prints "READY", then for every 3-frame message prints
"BATCH <seq> <event> <event> ..." with one event per field as TYPE:hash[:parent] (array or
map form), until N events were seen; exits 0. Exits 2 after 30 s without them."""
import sys

import msgpack
import zmq


def event_str(e):
    if isinstance(e, dict):
        t, hs, parent = e.get("type"), e.get("block_hashes", []), e.get("parent_block_hash")
    else:
        t, hs = e[0], (e[1] if len(e) > 1 else [])
        parent = e[2] if t == "BlockStored" and len(e) > 2 else None
    s = "%s:%s" % (t, ",".join(str(h) for h in hs))
    return s + (":%d" % parent if parent is not None else "")


def main():
    ep, want = sys.argv[1], int(sys.argv[2])
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVTIMEO, 30000)
    sub.connect(ep)
    print("READY", flush=True)
    seen = 0
    while seen < want:
        try:
            frames = sub.recv_multipart()
        except zmq.Again:
            return 2
        if len(frames) != 3:
            continue
        seq = int.from_bytes(frames[1], "big")
        batch = msgpack.unpackb(frames[2], raw=False)
        events = batch[1] if isinstance(batch, list) else batch["events"]
        print("BATCH %d %s" % (seq, " ".join(event_str(e) for e in events)), flush=True)
        seen += len(events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
