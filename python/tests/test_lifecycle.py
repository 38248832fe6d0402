"""Manager scenarios a Python user relies on: lifecycle, prefix match, duplicates, weak
upgrade, pins, reset, metrics, hashes and token sequences."""
import array

import pytest

import kvbm
from conftest import chain, fill


def test_allocate_complete_register_release_cycle(mgr):
    seq = chain(3)
    blocks = mgr.allocate(3)
    assert isinstance(blocks, kvbm.BlockList) and blocks.kind == "mutable"
    assert len(blocks) == 3 and mgr.available_blocks == 13
    assert isinstance(blocks[0], kvbm.MutableBlock)
    assert blocks.block_ids == array.array("I", [0, 1, 2])
    complete = blocks.complete(seq)
    assert blocks.released and complete.kind == "complete"
    assert complete.hashes == seq.hashes
    imm = mgr.register(complete)
    assert imm.kind == "immutable" and [b.sequence_hash for b in imm] == seq.hashes.tolist()
    assert mgr.metrics()["inflight_immutable"] == 3
    imm.release()
    assert mgr.available_blocks == 16 and mgr.inactive_blocks == 3
    assert all(mgr.has_inactive(h) for h in seq.hashes)


def test_blocklist_is_a_sequence(mgr):
    import collections.abc
    with mgr.allocate(3) as blocks:
        assert isinstance(blocks, collections.abc.Sequence)
        assert [b.block_id for b in blocks] == list(blocks.block_ids)
        assert blocks[-1].block_id == blocks[2].block_id
        with pytest.raises(IndexError):
            blocks[3]
    assert isinstance(kvbm.Hashes(), collections.abc.Sequence)


def test_per_block_calls(mgr):
    seq = chain(2)
    with mgr.allocate(1) as one:
        blk = one[0]
        cb = blk.complete(seq.blocks[0])
        assert isinstance(cb, kvbm.CompleteBlock) and blk.released
    assert cb.sequence_hash == seq.hashes[0] and cb.block_size == 4
    ib = cb.register()
    assert isinstance(ib, kvbm.ImmutableBlock) and cb.released
    mb = mgr.allocate(1)[0]  # a view keeps its BlockList (and the block) alive
    assert mgr.available_blocks == 14
    mb.release()
    with pytest.raises(kvbm.ReleasedError):
        mb.block_id
    assert mgr.available_blocks == 15
    mut = mgr.allocate(1)
    staged = mut[0].stage(seq.hashes[1])
    assert staged.sequence_hash == seq.hashes[1]
    with mgr.allocate_block() as single:
        assert isinstance(single, kvbm.MutableBlock) and mgr.available_blocks == 13
    again = staged.reset()
    assert isinstance(again, kvbm.MutableBlock)
    again.release()
    ib.release()


def test_prefix_match_stops_at_first_miss(mgr):
    seq = chain(4)
    fill(mgr, seq).release()
    other = chain(4, base=1000)
    probe = kvbm.Hashes(seq.hashes.tolist()[:2] + other.hashes.tolist()[2:])
    with mgr.match_blocks(probe) as hit:
        assert len(hit) == 2 and hit.hashes == seq.hashes[:2]
        assert mgr.inactive_blocks == 2  # resurrected blocks are active again
    with mgr.match_blocks(other.hashes) as miss:
        assert len(miss) == 0
    with mgr.match_blocks(seq.hashes) as full:
        assert len(full) == 4
    m = mgr.metrics()
    assert m["match_hashes_requested"] == 12 and m["match_blocks_returned"] == 6


def test_scan_matches_skips_misses(mgr):
    seq = chain(4)
    imm = fill(mgr, seq)
    imm[1].release()
    imm[3].release()
    probe = kvbm.Hashes([seq.hashes[3], 12345 << 64 >> 64, seq.hashes[0]])
    with mgr.scan_matches(probe) as found:
        assert found.hashes.tolist() == [seq.hashes[3], seq.hashes[0]]
    imm.release()


