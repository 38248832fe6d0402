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
