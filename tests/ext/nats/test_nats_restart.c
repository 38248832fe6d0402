/* tests/ext/nats/test_nats_restart.c - the fault test: nats-server is killed and restarted
 * in the middle of a stream. The publisher's connection goes through the subscriber's proxy
 * (nats_sub.py --proxy), which cuts it at a chosen moment - bytes in flight are lost, as in
 * a crash - and lets it reconnect only after the independent subscriber is subscribed to
 * the restarted server, so that what the server routes is observable. Checked: no publish
 * call blocks or fails other than by a counted drop; after a flush every accepted message
 * is confirmed; and delivered (unique, by the subscriber) + dropped == published. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "nats_test_env.h"

#define TOTAL      3000
#define CUT_AT     500
#define RESUME_AT  1100   /* >= 600 calls while disconnected: more than the queue holds */
#define QUEUE_CAP  256

typedef struct feeder {
    kvbm_publisher  *p;
    _Atomic uint64_t calls, efull, other_errors;
    _Atomic long     max_call_us;
} feeder;

static long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

static void *feed(void *arg)
{
    feeder *f = arg;
    uint8_t buf[128];
    for (uint64_t i = 0; i < TOTAL; i++) {
        size_t n = test_wire_message(i, buf, sizeof buf);
        long t0 = mono_us();
        kvbm_status st = kvbm_publisher_publish(f->p, "", buf, n);
        long dt = mono_us() - t0;
        if (dt > atomic_load(&f->max_call_us)) atomic_store(&f->max_call_us, dt);
        if (st == KVBM_EFULL) atomic_fetch_add(&f->efull, 1);
        else if (st != KVBM_OK) atomic_fetch_add(&f->other_errors, 1);
        atomic_fetch_add(&f->calls, 1);
        usleep(300); /* a paced stream, so that the cut lands in its middle */
    }
    return NULL;
}

static bool wait_calls(feeder *f, uint64_t n)
{
    for (int i = 0; i < 60000 && atomic_load(&f->calls) < n; i++) usleep(1000);
    return atomic_load(&f->calls) >= n;
}

static bool command(test_proc *sub, const char *cmd, const char *answer)
{
    char line[256];
    return test_proc_write(sub, cmd) && test_proc_expect(sub, answer, line, sizeof line, 30000);
}

KVBM_TEST(nats_server_restart_mid_stream_delivered_plus_dropped_equals_published)
{
    NATS_ENV_START(e, true);
    cfg.queue_capacity = QUEUE_CAP;
    cfg.reconnect_wait_ms = 50;
    feeder f = { 0 };
    kvbm_status st = kvbm_nats_publisher_create(&cfg, &f.p);
    EXPECT_OK(st);
    pthread_t th;
    if (st == KVBM_OK && pthread_create(&th, NULL, feed, &f) == 0) {
        EXPECT_TRUE(wait_calls(&f, CUT_AT));
        EXPECT_TRUE(command(&e.sub, "CUT\n", "CUT_DONE"));       /* publisher connection cut */
        test_proc_stop(&e.server, SIGKILL, 5000);                 /* server killed */
        EXPECT_TRUE(test_nats_server_start(&e.server, e.port, 10000)); /* and restarted */
        EXPECT_TRUE(wait_calls(&f, RESUME_AT));
        kvbm_nats_stats mid;
        EXPECT_OK(kvbm_nats_publisher_get_stats(f.p, &mid));
        EXPECT_FALSE(mid.connected);
        EXPECT_GT(mid.dropped, 0);                                /* the queue overflowed */
        EXPECT_TRUE(command(&e.sub, "RESUME\n", "RESUMED"));      /* subscriber back first */
        pthread_join(th, NULL);
        EXPECT_OK(kvbm_publisher_flush(f.p, 30000));

        kvbm_nats_stats s;
        ASSERT_OK(kvbm_nats_publisher_get_stats(f.p, &s));
        fprintf(stderr, "  calls %llu accepted %llu dropped %llu confirmed %llu resent %llu reconnects %llu"
                        " max publish call %ld us\n",
                (unsigned long long)atomic_load(&f.calls), (unsigned long long)s.accepted,
                (unsigned long long)s.dropped, (unsigned long long)s.confirmed, (unsigned long long)s.resent,
                (unsigned long long)s.reconnects, atomic_load(&f.max_call_us));
        EXPECT_EQ(atomic_load(&f.calls), TOTAL);
        EXPECT_EQ(atomic_load(&f.other_errors), 0);
        EXPECT_EQ(s.accepted + s.dropped, TOTAL);
        EXPECT_EQ(s.dropped, atomic_load(&f.efull));
        EXPECT_EQ(s.confirmed, s.accepted);
        EXPECT_EQ(s.queued, 0);
        EXPECT_GE(s.reconnects, 1);
        EXPECT_TRUE(s.connected);
        sub_result r;
        EXPECT_TRUE(sub_result_read(&e.sub, "END\n", &r));
        EXPECT_EQ(r.bad, 0);
        EXPECT_EQ(r.inorder, 1);
        /* the guarantee: every message published is delivered (at least once) or counted */
        EXPECT_EQ((uint64_t)r.unique + s.dropped, TOTAL);
        EXPECT_EQ(r.max, TOTAL - 1);
    }
    kvbm_publisher_release(f.p);
    nats_env_stop(&e);
}
