/* tests/backends/test_fifo.c - FIFO reuse policy and HashMap backend (§3.5, §7.5 fifo.rs). */
#include "backends_test.h"

static kvbm__fifo_reuse *fifo_new(size_t cap)
{
    kvbm__fifo_reuse *f = NULL;
    if (kvbm__fifo_reuse_create(cap, &f) != KVBM_OK) return NULL;
    return f;
}

static uint32_t pop_id(kvbm__fifo_reuse *f)
{
    kvbm__pair p;
    return kvbm__fifo_reuse_next_free(f, &p) ? p.block_id : UINT32_MAX;
}

KVBM_TEST(test_fifo_ordering_basic)
{
    kvbm__fifo_reuse *f = fifo_new(8);
    ASSERT_TRUE(f != NULL);
    for (uint32_t i = 1; i <= 3; i++) ASSERT_OK(kvbm__fifo_reuse_insert(f, i, tb_hash_for_id(i)));
    EXPECT_EQ(kvbm__fifo_reuse_len(f), 3u);
    EXPECT_EQ(pop_id(f), 1u);
    EXPECT_EQ(pop_id(f), 2u);
    EXPECT_EQ(pop_id(f), 3u);
    EXPECT_EQ(kvbm__fifo_reuse_len(f), 0u);
    EXPECT_EQ(pop_id(f), UINT32_MAX);
    kvbm__fifo_reuse_destroy(f);
}

/* The reference sleeps between inserts; the order depends only on insertion sequence. */
KVBM_TEST(test_fifo_ordering_with_delays)
{
    kvbm__fifo_reuse *f = fifo_new(64);
    ASSERT_TRUE(f != NULL);
    const uint32_t ids[] = { 10, 20, 30, 40 };
    for (int i = 0; i < 4; i++) ASSERT_OK(kvbm__fifo_reuse_insert(f, ids[i], tb_hash_for_id(ids[i])));
    for (int i = 0; i < 4; i++) EXPECT_EQ(pop_id(f), ids[i]);
    kvbm__fifo_reuse_destroy(f);
}

KVBM_TEST(test_insert_and_remove)
{
    kvbm__fifo_reuse *f = fifo_new(8);
    ASSERT_TRUE(f != NULL);
    for (uint32_t i = 1; i <= 4; i++) ASSERT_OK(kvbm__fifo_reuse_insert(f, i, tb_hash_for_id(i)));
    ASSERT_OK(kvbm__fifo_reuse_remove(f, 2));
    EXPECT_EQ(kvbm__fifo_reuse_len(f), 3u);
    EXPECT_EQ(pop_id(f), 1u);
    EXPECT_EQ(pop_id(f), 3u);
    EXPECT_EQ(pop_id(f), 4u);
    kvbm__fifo_reuse_destroy(f);
}

KVBM_TEST(test_empty_operations)
{
    kvbm__fifo_reuse *f = fifo_new(4);
    ASSERT_TRUE(f != NULL);
    EXPECT_EQ(kvbm__fifo_reuse_len(f), 0u);
    EXPECT_EQ(pop_id(f), UINT32_MAX);
    EXPECT_STATUS(kvbm__fifo_reuse_remove(f, 1), KVBM_ENOENT);
    kvbm__fifo_reuse_destroy(f);
}

/* Reference: panic "block already exists". kvbm: KVBM_EINVAL with that text. */
KVBM_TEST(test_duplicate_block_panic)
{
    kvbm__fifo_reuse *f = fifo_new(4);
    ASSERT_TRUE(f != NULL);
    ASSERT_OK(kvbm__fifo_reuse_insert(f, 1, tb_hash_for_id(1)));
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm__fifo_reuse_insert(f, 1, tb_hash_for_id(2)), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "block already exists");
    EXPECT_EQ(kvbm__fifo_reuse_len(f), 1u);
    kvbm__pair p;
    ASSERT_TRUE(kvbm__fifo_reuse_next_free(f, &p));
    EXPECT_TRUE(kvbm_plh_eq(p.hash, tb_hash_for_id(1))); /* the first insert is unchanged */
    kvbm__fifo_reuse_destroy(f);
}

