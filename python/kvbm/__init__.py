"""kvbm - logical KV-cache block manager (Python binding of the kvbm C library).

A :class:`Manager` owns a pool of KV-cache blocks and moves them through their lifecycle::

    allocate -> MutableBlock -> complete/stage -> CompleteBlock -> register
             -> ImmutableBlock -> release -> cached (inactive) -> evicted on demand

Batch calls take and return :class:`BlockList` and :class:`Hashes` objects and create no
Python object per block. Every handle has a deterministic ``release()`` and works as a
context manager; a handle dropped without release still returns its block when it is
garbage collected. Errors are :class:`Error` subclasses mirroring the C status codes.

Example::

    import kvbm
    mgr = kvbm.Manager(1024, block_size=16)
    seq = kvbm.TokenBlockSequence(list(range(64)), block_size=16)
    with mgr.allocate(len(seq.blocks)) as blocks:
        done = mgr.register(blocks.complete(seq))
    done.release()                       # cached now
    with mgr.match_blocks(seq.hashes) as hit:
        assert len(hit) == 4
"""

from ._kvbm import (  # noqa: F401
    BACKENDS,
    LIBRARY_VERSION,
    MAX_BLOCK_SIZE,
    METRIC_NAMES,
    PLH_MAX_POSITION,
    STATUS_ERRORS,
    Aggregator,
    BlockList,
    BlockSequence,
    CompleteBlock,
    Event,
    EventsManager,
    Hashes,
    ImmutableBlock,
    Manager,
    MutableBlock,
    Pin,
    Registry,
    RequestSequence,
    SchedulableSequence,
    SequenceEvent,
    StatsCollector,
    StatsSnapshot,
    Subscription,
    TokenBlock,
    TokenBlockSequence,
    WeakBlock,
    plh_current,
    plh_display,
    plh_from_hex,
    plh_new,
    plh_parent_fragment,
    plh_position,
    plh_to_hex,
    strerror,
)
from ._kvbm import (  # noqa: F401  the Error hierarchy
    AddressInUseError,
    AttachIsMultipleError,
    AttachIsUniqueError,
    BackendError,
    BusyError,
    ClosedError,
    ConfigError,
    ConnectError,
    CountOverflowError,
    EmptyError,
    Error,
    ExhaustedError,
    FullError,
    IncompleteError,
    InsufficientError,
    InvalidArgumentError,
    IOFailureError,
    LaggedError,
    NotFoundError,
    OutOfMemoryError,
    OutOfRangeError,
    PoisonedError,
    ProtocolError,
    ReleasedError,
    ResetMismatchError,
    ShutdownError,
    SizeMismatchError,
    StateError,
    TimedOutError,
    UnsupportedError,
)

__version__ = LIBRARY_VERSION

import enum as _enum  # noqa: E402

from ._kvbm import _set_decode_outcome  # noqa: E402


class DecodeOutcome(_enum.IntFlag):
    """Result of SchedulableSequence.apply_decode / apply_speculative (a bit set)."""

    CONTINUE = 0
    BLOCK_COMPLETED = 1
    MAX_LENGTH = 2


_set_decode_outcome(DecodeOutcome)
del _set_decode_outcome, _enum

# Both are read-only sequences (len, indexing, iteration): let isinstance() say so.
import collections.abc as _abc  # noqa: E402

_abc.Sequence.register(BlockList)
_abc.Sequence.register(Hashes)
del _abc


def error_for_status(status: int) -> type:
    """The :class:`Error` subclass raised for a (negative) kvbm status code."""
    return STATUS_ERRORS.get(status, Error)


def hash_tokens(tokens, block_size: int = 16, salt: int = 0, parent=None) -> Hashes:
    """PLHs of every complete block of ``tokens`` (same as :meth:`Hashes.from_tokens`)."""
    return Hashes.from_tokens(tokens, block_size, salt, parent)


def numpy_view(hashes: Hashes):
    """A zero-copy read-only ``numpy`` (n, 2) uint64 view of ``hashes`` (hi, lo columns).

    Raises ImportError when NumPy is not installed."""
    import numpy

    return numpy.asarray(hashes)
