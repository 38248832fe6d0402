/* tests/registry/test_registry_hotpath.c - the registry's per-block paths after the
 * session-10 performance work (issue 16): reservation of handle objects, and the
 * equivalence of the fast paths with the general ones.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "registry/registry_int.h"
#include "tinylfu/tinylfu_int.h"

enum { TIER_A = 100 };

/* xorshift64: the next value of the seeded tests' generator. */
static uint64_t xs_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* After a registration of out[0..n) (key ids[i] of live[0..keys)): keep one reference per
 * key in `live`, drop the rest; then drop about half of `live`. */
static void keep_one_drop_half(kvbm_handle **live, size_t keys, const size_t *ids,
                               kvbm_handle *const *out, size_t n, uint64_t *x)
{
    for (size_t i = 0; i < n; i++) {
        kvbm_handle **slot = &live[ids[i]];
        if (*slot == NULL) *slot = out[i];
        else kvbm_handle_release(out[i]);
    }
    for (size_t k = 0; k < keys; k++) {
        if (live[k] != NULL && (xs_next(x) & 1)) {
            kvbm_handle_release(live[k]);
            live[k] = NULL;
        }
    }
}

/* kvbm__registry_reserve(n) also puts handle objects for every shard's share of n on its
 * free list: registering n distinct hashes afterwards allocates nothing (the manager
 * reserves its block_count at creation, so the replay's registrations never allocate);
 * registrations beyond the reservation still get objects on demand (and a small reservation
 * reserves none); a failed reservation
 * reports ENOMEM and leaves a usable registry. */
KVBM_TEST(reserve_puts_handle_objects_on_the_free_lists)
{
    enum { N = 4096 };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_plh *hs = malloc(4 * N * sizeof *hs);
    kvbm_handle **a = malloc(4 * N * sizeof *a);
    ASSERT_TRUE(hs != NULL && a != NULL);
    for (size_t i = 0; i < 4 * N; i++) hs[i] = tm_hash_n(7000000 + i);

    ASSERT_OK(kvbm__registry_reserve(r, N));
    unsigned long before = kvbm__alloc_count();
    ASSERT_OK(kvbm_registry_register_many(r, hs, N, a));
    EXPECT_EQ(kvbm__alloc_count(), before); /* no slab, no table growth */
    EXPECT_EQ(kvbm__registry_table_grows(r), 0u);
    EXPECT_EQ(kvbm_registry_registered_count(r), (size_t)N);

    /* beyond the share: objects (and tables) come on demand */
    ASSERT_OK(kvbm_registry_register_many(r, hs + N, 3 * N, a + N));
    EXPECT_TRUE(kvbm__alloc_count() > before);
    EXPECT_EQ(kvbm_registry_registered_count(r), (size_t)(4 * N));
    for (size_t i = 0; i < 4 * N; i++) {
        EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(a[i]), hs[i]));
        EXPECT_EQ((uintptr_t)a[i] % 64, 0);
    }
    /* a second reservation with every object live allocates again; with them free, not */
    before = kvbm__alloc_count();
    ASSERT_OK(kvbm__registry_reserve(r, N));
    EXPECT_TRUE(kvbm__alloc_count() > before);
    kvbm__handle_release_many(a, 4 * N);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0u);
    before = kvbm__alloc_count();
    ASSERT_OK(kvbm__registry_reserve(r, 4 * N));
    EXPECT_EQ(kvbm__alloc_count(), before);

    /* an allocation failure during a reservation: ENOMEM with a detail, registry usable */
    kvbm_registry *r2 = tm_registry_create(NULL);
    kvbm__alloc_fail_set(3);
    EXPECT_EQ(kvbm__registry_reserve(r2, N), KVBM_ENOMEM);
    kvbm__alloc_fail_set(0);
    ASSERT_OK(kvbm_registry_register_many(r2, hs, N, a));
    EXPECT_EQ(kvbm_registry_registered_count(r2), (size_t)N);
    kvbm__handle_release_many(a, N);
    kvbm_registry_release(r2);

    /* a small reservation (mean share under one slab) reserves tables, not objects */
    kvbm_registry *r3 = tm_registry_create(NULL);
    ASSERT_OK(kvbm__registry_reserve(r3, 64));
    before = kvbm__alloc_count();
    ASSERT_OK(kvbm_registry_register_many(r3, hs, 64, a));
    EXPECT_TRUE(kvbm__alloc_count() > before);
    EXPECT_EQ(kvbm__registry_table_grows(r3), 0u);
    kvbm__handle_release_many(a, 64);
    kvbm_registry_release(r3);

    kvbm_registry_release(r);
    free(hs);
    free(a);
}

