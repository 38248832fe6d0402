/* tests/metrics/test_stats.c - the stats collector (spec 10 §6.4, §7.8 stats.rs) with a
 * controllable clock, the sampler thread and the aggregator export. */
#include <time.h>

#include "harness.h"
#include "kvbm/stats.h"
#include "support/exposition.h"

static uint64_t test_clock(void *ctx) { return *(uint64_t *)ctx; }

typedef struct fixture {
    kvbm_metrics *m;
    kvbm_stats   *s;
    uint64_t      now;
} fixture;

static bool setup(fixture *f, size_t window)
{
    f->now = 1000;
    if (kvbm_metrics_create("G1", &f->m) != KVBM_OK) return false;
    kvbm_stats_config c = KVBM_STATS_CONFIG_INIT;
    c.window_size = window;
    c.clock = test_clock;
    c.clock_ctx = &f->now;
    if (kvbm_stats_create(f->m, &c, &f->s) != KVBM_OK) return false;
    kvbm_metrics_release(f->m); /* the collector holds its own reference */
    return true;
}

static void teardown(fixture *f) { kvbm_stats_release(f->s); }

#define MS(x) ((uint64_t)(x) * 1000000u)
#define ADD(f, id, n) EXPECT_OK(kvbm_metrics_add((f)->m, KVBM_METRIC_##id, (n)))

KVBM_TEST(test_disabled_by_default)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 60));
    EXPECT_FALSE(kvbm_stats_is_enabled(f.s));
    EXPECT_OK(kvbm_stats_sample(f.s));
    kvbm_stats_snapshot st;
    EXPECT_STATUS(kvbm_stats_latest(f.s, &st), KVBM_ENOENT);
    size_t n = 9;
    EXPECT_OK(kvbm_stats_window(f.s, 10, &st, &n));
    EXPECT_EQ(n, 0);
    teardown(&f);
}

KVBM_TEST(test_enable_and_sample)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 60));
    kvbm_stats_set_enabled(f.s, true);
    EXPECT_TRUE(kvbm_stats_is_enabled(f.s));
    ASSERT_OK(kvbm_stats_sample(f.s));
    kvbm_stats_snapshot st;
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.allocation_rate == 0.0); /* first sample */
    ADD(&f, allocations, 100);
    f.now += MS(50);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.allocation_rate > 0);
    EXPECT_TRUE(st.allocation_rate > 1999.999 && st.allocation_rate < 2000.001); /* 100 / 0.05 s */
    teardown(&f);
}

KVBM_TEST(test_window)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 5));
    kvbm_stats_set_enabled(f.s, true);
    for (int i = 0; i < 10; i++) {
        EXPECT_OK(kvbm_metrics_set(f.m, KVBM_METRIC_reset_pool_size, i));
        f.now += MS(10);
        ASSERT_OK(kvbm_stats_sample(f.s));
    }
    kvbm_stats_snapshot w[100];
    size_t n = 0;
    ASSERT_OK(kvbm_stats_window(f.s, 3, w, &n));
    EXPECT_EQ(n, 3);
    EXPECT_EQ(w[0].reset_pool_size, 7); /* oldest first */
    EXPECT_EQ(w[2].reset_pool_size, 9);
    ASSERT_OK(kvbm_stats_window(f.s, 100, w, &n));
    EXPECT_EQ(n, 5);
    for (size_t i = 0; i < n; i++) EXPECT_EQ(w[i].reset_pool_size, 5 + (int64_t)i);
    ASSERT_OK(kvbm_stats_window(f.s, 0, NULL, &n));
    EXPECT_EQ(n, 0);
    teardown(&f);
}

KVBM_TEST(test_hit_rate_computation)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 60));
    kvbm_stats_set_enabled(f.s, true);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ADD(&f, match_hashes_requested, 10);
    ADD(&f, match_blocks_returned, 7);
    ADD(&f, scan_hashes_requested, 4);
    ADD(&f, scan_blocks_returned, 1);
    f.now += MS(100);
    ASSERT_OK(kvbm_stats_sample(f.s));
    kvbm_stats_snapshot st;
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.match_hit_rate > 0.69 && st.match_hit_rate < 0.71);
    EXPECT_TRUE(st.scan_hit_rate == 0.25);
    /* no requests in the interval: 0, not NaN */
    f.now += MS(100);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.match_hit_rate == 0.0 && st.scan_hit_rate == 0.0);
    teardown(&f);
}

