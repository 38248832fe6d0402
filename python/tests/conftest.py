"""Shared fixtures for the kvbm Python binding tests.

The package under test is the one on sys.path (scripts/python_tests.sh puts the in-tree
build first). Every helper checks the pool is whole again when a test ends."""
import os
import subprocess
import sys

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


def run_exit_script(tmp_path, template, **fmt):
    """Run template (formatted with the package path and fmt) in a fresh interpreter that
    prints "exiting" and exits with kvbm objects alive; checks a clean exit and returns the
    CompletedProcess."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(kvbm.__file__)))
    script = tmp_path / "exit_script.py"
    script.write_text(template.format(path=pkg, **fmt))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "exiting" in r.stdout
    assert "Traceback" not in r.stderr and "Fatal" not in r.stderr, r.stderr
    return r
