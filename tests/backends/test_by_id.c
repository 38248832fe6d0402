/* tests/backends/test_by_id.c - the optional by-id ops (backend.h: by_id, remove_id, has_id):
 * which backends offer them, and an LRU / MultiLRU driven by id (no hash index, no keys:
 * lookups by hash miss, removals and membership by block id, eviction order unchanged,
 * evicted pairs carry the ids - their hashes are the caller's). */
#include "backends_test.h"

KVBM_TEST(test_by_id_offered_by_the_ring_backends_only)
{
    for (int k = 0; k < TB_NKINDS; k++) {
        kvbm__inactive b;
        ASSERT_OK(tb_create((enum tb_kind)k, 8, &b, NULL));
        bool ring = k == TB_LRU || k == TB_MULTI_LRU;
        EXPECT_EQ(b.ops->by_id != NULL, ring);
        EXPECT_EQ(b.ops->remove_id != NULL, ring);
        EXPECT_EQ(b.ops->has_id != NULL, ring);
        kvbm__inactive_destroy(&b);
    }
}

KVBM_TEST(test_by_id_refused_when_not_empty)
{
    for (int k = TB_LRU; k <= TB_MULTI_LRU; k++) {
        kvbm__inactive b;
        ASSERT_OK(tb_create((enum tb_kind)k, 8, &b, NULL));
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 3));
        EXPECT_FALSE(b.ops->by_id(b.ctx));
        /* still indexed by hash */
        EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(1)));
        uint32_t id = 99;
        EXPECT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(1), false, &id));
        EXPECT_EQ(id, 3u);
        /* empty again (the parked index entry of id 3 remains): still refused */
        EXPECT_FALSE(b.ops->by_id(b.ctx));
        EXPECT_TRUE(tb_check(&b));
        kvbm__inactive_destroy(&b);
    }
}

KVBM_TEST(test_by_id_lookups_by_hash_miss_removals_by_id)
{
    for (int k = TB_LRU; k <= TB_MULTI_LRU; k++) {
        kvbm__inactive b;
        ASSERT_OK(tb_create((enum tb_kind)k, 8, &b, NULL));
        ASSERT_TRUE(b.ops->by_id(b.ctx));
        for (uint32_t i = 0; i < 5; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
        EXPECT_EQ(b.ops->len(b.ctx), 5u);
        EXPECT_TRUE(tb_check(&b));
        uint32_t id = 99;
        EXPECT_FALSE(b.ops->find_match(b.ctx, tb_hash_for_id(2), false, &id));
        EXPECT_FALSE(b.ops->has(b.ctx, tb_hash_for_id(2)));
        EXPECT_FALSE(b.ops->take(b.ctx, tb_hash_for_id(2), 2));
        kvbm_plh hs[2] = { tb_hash_for_id(0), tb_hash_for_id(1) };
        kvbm__pair pr[2];
        EXPECT_EQ(b.ops->scan_matches(b.ctx, hs, 2, false, pr), 0u);
        EXPECT_EQ(b.ops->len(b.ctx), 5u);

        EXPECT_TRUE(b.ops->has_id(b.ctx, 2));
        EXPECT_TRUE(b.ops->remove_id(b.ctx, 2));
        EXPECT_FALSE(b.ops->has_id(b.ctx, 2));
        EXPECT_FALSE(b.ops->remove_id(b.ctx, 2));  /* not present any more */
        EXPECT_FALSE(b.ops->remove_id(b.ctx, 8));  /* out of range */
        EXPECT_FALSE(b.ops->has_id(b.ctx, 1000));
        EXPECT_EQ(b.ops->len(b.ctx), 4u);
        EXPECT_TRUE(tb_check(&b));

        /* back at the tail under another hash; eviction order = release order (ids only:
         * the backend keeps no keys) */
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(7), 2));
        kvbm__pair out[5];
        ASSERT_EQ(b.ops->allocate(b.ctx, 5, out), 5u);
        const uint32_t want_id[5] = { 0, 1, 3, 4, 2 };
        for (int i = 0; i < 5; i++) EXPECT_EQ(out[i].block_id, want_id[i]);
        EXPECT_EQ(b.ops->len(b.ctx), 0u);
        for (uint32_t i = 0; i < 8; i++) EXPECT_FALSE(b.ops->has_id(b.ctx, i));
        EXPECT_TRUE(tb_check(&b));
        kvbm__inactive_destroy(&b);
    }
}

