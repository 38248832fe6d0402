/* tests/common/test_mutex_concurrent.c - the futex mutex and condition of internal.h:
 * mutual exclusion under contention (including the sleeping path), no lost wakeups, and
 * the lock state back at "free" afterwards. Run under ThreadSanitizer by the test command
 * (the name matches *concurrent*). */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "internal.h"

#define THREADS 4
#define ROUNDS  20000

struct shared {
    kvbm__mutex lock;
    uint64_t   counter;   /* plain: only ever touched under the lock */
    uint64_t   in_cs;     /* threads inside the critical section (must stay <= 1) */
    uint64_t   overlaps;
    bool       fast;      /* every other release with kvbm__unlock_fast */
};

static void *hammer(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        kvbm__lock(&s->lock);
        if (++s->in_cs != 1) s->overlaps++;
        s->counter++;
        /* now and then hold the lock across a yield, so that waiters exhaust their spin
         * and sleep on the futex (state 2) and unlock must wake them */
        if (i % 512 == 0) sched_yield();
        s->in_cs--;
        if (s->fast && (i & 1)) kvbm__unlock_fast(&s->lock);
        else kvbm__unlock(&s->lock);
    }
    return NULL;
}

static void hammer_all(bool fast)
{
    struct shared s = { .counter = 0, .fast = fast };
    if (fast) kvbm__mutex_init_fast_unlock(&s.lock, KVBM_RANK_NONE);
    else kvbm__mutex_init(&s.lock, KVBM_RANK_NONE);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) ASSERT_EQ(pthread_create(&th[i], NULL, hammer, &s), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    EXPECT_EQ_U64(s.counter, (uint64_t)THREADS * ROUNDS);
    EXPECT_EQ_U64(s.overlaps, 0u);
    EXPECT_EQ(atomic_load(&s.lock.state), 0u); /* free, nobody marked waiting */
    kvbm__mutex_destroy(&s.lock);
}

KVBM_TEST(mutex_excludes_under_contention_and_wakes_sleepers) { hammer_all(false); }

/* The same with kvbm__unlock_fast (the registry's shard locks) on every other release:
 * exclusion holds, every thread gets through (a waiter whose 1 -> 2 a fast unlock missed
 * wakes after a bounded nap), and the lock ends free. */
KVBM_TEST(unlock_fast_excludes_and_every_waiter_gets_through) { hammer_all(true); }

/* The lost wakeup itself, forced: a waiter marks the lock contended (state 2) and sleeps;
 * the holder then releases exactly as kvbm__unlock_fast does when its load saw 1 just
 * before the waiter's exchange - a plain store of 0, no wake. The waiter must still get
 * the lock (its sleep is bounded); with an unbounded futex sleep it would hang here (the
 * runner's timeout fails the test). */
static void *lock_once(void *arg)
{
    kvbm__mutex *m = arg;
    kvbm__lock(m);
    kvbm__unlock(m);
    return NULL;
}

KVBM_TEST(waiter_survives_a_missed_wakeup)
{
    kvbm__mutex m;
    kvbm__mutex_init_fast_unlock(&m, KVBM_RANK_NONE);
    kvbm__lock(&m);
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, lock_once, &m), 0);
    while (atomic_load(&m.state) != 2) sched_yield(); /* the waiter announced itself */
    struct timespec ts = { 0, 5 * 1000 * 1000 };
    nanosleep(&ts, NULL); /* let it reach the futex (if it has not, the test is weaker, not wrong) */
    atomic_store_explicit(&m.state, 0, memory_order_release); /* the missed wakeup */
    pthread_join(th, NULL);
    EXPECT_EQ(atomic_load(&m.state), 0u);
    kvbm__mutex_destroy(&m);
}

/* Producer/consumer over kvbm__cond: every consumer waits for its turn number in a loop
 * (spurious wakeups allowed), the producer advances the turn under the lock and
 * broadcasts. Each turn is served exactly once; a lost wakeup hangs the test, which the
 * test runner's per-binary timeout turns into a failure. */
struct turns {
    kvbm__mutex lock;
    kvbm__cond  cond;
    int        turn;      /* under lock */
    int        served[THREADS];
};

struct consumer { struct turns *t; int id; };

static void *consume(void *arg)
{
    struct consumer *c = arg;
    struct turns *t = c->t;
    for (int round = 0; round < 200; round++) {
        int want = round * THREADS + c->id;
        kvbm__lock(&t->lock);
        while (t->turn < want) kvbm__cond_wait(&t->cond, &t->lock);
        if (t->turn == want) {
            t->served[c->id]++;
            t->turn++;
            kvbm__cond_broadcast(&t->cond);
        }
        kvbm__unlock(&t->lock);
    }
    return NULL;
}

KVBM_TEST(cond_broadcast_reaches_every_waiter)
{
    struct turns t = { .turn = 0 };
    kvbm__mutex_init(&t.lock, KVBM_RANK_NONE);
    kvbm__cond_init(&t.cond);
    struct consumer c[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (struct consumer){ &t, i };
        ASSERT_EQ(pthread_create(&th[i], NULL, consume, &c[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    EXPECT_EQ(t.turn, 200 * THREADS);
    for (int i = 0; i < THREADS; i++) EXPECT_EQ(t.served[i], 200);
    EXPECT_EQ(atomic_load(&t.lock.state), 0u);
    kvbm__mutex_destroy(&t.lock);
}
