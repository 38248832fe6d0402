/* tests/metrics/test_pool.c - the per-manager metrics object (spec 10 §6.1-§6.2, §7.8
 * pool.rs) and every accessor of kvbm/metrics.h, including the table-derived kinds. */
#include <stdlib.h>

#include "harness.h"
#include "internal.h"
#include "kvbm/metrics.h"

#define ADD(m, f, n) EXPECT_OK(kvbm_metrics_add((m), KVBM_METRIC_##f, (n)))
#define GET(m, f)    kvbm_metrics_get((m), KVBM_METRIC_##f)

static kvbm_metrics *mk(const char *label)
{
    kvbm_metrics *m = NULL;
    if (kvbm_metrics_create(label, &m) != KVBM_OK) return NULL;
    return m;
}

KVBM_TEST(test_counter_increments)
{
    kvbm_metrics *m = mk("test");
    ASSERT_TRUE(m != NULL);
    ADD(m, allocations, 5);
    ADD(m, allocations, 3);
    ADD(m, evictions, 2);
    ADD(m, registrations, 1);
    ADD(m, duplicate_blocks, 1);
    ADD(m, registration_dedup, 1);
    ADD(m, stagings, 1);
    kvbm_metrics_snapshot s = KVBM_METRICS_SNAPSHOT_INIT;
    ASSERT_OK(kvbm_metrics_snapshot_get(m, &s));
    EXPECT_EQ(s.allocations, 8);
    EXPECT_EQ(s.evictions, 2);
    EXPECT_EQ(s.registrations, 1);
    EXPECT_EQ(s.duplicate_blocks, 1);
    EXPECT_EQ(s.registration_dedup, 1);
    EXPECT_EQ(s.stagings, 1);
    EXPECT_EQ(s.allocations_from_reset, 0);
    kvbm_metrics_release(m);
}

KVBM_TEST(test_gauge_bidirectional)
{
    kvbm_metrics *m = mk("test");
    ASSERT_TRUE(m != NULL);
    ADD(m, inflight_mutable, 1);
    ADD(m, inflight_mutable, 1);
    ADD(m, inflight_mutable, -1);
    ADD(m, inflight_immutable, 3);
    ADD(m, inflight_immutable, -1);
    EXPECT_EQ(GET(m, inflight_mutable), 1);
    EXPECT_EQ(GET(m, inflight_immutable), 2);
    kvbm_metrics_release(m);
}

KVBM_TEST(test_pool_size_gauges)
{
    kvbm_metrics *m = mk("test");
    ASSERT_TRUE(m != NULL);
    EXPECT_OK(kvbm_metrics_set(m, KVBM_METRIC_reset_pool_size, 100));
    EXPECT_OK(kvbm_metrics_set(m, KVBM_METRIC_inactive_pool_size, 50));
    EXPECT_EQ(GET(m, reset_pool_size), 100);
    EXPECT_EQ(GET(m, inactive_pool_size), 50);
    EXPECT_OK(kvbm_metrics_set(m, KVBM_METRIC_reset_pool_size, 80));
    ADD(m, reset_pool_size, 2);
    ADD(m, reset_pool_size, -1);
    EXPECT_EQ(GET(m, reset_pool_size), 81);
    ADD(m, inactive_pool_size, 3);
    ADD(m, inactive_pool_size, -1);
    EXPECT_EQ(GET(m, inactive_pool_size), 52);
    kvbm_metrics_release(m);
}

KVBM_TEST(test_type_label)
{
    kvbm_metrics *m = mk("MyType");
    ASSERT_TRUE(m != NULL);
    EXPECT_STR_EQ(kvbm_metrics_label(m), "MyType");
    EXPECT_TRUE(kvbm_metrics_label(NULL) == NULL);
    kvbm_metrics_release(m);
}

