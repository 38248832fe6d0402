"""The fused batch forms (session 10): BlockList.stage(hashes, start=k) and
Manager.register(blocks, hashes, start) give the same blocks as the unfused calls, consume
their input only on success, and leave it usable and the pool whole on every error."""
import pytest

import kvbm

from conftest import chain


def test_stage_start_equals_stage_of_the_slice(mgr):
    h = chain(5).hashes
    a, b = mgr.allocate(3), mgr.allocate(3)
    ca, cb = a.stage(h, start=2), b.stage(h[2:])
    assert a.released and b.released
    assert ca.hashes.tolist() == cb.hashes.tolist() == h.tolist()[2:]
    ca.release()
    cb.release()


@pytest.mark.parametrize("start, exc", [(-1, kvbm.InvalidArgumentError),
                                        (6, kvbm.InvalidArgumentError),
                                        (1, kvbm.InvalidArgumentError),   # 4 hashes, 3 blocks
                                        ("2", TypeError)])
def test_stage_bad_start_leaves_the_list(mgr, start, exc):
    h = chain(5).hashes
    a = mgr.allocate(3)
    with pytest.raises(exc):
        a.stage(h, start=start)
    assert not a.released and a.kind == "mutable" and len(a) == 3
    assert mgr.available_blocks == mgr.total_blocks - 3
    a.stage(h, start=2).release()


def test_register_with_hashes_is_stage_then_register(mgr):
    h = chain(6).hashes
    a = mgr.allocate(4)
    ids = a.block_ids.tolist()
    done = mgr.register(a, h, 2)
    assert a.released and done.kind == "immutable"
    assert done.hashes.tolist() == h.tolist()[2:]
    assert done.block_ids.tolist() == ids
    with pytest.raises(kvbm.ReleasedError):
        mgr.register(a, h, 2)
    done.release()
    hit = mgr.match_blocks(h[2:])
    assert hit.block_ids.tolist() == ids   # cached under those hashes
    hit.release()
    # keywords, start 0 by default, and hashes=None is the plain register()
    b = mgr.allocate(2)
    d2 = mgr.register(blocks=b, hashes=h[:2])
    assert d2.hashes.tolist() == h.tolist()[:2]
    d2.release()
    c = mgr.allocate(1).stage(h[:1])
    d3 = mgr.register(c, hashes=None)
    assert d3.hashes.tolist() == h.tolist()[:1]
    d3.release()
    e = mgr.allocate(0)
    assert len(mgr.register(e, h, 6)) == 0 and e.released


def test_register_with_hashes_bad_input_leaves_everything(mgr):
    h = chain(4).hashes
    other = kvbm.Manager(4, block_size=4)
    a = mgr.allocate(3)
    ids = a.block_ids.tolist()
    cases = [
        (lambda: mgr.register(a, h), kvbm.InvalidArgumentError),         # 4 hashes, 3 blocks
        (lambda: mgr.register(a, h, 2), kvbm.InvalidArgumentError),      # 2 hashes, 3 blocks
        (lambda: mgr.register(a, h, 5), kvbm.InvalidArgumentError),      # start past the end
        (lambda: mgr.register(a, h, -1), kvbm.InvalidArgumentError),
        (lambda: mgr.register(a, [1 << 130] * 3), (kvbm.Error, OverflowError, ValueError)),
        (lambda: mgr.register(a, "abc"), (TypeError, kvbm.Error)),
        (lambda: mgr.register(a, start=1), kvbm.InvalidArgumentError),   # start needs hashes
        (lambda: mgr.register(a, h, 1, 2), TypeError),
        (lambda: mgr.register(a, h, 1, x=2), TypeError),
        (lambda: other.register(a, h, 1), kvbm.InvalidArgumentError),    # another manager
        (lambda: mgr.register(list(a), h, 1), TypeError),                # not a BlockList
    ]
    for call, exc in cases:
        with pytest.raises(exc):
            call()
        assert not a.released and a.kind == "mutable" and len(a) == 3
        assert a.block_ids.tolist() == ids
        assert mgr.available_blocks == mgr.total_blocks - 3
    c = mgr.allocate(3).stage(h, start=1)
    with pytest.raises(TypeError):
        mgr.register(c, h, 1)                                            # not mutable
    assert not c.released and c.kind == "complete"
    c.release()
    done = mgr.register(a, h, 1)
    assert done.hashes.tolist() == h.tolist()[1:]
    done.release()
    assert other.available_blocks == other.total_blocks


def test_register_with_hashes_releases_the_gil_on_large_batches():
    m = kvbm.Manager(256, block_size=4)
    h = chain(200).hashes
    a = m.allocate(150)  # >= the GIL threshold (64 blocks)
    done = m.register(a, h, 50)
    assert done.hashes.tolist() == h.tolist()[50:]
    done.release()
    hit = m.match_blocks(h[50:])
    assert len(hit) == 150
    hit.release()
    assert m.available_blocks == 256
    m.check_invariants()
