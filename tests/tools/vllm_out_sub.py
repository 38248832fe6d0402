#!/usr/bin/python3
"""tests/tools/vllm_out_sub.py - an independent vLLM KV-event subscriber (python3-zmq,
python3-msgpack) for the `kvbm consolidate` CLI test.

usage: vllm_out_sub.py ENDPOINT N [REPLAY_ENDPOINT]
Connects a SUB to ENDPOINT, prints "READY", then for every 3-frame message prints
"BATCH <seq> <event> <event> ..." with one event per field as TYPE:hash[:parent] (array or
map form), until N events were seen; exits 0. Exits 2 after 30 s without them.

A SUB's connection and subscription complete in the background after connect() returns
(ZeroMQ's "slow joiner"), so on a loaded machine the first batches can be published before
the subscription reaches the publisher and are never delivered. With REPLAY_ENDPOINT the
subscriber recovers them the way a vLLM consumer does: when the first live batch is not
seq 0, or nothing arrived for 2 s, it asks the replay socket (DEALER: [b"", start u64 BE];
answers [b"", seq i64 BE, payload] up to seq -1) for every batch from the lowest one it
has not printed; each seq is printed once, in order of arrival."""
import struct
import sys
import time

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


class Printer:
    def __init__(self):
        self.printed = set()
        self.seen = 0

    def batch(self, seq, payload):
        if seq in self.printed:
            return
        self.printed.add(seq)
        b = msgpack.unpackb(payload, raw=False)
        events = b[1] if isinstance(b, list) else b["events"]
        print("BATCH %d %s" % (seq, " ".join(event_str(e) for e in events)), flush=True)
        self.seen += len(events)

    def first_missing(self):
        s = 0
        while s in self.printed:
            s += 1
        return s


def replay(ctx, ep, start, out):
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect(ep)
    d.send_multipart([b"", struct.pack(">Q", start)])
    deadline = time.time() + 10
    while time.time() < deadline:
        if not d.poll(200):
            continue
        frames = d.recv_multipart()
        if len(frames) != 3 or len(frames[1]) != 8:
            break
        seq = struct.unpack(">q", frames[1])[0]
        if seq < 0:
            break
        out.batch(seq, frames[2])
    d.close()


def main():
    ep, want = sys.argv[1], int(sys.argv[2])
    rep = sys.argv[3] if len(sys.argv) > 3 else None
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(ep)
    print("READY", flush=True)
    out = Printer()
    deadline = time.time() + 30
    quiet_since = time.time()
    while out.seen < want:
        if time.time() > deadline:
            return 2
        if not sub.poll(100):
            if rep and time.time() - quiet_since > 2:
                replay(ctx, rep, out.first_missing(), out)
                quiet_since = time.time()
            continue
        frames = sub.recv_multipart()
        if len(frames) != 3:
            continue
        seq = int.from_bytes(frames[1], "big")
        if rep and seq > out.first_missing():  # a gap before this batch: fill it first
            replay(ctx, rep, out.first_missing(), out)
        out.batch(seq, frames[2])
        quiet_since = time.time()
    return 0


if __name__ == "__main__":
    sys.exit(main())
