/* tests/manager/test_evict_by_id.c - eviction through a backend driven by id (LRU,
 * MultiLRU: the store's only index; since session 11 the backend keeps no keys and returns
 * victim ids only). The hashes allocate reports as evicted come from the store's slots: they
 * must be the released blocks' hashes in eviction order, across more than one 64-victim
 * chunk (the first chunk's hash64 are reused by the registry epilogue, later ones are
 * recomputed), and only the evicted hashes may stop matching. Every state change goes
 * through CK(), which runs the invariant checker. */
#include "harness.h"
#include "support/manager_helpers.h"

#define NB 150u   /* blocks; 130 evicted: two chunks of the store's 64-victim batches */
#define NEV 130u

static void evict_in_release_order(kvbm_backend backend)
{
    tm_opts o = TM_OPTS_INIT(NB);
    o.backend = backend;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[NB];
    for (uint32_t i = 0; i < NB; i++) h[i] = tm_hash_for_id(1000 + i);
    kvbm_block *b[NB] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, NB, b));
    for (uint32_t i = 0; i < NB; i++) tm_release_blocks(&b[i], 1); /* release order = h order */

    kvbm_mutable *mb[NEV];
    kvbm_plh ev[NEV];
    size_t nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, NEV, mb, ev, &nev)));
    ASSERT_EQ(nev, NEV);
    /* LRU: oldest release first; MultiLRU: every block has the same count (one
     * registration each), so all sit in one level, also oldest first */
    for (uint32_t i = 0; i < NEV; i++) EXPECT_TRUE(kvbm_plh_eq(ev[i], h[i]));
    for (uint32_t i = 0; i < NEV; i++) {
        kvbm_block *one = NULL;
        size_t k = 9;
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h[i], 1, &one, &k)));
        EXPECT_EQ(k, 0u);
    }
    kvbm_block *out[NB - NEV] = { 0 };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h[NEV], NB - NEV, out, &n)));
    EXPECT_EQ(n, (size_t)(NB - NEV));
    tm_release_blocks(out, n);
    tm_release_mutables(mb, NEV);
    tm_manager_destroy(m);
}

KVBM_TEST(evict_by_id_lru_reports_slot_hashes_in_order)
{
    evict_in_release_order(KVBM_BACKEND_LRU);
}

KVBM_TEST(evict_by_id_multi_lru_reports_slot_hashes_in_order)
{
    evict_in_release_order(KVBM_BACKEND_MULTI_LRU);
}

/* kvbm_block_release_many appends a run of plain final releases to an LRU driven by id with
 * one insert_ids call; any other drop in the batch (here a duplicate, whose keepalive drop
 * sends its primary to the inactive pool) flushes the run first, so the eviction order is
 * the release order: P0, P1, P2 (via D2), P3. */
KVBM_TEST(release_many_batched_inserts_keep_release_order)
{
    for (int k = 0; k < 2; k++) { /* k = 1: NULLs and a second release of P3 in the batch */
        tm_opts o = TM_OPTS_INIT(5);
        o.backend = KVBM_BACKEND_LRU; /* (MultiLRU: levels by count, no insert_ids) */
        o.policy = KVBM_DUP_ALLOW;
        kvbm_manager *m = tm_manager_create(&o);
        ASSERT_TRUE(m != NULL);
        kvbm_plh h[4];
        kvbm_block *p[4] = { 0 };
        for (uint32_t i = 0; i < 4; i++) {
            h[i] = tm_hash_for_id(500 + i);
            p[i] = tm_register_hash(m, h[i]);
            ASSERT_TRUE(p[i] != NULL);
        }
        kvbm_block *d2 = tm_register_hash(m, h[2]);
        ASSERT_TRUE(d2 != NULL);
        ASSERT_TRUE(kvbm_block_is_duplicate(d2));
        tm_release_blocks(&p[2], 1); /* P2 stays Primary: D2's keepalive */
        EXPECT_EQ(kvbm_manager_inactive_len(m), 0u);
        kvbm_block *p3b = NULL;
        if (k == 1) ASSERT_OK(kvbm_block_clone(p[3], &p3b));
        kvbm_block *batch[6] = { p[0], NULL, p[1], d2, p[3], p3b };
        ASSERT_OK(CK(kvbm_block_release_many(batch, 6)));
        EXPECT_EQ(kvbm_manager_inactive_len(m), 4u);
        EXPECT_EQ(kvbm_manager_reset_len(m), 1u);
        EXPECT_EQ(MET(m, inactive_pool_size), 4);
        kvbm_mutable *mb[5];
        kvbm_plh ev[5];
        size_t nev = 0;
        ASSERT_OK(CK(kvbm_manager_allocate(m, 5, mb, ev, &nev)));
        ASSERT_EQ(nev, 4u);
        for (uint32_t i = 0; i < 4; i++) EXPECT_TRUE(kvbm_plh_eq(ev[i], h[i]));
        tm_release_mutables(mb, 5);
        tm_manager_destroy(m);
    }
}
