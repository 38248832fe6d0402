/* tests/metrics/test_aggregator.c - the Prometheus aggregator and its text exposition
 * (spec 10 §6.3, §7.8 collector.rs) plus ordering, escaping, formats, bad input. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "internal.h"
#include "kvbm/aggregator.h"
#include "support/exposition.h"

static kvbm_metrics *mk(const char *label)
{
    kvbm_metrics *m = NULL;
    if (kvbm_metrics_create(label, &m) != KVBM_OK) return NULL;
    return m;
}

/* An aggregator with one metrics source labelled @label. */
typedef struct fx {
    kvbm_aggregator *a;
    kvbm_metrics    *m;
} fx;

static bool fx_init(fx *f, const char *label)
{
    f->a = NULL;
    f->m = mk(label);
    return f->m != NULL && kvbm_aggregator_create(&f->a) == KVBM_OK &&
           kvbm_aggregator_add_metrics(f->a, f->m, NULL) == KVBM_OK;
}

static void fx_fini(fx *f)
{
    kvbm_metrics_release(f->m);
    kvbm_aggregator_release(f->a);
}

KVBM_TEST(test_empty_aggregator_collects_nothing)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_EQ(t.len, 0);
    EXPECT_STR_EQ(t.data, "");
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_OPENMETRICS, &t));
    EXPECT_STR_EQ(t.data, "# EOF\n");
    EXPECT_EQ(kvbm_aggregator_source_count(a), 0);
    kvbm_text_free(&t);
    kvbm_aggregator_release(a);
}

KVBM_TEST(test_single_source_collect)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    kvbm_metrics *m = mk("G1");
    ASSERT_TRUE(m != NULL);
    EXPECT_OK(kvbm_metrics_add(m, KVBM_METRIC_allocations, 10));
    EXPECT_OK(kvbm_metrics_set(m, KVBM_METRIC_reset_pool_size, 42));
    ASSERT_OK(kvbm_aggregator_add_metrics(a, m, NULL));
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_EQ(expo_count_prefix(t.data, "# TYPE "), 19);
    EXPECT_EQ(expo_count_prefix(t.data, "# HELP "), 19);
    EXPECT_TRUE(expo_has_line(t.data, "# TYPE kvbm_allocations_total counter"));
    EXPECT_TRUE(expo_has_line(t.data, "# HELP kvbm_allocations_total Total blocks allocated from pools"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_allocations_total{pool=\"G1\"} 10"));
    EXPECT_TRUE(expo_has_line(t.data, "# TYPE kvbm_reset_pool_size gauge"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_reset_pool_size{pool=\"G1\"} 42"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_evictions_total{pool=\"G1\"} 0"));
    EXPECT_TRUE(expo_families_sorted(t.data));
    kvbm_text_free(&t);
    kvbm_metrics_release(m); /* the aggregator keeps its own reference */
    kvbm_aggregator_release(a);
}

KVBM_TEST(test_external_labels)
{
    fx f;
    ASSERT_TRUE(fx_init(&f, "G1"));
    kvbm_aggregator *a = f.a;
    kvbm_metrics *m = f.m;
    EXPECT_OK(kvbm_metrics_add(m, KVBM_METRIC_allocations, 3));
    const char *names[] = { "instance_id", "worker_id" }, *values[] = { "node-1", "w0" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, names, values, 2));
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_allocations_total{pool=\"G1\",instance_id=\"node-1\",worker_id=\"w0\"} 3"));
    /* replacing the list replaces it whole; n == 0 clears it */
    const char *n2[] = { "zone" }, *v2[] = { "a" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, n2, v2, 1));
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_allocations_total{pool=\"G1\",zone=\"a\"} 3"));
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, NULL, NULL, 0));
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_allocations_total{pool=\"G1\"} 3"));
    kvbm_text_free(&t);
    fx_fini(&f);
}