/* A PLH's TinyLFU key hash is its registry table hash (one hash per registration), and
 * the word the registration's chunk pass prefetches from it (kvbm__sketch_word_in, session
 * 14) is the word its touch increments. */
KVBM_TEST(tinylfu_key_hash_of_a_plh_is_the_table_hash)
{
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(UINT64_C(1) << 18, NULL, &t));
    const kvbm__sketch *sk = kvbm__tracker_sketch(t);
    ASSERT_TRUE(sk != NULL);
    for (uint64_t i = 0; i < 1000; i++) {
        kvbm_plh h = tm_hash_n(i * 7919u);
        EXPECT_EQ_U64(kvbm__tinylfu_key_hash(h.lo, h.hi), kvbm_plh_hash64(h));
        uint64_t word[4];
        unsigned shift[4];
        kvbm__sketch_cells(sk, kvbm_plh_hash64(h), word, shift);
        EXPECT_EQ_U64((uint64_t)(kvbm__sketch_word_in(sk->table, sk->words, kvbm_plh_hash64(h)) -
                                 sk->table), word[0]);
    }
    kvbm_tracker_release(t);
}

/* register_many touches exactly the keys it creates, in order, as one kvbm_tracker_touch
 * each would: batches (of more than one 64-key chunk) with repeated keys, keys already
 * registered and a small sketch that decays several times mid-batch leave a tracker whose
 * whole table equals that of a second tracker touched key by key. */
KVBM_TEST(register_many_touches_equal_sequential_touches_seeded)
{
    uint64_t seed = test_seed();
    printf("seed=%llu\n", (unsigned long long)seed);
    kvbm_tracker *t1 = NULL, *t2 = NULL;
    ASSERT_OK(kvbm_tinylfu_create(64, NULL, &t1)); /* 16 words, decay every 640 touches */
    ASSERT_OK(kvbm_tinylfu_create(64, NULL, &t2));
    kvbm_registry *r = tm_registry_create(t1);
    enum { ROUNDS = 40, MAXN = 150, KEYS = 400 };
    kvbm_plh hs[MAXN];
    size_t ids[MAXN];
    kvbm_handle *out[MAXN];
    kvbm_handle **live = calloc(KEYS, sizeof *live);
    ASSERT_TRUE(live != NULL);
    uint64_t x = seed | 1;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + xs_next(&x) % MAXN;
        for (size_t i = 0; i < n; i++) {
            ids[i] = (size_t)(xs_next(&x) % KEYS);
            hs[i] = tm_hash_n(ids[i]);
        }
        /* the model: a key is touched iff this registration creates it */
        bool created[MAXN];
        for (size_t i = 0; i < n; i++) {
            bool seen = live[ids[i]] != NULL; /* we hold a reference: registered */
            EXPECT_EQ(seen, kvbm_registry_is_registered(r, hs[i]));
            for (size_t k = 0; k < i && !seen; k++) seen = ids[k] == ids[i];
            created[i] = !seen;
        }
        ASSERT_OK(kvbm_registry_register_many(r, hs, n, out));
        for (size_t i = 0; i < n; i++) {
            if (created[i]) kvbm_tracker_touch(t2, hs[i]);
            EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(out[i]), hs[i]));
        }
        keep_one_drop_half(live, KEYS, ids, out, n, &x);
        const kvbm__sketch *s1 = kvbm__tracker_sketch(t1), *s2 = kvbm__tracker_sketch(t2);
        ASSERT_EQ_U64(s1->words, s2->words);
        EXPECT_EQ(s1->size, s2->size);
        for (uint64_t w = 0; w < s1->words; w++)
            ASSERT_EQ_U64(atomic_load(&s1->table[w]), atomic_load(&s2->table[w]));
    }
    for (size_t k = 0; k < KEYS; k++) kvbm_handle_release(live[k]);
    free(live);
    kvbm_registry_release(r);
    kvbm_tracker_release(t1);
    kvbm_tracker_release(t2);
}

