/* tests/ext/router/test_router_feed_net.c - the router feed end to end over a real
 * nats-server (started here on a free loopback port) and over ZeroMQ, each message decoded
 * by an independent Python consumer (router_sub.py: python3-msgpack, plain-text NATS over a
 * socket / python3-zmq) and compared with what the feed published (feed_env.h scenario). */
#include <signal.h>
#include <stdio.h>

#include "feed_env.h"
#include "support/proc.h"
#ifdef KVBM_TEST_HAVE_NATS
#include "kvbm/nats.h"
#endif
#ifdef KVBM_TEST_HAVE_ZMQ
#include "kvbm/zmq.h"
#endif

static bool sub_start(test_proc *sub, char *mode, char *arg1, char *arg2, int *port)
{
    char script[512], line[128];
    snprintf(script, sizeof script, "%s/tests/ext/router/router_sub.py", KVBM_SOURCE_DIR);
    char *argv[] = { TEST_PYTHON, script, mode, arg1, arg2, NULL };
    if (!test_proc_spawn(sub, argv) || !test_proc_expect(sub, "READY ", line, sizeof line, 20000)) {
        fprintf(stderr, "router_sub.py did not start\n");
        return false;
    }
    *port = atoi(line + 6);
    return true;
}

/* Ask the consumer for what it received and compare message by message with the JSON of
 * what the feed published. */
static void compare_with_consumer(test_proc *sub, const feed_run *r)
{
    char cmd[32], line[8192], want[8192];
    snprintf(cmd, sizeof cmd, "END %zu\n", r->t.n);
    ASSERT_TRUE(test_proc_write(sub, cmd));
    kvbm_router_stored_block blocks[32];
    uint64_t u64[64];
    kvbm_router_decode_space sp = { blocks, 32, NULL, 0, u64, 64 };
    for (size_t i = 0; i < r->t.n; i++) {
        ASSERT_TRUE(test_proc_readline(sub, line, sizeof line, 60000));
        kvbm_router_event ev;
        size_t len;
        ASSERT_OK(kvbm_router_event_decode(r->t.msg[i], r->t.len[i], &ev, &sp));
        ASSERT_OK(kvbm_router_event_to_json(&ev, want, sizeof want, &len));
        ASSERT_TRUE(strncmp(line, "EV ", 3) == 0);
        EXPECT_STR_EQ(line + 3, want);
    }
    ASSERT_TRUE(test_proc_readline(sub, line, sizeof line, 60000));
    snprintf(want, sizeof want, "DONE %zu", r->t.n);
    EXPECT_STR_EQ(line, want);
}

#ifdef KVBM_TEST_HAVE_NATS
KVBM_TEST(feed_over_nats_checked_by_python)
{
    test_proc server = { 0 }, sub = { 0 };
    int port = 0, dummy;
    for (int tries = 0; tries < 5 && !server.pid; tries++) {
        port = test_free_port();
        if (!port || !test_nats_server_start(&server, port, 10000)) server.pid = 0;
    }
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    kvbm_publisher *pub = NULL;
    bool env = server.pid && sub_start(&sub, "--nats", ps, KVBM_ROUTER_EVENT_SUBJECT, &dummy);
    if (env) {
        char url[64];
        snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
        kvbm_nats_config cfg = KVBM_NATS_CONFIG_INIT;
        cfg.url = url;
        env = kvbm_nats_publisher_create(&cfg, &pub) == KVBM_OK;
    }
    EXPECT_TRUE(env);
    if (env) {
        feed_run r;
        EXPECT_TRUE(feed_scenario(&r, KVBM_G2, NULL, pub, 3, 1)); /* default subject kv-events */
        feed_check(&r, KVBM_ROUTER_TIER_HOST_PINNED, 3, 1);
        kvbm_nats_stats ns;
        EXPECT_OK(kvbm_nats_publisher_get_stats(pub, &ns));
        EXPECT_EQ(ns.confirmed, r.t.n); /* the pipeline's final flush waited for them */
        compare_with_consumer(&sub, &r);
        tee_free(&r.t);
    }
    kvbm_publisher_release(pub);
    test_proc_stop(&sub, SIGTERM, 5000);
    test_proc_stop(&server, SIGTERM, 5000);
}
#endif

#ifdef KVBM_TEST_HAVE_ZMQ
KVBM_TEST(feed_over_zmq_checked_by_python)
{
    test_proc sub = { 0 };
    int port = 0;
    kvbm_publisher *pub = NULL;
    bool env = sub_start(&sub, "--zmq", KVBM_ROUTER_EVENT_SUBJECT, NULL, &port);
    if (env) {
        char url[64];
        snprintf(url, sizeof url, "zmq+tcp://127.0.0.1:%d", port);
        kvbm_zmq_config cfg = KVBM_ZMQ_CONFIG_INIT;
        cfg.url = url;
        cfg.topic = KVBM_ROUTER_EVENT_SUBJECT;
        env = kvbm_zmq_publisher_create(&cfg, &pub) == KVBM_OK;
        kvbm_zmq_stats zs = { 0 };
        for (int i = 0; env && i < 30000 && zs.subscriptions == 0; i++) { /* subscribed in the background */
            env = kvbm_zmq_publisher_get_stats(pub, &zs) == KVBM_OK;
            usleep(1000);
        }
        env = env && zs.subscriptions > 0;
    }
    EXPECT_TRUE(env);
    if (env) {
        feed_run r;
        EXPECT_TRUE(feed_scenario(&r, KVBM_G3, NULL, pub, 5, 0));
        feed_check(&r, KVBM_ROUTER_TIER_DISK, 5, 0);
        compare_with_consumer(&sub, &r);
        tee_free(&r.t);
    }
    kvbm_publisher_release(pub);
    test_proc_stop(&sub, SIGTERM, 5000);
}
#endif

/* Keeps the binary meaningful when neither transport is built. */
KVBM_TEST(feed_net_transports_built)
{
#if !defined(KVBM_TEST_HAVE_NATS) && !defined(KVBM_TEST_HAVE_ZMQ)
    fprintf(stderr, "note: neither kvbm_nats nor kvbm_zmq built: end-to-end feed tests skipped\n");
#endif
    EXPECT_TRUE(strcmp(KVBM_ROUTER_EVENT_SUBJECT, "kv-events") == 0);
}
