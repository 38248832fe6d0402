"""Error mapping and every bad-input case: a Python exception with a clear message, and the
pool unchanged afterwards (available_blocks and check_invariants after each case)."""
import pytest

import kvbm
from conftest import chain, fill


def test_backend_names_follow_the_library():
    assert kvbm.BACKENDS == ("lineage", "lineage-fifo", "lru", "multi-lru", "hashmap")
    assert kvbm.Manager(2, backend="lineage_fifo").backend == "lineage-fifo"  # alias
    with pytest.raises(kvbm.InvalidArgumentError) as ei:
        kvbm.Manager(2, backend="LRU")
    assert "lru" in ei.value.detail  # the C message lists the valid names


def test_every_status_has_a_class():
    codes = {cls.__name__: code for code, cls in kvbm.STATUS_ERRORS.items()}
    assert len(kvbm.STATUS_ERRORS) == 27 and min(kvbm.STATUS_ERRORS) == -27
    for code, cls in kvbm.STATUS_ERRORS.items():
        assert issubclass(cls, kvbm.Error) and kvbm.error_for_status(code) is cls
        assert kvbm.strerror(code)
    assert codes["ExhaustedError"] == -5
    assert issubclass(kvbm.InvalidArgumentError, ValueError)
    assert issubclass(kvbm.ReleasedError, kvbm.InvalidArgumentError)
    assert issubclass(kvbm.OutOfMemoryError, MemoryError)
    assert kvbm.error_for_status(-999) is kvbm.Error


def test_error_carries_status_and_c_detail():
    with pytest.raises(kvbm.ConfigError) as ei:
        kvbm.Manager(8, block_size=3)
    e = ei.value
    assert e.status == -9 and e.status_name == "KVBM_ECONFIG"
    assert e.detail == "Builder validation failed: block_size must be a power of 2, got 3"
    assert "power of 2" in str(e)
    # the C detail of one failure never leaks into the next
    with pytest.raises(kvbm.ExhaustedError) as ei2:
        kvbm.Manager(2).allocate(3)
    assert "power of 2" not in str(ei2.value)


@pytest.mark.parametrize("kwargs, exc", [
    (dict(block_count=0), kvbm.ConfigError),
    (dict(block_count=-1), kvbm.ConfigError),
    (dict(block_count=2**40), kvbm.ConfigError),
    (dict(block_count="8"), TypeError),
    (dict(block_count=8, block_size=2048), kvbm.ConfigError),
    (dict(block_count=8, block_size=-1), kvbm.InvalidArgumentError),
    (dict(block_count=8, block_size=2**32), kvbm.InvalidArgumentError),
    (dict(block_count=8, tier=-1), kvbm.InvalidArgumentError),
    (dict(block_count=8, backend="nope"), kvbm.InvalidArgumentError),
    (dict(block_count=8, duplication="maybe"), kvbm.InvalidArgumentError),
    (dict(block_count=8, backend="multi-lru", multi_lru_thresholds=(8, 3, 15)), kvbm.ConfigError),
    (dict(block_count=8, backend="multi-lru", multi_lru_thresholds=(1, 2)), TypeError),
    (dict(block_count=8, backend="multi-lru", registry=kvbm.Registry()), kvbm.ConfigError),
    (dict(block_count=8, registry=object()), TypeError),
])
def test_bad_manager_config(kwargs, exc):
    with pytest.raises(exc):
        kvbm.Manager(**kwargs)


BAD_HASHES = [
    (123, TypeError),
    ("abc", TypeError),
    (["x"], TypeError),
    ([2**128], kvbm.InvalidArgumentError),
    ([-1], kvbm.InvalidArgumentError),
    ([3 << 126], kvbm.ProtocolError),
    ([1.5], TypeError),
    (b"0123456789abcdef", TypeError),
    (None, TypeError),
]


@pytest.mark.parametrize("value, exc", BAD_HASHES)
def test_bad_hashes(mgr, value, exc):
    seq = chain(2)
    fill(mgr, seq).release()
    for call in (mgr.match_blocks, mgr.scan_matches):
        with pytest.raises(exc):
            call(value)
        assert mgr.available_blocks == 16 and mgr.inactive_blocks == 2
    mgr.check_invariants()


