#!/usr/bin/python3
"""tests/tools/nats_router_sub.py - an independent Dynamo RouterEvent subscriber for the
`kvbm consolidate --router-nats` test: the plain-text NATS client protocol over a socket
(no NATS library, no kvbm code) and python3-msgpack.

usage: nats_router_sub.py PORT SUBJECT N
Prints "READY" once subscribed, then one line per message:
  "EVENT <event_id> <worker_id> stored <block_hash>:<tokens_hash>[:<parent>]"
  "EVENT <event_id> <worker_id> removed <hash>,..." | "EVENT <event_id> <worker_id> cleared"
and exits 0 after N messages (2 after 30 s without them)."""
import socket
import sys
import time

import msgpack


def describe(ev):
    e = ev["event"]
    data = e["data"]
    head = "EVENT %d %d " % (e["event_id"], ev["worker_id"])
    if data == "cleared":
        return head + "cleared"
    if "removed" in data:
        return head + "removed " + ",".join(str(h) for h in data["removed"]["block_hashes"])
    st = data["stored"]
    parts = []
    for b in st["blocks"]:
        s = "%d:%d" % (b["block_hash"], b["tokens_hash"])
        if st.get("parent_hash") is not None:
            s += ":%d" % st["parent_hash"]
        parts.append(s)
    return head + "stored " + " ".join(parts)


def main():
    port, subject, want = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    buf = b""
    deadline = time.time() + 30

    def fill():
        nonlocal buf
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk

    def line():
        nonlocal buf
        while b"\r\n" not in buf:
            fill()
        l, buf = buf.split(b"\r\n", 1)
        return l.decode()

    line()  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB ' + subject.encode() + b" 1\r\nPING\r\n")
    while line() != "PONG":
        pass
    print("READY", flush=True)
    seen = 0
    while seen < want and time.time() < deadline:
        l = line()
        if l == "PING":
            s.sendall(b"PONG\r\n")
            continue
        if not l.startswith("MSG "):
            continue
        n = int(l.split()[-1])
        while len(buf) < n + 2:
            fill()
        payload, buf = buf[:n], buf[n + 2:]
        print(describe(msgpack.unpackb(payload, raw=False)), flush=True)
        seen += 1
    return 0 if seen >= want else 2


if __name__ == "__main__":
    sys.exit(main())
