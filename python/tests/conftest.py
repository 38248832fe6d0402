"""Shared fixtures for the kvbm Python binding tests.

The package under test is the one on sys.path (scripts/python_tests.sh puts the in-tree
build first). Every helper checks the pool is whole again when a test ends."""
import pytest

import kvbm


def chain(n_blocks, block_size=4, base=0, salt=None):
    """A TokenBlockSequence of n_blocks complete blocks with distinct tokens from base."""
    return kvbm.TokenBlockSequence(list(range(base, base + n_blocks * block_size)),
                                   block_size=block_size, salt=salt)


def fill(mgr, seq):
    """allocate + complete + register the blocks of seq; the ImmutableBlock BlockList."""
    return mgr.register(mgr.allocate(seq.block_count).complete(seq))


@pytest.fixture
def mgr():
    m = kvbm.Manager(16, block_size=4)
    yield m
    assert m.available_blocks == m.total_blocks, "a test leaked blocks"
    m.check_invariants()
