/* tests/tinylfu/test_tinylfu_concurrent.c - one tracker shared by several threads (as by
 * several managers through one registry): touches and decays serialise on the tracker
 * lock, counts are lock-free. Run under TSan too (file name: concurrency label). */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "internal.h"
#include "kvbm/tracker.h"
#include "tinylfu/tinylfu_int.h"

enum { KEYS = 256, ROUNDS = 40 };

typedef struct worker {
    kvbm_tracker *t;
    int           role; /* 0 touch, 1 count, 2 decay */
    atomic_bool  *stop;
    uint64_t      counted;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    switch (w->role) {
    case 0:
        for (int r = 0; r < ROUNDS; r++)
            for (uint64_t k = 0; k < KEYS; k++) kvbm_tracker_touch_u64(w->t, k);
        break;
    case 1:
        while (!atomic_load(w->stop))
            for (uint64_t k = 0; k < KEYS; k++) {
                uint32_t c = kvbm_tracker_count_u64(w->t, k);
                if (c > 15) abort(); /* a 4-bit counter can never read more */
                w->counted += c;
            }
        break;
    default:
        while (!atomic_load(w->stop)) kvbm_tracker_decay_now(w->t);
        break;
    }
    return NULL;
}

static void run_threads(kvbm_tracker *t, bool with_decay)
{
    atomic_bool stop;
    atomic_init(&stop, false);
    worker w[4] = { { t, 0, &stop, 0 }, { t, 0, &stop, 0 }, { t, 1, &stop, 0 }, { t, 2, &stop, 0 } };
    pthread_t th[4];
    int n = with_decay ? 4 : 3;
    for (int i = 0; i < n; i++) ASSERT_EQ(pthread_create(&th[i], NULL, run, &w[i]), 0);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    atomic_store(&stop, true);
    for (int i = 2; i < n; i++) pthread_join(th[i], NULL);
}

KVBM_TEST(concurrent_touch_and_count)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(UINT64_C(1) << 20, NULL, &t));
    run_threads(t, false);
    /* no decay (sample 10M): every touch landed; 2 x 40 touches per key saturate at 15 */
    for (uint64_t k = 0; k < KEYS; k++) EXPECT_EQ(kvbm_tracker_count_u64(t, k), 15u);
    kvbm_tracker_release(t);
}

KVBM_TEST(concurrent_touch_count_decay)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1024, NULL, &t));
    run_threads(t, true);
    uint32_t size = 0;
    EXPECT_TRUE(kvbm__tracker_sketch_info(t, NULL, &size, NULL));
    EXPECT_LT(size, 10240u);
    for (uint64_t k = 0; k < KEYS; k++) EXPECT_LE(kvbm_tracker_count_u64(t, k), 15u);
    kvbm_tracker_release(t);
}

/* Deferred touches across threads: a touch that happened before a count on another thread
 * is seen by it, pending or not - here it is still pending in the ring, or was applied by a
 * third thread's count (the flush's release / the count's acquire on the pending number). */
enum { PUB_KEYS = 3000 };

typedef struct pub_state {
    kvbm_tracker *t;
    atomic_uint   published; /* keys 0..published-1 were touched (once each) */
    atomic_bool   done;
    uint64_t      low;       /* reader: counts of published keys that read 0 */
} pub_state;

static void *pub_writer(void *arg)
{
    pub_state *p = arg;
    for (unsigned k = 0; k < PUB_KEYS; k++) {
        kvbm_tracker_touch_u64(p->t, k);
        atomic_store_explicit(&p->published, k + 1, memory_order_release);
    }
    return NULL;
}

static void *pub_reader(void *arg)
{
    pub_state *p = arg;
    unsigned seen = 0;
    while (seen < PUB_KEYS) {
        unsigned n = atomic_load_explicit(&p->published, memory_order_acquire);
        for (; seen < n; seen++)
            if (kvbm_tracker_count_u64(p->t, seen) == 0) p->low++;
    }
    return NULL;
}

static void *pub_flusher(void *arg) /* counts unrelated keys: flushes from a third thread */
{
    pub_state *p = arg;
    uint64_t k = 1u << 20;
    while (!atomic_load(&p->done)) (void)kvbm_tracker_count_u64(p->t, k++);
    return NULL;
}

KVBM_TEST(concurrent_deferred_touch_seen_by_later_count)
{
    pub_state p = { 0 };
    ASSERT_OK(kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &p.t));
    atomic_init(&p.published, 0);
    atomic_init(&p.done, false);
    pthread_t w, r, f;
    ASSERT_EQ(pthread_create(&f, NULL, pub_flusher, &p), 0);
    ASSERT_EQ(pthread_create(&r, NULL, pub_reader, &p), 0);
    ASSERT_EQ(pthread_create(&w, NULL, pub_writer, &p), 0);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    atomic_store(&p.done, true);
    pthread_join(f, NULL);
    EXPECT_EQ_U64(p.low, 0);
    for (unsigned k = 0; k < PUB_KEYS; k++) EXPECT_GE(kvbm_tracker_count_u64(p.t, k), 1u);
    kvbm_tracker_release(p.t);
}