KVBM_TEST(test_multiple_sources_merged)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    kvbm_metrics *g1 = mk("G1"), *g2 = mk("G2");
    ASSERT_TRUE(g1 != NULL && g2 != NULL);
    EXPECT_OK(kvbm_metrics_add(g1, KVBM_METRIC_allocations, 5));
    EXPECT_OK(kvbm_metrics_add(g2, KVBM_METRIC_allocations, 10));
    ASSERT_OK(kvbm_aggregator_add_metrics(a, g2, NULL)); /* registered out of order */
    ASSERT_OK(kvbm_aggregator_add_metrics(a, g1, NULL));
    EXPECT_EQ(kvbm_aggregator_source_count(a), 2);
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_EQ(expo_count_prefix(t.data, "# TYPE "), 19);
    EXPECT_EQ(expo_count_prefix(t.data, "kvbm_allocations_total{"), 2);
    /* one family, two metrics, sorted by label value */
    EXPECT_STR_CONTAINS(t.data, "# TYPE kvbm_allocations_total counter\n"
                                "kvbm_allocations_total{pool=\"G1\"} 5\n"
                                "kvbm_allocations_total{pool=\"G2\"} 10\n");
    kvbm_text_free(&t);
    kvbm_metrics_release(g1);
    kvbm_metrics_release(g2);
    kvbm_aggregator_release(a);
}

/* The Rust registry gather() sorts; our text output always does (byte-stable). */
KVBM_TEST(test_register_with_prometheus_registry)
{
    fx f;
    ASSERT_TRUE(fx_init(&f, "G1"));
    kvbm_aggregator *a = f.a;
    kvbm_metrics *m = f.m;
    EXPECT_OK(kvbm_metrics_add(m, KVBM_METRIC_allocations, 42));
    char buf[16384];
    size_t len = 0;
    ASSERT_OK(kvbm_aggregator_render(a, KVBM_EXPOSITION_PROMETHEUS, buf, sizeof buf, &len));
    EXPECT_EQ(strlen(buf), len);
    EXPECT_TRUE(expo_has_line(buf, "kvbm_allocations_total{pool=\"G1\"} 42"));
    /* two renders of unchanged values are byte-identical */
    char buf2[16384];
    size_t len2 = 0;
    ASSERT_OK(kvbm_aggregator_render(a, KVBM_EXPOSITION_PROMETHEUS, buf2, sizeof buf2, &len2));
    EXPECT_EQ(len, len2);
    EXPECT_TRUE(memcmp(buf, buf2, len) == 0);
    fx_fini(&f);
}

KVBM_TEST(test_descs_match_definitions)
{
    static const char *const want[19][2] = {
        { "kvbm_allocations_total", "counter" }, { "kvbm_allocations_from_reset_total", "counter" },
        { "kvbm_evictions_total", "counter" }, { "kvbm_registrations_total", "counter" },
        { "kvbm_duplicate_blocks_total", "counter" }, { "kvbm_registration_dedup_total", "counter" },
        { "kvbm_stagings_total", "counter" }, { "kvbm_match_hashes_requested_total", "counter" },
        { "kvbm_match_blocks_returned_total", "counter" }, { "kvbm_scan_hashes_requested_total", "counter" },
        { "kvbm_scan_blocks_returned_total", "counter" }, { "kvbm_eager_primary_to_inactive_total", "counter" },
        { "kvbm_allocate_atomic_rollback_total", "counter" }, { "kvbm_release_primary_noop_total", "counter" },
        { "kvbm_release_duplicate_noop_total", "counter" }, { "kvbm_inflight_mutable", "gauge" },
        { "kvbm_inflight_immutable", "gauge" }, { "kvbm_reset_pool_size", "gauge" },
        { "kvbm_inactive_pool_size", "gauge" },
    };
    size_t n = 0;
    const kvbm_metric_desc *d = kvbm_metrics_descs(&n);
    ASSERT_EQ(n, 19);
    for (size_t i = 0; i < n; i++) {
        EXPECT_STR_EQ(d[i].name, want[i][0]);
        EXPECT_EQ(d[i].type, strcmp(want[i][1], "counter") == 0 ? KVBM_METRIC_TYPE_COUNTER : KVBM_METRIC_TYPE_GAUGE);
        EXPECT_TRUE(d[i].help != NULL && d[i].help[0] != '\0');
    }
    EXPECT_STR_EQ(d[3].help, "Total blocks registered (CompleteBlock -> ImmutableBlock)");
    EXPECT_STR_EQ(d[16].help, "Current ImmutableBlocks held outside pool");
}

