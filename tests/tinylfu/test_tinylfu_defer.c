/* tests/tinylfu/test_tinylfu_defer.c - deferred application of TinyLFU touches (tinylfu.c,
 * "Deferred application"): a tracker that keeps up to KVBM__TRACKER_PENDING touches pending
 * gives exactly the results of one that applies every touch at once - every count, every
 * size, every table word, every decay point - for any sequence of touches (all entry
 * points), counts (all entry points), decays and sketch reads. */
#include <stdlib.h>

#include "harness.h"
#include "internal.h"
#include "kvbm/tracker.h"
#include "tinylfu/tinylfu_int.h"

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Distinct keys with distinct key hashes (a key (i * K, i) would not do: the PLH hash folds
 * lo ^ hi * K, which is 0 for every such key). */
static kvbm_plh key_of(uint64_t i)
{
    return (kvbm_plh){ .lo = i * UINT64_C(0x9E3779B97F4A7C15), .hi = ~i };
}

static void bytes_of(uint64_t i, uint8_t k[16])
{
    kvbm_plh h = key_of(i);
    kvbm__store_le64(k, h.lo);
    kvbm__store_le64(k + 8, h.hi);
}

/* Same size and every table word equal (reads both sketches: applies pending touches). */
static bool same_tables(kvbm_tracker *a, kvbm_tracker *b)
{
    uint32_t sa = 0, sb = 0;
    if (!kvbm__tracker_sketch_info(a, NULL, &sa, NULL) ||
        !kvbm__tracker_sketch_info(b, NULL, &sb, NULL))
        return false;
    const kvbm__sketch *x = kvbm__tracker_sketch(a), *y = kvbm__tracker_sketch(b);
    if (sa != sb || x->size != y->size || x->words != y->words) return false;
    for (uint64_t w = 0; w < x->words; w++)
        if (atomic_load(&x->table[w]) != atomic_load(&y->table[w])) return false;
    return true;
}

typedef struct defer_stats {
    size_t counts, counts_with_pending, full_seen, decays_seen, mismatches;
} defer_stats;

/* One random step on both trackers; @d defers, @r applies at once. Touches dominate, so the
 * ring fills and wraps between reads. */
static void step(kvbm_tracker *d, kvbm_tracker *r, uint64_t *rng, uint64_t nkeys, defer_stats *st)
{
    uint64_t x = xs(rng);
    unsigned op = (unsigned)(x % 100);
    uint64_t k = (x >> 8) % nkeys;
    uint8_t kb[16];
    if (op < 40) {
        kvbm_tracker_touch(d, key_of(k));
        kvbm_tracker_touch(r, key_of(k));
    } else if (op < 50) {
        kvbm_tracker_touch_u64(d, k);
        kvbm_tracker_touch_u64(r, k);
    } else if (op < 55) {
        bytes_of(k, kb);
        kvbm_tracker_touch_key(d, kb);
        kvbm_tracker_touch_key(r, kb);
    } else if (op < 62) { /* 0..79 keys: one batch (chunks of 64 inside) or single touches */
        kvbm_plh keys[80];
        size_t n = (size_t)((x >> 40) % 80);
        for (size_t i = 0; i < n; i++) keys[i] = key_of(xs(rng) % nkeys);
        if ((x >> 39) & 1) {
            kvbm_tracker_touch_many(d, keys, n);
            kvbm_tracker_touch_many(r, keys, n);
        } else {
            for (size_t i = 0; i < n; i++) {
                kvbm_tracker_touch(d, keys[i]);
                kvbm_tracker_touch(r, keys[i]);
            }
        }
    } else if (op < 70) { /* prepared touches, as the registry and the store use them */
        kvbm_plh keys[40];
        kvbm__touch_cells cd[40], cr[40];
        size_t n = (x >> 39) & 1 ? 1 : 1 + (size_t)((x >> 40) % 40); /* one key: deferred */
        for (size_t i = 0; i < n; i++) keys[i] = key_of(xs(rng) % nkeys);
        kvbm__tracker_prepare_many(d, keys, cd, n);
        for (size_t i = 0; i < n; i++) kvbm__tracker_touch_prepare(r, keys[i], &cr[i]);
        kvbm__tracker_touch_apply(d, keys, cd, n);
        kvbm__tracker_touch_apply(r, keys, cr, n);
    } else if (op < 98) { /* a count, in one of four forms */
        if (kvbm__tracker_pending(d) != 0) st->counts_with_pending++;
        if (kvbm__tracker_pending(d) == KVBM__TRACKER_PENDING) st->full_seen++;
        uint32_t cd, cr;
        switch ((x >> 40) & 3) {
        case 0: cd = kvbm_tracker_count(d, key_of(k)); cr = kvbm_tracker_count(r, key_of(k)); break;
        case 1: cd = kvbm_tracker_count_u64(d, k); cr = kvbm_tracker_count_u64(r, k); break;
        case 2:
            bytes_of(k, kb);
            cd = kvbm_tracker_count_key(d, kb);
            cr = kvbm_tracker_count_key(r, kb);
            break;
        default: {
            kvbm__touch_cells c;
            kvbm__tracker_cells(d, key_of(k), &c);
            cd = kvbm__tracker_count_cells(d, key_of(k), &c);
            cr = kvbm_tracker_count(r, key_of(k));
        }
        }
        st->counts++;
        if (cd != cr) st->mismatches++;
        EXPECT_EQ(kvbm__tracker_pending(d), 0u); /* a read applies every pending touch */
    } else if (op < 99) {
        kvbm_tracker_decay_now(d);
        kvbm_tracker_decay_now(r);
        st->decays_seen++;
    } else {
        if (!same_tables(d, r)) st->mismatches++;
    }
}

