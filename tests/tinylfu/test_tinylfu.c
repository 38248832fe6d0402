/* tests/tinylfu/test_tinylfu.c - TinyLFU sketch and trackers (10-core §4, §7.6). */
#include <stdlib.h>


#include "harness.h"
#include "internal.h"
#include "kvbm/tracker.h"
#include "tinylfu/tinylfu_int.h"

static kvbm__sketch sk_new(uint64_t cap)
{
    kvbm__sketch s;
    if (kvbm__sketch_init(&s, cap, NULL) != KVBM_OK) abort();
    return s;
}

static void le64(uint8_t *p, uint64_t v) { kvbm__store_le64(p, v); }
static void inc64(kvbm__sketch *s, uint64_t k) { uint8_t b[8]; le64(b, k); kvbm__sketch_increment(s, b, 8); }
static uint32_t est64(const kvbm__sketch *s, uint64_t k) { uint8_t b[8]; le64(b, k); return kvbm__sketch_estimate(s, b, 8); }

/* ---- the key hash and the blocked layout (issue 16; not the reference's) ---------------- */

/* The key hash depends on both halves and tells an 8-byte key k from the 16-byte key (k, 0). */
KVBM_TEST(key_hash_mixes_both_halves)
{
    uint64_t seed = test_seed();
    printf("seed=%" PRIu64 "\n", seed);
    uint64_t x = seed | 1;
    for (int n = 0; n < 2000; n++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t a = x, b = x * UINT64_C(0x2545F4914F6CDD1D);
        uint64_t h = kvbm__tinylfu_key_hash(a, b);
        ASSERT_EQ_U64(h, kvbm__tinylfu_key_hash(a, b)); /* a function of the key */
        ASSERT_TRUE(h != kvbm__tinylfu_key_hash(a ^ 1, b));
        ASSERT_TRUE(h != kvbm__tinylfu_key_hash(a, b ^ (UINT64_C(1) << 63)));
    }
    kvbm__sketch s = sk_new(1 << 16);
    inc64(&s, 5);
    uint8_t k16[16] = { 5 };
    EXPECT_EQ(kvbm__sketch_estimate(&s, k16, 16), 0u);
    EXPECT_EQ(est64(&s, 5), 1u);
    kvbm__sketch_fini(&s);
}

/* Geometry: the reference's max(1, capacity/4) words; a key's four cells are in one word,
 * row i among the four counters of bits 16i..16i+15, so distinct. */
KVBM_TEST(sketch_cells_follow_documented_layout)
{
    kvbm__sketch s = sk_new(100); /* 25 words: not a power of two */
    EXPECT_EQ_U64(s.words, 25u);
    kvbm__sketch t = sk_new(3);
    EXPECT_EQ_U64(t.words, 1u);
    kvbm__sketch_fini(&t);
    uint8_t key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    kvbm__sketch_increment(&s, key, 16);
    uint64_t w[4];
    unsigned sh[4];
    kvbm__sketch_cells(&s, kvbm__tinylfu_key_hash(0x0807060504030201u, 0x100f0e0d0c0b0a09u), w, sh);
    uint64_t expect[25] = { 0 };
    for (unsigned i = 0; i < 4; i++) {
        EXPECT_EQ_U64(w[i], w[0]);
        EXPECT_EQ(sh[i] / 16, i);
        EXPECT_EQ(sh[i] % 4, 0u);
        expect[w[i]] += UINT64_C(1) << sh[i];
    }
    for (int i = 0; i < 25; i++) EXPECT_EQ_U64(s.table[i], expect[i]);
    EXPECT_EQ(s.size, 1u);
    /* saturation per counter: the other three keep counting */
    for (int n = 0; n < 20; n++) kvbm__sketch_increment(&s, key, 16);
    EXPECT_EQ(kvbm__sketch_estimate(&s, key, 16), 15u);
    EXPECT_EQ_U64(s.table[w[0]], 15 * expect[w[0]]);
    EXPECT_EQ(s.size, 15u); /* increments that grew no cell do not count */
    /* words are used evenly: 25000 keys over 25 words */
    unsigned per_word[25] = { 0 };
    for (uint64_t k = 0; k < 25000; k++) {
        kvbm__sketch_cells(&s, kvbm__tinylfu_key_hash(k, 0), w, sh);
        per_word[w[0]]++;
    }
    for (int i = 0; i < 25; i++) EXPECT_TRUE(per_word[i] > 850 && per_word[i] < 1150);
    kvbm__sketch_fini(&s);
}