KVBM_TEST(metrics_of_a_family_sort_by_label_values_not_registration_order)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    const char *labels[] = { "G2", "G10", "G1", "\xc3\xa9t\xc3\xa9" };
    kvbm_metrics *m[4];
    for (int i = 0; i < 4; i++) {
        m[i] = mk(labels[i]);
        ASSERT_TRUE(m[i] != NULL);
        EXPECT_OK(kvbm_metrics_add(m[i], KVBM_METRIC_stagings, (int64_t)i + 1));
        ASSERT_OK(kvbm_aggregator_add_metrics(a, m[i], NULL));
    }
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_STR_CONTAINS(t.data, "kvbm_stagings_total{pool=\"G1\"} 3\n"
                                "kvbm_stagings_total{pool=\"G10\"} 2\n"
                                "kvbm_stagings_total{pool=\"G2\"} 1\n"
                                "kvbm_stagings_total{pool=\"\xc3\xa9t\xc3\xa9\"} 4\n");
    EXPECT_TRUE(expo_families_sorted(t.data));
    kvbm_text_free(&t);
    for (int i = 0; i < 4; i++) kvbm_metrics_release(m[i]);
    kvbm_aggregator_release(a);
}

KVBM_TEST(label_values_of_any_bytes_are_escaped)
{
    fx f;
    ASSERT_TRUE(fx_init(&f, "a\\b\"c\nd\xff" "e\xe2\x82"));
    kvbm_aggregator *a = f.a;
    const char *n[] = { "host" }, *v[] = { "x\"y\\z\n" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, n, v, 1));
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_evictions_total{pool=\"a\\\\b\\\"c\\nd\xef\xbf\xbd" "e\xef\xbf\xbd\xef\xbf\xbd\","
                                      "host=\"x\\\"y\\\\z\\n\"} 0"));
    kvbm_text_free(&t);
    fx_fini(&f);
}

KVBM_TEST(invalid_external_label_names_are_rejected_and_change_nothing)
{
    fx f;
    ASSERT_TRUE(fx_init(&f, "G1"));
    kvbm_aggregator *a = f.a;
    const char *good_n[] = { "worker_id" }, *good_v[] = { "w0" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, good_n, good_v, 1));
    static const char *const bad[] = { "", "1abc", "a-b", "__reserved", "pool", "a:b", "with space" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *n[] = { "ok", bad[i] }, *v[] = { "1", "2" };
        kvbm_clear_last_error();
        EXPECT_STATUS(kvbm_aggregator_set_external_labels(a, n, v, 2), KVBM_EINVAL);
        EXPECT_STR_CONTAINS(kvbm_last_error(), bad[i]);
    }
    const char *dup_n[] = { "x", "x" }, *dup_v[] = { "1", "2" };
    EXPECT_STATUS(kvbm_aggregator_set_external_labels(a, dup_n, dup_v, 2), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "twice");
    const char *nv_n[] = { "x" }, *nv_v[] = { NULL };
    EXPECT_STATUS(kvbm_aggregator_set_external_labels(a, nv_n, nv_v, 1), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_aggregator_set_external_labels(a, NULL, NULL, 1), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_aggregator_set_external_labels(NULL, NULL, NULL, 0), KVBM_EINVAL);
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_allocations_total{pool=\"G1\",worker_id=\"w0\"} 0"));
    kvbm_text_free(&t);
    fx_fini(&f);
}

KVBM_TEST(a_buffer_too_small_reports_the_size_needed)
{
    fx f;
    ASSERT_TRUE(fx_init(&f, "G1"));
    kvbm_aggregator *a = f.a;
    char small[64];
    size_t need = 0;
    EXPECT_STATUS(kvbm_aggregator_render(a, KVBM_EXPOSITION_OPENMETRICS, small, sizeof small, &need), KVBM_EOVERFLOW);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "needs");
    ASSERT_GT(need, sizeof small);
    size_t z = 0;
    EXPECT_STATUS(kvbm_aggregator_render(a, KVBM_EXPOSITION_OPENMETRICS, NULL, 0, &z), KVBM_EOVERFLOW);
    EXPECT_EQ(z, need);
    char *buf = malloc(need + 1);
    ASSERT_TRUE(buf != NULL);
    size_t len = 0;
    /* exactly need bytes: no room for the NUL */
    EXPECT_STATUS(kvbm_aggregator_render(a, KVBM_EXPOSITION_OPENMETRICS, buf, need, &len), KVBM_EOVERFLOW);
    EXPECT_OK(kvbm_aggregator_render(a, KVBM_EXPOSITION_OPENMETRICS, buf, need + 1, &len));
    EXPECT_EQ(len, need);
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_OPENMETRICS, &t));
    EXPECT_EQ(t.len, len);
    EXPECT_STR_EQ(t.data, buf);
    EXPECT_STATUS(kvbm_aggregator_render(a, KVBM_EXPOSITION_OPENMETRICS, buf, need, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_aggregator_render(a, (kvbm_exposition)7, buf, need, &len), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_aggregator_render_text(NULL, KVBM_EXPOSITION_PROMETHEUS, &t), KVBM_EINVAL);
    kvbm_text_free(&t);
    free(buf);
    fx_fini(&f);
}

