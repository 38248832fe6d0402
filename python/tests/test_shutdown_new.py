"""Interpreter shutdown with live event subscriptions (a daemon thread waiting in next()),
a running stats sampler, an aggregator and sequences whose delegates and finalizers call
into kvbm while modules are torn down: exit status 0, no crash, no Python traceback."""
import textwrap

from conftest import run_exit_script

SCRIPT = textwrap.dedent("""
    import os, sys, threading, time
    sys.path.insert(0, {path!r})
    import kvbm

    reg = kvbm.Registry()
    em = kvbm.EventsManager(reg, capacity=8)
    mgr = kvbm.Manager(64, block_size=4, registry=reg)
    agg = kvbm.Aggregator()
    agg.add_manager(mgr)
    st = kvbm.StatsCollector(mgr, sample_interval=0.001, enabled=True)
    agg.add_stats(st)
    st.start()

    def waiter(sub):
        while True:
            try:
                for ev in sub:
                    pass
            except kvbm.Error:
                pass

    for _ in range({waiters}):
        threading.Thread(target=waiter, args=(em.subscribe(timeout=5),), daemon=True).start()

    class Late:
        def __init__(self):
            self.kvbm, self.os = kvbm, os
            self.seq = kvbm.SchedulableSequence(mgr, list(range(12)), 4, delegate=self.on)
            self.seq.schedule_prefill(12)
            self.seq.apply_prefill(1)
            self.req = kvbm.RequestSequence(mgr, list(range(100, 108)), 2)
            self.req.allocate_blocks(2)
        def on(self, ev):
            pass
        def __del__(self):
            try:
                self.seq.schedule_decode()
                self.seq.revert()
                self.req.complete_and_register_pending()
                self.os.write(1, b"late-ok ")
            except self.kvbm.ShutdownError:
                self.os.write(1, b"late-refused ")
            self.agg_text = agg.render() if agg is not None else ""

    def churn():
        while True:
            s = kvbm.SchedulableSequence(mgr, list(range(8)), 2, delegate=lambda ev: None)
            s.schedule_prefill(8)
            s.apply_prefill(3)
            s.release()

    late = Late()
    late.me = late
    keep = [Late() for _ in range(2)]
    for _ in range({threads}):
        threading.Thread(target=churn, daemon=True).start()
    time.sleep(0.2)
    print("exiting", flush=True)
""")


def test_shutdown_finalizers_use_sequences_and_aggregator(tmp_path):
    # no daemon thread: module teardown runs every finalizer (see test_gc.py)
    r = run_exit_script(tmp_path, SCRIPT, threads=0, waiters=0)
    assert r.stdout.count("late-") == 3, r.stdout


def test_shutdown_with_waiters_and_sequences_on_daemon_threads(tmp_path):
    for _ in range(2):
        run_exit_script(tmp_path, SCRIPT, threads=2, waiters=2)
