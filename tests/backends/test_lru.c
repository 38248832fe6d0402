/* tests/backends/test_lru.c - LRU backend (10-core §3.2, §7.5 lru_backend.rs). */
#include "backends_test.h"

KVBM_TEST(test_lru_eviction_order)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(3, &b));
    for (uint32_t i = 1; i <= 3; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i - 1));
    kvbm__pair out[3];
    ASSERT_EQ(b.ops->allocate(b.ctx, 1, out), 1);
    EXPECT_EQ(out[0].block_id, 0u); /* block of h1 */
    EXPECT_TRUE(kvbm_plh_eq(out[0].hash, tb_hash_for_id(1)));
    EXPECT_FALSE(b.ops->has(b.ctx, tb_hash_for_id(1)));
    EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(2)));
    EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(3)));
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(test_lru_peek_doesnt_affect_order)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(3, &b));
    for (uint32_t i = 1; i <= 3; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i - 1));
    EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(1))); /* peek: no recency change */
    kvbm__pair out[2];
    ASSERT_EQ(b.ops->allocate(b.ctx, 2, out), 2);
    EXPECT_EQ(out[0].block_id, 0u); /* h1 */
    EXPECT_EQ(out[1].block_id, 1u); /* h2 */
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(test_lru_allocate_more_than_available)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(10, &b));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(2), 2));
    kvbm__pair out[5];
    EXPECT_EQ(b.ops->allocate(b.ctx, 5, out), 2);
    EXPECT_EQ(b.ops->len(b.ctx), 0u);
    kvbm__inactive_destroy(&b);
}

/* The reference panics "LRU backend insert would cause eviction!"; kvbm returns EFULL. */
KVBM_TEST(test_lru_insert_when_full_is_an_error)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(2, &b));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 0));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(2), 1));
    kvbm_clear_last_error();
    EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(3), 1), KVBM_EFULL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "LRU backend insert would cause eviction");
    EXPECT_EQ(b.ops->len(b.ctx), 2u);
    EXPECT_FALSE(b.ops->has(b.ctx, tb_hash_for_id(3)));
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(lru_rejects_duplicate_hash_and_id)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(4, &b));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 0));
    EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(1), 1), KVBM_EINVAL); /* same hash */
    EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(2), 0), KVBM_EINVAL); /* same block id */
    EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(3), 4), KVBM_EINVAL); /* id out of range */
    EXPECT_EQ(b.ops->len(b.ctx), 1u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(lru_resurrected_block_reenters_as_most_recent)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(4, &b));
    for (uint32_t i = 0; i < 3; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    uint32_t id;
    ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(0), true, &id));
    EXPECT_EQ(id, 0u);
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(0), 0)); /* released again */
    kvbm__pair out[3];
    ASSERT_EQ(b.ops->allocate_all(b.ctx, out), 3);
    EXPECT_EQ(out[0].block_id, 1u);
    EXPECT_EQ(out[1].block_id, 2u);
    EXPECT_EQ(out[2].block_id, 0u);
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(lru_take_requires_exact_pair)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(4, &b));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 2));
    EXPECT_FALSE(b.ops->take(b.ctx, tb_hash_for_id(1), 3));
    EXPECT_FALSE(b.ops->take(b.ctx, tb_hash_for_id(2), 2));
    EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(1)));
    EXPECT_TRUE(b.ops->take(b.ctx, tb_hash_for_id(1), 2));
    EXPECT_EQ(b.ops->len(b.ctx), 0u);
    kvbm__inactive_destroy(&b);
}

/* Index stress: many inserts/removes with colliding clusters keep the table consistent
 * (backward-shift deletion). Ids take hashes from a shared pool, so a resurrected id
 * comes back with its own hash (parked entry revived), another hash (parked entry
 * deleted), or a hash parked under another id (entry taken over). */