KVBM_TEST(test_remove_nonexistent_block)
{
    kvbm__fifo_reuse *f = fifo_new(16);
    ASSERT_TRUE(f != NULL);
    ASSERT_OK(kvbm__fifo_reuse_insert(f, 1, tb_hash_for_id(1)));
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm__fifo_reuse_remove(f, 9), KVBM_ENOENT);
    EXPECT_STR_EQ(kvbm_last_error(), "Block 9 not found in free list");
    EXPECT_EQ(kvbm__fifo_reuse_len(f), 1u);
    EXPECT_EQ(pop_id(f), 1u);
    kvbm__fifo_reuse_destroy(f);
}

KVBM_TEST(test_interleaved_operations)
{
    kvbm__fifo_reuse *f = fifo_new(8);
    ASSERT_TRUE(f != NULL);
    ASSERT_OK(kvbm__fifo_reuse_insert(f, 1, tb_hash_for_id(1)));
    ASSERT_OK(kvbm__fifo_reuse_insert(f, 2, tb_hash_for_id(2)));
    EXPECT_EQ(pop_id(f), 1u);
    ASSERT_OK(kvbm__fifo_reuse_insert(f, 3, tb_hash_for_id(3)));
    ASSERT_OK(kvbm__fifo_reuse_insert(f, 4, tb_hash_for_id(4)));
    ASSERT_OK(kvbm__fifo_reuse_remove(f, 3));
    ASSERT_OK(kvbm__fifo_reuse_insert(f, 5, tb_hash_for_id(5)));
    EXPECT_EQ(pop_id(f), 2u);
    EXPECT_EQ(pop_id(f), 4u);
    EXPECT_EQ(pop_id(f), 5u);
    EXPECT_EQ(pop_id(f), UINT32_MAX);
    kvbm__fifo_reuse_destroy(f);
}

/* Sequence keys are strictly increasing in insertion order and pop in that order. */
KVBM_TEST(test_priority_key_ordering)
{
    kvbm__fifo_reuse *f = fifo_new(32);
    ASSERT_TRUE(f != NULL);
    const uint32_t ids[] = { 7, 3, 19, 0, 12 };
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(kvbm__fifo_reuse_insert(f, ids[i], tb_hash_for_id(ids[i])));
        uint64_t seq = kvbm__fifo_reuse_seq(f, ids[i]);
        if (i > 0) EXPECT_GT(seq, last);
        last = seq;
    }
    for (int i = 0; i < 5; i++) EXPECT_EQ(pop_id(f), ids[i]);
    EXPECT_EQ_U64(kvbm__fifo_reuse_seq(f, 7), UINT64_MAX);
    kvbm__fifo_reuse_destroy(f);
}

/* The reference relies on its ordered map popping the smallest key; kvbm's intrusive list
 * must give the same result when removals punch holes anywhere in the sequence. */
KVBM_TEST(test_btreemap_ordering_assumption)
{
    kvbm__fifo_reuse *f = fifo_new(16);
    ASSERT_TRUE(f != NULL);
    for (uint32_t i = 0; i < 10; i++) ASSERT_OK(kvbm__fifo_reuse_insert(f, i, tb_hash_for_id(i)));
    ASSERT_OK(kvbm__fifo_reuse_remove(f, 0));
    ASSERT_OK(kvbm__fifo_reuse_remove(f, 5));
    ASSERT_OK(kvbm__fifo_reuse_remove(f, 9));
    uint64_t prev = 0;
    bool first = true;
    for (;;) {
        kvbm__pair p;
        if (!kvbm__fifo_reuse_next_free(f, &p)) break;
        uint64_t cur = p.block_id; /* ids were inserted in increasing order: seq order = id order */
        if (!first) EXPECT_GT(cur, prev);
        first = false;
        prev = cur;
    }
    kvbm__fifo_reuse_destroy(f);
}

/* ---- HashMap backend specifics ------------------------------------------------------- */