/* ---- §7.6 ------------------------------------------------------------------------------ */

KVBM_TEST(test_tinylfu_increment_and_estimate)
{
    kvbm__sketch s = sk_new(100);
    inc64(&s, 42);
    EXPECT_EQ(est64(&s, 42), 1u);
    inc64(&s, 42);
    inc64(&s, 42);
    EXPECT_EQ(est64(&s, 42), 3u);
    EXPECT_EQ(est64(&s, 999), 0u);
    kvbm__sketch_fini(&s);
}

KVBM_TEST(test_tinylfu_saturation)
{
    kvbm__sketch s = sk_new(100);
    for (int i = 0; i < 20; i++) inc64(&s, 7);
    EXPECT_LE(est64(&s, 7), 15u);
    EXPECT_EQ(est64(&s, 7), 15u);
    kvbm__sketch_fini(&s);
}

KVBM_TEST(test_tinylfu_reset)
{
    kvbm__sketch s = sk_new(10); /* 2 words, decay after 100 effective increments */
    EXPECT_EQ(s.sample_size, 100u);
    for (uint64_t k = 0; k < 100; k++) inc64(&s, k);
    EXPECT_GT(est64(&s, 5), 0u);
    EXPECT_LT(s.size, 100u);
    kvbm__sketch_fini(&s);
}

KVBM_TEST(test_frequency_tracker_trait)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(100, NULL, &t));
    kvbm_tracker_touch_u64(t, 42);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 42), 1u);
    kvbm_tracker_touch_u64(t, 42);
    kvbm_tracker_touch_u64(t, 42);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 42), 3u);
    kvbm_tracker_release(t);
}

KVBM_TEST(test_noop_tracker)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_noop_tracker_create(&t));
    for (int i = 0; i < 5; i++) kvbm_tracker_touch_u64(t, 1);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 1), 0u);
    kvbm_plh h = { 1, 2 };
    kvbm_tracker_touch(t, h);
    EXPECT_EQ(kvbm_tracker_count(t, h), 0u);
    kvbm_tracker_decay_now(t); /* no-op */
    kvbm_tracker_release(t);
}

static void key128(uint8_t out[16], uint64_t hi, uint64_t lo)
{
    le64(out, lo);
    le64(out + 8, hi);
}

KVBM_TEST(test_u128_keys)
{
    kvbm__sketch s = sk_new(100);
    uint8_t k[16], zero[16] = { 0 };
    key128(k, UINT64_C(0x0123456789ABCDEF), UINT64_C(0xFEDCBA9876543210)); /* 0x0123..CDEF_FEDC..3210 */
    kvbm__sketch_increment(&s, k, 16);
    EXPECT_EQ(kvbm__sketch_estimate(&s, k, 16), 1u);
    kvbm__sketch_increment(&s, k, 16);
    kvbm__sketch_increment(&s, k, 16);
    EXPECT_EQ(kvbm__sketch_estimate(&s, k, 16), 3u);
    EXPECT_EQ(kvbm__sketch_estimate(&s, zero, 16), 0u);
    kvbm__sketch_fini(&s);
}

KVBM_TEST(test_u128_tracker)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(100, NULL, &t));
    kvbm_plh h = { UINT64_C(0x0123456789ABCDEF), UINT64_C(0xFEDCBA9876543210) };
    uint8_t k[16];
    kvbm_plh_to_le16(h, k);
    kvbm_tracker_touch(t, h);
    EXPECT_EQ(kvbm_tracker_count(t, h), 1u);
    kvbm_tracker_touch_key(t, k); /* same key, raw bytes */
    EXPECT_EQ(kvbm_tracker_count_key(t, k), 2u);
    kvbm_plh other = { 0, 0 };
    EXPECT_EQ(kvbm_tracker_count(t, other), 0u);
    kvbm_tracker_release(t);
}

