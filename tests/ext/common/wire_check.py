"""tests/ext/common/wire_check.py - the independent checker of kvbm event batches.

Used by the Python subscribers of the transport tests (NATS, ZeroMQ). It knows nothing of
the kvbm library: it decodes every payload with python3-msgpack, checks the structure of
spec 20 section 3.6 ([events, instance_id], events = {"Create"|"Remove": [bin16...]} or
"Shutdown", instance_id = bin16 big-endian), and compares with what the C test emitted:
the spec's three hex vectors, or generated message i (tests/support/wire_vectors.h), which
it recomputes and re-encodes itself - the bytes must be identical.
"""
import msgpack

INSTANCE0 = 1000000
M64 = (1 << 64) - 1
SPEC = {
    bytes.fromhex("9281a643726561746592c4100000000000000000cb38e4d7fb2dca5cc4100078e4d7fb2dca5c"
                  "44a2b2379d6d3c3dc41000000000000000000000000000003039"):
        ("Create", [0xcb38e4d7fb2dca5c, 0x0078e4d7fb2dca5c44a2b2379d6d3c3d]),
    bytes.fromhex("9281a652656d6f766592c4100078e4d7fb2dca5c44a2b2379d6d3c3dc4100000000000000000"
                  "cb38e4d7fb2dca5cc41000000000000000000000000000003039"):
        ("Remove", [0x0078e4d7fb2dca5c44a2b2379d6d3c3d, 0xcb38e4d7fb2dca5c]),
    bytes.fromhex("92a853687574646f776ec41000000000000000000000000000003039"): ("Shutdown", None),
}


def gen_hash(i, j):
    lo = (((j + 1) * 0x9E3779B97F4A7C15) & M64) ^ i
    return i.to_bytes(8, "big") + lo.to_bytes(8, "big")


def gen_message(i):
    kind = "Create" if i % 2 == 0 else "Remove"
    hashes = [gen_hash(i, j) for j in range(1 + i % 3)]
    return kind, msgpack.packb([{kind: hashes}, (INSTANCE0 + i).to_bytes(16, "big")], use_bin_type=True)


def decode(payload):
    """-> (kind, [int hashes] or None, instance_id); raises ValueError on a bad batch."""
    obj = msgpack.unpackb(payload, raw=False)
    if not isinstance(obj, list) or len(obj) != 2:
        raise ValueError("not a 2-element array: %r" % (obj,))
    events, iid = obj
    if not isinstance(iid, bytes) or len(iid) != 16:
        raise ValueError("instance_id is not bin16: %r" % (iid,))
    if events == "Shutdown":
        return "Shutdown", None, int.from_bytes(iid, "big")
    if not isinstance(events, dict) or len(events) != 1:
        raise ValueError("events is not a one-entry map: %r" % (events,))
    (kind, hashes), = events.items()
    if kind not in ("Create", "Remove") or not isinstance(hashes, list):
        raise ValueError("bad events variant %r" % (kind,))
    for h in hashes:
        if not isinstance(h, bytes) or len(h) != 16:
            raise ValueError("hash is not bin16: %r" % (h,))
    return kind, [int.from_bytes(h, "big") for h in hashes], int.from_bytes(iid, "big")


class Checker:
    def __init__(self):
        self.seen = set()
        self.first = []      # generated indexes in order of first arrival
        self.total = 0
        self.dups = 0
        self.vectors = 0
        self.bad = 0
        self.error = "-"

    def fail(self, why):
        self.bad += 1
        if self.error == "-":
            self.error = why.replace(" ", "_")[:120]

    def check(self, payload):
        self.total += 1
        try:
            kind, hashes, iid = decode(payload)
        except Exception as e:  # garbage is a failure of the publisher under test
            return self.fail("undecodable:%s" % e)
        if payload in SPEC:
            want_kind, want_hashes = SPEC[payload]
            if (kind, hashes, iid) != (want_kind, want_hashes, 12345):
                return self.fail("spec vector decodes wrongly")
            self.vectors += 1
            return
        i = iid - INSTANCE0
        if i < 0:
            return self.fail("unknown instance %d" % iid)
        want_kind, want = gen_message(i)
        if payload != want or kind != want_kind:
            return self.fail("message %d differs from what the test emitted" % i)
        if i in self.seen:
            self.dups += 1
        else:
            self.seen.add(i)
            self.first.append(i)

    def result(self):
        inorder = int(all(a < b for a, b in zip(self.first, self.first[1:])))
        top = max(self.seen) if self.seen else -1
        return "RESULT unique=%d dups=%d vectors=%d bad=%d inorder=%d max=%d total=%d err=%s" % (
            len(self.seen), self.dups, self.vectors, self.bad, inorder, top, self.total, self.error)
