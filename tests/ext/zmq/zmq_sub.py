#!/usr/bin/python3
"""tests/ext/zmq/zmq_sub.py - independent ZeroMQ subscriber for the ZeroMQ tests.

python3-zmq SUB socket subscribed to "kvbm.kv_index"; every message must be exactly 2
frames [b"kvbm.kv_index", payload] and the payload is checked by wire_check.Checker.

usage: zmq_sub.py (--bind | --connect PORT) [--hold]
  --bind: bind a random loopback port (the publisher connects); --connect PORT: connect.
  prints "READY <port>".
  --hold: RCVHWM 1 and read nothing until the DRAIN command (back-pressure on the publisher).
stdin commands: DRAIN (start reading); END N (read until N messages arrived, at most 30 s
without progress, then print the RESULT line and exit).
"""
import os
import sys
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from wire_check import Checker  # noqa: E402

TOPIC = b"kvbm.kv_index"


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main():
    args = sys.argv[1:]
    hold = "--hold" in args
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, 1 if hold else 1000000)
    if hold:
        s.setsockopt(zmq.RCVBUF, 4096)
    s.setsockopt(zmq.SUBSCRIBE, TOPIC)
    if "--bind" in args:
        port = s.bind_to_random_port("tcp://127.0.0.1")
    else:
        port = int(args[args.index("--connect") + 1])
        s.connect("tcp://127.0.0.1:%d" % port)
    say("READY %d" % port)
    checker = Checker()
    reading = not hold
    want = None
    poller = zmq.Poller()
    poller.register(s, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    pending = b""  # stdin is read unbuffered: a buffered readline could hide a command
    last = time.time()
    while True:
        if want is not None and (checker.total >= want or time.time() - last > 30):
            say(checker.result())
            return
        ev = dict(poller.poll(100))
        if sys.stdin.fileno() in ev:
            chunk = os.read(sys.stdin.fileno(), 4096)
            if not chunk:
                return
            pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            cmd = line.decode().split()
            if cmd and cmd[0] == "DRAIN":
                reading = True
            elif cmd and cmd[0] == "END":
                want = int(cmd[1])
                reading = True
                last = time.time()
        while reading:
            try:
                frames = s.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            last = time.time()
            if len(frames) != 2 or frames[0] != TOPIC:
                checker.total += 1
                checker.fail("bad frames: %d frames, topic %r" % (len(frames), frames[0][:32]))
                continue
            checker.check(frames[1])


if __name__ == "__main__":
    main()
