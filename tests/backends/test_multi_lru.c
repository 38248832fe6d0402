/* tests/backends/test_multi_lru.c - multi-level LRU backend (§3.3, §7.5 multi_lru_backend.rs).
 * Thresholds [2, 6, 15] and a TinyLFU(100) tracker unless noted. */
#include "backends_test.h"

static kvbm_tracker *tlfu(void)
{
    kvbm_tracker *t = NULL;
    if (kvbm_tinylfu_create(100, NULL, &t) != KVBM_OK) abort();
    return t;
}

static void touch_n(kvbm_tracker *t, kvbm_plh h, int n)
{
    for (int i = 0; i < n; i++) kvbm_tracker_touch(t, h);
}

static const uint8_t THR[3] = { 2, 6, 15 };

KVBM_TEST(test_multi_lru_priority_levels)
{
    kvbm_tracker *t = tlfu();
    kvbm__inactive b;
    ASSERT_OK(kvbm__multi_lru_create(10, THR, t, &b));
    touch_n(t, tb_hash_for_id(2), 2);
    touch_n(t, tb_hash_for_id(3), 6);
    touch_n(t, tb_hash_for_id(4), 16);
    for (uint32_t i = 1; i <= 4; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    for (uint32_t i = 1; i <= 4; i++) {
        EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(i)));
        EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(i)), (int)i - 1);
    }
    for (unsigned l = 0; l < 4; l++) EXPECT_EQ(kvbm__multi_lru_level_len(&b, l), 1u);
    EXPECT_EQ(b.ops->len(b.ctx), 4u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
    kvbm_tracker_release(t);
}

KVBM_TEST(test_multi_lru_eviction_order)
{
    kvbm_tracker *t = tlfu();
    kvbm__inactive b;
    ASSERT_OK(kvbm__multi_lru_create(10, THR, t, &b));
    touch_n(t, tb_hash_for_id(3), 6);
    for (uint32_t i = 1; i <= 3; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    kvbm__pair out[2];
    ASSERT_EQ(b.ops->allocate(b.ctx, 2, out), 2u);
    EXPECT_EQ(out[0].block_id, 1u);
    EXPECT_EQ(out[1].block_id, 2u);
    EXPECT_TRUE(b.ops->has(b.ctx, tb_hash_for_id(3)));
    EXPECT_EQ(b.ops->len(b.ctx), 1u);
    kvbm__inactive_destroy(&b);
    kvbm_tracker_release(t);
}

KVBM_TEST(test_multi_lru_find_matches)
{
    const uint8_t thr[3] = { 2, 4, 8 };
    kvbm_tracker *t = tlfu();
    kvbm__inactive b;
    ASSERT_OK(kvbm__multi_lru_create(10, thr, t, &b));
    touch_n(t, tb_hash_for_id(2), 3);
    touch_n(t, tb_hash_for_id(3), 10);
    for (uint32_t i = 1; i <= 3; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(1)), 0);
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(2)), 1);
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(3)), 3);
    kvbm_plh q[3] = { tb_hash_for_id(1), tb_hash_for_id(2), tb_hash_for_id(3) };
    kvbm__pair out[3];
    EXPECT_EQ(b.ops->find_matches(b.ctx, q, 3, true, out), 3u);
    EXPECT_EQ(b.ops->len(b.ctx), 0u);
    kvbm__inactive_destroy(&b);
    kvbm_tracker_release(t);
}

KVBM_TEST(test_multi_lru_capacity_distribution)
{
    kvbm_tracker *t = tlfu();
    kvbm__inactive b;
    ASSERT_OK(kvbm__multi_lru_create(16, THR, t, &b));
    touch_n(t, tb_hash_for_id(2), 3);
    touch_n(t, tb_hash_for_id(3), 7);
    touch_n(t, tb_hash_for_id(4), 15);
    for (uint32_t i = 1; i <= 4; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    for (uint32_t i = 1; i <= 4; i++) EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(i)), (int)i - 1);
    kvbm__pair out[4];
    EXPECT_EQ(b.ops->allocate(b.ctx, 4, out), 4u);
    for (uint32_t i = 0; i < 4; i++) EXPECT_EQ(out[i].block_id, i + 1); /* cold first */
    EXPECT_EQ(b.ops->len(b.ctx), 0u);
    kvbm__inactive_destroy(&b);
    kvbm_tracker_release(t);
}

/* Every level holds all blocks: filling the backend with cold blocks works (the older
 * ceil(n/4)-per-level design panicked). */
KVBM_TEST(test_multi_lru_all_cold_blocks_at_capacity)
{
    kvbm_tracker *t = tlfu();
    kvbm__inactive b;
    const uint8_t dflt[3] = { 3, 8, 15 };
    ASSERT_OK(kvbm__multi_lru_create(10, dflt, t, &b));
    for (uint32_t i = 0; i < 10; i++) {
        kvbm_tracker_touch(t, tb_hash_for_id(i)); /* registration touch: count 1 -> cold */
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    }
    EXPECT_EQ(kvbm__multi_lru_level_len(&b, 0), 10u);
    kvbm__pair out[10];
    EXPECT_EQ(b.ops->allocate_all(b.ctx, out), 10u);
    for (uint32_t i = 0; i < 10; i++) EXPECT_EQ(out[i].block_id, i);
    kvbm__inactive_destroy(&b);
    kvbm_tracker_release(t);
}

