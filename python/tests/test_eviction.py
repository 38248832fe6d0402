"""Eviction order per backend, seen through allocate_with_evictions()."""
import pytest

import kvbm
from conftest import chain, fill

# A 4-block chain released head first (forward): Lineage evicts the leaf (the tail), the
# recency/FIFO backends the oldest release (the head, leaving orphans).
FORWARD = {"lineage": [3, 2], "lineage-fifo": [3, 2], "lru": [0, 1], "hashmap": [0, 1],
           "multi-lru": [0, 1]}


def positions(seq, evicted):
    order = seq.hashes.tolist()
    return [order.index(h) for h in evicted]


@pytest.mark.parametrize("backend", kvbm.BACKENDS)
def test_forward_release_order(backend):
    m = kvbm.Manager(4, block_size=4, backend=backend)
    seq = chain(4)
    imm = fill(m, seq)
    for i in range(4):
        imm[i].release()
    blocks, evicted = m.allocate_with_evictions(2)
    assert positions(seq, evicted) == FORWARD[backend]
    assert m.metrics()["evictions"] == 2
    blocks.release()
    m.check_invariants()


@pytest.mark.parametrize("backend", kvbm.BACKENDS)
def test_tail_first_release_evicts_the_tail_everywhere(backend):
    m = kvbm.Manager(4, block_size=4, backend=backend)
    seq = chain(4)
    fill(m, seq).release()  # BlockList.release() is tail first
    blocks, evicted = m.allocate_with_evictions(4)
    assert positions(seq, evicted) == [3, 2, 1, 0]
    blocks.release()


def test_multi_lru_keeps_frequent_blocks():
    m = kvbm.Manager(4, block_size=4, backend="multi-lru")
    a, b = chain(1, base=0), chain(1, base=100)
    fill(m, a).release()
    fill(m, b).release()
    for _ in range(6):  # a becomes hot through repeated matches
        m.match_blocks(a.hashes).release()
    held = m.allocate(2)  # takes the two reset blocks
    blocks, evicted = m.allocate_with_evictions(1)
    assert evicted.tolist() == [b.hashes[0]]
    blocks.release()
    held.release()


def test_evicted_hashes_are_gone_and_matches_refresh():
    m = kvbm.Manager(3, block_size=4, backend="lru")
    s1, s2, s3 = chain(1, base=0), chain(1, base=10), chain(1, base=20)
    for s in (s1, s2, s3):
        fill(m, s).release()
    m.match_blocks(s1.hashes).release()  # s1 becomes the most recent
    blocks, evicted = m.allocate_with_evictions(1)
    assert evicted.tolist() == [s2.hashes[0]]
    assert len(m.match_blocks(s2.hashes)) == 0
    blocks.release()
