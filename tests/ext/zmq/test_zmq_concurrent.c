/* tests/ext/zmq/test_zmq_concurrent.c - several threads publish through one ZeroMQ
 * publisher while another reads its counters and flushes (also run under TSan); the
 * independent subscriber receives every message exactly once. */
#include "harness.h"
#include "zmq_test_env.h"

/* libzmq is not instrumented: its lock-free pipes between the socket's thread and its I/O
 * thread are invisible to TSan, which then reports libzmq's own memcpy calls as races.
 * Suppress reports whose stacks are in libzmq (read by TSan at start; unused otherwise). */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) { return "race:libzmq.so\n"; }

enum { THREADS = 4, PER_THREAD = 1500 };

static void probe(kvbm_publisher *p)
{
    kvbm_zmq_stats s;
    EXPECT_OK(kvbm_zmq_publisher_get_stats(p, &s));
    EXPECT_LE(s.sent + s.queued, s.accepted);
    (void)kvbm_publisher_flush(p, 1);
}

KVBM_TEST(zmq_concurrent_publishers_every_message_once)
{
    test_proc sub;
    kvbm_publisher *p = zmq_pair_connect(&sub, false, THREADS * PER_THREAD); /* never full */
    EXPECT_TRUE(p != NULL);
    if (p) {
        EXPECT_EQ(publish_concurrently(p, "", THREADS, PER_THREAD, probe), 0);
        EXPECT_OK(kvbm_publisher_flush(p, 60000));
        kvbm_zmq_stats s;
        ASSERT_OK(kvbm_zmq_publisher_get_stats(p, &s));
        EXPECT_EQ(s.accepted, THREADS * PER_THREAD);
        EXPECT_EQ(s.sent, THREADS * PER_THREAD);
        char end[32];
        snprintf(end, sizeof end, "END %d\n", THREADS * PER_THREAD);
        sub_result r;
        EXPECT_TRUE(sub_result_read(&sub, end, &r));
        EXPECT_EQ(r.unique, THREADS * PER_THREAD);
        EXPECT_EQ(r.dups, 0);
        EXPECT_EQ(r.bad, 0);
    }
    kvbm_publisher_release(p);
    test_proc_stop(&sub, SIGTERM, 5000);
}
