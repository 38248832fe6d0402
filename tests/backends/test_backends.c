/* tests/backends/test_backends.c - backends/tests.rs: the ops-table contract, run against
 * every backend (HashMap(FIFO), LRU(cap 10), MultiLRU(cap 10, tracker 100), Lineage Tick
 * and Fifo). The reference runs some cases only on a subset; kvbm runs all on all. */
#include "backends_test.h"

#define FOR_EACH_BACKEND(k, b)                                                           \
    for (enum tb_kind k = 0; k < TB_NKINDS; k++)                                         \
        for (kvbm__inactive b, *b##_once = (tb_create(k, 10, &b, NULL) == KVBM_OK) ? &b : NULL; \
             b##_once != NULL; kvbm__inactive_destroy(&b), b##_once = NULL)

KVBM_TEST(test_insert_and_len)
{
    FOR_EACH_BACKEND(k, b) {
        EXPECT_EQ(b.ops->len(b.ctx), 0u);
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
        EXPECT_EQ(b.ops->len(b.ctx), 1u);
        EXPECT_TRUE(tb_check(&b));
    }
}

KVBM_TEST(test_has_block)
{
    FOR_EACH_BACKEND(k, b) {
        EXPECT_FALSE(b.ops->has(b.ctx, tb_hash_for_id(1)));
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
        EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(1)));
        EXPECT_FALSE(b.ops->has(b.ctx, tb_hash_for_id(2)));
        EXPECT_EQ(b.ops->len(b.ctx), 1u); /* has has no side effect */
    }
}

KVBM_TEST(test_find_matches)
{
    FOR_EACH_BACKEND(k, b) {
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(2), 2));
        kvbm_plh q[2] = { tb_hash_for_id(1), tb_hash_for_id(2) };
        kvbm__pair out[2];
        EXPECT_EQ(b.ops->find_matches(b.ctx, q, 2, true, out), 2u);
        EXPECT_EQ(out[0].block_id, 1u);
        EXPECT_EQ(out[1].block_id, 2u);
        EXPECT_TRUE(kvbm_plh_eq(out[1].hash, tb_hash_for_id(2)));
        EXPECT_EQ(b.ops->len(b.ctx), 0u);
        EXPECT_TRUE(tb_check(&b));
    }
}

KVBM_TEST(test_find_matches_stops_on_miss)
{
    FOR_EACH_BACKEND(k, b) {
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(2), 2));
        kvbm_plh q[3] = { tb_hash_for_id(1), tb_hash_for_id(99), tb_hash_for_id(2) };
        kvbm__pair out[3];
        EXPECT_EQ(b.ops->find_matches(b.ctx, q, 3, false, out), 1u);
        EXPECT_EQ(out[0].block_id, 1u);
        EXPECT_EQ(b.ops->len(b.ctx), 1u);
        EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(2)));
    }
}

KVBM_TEST(test_find_match_single)
{
    FOR_EACH_BACKEND(k, b) {
        uint32_t id = 77;
        EXPECT_FALSE(b.ops->find_match(b.ctx, tb_hash_for_id(3), false, &id));
        EXPECT_EQ(id, 77u);
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(3), 3));
        EXPECT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(3), false, &id));
        EXPECT_EQ(id, 3u);
        EXPECT_FALSE(b.ops->find_match(b.ctx, tb_hash_for_id(3), false, &id)); /* consumed */
    }
}

KVBM_TEST(test_allocate)
{
    FOR_EACH_BACKEND(k, b) {
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(2), 2));
        kvbm__pair out[1];
        EXPECT_EQ(b.ops->allocate(b.ctx, 1, out), 1u);
        EXPECT_EQ(b.ops->len(b.ctx), 1u);
        EXPECT_FALSE(b.ops->has(b.ctx, out[0].hash));
        EXPECT_TRUE(tb_check(&b));
    }
}

KVBM_TEST(test_allocate_more_than_available)
{
    FOR_EACH_BACKEND(k, b) {
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(2), 2));
        kvbm__pair out[5];
        EXPECT_EQ(b.ops->allocate(b.ctx, 5, out), 2u);
        EXPECT_EQ(b.ops->len(b.ctx), 0u);
    }
}

KVBM_TEST(test_allocate_all)
{
    FOR_EACH_BACKEND(k, b) {
        for (uint32_t i = 0; i < 5; i++) EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
        kvbm__pair out[5];
        EXPECT_EQ(b.ops->allocate_all(b.ctx, out), 5u);
        EXPECT_EQ(b.ops->len(b.ctx), 0u);
        unsigned seen = 0;
        for (int i = 0; i < 5; i++) {
            EXPECT_TRUE(kvbm_plh_eq(out[i].hash, tb_hash_for_id(out[i].block_id)));
            seen |= 1u << out[i].block_id;
        }
        EXPECT_EQ(seen, 0x1Fu);
        EXPECT_TRUE(tb_check(&b));
    }
}

KVBM_TEST(test_allocate_all_empty_pool)
{
    FOR_EACH_BACKEND(k, b) {
        kvbm__pair out[1];
        EXPECT_EQ(b.ops->allocate_all(b.ctx, out), 0u);
        EXPECT_EQ(b.ops->allocate(b.ctx, 3, out), 0u);
    }
}