def test_match_accepts_lists_and_numpy(mgr):
    np = pytest.importorskip("numpy")
    seq = chain(3)
    fill(mgr, seq).release()
    hashes = seq.hashes  # a new Hashes per property read
    view = np.asarray(hashes)
    assert view.shape == (3, 2) and view.dtype == np.uint64
    assert not view.flags.writeable
    assert np.shares_memory(view, np.asarray(hashes))  # both views of one buffer
    with mgr.match_blocks(view) as a, mgr.match_blocks(seq.hashes.tolist()) as b:
        assert len(a) == 3 and len(b) == 3
    copied = np.array(view)
    copied[1, 1] = copied[1, 1] ^ np.uint64(1)
    with mgr.match_blocks(copied) as c:
        assert len(c) == 1


def test_hashes_buffer_is_zero_copy():
    np = pytest.importorskip("numpy")
    h = kvbm.Hashes.from_tokens(list(range(64)), 16)
    v = np.asarray(h)
    assert v.base is not None
    mv = memoryview(h)
    assert mv.shape == (4, 2) and mv.format == "Q" and mv.readonly
    assert (int(v[2, 0]) << 64) | int(v[2, 1]) == h[2]
    assert kvbm.Hashes(v) == h and kvbm.Hashes(list(h)) == h and h[1:3] == kvbm.Hashes(h.tolist()[1:3])


def test_hashes_match_token_sequence_and_parent():
    toks = list(range(40))
    seq = kvbm.TokenBlockSequence(toks, block_size=8, salt=7)
    assert kvbm.Hashes.from_tokens(toks, 8, salt=7) == seq.hashes
    tail = kvbm.Hashes.from_tokens(toks[16:], 8, salt=7, parent=seq.hashes[1])
    assert tail == seq.hashes[2:]
    assert kvbm.Hashes.from_tokens(array.array("I", toks), 8, 7) == seq.hashes
    b0 = kvbm.TokenBlock(toks[:8], salt=7)
    b1 = kvbm.TokenBlock(toks[8:16], salt=7, parent=b0)
    assert [b0.plh, b1.plh] == seq.hashes.tolist()[:2] and b1.position == 1
    assert kvbm.plh_position(seq.hashes[4]) == 4
    assert kvbm.plh_from_hex(kvbm.plh_to_hex(seq.hashes[3])) == seq.hashes[3]


def test_token_sequence_edits():
    s = kvbm.TokenBlockSequence(block_size=4)
    assert s.extend(range(10)) == (0, 2)
    assert s.partial_tokens == [8, 9] and len(s) == 10
    assert s.append(10) is None and s.append(11) == 2
    s.unwind(5)
    assert s.block_count == 1 and s.pop() == 6
    with pytest.raises(kvbm.InsufficientError):
        s.unwind(100)
    s.truncate(2)
    assert s.tokens == [0, 1]
    s.reset()
    with pytest.raises(kvbm.EmptyError):
        s.pop()


@pytest.mark.parametrize("policy", ["allow", "reject"])
def test_duplicates(policy):
    m = kvbm.Manager(8, block_size=4, duplication=policy)
    seq = chain(1)
    first = fill(m, seq)
    second = fill(m, seq)
    met = m.metrics()
    if policy == "allow":
        assert second[0].is_duplicate and second.block_ids != first.block_ids
        assert met["duplicate_blocks"] == 1
    else:
        assert second.block_ids == first.block_ids and met["registration_dedup"] == 1
        assert first[0].use_count == 2
    second.release()
    first.release()
    assert m.available_blocks == 8 and m.inactive_blocks == 1
    m.check_invariants()


def test_weak_upgrade_and_eviction():
    m = kvbm.Manager(2, block_size=4)
    seq = chain(1)
    imm = fill(m, seq)
    weak = imm[0].downgrade()
    bid = imm[0].block_id
    imm.release()
    up = weak.upgrade()
    assert up is not None and up.block_id == bid and m.inactive_blocks == 0
    up.release()
    m.allocate(2).release()  # evicts the cached block
    assert weak.upgrade() is None
    w2 = weak.clone()
    weak.release()
    with pytest.raises(kvbm.ReleasedError):
        weak.upgrade()
    w2.release()


