/* tests/ext/http/test_parsers.c - the exposition checked by two independent parsers:
 * `promtool check metrics` (Debian prometheus) on the rendered text, and Python's
 * prometheus_client parsers (Debian python3-prometheus-client), which scrape our endpoint
 * over loopback in both formats and compare every expected sample - names, label values
 * with quotes, backslashes, newlines and UTF-8, values. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "kvbm/metrics_server.h"
#include "kvbm/stats.h"
#include "support/exposition.h"
#include "support/net.h"

static const char py_script[] =
    "import json, sys, urllib.request\n"
    "from prometheus_client.parser import text_string_to_metric_families as prom_parse\n"
    "from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse\n"
    "port, expect_path = sys.argv[1], sys.argv[2]\n"
    "expect = json.load(open(expect_path, encoding='utf-8'))\n"
    "def scrape(accept):\n"
    "    req = urllib.request.Request('http://127.0.0.1:%s/metrics' % port, headers={'Accept': accept})\n"
    "    with urllib.request.urlopen(req, timeout=30) as r:\n"
    "        return r.headers.get('Content-Type'), r.read().decode('utf-8')\n"
    "for fmt, accept, parse, ctype in (\n"
    "        ('prometheus', 'text/plain;version=0.0.4', prom_parse, 'text/plain; version=0.0.4; charset=utf-8'),\n"
    "        ('openmetrics', 'application/openmetrics-text;version=1.0.0', om_parse,\n"
    "         'application/openmetrics-text; version=1.0.0; charset=utf-8')):\n"
    "    got_ct, text = scrape(accept)\n"
    "    if got_ct != ctype:\n"
    "        sys.exit('%s: content type %r' % (fmt, got_ct))\n"
    "    fams = list(parse(text))\n"
    "    names = [f.name for f in fams]\n"
    "    if len(names) != len(set(names)):\n"
    "        sys.exit('%s: a family appears twice: %r' % (fmt, names))\n"
    "    samples = [(s.name, dict(s.labels), s.value, f.type) for f in fams for s in f.samples]\n"
    "    for name, labels, value, typ in expect:\n"
    "        hits = [s for s in samples if s[0] == name and s[1] == labels]\n"
    "        if len(hits) != 1 or hits[0][2] != value or hits[0][3] != typ:\n"
    "            sys.exit('%s: expected %r %r = %r (%s), found %r' % (fmt, name, labels, value, typ, hits))\n"
    "    print('OK', fmt, len(fams), len(samples))\n";

/* instance_id and worker_id external labels; pools "G1" and "\u00e9t\u00e9" (UTF-8). */
static const char expect_json[] =
    "[[\"kvbm_allocations_total\", {\"pool\": \"G1\", \"instance_id\": \"node-1\", \"worker_id\": \"w\\\"0\\\\x\\ny\"}, 7, \"counter\"],"
    " [\"kvbm_allocations_total\", {\"pool\": \"\\u00e9t\\u00e9\", \"instance_id\": \"node-1\", \"worker_id\": \"w\\\"0\\\\x\\ny\"}, 3, \"counter\"],"
    " [\"kvbm_reset_pool_size\", {\"pool\": \"G1\", \"instance_id\": \"node-1\", \"worker_id\": \"w\\\"0\\\\x\\ny\"}, 42, \"gauge\"],"
    " [\"kvbm_inflight_mutable\", {\"pool\": \"G1\", \"instance_id\": \"node-1\", \"worker_id\": \"w\\\"0\\\\x\\ny\"}, -2, \"gauge\"],"
    " [\"kvbm_allocation_rate\", {\"pool\": \"G1\", \"instance_id\": \"node-1\", \"worker_id\": \"w\\\"0\\\\x\\ny\"}, 3.5, \"gauge\"],"
    " [\"kvbm_match_hit_rate\", {\"pool\": \"G1\", \"instance_id\": \"node-1\", \"worker_id\": \"w\\\"0\\\\x\\ny\"}, 0.75, \"gauge\"]]";

static uint64_t fixed_clock(void *ctx) { return *(uint64_t *)ctx; }