/* Random sequences on tables of 1, 16, 256 and 16384 words (decays every 10 / 640 / 10240
 * / 655360 increments), key pools smaller and larger than the table. */
KVBM_TEST(deferred_tracker_matches_immediate)
{
    static const uint64_t caps[] = { 4, 64, 1024, 65536 };
    uint64_t seed = test_seed();
    printf("seed=%" PRIu64 "\n", seed);
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        for (uint64_t nkeys = 8; nkeys <= 4096; nkeys *= 16) {
            kvbm_tracker *d = NULL, *r = NULL;
            ASSERT_OK(kvbm_tinylfu_create(caps[c], NULL, &d));
            ASSERT_OK(kvbm_tinylfu_create(caps[c], NULL, &r));
            kvbm__tracker_set_defer(r, false);
            uint64_t rng = (seed ^ (caps[c] * 31 + nkeys)) | 1;
            defer_stats st = { 0 };
            for (int i = 0; i < 20000; i++) step(d, r, &rng, nkeys, &st);
            EXPECT_EQ(kvbm__tracker_pending(r), 0u); /* the reference never defers */
            EXPECT_TRUE(same_tables(d, r));
            EXPECT_EQ(st.mismatches, (size_t)0);
            /* the deferral was exercised: counts found touches pending, the ring filled */
            EXPECT_GT(st.counts_with_pending, st.counts / 2);
            EXPECT_GT(st.full_seen, (size_t)0);
            kvbm_tracker_release(d);
            kvbm_tracker_release(r);
        }
    }
}

/* Batched touches (prepared batches of 1..150 keys, touch_many) give exactly the results of
 * the same touches one by one on an immediate tracker (which increments key by key): the
 * batch's run adds the size once when no decay can fall inside it, else goes key by key.
 * Capacities 1 and 4 (sample sizes 10 and 40) put decays inside the runs, 1024 and 65536
 * do not; keys collide in the small tables. */
KVBM_TEST(batched_touches_match_single_touches)
{
    static const uint64_t caps[] = { 1, 4, 1024, 65536 };
    uint64_t seed = test_seed();
    printf("seed=%" PRIu64 "\n", seed);
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        kvbm_tracker *b = NULL, *r = NULL;
        ASSERT_OK(kvbm_tinylfu_create(caps[c], NULL, &b));
        ASSERT_OK(kvbm_tinylfu_create(caps[c], NULL, &r));
        kvbm__tracker_set_defer(r, false);
        uint64_t rng = (seed ^ (caps[c] * 77)) | 1, nkeys = caps[c] * 2 + 5;
        size_t mismatches = 0, decays = 0;
        for (int it = 0; it < 3000; it++) {
            uint64_t x = xs(&rng);
            kvbm_plh keys[150];
            kvbm__touch_cells cb[150];
            size_t n = 2 + (size_t)((x >> 40) % 149);
            for (size_t i = 0; i < n; i++) keys[i] = key_of(xs(&rng) % nkeys);
            uint32_t before = kvbm__tracker_sketch(r)->size;
            if (x % 3 == 0) {
                kvbm_tracker_touch_many(b, keys, n);
            } else {
                kvbm__tracker_prepare_many(b, keys, cb, n);
                kvbm__tracker_touch_apply(b, keys, cb, n);
            }
            for (size_t i = 0; i < n; i++) kvbm_tracker_touch(r, keys[i]);
            if (kvbm__tracker_sketch(r)->size < before) decays++;
            if (x % 10 == 0 && !same_tables(b, r)) mismatches++;
        }
        EXPECT_TRUE(same_tables(b, r));
        EXPECT_EQ(mismatches, (size_t)0);
        if (caps[c] <= 4) EXPECT_GT(decays, (size_t)100); /* decays inside the batches */
        for (uint64_t k = 0; k < nkeys; k++)
            EXPECT_EQ(kvbm_tracker_count(b, key_of(k)), kvbm_tracker_count(r, key_of(k)));
        kvbm_tracker_release(b);
        kvbm_tracker_release(r);
    }
}