def test_pin_keeps_block_out_of_the_cache():
    m = kvbm.Manager(4, block_size=4)
    seq = chain(1)
    imm = fill(m, seq)
    pin = imm[0].pin()
    assert pin.block_id == imm[0].block_id and pin.sequence_hash == seq.hashes[0]
    imm.release()
    assert m.inactive_blocks == 0 and m.available_blocks == 3
    with pin.clone() as p2:
        assert p2.use_count >= 1
    pin.release()
    assert m.inactive_blocks == 1 and m.available_blocks == 4


def test_reset_inactive_pool():
    m = kvbm.Manager(8, block_size=4)
    fill(m, chain(3)).release()
    assert m.inactive_blocks == 3
    m.reset_inactive_pool()
    assert m.reset_blocks == 8 and m.inactive_blocks == 0
    held = m.allocate(1)
    with pytest.raises(kvbm.ResetMismatchError):
        m.reset_inactive_pool()
    held.release()


def test_reset_on_release_and_evict_on_reset():
    m = kvbm.Manager(4, block_size=4, reset_on_release=True)
    fill(m, chain(2)).release()
    assert m.inactive_blocks == 0 and m.reset_blocks == 4
    m2 = kvbm.Manager(4, block_size=4)
    imm = fill(m2, chain(2))
    imm[0].set_evict_on_reset(True)
    imm.release()
    assert m2.inactive_blocks == 1


def test_shared_registry_presence_across_tiers():
    reg = kvbm.Registry(tracker="small")
    g1 = kvbm.Manager(4, block_size=4, registry=reg, tier=0)
    g2 = kvbm.Manager(4, block_size=4, registry=reg, tier=1, backend="multi-lru")
    seq = chain(2)
    a = fill(g1, seq)
    assert reg.check_presence(seq.hashes, tier=0) == [True, True]
    assert reg.check_presence(seq.hashes, tier=1) == [False, False]
    assert seq.hashes[0] in reg and len(reg) == 2 and reg.has_frequency_tracking
    assert reg.frequency(seq.hashes[0]) >= 1
    b = fill(g2, seq)
    assert reg.check_presence(seq.hashes, tier=1) == [True, True]
    a.release()
    b.release()
    assert g2.registry is reg and g1.tier == 0 and g2.backend == "multi-lru"


def test_metrics_and_prometheus(mgr):
    fill(mgr, chain(2)).release()
    met = mgr.metrics()
    assert set(met) == set(kvbm.METRIC_NAMES)
    assert met["allocations"] == 2 and met["registrations"] == 2 and met["inactive_pool_size"] == 2
    text = mgr.prometheus_text()
    assert 'kvbm_allocations_total{pool="G1"} 2' in text
    assert "# TYPE kvbm_inactive_pool_size gauge" in text
    labelled = kvbm.Manager(2, metrics_label='we"ird')
    assert 'pool="we\\"ird"' in labelled.prometheus_text()


def test_repr_and_help_are_useful(mgr):
    assert "Manager(" in repr(mgr) and "block_count" in kvbm.Manager.__doc__
    with mgr.allocate(1) as b:
        assert "MutableBlock" in repr(b[0]) and "BlockList" in repr(b)
    for cls in (kvbm.Manager, kvbm.BlockList, kvbm.MutableBlock, kvbm.CompleteBlock,
                kvbm.ImmutableBlock, kvbm.WeakBlock, kvbm.Pin, kvbm.Registry, kvbm.Hashes,
                kvbm.TokenBlock, kvbm.TokenBlockSequence):
        assert cls.__doc__
        for name in dir(cls):
            if not name.startswith("_"):
                assert getattr(cls, name).__doc__, f"{cls.__name__}.{name} lacks a docstring"