KVBM_TEST(test_settings_builder_default_policy)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1000, NULL, &t));
    EXPECT_EQ(kvbm_tracker_count_u64(t, 12345), 0u);
    uint64_t words = 0;
    uint32_t size = 9, sample = 0;
    EXPECT_TRUE(kvbm__tracker_sketch_info(t, &words, &size, &sample));
    EXPECT_EQ_U64(words, 250u);
    EXPECT_EQ(size, 0u);
    EXPECT_EQ(sample, 10000u);
    kvbm_tracker_release(t);
    /* capacity is required */
    t = NULL;
    EXPECT_STATUS(kvbm_tinylfu_create(0, NULL, &t), KVBM_EINVAL);
    EXPECT_TRUE(t == NULL);
}

typedef struct fixed_policy { uint32_t sample; } fixed_policy;
static bool fixed_decay(void *ctx, uint32_t n) { return n >= ((fixed_policy *)ctx)->sample; }

KVBM_TEST(test_settings_builder_custom_policy)
{
    fixed_policy fp = { 500 };
    kvbm_decay_policy d = { fixed_decay, &fp };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(100, &d, &t));
    for (int i = 0; i < 10; i++) kvbm_tracker_touch_u64(t, 5);
    EXPECT_GE(kvbm_tracker_count_u64(t, 5), 5u);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 5), 10u);
    kvbm_tracker_release(t);
}

KVBM_TEST(test_settings_builder_into_tracker)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(64, NULL, &t));
    kvbm_tracker_touch_u64(t, 1);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 1), 1u);
    kvbm_tracker_release(t);
}

/* FixedDecayPolicy::new(100): should_decay(99) no, (100) yes, (101) yes - driven through
 * the sketch by presetting size and making one effective increment on an empty table. */
static bool decays_at(kvbm__sketch *s, uint32_t n)
{
    memset(s->table, 0, (size_t)s->words * sizeof *s->table);
    s->size = n - 1;
    inc64(s, 1234);  /* effective: size becomes n, then decay(n)? */
    return s->size != n;
}

KVBM_TEST(test_fixed_decay_policy)
{
    kvbm__sketch s = sk_new(10); /* from_capacity(10): sample 100 */
    EXPECT_FALSE(decays_at(&s, 99));
    EXPECT_TRUE(decays_at(&s, 100));
    EXPECT_TRUE(decays_at(&s, 101));
    /* after the decay at 100: (100 >> 1) - (ones >> 2), ones <= 4 -> 49 or 50 */
    (void)decays_at(&s, 100);
    EXPECT_GE(s.size, 49u);
    EXPECT_LE(s.size, 50u);
    kvbm__sketch_fini(&s);
}

KVBM_TEST(test_fixed_decay_policy_from_capacity)
{
    EXPECT_EQ(kvbm__tinylfu_sample_size(10), 100u);
    EXPECT_EQ(kvbm__tinylfu_sample_size(429496729), 4294967290u);
    EXPECT_EQ(kvbm__tinylfu_sample_size(429496730), UINT32_MAX); /* saturates */
    EXPECT_EQ(kvbm__tinylfu_sample_size(UINT64_MAX), UINT32_MAX);
    kvbm__sketch s = sk_new(10);
    EXPECT_EQ(s.sample_size, 100u);
    kvbm__sketch_fini(&s);
}

typedef struct armed_policy { atomic_bool armed; } armed_policy;
static bool armed_decay(void *ctx, uint32_t n)
{
    KVBM_UNUSED(n);
    return atomic_exchange(&((armed_policy *)ctx)->armed, false);
}

KVBM_TEST(test_manual_decay_via_atomic_policy)
{
    armed_policy ap;
    atomic_init(&ap.armed, false);
    kvbm_decay_policy d = { armed_decay, &ap };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(100, &d, &t));
    for (int i = 0; i < 4; i++) kvbm_tracker_touch_u64(t, 42);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 42), 4u);
    atomic_store(&ap.armed, true);
    kvbm_tracker_touch_u64(t, 99);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 42), 2u);
    EXPECT_LE(kvbm_tracker_count_u64(t, 99), 1u);
    kvbm_tracker_release(t);
}

