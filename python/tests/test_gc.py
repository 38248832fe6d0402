"""Garbage collection, reference cycles, finalizers and interpreter shutdown: a handle
dropped without release() still returns its block; gc.collect() at any point is safe."""
import gc
import textwrap
import weakref

import pytest

import kvbm
from conftest import chain, fill, run_exit_script


def test_dropped_handles_return_their_blocks(mgr):
    seq = chain(3)
    blocks = mgr.allocate(5)
    del blocks
    assert mgr.available_blocks == 16
    imm = fill(mgr, seq)
    single = imm[0].clone()
    weak = single.downgrade()
    pin = single.pin()
    del imm
    assert mgr.inactive_blocks == 2  # block 0 is still held by the clone (and the pin)
    del single, pin
    assert mgr.inactive_blocks == 3
    del weak
    cb = mgr.allocate(1)[0].complete(seq.blocks[0])
    del cb
    assert mgr.available_blocks == 16


def test_views_keep_their_list_alive(mgr):
    view = mgr.allocate(3)[2]
    assert mgr.available_blocks == 13
    assert view.block_id == 2
    del view
    assert mgr.available_blocks == 16


def test_reference_cycles_are_collected(mgr):
    class Holder:
        pass

    seq = chain(2)
    for _ in range(3):
        h = Holder()
        h.me = h
        h.blocks = fill(mgr, seq)
        h.mut = mgr.allocate(2)
        h.view = h.mut[0]
        del h
    gc.collect()
    assert mgr.available_blocks == 16 and mgr.inactive_blocks == 2


def test_manager_dropped_before_its_blocks():
    m = kvbm.Manager(4, block_size=4)
    ref = weakref.ref(m) if hasattr(m, "__weakref__") else None
    imm = fill(m, chain(2))
    mut = m.allocate(1)
    del m
    gc.collect()
    assert ref is None or ref() is not None  # handles keep the Manager object alive
    mgr = imm.manager
    imm.release()
    mut.release()
    assert mgr.available_blocks == 4


def test_gc_callbacks_and_finalizers_may_use_the_manager(mgr):
    seq = chain(2)
    fill(mgr, seq).release()
    calls = []

    def cb(phase, info):
        with mgr.match_blocks(seq.hashes) as hit:  # manager work in the middle of a collection
            calls.append(len(hit))
        mgr.allocate(1).release()

    class WithDel:
        def __del__(self):
            mgr.allocate(2).release()
            calls.append("del")

    gc.callbacks.append(cb)
    try:
        for _ in range(20):
            o = WithDel()
            o.me = o
            o.blocks = mgr.allocate(1)
            del o
            gc.collect()
    finally:
        gc.callbacks.remove(cb)
    assert "del" in calls and 2 in calls
    assert mgr.available_blocks == 16


def test_gc_collect_between_every_step():
    m = kvbm.Manager(8, block_size=4)
    seq = chain(3)
    steps = [lambda s: s.update(mut=m.allocate(3)),
             lambda s: s.update(comp=s["mut"].complete(seq)),
             lambda s: s.update(imm=m.register(s["comp"])),
             lambda s: s.update(w=s["imm"][0].downgrade()),
             lambda s: s["imm"].release(),
             lambda s: s.update(hit=m.match_blocks(seq.hashes)),
             lambda s: s.update(up=s["w"].upgrade()),
             lambda s: s.clear()]
    state = {}
    for step in steps:
        gc.collect()
        step(state)
        gc.collect()
    assert m.available_blocks == 8
    m.check_invariants()


SHUTDOWN_SCRIPT = textwrap.dedent("""
    import os, sys, threading, time
    sys.path.insert(0, {path!r})
    import kvbm

    mgr = kvbm.Manager(64, block_size=4)
    seq = kvbm.TokenBlockSequence(list(range(32)), block_size=4)

    class Late:
        # Finalized during interpreter shutdown (module teardown): calling into the manager
        # must raise ShutdownError or work - never crash - and releasing must still work.
        def __init__(self):
            self.mgr, self.kvbm, self.os, self.hashes = mgr, kvbm, os, seq.hashes
            self.blocks = mgr.allocate(4)
        def __del__(self):
            try:
                self.mgr.allocate(2).release()
                self.mgr.allocate_and_register(self.hashes, 6).release()
                self.os.write(1, b"late-ok ")
            except self.kvbm.ShutdownError:
                self.os.write(1, b"late-refused ")
            self.blocks.release()

    def worker():
        while True:
            with mgr.allocate(8) as b:
                mgr.register(b.complete(seq)).release()
            mgr.match_blocks(seq.hashes).release()
            mgr.allocate_and_register(seq.hashes, 5).release()

    late = Late()
    late.me = late
    keep = [Late() for _ in range(3)]
    for _ in range({threads}):
        threading.Thread(target=worker, daemon=True).start()
    time.sleep(0.2)
    print("exiting", flush=True)
""")


@pytest.mark.parametrize("threads", [0, 4])
def test_interpreter_shutdown_with_live_handles(tmp_path, threads):
    """Finalizers that call into a manager while modules are torn down, and daemon threads
    still inside batch calls when the interpreter exits: exit status 0, no crash."""
    for _ in range(3):
        r = run_exit_script(tmp_path, SHUTDOWN_SCRIPT, threads=threads)
        if threads == 0:
            # module teardown runs every finalizer (daemon threads would keep the module
            # dict alive through their frames, so Python then skips them)
            assert r.stdout.count("late-") == 4, r.stdout