KVBM_TEST(openmetrics_names_counter_families_without_total_and_ends_with_eof)
{
    fx f;
    ASSERT_TRUE(fx_init(&f, "G1"));
    kvbm_aggregator *a = f.a;
    kvbm_metrics *m = f.m;
    EXPECT_OK(kvbm_metrics_add(m, KVBM_METRIC_allocations, 7));
    EXPECT_OK(kvbm_metrics_set(m, KVBM_METRIC_inactive_pool_size, 3));
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_OPENMETRICS, &t));
    EXPECT_STR_CONTAINS(t.data, "# HELP kvbm_allocations Total blocks allocated from pools\n"
                                "# TYPE kvbm_allocations counter\n"
                                "kvbm_allocations_total{pool=\"G1\"} 7\n");
    EXPECT_STR_CONTAINS(t.data, "# TYPE kvbm_inactive_pool_size gauge\nkvbm_inactive_pool_size{pool=\"G1\"} 3\n");
    ASSERT_GT(t.len, 6);
    EXPECT_STR_EQ(t.data + t.len - 6, "# EOF\n");
    EXPECT_EQ(expo_count_prefix(t.data, "# EOF"), 1);
    kvbm_text_free(&t);
    fx_fini(&f);
}

/* ---- generic sources ------------------------------------------------------------------ */

typedef struct gen_src {
    int collected, destroyed;
    double value;
    const kvbm_metric_desc *desc;
    const char *label;
    kvbm_status last;
} gen_src;

static void gen_collect(void *ctx, kvbm_metrics_emitter *e)
{
    gen_src *g = ctx;
    g->collected++;
    const char *n[] = { "queue" }, *v[] = { g->label };
    g->last = kvbm_metrics_emit(e, g->desc, n, v, g->label ? 1 : 0, g->value);
}
static void gen_destroy(void *ctx) { ((gen_src *)ctx)->destroyed++; }
static const kvbm_metrics_source_ops gen_ops = { gen_collect, gen_destroy };

static const kvbm_metric_desc ev_desc = { "kvbm_events_published_total", "Events \"published\"\\sent\nover the wire",
                                          KVBM_METRIC_TYPE_COUNTER };
static const kvbm_metric_desc ev_desc_twin = { "kvbm_events_published_total", "other help", KVBM_METRIC_TYPE_COUNTER };
static const kvbm_metric_desc ev_desc_gauge = { "kvbm_events_published_total", "x", KVBM_METRIC_TYPE_GAUGE };
static const kvbm_metric_desc bad_desc = { "kvbm-bad", "x", KVBM_METRIC_TYPE_GAUGE };
static const kvbm_metric_desc lag_desc = { "kvbm_lag", "no _total on a counter", KVBM_METRIC_TYPE_COUNTER };

