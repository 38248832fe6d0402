/* tests/registry/test_registry_hotpath.c - the registry's per-block paths after the
 * session-10 performance work (issue 16): reservation of handle objects, and the
 * equivalence of the fast paths with the general ones.
 */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "registry/registry_int.h"
#include "tinylfu/tinylfu_int.h"

enum { TIER_A = 100 };

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

/* A PLH's TinyLFU key hash is its registry table hash (one hash per registration). */
KVBM_TEST(tinylfu_key_hash_of_a_plh_is_the_table_hash)
{
    for (uint64_t i = 0; i < 1000; i++) {
        kvbm_plh h = tm_hash_n(i * 7919u);
        EXPECT_EQ_U64(kvbm__tinylfu_key_hash(h.lo, h.hi), kvbm_plh_hash64(h));
    }
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
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t n = 1 + x % MAXN;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            ids[i] = (size_t)(x % KEYS);
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
        /* keep one reference per key in `live`, drop the rest; then drop about half */
        for (size_t i = 0; i < n; i++) {
            kvbm_handle **slot = &live[ids[i]];
            if (*slot == NULL) *slot = out[i];
            else kvbm_handle_release(out[i]);
        }
        for (size_t k = 0; k < KEYS; k++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            if (live[k] != NULL && (x & 1)) {
                kvbm_handle_release(live[k]);
                live[k] = NULL;
            }
        }
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
