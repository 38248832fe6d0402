"""The sequence layer from Python: BlockSequence, RequestSequence, SchedulableSequence."""
import gc
import threading
import weakref
from array import array

import pytest

import kvbm


# ---- BlockSequence ----------------------------------------------------------------------

def test_block_sequence_matches_token_block_sequence():
    toks = list(range(22))
    bs = kvbm.BlockSequence(toks, block_size=4)
    ref = kvbm.TokenBlockSequence(toks, block_size=4)
    assert len(bs) == bs.num_blocks == 5 and bs.total_tokens == 22 and bs.block_size == 4
    assert bs.hashes.tolist() == ref.hashes.tolist()
    assert [b.tokens for b in bs.blocks] == [b.tokens for b in ref.blocks]
    assert bs.block(-1).tokens == [16, 17, 18, 19]
    assert bs.append(22) is None
    assert bs.append(23) == 5                       # completes block 5
    assert bs.extend(list(range(24, 33))) == range(6, 8)
    assert bs.extend([]) is None
    salted = kvbm.BlockSequence(toks, 4, salt=7)
    assert salted.hashes.tolist() != bs.hashes.tolist()[:5]
    assert kvbm.BlockSequence(toks, 4, salt=0).hashes.tolist() == bs.hashes.tolist()[:5]
    assert kvbm.BlockSequence(array("I", toks), 4).hashes.tolist() == bs.hashes.tolist()[:5]


def test_block_sequence_bad_input():
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.BlockSequence([1, 2, 3], block_size=3)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.BlockSequence([1, 2, 3], block_size=0)
    with pytest.raises(TypeError):
        kvbm.BlockSequence("tokens")
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.BlockSequence([-1], 4)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.BlockSequence([2**32], 4)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.BlockSequence([1], 4, salt=-1)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.BlockSequence([1], 4, salt="x")
    bs = kvbm.BlockSequence([1, 2, 3, 4], 4)
    with pytest.raises(IndexError):
        bs.block(1)
    with pytest.raises(TypeError):
        bs.append("a")
    with pytest.raises(TypeError):
        bs.extend(5)


# ---- RequestSequence --------------------------------------------------------------------

def test_request_lifecycle_and_prefix_reuse(mgr):
    toks = list(range(10))
    with kvbm.RequestSequence(mgr, toks, max_output_tokens=4) as r:
        assert r.manager is mgr and r.block_size == 4 and r.num_blocks == 2
        assert r.match_and_add_prefix() == 0
        r.allocate_blocks(3)
        assert r.unassigned_blocks == 3
        assert r.complete_and_register_pending() == 2
        assert (r.assigned_blocks, r.unassigned_blocks) == (2, 1)
        pages = r.page_indices()
        assert isinstance(pages, array) and len(pages) == 3
        assert r.append_token(10) is None and r.append_token(11) == 2
        assert r.stage_pending() == 1 and r.register_staged() == 1
        assert r.generated_tokens == 2 and r.remaining_tokens == 2 and not r.is_complete
        assert "RequestSequence {" in repr(r)
        hashes = r.hashes
    assert mgr.available_blocks == mgr.total_blocks     # released by the with-block
    r2 = kvbm.RequestSequence(mgr, list(range(13)), 4)
    assert r2.match_and_add_prefix() == 3                # cached by the first request
    assert r2.hashes.tolist() == hashes.tolist()
    assert r2.prefix_matched_blocks == 3 and r2.new_tokens_for_prefill == 1
    detached = r2.detach_registered_blocks()
    assert len(detached) == 3 and r2.detached_blocks == 3
    assert list(r2.page_indices()) == list(detached.block_ids)
    detached.release()
    del r2
    mgr.reset_inactive_pool()


def test_request_errors_carry_kind(mgr):
    r = kvbm.RequestSequence(mgr, list(range(8)), 1)
    with pytest.raises(kvbm.ExhaustedError) as ei:
        r.allocate_blocks(17)
    assert ei.value.kind == "ALLOCATION_FAILED" and mgr.available_blocks == 16
    r.allocate_blocks(2)
    with pytest.raises(kvbm.StateError) as ei:
        r.match_and_add_prefix()                         # blocks are held
    assert ei.value.kind == "PRECONDITION"
    r.append_token(1)
    with pytest.raises(kvbm.OutOfRangeError):
        r.append_token(2)                                # max_output_tokens reached
    assert r.drop_excess_unassigned(0) == 2
    r.release()
    r.release()                                          # idempotent
    with pytest.raises(kvbm.InvalidArgumentError):
        r.allocate_blocks(-1)
    with pytest.raises(TypeError):
        r.allocate_blocks(1.5)
    with pytest.raises(kvbm.OutOfRangeError):
        r.allocate_blocks(2**70)
    with pytest.raises(TypeError):
        kvbm.RequestSequence("mgr", [1], 1)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.RequestSequence(mgr, [1], -1)
    assert mgr.available_blocks == 16