/* ---- reset arithmetic, presets, sharing -------------------------------------------- */

KVBM_TEST(reset_halves_counters_and_applies_size_formula)
{
    kvbm__sketch s = sk_new(8); /* 2 words */
    s.table[0] = UINT64_C(0xFEDCBA9876543210);
    s.table[1] = UINT64_C(0x1111111111111111);
    s.size = 50;
    kvbm__sketch_reset(&s);
    EXPECT_EQ_U64(s.table[0], (UINT64_C(0xFEDCBA9876543210) >> 1) & UINT64_C(0x7777777777777777));
    EXPECT_EQ_U64(s.table[1], 0u);
    /* ones = 8 (odd counters in word 0) + 16 = 24; size = 25 - 6 = 19 */
    EXPECT_EQ(s.size, 19u);
    s.size = 3; /* saturating: (3 >> 1) - (ones >> 2) < 0 -> 0 */
    s.table[1] = UINT64_C(0x1111111111111111);
    kvbm__sketch_reset(&s);
    EXPECT_EQ(s.size, 0u);
    kvbm__sketch_fini(&s);
}

KVBM_TEST(capacity_presets)
{
    EXPECT_EQ_U64(kvbm_tracker_capacity_entries(KVBM_TRACKER_SMALL), 262144u);
    EXPECT_EQ_U64(kvbm_tracker_capacity_entries(KVBM_TRACKER_MEDIUM), 2097152u);
    EXPECT_EQ_U64(kvbm_tracker_capacity_entries(KVBM_TRACKER_LARGE), 16777216u);
    EXPECT_EQ_U64(kvbm_tracker_capacity_entries((kvbm_tracker_capacity)9), 0u);
    const struct { kvbm_tracker_capacity p; uint64_t words; uint32_t sample; } want[] = {
        { KVBM_TRACKER_SMALL, 65536, 2621440 },
        { KVBM_TRACKER_MEDIUM, 524288, 20971520 },
        { KVBM_TRACKER_LARGE, 4194304, 167772160 },
    };
    for (int i = 0; i < 3; i++) {
        kvbm_tracker *t = NULL;
        ASSERT_OK(kvbm_tinylfu_create_preset(want[i].p, &t));
        uint64_t words = 0;
        uint32_t sample = 0;
        EXPECT_TRUE(kvbm__tracker_sketch_info(t, &words, NULL, &sample));
        EXPECT_EQ_U64(words, want[i].words);
        EXPECT_EQ(sample, want[i].sample);
        kvbm_tracker_touch_u64(t, 3);
        EXPECT_EQ(kvbm_tracker_count_u64(t, 3), 1u);
        kvbm_tracker_release(t);
    }
    kvbm_tracker *t = NULL;
    EXPECT_STATUS(kvbm_tinylfu_create_preset((kvbm_tracker_capacity)9, &t), KVBM_EINVAL);
}

KVBM_TEST(decay_now_halves)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1024, NULL, &t));
    for (int i = 0; i < 6; i++) kvbm_tracker_touch_u64(t, 77);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 77), 6u);
    kvbm_tracker_decay_now(t);
    EXPECT_EQ(kvbm_tracker_count_u64(t, 77), 3u);
    kvbm_tracker_release(t);
}

typedef struct metered { int touches, counts, destroyed; } metered;
static void m_touch(void *ctx, const uint8_t key[16]) { KVBM_UNUSED(key); ((metered *)ctx)->touches++; }
static uint32_t m_count(void *ctx, const uint8_t key[16]) { KVBM_UNUSED(key); ((metered *)ctx)->counts++; return 7; }
static void m_destroy(void *ctx) { ((metered *)ctx)->destroyed++; }

