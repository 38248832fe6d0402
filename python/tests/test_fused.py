"""The fused batch forms: BlockList.stage(hashes, start=k) and Manager.register(blocks,
hashes, start) (session 10), Manager.allocate_and_register(hashes, start) (session 11) give
the same blocks as the unfused calls, consume their input only on success, and leave it
usable and the pool whole on every error."""
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
    _check_cached_after_release(m, m.register(a, h, 50), h, 50)


def _check_cached_after_release(m, done, h, start):
    """done holds blocks for h[start:]; released, they are all found again; pool whole."""
    assert done.hashes.tolist() == h.tolist()[start:]
    done.release()
    hit = m.match_blocks(h[start:])
    assert len(hit) == len(h) - start
    hit.release()
    assert m.available_blocks == m.total_blocks
    m.check_invariants()


def test_allocate_and_register_is_allocate_then_register(mgr):
    h = chain(6).hashes
    done = mgr.allocate_and_register(h, 2)
    assert done.kind == "immutable" and len(done) == 4
    assert done.hashes.tolist() == h.tolist()[2:]
    assert mgr.available_blocks == mgr.total_blocks - 4
    ids = done.block_ids.tolist()
    done.release()
    hit = mgr.match_blocks(h[2:])
    assert hit.block_ids.tolist() == ids   # cached under those hashes
    hit.release()
    # the same as the unfused calls on a twin manager
    twin = kvbm.Manager(16, block_size=4)
    ref = twin.register(twin.allocate(4), h, 2)
    assert ref.hashes.tolist() == h.tolist()[2:] and ref.block_ids.tolist() == ids
    ref.release()
    # keywords, start 0 by default, start == len(hashes) allocates nothing
    d2 = mgr.allocate_and_register(hashes=h[:2])
    assert d2.hashes.tolist() == h.tolist()[:2]
    d2.release()
    d3 = mgr.allocate_and_register(h, start=6)
    assert len(mgr.allocate_and_register(h[:0], None)) == 0          # None: 0 without prefix
    assert len(d3) == 0 and d3.kind == "immutable"
    d3.release()
    # hashes as a list of ints and as a uint64 buffer
    d4 = mgr.allocate_and_register(h.tolist(), 4)
    assert d4.hashes.tolist() == h.tolist()[4:]
    d4.release()
    d5 = mgr.allocate_and_register(memoryview(h), 5)
    assert d5.hashes.tolist() == h.tolist()[5:]
    d5.release()


def test_allocate_and_register_exhausted_takes_nothing(mgr):
    h = chain(20).hashes
    with pytest.raises(kvbm.ExhaustedError, match="pool of 16"):
        mgr.allocate_and_register(h)                 # more than the pool
    assert mgr.available_blocks == mgr.total_blocks
    held = mgr.allocate(10)
    with pytest.raises(kvbm.ExhaustedError):
        mgr.allocate_and_register(h, 10)             # 10 wanted, 6 available
    assert mgr.available_blocks == 6 and not held.released
    done = mgr.allocate_and_register(h, 14)
    assert len(done) == 6 and mgr.available_blocks == 0
    done.release()
    held.release()
    assert mgr.available_blocks == mgr.total_blocks


def test_allocate_and_register_evicts_cached_blocks(mgr):
    old = chain(16, base=1000).hashes
    mgr.allocate_and_register(old).release()         # the whole pool cached
    assert mgr.inactive_blocks == 16
    h = chain(5).hashes
    done = mgr.allocate_and_register(h)
    assert mgr.inactive_blocks == 11 and len(done) == 5
    done.release()
    assert len(mgr.scan_matches(old)) == 11          # 5 evicted


def test_allocate_and_register_bad_input_changes_nothing(mgr):
    h = chain(4).hashes
    cases = [
        (lambda: mgr.allocate_and_register(h, 5), kvbm.InvalidArgumentError),
        (lambda: mgr.allocate_and_register(h, -1), kvbm.InvalidArgumentError),
        (lambda: mgr.allocate_and_register(h, "1"), TypeError),
        (lambda: mgr.allocate_and_register(h, 1.0), TypeError),
        (lambda: mgr.allocate_and_register(h, 1 << 70), OverflowError),
        (lambda: mgr.allocate_and_register([1 << 130] * 3),
         (kvbm.Error, OverflowError, ValueError)),
        (lambda: mgr.allocate_and_register([3 << 126] * 2), kvbm.ProtocolError),  # no PLH
        (lambda: mgr.allocate_and_register("abc"), (TypeError, kvbm.Error)),
        (lambda: mgr.allocate_and_register(), TypeError),
        (lambda: mgr.allocate_and_register(h, 1, 2), TypeError),          # prefix not blocks
        (lambda: mgr.allocate_and_register(h, 1, None, 3), TypeError),
        (lambda: mgr.allocate_and_register(h, start=1, x=2), TypeError),
        (lambda: mgr.allocate_and_register(h, 1, start=1), TypeError),
    ]
    for call, exc in cases:
        with pytest.raises(exc):
            call()
        assert mgr.available_blocks == mgr.total_blocks
        assert mgr.inactive_blocks == 0


def test_allocate_and_register_reject_duplicates():
    m = kvbm.Manager(8, block_size=4, duplication="reject")
    h = chain(3).hashes
    first = m.allocate_and_register(h)
    again = m.allocate_and_register(h)
    assert again.block_ids.tolist() == first.block_ids.tolist()   # the existing blocks
    assert m.available_blocks == 5                                # the new ones went back
    again.release()
    first.release()
    assert m.available_blocks == 8
    m.check_invariants()