KVBM_TEST(lru_index_churn_keeps_invariants)
{
    enum { CAP = 257, POOL = 400 };
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(CAP, &b));
    uint64_t seed = test_seed();
    printf("seed=%" PRIu64 "\n", seed);
    uint64_t x = seed | 1;
    bool in[CAP] = { false };
    uint32_t hash_of[CAP];        /* pool index of an id's hash while in */
    int32_t holder[POOL];         /* id holding pool hash p, -1 if none */
    for (int p = 0; p < POOL; p++) holder[p] = -1;
    for (uint32_t i = 0; i < CAP; i++) hash_of[i] = i;
    size_t revived = 0, moved = 0;
    for (int step = 0; step < 20000; step++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint32_t id = (uint32_t)(x % CAP);
        if (in[id]) {
            uint32_t got;
            ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(hash_of[id]), false, &got));
            ASSERT_EQ(got, id);
            holder[hash_of[id]] = -1;
            in[id] = false;
        } else {
            uint32_t p = (x >> 20) % 4 == 0 ? hash_of[id] : (uint32_t)((x >> 24) % POOL);
            while (holder[p] >= 0) p = (p + 1) % POOL;
            size_t slot_before = 0;
            bool live = true, parked = kvbm__lru_entry_of(&b, id, &slot_before, &live, NULL) && !live;
            ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(p), id));
            size_t slot_after = 0;
            ASSERT_TRUE(kvbm__lru_entry_of(&b, id, &slot_after, &live, NULL));
            EXPECT_TRUE(live);
            if (parked && p == hash_of[id]) { EXPECT_EQ(slot_after, slot_before); revived++; }
            else if (parked) moved++;
            holder[p] = (int32_t)id;
            hash_of[id] = p;
            in[id] = true;
        }
        if (step % 1000 == 0) ASSERT_TRUE(tb_check(&b));
    }
    for (uint32_t p = 0; p < POOL; p++) EXPECT_EQ(b.ops->has(b.ctx, tb_hash_for_id(p)), holder[p] >= 0);
    size_t entries = 0;
    (void)kvbm__lru_entry_of(&b, 0, NULL, NULL, &entries);
    EXPECT_LE(entries, (size_t)CAP);
    EXPECT_GT(revived, 500u);
    EXPECT_GT(moved, 1000u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

/* Parked index entries (lru.c): a resurrected block keeps its entry, parked; re-inserting
 * the same (hash, id) revives it in place; another hash for the id deletes it; the same
 * hash under another id takes it over. Lookups never see a parked entry. Plain LRU and
 * MultiLRU share the code. */
KVBM_TEST(lru_parked_entry_lifecycle)
{
    for (int k = 0; k < 2; k++) {
        kvbm__inactive b;
        ASSERT_OK(tb_create(k == 0 ? TB_LRU : TB_MULTI_LRU, 4, &b, NULL));
        size_t s0 = 0, s1 = 0, entries = 0;
        bool live = false;
        uint32_t got = 0;
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 0));
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(2), 1));
        ASSERT_TRUE(kvbm__lru_entry_of(&b, 0, &s0, &live, &entries));
        EXPECT_TRUE(live);
        EXPECT_EQ(entries, 2u);

        /* resurrect: parked, invisible */
        ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(1), false, &got));
        EXPECT_EQ(got, 0u);
        ASSERT_TRUE(kvbm__lru_entry_of(&b, 0, &s1, &live, &entries));
        EXPECT_FALSE(live);
        EXPECT_EQ(s1, s0);
        EXPECT_EQ(entries, 2u);
        EXPECT_FALSE(b.ops->has(b.ctx, tb_hash_for_id(1)));
        EXPECT_FALSE(b.ops->find_match(b.ctx, tb_hash_for_id(1), false, &got));
        EXPECT_FALSE(b.ops->take(b.ctx, tb_hash_for_id(1), 0));
        EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(1)), -1);
        EXPECT_EQ(b.ops->len(b.ctx), 1u);
        EXPECT_TRUE(tb_check(&b));

        /* same (hash, id): revived in place, most recent */
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 0));
        ASSERT_TRUE(kvbm__lru_entry_of(&b, 0, &s1, &live, &entries));
        EXPECT_TRUE(live);
        EXPECT_EQ(s1, s0);
        EXPECT_EQ(entries, 2u);
        EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(1)));
        EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(1), 2), KVBM_EINVAL); /* live: a duplicate */
        EXPECT_TRUE(tb_check(&b));

        /* take parks too; the hash then goes to another id, which takes the entry over */
        EXPECT_TRUE(b.ops->take(b.ctx, tb_hash_for_id(1), 0));
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 3));
        EXPECT_FALSE(kvbm__lru_entry_of(&b, 0, NULL, NULL, &entries));
        EXPECT_EQ(entries, 2u);
        ASSERT_TRUE(kvbm__lru_entry_of(&b, 3, &s1, &live, NULL));
        EXPECT_TRUE(live);
        EXPECT_EQ(s1, s0);
        EXPECT_TRUE(tb_check(&b));

        /* id 3 resurrected, then back under another hash: its parked tb_hash_for_id(1) entry goes */
        ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(1), false, &got));
        EXPECT_EQ(got, 3u);
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(5), 3));
        ASSERT_TRUE(kvbm__lru_entry_of(&b, 3, NULL, &live, &entries));
        EXPECT_TRUE(live);
        EXPECT_EQ(entries, 2u);
        EXPECT_FALSE(b.ops->has(b.ctx, tb_hash_for_id(1)));
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 0)); /* nothing parked under tb_hash_for_id(1) any more */
        EXPECT_EQ(b.ops->len(b.ctx), 3u);
        EXPECT_TRUE(tb_check(&b));

        /* eviction deletes: order tb_hash_for_id(2) (block 1), tb_hash_for_id(5) (block 3), tb_hash_for_id(1) (block 0) */
        kvbm__pair out[3];
        ASSERT_EQ(b.ops->allocate(b.ctx, 3, out), 3);
        if (k == 0) {
            EXPECT_EQ(out[0].block_id, 1u);
            EXPECT_EQ(out[1].block_id, 3u);
            EXPECT_EQ(out[2].block_id, 0u);
        }
        EXPECT_FALSE(kvbm__lru_entry_of(&b, 0, NULL, NULL, &entries));
        EXPECT_FALSE(kvbm__lru_entry_of(&b, 1, NULL, NULL, NULL));
        EXPECT_FALSE(kvbm__lru_entry_of(&b, 3, NULL, NULL, NULL));
        EXPECT_EQ(entries, 0u);
        EXPECT_TRUE(tb_check(&b));
        kvbm__inactive_destroy(&b);
    }
}

