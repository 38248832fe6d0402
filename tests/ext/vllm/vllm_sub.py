#!/usr/bin/python3
"""tests/ext/vllm/vllm_sub.py - independent vLLM KV-event consumer for the publisher tests.

python3-zmq SUB socket (empty subscription) connected to tcp://127.0.0.1:PORT; payloads
decoded with python3-msgpack, in either event form (map or array, spec 20 §4.2.2), written
without our library. Every message must be 3 frames [topic, seq BE8, payload].

usage: vllm_sub.py PORT
prints "READY", then per message "MSG <seq> <topic|-> <batch>" (canonical text below) or
"BAD <reason>". stdin commands:
  REPLAY PORT START  - DEALER request [b"", START BE8] to the replay socket; prints
                       "REPLAY <seq> <batch>" per answer and "REPLAYEND <count>" at the marker
  END                - exit
Canonical batch: "<ts %.3f> <dp|-> <event> <event> ..." with events
  BlockStored|h=1,2|p=<parent|->|t=1,2,3|e=<0|1>|bs=4|lora=<name|->|medium=<m|->|mm=<b0;b1>|g=<group|->
    (mm: per block "+"-joined mm hashes, "" for none; "-" when the event has no MM info)
  BlockRemoved|h=1,2|medium=<m|->|g=<group|->
  AllBlocksCleared
"""
import os
import struct
import sys
import time

import msgpack
import zmq

STORED_POS = ["block_hashes", "parent_block_hash", "token_ids", "block_size", "lora_id", "medium",
              "lora_name", "extra_keys", None, "kv_cache_spec_kind", "kv_cache_spec_sliding_window"]
REMOVED_POS = ["block_hashes", "medium", "group_idx", "kv_cache_spec_kind", "kv_cache_spec_sliding_window"]


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fields(ev):
    """event (map or array form) -> (type, dict of fields)"""
    if isinstance(ev, dict):
        return ev["type"], dict(ev)
    tag, rest = ev[0], ev[1:]
    pos = STORED_POS if tag == "BlockStored" else REMOVED_POS if tag == "BlockRemoved" else []
    out = {}
    for i, v in enumerate(rest[:len(pos)]):
        name = pos[i]
        if name is None:  # index 9: int -> group_idx, list -> block_mm_infos
            name = "block_mm_infos" if isinstance(v, list) else "group_idx"
        out[name] = v
    return tag, out


def opt(v):
    return "-" if v is None else str(v)


def mm_text(infos):
    if not infos:
        return "-"
    blocks = []
    for b in infos:
        if b is None:
            blocks.append("")
            continue
        objs = b["mm_objects"] if isinstance(b, dict) else b[0]
        blocks.append("+".join(str(o["mm_hash"] if isinstance(o, dict) else o[0]) for o in objs))
    return ";".join(blocks)


def event_text(ev):
    t, f = fields(ev)
    if t == "AllBlocksCleared":
        return t
    h = ",".join(str(x & 0xFFFFFFFFFFFFFFFF) for x in f["block_hashes"])
    if t == "BlockRemoved":
        return "%s|h=%s|medium=%s|g=%s" % (t, h, opt(f.get("medium")), opt(f.get("group_idx")))
    if t != "BlockStored":
        raise ValueError("unknown type %r" % (t,))
    toks = f["token_ids"]
    eagle = bool(toks) and isinstance(toks[0], list)
    if eagle:
        toks = [p[0] for p in toks] + [toks[-1][1]]
    return "%s|h=%s|p=%s|t=%s|e=%d|bs=%d|lora=%s|medium=%s|mm=%s|g=%s" % (
        t, h, opt(f.get("parent_block_hash")), ",".join(map(str, toks)), eagle, f["block_size"],
        opt(f.get("lora_name")), opt(f.get("medium")), mm_text(f.get("block_mm_infos")), opt(f.get("group_idx")))


def batch_text(payload):
    b = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    if not isinstance(b, list) or len(b) != 3:
        raise ValueError("batch is not a 3-array")
    ts, events, dp = b
    return " ".join(["%.3f" % ts, opt(dp)] + [event_text(e) for e in events])


def replay(ctx, port, start):
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect("tcp://127.0.0.1:%d" % port)
    d.send_multipart([b"", struct.pack(">Q", start)])
    n = 0
    deadline = time.time() + 20
    while time.time() < deadline:
        if not d.poll(200):
            continue
        frames = d.recv_multipart()
        if len(frames) != 3 or frames[0] != b"" or len(frames[1]) != 8:
            say("BAD replay frames %d" % len(frames))
            break
        seq = struct.unpack(">q", frames[1])[0]
        if seq == -1:
            say("REPLAYEND %d %d" % (n, len(frames[2])))
            break
        say("REPLAY %d %s" % (seq, batch_text(frames[2])))
        n += 1
    d.close()


def main():
    port = int(sys.argv[1])
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect("tcp://127.0.0.1:%d" % port)
    say("READY")
    poller = zmq.Poller()
    poller.register(s, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    pending = b""
    deadline = time.time() + 120  # never outlive a broken test
    while time.time() < deadline:
        ev = dict(poller.poll(100))
        if s in ev:
            frames = s.recv_multipart()
            if len(frames) != 3 or len(frames[1]) != 8:
                say("BAD frames %d" % len(frames))
                continue
            seq = struct.unpack(">Q", frames[1])[0]
            try:
                say("MSG %d %s %s" % (seq, frames[0].decode() or "-", batch_text(frames[2])))
            except Exception as e:  # noqa: BLE001 - reported to the C side
                say("BAD decode %s" % e)
        if sys.stdin.fileno() in ev:
            chunk = os.read(sys.stdin.fileno(), 4096)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                cmd = line.decode().split()
                if cmd and cmd[0] == "END":
                    return
                if cmd and cmd[0] == "REPLAY":
                    replay(ctx, int(cmd[1]), int(cmd[2]))


if __name__ == "__main__":
    main()