KVBM_TEST(test_gradient_computation)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 60));
    kvbm_stats_set_enabled(f.s, true);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ADD(&f, allocations, 100);
    ADD(&f, evictions, 50);
    f.now += MS(1000);
    ASSERT_OK(kvbm_stats_sample(f.s)); /* rate 100/s: gradient (100 - 0) / 1 s */
    kvbm_stats_snapshot st;
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.allocation_rate == 100.0);
    EXPECT_TRUE(st.allocation_gradient == 100.0);
    EXPECT_TRUE(st.eviction_rate == 50.0);
    ADD(&f, allocations, 500);
    f.now += MS(1000);
    ASSERT_OK(kvbm_stats_sample(f.s)); /* rate 500/s */
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.allocation_rate == 500.0);
    EXPECT_TRUE(st.allocation_gradient == 400.0);
    EXPECT_TRUE(st.eviction_rate == 0.0);
    EXPECT_TRUE(st.eviction_gradient == -50.0);
    ADD(&f, allocations, 100);
    f.now += MS(500);
    ASSERT_OK(kvbm_stats_sample(f.s)); /* rate 200/s over 0.5 s: (200 - 500) / 0.5 */
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.allocation_rate == 200.0);
    EXPECT_TRUE(st.allocation_gradient == -600.0);
    teardown(&f);
}

KVBM_TEST(dt_zero_gives_zero_rates_and_copies_the_gauges)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 60));
    kvbm_stats_set_enabled(f.s, true);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ADD(&f, allocations, 100);
    ADD(&f, match_hashes_requested, 2);
    ADD(&f, match_blocks_returned, 2);
    ADD(&f, inflight_mutable, 3);
    ADD(&f, inflight_immutable, 4);
    EXPECT_OK(kvbm_metrics_set(f.m, KVBM_METRIC_reset_pool_size, 5));
    EXPECT_OK(kvbm_metrics_set(f.m, KVBM_METRIC_inactive_pool_size, 6));
    ASSERT_OK(kvbm_stats_sample(f.s)); /* same instant */
    kvbm_stats_snapshot st;
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.allocation_rate == 0.0 && st.allocation_gradient == 0.0 && st.match_hit_rate == 0.0);
    EXPECT_EQ(st.inflight_mutable, 3);
    EXPECT_EQ(st.inflight_immutable, 4);
    EXPECT_EQ(st.reset_pool_size, 5);
    EXPECT_EQ(st.inactive_pool_size, 6);
    /* the dt == 0 sample is in the ring: the next rate is measured from it */
    f.now += MS(1000);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ASSERT_OK(kvbm_stats_latest(f.s, &st));
    EXPECT_TRUE(st.allocation_rate == 0.0);
    teardown(&f);
}

KVBM_TEST(reenabling_measures_over_the_whole_gap)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 60));
    kvbm_stats_set_enabled(f.s, true);
    ASSERT_OK(kvbm_stats_sample(f.s));
    kvbm_stats_set_enabled(f.s, false);
    ADD(&f, allocations, 300);
    f.now += MS(1000);
    ASSERT_OK(kvbm_stats_sample(f.s)); /* disabled: no-op */
    f.now += MS(2000);
    kvbm_stats_set_enabled(f.s, true);
    ASSERT_OK(kvbm_stats_sample(f.s));
    kvbm_stats_snapshot w[4];
    size_t n = 0;
    ASSERT_OK(kvbm_stats_window(f.s, 4, w, &n));
    EXPECT_EQ(n, 2);
    EXPECT_TRUE(w[1].allocation_rate == 100.0); /* 300 over 3 s */
    teardown(&f);
}

KVBM_TEST(window_size_zero_keeps_nothing)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 0));
    kvbm_stats_set_enabled(f.s, true);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ASSERT_OK(kvbm_stats_sample(f.s));
    kvbm_stats_snapshot st;
    EXPECT_STATUS(kvbm_stats_latest(f.s, &st), KVBM_ENOENT);
    size_t n = 7;
    ASSERT_OK(kvbm_stats_window(f.s, 5, &st, &n));
    EXPECT_EQ(n, 0);
    teardown(&f);
}