KVBM_TEST(test_match_scan_counters)
{
    kvbm_metrics *m = mk("test");
    ASSERT_TRUE(m != NULL);
    ADD(m, match_hashes_requested, 10);
    ADD(m, match_blocks_returned, 7);
    ADD(m, scan_hashes_requested, 20);
    ADD(m, scan_blocks_returned, 15);
    kvbm_metrics_snapshot s = KVBM_METRICS_SNAPSHOT_INIT;
    ASSERT_OK(kvbm_metrics_snapshot_get(m, &s));
    EXPECT_EQ(s.match_hashes_requested, 10);
    EXPECT_EQ(s.match_blocks_returned, 7);
    EXPECT_EQ(s.scan_hashes_requested, 20);
    EXPECT_EQ(s.scan_blocks_returned, 15);
    kvbm_metrics_release(m);
}

/* The kinds and counts come from KVBM_METRICS_FIELDS: C() entries are counters, G() gauges. */
#define T_KIND_C(name, prom, help) true,
#define T_KIND_G(name, prom, help) false,
KVBM_TEST(kinds_and_counts_follow_the_field_table)
{
    static const bool want[] = { KVBM_METRICS_FIELDS(T_KIND_C, T_KIND_G) };
    ASSERT_EQ(sizeof want / sizeof want[0], KVBM_METRIC_COUNT);
    int counters = 0, gauges = 0;
    for (int i = 0; i < KVBM_METRIC_COUNT; i++) {
        EXPECT_EQ(kvbm_metric_is_counter((kvbm_metric_id)i), want[i]);
        want[i] ? counters++ : gauges++;
        const char *prom = kvbm_metric_prom_name((kvbm_metric_id)i);
        ASSERT_TRUE(prom != NULL && strncmp(prom, "kvbm_", 5) == 0);
        size_t n = strlen(prom);
        /* counters and only counters end in _total (Prometheus naming) */
        EXPECT_EQ(n > 6 && strcmp(prom + n - 6, "_total") == 0, want[i]);
        EXPECT_TRUE(kvbm_metric_name((kvbm_metric_id)i) != NULL);
        EXPECT_TRUE(kvbm_metric_help((kvbm_metric_id)i) != NULL && kvbm_metric_help((kvbm_metric_id)i)[0]);
    }
    EXPECT_EQ(counters, KVBM_METRICS_NUM_COUNTERS);
    EXPECT_EQ(gauges, KVBM_METRICS_NUM_GAUGES);
    EXPECT_EQ(counters, 15);
    EXPECT_EQ(gauges, 4);
    EXPECT_FALSE(kvbm_metric_is_counter(KVBM_METRIC_COUNT));
    EXPECT_FALSE(kvbm_metric_is_counter((kvbm_metric_id)-1));
    EXPECT_TRUE(kvbm_metric_name(KVBM_METRIC_COUNT) == NULL);
    EXPECT_TRUE(kvbm_metric_prom_name(KVBM_METRIC_COUNT) == NULL);
    EXPECT_TRUE(kvbm_metric_help(KVBM_METRIC_COUNT) == NULL);
    EXPECT_STR_EQ(kvbm_metric_name(KVBM_METRIC_allocations), "allocations");
    EXPECT_STR_EQ(kvbm_metric_prom_name(KVBM_METRIC_inactive_pool_size), "kvbm_inactive_pool_size");
    EXPECT_STR_EQ(kvbm_metric_help(KVBM_METRIC_reset_pool_size), "Current reset pool size");
    /* exact U+2192 and U+2014 of the spec */
    EXPECT_STR_CONTAINS(kvbm_metric_help(KVBM_METRIC_eager_primary_to_inactive),
                        "Primary\xe2\x86\x92Inactive transitions (race-window branch \xe2\x80\x94 ");
}

