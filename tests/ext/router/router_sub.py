#!/usr/bin/python3
"""tests/ext/router/router_sub.py - independent consumer of Dynamo router events (tests).

Receives RouterEvent messages over NATS (plain-text client protocol over a socket, as
tests/ext/nats/nats_sub.py does - no NATS library, no kvbm code) or ZeroMQ (python3-zmq
SUB), decodes each payload with python3-msgpack and checks its shape independently of kvbm:
a map with exactly the keys worker_id, storage_tier, event (in that order); event with
event_id, data, dp_rank; data {"stored": {parent_hash, start_position, blocks}} |
{"removed": {block_hashes}} | "cleared"; every block with block_hash, tokens_hash,
mm_extra_info; integers unsigned and < 2^64. Each message is then printed as compact JSON
(the decoded map, in wire order) so the test compares it with what it published.

usage: router_sub.py --nats PORT SUBJECT | --zmq TOPIC
  prints "READY <port>" (ZeroMQ: the loopback port bound; NATS: 0) once subscribed.
stdin: "END N" - wait (at most 30 s without progress) until N messages arrived, then print
"EV <json>" per message in arrival order (or "BAD <reason>" for a malformed one) and
"DONE <count>", and exit.
"""
import json
import socket
import sys
import threading
import time

import msgpack

HOST = "127.0.0.1"
U64 = 1 << 64


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def want_keys(obj, keys, what):
    if not isinstance(obj, dict) or list(obj.keys()) != keys:
        raise ValueError("%s: keys %r, want %r" % (what, list(obj.keys()) if isinstance(obj, dict) else obj, keys))


def want_u(v, what, bits=64):
    if not isinstance(v, int) or isinstance(v, bool) or v < 0 or v >= (1 << bits):
        raise ValueError("%s: %r is not a u%d" % (what, v, bits))


def check(ev):
    want_keys(ev, ["worker_id", "storage_tier", "event"], "RouterEvent")
    want_u(ev["worker_id"], "worker_id")
    if ev["storage_tier"] not in ("device", "host_pinned", "disk", "external"):
        raise ValueError("storage_tier %r" % ev["storage_tier"])
    e = ev["event"]
    want_keys(e, ["event_id", "data", "dp_rank"], "KvCacheEvent")
    want_u(e["event_id"], "event_id")
    want_u(e["dp_rank"], "dp_rank", 32)
    d = e["data"]
    if d == "cleared":
        return
    if isinstance(d, dict) and list(d.keys()) == ["stored"]:
        s = d["stored"]
        want_keys(s, ["parent_hash", "start_position", "blocks"], "stored")
        if s["parent_hash"] is not None:
            want_u(s["parent_hash"], "parent_hash")
        if s["start_position"] is not None:
            want_u(s["start_position"], "start_position", 32)
        if not isinstance(s["blocks"], list) or not s["blocks"]:
            raise ValueError("stored blocks %r" % s["blocks"])
        for b in s["blocks"]:
            want_keys(b, ["block_hash", "tokens_hash", "mm_extra_info"], "block")
            want_u(b["block_hash"], "block_hash")
            want_u(b["tokens_hash"], "tokens_hash")
            if b["mm_extra_info"] is not None:
                want_keys(b["mm_extra_info"], ["mm_objects"], "mm_extra_info")
        return
    if isinstance(d, dict) and list(d.keys()) == ["removed"]:
        r = d["removed"]
        want_keys(r, ["block_hashes"], "removed")
        if not isinstance(r["block_hashes"], list) or not r["block_hashes"]:
            raise ValueError("removed block_hashes %r" % r["block_hashes"])
        for h in r["block_hashes"]:
            want_u(h, "block_hashes[]")
        return
    raise ValueError("data %r" % d)


class Collector:
    def __init__(self):
        self.lock = threading.Lock()
        self.lines = []

    def add(self, payload):
        try:
            ev = msgpack.unpackb(payload, raw=False, strict_map_key=False)
            check(ev)
            line = "EV " + json.dumps(ev, separators=(",", ":"))
        except Exception as e:  # report, the test fails on it
            line = "BAD %s" % e
        with self.lock:
            self.lines.append(line)

    def count(self):
        with self.lock:
            return len(self.lines)


def nats(port, subject, col):
    s = socket.create_connection((HOST, port), timeout=20.0)
    s.settimeout(None)
    rf = s.makefile("rb")
    if not rf.readline().startswith(b"INFO"):
        raise RuntimeError("no INFO from the server")
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"router-sub"}\r\n'
              b"SUB " + subject.encode() + b" 1\r\nPING\r\n")
    ready = threading.Event()

    def reader():
        try:
            while True:
                line = rf.readline()
                if not line:
                    return
                if line.startswith(b"MSG "):
                    n = int(line.split()[-1])
                    payload = rf.read(n)
                    rf.read(2)
                    col.add(payload)
                elif line.startswith(b"PING"):
                    s.sendall(b"PONG\r\n")
                elif line.startswith(b"PONG"):
                    ready.set()
        except OSError:
            pass

    threading.Thread(target=reader, daemon=True).start()
    if not ready.wait(20.0):
        raise RuntimeError("no PONG after SUB")
    say("READY 0")


def zmq_sub(topic, col):
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SUBSCRIBE, topic.encode())
    port = s.bind_to_random_port("tcp://127.0.0.1")

    def reader():
        while True:
            frames = s.recv_multipart()
            if len(frames) != 2 or frames[0] != topic.encode():
                with col.lock:
                    col.lines.append("BAD frames %d topic %r" % (len(frames), frames[0][:32]))
                continue
            col.add(frames[1])

    threading.Thread(target=reader, daemon=True).start()
    say("READY %d" % port)


def main():
    col = Collector()
    args = sys.argv[1:]
    if args[0] == "--nats":
        nats(int(args[1]), args[2], col)
    else:
        zmq_sub(args[1], col)
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "END":
            want, last, seen = int(cmd[1]), time.time(), 0
            while col.count() < want and time.time() - last < 30:
                if col.count() != seen:
                    seen, last = col.count(), time.time()
                time.sleep(0.005)
            with col.lock:
                for ln in col.lines:
                    say(ln)
                say("DONE %d" % len(col.lines))
            return


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        say("ERROR %s" % e)
        sys.exit(1)
