/* tests/tools/test_cli_consolidate.c - `kvbm consolidate` as a process: an engine stand-in
 * (tests/support/vllm_fake_pub.h) publishes the §4.4 fixture batches, the daemon's output
 * is read by an independent Python subscriber (vllm_out_sub.py) and by our own subscriber
 * through the output replay socket; metrics are scraped; SIGTERM stops it with status 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "support/net.h"
#include "support/proc.h"

#ifdef KVBM_CLI_HAVE_CONSOLIDATOR
#include "support/vllm_fake_pub.h"

static const char *const FIXTURE[3] = {
    "93cb408f4000000000009195ab426c6f636b53746f7265649101c0940a141e280400",
    "93cb409f4000000000009195ab426c6f636b53746f72656491020194323c46500400",
    "93cb40a77000000000009192ac426c6f636b52656d6f766564910100",
};
static const uint8_t EMPTY_BATCH[] = { 0x93, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0x90, 0x00 };

static size_t unhex_to(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t k = 0; k < n; k++) sscanf(hex + 2 * k, "%2hhx", &out[k]);
    return n;
}

/* The value of the first sample line starting with @name in @body, or -1. */
static double sample(const char *body, const char *name)
{
    for (const char *p = strstr(body, name); p; p = strstr(p + 1, name))
        if (p == body || p[-1] == '\n') {
            const char *sp = strchr(p, ' ');
            return sp ? atof(sp + 1) : -1;
        }
    return -1;
}

static double scrape(uint16_t port, const char *name)
{
    net_response r;
    double v = -1;
    if (net_get(port, "/metrics", NULL, 5000, &r) == 200) v = sample(r.body, name);
    net_response_free(&r);
    return v;
}

/* Collect the "BATCH <seq> <event>..." lines of vllm_out_sub.py @p until @want events
 * were printed (or a line does not come within 20 s), newline-separated, into @all. */
static void read_batches(test_proc *p, int want, char *all, size_t cap)
{
    char line[512];
    all[0] = '\0';
    for (int n = 0; n < want && test_proc_expect(p, "BATCH ", line, sizeof line, 20000);) {
        strncat(all, line, cap - strlen(all) - 2);
        strcat(all, "\n");
        for (const char *q = strchr(line, ' '); q && (q = strchr(q + 1, ' ')); ) n++;
    }
}

/* The three events of FIXTURE, as vllm_out_sub.py prints them, are all in @all. */
static void expect_fixture_events(const char *all)
{
    EXPECT_STR_CONTAINS(all, "BlockStored:3114443937531979");
    EXPECT_STR_CONTAINS(all, "BlockStored:5370979798324801:3114443937531979");
    EXPECT_STR_CONTAINS(all, "BlockRemoved:3114443937531979");
}

