/* tests/events/test_events_close_concurrent.c - kvbm_events_manager_close racing with
 * senders: every event is either delivered to the subscriber or counted in dropped_closed,
 * never both and never neither. 4 threads register and release their own hashes (one
 * holder each: every registration sends Create, every release Remove) before, during and
 * after the close; a subscriber drains until KVBM_ECLOSED. The ring holds every event, so
 * none can be lost to lag. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "harness.h"
#include "kvbm/events.h"

#define NTHREADS   4
#define NHASH      64     /* per thread, reused */
#define BEFORE     2000   /* registrations (all threads) before the close */
#define AFTER      200    /* registrations per thread after the close */
#define MAX_ITERS  50000  /* per thread before the close: 4 x 2 x 50000 events < the ring */

static kvbm_registry   *reg;
static _Atomic long     regs_total;  /* successful registrations, all threads */
static _Atomic int      closed_flag;

typedef struct worker {
    int  id;
    long regs, after;
    bool failed;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (long i = 0; w->after < AFTER; i++) {
        bool was_closed = atomic_load(&closed_flag); /* read before: the whole pair follows the close */
        if (!was_closed && i >= MAX_ITERS) { /* the closing thread is descheduled: wait for it */
            sched_yield();
            continue;
        }
        kvbm_handle *h;
        kvbm_plh p = kvbm_plh_root((uint64_t)w->id * 1000000u + 1u + (uint64_t)(i % NHASH));
        if (kvbm_registry_register(reg, p, &h) != KVBM_OK) {
            w->failed = true;
            break;
        }
        kvbm_handle_release(h); /* the only holder: Remove */
        w->regs++;
        atomic_fetch_add(&regs_total, 1);
        if (was_closed) w->after++;
    }
    return NULL;
}

typedef struct drain {
    kvbm_events_sub *sub;
    long delivered, lagged;
    kvbm_status end;
} drain;

static void *drainer(void *arg)
{
    drain *d = arg;
    for (;;) {
        kvbm_event ev;
        uint64_t lost = 0;
        kvbm_status st = kvbm_events_next(d->sub, -1, &ev, &lost);
        if (st == KVBM_OK) {
            d->delivered++;
        } else if (st == KVBM_ELAGGED) {
            d->lagged += (long)lost;
        } else {
            d->end = st;
            return NULL;
        }
    }
}

KVBM_TEST(close_racing_with_senders_loses_nothing_uncounted)
{
    ASSERT_OK(kvbm_registry_create(NULL, &reg));
    kvbm_events_config cfg = KVBM_EVENTS_CONFIG_INIT;
    cfg.channel_capacity = 1u << 20;
    kvbm_events_manager *em;
    ASSERT_OK(kvbm_events_manager_create(&cfg, &em));
    ASSERT_OK(kvbm_events_manager_attach(em, reg));
    drain d = { 0 };
    ASSERT_OK(kvbm_events_subscribe(em, &d.sub));
    pthread_t dt, th[NTHREADS];
    worker w[NTHREADS] = { { 0 } };
    ASSERT_EQ(pthread_create(&dt, NULL, drainer, &d), 0);
    for (int t = 0; t < NTHREADS; t++) {
        w[t].id = t + 1;
        ASSERT_EQ(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    while (atomic_load(&regs_total) < BEFORE) sched_yield();
    kvbm_events_manager_close(em); /* senders are mid-stream */
    atomic_store(&closed_flag, 1);
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    pthread_join(dt, NULL);

    long regs = 0;
    for (int t = 0; t < NTHREADS; t++) {
        EXPECT_FALSE(w[t].failed);
        EXPECT_EQ(w[t].after, AFTER); /* each thread went on after the close */
        regs += w[t].regs;
    }
    kvbm_events_stats s;
    ASSERT_OK(kvbm_events_manager_get_stats(em, &s));
    EXPECT_STATUS(d.end, KVBM_ECLOSED);
    EXPECT_EQ(d.lagged, 0);
    EXPECT_EQ((long)(s.created + s.removed), d.delivered); /* every event published was delivered */
    EXPECT_EQ((long)(s.created + s.removed + s.dropped_closed), 2 * regs); /* ... or counted as dropped */
    EXPECT_GE(d.delivered, 2 * BEFORE); /* the pairs completed before the close */
    EXPECT_GE((long)s.dropped_closed, 2L * NTHREADS * AFTER); /* and the pairs begun after it */
    kvbm_events_unsubscribe(d.sub);
    kvbm_events_manager_release(em);
    kvbm_registry_release(reg);
}
