/* tests/metrics/test_aggregator_concurrent.c - scrapes while sources come and go, external
 * labels change, counters move and a stats sampler runs (also run under TSan). Every scrape
 * must be well-formed, counters must never go backwards between a thread's scrapes, and
 * every removed generic source must be destroyed exactly once. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "kvbm/stats.h"
#include "support/exposition.h"

#define POOLS 4

typedef struct shared {
    kvbm_aggregator *a;
    kvbm_metrics    *m[POOLS];
    atomic_bool      done;
    atomic_int       gen_added, gen_destroyed;
    int              iters;
} shared;

static void gen_collect(void *ctx, kvbm_metrics_emitter *e)
{
    static const kvbm_metric_desc d = { "kvbm_test_source_up", "A generic source", KVBM_METRIC_TYPE_GAUGE };
    (void)ctx;
    const char *n[] = { "source" }, *v[] = { "gen" };
    (void)kvbm_metrics_emit(e, &d, n, v, 1, 1);
}
static void gen_destroy(void *ctx) { atomic_fetch_add(&((shared *)ctx)->gen_destroyed, 1); }

/* Every sample line is `name{...} value` or `name value`; families sorted (by sample name:
 * in OpenMetrics the counter family names shown lack _total). */
static bool well_formed(const char *t, bool om)
{
    if (!om && !expo_families_sorted(t)) return false;
    if (om && (strlen(t) < 6 || strcmp(t + strlen(t) - 6, "# EOF\n") != 0)) return false;
    for (const char *p = t; *p; ) {
        const char *e = strchr(p, '\n');
        if (e == NULL) return false; /* every line ends with a newline */
        if (*p != '#') {
            const char *sp = memchr(p, ' ', (size_t)(e - p));
            if (sp == NULL || sp == p) return false;
            char *end;
            (void)strtod(sp + 1, &end);
            if (end != e) return false;
        }
        p = e + 1;
    }
    return true;
}

static void *scraper(void *arg)
{
    shared *s = arg;
    kvbm_text t = KVBM_TEXT_INIT;
    double last[POOLS] = { 0 };
    for (int i = 0; i < s->iters; i++) {
        kvbm_exposition fmt = (i & 1) ? KVBM_EXPOSITION_OPENMETRICS : KVBM_EXPOSITION_PROMETHEUS;
        if (kvbm_aggregator_render_text(s->a, fmt, &t) != KVBM_OK) {
            kvbm_test_fail(__FILE__, __LINE__, "render failed");
            break;
        }
        if (!well_formed(t.data, fmt == KVBM_EXPOSITION_OPENMETRICS)) {
            kvbm_test_fail(__FILE__, __LINE__, "malformed scrape:\n%s", t.data);
            break;
        }
        for (int k = 0; k < POOLS; k++) {
            char series[64];
            snprintf(series, sizeof series, "kvbm_allocations_total{pool=\"P%d\"", k);
            /* find the value whatever the external labels are */
            const char *p = strstr(t.data, series);
            if (p == NULL) continue;
            double v = strtod(strchr(p, ' ') + 1, NULL);
            if (v < last[k]) kvbm_test_fail(__FILE__, __LINE__, "P%d went back: %f < %f", k, v, last[k]);
            last[k] = v;
        }
    }
    kvbm_text_free(&t);
    return NULL;
}

static void *churn(void *arg)
{
    shared *s = arg;
    unsigned r = 12345;
    static const kvbm_metrics_source_ops ops = { gen_collect, gen_destroy };
    while (!atomic_load(&s->done)) {
        r = r * 1103515245u + 12345u;
        int k = (int)((r >> 16) % POOLS);
        kvbm_source_id id1, id2;
        if (kvbm_aggregator_add_metrics(s->a, s->m[k], &id1) != KVBM_OK) break;
        if (kvbm_aggregator_add_source(s->a, &ops, s, &id2) != KVBM_OK) break;
        atomic_fetch_add(&s->gen_added, 1);
        const char *n[] = { "instance_id", "worker_id" };
        const char *v[] = { (r & 1) ? "node-1" : "node-\"2\"", (r & 2) ? "w0" : "w1\n" };
        (void)kvbm_aggregator_set_external_labels(s->a, n, v, (r >> 8) % 3);
        sched_yield();
        (void)kvbm_aggregator_remove_source(s->a, id2);
        (void)kvbm_aggregator_remove_source(s->a, id1);
    }
    return NULL;
}

static void *updater(void *arg)
{
    shared *s = arg;
    while (!atomic_load(&s->done))
        for (int k = 0; k < POOLS; k++) (void)kvbm_metrics_add(s->m[k], KVBM_METRIC_allocations, 1);
    return NULL;
}

KVBM_TEST(scrapes_while_sources_labels_and_values_change)
{
    shared s;
    memset(&s, 0, sizeof s);
    s.iters = test_under_sanitizer() ? 400 : 3000;
    ASSERT_OK(kvbm_aggregator_create(&s.a));
    for (int k = 0; k < POOLS; k++) {
        char l[8];
        snprintf(l, sizeof l, "P%d", k);
        ASSERT_OK(kvbm_metrics_create(l, &s.m[k]));
    }
    /* one permanent source and a running stats sampler exported through the aggregator */
    ASSERT_OK(kvbm_aggregator_add_metrics(s.a, s.m[0], NULL));
    kvbm_stats_config c = KVBM_STATS_CONFIG_INIT;
    c.sample_interval_ns = 1000000;
    kvbm_stats *st;
    ASSERT_OK(kvbm_stats_create(s.m[0], &c, &st));
    kvbm_stats_set_enabled(st, true);
    ASSERT_OK(kvbm_stats_add_to_aggregator(st, s.a, NULL));
    ASSERT_OK(kvbm_stats_start(st));
    pthread_t sc[2], ch, up;
    ASSERT_EQ(pthread_create(&ch, NULL, churn, &s), 0);
    ASSERT_EQ(pthread_create(&up, NULL, updater, &s), 0);
    for (int i = 0; i < 2; i++) ASSERT_EQ(pthread_create(&sc[i], NULL, scraper, &s), 0);
    for (int i = 0; i < 2; i++) pthread_join(sc[i], NULL);
    atomic_store(&s.done, true);
    pthread_join(ch, NULL);
    pthread_join(up, NULL);
    EXPECT_OK(kvbm_stats_stop(st));
    kvbm_stats_release(st);
    EXPECT_GT(atomic_load(&s.gen_added), 0);
    EXPECT_EQ(atomic_load(&s.gen_destroyed), atomic_load(&s.gen_added));
    EXPECT_EQ(kvbm_aggregator_source_count(s.a), 2);
    kvbm_aggregator_release(s.a);
    for (int k = 0; k < POOLS; k++) kvbm_metrics_release(s.m[k]);
}
