"""kvbm.EventsManager / kvbm.Subscription: the KV cache event stream from Python."""
import gc
import threading
import time

import pytest

import kvbm
from conftest import chain, fill


@pytest.fixture
def stream():
    reg = kvbm.Registry()
    em = kvbm.EventsManager(reg)
    mgr = kvbm.Manager(16, block_size=4, registry=reg)
    yield reg, em, mgr
    assert mgr.available_blocks == mgr.total_blocks
    mgr.check_invariants()


def test_create_then_remove_in_order(stream):
    reg, em, mgr = stream
    sub = em.subscribe()
    seq = chain(3)
    blocks = fill(mgr, seq)
    got = [sub.next(timeout=5) for _ in range(3)]
    assert [e.kind for e in got] == ["create"] * 3
    assert [e.hash for e in got] == seq.hashes.tolist()
    assert sub.poll() is None
    blocks.release()              # cached: the registration stays alive
    assert sub.poll() is None
    mgr.reset_inactive_pool()     # registrations die -> Remove, leaf first or root first
    removed = [sub.next(timeout=5) for _ in range(3)]
    assert {e.kind for e in removed} == {"remove"}
    assert sorted(e.hash for e in removed) == sorted(seq.hashes.tolist())
    st = em.stats()
    assert (st["created"], st["removed"], st["subscribers"], st["lost"]) == (3, 3, 1, 0)
    kind, h = got[0]              # a named tuple
    assert kind == "create" and h == seq.hashes[0]
    sub.close()
    assert sub.closed and em.stats()["subscribers"] == 0


def test_timeout_and_iteration_end(stream):
    reg, em, mgr = stream
    sub = em.subscribe(timeout=0.05)
    with pytest.raises(kvbm.TimedOutError):
        sub.next(timeout=0.01)
    with pytest.raises(kvbm.TimedOutError):
        sub.next(timeout=0.0004)      # rounds to less than 1 ms: still ends
    with pytest.raises(kvbm.TimedOutError):
        next(sub)                 # iteration waits .timeout
    assert sub.timeout == pytest.approx(0.05)
    sub.timeout = None
    assert sub.timeout is None
    fill(mgr, chain(1)).release()
    em.close()
    assert [e.kind for e in sub] == ["create"]   # what was sent, then the end
    with pytest.raises(kvbm.ClosedError):
        sub.next(timeout=0)
    mgr.reset_inactive_pool()
    assert em.stats()["dropped_closed"] == 1       # the Remove after close


def test_lag_reported_with_count(stream):
    reg = kvbm.Registry()
    em = kvbm.EventsManager(reg, capacity=4)
    assert em.capacity == 4
    mgr = kvbm.Manager(16, block_size=4, registry=reg)
    sub = em.subscribe()
    blocks = fill(mgr, chain(10))
    with pytest.raises(kvbm.LaggedError) as ei:
        sub.next(timeout=1)
    assert ei.value.lost == 6 and sub.lost == 6
    rest = [sub.next(timeout=1) for _ in range(4)]
    assert [e.kind for e in rest] == ["create"] * 4
    assert em.stats()["lost"] == 6
    blocks.release()
    mgr.reset_inactive_pool()


def test_policy_power_of_two_filters():
    reg = kvbm.Registry()
    em = kvbm.EventsManager(reg, policy=("power_of_two", 1, 4))
    mgr = kvbm.Manager(16, block_size=4, registry=reg)
    sub = em.subscribe()
    blocks = fill(mgr, chain(6))                  # positions 0..5: 1, 2, 4 emit
    got = [sub.next(timeout=1) for _ in range(3)]
    assert [kvbm.plh_position(e.hash) for e in got] == [1, 2, 4]
    assert sub.poll() is None
    assert em.stats()["filtered"] == 3
    blocks.release()
    mgr.reset_inactive_pool()