KVBM_TEST(custom_tracker_refcount_and_dispatch)
{
    metered m = { 0, 0, 0 };
    kvbm_tracker_ops ops = { m_touch, m_count, m_destroy };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tracker_create_custom(&ops, &m, &t));
    kvbm_tracker *t2 = kvbm_tracker_clone(t);
    EXPECT_TRUE(t2 == t);
    EXPECT_EQ(kvbm__tracker_refs(t), 2u);
    kvbm_plh h = { 3, 4 };
    kvbm_tracker_touch(t, h);
    kvbm_tracker_touch_u64(t, 5);
    EXPECT_EQ(kvbm_tracker_count(t, h), 7u);
    EXPECT_EQ(m.touches, 2);
    EXPECT_EQ(m.counts, 1);
    kvbm_tracker_release(t);
    EXPECT_EQ(m.destroyed, 0);
    kvbm_tracker_release(t2);
    EXPECT_EQ(m.destroyed, 1);
    kvbm_tracker_release(NULL);
    EXPECT_STATUS(kvbm_tracker_create_custom(NULL, &m, &t), KVBM_EINVAL);
    EXPECT_EQ(kvbm_tracker_count(NULL, h), 0u);
}

/* Shared by several threads (several managers through one registry): counts stay exact
 * below saturation and the rank-4 leaf lock is taken correctly. */
#include <pthread.h>
static void *toucher(void *arg)
{
    kvbm_tracker *t = arg;
    for (int i = 0; i < 5; i++)
        for (uint64_t k = 0; k < 200; k++) kvbm_tracker_touch_u64(t, k);
    return NULL;
}

KVBM_TEST(tracker_shared_across_threads)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(UINT64_C(1) << 20, NULL, &t));
    pthread_t th[2];
    for (int i = 0; i < 2; i++) ASSERT_EQ(pthread_create(&th[i], NULL, toucher, kvbm_tracker_clone(t)), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        kvbm_tracker_release(t);
    }
    uint32_t size = 0;
    EXPECT_TRUE(kvbm__tracker_sketch_info(t, NULL, &size, NULL));
    EXPECT_EQ(size, 2000u);
    for (uint64_t k = 0; k < 200; k++) EXPECT_GE(kvbm_tracker_count_u64(t, k), 10u);
    kvbm_tracker_release(t);
}

/* ---- batched touch (kvbm_tracker_touch_many) ---------------------------------------- */

/* Equal trackers: same size and every table word equal. */
static bool same_sketch(const kvbm_tracker *a, const kvbm_tracker *b)
{
    const kvbm__sketch *x = kvbm__tracker_sketch(a), *y = kvbm__tracker_sketch(b);
    if (x == NULL || y == NULL || x->words != y->words || x->size != y->size) return false;
    for (uint64_t w = 0; w < x->words; w++)
        if (atomic_load(&x->table[w]) != atomic_load(&y->table[w])) return false;
    return true;
}

typedef struct decay_log { uint32_t calls[4096]; size_t n; uint32_t every; } decay_log;

static bool logged_decay(void *ctx, uint32_t n)
{
    decay_log *l = ctx;
    if (l->n < sizeof l->calls / sizeof l->calls[0]) l->calls[l->n] = n;
    l->n++;
    return n >= l->every;
}

/* xorshift64 step. */
static uint64_t xs_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A batch of 0 .. max-1 random keys drawn from about 3 * distinct_lo values; its length. */
static size_t random_keys(uint64_t *x, kvbm_plh *keys, size_t max, uint64_t distinct_lo)
{
    size_t n = (size_t)(xs_next(x) % max);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = xs_next(x);
        keys[i].lo = r % distinct_lo;
        keys[i].hi = (r >> 20) % 3;
    }
    return n;
}

/* n calls of touch_many == the same keys touched one by one: identical tables, sizes and
 * decay points, including decays in the middle of a batch and batches longer than one
 * internal chunk (64 keys); small tables make hash collisions, same-word cells and
 * saturation frequent. */