def test_bad_hash_buffers(mgr):
    np = pytest.importorskip("numpy")
    import array
    for buf in (np.zeros((2, 2), dtype=np.float64), np.zeros(3, dtype=np.uint64),
                np.zeros((2, 2), dtype=np.uint32), array.array("I", [1, 2, 3, 4]),
                np.zeros((4, 4), dtype=np.uint64)[:, ::2]):
        with pytest.raises((kvbm.InvalidArgumentError, ValueError, BufferError, TypeError)):
            mgr.match_blocks(buf)
        assert mgr.available_blocks == 16


@pytest.mark.parametrize("n, exc", [(-1, kvbm.InvalidArgumentError), (17, kvbm.ExhaustedError),
                                    (10**30, kvbm.ExhaustedError), ("3", TypeError),
                                    (3.0, TypeError), (None, TypeError)])
def test_bad_allocate(mgr, n, exc):
    held = mgr.allocate(4)
    with pytest.raises(exc):
        mgr.allocate(n)
    assert mgr.available_blocks == 12
    held.release()


def test_allocate_zero_and_exhaustion_takes_nothing(mgr):
    with mgr.allocate(0) as none:
        assert len(none) == 0
    held = mgr.allocate(10)
    with pytest.raises(kvbm.ExhaustedError):
        mgr.allocate(7)
    rest = mgr.allocate(6)
    with pytest.raises(kvbm.ExhaustedError):
        mgr.allocate_block()
    rest.release()
    assert mgr.available_blocks == 6
    held.release()


def test_double_release_and_use_after_release(mgr):
    seq = chain(2)
    blocks = mgr.allocate(2)
    view = blocks[0]
    blocks.release()
    assert mgr.available_blocks == 16
    with pytest.raises(kvbm.ReleasedError):
        blocks.release()
    with pytest.raises(kvbm.ReleasedError):
        view.release()
    with pytest.raises(kvbm.ReleasedError):
        view.block_id
    with pytest.raises(kvbm.ReleasedError):
        blocks.complete(seq)
    with pytest.raises(kvbm.ReleasedError):
        blocks.block_ids
    imm = fill(mgr, seq)
    one = imm[1]
    one.release()
    with pytest.raises(kvbm.ReleasedError):
        one.release()
    with pytest.raises(kvbm.ReleasedError):
        one.clone()
    with pytest.raises(kvbm.ReleasedError):
        imm.hashes
    imm.release()  # releases what is left (block 0)
    assert mgr.available_blocks == 16
    cb = mgr.allocate(1)[0].complete(seq.blocks[0])
    ib = mgr.register(cb)
    with pytest.raises(kvbm.ReleasedError):
        mgr.register(cb)
    with pytest.raises(kvbm.ReleasedError):
        cb.reset()
    ib.release()
    assert mgr.available_blocks == 16


def test_register_a_list_with_a_released_entry(mgr):
    seq = chain(3)
    comp = mgr.allocate(3).complete(seq)
    comp[2].release()
    with pytest.raises(kvbm.ReleasedError, match="block 2"):
        mgr.register(comp)  # entries 0 and 1 are put back
    assert mgr.available_blocks == 14 and not comp.released
    comp[0].release()
    with pytest.raises(kvbm.ReleasedError, match="block 0"):
        mgr.register(comp)
    comp.release()
    assert mgr.available_blocks == 16


def test_consumed_list_and_views(mgr):
    seq = chain(2)
    mut = mgr.allocate(2)
    v = mut[1]
    comp = mut.complete(seq)
    with pytest.raises(kvbm.ReleasedError):
        v.stage(seq.hashes[1])
    imm = mgr.register(comp)
    with pytest.raises(kvbm.ReleasedError):
        mgr.register(comp)
    with pytest.raises(kvbm.ReleasedError):
        comp.release()
    imm.release()