KVBM_TEST(test_scan_matches)
{
    FOR_EACH_BACKEND(k, b) {
        for (uint32_t i = 1; i <= 3; i++) EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
        kvbm_plh q[3] = { tb_hash_for_id(1), tb_hash_for_id(99), tb_hash_for_id(3) };
        kvbm__pair out[3];
        EXPECT_EQ(b.ops->scan_matches(b.ctx, q, 3, true, out), 2u);
        EXPECT_EQ(out[0].block_id, 1u);
        EXPECT_EQ(out[1].block_id, 3u);
        EXPECT_EQ(b.ops->len(b.ctx), 1u);
        EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(2)));
        EXPECT_TRUE(tb_check(&b));
    }
}

KVBM_TEST(test_take_exact_pair_only)
{
    FOR_EACH_BACKEND(k, b) {
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 4));
        EXPECT_FALSE(b.ops->take(b.ctx, tb_hash_for_id(1), 5));
        EXPECT_FALSE(b.ops->take(b.ctx, tb_hash_for_id(2), 4));
        EXPECT_TRUE(b.ops->take(b.ctx, tb_hash_for_id(1), 4));
        EXPECT_FALSE(b.ops->has(b.ctx, tb_hash_for_id(1)));
        EXPECT_EQ(b.ops->len(b.ctx), 0u);
    }
}

/* Every backend rejects a second insert of a present hash or block id with a status
 * (the store turns it into poison); the contents are unchanged. */
KVBM_TEST(test_duplicate_insert_is_an_error)
{
    FOR_EACH_BACKEND(k, b) {
        EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
        EXPECT_NE(b.ops->insert(b.ctx, tb_hash_for_id(1), 2), KVBM_OK);
        EXPECT_NE(b.ops->insert(b.ctx, tb_hash_for_id(2), 1), KVBM_OK);
        EXPECT_NE(b.ops->insert(b.ctx, tb_hash_for_id(3), 10), KVBM_OK); /* id >= capacity */
        EXPECT_EQ(b.ops->len(b.ctx), 1u);
        EXPECT_TRUE(tb_check(&b));
    }
}

/* Filling to capacity works for every backend (MultiLRU: every level sized for all). */
KVBM_TEST(test_fill_to_capacity)
{
    FOR_EACH_BACKEND(k, b) {
        for (uint32_t i = 0; i < 10; i++) EXPECT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
        EXPECT_EQ(b.ops->len(b.ctx), 10u);
        EXPECT_TRUE(tb_check(&b));
        kvbm__pair out[10];
        EXPECT_EQ(b.ops->allocate(b.ctx, 10, out), 10u);
    }
}

KVBM_TEST(test_names_and_factory)
{
    kvbm__inactive b;
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tinylfu_create(100, NULL, &t));
    const uint8_t thr[3] = { 3, 8, 15 };
    ASSERT_OK(kvbm__inactive_create(KVBM_BACKEND_LINEAGE, 4, KVBM_LINEAGE_TICK, thr, NULL, &b));
    EXPECT_STR_EQ(b.ops->name, "lineage-tick");
    kvbm__inactive_destroy(&b);
    ASSERT_OK(kvbm__inactive_create(KVBM_BACKEND_LINEAGE, 4, KVBM_LINEAGE_FIFO, thr, NULL, &b));
    EXPECT_STR_EQ(b.ops->name, "lineage-fifo");
    kvbm__inactive_destroy(&b);
    ASSERT_OK(kvbm__inactive_create(KVBM_BACKEND_LRU, 4, KVBM_LINEAGE_TICK, thr, NULL, &b));
    EXPECT_STR_EQ(b.ops->name, "lru");
    kvbm__inactive_destroy(&b);
    ASSERT_OK(kvbm__inactive_create(KVBM_BACKEND_HASHMAP, 4, KVBM_LINEAGE_TICK, thr, NULL, &b));
    EXPECT_STR_EQ(b.ops->name, "hashmap");
    kvbm__inactive_destroy(&b);
    ASSERT_OK(kvbm__inactive_create(KVBM_BACKEND_MULTI_LRU, 4, KVBM_LINEAGE_TICK, thr, t, &b));
    EXPECT_STR_EQ(b.ops->name, "multi-lru");
    kvbm__inactive_destroy(&b);

    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm__inactive_create(KVBM_BACKEND_MULTI_LRU, 4, KVBM_LINEAGE_TICK, thr, NULL, &b),
                  KVBM_ECONFIG);
    EXPECT_STR_EQ(kvbm_last_error(), "MultiLRU backend requires a registry with frequency tracking");
    EXPECT_STATUS(kvbm__inactive_create((kvbm_backend)42, 4, KVBM_LINEAGE_TICK, thr, NULL, &b), KVBM_EINVAL);
    EXPECT_STATUS(kvbm__lru_create(0, &b), KVBM_EINVAL);
    EXPECT_STATUS(kvbm__hashmap_create(0, &b), KVBM_EINVAL);
    EXPECT_STATUS(kvbm__lineage_create(0, KVBM_LINEAGE_TICK, &b), KVBM_EINVAL);
    EXPECT_STATUS(kvbm__lineage_create(4, (kvbm_lineage_eviction)7, &b), KVBM_EINVAL);
    kvbm_tracker_release(t);
}