/* The eviction epilogue with the table hashes given (the store's variant): same effect as
 * mark_absent + release per handle - last references die and leave the table, others keep
 * their registration with the presence decremented - over more than one 64-handle chunk. */
KVBM_TEST(mark_absent_release_many_with_hashes_equals_the_pair)
{
    enum { N = 150 };
    kvbm_registry *r = tm_registry_create(NULL);
    kvbm_plh hs[N];
    kvbm_handle *a[N], *extra[N];
    uint64_t h64[N];
    for (size_t i = 0; i < N; i++) {
        hs[i] = tm_hash_n(4200000 + i);
        h64[i] = kvbm_plh_hash64(hs[i]);
    }
    ASSERT_OK(kvbm_registry_register_many(r, hs, N, a));
    for (size_t i = 0; i < N; i++) {
        kvbm__handle_mark_present(a[i], TIER_A);
        kvbm__handle_mark_present(a[i], TIER_A);
        extra[i] = i % 3 == 0 ? kvbm_handle_clone(a[i]) : NULL; /* every third survives */
    }
    kvbm__handle_mark_absent_release_many_h64(r, a, h64, N, TIER_A);
    for (size_t i = 0; i < N; i++) {
        EXPECT_EQ(kvbm_registry_is_registered(r, hs[i]), extra[i] != NULL);
        if (extra[i] != NULL) {
            EXPECT_EQ(kvbm_handle_presence(extra[i], TIER_A), 1u);
            kvbm_handle_release(extra[i]);
        }
        EXPECT_FALSE(kvbm_registry_is_registered(r, hs[i]));
    }
    EXPECT_EQ(kvbm_registry_registered_count(r), 0u);
    kvbm_registry_release(r);
}

/* A custom tracker that records the keys it is touched with, in order. */
struct key16 { uint8_t b[16]; };
struct recorder { struct key16 *keys; size_t n, cap; };
static void rec_touch(void *ctx, const uint8_t key[16])
{
    struct recorder *rc = ctx;
    if (rc->n < rc->cap) memcpy(rc->keys[rc->n++].b, key, 16);
}
static uint32_t rec_count(void *ctx, const uint8_t key[16])
{
    (void)ctx; (void)key;
    return 0;
}
/* A registry whose tracker is a recorder of @cap keys (*@rc; release *@t after it). */
static kvbm_registry *recording_registry(struct recorder *rc, size_t cap, kvbm_tracker **t)
{
    rc->keys = calloc(cap, sizeof *rc->keys);
    rc->n = 0;
    rc->cap = cap;
    kvbm_tracker_ops ops = { rec_touch, rec_count, NULL };
    *t = NULL;
    if (rc->keys == NULL || kvbm_tracker_create_custom(&ops, rc, t) != KVBM_OK) return NULL;
    return tm_registry_create(*t);
}

/* The recorded key @k is the TinyLFU key of @h. */
static bool rec_is(const struct recorder *rc, size_t k, kvbm_plh h)
{
    uint8_t b[16];
    kvbm_plh_to_le16(h, b);
    return memcmp(rc->keys[k].b, b, 16) == 0;
}

/* register_many with a custom tracker (whose touches read the keys) touches exactly the
 * keys it creates, in input order: batches over several 64-key chunks mixing keys already
 * registered, keys repeated within the batch (the second occurrence is a reuse) and new
 * keys - chunks that create every key, none, and some - against a model. The premarking
 * variant (the store's) reports the same creations in created[]. */
