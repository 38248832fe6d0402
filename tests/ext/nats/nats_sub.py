#!/usr/bin/python3
"""tests/ext/nats/nats_sub.py - independent NATS subscriber (and gate) for the NATS tests.

Speaks the plain-text NATS client protocol over a socket (CONNECT, SUB, PING/PONG, MSG) -
no NATS library, no kvbm code - and checks every message with wire_check.Checker.

usage: nats_sub.py SERVER_PORT SUBJECT [--proxy]
  prints "READY <proxy_port or 0>" once subscribed (a PING answered after the SUB).
  --proxy: also listen on a free loopback port and forward each connection to the server;
  the publisher under test connects there, so the test can cut its connection at will.
stdin commands (one per line), each answered with one line:
  CUT     close the proxy (listener and forwarded connections: bytes in flight are lost),
          then PING the server on the subscriber connection: "CUT_DONE" once every message
          the server routed before has been read.
  RESUME  reconnect the subscriber (the test restarted the server), SUB, PING/PONG, then
          listen again on the same proxy port: "RESUMED".
  END     PING/PONG (drain), then print the checker's RESULT line and exit.
Everything is bounded in time; the script exits on stdin EOF.
"""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from wire_check import Checker  # noqa: E402

HOST = "127.0.0.1"
TIMEOUT = 20.0


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Subscriber:
    def __init__(self, port, subject, checker):
        self.port, self.subject, self.checker = port, subject, checker
        self.lock = threading.Lock()
        self.pongs = 0
        self.cv = threading.Condition(self.lock)
        self.sock = None

    def connect(self):
        deadline = time.time() + TIMEOUT
        while True:
            try:
                s = socket.create_connection((HOST, self.port), timeout=1.0)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.01)
        s.settimeout(None)
        self.sock = s
        self.rfile = s.makefile("rb")
        info = self.rfile.readline()
        if not info.startswith(b"INFO"):
            raise RuntimeError("no INFO from the server: %r" % info)
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"kvbm-test-sub"}\r\n'
                  b"SUB " + self.subject.encode() + b" 1\r\n")
        threading.Thread(target=self.reader, args=(s, self.rfile), daemon=True).start()
        self.ping()

    def reader(self, s, rf):
        try:
            while True:
                line = rf.readline()
                if not line:
                    break
                if line.startswith(b"MSG "):
                    parts = line.split()
                    n = int(parts[-1])
                    payload = rf.read(n)
                    rf.read(2)
                    with self.lock:
                        self.checker.check(payload)
                elif line.startswith(b"PING"):
                    s.sendall(b"PONG\r\n")
                elif line.startswith(b"PONG"):
                    with self.lock:
                        self.pongs += 1
                        self.cv.notify_all()
                elif line.startswith(b"-ERR"):
                    sys.stderr.write("nats_sub: server error %r\n" % line)
        except OSError:
            pass

    def ping(self):
        """Round trip: every message routed to us before the PONG has been read."""
        with self.lock:
            want = self.pongs + 1
        self.sock.sendall(b"PING\r\n")
        with self.lock:
            if not self.cv.wait_for(lambda: self.pongs >= want, TIMEOUT):
                raise RuntimeError("no PONG")


class Proxy:
    def __init__(self, server_port):
        self.server_port = server_port
        self.port = 0
        self.conns = []
        self.lock = threading.Lock()
        self.listener = None

    def open(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((HOST, self.port))
        ls.listen(16)
        self.port = ls.getsockname()[1]
        self.listener = ls
        threading.Thread(target=self.accept_loop, args=(ls,), daemon=True).start()

    def accept_loop(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection((HOST, self.server_port), timeout=2.0)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        try:  # shutdown wakes the thread blocked in accept(); close alone would not
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for x in conns:
            try:
                x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()


def main():
    port, subject = int(sys.argv[1]), sys.argv[2]
    checker = Checker()
    sub = Subscriber(port, subject, checker)
    sub.connect()
    proxy = None
    if "--proxy" in sys.argv:
        proxy = Proxy(port)
        proxy.open()
    say("READY %d" % (proxy.port if proxy else 0))
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "CUT":
            proxy.cut()
            sub.ping()
            say("CUT_DONE")
        elif cmd == "RESUME":
            sub.connect()
            proxy.open()
            say("RESUMED")
        elif cmd == "END":
            sub.ping()
            with sub.lock:
                say(checker.result())
            return


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report instead of hanging the test
        say("ERROR %s" % e)
        sys.exit(1)