KVBM_TEST(touch_many_equals_sequential_touches)
{
    uint64_t seed = test_seed();
    printf("seed=%" PRIu64 "\n", seed);
    const uint64_t caps[] = { 1, 7, 64, 1000 };
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        kvbm_tracker *seq = NULL, *bat = NULL;
        ASSERT_OK(kvbm_tinylfu_create(caps[c], NULL, &seq));
        ASSERT_OK(kvbm_tinylfu_create(caps[c], NULL, &bat));
        uint64_t x = seed * 2654435761u + c + 1;
        kvbm_plh keys[300];
        for (int round = 0; round < 60; round++) {
            size_t n = random_keys(&x, keys, 300, 50); /* 0 to 5 chunks; many repeats */
            for (size_t i = 0; i < n; i++) kvbm_tracker_touch(seq, keys[i]);
            kvbm_tracker_touch_many(bat, keys, n);
            ASSERT_TRUE(same_sketch(seq, bat));
        }
        for (uint64_t k = 0; k < 50; k++) {
            kvbm_plh h = { k % 3, k };
            EXPECT_EQ(kvbm_tracker_count(seq, h), kvbm_tracker_count(bat, h));
        }
        kvbm_tracker_release(seq);
        kvbm_tracker_release(bat);
    }
}

/* A custom decay policy sees the same sequence of should_decay() arguments, so a decay
 * triggered by key i of a batch happens before key i + 1 is applied. */
KVBM_TEST(touch_many_decays_mid_batch_like_sequential)
{
    static decay_log ls, lb;
    ls = (decay_log){ .every = 37 };
    lb = (decay_log){ .every = 37 };
    kvbm_decay_policy ps = { logged_decay, &ls }, pb = { logged_decay, &lb };
    kvbm_tracker *seq = NULL, *bat = NULL;
    ASSERT_OK(kvbm_tinylfu_create(256, &ps, &seq));
    ASSERT_OK(kvbm_tinylfu_create(256, &pb, &bat));
    kvbm_plh keys[100];
    for (int round = 0; round < 10; round++) {
        for (uint64_t i = 0; i < 100; i++) keys[i] = (kvbm_plh){ (uint64_t)round, i * 3 + 1 };
        for (size_t i = 0; i < 100; i++) kvbm_tracker_touch(seq, keys[i]);
        kvbm_tracker_touch_many(bat, keys, 100);
    }
    EXPECT_EQ(ls.n, 1000u);
    ASSERT_EQ(ls.n, lb.n);
    size_t m = ls.n < 4096 ? ls.n : 4096, decays = 0;
    for (size_t i = 0; i < m; i++) {
        EXPECT_EQ(ls.calls[i], lb.calls[i]);
        decays += ls.calls[i] >= 37;
    }
    EXPECT_GT(decays, 10u); /* decays did happen, mostly mid-batch */
    EXPECT_TRUE(same_sketch(seq, bat));
    kvbm_tracker_release(seq);
    kvbm_tracker_release(bat);
}

typedef struct key_log { kvbm_plh keys[16]; int n; } key_log;

static void log_touch(void *ctx, const uint8_t key[16])
{
    key_log *l = ctx;
    if (l->n < 16) {
        uint64_t lo = 0, hi = 0;
        for (int b = 7; b >= 0; b--) {
            lo = lo << 8 | key[b];
            hi = hi << 8 | key[8 + b];
        }
        l->keys[l->n] = (kvbm_plh){ hi, lo };
    }
    l->n++;
}

static uint32_t log_count(void *ctx, const uint8_t key[16]) { (void)ctx; (void)key; return 0; }