/* allocate_all: level 0 oldest->newest, then levels 1, 2, 3. */
KVBM_TEST(multi_lru_allocate_all_order)
{
    kvbm_tracker *t = tlfu();
    kvbm__inactive b;
    ASSERT_OK(kvbm__multi_lru_create(10, THR, t, &b));
    const int touches[6] = { 16, 0, 3, 0, 7, 3 }; /* levels 3,0,1,0,2,1 */
    for (uint32_t i = 0; i < 6; i++) {
        touch_n(t, tb_hash_for_id(i), touches[i]);
        ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    }
    kvbm__pair out[6];
    ASSERT_EQ(b.ops->allocate_all(b.ctx, out), 6u);
    const uint32_t want[6] = { 1, 3, 2, 5, 4, 0 };
    for (int i = 0; i < 6; i++) EXPECT_EQ(out[i].block_id, want[i]);
    kvbm__inactive_destroy(&b);
    kvbm_tracker_release(t);
}

/* "Promotion" only by release after resurrection: the level is recomputed at insert. */
KVBM_TEST(multi_lru_level_recomputed_on_reinsert)
{
    kvbm_tracker *t = tlfu();
    kvbm__inactive b;
    ASSERT_OK(kvbm__multi_lru_create(10, THR, t, &b));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(1)), 0);
    touch_n(t, tb_hash_for_id(1), 5); /* no movement while inactive */
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(1)), 0);
    uint32_t id;
    ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(1), true, &id));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(1)), 1);
    kvbm_tracker_decay_now(t); /* 5 -> 2: still warm */
    kvbm_tracker_decay_now(t); /* 2 -> 1: cold on the next release */
    ASSERT_TRUE(b.ops->find_match(b.ctx, tb_hash_for_id(1), true, &id));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(1)), 0);
    kvbm__inactive_destroy(&b);
    kvbm_tracker_release(t);
}

/* The backend counts exactly once per insert and never touches (§5.5). */
typedef struct meter { int touches, counts; uint32_t answer; } meter;
static void m_touch(void *ctx, const uint8_t k[16]) { KVBM_UNUSED(k); ((meter *)ctx)->touches++; }
static uint32_t m_count(void *ctx, const uint8_t k[16]) { KVBM_UNUSED(k); ((meter *)ctx)->counts++; return ((meter *)ctx)->answer; }

KVBM_TEST(multi_lru_counts_once_per_insert_never_touches)
{
    meter m = { 0, 0, 9 };
    kvbm_tracker_ops ops = { m_touch, m_count, NULL };
    kvbm_tracker *t = NULL;
    ASSERT_OK(kvbm_tracker_create_custom(&ops, &m, &t));
    kvbm__inactive b;
    ASSERT_OK(kvbm__multi_lru_create(10, THR, t, &b));
    kvbm_tracker_release(t); /* the backend keeps it alive */
    for (uint32_t i = 0; i < 4; i++) ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(i), i));
    EXPECT_EQ(m.counts, 4);
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(0)), 2);
    kvbm_plh q[3] = { tb_hash_for_id(0), tb_hash_for_id(1), tb_hash_for_id(9) };
    kvbm__pair out[4];
    (void)b.ops->find_matches(b.ctx, q, 3, true, out);
    (void)b.ops->scan_matches(b.ctx, q, 3, true, out);
    (void)b.ops->has(b.ctx, tb_hash_for_id(2));
    (void)b.ops->allocate_all(b.ctx, out);
    EXPECT_EQ(m.touches, 0);
    EXPECT_EQ(m.counts, 4);
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(multi_lru_threshold_validation)
{
    kvbm_tracker *t = tlfu();
    kvbm__inactive b;
    const struct { uint8_t t[3]; const char *msg; } bad[] = {
        { { 3, 3, 15 }, "Thresholds must be in ascending order: 3 < 3 < 15 failed" },
        { { 8, 3, 15 }, "Thresholds must be in ascending order: 8 < 3 < 15 failed" },
        { { 3, 8, 16 }, "Maximum threshold cannot exceed 15 (4-bit counter limit), got: 16" },
        { { 0, 8, 15 }, "Cold threshold must be >= 1 to distinguish from never-accessed blocks, got: 0" },
        { { 9, 8, 20 }, "Thresholds must be in ascending order" }, /* order checked first */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvbm_clear_last_error();
        EXPECT_STATUS(kvbm__multi_lru_create(10, bad[i].t, t, &b), KVBM_ECONFIG);
        EXPECT_STR_CONTAINS(kvbm_last_error(), bad[i].msg);
    }
    const uint8_t ok1[3] = { 1, 2, 3 }, ok2[3] = { 14, 15, 15 + 0 };
    ASSERT_OK(kvbm__multi_lru_create(10, ok1, t, &b));
    kvbm__inactive_destroy(&b);
    EXPECT_STATUS(kvbm__multi_lru_create(10, ok2, t, &b), KVBM_ECONFIG); /* 15 < 15 fails */
    ASSERT_OK(kvbm__multi_lru_create(10, NULL, t, &b)); /* NULL: defaults [3, 8, 15] */
    kvbm_tracker_touch(t, tb_hash_for_id(1));
    kvbm_tracker_touch(t, tb_hash_for_id(1));
    kvbm_tracker_touch(t, tb_hash_for_id(1));
    ASSERT_OK(b.ops->insert(b.ctx, tb_hash_for_id(1), 1));
    EXPECT_EQ(kvbm__multi_lru_level_of(&b, tb_hash_for_id(1)), 1); /* 3 >= t1 = 3 */
    kvbm__inactive_destroy(&b);
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm__multi_lru_create(10, THR, NULL, &b), KVBM_ECONFIG);
    EXPECT_STR_EQ(kvbm_last_error(), "MultiLRU backend requires a registry with frequency tracking");
    kvbm_tracker_release(t);
}
