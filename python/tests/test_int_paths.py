"""The int fast paths (token lists, 128-bit PLH values) agree with the generic paths."""
import random
from array import array

import pytest

import kvbm


def test_plh_round_trip_across_digit_counts():
    rnd = random.Random(7)
    seq = kvbm.TokenBlockSequence([rnd.randrange(2**32) for _ in range(64)], block_size=4)
    values = seq.hashes.tolist()
    # a PLH with few significant digits: position 0, root, small current hash
    values += [kvbm.plh_new(v, None, 0) for v in (0, 1, 2**30 - 1, 2**30, 2**60 + 5, 2**64 - 1)]
    for v in values:
        assert kvbm.plh_from_hex(kvbm.plh_to_hex(v)) == v     # int -> C -> int
        assert int(kvbm.plh_to_hex(v), 16) == v
    h = kvbm.Hashes(values)
    assert h.tolist() == values and list(h) == values


def test_plh_rejects_out_of_range_ints():
    for bad in (-1, 2**128, 2**150 + 3, -(2**100)):
        with pytest.raises(kvbm.InvalidArgumentError):
            kvbm.plh_position(bad)
    with pytest.raises(TypeError):
        kvbm.plh_position(1.0)
    class Sub(int):
        pass
    v = kvbm.TokenBlockSequence([1, 2, 3, 4], 4).hashes[0]
    assert kvbm.plh_position(Sub(v)) == 0                       # int subclasses: generic path


def test_token_lists_fast_and_generic_agree():
    rnd = random.Random(3)
    toks = [rnd.randrange(2**32) for _ in range(400)] + [0, 1, 2**30 - 1, 2**30, 2**32 - 1]
    toks += [True, False]                                       # bool: an int subclass
    ref = kvbm.Hashes.from_tokens(array("I", [int(t) for t in toks]), 4)
    assert kvbm.Hashes.from_tokens(toks, 4).tolist() == ref.tolist()
    assert kvbm.Hashes.from_tokens(tuple(toks), 4).tolist() == ref.tolist()
    for bad in ([1, 2, -1, 3], [1, 2**32], [0, 1, 2**70]):
        with pytest.raises(kvbm.InvalidArgumentError):
            kvbm.Hashes.from_tokens(bad, 1)
    with pytest.raises(TypeError):
        kvbm.Hashes.from_tokens([1, 2, 3.0, 4], 4)


def test_freed_block_objects_are_reused_safely(mgr):
    for _ in range(300):                                        # more than the freelist holds
        blocks = [mgr.allocate_block() for _ in range(8)]
        views = list(mgr.allocate(4))
        assert type(blocks[0]) is kvbm.MutableBlock and not blocks[0].released
        for v in views:
            v.release()
        del blocks, views
    assert mgr.available_blocks == mgr.total_blocks