/* The index invariants of a hash-driven LRU no longer hold for one driven by id (no entry
 * per present id); its check must accept that - and still catch a broken ring. */
KVBM_TEST(test_by_id_check_and_introspection)
{
    kvbm__inactive b;
    ASSERT_OK(tb_create(TB_MULTI_LRU, 16, &b, NULL));
    ASSERT_TRUE(b.ops->by_id(b.ctx));
    for (uint32_t i = 0; i < 16; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(20), 3), KVBM_EFULL);
    EXPECT_TRUE(tb_check(&b));
    /* no keys: the level is asked by id (by hash: -1) */
    EXPECT_EQ(kvbm__multi_lru_level_of_id(&b, 5), 0);
    EXPECT_EQ(kvbm__multi_lru_level_of_id(&b, 99), -1);
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(5)), -1);
    EXPECT_TRUE(b.ops->remove_id(b.ctx, 5));
    EXPECT_EQ(kvbm__multi_lru_level_of_id(&b, 5), -1);
    size_t entries = 99;
    EXPECT_FALSE(kvbm__lru_entry_of(&b, 6, NULL, NULL, &entries));
    EXPECT_EQ(entries, 0u); /* no index entries at all */
    kvbm__pair out[16];
    EXPECT_EQ(b.ops->allocate_all(b.ctx, out), 15u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

/* A plain LRU driven by id inserts through its leaf fast path (lru.c): the same refusals,
 * with the same messages, as the indexed path, and nothing changes on a refusal. */
KVBM_TEST(test_by_id_lru_insert_refusals)
{
    for (int byid = 0; byid < 2; byid++) {
        kvbm__inactive b;
        ASSERT_OK(tb_create(TB_LRU, 4, &b, NULL));
        if (byid) ASSERT_TRUE(b.ops->by_id(b.ctx));
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(0), 0));
        EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(1), 4), KVBM_EINVAL);
        EXPECT_STR_CONTAINS(kvbm_last_error(), "out of range");
        EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(1), 0), KVBM_EINVAL);
        EXPECT_STR_CONTAINS(kvbm_last_error(), "already in the inactive backend");
        for (uint32_t i = 1; i < 4; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
        EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(9), 2), KVBM_EFULL);
        EXPECT_STR_CONTAINS(kvbm_last_error(), "LRU backend insert would cause eviction!");
        EXPECT_EQ(b.ops->len(b.ctx), 4u);
        EXPECT_TRUE(tb_check(&b));
        kvbm__pair out[4];
        ASSERT_EQ(b.ops->allocate(b.ctx, 4, out), 4u);
        for (uint32_t i = 0; i < 4; i++) {
            EXPECT_EQ(out[i].block_id, i);
            if (!byid) EXPECT_TRUE(kvbm_plh_eq(out[i].hash, tb_hash_for_id(i)));
        }
        kvbm__inactive_destroy(&b);
    }
}

/* insert_ids (backend.h): only the plain LRU offers it; driven by id, a run of ids is
 * appended exactly as one insert per id would be (eviction order), across ring compactions;
 * a refused id is skipped with insert's message and the rest still go in. */