def test_blocks_of_another_manager_are_rejected(mgr):
    other = kvbm.Manager(4, block_size=4)
    seq = chain(2)
    foreign = other.allocate(2).complete(seq)
    with pytest.raises(kvbm.InvalidArgumentError, match="another manager"):
        mgr.register(foreign)
    with pytest.raises(kvbm.InvalidArgumentError, match="another manager"):
        mgr.register([foreign[0]])
    with pytest.raises(kvbm.InvalidArgumentError, match="another manager"):
        mgr.register(foreign[0])
    with pytest.raises(kvbm.InvalidArgumentError, match="another manager"):
        mgr.release_many(foreign)
    with pytest.raises(kvbm.InvalidArgumentError, match="another manager"):
        mgr.release_many([foreign[1]])
    assert other.available_blocks == 2 and mgr.available_blocks == 16
    imm = other.register(foreign)  # untouched by the failed calls
    imm.release()
    assert other.available_blocks == 4
    other.check_invariants()


def test_register_rejects_wrong_kinds_and_repeats(mgr):
    seq = chain(2)
    mut = mgr.allocate(2)
    with pytest.raises(TypeError):
        mgr.register(mut)
    with pytest.raises(TypeError):
        mgr.register([mut[0]])
    with pytest.raises(TypeError):
        mgr.register("blocks")
    comp = mut.complete(seq)
    c0 = comp[0]
    with pytest.raises(kvbm.ReleasedError):
        mgr.register([c0, c0])  # the same handle twice: nothing consumed
    assert not comp.released and comp[0].block_id == c0.block_id
    with pytest.raises(kvbm.InvalidArgumentError):
        mgr.release_many([c0, c0])
    mgr.register(comp).release()
    assert mgr.available_blocks == 16


def test_stage_and_complete_size_mismatch(mgr):
    seq8 = kvbm.TokenBlockSequence(list(range(16)), block_size=8)
    seq4 = chain(2)
    mut = mgr.allocate(2)
    with pytest.raises(kvbm.SizeMismatchError) as ei:
        mut.complete(seq8)
    assert ei.value.detail == "Block size mismatch: expected 4 tokens, got 8"
    with pytest.raises(kvbm.SizeMismatchError):
        mut[0].complete(seq8.blocks[0])
    with pytest.raises(kvbm.SizeMismatchError):
        mut[0].stage(seq4.hashes[0], block_size=8)
    with pytest.raises(kvbm.SizeMismatchError):
        mut.stage(seq4.hashes, block_size=16)
    with pytest.raises(kvbm.InvalidArgumentError):
        mut.stage(seq4.hashes[:1])
    with pytest.raises(kvbm.InsufficientError):
        mut.complete(seq4, start=1)
    with pytest.raises(kvbm.InvalidArgumentError):
        mut.complete(seq4, start=-1)
    with pytest.raises(TypeError):
        mut.complete([1, 2])
    with pytest.raises(TypeError):
        mut[0].complete("tokens")
    assert mgr.available_blocks == 14 and not mut.released
    comp = mut.complete(seq4)
    comp.release()
    assert mgr.available_blocks == 16


def test_bad_tokens():
    for toks, exc in (([-1], kvbm.InvalidArgumentError), ([2**32], kvbm.InvalidArgumentError),
                      (["a"], TypeError), (5, TypeError), ("abcd", TypeError)):
        with pytest.raises(exc):
            kvbm.TokenBlockSequence(toks, block_size=4)
        with pytest.raises(exc):
            kvbm.Hashes.from_tokens(toks, 4)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.TokenBlockSequence([1, 2, 3], block_size=3)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.Hashes.from_tokens([1, 2, 3, 4], 0)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.TokenBlock([1, 2, 3])
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.TokenBlockSequence([1], salt=-1)
    with pytest.raises(kvbm.ProtocolError):
        kvbm.plh_from_hex("zz")


def test_registry_bad_input():
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.Registry(tracker="huge")
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.Registry(tracker=0)
    with pytest.raises(TypeError):
        kvbm.Registry(tracker=1.5)
    reg = kvbm.Registry()
    with pytest.raises(TypeError):
        reg.is_registered("x")
    with pytest.raises(TypeError):
        "x" in reg