/* Custom trackers get one touch per key, in order; no-op and NULL arguments are no-ops. */
KVBM_TEST(touch_many_dispatch_and_arguments)
{
    key_log l = { .n = 0 };
    kvbm_tracker_ops ops = { log_touch, log_count, NULL };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tracker_create_custom(&ops, &l, &t));
    kvbm_plh keys[3] = { { 1, 2 }, { 3, 4 }, { 1, 2 } };
    kvbm_tracker_touch_many(t, keys, 3);
    ASSERT_EQ(l.n, 3);
    for (int i = 0; i < 3; i++) EXPECT_TRUE(kvbm_plh_eq(l.keys[i], keys[i]));
    kvbm_tracker_touch_many(t, keys, 0);
    kvbm_tracker_touch_many(t, NULL, 3);
    EXPECT_EQ(l.n, 3);
    kvbm_tracker_release(t);

    kvbm_tracker *noop = NULL, *lfu = NULL;
    ASSERT_OK(kvbm_noop_tracker_create(&noop));
    kvbm_tracker_touch_many(noop, keys, 3);
    EXPECT_EQ(kvbm_tracker_count(noop, keys[0]), 0u);
    kvbm_tracker_release(noop);
    kvbm_tracker_touch_many(NULL, keys, 3);
    ASSERT_OK(kvbm_tinylfu_create(1000, NULL, &lfu));
    kvbm_tracker_touch_many(lfu, keys, 3);
    EXPECT_EQ(kvbm_tracker_count(lfu, keys[0]), 2u);
    EXPECT_EQ(kvbm_tracker_count(lfu, keys[1]), 1u);
    kvbm_tracker_release(lfu);
}

/* ---- two-phase touch (kvbm__tracker_touch_prepare / _apply) ------------------------- */

/* Cells prepared early, touches applied later - with other touches of the same tracker in
 * between, as two registrations on two threads would interleave - give exactly the
 * sequential result (tables, sizes, decay points), before and after the first count()
 * switches the tracker's hashing to the memo. */
KVBM_TEST(two_phase_touch_equals_sequential_touches)
{
    uint64_t seed = test_seed();
    printf("seed=%" PRIu64 "\n", seed);
    const uint64_t caps[] = { 1, 64, 1000 };
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        kvbm_tracker *seq = NULL, *two = NULL;
        ASSERT_OK(kvbm_tinylfu_create(caps[c], NULL, &seq));
        ASSERT_OK(kvbm_tinylfu_create(caps[c], NULL, &two));
        uint64_t x = seed * 2654435761u + c + 7;
        kvbm_plh keys[80];
        kvbm__touch_cells cells[80];
        for (int round = 0; round < 40; round++) {
            if (round == 20) { /* from here on both hash through the memo */
                (void)kvbm_tracker_count(seq, keys[0]);
                (void)kvbm_tracker_count(two, keys[0]);
            }
            size_t n = random_keys(&x, keys, 80, 40), mid = n / 2;
            for (size_t i = 0; i < n; i++) kvbm__tracker_touch_prepare(two, keys[i], &cells[i]);
            /* the second half is touched by "another thread" first: apply order decides */
            for (size_t i = mid; i < n; i++) kvbm_tracker_touch(seq, keys[i]);
            for (size_t i = 0; i < mid; i++) kvbm_tracker_touch(seq, keys[i]);
            kvbm__tracker_touch_apply(two, keys + mid, cells + mid, n - mid);
            kvbm__tracker_touch_apply(two, keys, cells, mid);
            ASSERT_TRUE(same_sketch(seq, two));
        }
        kvbm_tracker_release(seq);
        kvbm_tracker_release(two);
    }
}

KVBM_TEST(two_phase_touch_dispatch_and_arguments)
{
    key_log l = { .n = 0 };
    kvbm_tracker_ops ops = { log_touch, log_count, NULL };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tracker_create_custom(&ops, &l, &t));
    kvbm_plh keys[2] = { { 1, 2 }, { 3, 4 } };
    kvbm__touch_cells cells[2];
    for (int i = 0; i < 2; i++) kvbm__tracker_touch_prepare(t, keys[i], &cells[i]);
    EXPECT_EQ(l.n, 0); /* preparing touches nothing */
    kvbm__tracker_touch_apply(t, keys, cells, 2);
    ASSERT_EQ(l.n, 2);
    EXPECT_TRUE(kvbm_plh_eq(l.keys[0], keys[0]));
    EXPECT_TRUE(kvbm_plh_eq(l.keys[1], keys[1]));
    kvbm_tracker_release(t);
    kvbm__tracker_touch_prepare(NULL, keys[0], &cells[0]);
    kvbm__tracker_touch_apply(NULL, keys, cells, 2);

    kvbm_tracker *lfu = NULL;
    ASSERT_OK(kvbm_tinylfu_create(1000, NULL, &lfu));
    kvbm__tracker_touch_prepare(lfu, keys[0], &cells[0]);
    EXPECT_EQ(kvbm_tracker_count(lfu, keys[0]), 0u); /* prepared, not applied */
    kvbm__tracker_touch_apply(lfu, keys, cells, 1);
    EXPECT_EQ(kvbm_tracker_count(lfu, keys[0]), 1u);
    kvbm_tracker_release(lfu);
}