def test_request_reacquire(mgr):
    r = kvbm.RequestSequence(mgr, list(range(8)), 4)
    r.allocate_blocks(2)
    r.complete_and_register_pending()
    r.release()
    assert r.assigned_blocks == 0
    assert r.reacquire() is True
    assert r.assigned_blocks == 2 and r.prefix_matched_blocks == 2
    del r
    gc.collect()
    mgr.reset_inactive_pool()


# ---- SchedulableSequence ----------------------------------------------------------------

def drive(seq, prompt_len, first_token=100):
    seq.schedule_prefill(prompt_len)
    seq.apply_prefill(first_token)


def test_schedulable_prefill_decode_events(mgr):
    events = []
    s = kvbm.SchedulableSequence(mgr, list(range(10)), max_output_tokens=3,
                                 delegate=events.append)
    assert s.state == "Idle" and s.delegate is not None
    assert events[0].kind == "Created" and events[0].data["block_size"] == 4
    s.schedule_prefill(6)
    assert s.state == "PrefillScheduled" and s.state_info["num_tokens"] == 6
    s.apply_prefill()                                    # non-final chunk: no token
    s.schedule_prefill(4)
    s.apply_prefill(100)
    assert s.is_prefill_complete and s.generated == 1 and s.tail_tokens == 1
    s.schedule_decode()
    out = s.apply_decode(101)
    assert out is kvbm.DecodeOutcome.BLOCK_COMPLETED     # tokens 0..11: block 2 done
    s.schedule_decode()
    out = s.apply_decode(102)
    assert out & kvbm.DecodeOutcome.MAX_LENGTH and s.is_complete
    kinds = [e.kind for e in events]
    assert kinds == ["Created", "PrefillScheduled", "PrefillApplied", "PrefillScheduled",
                     "PrefillApplied", "DecodeScheduled", "DecodeApplied",
                     "DecodeScheduled", "DecodeApplied"]
    assert events[-1].data["token"] == 102
    assert len(s.page_indices()) == s.assigned + s.staged + s.unassigned
    s.release()
    assert events[-1].kind == "Released"
    del s
    mgr.reset_inactive_pool()


def test_schedulable_errors_leave_state_unchanged(mgr):
    s = kvbm.SchedulableSequence(mgr, list(range(8)), 4)
    with pytest.raises(kvbm.StateError) as ei:
        s.schedule_decode()
    assert ei.value.kind == "PREFILL_NOT_COMPLETE"
    with pytest.raises(kvbm.OutOfRangeError) as ei:
        s.schedule_prefill(9)
    assert ei.value.kind == "PREFILL_OVERRUN"
    s.schedule_prefill(8)
    with pytest.raises(kvbm.StateError) as ei:
        s.schedule_prefill(1)
    assert ei.value.kind == "NOT_IDLE"
    with pytest.raises(kvbm.InvalidArgumentError) as ei:
        s.apply_prefill()                                # final chunk needs the token
    assert ei.value.kind == "MISSING_TOKEN_ON_FINAL_CHUNK"
    assert s.state == "PrefillScheduled" and s.unassigned == 2
    s.revert()
    assert s.state == "Idle" and mgr.available_blocks == 16
    with pytest.raises(kvbm.ExhaustedError) as ei:
        kvbm.SchedulableSequence(mgr, list(range(80)), 1).schedule_prefill(80)
    assert ei.value.kind == "ALLOCATION_FAILED" and mgr.available_blocks == 16
    big = kvbm.Manager(4, block_size=8)
    assert big.block_size == 8


def test_schedulable_speculative_and_drop(mgr):
    s = kvbm.SchedulableSequence(mgr, list(range(4)), 10)
    drive(s, 4)
    s.schedule_speculative(6)
    assert s.state == "SpeculativeScheduled"
    with pytest.raises(kvbm.OutOfRangeError):
        s.apply_speculative([1] * 7)
    out = s.apply_speculative(array("I", [1, 2]))
    assert out == kvbm.DecodeOutcome.CONTINUE and s.generated == 3
    s.append_tokens([5, 6, 7])
    assert s.total_tokens == 10
    assert s.drop_unassigned(10) >= 0
    del s
    gc.collect()
    mgr.reset_inactive_pool()


def test_delegate_exception_is_reported_not_lost(mgr):
    calls = []

    def delegate(ev):
        calls.append(ev.kind)
        if ev.kind == "PrefillScheduled":
            raise RuntimeError("boom")

    s = kvbm.SchedulableSequence(mgr, list(range(8)), 2, delegate=delegate)
    with pytest.raises(RuntimeError, match="boom") as ei:
        s.schedule_prefill(8)
    assert any("operation itself completed" in n for n in ei.value.__notes__)
    assert s.state == "PrefillScheduled"                # the operation did happen
    s.apply_prefill(9)                                   # later calls are fine
    assert calls == ["Created", "PrefillScheduled", "PrefillApplied"]

    def bad_create(ev):
        raise KeyError(ev.kind)

    with pytest.raises(KeyError):
        kvbm.SchedulableSequence(mgr, [1, 2], 2, delegate=bad_create)
    del s
    mgr.reset_inactive_pool()