KVBM_TEST(register_many_custom_tracker_touches_created_keys_in_order_seeded)
{
    uint64_t seed = test_seed();
    printf("seed=%llu\n", (unsigned long long)seed);
    enum { ROUNDS = 60, MAXN = 200, KEYS = 500 };
    struct recorder rc;
    kvbm_tracker *t;
    kvbm_registry *r = recording_registry(&rc, MAXN, &t);
    ASSERT_TRUE(r != NULL);
    kvbm_plh hs[MAXN];
    size_t ids[MAXN];
    kvbm_handle *out[MAXN];
    uint8_t created[MAXN];
    kvbm_handle **live = calloc(KEYS, sizeof *live);
    ASSERT_TRUE(live != NULL);
    uint64_t x = seed | 1;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + xs_next(&x) % MAXN;
        /* every fourth round: all new keys (chunks that create all of them) */
        bool fresh = round % 4 == 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t v = xs_next(&x);
            hs[i] = tm_hash_n(9100000 + (fresh ? (uint64_t)(KEYS + round * MAXN + i) : v % KEYS));
            ids[i] = fresh ? KEYS : (size_t)(v % KEYS); /* KEYS: not kept in `live` */
        }
        bool model[MAXN];
        size_t nm = 0;
        for (size_t i = 0; i < n; i++) {
            bool seen = ids[i] < KEYS && live[ids[i]] != NULL;
            if (ids[i] == KEYS) { model[i] = true; nm++; continue; } /* fresh: distinct */
            for (size_t k = 0; k < i && !seen; k++) seen = ids[k] == ids[i];
            model[i] = !seen;
            nm += model[i];
        }
        rc.n = 0;
        if (round % 2 == 0) {
            ASSERT_OK(kvbm_registry_register_many(r, hs, n, out));
        } else {
            ASSERT_OK(kvbm__registry_register_many_present(r, hs, NULL, n, 7, out, created));
            for (size_t i = 0; i < n; i++) {
                EXPECT_EQ(created[i] != 0, model[i]);
                if (created[i]) kvbm__handle_mark_absent(out[i], 7); /* keep presence at 0 */
            }
        }
        ASSERT_EQ(rc.n, nm);
        for (size_t i = 0, k = 0; i < n; i++)
            if (model[i]) EXPECT_TRUE(rec_is(&rc, k++, hs[i]));
        for (size_t i = 0; i < n; i++) {
            EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(out[i]), hs[i]));
            if (fresh) kvbm_handle_release(out[i]);
        }
        if (!fresh) keep_one_drop_half(live, KEYS, ids, out, n, &x);
    }
    for (size_t k = 0; k < KEYS; k++) kvbm_handle_release(live[k]);
    EXPECT_EQ(kvbm_registry_registered_count(r), 0u);
    free(live);
    kvbm_registry_release(r);
    kvbm_tracker_release(t);
    free(rc.keys);
}

/* An allocation failure part-way through a batched registration (chunks after the first)
 * still touches the keys the call created before the failure - as many sequential
 * registrations would have until the failing one - and rolls every registration back. */
KVBM_TEST(register_many_failure_touches_the_keys_created_before_it)
{
    enum { N = 300 };
    struct recorder rc;
    kvbm_tracker *t;
    kvbm_registry *r = recording_registry(&rc, N, &t);
    ASSERT_TRUE(r != NULL);
    kvbm_plh hs[N];
    kvbm_handle *out[N];
    for (size_t i = 0; i < N; i++) hs[i] = tm_hash_n(9500000 + i);
    int failures = 0;
    kvbm_status st = KVBM_ENOMEM;
    for (long nth = 1; nth < 1000 && st != KVBM_OK; nth++) {
        rc.n = 0;
        kvbm__alloc_fail_set(nth);
        st = kvbm_registry_register_many(r, hs, N, out);
        kvbm__alloc_fail_set(0);
        if (st == KVBM_OK) break;
        ASSERT_STATUS(st, KVBM_ENOMEM);
        failures++;
        /* a prefix of the keys, in order */
        ASSERT_TRUE(rc.n < N);
        for (size_t k = 0; k < rc.n; k++) EXPECT_TRUE(rec_is(&rc, k, hs[k]));
        EXPECT_EQ(kvbm_registry_registered_count(r), 0u);
    }
    ASSERT_OK(st);
    EXPECT_TRUE(failures >= 2);
    EXPECT_EQ(rc.n, (size_t)N);
    kvbm__handle_release_many(out, N);
    kvbm_registry_release(r);
    kvbm_tracker_release(t);
    free(rc.keys);
}