/* The queues are rings with lazy deletion: resurrections leave stale entries that a full
 * ring compacts away. Capacity 5 has a 16-entry ring, so this loop compacts hundreds of
 * times; an explicit list model checks the eviction order throughout (LRU and every
 * MultiLRU level alike use the same queue code; the level is the model's concern only
 * for MultiLRU, so plain LRU is the exact check). */
KVBM_TEST(lru_ring_compaction_keeps_exact_order)
{
    enum { CAP = 5 };
    kvbm__inactive b;
    ASSERT_OK(kvbm__lru_create(CAP, &b));
    uint32_t model[CAP];
    size_t len = 0;
    uint64_t x = test_seed() | 1;
    size_t evictions = 0, resurrections = 0;
    for (int step = 0; step < 5000; step++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint32_t r = (uint32_t)(x >> 11);
        if (len < CAP && (r % 3 != 0 || len == 0)) {
            /* insert the smallest absent id */
            uint32_t id = tb_smallest_absent(model, len);
            ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(id), id));
            model[len++] = id;
        } else if (r % 4 != 0) {
            /* resurrect a random present entry (its ring entry goes stale) */
            size_t i = (r >> 3) % len;
            uint32_t got;
            ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(model[i]), false, &got));
            ASSERT_EQ(got, model[i]);
            tb_model_remove(model, &len, i);
            resurrections++;
        } else {
            kvbm__pair out[1];
            ASSERT_EQ(b.ops->allocate(b.ctx, 1, out), 1);
            ASSERT_EQ(out[0].block_id, model[0]);
            EXPECT_TRUE(kvbm_plh_eq(out[0].hash, tb_hash_for_id(model[0])));
            tb_model_remove(model, &len, 0);
            evictions++;
        }
        ASSERT_EQ(b.ops->len(b.ctx), len);
        ASSERT_TRUE(tb_check(&b));
    }
    /* drain: exactly the model's order */
    kvbm__pair out[CAP];
    ASSERT_EQ(b.ops->allocate_all(b.ctx, out), len);
    for (size_t i = 0; i < len; i++) EXPECT_EQ(out[i].block_id, model[i]);
    EXPECT_GT(resurrections, 1000u);
    EXPECT_GT(evictions, 300u);
    kvbm__inactive_destroy(&b);
}
