/* tests/tools/test_cli_events.c - `kvbm replay --events URL` and `kvbm events listen URL`
 * as child processes: a replay publishes to a real nats-server (started here on a free
 * loopback port) and a listener prints what it receives; the listener also decodes router
 * events and reports garbage, over NATS and over ZeroMQ (a PUB from this test). The printed
 * lines are checked against the replay's own counters. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "support/net.h"
#include "support/proc.h"

#ifndef KVBM_TOOL_PATH
#  error "KVBM_TOOL_PATH must name the kvbm binary"
#endif

#if defined(KVBM_CLI_HAVE_EVENTS) && defined(KVBM_CLI_HAVE_NATS)
#  include "kvbm/events_wire.h"
#  include "kvbm/nats.h"

/* Wait (bounded: 60 s) until the log at @log contains @needle @times times; the text
 * (malloc'd) or NULL. */
static char *wait_log(const char *log, const char *needle, int times)
{
    for (int waited = 0; waited < 60000; waited += 20) {
        char *t = file_read(log);
        int n = 0;
        for (const char *p = t ? strstr(t, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
        if (n >= times) return t;
        free(t);
        sleep_ms(20);
    }
    return NULL;
}

static unsigned long long field(const char *text, const char *key)
{
    const char *p = text ? strstr(text, key) : NULL;
    return p ? strtoull(p + strlen(key), NULL, 10) : ~0ull;
}


/* A nats-server on a free loopback port (retried if the port was taken meanwhile); @url
 * receives nats://127.0.0.1:PORT@suffix. */
static bool nats_up(test_proc *srv, char *url, size_t cap, const char *suffix)
{
    for (int tries = 0; tries < 5; tries++) {
        int port = test_free_port();
        if (port && test_nats_server_start(srv, port, 10000)) {
            snprintf(url, cap, "nats://127.0.0.1:%d%s", port, suffix);
            return true;
        }
        srv->pid = 0;
    }
    return false;
}

/* Hashes in the JSON lines of @kind ("Create"/"Remove") over all lines; *@batches counts
 * the lines, *@shutdown the Shutdown lines, *@seq_ok whether "n" runs 1, 2, 3, ... */
static size_t count_hashes(const char *text, const char *kind, size_t *batches, size_t *shutdown, bool *seq_ok)
{
    size_t n = 0, lines = 0;
    char key[32];
    snprintf(key, sizeof key, "{\"%s\":[", kind);
    *shutdown = 0;
    *seq_ok = true;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, "{\"n\":", 5) != 0) continue;
        lines++;
        if (strtoull(l + 5, NULL, 10) != lines) *seq_ok = false;
        const char *end = strchr(l, '\n');
        const char *p = strstr(l, key);
        if (p && (!end || p < end)) {
            n++;
            for (p += strlen(key); *p && *p != ']'; p++) n += *p == ',';
        }
        const char *s = strstr(l, "\"Shutdown\"");
        if (s && (!end || s < end)) (*shutdown)++;
    }
    *batches = lines;
    return n;
}

