/* tests/ext/zmq/test_zmq.c - the ZeroMQ publisher on loopback, checked by an independent
 * Python subscriber (python3-zmq + python3-msgpack: zmq_sub.py). */
#include "harness.h"
#include "internal.h" /* kvbm__alloc_fail_set */
#include "zmq_test_env.h"

KVBM_TEST(zmq_bad_urls_name_the_value)
{
    static const char *bad[] = { "zmq://127.0.0.1:5557", "zmq+tcp://127.0.0.1", "zmq+tcp://127.0.0.1:0",
                                 "zmq+tcp://127.0.0.1:5557?connect", "zmq+tcp://*:5557", "tcp://127.0.0.1:5557",
                                 "zmq+tcp://127.0.0.1:5557/x" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kvbm_zmq_config cfg = KVBM_ZMQ_CONFIG_INIT;
        cfg.url = bad[i];
        kvbm_publisher *p = (kvbm_publisher *)1;
        EXPECT_STATUS(kvbm_zmq_publisher_create(&cfg, &p), KVBM_EINVAL);
        EXPECT_TRUE(p == NULL);
        EXPECT_STR_CONTAINS(kvbm_last_error(), bad[i]);
    }
    kvbm_zmq_config cfg = KVBM_ZMQ_CONFIG_INIT;
    cfg.url = "zmq+tcp://127.0.0.1:5557";
    cfg.topic = "";
    kvbm_publisher *p;
    EXPECT_STATUS(kvbm_zmq_publisher_create(&cfg, &p), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_zmq_publisher_create(NULL, &p), KVBM_EINVAL);
}

KVBM_TEST(zmq_bind_to_an_address_in_use_is_eaddrinuse)
{
    kvbm_publisher *a = NULL, *b = NULL;
    char url[64];
    kvbm_status st = KVBM_EADDRINUSE;
    for (int tries = 0; tries < 5 && st == KVBM_EADDRINUSE; tries++) { /* a port taken meanwhile */
        snprintf(url, sizeof url, "zmq+tcp://127.0.0.1:%d?bind", test_free_port());
        kvbm_zmq_config cfg = KVBM_ZMQ_CONFIG_INIT;
        cfg.url = url;
        st = kvbm_zmq_publisher_create(&cfg, &a);
    }
    ASSERT_OK(st);
    kvbm_zmq_config cfg = KVBM_ZMQ_CONFIG_INIT;
    cfg.url = url;
    EXPECT_STATUS(kvbm_zmq_publisher_create(&cfg, &b), KVBM_EADDRINUSE);
    EXPECT_STR_CONTAINS(kvbm_last_error(), url);
    EXPECT_TRUE(b == NULL);
    kvbm_publisher_release(a);
}

static void check_stream(test_proc *sub, kvbm_publisher *p)
{
    EXPECT_EQ(publish_range(p, "ignored.subject", 0, 600, 1, true), 0);
    EXPECT_OK(kvbm_publisher_flush(p, 20000));
    kvbm_zmq_stats s;
    ASSERT_OK(kvbm_zmq_publisher_get_stats(p, &s));
    EXPECT_EQ(s.accepted, 603);
    EXPECT_EQ(s.sent, 603);
    EXPECT_EQ(s.queued, 0);
    EXPECT_EQ(s.dropped, 0);
    EXPECT_EQ(s.send_errors, 0);
    EXPECT_GT(s.bytes_sent, 603 * 40);
    sub_result r;
    EXPECT_TRUE(sub_result_read(sub, "END 603\n", &r));
    EXPECT_EQ(r.total, 603);
    EXPECT_EQ(r.vectors, 3);
    EXPECT_EQ(r.unique, 600);
    EXPECT_EQ(r.max, 599);
    EXPECT_EQ(r.dups, 0);
    EXPECT_EQ(r.bad, 0);
    EXPECT_EQ(r.inorder, 1);
}

KVBM_TEST(zmq_connect_stream_reaches_an_independent_subscriber_as_two_frames)
{
    test_proc sub;
    kvbm_publisher *p = zmq_pair_connect(&sub, false, 0);
    EXPECT_TRUE(p != NULL);
    if (p) check_stream(&sub, p);
    kvbm_publisher_release(p);
    test_proc_stop(&sub, SIGTERM, 5000);
}