KVBM_TEST(cli_consolidate_end_to_end)
{
    fpub eng;
    ASSERT_TRUE(fpub_start(&eng, true, NULL));
    char in[600];
    snprintf(in, sizeof in, "vllm=%s,replay=%s", eng.pub_ep, eng.rep_ep);
    char *argv[] = { KVBM_TOOL_PATH, "consolidate", "--in", in, "--out", "tcp://127.0.0.1:0",
                     "--out-replay", "tcp://127.0.0.1:0", "--poll-ms", "20", "--log-interval", "1",
                     "--metrics-port", "0", NULL };
    test_proc d, py;
    memset(&py, 0, sizeof py);
    ASSERT_TRUE(test_proc_spawn(&d, argv));
    char line[512], out_ep[256] = "", rep_ep[256] = "";
    unsigned mport = 0;
    EXPECT_TRUE(test_proc_expect(&d, "metrics on http://127.0.0.1:", line, sizeof line, 20000));
    sscanf(line, "metrics on http://127.0.0.1:%u/", &mport);
    EXPECT_TRUE(test_proc_expect(&d, "output ", line, sizeof line, 20000));
    sscanf(line, "output %255s replay %255s", out_ep, rep_ep);
    EXPECT_TRUE(strncmp(out_ep, "tcp://127.0.0.1:", 16) == 0);
    EXPECT_TRUE(mport > 0);

    /* the independent subscriber, connected before anything is published */
    char script[512];
    snprintf(script, sizeof script, "%s/tests/tools/vllm_out_sub.py", KVBM_SOURCE_DIR);
    char *pargv[] = { TEST_PYTHON, script, out_ep, "3", rep_ep, NULL };
    bool py_ok = test_proc_spawn(&py, pargv) && test_proc_expect(&py, "READY", line, sizeof line, 20000);
    EXPECT_TRUE(py_ok);

    /* until the daemon's input is connected: empty batches (no events, no output) */
    bool connected = false;
    for (int i = 0; i < 400 && !connected; i++) {
        fpub_send(&eng, EMPTY_BATCH, sizeof EMPTY_BATCH, false);
        connected = scrape((uint16_t)mport, "kvbm_consolidator_ingress_batches_total{") >= 1;
        if (!connected) usleep(25000);
    }
    EXPECT_TRUE(connected);
    uint8_t p[64];
    for (int i = 0; i < 3; i++) fpub_send(&eng, p, unhex_to(FIXTURE[i], p), false);

    /* our own subscriber through the output's replay socket: every batch from seq 0 */
    kvbm_vllm_sub_config sc = KVBM_VLLM_SUB_CONFIG_INIT;
    sc.endpoint = out_ep;
    sc.replay_endpoint = rep_ep;
    sc.resume = true;
    kvbm_vllm_sub *r = NULL;
    EXPECT_OK(kvbm_vllm_sub_create(&sc, &r));
    uint64_t want[3] = { 3114443937531979ull, 5370979798324801ull, 3114443937531979ull };
    int got = 0;
    while (r && got < 3) {
        kvbm_vllm_batch b;
        if (kvbm_vllm_sub_recv_batch(r, 20000, NULL, &b, NULL) != KVBM_OK) break;
        for (size_t i = 0; i < b.n_events && got < 3; i++, got++) {
            EXPECT_EQ((int)b.events[i].type, got < 2 ? KVBM_VLLM_BLOCK_STORED : KVBM_VLLM_BLOCK_REMOVED);
            EXPECT_EQ_U64(b.events[i].block_hashes[0], want[got]);
        }
    }
    EXPECT_EQ(got, 3);
    kvbm_vllm_sub_destroy(r);

    /* the Python subscriber saw the same events: live, or - if its subscription was still
     * in flight when they were published (ZeroMQ's slow joiner, on a loaded machine) -
     * from the output's replay socket, as a vLLM consumer recovers a gap */
    char all[2048] = "";
    if (py_ok) read_batches(&py, 3, all, sizeof all);
    expect_fixture_events(all);

    /* a late independent subscriber, started after every batch was published: it gets
     * nothing live and must recover all three events through the replay socket */
    test_proc late;
    memset(&late, 0, sizeof late);
    bool late_ok = test_proc_spawn(&late, pargv) && test_proc_expect(&late, "READY", line, sizeof line, 20000);
    EXPECT_TRUE(late_ok);
    char all2[2048] = "";
    if (late_ok) read_batches(&late, 3, all2, sizeof all2);
    EXPECT_STR_CONTAINS(all2, "BATCH 0 ");
    expect_fixture_events(all2);
    test_proc_stop(&late, SIGTERM, 5000);

    EXPECT_TRUE(scrape((uint16_t)mport, "kvbm_consolidator_egress_events_total") == 3);
    EXPECT_TRUE(scrape((uint16_t)mport, "kvbm_consolidator_live_blocks") == 1);
    /* a counters line per second; an early one may predate the batches */
    bool live1 = false;
    for (int i = 0; i < 30 && !live1 && test_proc_expect(&d, "consolidate stats: ", line, sizeof line, 20000); i++)
        live1 = strstr(line, " live=1 ") != NULL;
    EXPECT_TRUE(live1);
    kill(d.pid, SIGTERM);
    EXPECT_TRUE(test_proc_expect(&d, "consolidate stopped: ", line, sizeof line, 20000));
    int status = test_proc_stop(&d, SIGTERM, 10000);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    test_proc_stop(&py, SIGTERM, 5000);
    fpub_stop(&eng);
}