KVBM_TEST(generic_sources_add_families_merged_by_name)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    gen_src s1 = { 0, 0, 4, &ev_desc, "b", KVBM_OK }, s2 = { 0, 0, 2.5, &ev_desc_twin, "a", KVBM_OK };
    kvbm_source_id id1 = 0, id2 = 0;
    ASSERT_OK(kvbm_aggregator_add_source(a, &gen_ops, &s1, &id1));
    ASSERT_OK(kvbm_aggregator_add_source(a, &gen_ops, &s2, &id2));
    EXPECT_NE(id1, 0);
    EXPECT_NE(id1, id2);
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_EQ(s1.collected, 1);
    EXPECT_EQ(s2.collected, 1);
    /* 0.0.4 help escapes only backslash and newline; the first descriptor's help wins */
    EXPECT_STR_EQ(t.data, "# HELP kvbm_events_published_total Events \"published\"\\\\sent\\nover the wire\n"
                          "# TYPE kvbm_events_published_total counter\n"
                          "kvbm_events_published_total{queue=\"a\"} 2.5\n"
                          "kvbm_events_published_total{queue=\"b\"} 4\n");
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_OPENMETRICS, &t));
    EXPECT_STR_CONTAINS(t.data, "# HELP kvbm_events_published Events \\\"published\\\"\\\\sent\\nover the wire\n");
    /* a family of that name with another type is rejected (sample dropped) */
    s2.desc = &ev_desc_gauge;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_STATUS(s2.last, KVBM_EINVAL);
    EXPECT_EQ(expo_count_prefix(t.data, "kvbm_events_published_total{"), 1);
    s2.desc = &bad_desc;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_STATUS(s2.last, KVBM_EINVAL);
    /* a counter without _total gets it on its samples in OpenMetrics only */
    s2.desc = &lag_desc;
    s2.label = NULL;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_OPENMETRICS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "# TYPE kvbm_lag counter"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_lag_total 2.5"));
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_lag 2.5"));
    /* external labels on a sample without labels of its own */
    const char *n[] = { "worker_id" }, *v[] = { "w0" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, n, v, 1));
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_lag{worker_id=\"w0\"} 2.5"));
    EXPECT_TRUE(expo_has_line(t.data, "kvbm_events_published_total{queue=\"b\",worker_id=\"w0\"} 4"));
    /* a source label that is also an external label is rejected */
    const char *n2[] = { "queue" }, *v2[] = { "q" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, n2, v2, 1));
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_STATUS(s1.last, KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "external");
    /* removal */
    EXPECT_OK(kvbm_aggregator_remove_source(a, id1));
    EXPECT_EQ(s1.destroyed, 1);
    EXPECT_STATUS(kvbm_aggregator_remove_source(a, id1), KVBM_ENOENT);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "no source");
    EXPECT_EQ(s1.destroyed, 1);
    EXPECT_EQ(kvbm_aggregator_source_count(a), 1);
    kvbm_text_free(&t);
    kvbm_aggregator_release(a); /* destroys the remaining source */
    EXPECT_EQ(s2.destroyed, 1);
}

static void emit_values(void *ctx, kvbm_metrics_emitter *e)
{
    (void)ctx;
    static const kvbm_metric_desc d = { "v", "values", KVBM_METRIC_TYPE_GAUGE };
    static const double vals[] = { NAN, INFINITY, -INFINITY, 0.7, 1e20, -5, 0.1 + 0.2, 9007199254740993.0 };
    static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g", "h" };
    const char *ln[] = { "k" };
    for (int i = 0; i < 8; i++) (void)kvbm_metrics_emit(e, &d, ln, &names[i], 1, vals[i]);
}

KVBM_TEST(values_are_formatted_exactly)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    kvbm_metrics_source_ops ops = { emit_values, NULL };
    ASSERT_OK(kvbm_aggregator_add_source(a, &ops, NULL, NULL));
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_STR_EQ(t.data, "# HELP v values\n# TYPE v gauge\n"
                          "v{k=\"a\"} NaN\nv{k=\"b\"} +Inf\nv{k=\"c\"} -Inf\nv{k=\"d\"} 0.7\n"
                          "v{k=\"e\"} 1e+20\nv{k=\"f\"} -5\nv{k=\"g\"} 0.30000000000000004\n"
                          "v{k=\"h\"} 9007199254740992\n");
    kvbm_text_free(&t);
    kvbm_aggregator_release(a);
}