KVBM_TEST(bad_arguments_fail_with_a_message)
{
    kvbm_metrics *m = NULL;
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_metrics_create(NULL, &m), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "label");
    EXPECT_STATUS(kvbm_metrics_create("x", NULL), KVBM_EINVAL);
    m = mk("x");
    ASSERT_TRUE(m != NULL);
    EXPECT_STATUS(kvbm_metrics_add(m, KVBM_METRIC_allocations, -1), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "counter allocations");
    EXPECT_STATUS(kvbm_metrics_add(m, KVBM_METRIC_COUNT, 1), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "out of range");
    EXPECT_STATUS(kvbm_metrics_add(NULL, KVBM_METRIC_allocations, 1), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_metrics_set(m, KVBM_METRIC_evictions, 3), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "is a counter");
    EXPECT_STATUS(kvbm_metrics_set(m, KVBM_METRIC_COUNT, 3), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_metrics_set(NULL, KVBM_METRIC_reset_pool_size, 3), KVBM_EINVAL);
    EXPECT_EQ(kvbm_metrics_get(NULL, KVBM_METRIC_allocations), 0);
    EXPECT_EQ(kvbm_metrics_get(m, KVBM_METRIC_COUNT), 0);
    EXPECT_EQ(GET(m, allocations), 0); /* nothing above changed a value */
    EXPECT_EQ(GET(m, evictions), 0);
    kvbm_metrics_snapshot s = { 0 };
    EXPECT_STATUS(kvbm_metrics_snapshot_get(m, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_metrics_snapshot_get(m, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_metrics_snapshot_get(NULL, &s), KVBM_EINVAL);
    kvbm_metrics_release(m);
    kvbm_metrics_release(NULL);
    EXPECT_TRUE(kvbm_metrics_clone(NULL) == NULL);
}

KVBM_TEST(gauges_may_go_negative_and_counters_are_u64)
{
    kvbm_metrics *m = mk("x");
    ASSERT_TRUE(m != NULL);
    ADD(m, inflight_mutable, -3);
    EXPECT_EQ(GET(m, inflight_mutable), -3);
    EXPECT_OK(kvbm_metrics_set(m, KVBM_METRIC_inflight_immutable, -7));
    EXPECT_EQ(GET(m, inflight_immutable), -7);
    ADD(m, allocations, INT64_MAX);
    ADD(m, allocations, 2);
    kvbm_metrics_snapshot s = KVBM_METRICS_SNAPSHOT_INIT;
    ASSERT_OK(kvbm_metrics_snapshot_get(m, &s));
    EXPECT_TRUE(s.allocations == (uint64_t)INT64_MAX + 2);
    kvbm_metrics_release(m);
}

KVBM_TEST(snapshot_copies_only_struct_size_bytes)
{
    kvbm_metrics *m = mk("x");
    ASSERT_TRUE(m != NULL);
    ADD(m, allocations, 4);
    ADD(m, allocations_from_reset, 9);
    /* an older caller whose struct ends after the first counter */
    kvbm_metrics_snapshot s;
    memset(&s, 0xab, sizeof s);
    s.struct_size = offsetof(kvbm_metrics_snapshot, allocations_from_reset);
    ASSERT_OK(kvbm_metrics_snapshot_get(m, &s));
    EXPECT_EQ(s.allocations, 4);
    EXPECT_TRUE(s.allocations_from_reset == UINT64_C(0xabababababababab));
    EXPECT_EQ(s.struct_size, offsetof(kvbm_metrics_snapshot, allocations_from_reset));
    kvbm_metrics_release(m);
}

KVBM_TEST(clone_shares_values_and_the_last_release_frees)
{
    kvbm_metrics *m = mk("shared");
    ASSERT_TRUE(m != NULL);
    kvbm_metrics *c = kvbm_metrics_clone(m);
    EXPECT_TRUE(c == m);
    ADD(c, registrations, 2);
    kvbm_metrics_release(m);
    EXPECT_EQ(GET(c, registrations), 2); /* still alive through the clone (ASan checks) */
    EXPECT_STR_EQ(kvbm_metrics_label(c), "shared");
    kvbm_metrics_release(c);
}

KVBM_TEST(create_fails_cleanly_when_allocation_fails)
{
    kvbm_metrics *m = (kvbm_metrics *)1;
    kvbm__alloc_fail_set(1);
    EXPECT_STATUS(kvbm_metrics_create("x", &m), KVBM_ENOMEM);
    kvbm__alloc_fail_set(0);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "out of memory");
    ASSERT_OK(kvbm_metrics_create("x", &m));
    kvbm_metrics_release(m);
}