def test_delegate_reentry_and_manager_calls(mgr):
    seen = []
    holder = {}

    def delegate(ev):
        seq = holder.get("s")
        if seq is None:
            return
        seen.append((ev.kind, seq.state, mgr.available_blocks))   # reads are allowed
        seq.revert()                                              # mutation: BusyError

    s = kvbm.SchedulableSequence(mgr, list(range(8)), 2, delegate=delegate)
    holder["s"] = s
    with pytest.raises(kvbm.BusyError):
        s.schedule_prefill(8)
    assert seen == [("PrefillScheduled", "PrefillScheduled", 14)]
    holder.clear()
    s.revert()
    assert mgr.available_blocks == 16


def test_cycle_through_delegate_is_collected(mgr):
    class Owner:
        def __init__(self):
            self.n = 0
            self.seq = kvbm.SchedulableSequence(mgr, list(range(8)), 2, delegate=self.on)

        def on(self, ev):
            self.n += 1

    o = Owner()
    drive(o.seq, 8)
    assert o.n == 3 and mgr.available_blocks < 16
    ref = weakref.ref(o)
    del o
    gc.collect()
    assert ref() is None
    mgr.reset_inactive_pool()


def test_threads_share_manager_and_delegate():
    mgr = kvbm.Manager(64, block_size=4)
    lock = threading.Lock()
    counts = {}

    def delegate(ev):
        with lock:
            counts[ev.kind] = counts.get(ev.kind, 0) + 1

    errors = []

    def worker(base):
        try:
            for i in range(30):
                s = kvbm.SchedulableSequence(mgr, list(range(base, base + 8)), 4,
                                             delegate=delegate)
                s.match_prefix()
                if not s.is_prefill_complete:
                    s.schedule_prefill(8 - s.prefill_position)
                    s.apply_prefill(1)
                else:
                    s.append_tokens([1])
                for t in range(3):
                    s.schedule_decode()
                    s.apply_decode(2 + t)
                del s
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k * 1000 % 3000,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert counts["Created"] == 120 and counts["DecodeApplied"] == 360
    assert mgr.available_blocks == 64
    mgr.check_invariants()


def test_schedulable_bad_input(mgr):
    with pytest.raises(TypeError):
        kvbm.SchedulableSequence(mgr, [1], 1, delegate=42)
    with pytest.raises(TypeError):
        kvbm.SchedulableSequence(None, [1], 1)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.SchedulableSequence(mgr, [1], -3)
    with pytest.raises(TypeError):
        kvbm.SchedulableSequence(mgr, [1], "3")
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.SchedulableSequence(mgr, [1, -2], 3)
    s = kvbm.SchedulableSequence(mgr, list(range(8)), 2)
    for call, args in ((s.schedule_prefill, (-1,)), (s.schedule_speculative, (-1,)),
                       (s.drop_unassigned, (-2,))):
        with pytest.raises(kvbm.InvalidArgumentError):
            call(*args)
    with pytest.raises(kvbm.OutOfRangeError):
        s.schedule_prefill(2**64)
    with pytest.raises(TypeError):
        s.schedule_prefill("8")
    s.schedule_prefill(8)
    with pytest.raises(kvbm.InvalidArgumentError):
        s.apply_prefill(-1)
    with pytest.raises(TypeError):
        s.apply_speculative(3)
    with pytest.raises(kvbm.StateError):
        s.apply_decode(3)
    s.revert()
    assert mgr.available_blocks == 16


def test_more_bad_input_leaves_pool_whole(mgr):
    for args in (("tokens", 1), ([1.5], 1), (array("H", [1, 2]), 1), (b"\x01\x02", 1)):
        with pytest.raises((TypeError, kvbm.InvalidArgumentError)):
            kvbm.RequestSequence(mgr, *args)
        with pytest.raises((TypeError, kvbm.InvalidArgumentError)):
            kvbm.SchedulableSequence(mgr, *args)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.BlockSequence([1], 2**40)
    with pytest.raises(TypeError):
        kvbm.RequestSequence(mgr)
    with pytest.raises(kvbm.InvalidArgumentError):
        kvbm.RequestSequence(mgr, [1], 1, salt=2**64)
    s = kvbm.SchedulableSequence(mgr, list(range(8)), 4)
    drive(s, 8)
    s.schedule_speculative(3)
    with pytest.raises(kvbm.InvalidArgumentError):
        s.apply_speculative(array("H", [1]))
    with pytest.raises(kvbm.InvalidArgumentError):
        s.apply_speculative([1, 2**32])
    assert s.state == "SpeculativeScheduled"
    s.revert()
    r = kvbm.RequestSequence(mgr, list(range(8)), 4)
    with pytest.raises(TypeError):
        r.drop_excess_unassigned(None)
    with pytest.raises(kvbm.InvalidArgumentError):
        r.drop_excess_unassigned(-1)
    with pytest.raises(kvbm.InvalidArgumentError):
        r.append_token(-5)
    del s, r
    gc.collect()
    mgr.reset_inactive_pool()
    assert mgr.available_blocks == 16