KVBM_TEST(bad_arguments_fail_with_a_message)
{
    kvbm_aggregator *a;
    EXPECT_STATUS(kvbm_aggregator_create(NULL), KVBM_EINVAL);
    ASSERT_OK(kvbm_aggregator_create(&a));
    EXPECT_STATUS(kvbm_aggregator_add_metrics(a, NULL, NULL), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "metrics");
    EXPECT_STATUS(kvbm_aggregator_add_metrics(NULL, NULL, NULL), KVBM_EINVAL);
    kvbm_metrics_source_ops none = { NULL, NULL };
    EXPECT_STATUS(kvbm_aggregator_add_source(a, &none, NULL, NULL), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "ops->collect");
    EXPECT_STATUS(kvbm_aggregator_add_source(a, NULL, NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_aggregator_remove_source(NULL, 1), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_aggregator_remove_source(a, 12345), KVBM_ENOENT);
    EXPECT_STATUS(kvbm_metrics_emit(NULL, &ev_desc, NULL, NULL, 0, 1), KVBM_EINVAL);
    EXPECT_EQ(kvbm_aggregator_source_count(NULL), 0);
    EXPECT_TRUE(kvbm_aggregator_acquire(NULL) == NULL);
    kvbm_aggregator_release(NULL);
    kvbm_text_free(NULL);
    EXPECT_EQ(kvbm_aggregator_acquire(a), a);
    kvbm_aggregator_release(a);
    kvbm_aggregator_release(a);
}

KVBM_TEST(content_types_and_accept_negotiation)
{
    EXPECT_STR_EQ(kvbm_exposition_content_type(KVBM_EXPOSITION_PROMETHEUS), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_STR_EQ(kvbm_exposition_content_type(KVBM_EXPOSITION_OPENMETRICS),
                  "application/openmetrics-text; version=1.0.0; charset=utf-8");
    EXPECT_EQ(kvbm_exposition_from_accept(NULL), KVBM_EXPOSITION_PROMETHEUS);
    EXPECT_EQ(kvbm_exposition_from_accept("*/*"), KVBM_EXPOSITION_PROMETHEUS);
    EXPECT_EQ(kvbm_exposition_from_accept("text/plain;version=0.0.4"), KVBM_EXPOSITION_PROMETHEUS);
    EXPECT_EQ(kvbm_exposition_from_accept("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                                          "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
              KVBM_EXPOSITION_OPENMETRICS);
    EXPECT_EQ(kvbm_exposition_from_accept("Application/OpenMetrics-Text"), KVBM_EXPOSITION_OPENMETRICS);
}

/* Fail each allocation of a first scrape in turn: ENOMEM or OK, never a leak or a crash;
 * a source whose add fails is not destroyed. */
KVBM_TEST(allocation_failures_during_scrapes_and_adds_are_clean)
{
    for (long nth = 1; nth < 64; nth++) {
        kvbm_aggregator *a;
        ASSERT_OK(kvbm_aggregator_create(&a));
        kvbm_metrics *m = mk("G1");
        ASSERT_TRUE(m != NULL);
        gen_src g = { 0, 0, 1, &ev_desc, "q", KVBM_OK };
        const char *n[] = { "worker_id" }, *v[] = { "w0" };
        kvbm__alloc_fail_set(nth);
        kvbm_status s1 = kvbm_aggregator_add_metrics(a, m, NULL);
        kvbm_status s2 = kvbm_aggregator_add_source(a, &gen_ops, &g, NULL);
        kvbm_status s3 = kvbm_aggregator_set_external_labels(a, n, v, 1);
        kvbm_text t = KVBM_TEXT_INIT;
        kvbm_status s4 = kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t);
        kvbm__alloc_fail_set(0);
        EXPECT_TRUE(s1 == KVBM_OK || s1 == KVBM_ENOMEM);
        EXPECT_TRUE(s2 == KVBM_OK || s2 == KVBM_ENOMEM);
        EXPECT_TRUE(s3 == KVBM_OK || s3 == KVBM_ENOMEM);
        EXPECT_TRUE(s4 == KVBM_OK || s4 == KVBM_ENOMEM);
        if (s2 != KVBM_OK) EXPECT_EQ(g.destroyed, 0);
        if (s1 == KVBM_OK && s4 == KVBM_OK) EXPECT_TRUE(expo_has_line(t.data, s3 == KVBM_OK
            ? "kvbm_allocations_total{pool=\"G1\",worker_id=\"w0\"} 0" : "kvbm_allocations_total{pool=\"G1\"} 0"));
        /* the next scrape works */
        EXPECT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
        kvbm_text_free(&t);
        kvbm_aggregator_release(a);
        if (s2 == KVBM_OK) EXPECT_EQ(g.destroyed, 1);
        kvbm_metrics_release(m);
    }
}