KVBM_TEST(zmq_bind_stream_reaches_a_connecting_subscriber)
{
    kvbm_publisher *p = NULL;
    kvbm_status st = KVBM_EADDRINUSE;
    int port = 0;
    for (int tries = 0; tries < 5 && st == KVBM_EADDRINUSE; tries++) {
        char url[64];
        port = test_free_port();
        snprintf(url, sizeof url, "zmq+tcp://127.0.0.1:%d", port);
        kvbm_zmq_config cfg = KVBM_ZMQ_CONFIG_INIT;
        cfg.url = url;
        cfg.bind = true;
        st = kvbm_zmq_publisher_create(&cfg, &p);
    }
    ASSERT_OK(st);
    test_proc sub;
    EXPECT_EQ(zmq_sub_start(&sub, "--connect", port, false), port);
    EXPECT_TRUE(zmq_wait_subscribed(p, 1));
    check_stream(&sub, p);
    kvbm_publisher_release(p);
    test_proc_stop(&sub, SIGTERM, 5000);
}

KVBM_TEST(zmq_full_queue_drops_the_newest_batch_and_counts_it)
{
    /* The subscriber reads nothing until DRAIN: once the TCP buffers and the high-water
     * marks are full the socket refuses (XPUB_NODROP), the queue (8) fills, and every
     * publish call meanwhile is refused with KVBM_EFULL. Nothing may vanish elsewhere:
     * received + dropped == published. */
    enum { M = 200000 };
    test_proc sub;
    kvbm_publisher *p = zmq_pair_connect(&sub, true, 8);
    EXPECT_TRUE(p != NULL);
    if (p) {
        uint8_t buf[128];
        uint64_t efull = 0;
        for (uint64_t i = 0; i < M; i++) {
            size_t n = test_wire_message(i, buf, sizeof buf);
            kvbm_status st = kvbm_publisher_publish(p, "", buf, n);
            if (st == KVBM_EFULL) efull++;
            else EXPECT_OK(st);
        }
        EXPECT_STR_CONTAINS(kvbm_last_error(), "newest message dropped");
        kvbm_zmq_stats s;
        ASSERT_OK(kvbm_zmq_publisher_get_stats(p, &s));
        EXPECT_EQ(s.dropped, efull);
        EXPECT_GT(s.dropped, 0);
        EXPECT_EQ(s.accepted + s.dropped, M);
        EXPECT_TRUE(test_proc_write(&sub, "DRAIN\n"));
        EXPECT_OK(kvbm_publisher_flush(p, 60000));
        /* room again: the next message is accepted */
        size_t n = test_wire_message(M, buf, sizeof buf);
        EXPECT_OK(kvbm_publisher_publish(p, "", buf, n));
        EXPECT_OK(kvbm_publisher_flush(p, 20000));
        char end[32];
        snprintf(end, sizeof end, "END %llu\n", (unsigned long long)s.accepted + 1);
        sub_result r;
        EXPECT_TRUE(sub_result_read(&sub, end, &r));
        EXPECT_EQ((uint64_t)r.unique + s.dropped, M + 1); /* received + dropped == published */
        EXPECT_EQ(r.max, M);
        EXPECT_EQ(r.dups, 0);
        EXPECT_EQ(r.bad, 0);
        EXPECT_EQ(r.inorder, 1);
    }
    kvbm_publisher_release(p);
    test_proc_stop(&sub, SIGTERM, 5000);
}

KVBM_TEST(zmq_every_allocation_failure_is_enomem_and_leaks_nothing)
{
    /* walk the failing allocation over create (and one publish): each run either succeeds
     * or fails cleanly with KVBM_ENOMEM (ASan checks that nothing leaks) */
    int ok_runs = 0;
    for (long nth = 1; nth < 12; nth++) {
        char url[64];
        snprintf(url, sizeof url, "zmq+tcp://127.0.0.1:%d?bind", test_free_port());
        kvbm_zmq_config cfg = KVBM_ZMQ_CONFIG_INIT;
        cfg.url = url;
        kvbm_publisher *p = NULL;
        kvbm__alloc_fail_set(nth);
        kvbm_status st = kvbm_zmq_publisher_create(&cfg, &p);
        if (st == KVBM_OK) {
            uint8_t buf[64];
            size_t n = test_wire_message(0, buf, sizeof buf);
            kvbm_status ps = kvbm_publisher_publish(p, "", buf, n);
            EXPECT_TRUE(ps == KVBM_OK || ps == KVBM_ENOMEM);
            ok_runs++;
            kvbm_publisher_release(p);
        } else if (st != KVBM_EADDRINUSE) {
            EXPECT_STATUS(st, KVBM_ENOMEM);
            EXPECT_TRUE(p == NULL);
            EXPECT_STR_CONTAINS(kvbm_last_error(), "out of memory");
        }
        kvbm__alloc_fail_set(0);
    }
    EXPECT_GT(ok_runs, 0); /* the walk went past every allocation of create */
}