KVBM_TEST(cli_consolidate_usage_errors)
{
    char *a1[] = { KVBM_TOOL_PATH, "consolidate", NULL };
    char *a2[] = { KVBM_TOOL_PATH, "consolidate", "--in", "vllm", NULL };
    char *a3[] = { KVBM_TOOL_PATH, "consolidate", "--in", "ollama=tcp://127.0.0.1:1", "--out",
                   "tcp://127.0.0.1:0", NULL };
    char *const *cases[] = { a1, a2, a3 };
    for (int i = 0; i < 3; i++) {
        test_proc d;
        ASSERT_TRUE(test_proc_spawn(&d, cases[i]));
        int status = test_proc_stop(&d, 0, 10000);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    }
}
#else
KVBM_TEST(cli_consolidate_unavailable) {}
#endif

#if defined(KVBM_CLI_HAVE_CONSOLIDATOR) && defined(KVBM_CLI_HAVE_NATS)
/* --router-nats: the §4.4 fixture's events reach an independent NATS subscriber as Dynamo
 * RouterEvents (router projection as block hash, §1.10.2 tokens hashes). */
KVBM_TEST(cli_consolidate_router_nats)
{
    int nport = test_free_port();
    test_proc ns, d, py;
    memset(&d, 0, sizeof d);
    memset(&py, 0, sizeof py);
    ASSERT_TRUE(nport > 0 && test_nats_server_start(&ns, nport, 20000));
    char script[512], ps[16], line[512], nurl[64];
    snprintf(script, sizeof script, "%s/tests/tools/nats_router_sub.py", KVBM_SOURCE_DIR);
    snprintf(ps, sizeof ps, "%d", nport);
    snprintf(nurl, sizeof nurl, "nats://127.0.0.1:%d", nport);
    char *pargv[] = { TEST_PYTHON, script, ps, "kv-events", "3", NULL };
    bool ok = test_proc_spawn(&py, pargv) && test_proc_expect(&py, "READY", line, sizeof line, 20000);
    EXPECT_TRUE(ok);
    static fpub eng;
    memset(&eng, 0, sizeof eng);
    ok = ok && fpub_start(&eng, true, NULL);
    char in[600] = "";
    if (ok) snprintf(in, sizeof in, "vllm=%s,replay=%s", eng.pub_ep, eng.rep_ep);
    char *argv[] = { KVBM_TOOL_PATH, "consolidate", "--in", in, "--out", "tcp://127.0.0.1:0", "--poll-ms", "20",
                     "--router-nats", nurl, "--worker-id", "7", "--metrics-port", "0", NULL };
    ok = ok && test_proc_spawn(&d, argv);
    unsigned mport = 0;
    ok = ok && test_proc_expect(&d, "metrics on http://127.0.0.1:", line, sizeof line, 20000);
    if (ok) sscanf(line, "metrics on http://127.0.0.1:%u/", &mport);
    ok = ok && test_proc_expect(&d, "output ", line, sizeof line, 20000);
    EXPECT_TRUE(ok);
    bool connected = false;
    for (int i = 0; ok && i < 400 && !connected; i++) {
        fpub_send(&eng, EMPTY_BATCH, sizeof EMPTY_BATCH, false);
        connected = scrape((uint16_t)mport, "kvbm_consolidator_ingress_batches_total{") >= 1;
        if (!connected) usleep(25000);
    }
    EXPECT_TRUE(connected);
    uint8_t p[64];
    for (int i = 0; connected && i < 3; i++) fpub_send(&eng, p, unhex_to(FIXTURE[i], p), false);
    char ev[3][512] = { "", "", "" };
    for (int i = 0; connected && i < 3; i++)
        if (test_proc_expect(&py, "EVENT ", ev[i], sizeof ev[i], 20000) == false) break;
    EXPECT_STR_EQ(ev[0], "EVENT 0 7 stored 3114443937531979:16324159493528209483");
    EXPECT_STR_EQ(ev[1], "EVENT 1 7 stored 5370979798324801:6032772817189548200:3114443937531979");
    EXPECT_STR_EQ(ev[2], "EVENT 2 7 removed 3114443937531979");
    int status = test_proc_stop(&d, SIGTERM, 10000);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    test_proc_stop(&py, SIGTERM, 5000);
    test_proc_stop(&ns, SIGTERM, 5000);
    if (eng.ctx) fpub_stop(&eng);
}
#endif
