/* tests/ext/http/test_server_concurrent.c - the endpoint scraped over loopback while 4
 * threads hammer 4 managers (also run under TSan): every scrape is a 200 with the 19
 * families of every pool, counters never go backwards, and the last scrape after the
 * workers stop shows exactly the allocations they made. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "kvbm/metrics_server.h"
#include "support/exposition.h"
#include "support/manager_helpers.h"
#include "support/net.h"

#define WORKERS 4

typedef struct worker {
    kvbm_manager *m;
    atomic_bool  *stop;
    uint64_t      allocations;
    int           index;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    uint32_t base = (uint32_t)w->index * 1000000u;
    while (!atomic_load(w->stop)) {
        kvbm_block *b = register_one(w->m, base + (uint32_t)(w->allocations % 97) * 4);
        if (b == NULL) break;
        w->allocations++;
        kvbm_plh h = kvbm_block_seq_hash(b);
        kvbm_block *again[1];
        size_t matched = 0;
        if (kvbm_manager_match_blocks(w->m, &h, 1, again, &matched) == KVBM_OK && matched == 1)
            (void)kvbm_block_release(again[0]);
        (void)kvbm_block_release(b);
    }
    return NULL;
}

static bool pool_value(const char *text, int k, double *v)
{
    char series[64];
    snprintf(series, sizeof series, "kvbm_allocations_total{pool=\"w%d\"}", k);
    return expo_value(text, series, v);
}

KVBM_TEST(scrapes_over_loopback_while_four_threads_hammer_managers)
{
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    worker w[WORKERS];
    atomic_bool stop;
    atomic_init(&stop, false);
    char labels[WORKERS][8];
    for (int k = 0; k < WORKERS; k++) {
        snprintf(labels[k], sizeof labels[k], "w%d", k);
        tm_opts o = TM_OPTS_INIT(64);
        o.label = labels[k];
        w[k] = (worker){ tm_manager_create(&o), &stop, 0, k };
        ASSERT_TRUE(w[k].m != NULL);
        ASSERT_OK(kvbm_aggregator_add_metrics(a, kvbm_manager_metrics(w[k].m), NULL));
    }
    tm_auto_check(false); /* after tm_manager_create (which turns it on): concurrent phase */
    const char *n[] = { "instance_id" }, *v[] = { "test" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, n, v, 1));
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    c.port = 0;
    kvbm_metrics_server *srv;
    ASSERT_OK(kvbm_metrics_server_start(a, &c, &srv));
    uint16_t port = kvbm_metrics_server_port(srv);
    pthread_t th[WORKERS];
    for (int k = 0; k < WORKERS; k++) ASSERT_EQ(pthread_create(&th[k], NULL, hammer, &w[k]), 0);
    int scrapes = test_under_sanitizer() ? 60 : 300;
    double last[WORKERS] = { 0 };
    char series[WORKERS][80];
    for (int k = 0; k < WORKERS; k++)
        snprintf(series[k], sizeof series[k], "kvbm_allocations_total{pool=\"w%d\",instance_id=\"test\"}", k);
    for (int i = 0; i < scrapes; i++) {
        net_response r;
        int st = net_get(port, "/metrics", (i & 1) ? "application/openmetrics-text" : NULL, 10000, &r);
        if (st != 200) {
            kvbm_test_fail(__FILE__, __LINE__, "scrape %d: status %d", i, st);
            net_response_free(&r);
            break;
        }
        EXPECT_EQ(expo_count_prefix(r.body, "# TYPE "), 19);
        for (int k = 0; k < WORKERS; k++) {
            double x = -1;
            EXPECT_TRUE(expo_value(r.body, series[k], &x));
            EXPECT_TRUE(x >= last[k]);
            last[k] = x;
        }
        net_response_free(&r);
    }
    atomic_store(&stop, true);
    for (int k = 0; k < WORKERS; k++) pthread_join(th[k], NULL);
    net_response r;
    ASSERT_EQ(net_get(port, "/metrics", NULL, 10000, &r), 200);
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, NULL, NULL, 0));
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    for (int k = 0; k < WORKERS; k++) {
        double x = -1;
        EXPECT_TRUE(expo_value(r.body, series[k], &x));
        EXPECT_GT(w[k].allocations, 0);
        EXPECT_EQ((uint64_t)x, w[k].allocations);
        EXPECT_TRUE(pool_value(t.data, k, &x));
        EXPECT_EQ((uint64_t)x, w[k].allocations);
    }
    net_response_free(&r);
    kvbm_text_free(&t);
    kvbm_metrics_server_stop(srv);
    /* the sources hold their metrics: destroying the managers first is fine, and so is
     * scraping afterwards */
    for (int k = 0; k < WORKERS; k++) {
        EXPECT_TRUE(tm_check(w[k].m, __FILE__, __LINE__));
        tm_manager_destroy(w[k].m);
    }
    size_t len = 0;
    char small[1];
    EXPECT_STATUS(kvbm_aggregator_render(a, KVBM_EXPOSITION_PROMETHEUS, small, sizeof small, &len), KVBM_EOVERFLOW);
    EXPECT_GT(len, 0);
    kvbm_aggregator_release(a);
}