KVBM_TEST(replay_events_to_nats_are_printed_by_events_listen)
{
    char dir[256], llog[512], rlog[512], url[128];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    snprintf(llog, sizeof llog, "%s/listen.log", dir);
    snprintf(rlog, sizeof rlog, "%s/replay.log", dir);
    test_proc srv = { 0 };
    ASSERT_TRUE(nats_up(&srv, url, sizeof url, ""));
    char *largv[] = { KVBM_TOOL_PATH, "events", "listen", url, "--format", "json", "--timeout", "120", NULL };
    pid_t lp = proc_spawn(largv, NULL, llog);
    EXPECT_TRUE(lp > 0);
    char *t = wait_log(llog, "kvbm: listening on", 1);
    EXPECT_TRUE(t != NULL);
    free(t);

    char *rargv[] = { KVBM_TOOL_PATH, "replay", "--backend", "lru", "--requests", "40", "--events", url, NULL };
    EXPECT_EQ(proc_run(rargv, NULL, rlog, 120000), 0);
    char *rt = file_read(rlog);
    EXPECT_STR_CONTAINS(rt, "kvbm: events: ");
    unsigned long long created = field(rt, "kvbm: events: "), removed = field(rt, " created, ");
    unsigned long long batches = field(rt, " published in ");
    EXPECT_TRUE(created > 0 && created != ~0ull);
    EXPECT_EQ(created, removed); /* every block is back in the pool after the run */
    EXPECT_STR_CONTAINS(rt, "lost 0, publish errors 0, flush errors 0");

    /* the listener prints every batch, the Shutdown last */
    t = wait_log(llog, "\"Shutdown\"", 1);
    ASSERT_TRUE(t != NULL);
    size_t lines = 0, shutdown = 0;
    bool seq_ok = false;
    EXPECT_EQ(count_hashes(t, "Create", &lines, &shutdown, &seq_ok), created);
    EXPECT_EQ(count_hashes(t, "Remove", &lines, &shutdown, &seq_ok), removed);
    EXPECT_EQ(lines, batches);
    EXPECT_EQ(shutdown, 1);
    EXPECT_TRUE(seq_ok);
    EXPECT_STR_CONTAINS(t, "\"dialect\":\"kvbm\",\"source\":\"kvbm.events\",\"event\":{\"events\":");
    free(t);
    free(rt);

    /* a router event and garbage on the same subject, published by a kvbm NATS publisher */
    kvbm_nats_config c = KVBM_NATS_CONFIG_INIT;
    c.url = url;
    kvbm_publisher *p = NULL;
    ASSERT_OK(kvbm_nats_publisher_create(&c, &p));
#  ifdef KVBM_CLI_HAVE_ROUTER
    /* RouterEvent {worker_id 7, storage_tier device, event {event_id 1, data cleared, dp_rank 0}}
     * as python3-msgpack encodes it */
    static const uint8_t router[] = { 0x83, 0xa9, 'w', 'o', 'r', 'k', 'e', 'r', '_', 'i', 'd', 0x07, 0xac, 's', 't',
                                      'o', 'r', 'a', 'g', 'e', '_', 't', 'i', 'e', 'r', 0xa6, 'd', 'e', 'v', 'i',
                                      'c', 'e', 0xa5, 'e', 'v', 'e', 'n', 't', 0x83, 0xa8, 'e', 'v', 'e', 'n', 't',
                                      '_', 'i', 'd', 0x01, 0xa4, 'd', 'a', 't', 'a', 0xa7, 'c', 'l', 'e', 'a', 'r',
                                      'e', 'd', 0xa7, 'd', 'p', '_', 'r', 'a', 'n', 'k', 0x00 };
    EXPECT_OK(kvbm_publisher_publish(p, "", router, sizeof router));
#  endif
#  ifdef KVBM_CLI_HAVE_VLLM
    /* vLLM KVEventBatch [1000.0, [["BlockStored", [1], nil, [10,20,30,40], 4]], 0] (spec 20
     * §4.4 fixture payload 0, legacy array form) */
    static const uint8_t vllm[] = { 0x93, 0xcb, 0x40, 0x8f, 0x40, 0, 0, 0, 0, 0, 0x91, 0x95, 0xab, 'B', 'l', 'o',
                                    'c', 'k', 'S', 't', 'o', 'r', 'e', 'd', 0x91, 0x01, 0xc0, 0x94, 0x0a, 0x14,
                                    0x1e, 0x28, 0x04, 0x00 };
    EXPECT_OK(kvbm_publisher_publish(p, "", vllm, sizeof vllm));
#  endif
    static const uint8_t junk[] = { 0xc1, 0x00, 0x01 };
    EXPECT_OK(kvbm_publisher_publish(p, "", junk, sizeof junk));
    EXPECT_OK(kvbm_publisher_flush(p, 30000));
    kvbm_publisher_release(p);
    t = wait_log(llog, "\"dialect\":\"undecodable\"", 1);
    ASSERT_TRUE(t != NULL);
    EXPECT_STR_CONTAINS(t, "\"dialect\":\"undecodable\",\"source\":\"kvbm.events\",\"bytes\":3}");
#  ifdef KVBM_CLI_HAVE_ROUTER
    EXPECT_STR_CONTAINS(t, "\"dialect\":\"router\",\"source\":\"kvbm.events\",\"event\":{\"worker_id\":7,");
#  endif
#  ifdef KVBM_CLI_HAVE_VLLM
    EXPECT_STR_CONTAINS(t, "\"dialect\":\"vllm\",\"source\":\"kvbm.events\",\"event\":{\"ts\":1000");
    EXPECT_STR_CONTAINS(t, "\"type\":\"BlockStored\",\"block_hashes\":[1]");
#  endif
    free(t);

    proc_stop(lp, 5000); /* SIGTERM: the listener prints its total and exits */
    t = file_read(llog);
    EXPECT_STR_CONTAINS(t, "(1 undecodable), interrupted");
    free(t);
    test_proc_stop(&srv, SIGTERM, 5000);
    tmp_dir_remove(dir);
}

