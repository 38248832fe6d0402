"""The binding's fast paths (session 9) keep the documented behaviour: per-block chains of
consuming calls, the size-class caches of BlockList / Hashes / TokenBlock objects, token
lists on the stack buffer and on the heap, Hashes slices."""
import gc
from array import array

import pytest

import kvbm

from conftest import chain


def test_chained_temporaries_give_the_same_blocks(mgr):
    seq = chain(4)
    tbs = seq.blocks
    done = [mgr.allocate_block().complete(tb).register() for tb in tbs]
    assert [type(b) for b in done] == [kvbm.ImmutableBlock] * 4
    assert [b.sequence_hash for b in done] == seq.hashes.tolist()
    assert mgr.available_blocks == mgr.total_blocks - 4
    hit = mgr.match_blocks(seq.hashes)
    assert len(hit) == 4 and hit.block_ids.tolist() == [b.block_id for b in done]
    hit.release()
    for b in reversed(done):
        b.release()
        with pytest.raises(kvbm.ReleasedError):
            b.release()


def test_a_named_block_stays_a_consumed_object(mgr):
    tb = chain(1).blocks[0]
    m = mgr.allocate_block()
    c = m.complete(tb)
    assert c is not m and type(m) is kvbm.MutableBlock and m.released
    with pytest.raises(kvbm.ReleasedError):
        m.complete(tb)
    i = c.register()
    assert i is not c and type(c) is kvbm.CompleteBlock and c.released
    with pytest.raises(kvbm.ReleasedError):
        c.register()
    r = mgr.allocate_block().stage(tb.plh).reset()  # complete -> mutable
    assert type(r) is kvbm.MutableBlock and not r.released
    r.release()
    i.release()


def test_a_failed_consuming_call_leaves_the_temporary_usable(mgr):
    tb8 = kvbm.TokenBlockSequence(list(range(8)), block_size=8).blocks[0]
    with pytest.raises(kvbm.SizeMismatchError):
        mgr.allocate_block().complete(tb8)   # the block returns when the temporary dies
    assert mgr.available_blocks == mgr.total_blocks
    b = mgr.allocate_block()
    with pytest.raises(kvbm.SizeMismatchError):
        b.complete(tb8)
    assert not b.released and type(b) is kvbm.MutableBlock
    b.release()


def test_dropped_chain_results_return_their_blocks(mgr):
    tbs = chain(3).blocks
    for tb in tbs:
        mgr.allocate_block().complete(tb)      # CompleteBlock dropped: reset pool
    mgr.allocate_block().complete(tbs[0]).register()  # ImmutableBlock dropped: cached
    gc.collect()
    assert mgr.available_blocks == mgr.total_blocks
    assert mgr.has_inactive(tbs[0].plh)


def test_consuming_a_view_empties_its_entry_only(mgr):
    tb = chain(1).blocks[0]
    lst = mgr.allocate(2)
    c = lst[0].complete(tb)                    # a view: its list keeps owning entry 1
    assert type(c) is kvbm.CompleteBlock and lst[0].released and not lst[1].released
    c.release()
    lst.release()


def test_cached_lists_and_hashes_of_every_size_class():
    m = kvbm.Manager(1200, block_size=1)
    for rnd in range(3):
        for n in (0, 1, 7, 8, 9, 31, 64, 65, 200, 511, 512, 513, 1100):
            toks = list(range(rnd * 10_000, rnd * 10_000 + n))
            h = kvbm.Hashes.from_tokens(toks, 1)
            assert len(h) == n and h == kvbm.TokenBlockSequence(toks, 1).hashes
            assert len(h[1:]) == max(n - 1, 0) and h[1:].tolist() == h.tolist()[1:]
            miss = m.match_blocks(h)
            assert miss.hashes == h[:len(miss)]        # the prefix registered before
            new = m.allocate(n - len(miss))
            assert len(new) == n - len(miss) and len(new.block_ids) == len(new)
            done = m.register(new.stage(h[len(miss):]))
            assert len(done) == len(new) and done.hashes == h[len(miss):]
            done.release()
            miss.release()
            del h, miss, new, done
    assert m.available_blocks == m.total_blocks
    m.check_invariants()


def test_cached_token_blocks_keep_their_own_tokens():
    for bs in (1, 4, 16, 64, 1024, 4, 1):
        seq = kvbm.TokenBlockSequence(list(range(3 * bs)), block_size=bs)
        blocks = seq.blocks
        assert [b.tokens for b in blocks] == [list(range(i * bs, (i + 1) * bs)) for i in range(3)]
        assert [b.plh for b in blocks] == seq.hashes.tolist()
        del seq, blocks


def test_token_lists_above_the_stack_buffer():
    for n in (1023, 1024, 1025, 5000):
        toks = [(i * 2654435761) % 2**32 for i in range(n)]
        ref = kvbm.Hashes.from_tokens(array("I", toks), 4)
        assert kvbm.Hashes.from_tokens(toks, 4) == ref
        assert kvbm.Hashes.from_tokens(tuple(toks), 4) == ref
        bad = toks[:-1] + ["x"]
        with pytest.raises(TypeError):
            kvbm.Hashes.from_tokens(bad, 4)
        with pytest.raises(kvbm.InvalidArgumentError):
            kvbm.Hashes.from_tokens(toks[:-1] + [2**32], 4)


def test_allocate_block_takes_no_arguments(mgr):
    with pytest.raises(TypeError):
        mgr.allocate_block(1)
    assert mgr.available_blocks == mgr.total_blocks


def test_hashes_slices_match_list_slices():
    h = kvbm.Hashes.from_tokens(list(range(40)), 4)
    ref = h.tolist()
    for sl in (slice(3, None), slice(None, None, 2), slice(8, 2, -1), slice(-3, None),
               slice(5, 5), slice(0, None, 3), slice(None, None, -1), slice(100, None)):
        part = h[sl]
        assert type(part) is kvbm.Hashes and part.tolist() == ref[sl]