KVBM_TEST(test_by_id_lru_insert_ids_matches_single_inserts)
{
    for (int k = 0; k < TB_NKINDS; k++) {
        kvbm__inactive b;
        ASSERT_OK(tb_create((enum tb_kind)k, 8, &b, NULL));
        EXPECT_EQ(b.ops->insert_ids != NULL, k == TB_LRU);
        kvbm__inactive_destroy(&b);
    }
    enum { CAP = 16, ROUNDS = 40 };
    kvbm__inactive a, r; /* a: insert_ids; r: the model, one insert per id */
    ASSERT_OK(tb_create(TB_LRU, CAP, &a, NULL));
    ASSERT_OK(tb_create(TB_LRU, CAP, &r, NULL));
    ASSERT_TRUE(a.ops->by_id(a.ctx));
    ASSERT_TRUE(r.ops->by_id(r.ctx));
    uint32_t all[CAP];
    for (uint32_t i = 0; i < CAP; i++) all[i] = (i * 7u) % CAP;
    EXPECT_EQ(a.ops->insert_ids(a.ctx, all, CAP), (size_t)CAP);
    for (uint32_t i = 0; i < CAP; i++) ASSERT_OK(r.ops->insert(r.ctx, tb_hash_for_id(all[i]), all[i]));
    /* remove from the middle (stale ring entries) and re-append in runs: the ring (2 x 16
     * entries) must compact inside some runs */
    uint32_t seed = 12345;
    for (int round = 0; round < ROUNDS; round++) {
        uint32_t run[4];
        size_t nr = 0;
        for (int j = 0; j < 4; j++) {
            seed = seed * 1103515245u + 12345u;
            uint32_t id = (seed >> 16) % CAP;
            if (!a.ops->has_id(a.ctx, id)) continue;
            EXPECT_TRUE(a.ops->remove_id(a.ctx, id));
            EXPECT_TRUE(r.ops->remove_id(r.ctx, id));
            run[nr++] = id;
        }
        EXPECT_EQ(a.ops->insert_ids(a.ctx, run, nr), nr);
        for (size_t j = 0; j < nr; j++) ASSERT_OK(r.ops->insert(r.ctx, tb_hash_for_id(run[j]), run[j]));
        EXPECT_TRUE(tb_check(&a));
    }
    kvbm__pair pa[CAP], pr[CAP];
    ASSERT_EQ(a.ops->allocate(a.ctx, CAP, pa), (size_t)CAP);
    ASSERT_EQ(r.ops->allocate(r.ctx, CAP, pr), (size_t)CAP);
    for (int i = 0; i < CAP; i++) EXPECT_EQ(pa[i].block_id, pr[i].block_id);

    /* refusals: out of range, already present, full - each skipped, the rest inserted */
    const uint32_t bad[5] = { 3, 99, 3, 5, 6 };
    EXPECT_EQ(a.ops->insert_ids(a.ctx, bad, 5), 3u);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "already in the inactive backend");
    EXPECT_EQ(a.ops->len(a.ctx), 3u);
    const uint32_t range[2] = { 99, 7 };
    EXPECT_EQ(a.ops->insert_ids(a.ctx, range, 2), 1u);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "out of range");
    uint32_t rest[CAP];
    size_t nrest = 0;
    for (uint32_t id = 0; id < CAP; id++)
        if (!a.ops->has_id(a.ctx, id)) rest[nrest++] = id;
    rest[nrest++] = 3; /* full by then */
    EXPECT_EQ(a.ops->insert_ids(a.ctx, rest, nrest), nrest - 1);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "LRU backend insert would cause eviction!");
    EXPECT_EQ(a.ops->len(a.ctx), (size_t)CAP);
    EXPECT_TRUE(tb_check(&a));
    ASSERT_EQ(a.ops->allocate(a.ctx, 4, pa), 4u);
    const uint32_t first[4] = { 3, 5, 6, 7 };
    for (int i = 0; i < 4; i++) EXPECT_EQ(pa[i].block_id, first[i]);
    kvbm__inactive_destroy(&a);
    kvbm__inactive_destroy(&r);

    /* not driven by id: refused, nothing inserted */
    ASSERT_OK(tb_create(TB_LRU, 4, &a, NULL));
    const uint32_t one[1] = { 1 };
    EXPECT_EQ(a.ops->insert_ids(a.ctx, one, 1), 0u);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "driven by id");
    EXPECT_EQ(a.ops->len(a.ctx), 0u);
    kvbm__inactive_destroy(&a);
}