#  ifdef KVBM_CLI_HAVE_HTTP
/* --events with --metrics-port: the final event counters are on /metrics during the hold */
KVBM_TEST(replay_events_counters_are_exported_on_the_metrics_endpoint)
{
    char dir[256], rlog[512], url[128];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    snprintf(rlog, sizeof rlog, "%s/replay.log", dir);
    test_proc srv = { 0 };
    ASSERT_TRUE(nats_up(&srv, url, sizeof url, "/kv.test"));
    char *argv[] = { KVBM_TOOL_PATH, "replay", "--backend", "lru", "--requests", "30", "--events", url,
                     "--metrics-port", "0", "--metrics-hold", "120", NULL };
    pid_t rp = proc_spawn(argv, NULL, rlog);
    EXPECT_TRUE(rp > 0);
    char *t = wait_log(rlog, "kvbm: holding http://127.0.0.1:", 1);
    ASSERT_TRUE(t != NULL);
    unsigned long long created = field(t, "kvbm: events: "), batches = field(t, " published in ");
    unsigned mport = (unsigned)field(t, "metrics on http://127.0.0.1:");
    EXPECT_STR_CONTAINS(t, "to nats://127.0.0.1:");
    free(t);
    net_response r;
    EXPECT_EQ(net_get((uint16_t)mport, "/metrics", NULL, 30000, &r), 200);
    char line[128];
    snprintf(line, sizeof line, "\nkvbm_events_emitted_total{kind=\"create\"} %llu\n", created);
    EXPECT_STR_CONTAINS(r.body, line);
    snprintf(line, sizeof line, "\nkvbm_events_pipeline_batches_total %llu\n", batches);
    EXPECT_STR_CONTAINS(r.body, line);
    EXPECT_STR_CONTAINS(r.body, "\nkvbm_events_lost_total 0\n");
    net_response_free(&r);
    proc_stop(rp, 5000);
    test_proc_stop(&srv, SIGTERM, 5000);
    tmp_dir_remove(dir);
}
#  endif
#endif

#if defined(KVBM_CLI_HAVE_EVENTS) && defined(KVBM_CLI_HAVE_ZMQ)
#  include "kvbm/events_wire.h"
#  include "kvbm/zmq.h"

