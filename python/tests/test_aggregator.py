"""kvbm.Aggregator and kvbm.StatsCollector: Prometheus text and sampled rates from Python."""
import gc
import threading
import time

import pytest

import kvbm
from conftest import chain, fill


def sample_value(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{want}}} not in the exposition")


def test_render_managers_and_labels(mgr):
    other = kvbm.Manager(8, block_size=4, tier=1)
    agg = kvbm.Aggregator()
    assert len(agg) == 0
    i1, i2 = agg.add_manager(mgr), agg.add_manager(other)
    assert i1 != i2 and len(agg) == 2
    fill(mgr, chain(3)).release()
    text = agg.render()
    assert "# TYPE kvbm_allocations_total counter" in text
    assert sample_value(text, "kvbm_allocations_total", pool="G1") == 3
    assert sample_value(text, "kvbm_allocations_total", pool="G2") == 0
    assert sample_value(text, "kvbm_inactive_pool_size", pool="G1") == 3
    agg.set_external_labels([("instance", "i-1"), ("worker", 'w"1')])
    text = agg.render()
    assert sample_value(text, "kvbm_allocations_total", pool="G1", instance="i-1",
                        worker='w\\"1') == 3
    agg.set_external_labels({})
    om = agg.render(format="openmetrics")
    assert om.endswith("# EOF\n") and "kvbm_allocations_total{pool=\"G1\"} 3" in om
    agg.remove_source(i2)
    assert len(agg) == 1 and 'pool="G2"' not in agg.render()
    with pytest.raises(kvbm.NotFoundError):
        agg.remove_source(i2)
    assert kvbm.Aggregator.content_type("prometheus").startswith("text/plain")
    assert kvbm.Aggregator.format_for_accept("application/openmetrics-text") == "openmetrics"
    assert kvbm.Aggregator.format_for_accept(None) == "prometheus"
    mgr.reset_inactive_pool()


def test_source_outlives_python_manager():
    agg = kvbm.Aggregator()
    m = kvbm.Manager(4, block_size=4, metrics_label="gone")
    agg.add_manager(m)
    del m
    gc.collect()
    assert sample_value(agg.render(), "kvbm_reset_pool_size", pool="gone") == 4


def test_stats_collector_rates(mgr):
    st = kvbm.StatsCollector(mgr, window_size=4)
    assert not st.enabled and st.latest() is None
    st.sample()                           # disabled: nothing
    assert st.latest() is None and st.window() == []
    st.enabled = True
    st.sample()
    seq = chain(4)
    fill(mgr, seq).release()
    with mgr.match_blocks(seq.hashes[:2]) as hit:
        assert len(hit) == 2
    with mgr.match_blocks(kvbm.Hashes.from_tokens(list(range(900, 916)), 4)) as miss:
        assert len(miss) == 0
    time.sleep(0.01)
    st.sample()
    s = st.latest()
    assert s.match_hit_rate == pytest.approx(2 / 6)
    assert s.allocation_rate > 0 and s.inactive_pool_size == 4
    assert s == st.window()[-1] and len(st.window()) == 2 and len(st.window(1)) == 1
    for _ in range(5):
        st.sample()
    assert len(st.window()) == 4          # the ring keeps window_size samples
    agg = kvbm.Aggregator()
    agg.add_stats(st)
    text = agg.render()
    assert "# TYPE kvbm_match_hit_rate gauge" in text
    assert "kvbm_inactive_pool_size" not in text   # six gauges only, no manager source
    assert sample_value(text, "kvbm_allocation_rate", pool="G1") == st.latest().allocation_rate
    mgr.reset_inactive_pool()


def test_stats_sampler_thread(mgr):
    st = kvbm.StatsCollector(mgr, sample_interval=0.001, enabled=True)
    st.start()
    with pytest.raises(kvbm.StateError):
        st.start()
    deadline = time.monotonic() + 10
    while len(st.window()) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    st.stop()
    n = len(st.window())
    assert n >= 3
    st.stop()                             # no-op
    st.start()                            # dropped while running: joins on dealloc
    del st
    gc.collect()


def test_threads_render_while_sources_change(mgr):
    agg = kvbm.Aggregator()
    stop = threading.Event()
    errors = []

    def scrape():
        try:
            while not stop.is_set():
                assert agg.render().count("# TYPE") in (0, 19)
        except Exception as e:            # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=scrape) for _ in range(2)]
    for t in ts:
        t.start()
    for _ in range(200):
        agg.remove_source(agg.add_manager(mgr))
    stop.set()
    for t in ts:
        t.join(30)
    assert not errors


def test_bad_input(mgr):
    agg = kvbm.Aggregator()
    with pytest.raises(TypeError):
        kvbm.Aggregator(1)
    with pytest.raises(TypeError):
        agg.add_manager("mgr")
    with pytest.raises(TypeError):
        agg.add_stats(mgr)
    with pytest.raises(kvbm.InvalidArgumentError):
        agg.set_external_labels({"bad-name": "x"})
    with pytest.raises(kvbm.InvalidArgumentError):
        agg.set_external_labels({"pool": "x"})
    with pytest.raises(TypeError):
        agg.set_external_labels({"ok": 3})
    with pytest.raises(TypeError):
        agg.set_external_labels([("a", "b", "c")])
    with pytest.raises(TypeError):
        agg.set_external_labels(5)
    with pytest.raises(kvbm.InvalidArgumentError):
        agg.render(format="json")
    with pytest.raises(TypeError):
        agg.render(format=1)
    with pytest.raises(kvbm.InvalidArgumentError):
        agg.remove_source(-1)
    with pytest.raises(kvbm.NotFoundError):
        agg.remove_source(12345)
    with pytest.raises(TypeError):
        kvbm.StatsCollector("mgr")
    with pytest.raises(kvbm.ConfigError):
        kvbm.StatsCollector(mgr, window_size=-1)
    with pytest.raises(kvbm.ConfigError):
        kvbm.StatsCollector(mgr, window_size=10**7)
    with pytest.raises(kvbm.ConfigError):
        kvbm.StatsCollector(mgr, sample_interval=0)
    with pytest.raises(OverflowError):
        kvbm.StatsCollector(mgr, window_size=2**80)
    st = kvbm.StatsCollector(mgr, window_size=0, enabled=True)
    st.sample()
    assert st.latest() is None and st.window() == []
    with pytest.raises(kvbm.InvalidArgumentError):
        st.window(-5)
    with pytest.raises(AttributeError):
        del st.enabled
