/* tests/ext/nats/test_nats_concurrent.c - several threads publish through one NATS
 * publisher while another reads its counters and flushes (also run under TSan); the
 * independent subscriber receives every message exactly once. */
#include "harness.h"
#include "nats_test_env.h"

enum { THREADS = 4, PER_THREAD = 1500 };

static void probe(kvbm_publisher *p)
{
    kvbm_nats_stats s;
    EXPECT_OK(kvbm_nats_publisher_get_stats(p, &s));
    EXPECT_LE(s.confirmed + s.queued, s.accepted);
    (void)kvbm_publisher_flush(p, 1);
}

KVBM_TEST(nats_concurrent_publishers_every_message_once)
{
    NATS_ENV_START(e, false);
    cfg.queue_capacity = THREADS * PER_THREAD; /* never full */
    kvbm_publisher *p = NULL;
    kvbm_status st = kvbm_nats_publisher_create(&cfg, &p);
    EXPECT_OK(st);
    if (st == KVBM_OK) {
        EXPECT_EQ(publish_concurrently(p, "kvbm.events", THREADS, PER_THREAD, probe), 0);
        EXPECT_OK(kvbm_publisher_flush(p, 60000));
        kvbm_nats_stats s;
        ASSERT_OK(kvbm_nats_publisher_get_stats(p, &s));
        EXPECT_EQ(s.accepted, THREADS * PER_THREAD);
        EXPECT_EQ(s.confirmed, THREADS * PER_THREAD);
        sub_result r;
        EXPECT_TRUE(sub_result_read(&e.sub, "END\n", &r));
        EXPECT_EQ(r.unique, THREADS * PER_THREAD);
        EXPECT_EQ(r.dups, 0);
        EXPECT_EQ(r.bad, 0);
        kvbm_publisher_release(p);
    }
    nats_env_stop(&e);
}
