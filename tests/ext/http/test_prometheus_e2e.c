/* tests/ext/http/test_prometheus_e2e.c - end to end with a real Prometheus server (Debian
 * prometheus): the test serves a manager's metrics on a free loopback port, starts
 * prometheus on another free loopback port with its own temporary config (1 s scrape
 * interval) and --storage.tsdb.path, and asks its HTTP API for
 * kvbm_allocations_total{pool="G1"} until the answer is the number of blocks the test
 * allocated. Prometheus is always stopped (also on failure; it dies with the test if the
 * test crashes), and every wait is bounded. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "kvbm/metrics_server.h"
#include "support/manager_helpers.h"
#include "support/net.h"

#define ALLOCATED 37

/* Start prometheus on a free port; pid, or -1 after recording why. */
static pid_t start_prometheus(const char *dir, uint16_t target, uint16_t *port)
{
    char cfg[512], data[512], listen[64], log[512], cfg_flag[600], data_flag[600];
    snprintf(cfg, sizeof cfg, "%s/prometheus.yml", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(log, sizeof log, "%s/prometheus.log", dir);
    char yml[512];
    int n = snprintf(yml, sizeof yml,
                     "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                     "scrape_configs:\n  - job_name: kvbm\n    static_configs:\n"
                     "      - targets: ['127.0.0.1:%u']\n", (unsigned)target);
    if (!file_write(cfg, yml, (size_t)n)) return -1;
    for (int attempt = 0; attempt < 3; attempt++) { /* a free port can be taken meanwhile */
        *port = net_free_port();
        snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%u", (unsigned)*port);
        snprintf(cfg_flag, sizeof cfg_flag, "--config.file=%s", cfg);
        snprintf(data_flag, sizeof data_flag, "--storage.tsdb.path=%s", data);
        char *argv[] = { "prometheus", cfg_flag, data_flag, listen, "--log.level=warn", NULL };
        pid_t pid = proc_spawn(argv, NULL, log);
        if (pid < 0) return -1;
        for (int waited = 0; waited < 60000; waited += 200) { /* ready within 60 s */
            int st;
            if (proc_wait(pid, 0, &st)) break; /* exited: retry on another port */
            net_response r;
            int code = net_get(*port, "/-/ready", NULL, 2000, &r);
            net_response_free(&r);
            if (code == 200) return pid;
            sleep_ms(200);
        }
        proc_stop(pid, 5000);
    }
    char *text = file_read(log);
    kvbm_test_fail(__FILE__, __LINE__, "prometheus did not become ready:\n%s", text ? text : "(no log)");
    free(text);
    return -1;
}

/* Query until the instant vector's value is @want (bounded); the last answer in @last. */
static bool query_until(uint16_t port, const char *want, char *last, size_t cap)
{
    const char *path = "/api/v1/query?query=kvbm_allocations_total%7Bpool%3D%22G1%22%7D";
    char needle[64];
    snprintf(needle, sizeof needle, ",\"%s\"]", want); /* "value":[<time>,"37"] */
    for (int waited = 0; waited < 60000; waited += 500) {
        net_response r;
        if (net_get(port, path, NULL, 5000, &r) == 200 && r.body != NULL) {
            snprintf(last, cap, "%s", r.body);
            bool ok = strstr(r.body, "\"status\":\"success\"") != NULL &&
                      strstr(r.body, "\"pool\":\"G1\"") != NULL && strstr(r.body, needle) != NULL;
            net_response_free(&r);
            if (ok) return true;
        } else {
            net_response_free(&r);
        }
        sleep_ms(500);
    }
    return false;
}

KVBM_TEST(a_real_prometheus_scrapes_the_endpoint_and_answers_promql)
{
    /* a manager whose metrics the test sets by using it */
    kvbm_manager *m = create_test_manager(64);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[ALLOCATED];
    ASSERT_OK(kvbm_manager_allocate(m, ALLOCATED, mb, NULL, NULL));
    for (int i = 0; i < ALLOCATED; i++) EXPECT_OK(kvbm_mutable_release(mb[i]));
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    ASSERT_OK(kvbm_aggregator_add_metrics(a, kvbm_manager_metrics(m), NULL));
    const char *n[] = { "worker_id" }, *v[] = { "w0" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, n, v, 1));
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    c.port = 0;
    kvbm_metrics_server *srv;
    ASSERT_OK(kvbm_metrics_server_start(a, &c, &srv));

    char dir[256];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    uint16_t pport = 0;
    pid_t prom = start_prometheus(dir, kvbm_metrics_server_port(srv), &pport);
    if (prom > 0) {
        char last[4096] = "";
        char want[16];
        snprintf(want, sizeof want, "%d", ALLOCATED);
        bool ok = query_until(pport, want, last, sizeof last);
        if (!ok) kvbm_test_fail(__FILE__, __LINE__, "no kvbm_allocations_total{pool=\"G1\"} = %s; last answer: %s", want, last);
        EXPECT_STR_CONTAINS(last, "\"worker_id\":\"w0\"");
        EXPECT_STR_CONTAINS(last, "\"job\":\"kvbm\"");
        EXPECT_GT(kvbm_metrics_server_requests(srv), 0);
        proc_stop(prom, 10000);
    }
    kvbm_metrics_server_stop(srv);
    kvbm_aggregator_release(a);
    tm_manager_destroy(m);
    tmp_dir_remove(dir);
}