def test_allocate_and_register_large_batches_release_the_gil():
    m = kvbm.Manager(256, block_size=4)
    h = chain(200).hashes
    done = m.allocate_and_register(h, 30)   # 170 blocks: heap buffers, GIL released
    _check_cached_after_release(m, done, h, 30)


def _cache(mgr, h):
    mgr.allocate_and_register(h).release()
    return mgr.match_blocks(h)


def test_allocate_and_register_with_prefix_returns_the_block_table():
    m = kvbm.Manager(16, block_size=4, backend="lru")
    h = chain(6).hashes
    hit = _cache(m, h[:2])
    hit_ids = hit.block_ids.tolist()
    table = m.allocate_and_register(h, 2, hit)
    assert hit.released and len(hit) == 2        # consumed as a whole
    with pytest.raises(kvbm.ReleasedError):
        hit.release()
    assert table.kind == "immutable" and len(table) == 6
    assert table.hashes.tolist() == h.tolist()
    assert table.block_ids.tolist()[:2] == hit_ids
    assert m.available_blocks == 10
    table.release()
    assert m.available_blocks == 16 and m.inactive_blocks == 6
    # start defaults to len(prefix); an empty prefix is consumed too
    hit = m.match_blocks(h[:3])
    t2 = m.allocate_and_register(h, None, prefix=hit)
    assert t2.hashes.tolist() == h.tolist() and len(t2) == 6
    t2.release()
    empty = m.match_blocks(chain(2, base=500).hashes)
    t3 = m.allocate_and_register(chain(2, base=500).hashes, 0, empty)
    assert empty.released and len(t3) == 2
    t3.release()
    # a list of ImmutableBlock objects works as a prefix
    hit = m.match_blocks(h[:2])
    blocks = [hit[0], hit[1]]
    t4 = m.allocate_and_register(h[:4], 2, blocks)
    assert t4.hashes.tolist() == h.tolist()[:4]
    with pytest.raises(kvbm.ReleasedError):
        blocks[0].release()
    t4.release()
    del hit, blocks
    assert m.available_blocks == 16
    m.check_invariants()


def test_allocate_and_register_with_prefix_releases_in_request_order():
    """One release() of the table = the new blocks tail first, then the prefix tail first:
    the same eviction order as releasing the two lists one after the other."""
    h = chain(8).hashes
    order = []
    for fused in (False, True):
        m = kvbm.Manager(8, block_size=4, backend="lru")
        hit = _cache(m, h[:3])
        if fused:
            m.allocate_and_register(h, 3, hit).release()
        else:
            new = m.allocate_and_register(h, 3)
            new.release()
            hit.release()
        _, evicted = m.allocate_with_evictions(8)
        order.append(evicted.tolist())
        m.check_invariants()
    assert order[0] == order[1] and len(order[0]) == 8


def test_allocate_and_register_errors_leave_the_prefix():
    m = kvbm.Manager(8, block_size=4)
    other = kvbm.Manager(8, block_size=4)
    h = chain(12).hashes
    hit = _cache(m, h[:2])
    ids = hit.block_ids.tolist()
    mut = m.allocate(1)
    foreign = _cache(other, h[:2])
    cases = [
        (lambda: m.allocate_and_register(h, 2, hit), kvbm.ExhaustedError),   # 10 > the pool
        (lambda: m.allocate_and_register(h[:8], 2, hit), kvbm.ExhaustedError),  # 6 > 5 free
        (lambda: m.allocate_and_register(h[:4], 5, hit), kvbm.InvalidArgumentError),
        (lambda: m.allocate_and_register(h[:4], 1, hit), kvbm.InvalidArgumentError),  # != 2
        (lambda: m.allocate_and_register(h[:4], 3, hit), kvbm.InvalidArgumentError),
        (lambda: m.allocate_and_register(h[:1], None, hit), kvbm.InvalidArgumentError),
        (lambda: m.allocate_and_register(h[:4], -1, hit), kvbm.InvalidArgumentError),
        (lambda: m.allocate_and_register(h[:4], 2, mut), TypeError),         # not immutable
        (lambda: m.allocate_and_register(h[:4], 2, foreign), kvbm.InvalidArgumentError),
        (lambda: other.allocate_and_register(h[:4], 2, hit), kvbm.InvalidArgumentError),
        (lambda: m.allocate_and_register(h[:4], 2, [hit[0], "x"]), TypeError),
        (lambda: m.allocate_and_register(h[:4], 2, [hit[0], hit[0]]), kvbm.ReleasedError),
        (lambda: m.allocate_and_register("abc", 2, hit), (TypeError, kvbm.Error)),
    ]
    for call, exc in cases:
        with pytest.raises(exc):
            call()
        assert not hit.released and hit.block_ids.tolist() == ids
        assert m.available_blocks == 5 and m.inactive_blocks == 0
        assert not mut.released and not foreign.released
    released = m.match_blocks(h[:1])
    released.release()
    with pytest.raises(kvbm.ReleasedError):
        m.allocate_and_register(h[:4], 1, released)
    table = m.allocate_and_register(h[:4], 2, hit)
    assert table.block_ids.tolist()[:2] == ids
    table.release()
    mut.release()
    foreign.release()
    assert m.available_blocks == 8 and other.available_blocks == 8
    m.check_invariants()