KVBM_TEST(hashmap_allocates_in_fifo_order)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__hashmap_create(8, &b));
    const uint32_t ids[] = { 5, 1, 7, 2 };
    for (int i = 0; i < 4; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(ids[i]), ids[i]));
    uint32_t id;
    ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(1), false, &id));
    EXPECT_EQ(id, 1u);
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
    kvbm__pair out[4];
    ASSERT_EQ(b.ops->allocate(b.ctx, 4, out), 4);
    const uint32_t want[] = { 5, 7, 2, 1 };
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(out[i].block_id, want[i]);
        EXPECT_TRUE(kvbm_plh_eq(out[i].hash, tb_hash_for_id(want[i])));
    }
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(hashmap_rejects_duplicate_id_and_hash)
{
    kvbm__inactive b;
    ASSERT_OK(kvbm__hashmap_create(4, &b));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
    EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(2), 1), KVBM_EINVAL);
    EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(1), 2), KVBM_EINVAL);
    EXPECT_STATUS(b.ops->insert(b.ctx, tb_hash_for_id(3), 4), KVBM_EINVAL);
    EXPECT_EQ(b.ops->len(b.ctx), 1u);
    EXPECT_TRUE(b.ops->take(b.ctx, tb_hash_for_id(1), 1));
    EXPECT_EQ(b.ops->len(b.ctx), 0u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

/* The FIFO is a ring with lazy deletion (removals leave stale entries that a full ring
 * compacts away). Capacity 5 has a 16-entry ring: this loop compacts hundreds of times,
 * through both the policy alone (remove / next_free) and the HashMap backend (find_match /
 * allocate of several victims), checking the order against a list model every step. */
KVBM_TEST(fifo_ring_compaction_keeps_exact_order)
{
    enum { CAP = 5 };
    kvbm__inactive b;
    ASSERT_OK(kvbm__hashmap_create(CAP, &b));
    kvbm__fifo_reuse *f = fifo_new(CAP);
    ASSERT_TRUE(f != NULL);
    uint32_t mb[CAP], mf[CAP]; /* models: backend, policy */
    size_t lb = 0, lf = 0;
    uint64_t x = test_seed() | 1;
    size_t removes = 0, pops = 0;
    for (int step = 0; step < 5000; step++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint32_t r = (uint32_t)(x >> 11);
        /* policy */
        if (lf < CAP && (r % 3 != 0 || lf == 0)) {
            uint32_t id = tb_smallest_absent(mf, lf);
            ASSERT_OK(kvbm__fifo_reuse_insert(f, id, tb_hash_for_id(id)));
            mf[lf++] = id;
        } else if (r % 4 != 0) {
            size_t i = (r >> 3) % lf;
            ASSERT_OK(kvbm__fifo_reuse_remove(f, mf[i]));
            tb_model_remove(mf, &lf, i);
            removes++;
        } else {
            ASSERT_EQ(pop_id(f), mf[0]);
            tb_model_remove(mf, &lf, 0);
            pops++;
        }
        ASSERT_EQ(kvbm__fifo_reuse_len(f), lf);
        /* backend */
        r = (uint32_t)(x >> 29);
        if (lb < CAP && (r % 3 != 0 || lb == 0)) {
            uint32_t id = tb_smallest_absent(mb, lb);
            ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(id), id));
            mb[lb++] = id;
        } else if (r % 4 != 0) {
            size_t i = (r >> 3) % lb;
            uint32_t got;
            ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(mb[i]), false, &got));
            ASSERT_EQ(got, mb[i]);
            tb_model_remove(mb, &lb, i);
        } else {
            size_t want = 1 + (r >> 5) % lb;
            kvbm__pair out[CAP];
            ASSERT_EQ(b.ops->allocate(b.ctx, want, out), want);
            for (size_t i = 0; i < want; i++) ASSERT_EQ(out[i].block_id, mb[i]);
            memmove(&mb[0], &mb[want], (lb - want) * sizeof *mb);
            lb -= want;
        }
        ASSERT_EQ(b.ops->len(b.ctx), lb);
        ASSERT_TRUE(tb_check(&b));
    }
    EXPECT_GT(removes, 1000u);
    EXPECT_GT(pops, 300u);
    kvbm__fifo_reuse_destroy(f);
    kvbm__inactive_destroy(&b);
}