/* Cached cells (kvbm__tracker_cells, the store's MultiLRU cache): the cells of a key are
 * the ones a prepared touch computes, they do not depend on the tracker instance (two
 * geometries, one cache), and counting or touching through them gives exactly the
 * key-based results, before and after the memo engages. */
KVBM_TEST(cached_cells_equal_key_based_calls)
{
    uint64_t seed = test_seed();
    printf("seed=%" PRIu64 "\n", seed);
    kvbm_tracker *a = NULL, *b = NULL, *ref = NULL;
    ASSERT_OK(kvbm_tinylfu_create(64, NULL, &a));
    ASSERT_OK(kvbm_tinylfu_create(4096, NULL, &b));
    ASSERT_OK(kvbm_tinylfu_create(4096, NULL, &ref));
    uint64_t x = seed * 2654435761u + 3;
    kvbm_plh keys[80];
    kvbm__touch_cells cells[80], prep;
    for (int round = 0; round < 40; round++) {
        if (round == 20) { /* from here on b (and ref) hash through the memo */
            (void)kvbm_tracker_count(b, keys[0]);
            (void)kvbm_tracker_count(ref, keys[0]);
        }
        size_t n = random_keys(&x, keys, 80, 40);
        for (size_t i = 0; i < n; i++) {
            kvbm__tracker_cells(a, keys[i], &cells[i]);
            kvbm__touch_cells other;
            kvbm__tracker_cells(b, keys[i], &other);
            kvbm__tracker_touch_prepare(b, keys[i], &prep);
            ASSERT_EQ(memcmp(&cells[i], &other, sizeof other), 0);
            ASSERT_EQ(memcmp(&cells[i], &prep, sizeof prep), 0);
            kvbm__tracker_prefetch_cells(b, &cells[i]);
        }
        kvbm__tracker_touch_apply(b, keys, cells, n);
        kvbm_tracker_touch_many(ref, keys, n);
        ASSERT_TRUE(same_sketch(b, ref));
        for (size_t i = 0; i < n; i++) {
            ASSERT_EQ(kvbm__tracker_count_cells(b, keys[i], &cells[i]), kvbm_tracker_count(ref, keys[i]));
            ASSERT_EQ(kvbm__tracker_count_cells(a, keys[i], &cells[i]), kvbm_tracker_count(a, keys[i]));
        }
    }
    kvbm_tracker_release(a);
    kvbm_tracker_release(b);
    kvbm_tracker_release(ref);

    /* other kinds: cells are not computed; counts go to the key */
    key_log l = { .n = 0 };
    kvbm_tracker_ops ops = { log_touch, log_count, NULL };
    kvbm_tracker *custom = NULL, *noop = NULL;
    ASSERT_OK(kvbm_tracker_create_custom(&ops, &l, &custom));
    ASSERT_OK(kvbm_noop_tracker_create(&noop));
    kvbm__touch_cells c = { 7 };
    kvbm__tracker_cells(custom, keys[0], &c);
    kvbm__tracker_cells(noop, keys[0], &c);
    kvbm__tracker_cells(NULL, keys[0], &c);
    EXPECT_EQ_U64(c.h, 7u);
    EXPECT_EQ(kvbm__tracker_count_cells(custom, keys[0], &c), 0u);
    EXPECT_EQ(kvbm__tracker_count_cells(noop, keys[0], &c), 0u);
    EXPECT_EQ(kvbm__tracker_count_cells(NULL, keys[0], &c), 0u);
    EXPECT_EQ(l.n, 0); /* counting touches nothing */
    kvbm_tracker_release(custom);
    kvbm_tracker_release(noop);
}
