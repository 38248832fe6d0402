/* tests/tinylfu/test_tinylfu_memo.c - the per-thread hash memo is invisible: estimates are
 * identical whether keys hit the memo, collide in it, or are hashed by a fresh thread.
 * Keys come in groups of eight that fall in the same memo set (more than its ways); the second
 * run applies the same touches in another order. Sketch
 * increments commute (no decay happens at this volume: 4096-entry sketch, sample size
 * 40960), so any wrong memo hit shows up as a count mismatch. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "internal.h"
#include "kvbm/plh.h"
#include "kvbm/tracker.h"
#include "tinylfu/tinylfu_int.h"

#define NKEYS 4096 /* far more than the memo's entries: forces collisions and evictions */

/* Key number n of memo set @set: the n-th candidate (lo = a multiple of a large odd
 * constant, hi = set) that the memo maps to @set. */
static kvbm_plh key_in_set(unsigned set, unsigned n)
{
    kvbm_plh h = { (uint64_t)set, 0 };
    for (uint64_t c = 1;; c++) {
        h.lo = c * UINT64_C(0x9e3779b97f4a7c15);
        if (kvbm__tinylfu_memo_set(h.lo, h.hi) == set && n-- == 0) return h;
    }
}

static kvbm_plh keys[NKEYS];

/* Groups of eight consecutive keys share a memo set (more than its ways). */
static kvbm_plh key_of(uint64_t i) { return keys[i]; }

static void make_keys(void)
{
    for (uint64_t i = 0; i < NKEYS; i++)
        keys[i] = key_in_set((unsigned)((i / 8) % KVBM__TLFU_MEMO_SETS), (unsigned)(i % 8 + 8 * (i / 8 / KVBM__TLFU_MEMO_SETS)));
}

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

KVBM_TEST(hash_memo_is_transparent_across_threads_and_collisions)
{
    uint32_t *a = calloc(NKEYS, sizeof *a), *b = calloc(NKEYS, sizeof *b);
    ASSERT_TRUE(a != NULL && b != NULL);
    make_keys();
    for (uint64_t i = 0; i < 16; i++) /* the premise: groups of eight per set */
        ASSERT_EQ(kvbm__tinylfu_memo_set(key_of(i).lo, key_of(i).hi), kvbm__tinylfu_memo_set(key_of(i & ~7u).lo, key_of(i & ~7u).hi));
    /* warm this thread's memo with unrelated keys first */
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

/* The memo is set associative. Keys come in groups of eight that fall in one memo set
 * (more than its ways), group 0 holds the all-zero key (the memo's initial content), and
 * every touch and count is checked against a shadow table maintained with hashes computed
 * directly (no memo): the whole table after every touch, and each count. The tracker is
 * counted first, so that touches go through the memo too. */
static kvbm_plh group_key(uint64_t i)
{
    if (i == 0) return (kvbm_plh){ 0, 0 };
    unsigned set0 = kvbm__tinylfu_memo_set(0, 0);
    unsigned set = (unsigned)(set0 + i / 8) % KVBM__TLFU_MEMO_SETS;
    return key_in_set(set, (unsigned)(i % 8));
}

static void shadow_cells(const kvbm__sketch *s, kvbm_plh h, uint64_t w[4], unsigned sh[4])
{
    uint8_t k[16];
    kvbm__store_le64(k, h.lo);
    kvbm__store_le64(k + 8, h.hi);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t x = kvbm__tinylfu_hash(s, i, k, 16);
        w[i] = x % s->words;
        sh[i] = (unsigned)(x & 15) * 4;
    }
}

KVBM_TEST(hash_memo_sets_match_direct_hashing)
{
    enum { N = 64, WORDS = 1024 };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(WORDS * 4, NULL, &t));
    const kvbm__sketch *s = kvbm__tracker_sketch(t);
    ASSERT_TRUE(s != NULL);
    ASSERT_EQ_U64(s->words, WORDS);
    uint64_t *shadow = calloc(WORDS, sizeof *shadow);
    ASSERT_TRUE(shadow != NULL);
    (void)kvbm_tracker_count(t, group_key(1)); /* memo on */
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
            for (unsigned x = 0; x < WORDS; x++)
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
