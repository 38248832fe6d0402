/* tests/tinylfu/test_tinylfu_shadow.c - the sketch counts what its documented layout says:
 * estimates are identical on a fresh thread with the touches in another order (sketch
 * increments commute; no decay happens at this volume: 4096-entry sketch, sample size
 * 40960), and every touch and count matches a shadow table built from kvbm__sketch_cells. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "internal.h"
#include "kvbm/plh.h"
#include "kvbm/tracker.h"
#include "tinylfu/tinylfu_int.h"

#define NKEYS 4096 /* as many keys as the sketch has entries: lines collide */

/* Structured keys (PLHs of one sequence share bits; these share most of theirs). */
static kvbm_plh key_of(uint64_t i) { return (kvbm_plh){ i * UINT64_C(0x9e3779b97f4a7c15), i & 7 }; }

/* Touch keys with a pattern that mixes single and batched touches, then read every count. */
static void workload(kvbm_tracker *t, uint32_t *counts, bool reversed)
{
    kvbm_plh batch[64];
    for (uint64_t round = 0; round < 3; round++) {
        for (uint64_t n = 0; n < NKEYS; n++) {
            uint64_t i = reversed ? NKEYS - 1 - n : n;
            if ((i + round) % 3 == 0) kvbm_tracker_touch(t, key_of(i));
            if (i % 5 == 0) (void)kvbm_tracker_count(t, key_of((i * 7) % NKEYS));
        }
        for (uint64_t n = 0; n < NKEYS; n += 64) {
            uint64_t i = reversed ? NKEYS - 64 - n : n;
            for (uint64_t j = 0; j < 64; j++) batch[j] = key_of((i + j * 13) % NKEYS);
            kvbm_tracker_touch_many(t, batch, 64);
        }
    }
    for (uint64_t i = 0; i < NKEYS; i++) counts[i] = kvbm_tracker_count(t, key_of(i));
}

struct job { uint32_t *counts; int rc; };

static void *fresh_thread(void *arg)
{
    struct job *j = arg;
    kvbm_tracker *t = NULL;
    j->rc = kvbm_tinylfu_create(1 << 12, NULL, &t);
    if (j->rc == 0) workload(t, j->counts, true);
    kvbm_tracker_release(t);
    return NULL;
}

KVBM_TEST(counts_are_the_same_across_threads_and_orders)
{
    uint32_t *a = calloc(NKEYS, sizeof *a), *b = calloc(NKEYS, sizeof *b);
    ASSERT_TRUE(a != NULL && b != NULL);
    /* touch an unrelated tracker on this thread first (per-thread state would show) */
    kvbm_tracker *warm = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1 << 12, NULL, &warm));
    for (uint64_t i = 0; i < NKEYS; i++) kvbm_tracker_touch(warm, (kvbm_plh){ i, i + 1000000 });
    kvbm_tracker_release(warm);

    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1 << 12, NULL, &t));
    workload(t, a, false);
    kvbm_tracker_release(t);

    struct job j = { b, -1 };
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, fresh_thread, &j), 0);
    pthread_join(th, NULL);
    ASSERT_EQ(j.rc, 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        EXPECT_EQ(a[i], b[i]);
        if (a[i] != 0) nonzero++;
    }
    EXPECT_GT(nonzero, NKEYS / 2); /* the workload really counted */
    free(a);
    free(b);
}

/* Every touch and count against a shadow table maintained from kvbm__sketch_cells (the
 * documented layout): the whole table after every touch, and each count. 64 keys in 1024
 * words and, second, in 8 words, so that keys share words and cells; the all-zero key is
 * one of them. */
static kvbm_plh group_key(uint64_t i)
{
    return i == 0 ? (kvbm_plh){ 0, 0 } : key_of(i);
}

static void shadow_cells(const kvbm__sketch *s, kvbm_plh h, uint64_t w[4], unsigned sh[4])
{
    kvbm__sketch_cells(s, kvbm__tinylfu_key_hash(h.lo, h.hi), w, sh);
    for (unsigned i = 0; i < 4; i++) { /* one word, row i in quarter i */
        ASSERT_TRUE(w[i] == w[0]);
        ASSERT_TRUE(sh[i] / 16 == i);
    }
}

static bool never_decay(void *ctx, uint32_t n)
{
    (void)ctx;
    (void)n;
    return false;
}

static void shadow_run(uint64_t WORDS)
{
    enum { N = 64 };
    kvbm_tracker *t = NULL;
    kvbm_decay_policy nodecay = { never_decay, NULL };
    ASSERT_OK(kvbm_tinylfu_create(WORDS * 4, &nodecay, &t));
    const kvbm__sketch *s = kvbm__tracker_sketch(t);
    ASSERT_TRUE(s != NULL);
    ASSERT_EQ_U64(s->words, WORDS);
    uint64_t *shadow = calloc(WORDS, sizeof *shadow);
    ASSERT_TRUE(shadow != NULL);
    uint64_t rng = 12345;
    size_t mismatches = 0;
    for (unsigned step = 0; step < 4000; step++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        kvbm_plh h = group_key((rng >> 33) % N);
        uint64_t w[4];
        unsigned sh[4];
        shadow_cells(s, h, w, sh);
        if ((rng >> 20) & 1) {
            kvbm_tracker_touch(t, h);
            for (unsigned i = 0; i < 4; i++)
                if (((shadow[w[i]] >> sh[i]) & 15) < 15) shadow[w[i]] += UINT64_C(1) << sh[i];
            for (uint64_t x = 0; x < WORDS; x++)
                if (atomic_load(&s->table[x]) != shadow[x]) mismatches++;
        } else {
            uint32_t want = 15;
            for (unsigned i = 0; i < 4; i++) {
                uint32_t v = (uint32_t)(shadow[w[i]] >> sh[i]) & 15;
                if (v < want) want = v;
            }
            EXPECT_EQ(kvbm_tracker_count(t, h), want);
        }
    }
    EXPECT_EQ(mismatches, 0);
    EXPECT_GT(kvbm_tracker_count(t, group_key(0)), 0); /* the all-zero key was counted */
    free(shadow);
    kvbm_tracker_release(t);
}

KVBM_TEST(touches_and_counts_match_a_shadow_table)
{
    shadow_run(1024);
    shadow_run(8); /* 64 keys in 8 words: shared words, shared cells, saturation */
}