KVBM_TEST(config_and_argument_errors)
{
    kvbm_metrics *m;
    ASSERT_OK(kvbm_metrics_create("x", &m));
    kvbm_stats *s = NULL;
    kvbm_stats_config c = KVBM_STATS_CONFIG_INIT;
    c.window_size = KVBM_STATS_MAX_WINDOW + 1;
    EXPECT_STATUS(kvbm_stats_create(m, &c, &s), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "window_size");
    c.window_size = 60;
    c.sample_interval_ns = 0;
    EXPECT_STATUS(kvbm_stats_create(m, &c, &s), KVBM_ECONFIG);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "sample_interval_ns");
    c = (kvbm_stats_config)KVBM_STATS_CONFIG_INIT;
    c.struct_size = 3;
    EXPECT_STATUS(kvbm_stats_create(m, &c, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_create(NULL, NULL, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_create(m, NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_sample(NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_latest(NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_start(NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_stop(NULL), KVBM_EINVAL);
    EXPECT_FALSE(kvbm_stats_is_enabled(NULL));
    kvbm_stats_set_enabled(NULL, true);
    kvbm_stats_release(NULL);
    ASSERT_OK(kvbm_stats_create(m, NULL, &s)); /* defaults */
    size_t n;
    EXPECT_STATUS(kvbm_stats_window(s, 1, NULL, &n), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_window(s, 1, NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_add_to_aggregator(s, NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_stats_add_to_aggregator(NULL, NULL, NULL), KVBM_EINVAL);
    kvbm_stats_release(s); /* the failed add dropped its reference: ASan sees no leak */
    kvbm_metrics_release(m);
}

/* The sampler thread samples at once (first tick immediately) and stops promptly even with
 * an interval of an hour; releasing the last reference stops a running sampler. */
KVBM_TEST(sampler_thread_first_tick_is_immediate_and_stop_is_prompt)
{
    kvbm_metrics *m;
    ASSERT_OK(kvbm_metrics_create("G1", &m));
    kvbm_stats_config c = KVBM_STATS_CONFIG_INIT;
    c.sample_interval_ns = UINT64_C(3600) * 1000000000u;
    kvbm_stats *s;
    ASSERT_OK(kvbm_stats_create(m, &c, &s));
    kvbm_stats_set_enabled(s, true);
    EXPECT_OK(kvbm_stats_stop(s)); /* not running: no-op */
    ASSERT_OK(kvbm_stats_start(s));
    EXPECT_STATUS(kvbm_stats_start(s), KVBM_ESTATE);
    kvbm_stats_snapshot st;
    bool got = false;
    for (int i = 0; i < 10000 && !got; i++) { /* bounded wait: 10 s */
        got = kvbm_stats_latest(s, &st) == KVBM_OK;
        if (!got) nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    }
    EXPECT_TRUE(got);
    EXPECT_OK(kvbm_stats_stop(s)); /* would hang for an hour if the wait were not woken */
    EXPECT_OK(kvbm_stats_stop(s));
    ASSERT_OK(kvbm_stats_start(s)); /* restartable */
    kvbm_stats_release(s);          /* last reference: stops and joins */
    kvbm_metrics_release(m);
}

KVBM_TEST(sampler_thread_keeps_sampling_at_its_interval)
{
    kvbm_metrics *m;
    ASSERT_OK(kvbm_metrics_create("G1", &m));
    kvbm_stats_config c = KVBM_STATS_CONFIG_INIT;
    c.sample_interval_ns = 2000000; /* 2 ms */
    c.window_size = 1000;
    kvbm_stats *s;
    ASSERT_OK(kvbm_stats_create(m, &c, &s));
    kvbm_stats_set_enabled(s, true);
    ASSERT_OK(kvbm_stats_start(s));
    kvbm_stats_snapshot w[8];
    size_t n = 0;
    for (int i = 0; i < 10000 && n < 3; i++) { /* 3 samples, bounded wait: 10 s */
        EXPECT_OK(kvbm_metrics_add(m, KVBM_METRIC_allocations, 1));
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
        EXPECT_OK(kvbm_stats_window(s, 8, w, &n));
    }
    EXPECT_GE(n, 3);
    EXPECT_OK(kvbm_stats_stop(s));
    kvbm_stats_release(s);
    kvbm_metrics_release(m);
}

KVBM_TEST(latest_sample_is_exported_as_gauges)
{
    fixture f;
    ASSERT_TRUE(setup(&f, 60));
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    kvbm_source_id id = 0;
    ASSERT_OK(kvbm_stats_add_to_aggregator(f.s, a, &id));
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_EQ(t.len, 0); /* no sample yet */
    kvbm_stats_set_enabled(f.s, true);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ADD(&f, allocations, 30);
    ADD(&f, evictions, 10);
    ADD(&f, match_hashes_requested, 4);
    ADD(&f, match_blocks_returned, 1);
    f.now += MS(2000);
    ASSERT_OK(kvbm_stats_sample(f.s));
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_EQ(expo_count_prefix(t.data, "# TYPE "), 6);
    EXPECT_TRUE(expo_has_line(t.data, "# TYPE kvbm_allocation_rate gauge"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_allocation_rate{pool=\"G1\"} 15"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_eviction_rate{pool=\"G1\"} 5"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_match_hit_rate{pool=\"G1\"} 0.25"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_scan_hit_rate{pool=\"G1\"} 0"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_allocation_gradient{pool=\"G1\"} 7.5"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_eviction_gradient{pool=\"G1\"} 2.5"));
    EXPECT_TRUE(expo_families_sorted(t.data));
    /* the source holds its own reference: releasing ours first is fine */
    teardown(&f);
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_allocation_rate{pool=\"G1\"} 15"));
    EXPECT_OK(kvbm_aggregator_remove_source(a, id));
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_EQ(t.len, 0);
    kvbm_text_free(&t);
    kvbm_aggregator_release(a);
}