/* The decay points are those of immediate application: with a sample size of 10 (capacity
 * 1), a decay is due within the pending touches; the size after a read equals the reference
 * size at every step. */
KVBM_TEST(deferred_decay_points_match)
{
    kvbm_tracker *d = NULL, *r = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1, NULL, &d));
    ASSERT_OK(kvbm_tinylfu_create(1, NULL, &r));
    kvbm__tracker_set_defer(r, false);
    for (uint64_t n = 1; n <= 200; n++) {
        for (uint64_t k = 0; k < n; k++) {
            kvbm_tracker_touch_u64(d, k * 7 + n);
            kvbm_tracker_touch_u64(r, k * 7 + n);
        }
        uint32_t want = n < KVBM__TRACKER_PENDING ? (uint32_t)n : KVBM__TRACKER_PENDING;
        EXPECT_EQ(kvbm__tracker_pending(d), want);
        uint32_t sd = 0, sr = 0;
        EXPECT_TRUE(kvbm__tracker_sketch_info(d, NULL, &sd, NULL));
        EXPECT_TRUE(kvbm__tracker_sketch_info(r, NULL, &sr, NULL));
        EXPECT_EQ(sd, sr);
        EXPECT_LT(sd, 10u);
        EXPECT_EQ(kvbm_tracker_count_u64(d, n), kvbm_tracker_count_u64(r, n));
    }
    kvbm_tracker_release(d);
    kvbm_tracker_release(r);
}

/* A touch is pending until the next read, which sees it. */
KVBM_TEST(deferred_touch_pending_until_read)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create_preset(KVBM_TRACKER_SMALL, &t));
    kvbm_tracker_touch_u64(t, 42);
    kvbm_tracker_touch_u64(t, 42);
    EXPECT_EQ(kvbm__tracker_pending(t), 2u);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 42), 2u);
    EXPECT_EQ(kvbm__tracker_pending(t), 0u);
    kvbm_tracker_touch_u64(t, 42);
    kvbm_tracker_decay_now(t); /* applies the touch (3), then halves */
    EXPECT_EQ(kvbm_tracker_count_u64(t, 42), 1u);
    kvbm_tracker_release(t); /* with nothing pending */
    ASSERT_OK(kvbm_tinylfu_create_preset(KVBM_TRACKER_SMALL, &t));
    kvbm_tracker_touch_u64(t, 7);
    EXPECT_EQ(kvbm__tracker_pending(t), 1u);
    kvbm_tracker_release(t); /* with a touch pending: no leak (ASan) */
}

static bool half_every_5(void *ctx, uint32_t n)
{
    (*(uint32_t *)ctx)++;
    return n >= 5;
}

/* A custom decay policy is user code: its calls stay inside the touch that causes them, so
 * such a tracker never defers (nor after kvbm__tracker_set_defer(true)). */
KVBM_TEST(custom_decay_policy_is_not_deferred)
{
    uint32_t calls = 0;
    kvbm_decay_policy p = { half_every_5, &calls };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1 << 10, &p, &t));
    kvbm__tracker_set_defer(t, true);
    for (uint64_t k = 0; k < 12; k++) {
        kvbm_tracker_touch_u64(t, k);
        EXPECT_EQ(calls, (uint32_t)k + 1);
        EXPECT_EQ(kvbm__tracker_pending(t), 0u);
    }
    kvbm_tracker_release(t);
}