KVBM_TEST(events_listen_decodes_a_zmq_pub_stream_in_table_format)
{
    char dir[256], llog[512], url[128], purl[160];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    snprintf(llog, sizeof llog, "%s/listen.log", dir);
    int port = test_free_port();
    ASSERT_TRUE(port > 0);
    snprintf(url, sizeof url, "zmq+tcp://127.0.0.1:%d", port);
    snprintf(purl, sizeof purl, "%s?bind", url);
    kvbm_zmq_config c = KVBM_ZMQ_CONFIG_INIT;
    c.url = purl;
    kvbm_publisher *p = NULL;
    ASSERT_OK(kvbm_zmq_publisher_create(&c, &p));
    char *largv[] = { KVBM_TOOL_PATH, "events", "listen", url, "--count", "2", "--timeout", "120", NULL };
    pid_t lp = proc_spawn(largv, NULL, llog);
    EXPECT_TRUE(lp > 0);
    kvbm_zmq_stats s = { 0 };
    for (int i = 0; i < 6000 && s.subscriptions == 0; i++) { /* the SUB is connected and subscribed */
        EXPECT_OK(kvbm_zmq_publisher_get_stats(p, &s));
        if (s.subscriptions == 0) sleep_ms(10);
    }
    EXPECT_GT(s.subscriptions, 0);
    kvbm_plh h[2] = { { 0, 11 }, { 0, 22 } };
    kvbm_event_batch b = { KVBM_EVENT_REMOVE, h, 2, { 0, 4242 } };
    uint8_t buf[256];
    size_t n = 0;
    ASSERT_OK(kvbm_events_wire_encode(&b, buf, sizeof buf, &n));
    EXPECT_OK(kvbm_publisher_publish(p, "", buf, n));
    b.kind = KVBM_EVENT_SHUTDOWN;
    b.n = 0;
    ASSERT_OK(kvbm_events_wire_encode(&b, buf, sizeof buf, &n));
    EXPECT_OK(kvbm_publisher_publish(p, "", buf, n));
    EXPECT_OK(kvbm_publisher_flush(p, 30000));
    int st = -1;
    EXPECT_TRUE(proc_wait(lp, 60000, &st)); /* --count 2: exits by itself */
    EXPECT_EQ(st, 0);
    proc_stop(lp, 1000);
    char *t = file_read(llog);
    EXPECT_STR_CONTAINS(t, "     1 kvbm    kvbm.kv_index    Remove       2  instance 4242");
    EXPECT_STR_CONTAINS(t, "     2 kvbm    kvbm.kv_index    Shutdown     0  instance 4242\n");
    EXPECT_STR_CONTAINS(t, "events listen: 2 messages (0 undecodable)\n");
    free(t);
    kvbm_publisher_release(p);
    tmp_dir_remove(dir);
}
#endif

#ifndef KVBM_CLI_HAVE_EVENTS
/* Built with -DKVBM_WITH_EVENTS=OFF: --events says so (exit 1). */
KVBM_TEST(without_the_events_library_replay_events_is_a_clear_error)
{
    char dir[256], log[512];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    snprintf(log, sizeof log, "%s/kvbm.log", dir);
    char *argv[] = { KVBM_TOOL_PATH, "replay", "--requests", "5", "--events", "nats://127.0.0.1:1", NULL };
    EXPECT_EQ(proc_run(argv, NULL, log, 60000), 1);
    char *t = file_read(log);
    EXPECT_STR_CONTAINS(t, "built without the event wire library (KVBM_WITH_EVENTS=OFF)");
    free(t);
    tmp_dir_remove(dir);
}
#endif

KVBM_TEST(events_urls_that_do_not_parse_are_usage_errors_naming_the_value)
{
    char dir[256], log[512];
    ASSERT_TRUE(tmp_dir(dir, sizeof dir));
    snprintf(log, sizeof log, "%s/kvbm.log", dir);
    char *a1[] = { KVBM_TOOL_PATH, "events", "listen", "http://x:1", NULL };
    EXPECT_EQ(proc_run(a1, NULL, log, 60000), 2);
    char *t = file_read(log);
    EXPECT_STR_CONTAINS(t, "events URL 'http://x:1': expected nats://");
    free(t);
    char *a2[] = { KVBM_TOOL_PATH, "replay", "--requests", "5", "--events", "zmq+tcp://127.0.0.1", NULL };
    EXPECT_EQ(proc_run(a2, NULL, log, 60000), 2);
    t = file_read(log);
    EXPECT_STR_CONTAINS(t, "events URL 'zmq+tcp://127.0.0.1': zmq+tcp needs HOST:PORT");
    free(t);
    char *a3[] = { KVBM_TOOL_PATH, "events", "hear", "nats://127.0.0.1:1", NULL };
    EXPECT_EQ(proc_run(a3, NULL, log, 60000), 2);
    tmp_dir_remove(dir);
}
