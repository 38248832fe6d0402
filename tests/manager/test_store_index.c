/* tests/manager/test_store_index.c - the store's one index for Primary and Inactive slots
 * (store_int.h, I2: LRU and MultiLRU drive their backend by id) against the two-index mode
 * (Lineage, HashMap): the same block lifecycle gives the same observable results, with the
 * invariants (I1-I5, checked after every call by CK) holding throughout. */
#include <string.h>

#include "harness.h"
#include "support/manager_helpers.h"

#define N 6u

static kvbm_manager *make(kvbm_backend be)
{
    tm_opts o = TM_OPTS_INIT(N);
    o.backend = be;
    return tm_manager_create(&o);
}

static const kvbm_backend all_backends[] = {
    KVBM_BACKEND_LRU, KVBM_BACKEND_MULTI_LRU, KVBM_BACKEND_LINEAGE, KVBM_BACKEND_HASHMAP
};
#define NB (sizeof all_backends / sizeof all_backends[0])

static void release_all(kvbm_block **b, size_t n)
{
    for (size_t i = 0; i < n; i++) CK(kvbm_block_release(b[i]));
}

/* register -> release (Inactive, found by hash) -> match (resurrected) -> release ->
 * evicted by allocate (gone for every lookup) -> the hash registered again in another slot. */
KVBM_TEST(test_store_index_lifecycle_every_backend)
{
    for (size_t k = 0; k < NB; k++) {
        kvbm_manager *m = make(all_backends[k]);
        ASSERT_TRUE(m != NULL);
        kvbm_plh h[N];
        kvbm_block *b[N];
        for (uint32_t i = 0; i < N; i++) {
            h[i] = tm_hash_for_id(100 + i);
            b[i] = tm_register_hash(m, h[i]);
            ASSERT_TRUE(b[i] != NULL);
        }
        EXPECT_FALSE(kvbm_manager_has_inactive(m, h[0]));
        release_all(b, N);
        EXPECT_EQ(kvbm_manager_inactive_len(m), (uint64_t)N);
        for (uint32_t i = 0; i < N; i++) EXPECT_TRUE(kvbm_manager_has_inactive(m, h[i]));

        /* resurrect the first two: active again, same blocks */
        kvbm_block *got[N];
        size_t matched = 0;
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 2, got, &matched)));
        ASSERT_EQ(matched, 2u);
        EXPECT_EQ(kvbm_manager_inactive_len(m), (uint64_t)N - 2);
        EXPECT_FALSE(kvbm_manager_has_inactive(m, h[0]));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(got[0]), h[0]));
        /* an active hit of the same hash returns the same block id */
        kvbm_block *again = NULL;
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 1, &again, &matched)));
        ASSERT_EQ(matched, 1u);
        EXPECT_EQ(kvbm_block_id(again), kvbm_block_id(got[0]));
        CK(kvbm_block_release(again));
        release_all(got, 2);
        EXPECT_EQ(kvbm_manager_inactive_len(m), (uint64_t)N);

        /* evict everything: all six slots come back as mutable blocks */
        kvbm_mutable *mb[N];
        kvbm_plh ev[N];
        size_t nev = 0;
        ASSERT_OK(CK(kvbm_manager_allocate(m, N, mb, ev, &nev)));
        EXPECT_EQ(nev, (size_t)N);
        EXPECT_EQ(kvbm_manager_inactive_len(m), 0u);
        for (uint32_t i = 0; i < N; i++) {
            EXPECT_FALSE(kvbm_manager_has_inactive(m, h[i]));
            bool listed = false;
            for (size_t j = 0; j < nev; j++) listed |= kvbm_plh_eq(ev[j], h[i]);
            EXPECT_TRUE(listed);
        }
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, N, got, &matched)));
        EXPECT_EQ(matched, 0u);
        for (uint32_t i = 0; i < N; i++) CK(kvbm_mutable_release(mb[i]));

        /* the same hash again, in whatever slot: registered, matchable, cached */
        kvbm_block *r = tm_register_hash(m, h[3]);
        ASSERT_TRUE(r != NULL);
        CK(kvbm_block_release(r));
        EXPECT_TRUE(kvbm_manager_has_inactive(m, h[3]));
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, h + 3, 1, got, &matched)));
        EXPECT_EQ(matched, 1u);
        release_all(got, matched);
        tm_manager_destroy(m);
    }
}