def test_wait_releases_gil_and_wakes(stream):
    reg, em, mgr = stream
    sub = em.subscribe()
    out = []
    t = threading.Thread(target=lambda: out.append(sub.next(timeout=10)))
    t.start()
    time.sleep(0.05)              # the waiter is blocked without the GIL: we can run
    with pytest.raises(kvbm.BusyError):
        sub.next(timeout=0)       # one thread at a time
    with pytest.raises(kvbm.BusyError):
        sub.close()
    blocks = fill(mgr, chain(1))
    t.join(10)
    assert not t.is_alive() and out[0].kind == "create"
    blocks.release()
    mgr.reset_inactive_pool()


def test_attach_detach_and_two_managers():
    r1, r2 = kvbm.Registry(), kvbm.Registry()
    em = kvbm.EventsManager()
    em.attach(r1)
    em.attach(r2)
    with pytest.raises(kvbm.BusyError):
        em.attach(r1)
    m1 = kvbm.Manager(8, block_size=4, registry=r1)
    m2 = kvbm.Manager(8, block_size=4, registry=r2)
    sub = em.subscribe()
    a, b = fill(m1, chain(1)), fill(m2, chain(1, base=100))
    assert {sub.next(timeout=1).hash for _ in range(2)} == {a.hashes[0], b.hashes[0]}
    em.detach(r2)
    with pytest.raises(kvbm.NotFoundError):
        em.detach(r2)
    c = fill(m2, chain(1, base=200))
    assert sub.poll() is None                     # r2 no longer watched
    for x in (a, b, c):
        x.release()


def test_gc_of_dropped_handles(stream):
    reg, em, mgr = stream
    sub = em.subscribe()
    del sub
    gc.collect()
    assert em.stats()["subscribers"] == 0
    # an events manager dropped while registrations live: stream ends once they die
    em2 = kvbm.EventsManager(reg)
    sub2 = em2.subscribe()
    blocks = fill(mgr, chain(2))
    del em2
    gc.collect()
    blocks.release()
    mgr.reset_inactive_pool()
    kinds = [e.kind for e in sub2]                # ends: the manager is gone
    assert kinds.count("create") == 2 and kinds.count("remove") == 2


def test_bad_input():
    with pytest.raises(TypeError):
        kvbm.EventsManager(registry=42)
    with pytest.raises(kvbm.ConfigError):
        kvbm.EventsManager(capacity=-1)
    with pytest.raises(kvbm.ConfigError):
        kvbm.EventsManager(capacity=2**21)
    with pytest.raises(OverflowError):
        kvbm.EventsManager(capacity=2**70)
    with pytest.raises(kvbm.ConfigError):
        kvbm.EventsManager(policy="sometimes")
    with pytest.raises(kvbm.ConfigError):
        kvbm.EventsManager(policy=("power_of_two", 8, 2))
    with pytest.raises(TypeError):
        kvbm.EventsManager(policy=3)
    em = kvbm.EventsManager()
    with pytest.raises(TypeError):
        em.attach("registry")
    with pytest.raises(kvbm.InvalidArgumentError):
        em.subscribe(timeout=-1)
    with pytest.raises(TypeError):
        em.subscribe(timeout="soon")
    sub = em.subscribe()
    with pytest.raises(kvbm.InvalidArgumentError):
        sub.next(timeout=float("nan"))
    with pytest.raises(kvbm.InvalidArgumentError):
        sub.timeout = -0.5
    with sub:
        pass
    assert sub.closed
    with pytest.raises(kvbm.ClosedError):
        sub.next()
    with pytest.raises(kvbm.ClosedError):
        sub.lost
    sub.close()                                   # idempotent


def test_signal_interrupts_an_unbounded_wait(stream):
    import signal

    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    reg, em, mgr = stream
    sub = em.subscribe()
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Interrupted):
            sub.next()                # no timeout: only the signal ends the wait
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert sub.poll() is None         # not left busy