KVBM_TEST(promtool_and_python_prometheus_client_accept_the_exposition)
{
    char dir[256];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    kvbm_aggregator *a;
    ASSERT_OK(kvbm_aggregator_create(&a));
    kvbm_metrics *g1, *g2;
    ASSERT_OK(kvbm_metrics_create("G1", &g1));
    ASSERT_OK(kvbm_metrics_create("\xc3\xa9t\xc3\xa9", &g2));
    ASSERT_OK(kvbm_aggregator_add_metrics(a, g1, NULL));
    ASSERT_OK(kvbm_aggregator_add_metrics(a, g2, NULL));
    const char *n[] = { "instance_id", "worker_id" }, *v[] = { "node-1", "w\"0\\x\ny" };
    ASSERT_OK(kvbm_aggregator_set_external_labels(a, n, v, 2));
    /* stats gauges: 7 allocations over 2 s after the first sample, 3 of 4 hashes matched */
    uint64_t now = 1;
    kvbm_stats_config sc = KVBM_STATS_CONFIG_INIT;
    sc.clock = fixed_clock;
    sc.clock_ctx = &now;
    kvbm_stats *st;
    ASSERT_OK(kvbm_stats_create(g1, &sc, &st));
    kvbm_stats_set_enabled(st, true);
    ASSERT_OK(kvbm_stats_sample(st));
    EXPECT_OK(kvbm_metrics_add(g1, KVBM_METRIC_allocations, 7));
    EXPECT_OK(kvbm_metrics_add(g1, KVBM_METRIC_match_hashes_requested, 4));
    EXPECT_OK(kvbm_metrics_add(g1, KVBM_METRIC_match_blocks_returned, 3));
    EXPECT_OK(kvbm_metrics_add(g2, KVBM_METRIC_allocations, 3));
    EXPECT_OK(kvbm_metrics_set(g1, KVBM_METRIC_reset_pool_size, 42));
    EXPECT_OK(kvbm_metrics_add(g1, KVBM_METRIC_inflight_mutable, -2));
    now += UINT64_C(2000000000);
    ASSERT_OK(kvbm_stats_sample(st));
    ASSERT_OK(kvbm_stats_add_to_aggregator(st, a, NULL));

    /* promtool on both renders (it reads the 0.0.4 text format; OpenMetrics too since 2.x) */
    char log[512];
    kvbm_text t = KVBM_TEXT_INIT;
    ASSERT_OK(kvbm_aggregator_render_text(a, KVBM_EXPOSITION_PROMETHEUS, &t));
    EXPECT_EQ(expo_promtool_check(dir, t.data, t.len), 0);
    int rc;
    char *out;

    /* python scrapes the endpoint in both formats */
    kvbm_metrics_server_config c = KVBM_METRICS_SERVER_CONFIG_INIT;
    c.port = 0;
    kvbm_metrics_server *srv;
    ASSERT_OK(kvbm_metrics_server_start(a, &c, &srv));
    char script[512], expect[512], port[16];
    snprintf(script, sizeof script, "%s/check.py", dir);
    snprintf(expect, sizeof expect, "%s/expect.json", dir);
    snprintf(log, sizeof log, "%s/python.log", dir);
    snprintf(port, sizeof port, "%u", (unsigned)kvbm_metrics_server_port(srv));
    ASSERT_TRUE(file_write(script, py_script, sizeof py_script - 1));
    ASSERT_TRUE(file_write(expect, expect_json, sizeof expect_json - 1));
    char *py[] = { "/usr/bin/python3", script, port, expect, NULL };
    rc = proc_run(py, NULL, log, 120000);
    out = file_read(log);
    if (rc != 0) printf("python (exit %d):\n%s\n--- prometheus text ---\n%s\n", rc, out ? out : "", t.data);
    EXPECT_EQ(rc, 0);
    EXPECT_STR_CONTAINS(out, "OK prometheus 25 44");  /* 19 + 6 families; 2 x 19 + 6 samples */
    EXPECT_STR_CONTAINS(out, "OK openmetrics 25 44");
    free(out);
    kvbm_metrics_server_stop(srv);
    kvbm_text_free(&t);
    kvbm_stats_release(st);
    kvbm_aggregator_release(a);
    kvbm_metrics_release(g1);
    kvbm_metrics_release(g2);
    tmp_dir_remove(dir);
}