/* scan_matches: inactive blocks found once each (a hash listed twice, a miss in between),
 * reset_inactive_pool: every cached block leaves both the backend and the index. */
KVBM_TEST(test_store_index_scan_and_reset_every_backend)
{
    for (size_t k = 0; k < NB; k++) {
        kvbm_manager *m = make(all_backends[k]);
        ASSERT_TRUE(m != NULL);
        kvbm_plh h[4];
        for (uint32_t i = 0; i < 4; i++) {
            h[i] = tm_hash_for_id(200 + i);
            kvbm_block *b = tm_register_hash(m, h[i]);
            ASSERT_TRUE(b != NULL);
            CK(kvbm_block_release(b));
        }
        kvbm_plh q[5] = { h[2], tm_hash_for_id(999), h[2], h[0], h[3] };
        kvbm_plh oh[5];
        kvbm_block *ob[5];
        size_t found = 0;
        ASSERT_OK(CK(kvbm_manager_scan_matches(m, q, 5, false, oh, ob, &found)));
        ASSERT_EQ(found, 3u);
        EXPECT_TRUE(kvbm_plh_eq(oh[0], h[2]));
        EXPECT_TRUE(kvbm_plh_eq(oh[1], h[0]));
        EXPECT_TRUE(kvbm_plh_eq(oh[2], h[3]));
        EXPECT_EQ(kvbm_manager_inactive_len(m), 1u);
        EXPECT_TRUE(kvbm_manager_has_inactive(m, h[1]));
        release_all(ob, found);

        ASSERT_OK(CK(kvbm_manager_reset_inactive_pool(m, NULL, NULL)));
        EXPECT_EQ(kvbm_manager_reset_len(m), (uint64_t)N);
        for (uint32_t i = 0; i < 4; i++) EXPECT_FALSE(kvbm_manager_has_inactive(m, h[i]));
        size_t matched = 9;
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 4, ob, &matched)));
        EXPECT_EQ(matched, 0u);
        /* and they register again cleanly */
        for (uint32_t i = 0; i < 4; i++) {
            kvbm_block *b = tm_register_hash(m, h[i]);
            ASSERT_TRUE(b != NULL);
            CK(kvbm_block_release(b));
        }
        EXPECT_EQ(kvbm_manager_inactive_len(m), 4u);
        tm_manager_destroy(m);
    }
}

/* A released block with reset_on_release leaves the index at once (it is not cached);
 * a duplicate (Allow) is never indexed: releasing the primary first keeps the hash
 * matchable through the duplicate's keepalive until both are gone. */
KVBM_TEST(test_store_index_reset_on_release_and_duplicates)
{
    for (size_t k = 0; k < NB; k++) {
        kvbm_manager *m = make(all_backends[k]);
        ASSERT_TRUE(m != NULL);
        kvbm_plh h = tm_hash_for_id(300);
        kvbm_block *b = tm_register_hash(m, h);
        ASSERT_TRUE(b != NULL);
        CK(kvbm_block_set_evict_on_reset(b, true));
        CK(kvbm_block_release(b));
        EXPECT_FALSE(kvbm_manager_has_inactive(m, h));
        EXPECT_EQ(kvbm_manager_reset_len(m), (uint64_t)N);

        kvbm_block *p = tm_register_hash(m, h);
        kvbm_block *d = tm_register_hash(m, h); /* Allow: a duplicate */
        ASSERT_TRUE(p != NULL && d != NULL);
        EXPECT_TRUE(kvbm_block_is_duplicate(d));
        CK(kvbm_block_release(p));
        kvbm_block *got = NULL;
        size_t matched = 0;
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, &got, &matched)));
        ASSERT_EQ(matched, 1u);
        EXPECT_FALSE(kvbm_block_is_duplicate(got));
        CK(kvbm_block_release(got));
        CK(kvbm_block_release(d));
        EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
        EXPECT_EQ(kvbm_manager_inactive_len(m), 1u);
        tm_manager_destroy(m);
    }
}
