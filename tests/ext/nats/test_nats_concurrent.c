/* tests/ext/nats/test_nats_concurrent.c - several threads publish through one NATS
 * publisher while another reads its counters and flushes (also run under TSan); the
 * independent subscriber receives every message exactly once. */
#include <pthread.h>

#include "harness.h"
#include "nats_test_env.h"

enum { THREADS = 4, PER_THREAD = 1500 };

typedef struct job {
    kvbm_publisher *p;
    int             t, fails;
} job;

static void *publisher_thread(void *arg)
{
    job *j = arg;
    j->fails = publish_range(j->p, "kvbm.events", (uint64_t)j->t, THREADS * PER_THREAD, THREADS, false);
    return NULL;
}

KVBM_TEST(nats_concurrent_publishers_every_message_once)
{
    nats_env e;
    if (!nats_env_start(&e, "kvbm.events", false)) {
        nats_env_stop(&e);
        ASSERT_TRUE(!"environment");
    }
    kvbm_nats_config cfg = KVBM_NATS_CONFIG_INIT;
    cfg.url = e.url;
    cfg.queue_capacity = THREADS * PER_THREAD; /* never full */
    kvbm_publisher *p = NULL;
    kvbm_status st = kvbm_nats_publisher_create(&cfg, &p);
    EXPECT_OK(st);
    if (st == KVBM_OK) {
        pthread_t th[THREADS];
        job jobs[THREADS];
        for (int t = 0; t < THREADS; t++) {
            jobs[t] = (job){ p, t, 0 };
            ASSERT_EQ(pthread_create(&th[t], NULL, publisher_thread, &jobs[t]), 0);
        }
        kvbm_nats_stats s;
        for (int k = 0; k < 50; k++) {
            EXPECT_OK(kvbm_nats_publisher_get_stats(p, &s));
            EXPECT_LE(s.confirmed + s.queued, s.accepted);
            (void)kvbm_publisher_flush(p, 1);
        }
        for (int t = 0; t < THREADS; t++) {
            pthread_join(th[t], NULL);
            EXPECT_EQ(jobs[t].fails, 0);
        }
        EXPECT_OK(kvbm_publisher_flush(p, 60000));
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
