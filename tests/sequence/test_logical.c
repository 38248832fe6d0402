/* tests/sequence/test_logical.c - LogicalBlockAssignments (spec 30 §5.4, logical.rs;
 * manager with 10 blocks, bs 4, LRU), the Logical doctest (§5.2) and decision 7 (Reject
 * policy: the assignment is keyed by the block id actually returned). */
#include <stdlib.h>

#include "support/seq_helpers.h"
#include "internal.h"

static kvbm_logical_asg *mkla(void)
{
    kvbm_logical_asg *a = NULL;
    if (kvbm_logical_asg_create(&a) != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "create");
    return a;
}

/* allocate @n mutables into @out */
static bool alloc(kvbm_manager *m, size_t n, kvbm_mutable **out)
{
    return kvbm_manager_allocate(m, n, out, NULL, NULL) == KVBM_OK;
}

/* register_blocks_directly(mgr, seq, k): allocate, complete, register blocks 0..k-1 */
static void register_directly(kvbm_manager *m, const kvbm_block_seq *s, size_t k, kvbm_block **out)
{
    for (size_t i = 0; i < k; i++) {
        kvbm_mutable *mb;
        kvbm_complete *c;
        if (!alloc(m, 1, &mb) ||
            kvbm_mutable_complete(mb, kvbm_block_seq_block(s, i), &c, NULL, NULL) != KVBM_OK ||
            kvbm_manager_register_block(m, c, &out[i]) != KVBM_OK)
            kvbm_test_fail(__FILE__, __LINE__, "register_directly %zu", i);
    }
}

static void extend_mut(kvbm_logical_asg *a, kvbm_mutable **b, size_t n)
{
    size_t c = 0;
    if (kvbm_logical_asg_extend_blocks(a, b, n, &c, NULL) != KVBM_OK || c != n)
        kvbm_test_fail(__FILE__, __LINE__, "extend_blocks: %s", kvbm_last_error());
}

static size_t stage(kvbm_logical_asg *a, const kvbm_block_seq *s, size_t begin, size_t end)
{
    size_t n = 0;
    if (kvbm_logical_asg_stage(a, s, begin, end, &n, NULL, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "stage: %s", kvbm_last_error());
    return n;
}

static size_t reg(kvbm_logical_asg *a, kvbm_manager *m)
{
    size_t n = 0;
    if (kvbm_logical_asg_register(a, m, &n) != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "register");
    return n;
}

#define COUNTS(a, x, y, z) do { EXPECT_EQ(kvbm_logical_asg_assigned_count(a), (x)); \
        EXPECT_EQ(kvbm_logical_asg_staged_count(a), (y)); EXPECT_EQ(kvbm_logical_asg_unassigned_count(a), (z)); } while (0)

#define SETUP(nblocks)                                  \
    kvbm_manager *m = create_test_manager(10);          \
    ASSERT_TRUE(m != NULL);                             \
    kvbm_block_seq *s = mkseq(nblocks, 0);              \
    kvbm_logical_asg *a = mkla()
#define TEARDOWN()                                      \
    do {                                                \
        kvbm_logical_asg_destroy(a);                    \
        kvbm_block_seq_destroy(s);                      \
        EXPECT_EQ(kvbm_manager_available_blocks(m), 10); \
        tm_manager_destroy(m);                          \
    } while (0)

KVBM_TEST(empty_construction)
{
    kvbm_logical_asg *a = mkla();
    EXPECT_TRUE(kvbm_logical_asg_is_empty(a));
    COUNTS(a, 0, 0, 0);
    EXPECT_FALSE(kvbm_logical_asg_contains(a, 0));
    kvbm_logical_asg_destroy(a);
}

KVBM_TEST(default_is_empty)
{
    kvbm_logical_asg *a = mkla();
    EXPECT_TRUE(kvbm_logical_asg_is_empty(a));
    size_t n = 9;
    EXPECT_OK(kvbm_logical_asg_all_block_ids(a, NULL, 0, &n));
    EXPECT_EQ(n, 0);
    kvbm_logical_asg_destroy(a);
}

KVBM_TEST(extend_blocks_basic)
{
    SETUP(5);
    kvbm_mutable *mb[5];
    ASSERT_TRUE(alloc(m, 5, mb));
    extend_mut(a, mb, 5);
    COUNTS(a, 0, 0, 5);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 5);
    for (size_t i = 0; i < 5; i++) {
        uint32_t id;
        kvbm_mutable *g;
        ASSERT_TRUE(kvbm_logical_asg_get_unassigned(a, i, &id, &g));
        EXPECT_EQ(id, kvbm_mutable_block_id(mb[i]));
        EXPECT_TRUE(g == mb[i]);
    }
    TEARDOWN();
}

KVBM_TEST(extend_assigned_basic)
{
    SETUP(3);
    kvbm_block *b[3];
    register_directly(m, s, 3, b);
    size_t c = 0;
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 3, &c, NULL));
    EXPECT_EQ(c, 3);
    for (size_t i = 0; i < 3; i++) {
        uint32_t id;
        kvbm_block *g;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(a, i, &id, &g));
        EXPECT_EQ(id, kvbm_block_id(b[i]));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(g), seq_hash(s, i)));
    }
    TEARDOWN();
}

KVBM_TEST(extend_assigned_ordering_preserved)
{
    SETUP(5);
    kvbm_block *b[5], *rev[5];
    register_directly(m, s, 5, b);
    for (size_t i = 0; i < 5; i++) rev[i] = b[4 - i];
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, rev, 5, NULL, NULL));
    for (size_t i = 0; i < 5; i++) {
        uint32_t id;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(a, i, &id, NULL));
        EXPECT_EQ(id, kvbm_block_id(rev[i]));
    }
    TEARDOWN();
}

KVBM_TEST(extend_assigned_contains)
{
    SETUP(3);
    kvbm_block *b[3];
    register_directly(m, s, 3, b);
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 3, NULL, NULL));
    for (size_t i = 0; i < 3; i++) EXPECT_TRUE(kvbm_logical_asg_contains(a, kvbm_block_id(b[i])));
    EXPECT_FALSE(kvbm_logical_asg_contains(a, 999));
    TEARDOWN();
}

KVBM_TEST(extend_assigned_then_extend_stage_register)
{
    SETUP(5);
    kvbm_block *b[3];
    register_directly(m, s, 3, b);
    uint32_t matched[3] = { kvbm_block_id(b[0]), kvbm_block_id(b[1]), kvbm_block_id(b[2]) };
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 3, NULL, NULL));
    kvbm_mutable *mb[2];
    ASSERT_TRUE(alloc(m, 2, mb));
    uint32_t fresh[2] = { kvbm_mutable_block_id(mb[0]), kvbm_mutable_block_id(mb[1]) };
    extend_mut(a, mb, 2);
    EXPECT_EQ(stage(a, s, 3, 5), 2);
    EXPECT_EQ(reg(a, m), 2);
    COUNTS(a, 5, 0, 0);
    uint32_t ids[5];
    size_t n;
    ASSERT_OK(kvbm_logical_asg_all_block_ids(a, ids, 5, &n));
    for (size_t i = 0; i < 3; i++) EXPECT_EQ(ids[i], matched[i]);
    for (size_t i = 0; i < 2; i++) EXPECT_EQ(ids[3 + i], fresh[i]);
    for (size_t i = 0; i < 5; i++) {
        kvbm_block *g;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(a, i, NULL, &g));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(g), seq_hash(s, i)));
    }
    TEARDOWN();
}

KVBM_TEST(extend_assigned_with_match_blocks)
{
    SETUP(3);
    kvbm_block *b[3];
    register_directly(m, s, 3, b);
    tm_release_blocks(b, 3);
    kvbm_plh h[3] = { seq_hash(s, 0), seq_hash(s, 1), seq_hash(s, 2) };
    size_t got = 0;
    ASSERT_OK(kvbm_manager_match_blocks(m, h, 3, b, &got));
    ASSERT_EQ(got, 3);
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 3, NULL, NULL));
    for (size_t i = 0; i < 3; i++) {
        kvbm_block *g;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(a, i, NULL, &g));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(g), h[i]));
    }
    TEARDOWN();
}

KVBM_TEST(extend_assigned_empty)
{
    kvbm_logical_asg *a = mkla();
    size_t c = 9;
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, NULL, 0, &c, NULL));
    EXPECT_EQ(c, 0);
    EXPECT_TRUE(kvbm_logical_asg_is_empty(a));
    kvbm_logical_asg_destroy(a);
}

KVBM_TEST(stage_basic)
{
    SETUP(3);
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    uint32_t ids[3] = { kvbm_mutable_block_id(mb[0]), kvbm_mutable_block_id(mb[1]), kvbm_mutable_block_id(mb[2]) };
    extend_mut(a, mb, 3);
    EXPECT_EQ(stage(a, s, 0, 3), 3);
    COUNTS(a, 0, 3, 0);
    for (size_t i = 0; i < 3; i++) {
        uint32_t id;
        kvbm_complete *c;
        ASSERT_TRUE(kvbm_logical_asg_get_staged(a, i, &id, &c));
        EXPECT_EQ(id, ids[i]);
        EXPECT_TRUE(kvbm_plh_eq(kvbm_complete_seq_hash(c), seq_hash(s, i)));
    }
    TEARDOWN();
}

KVBM_TEST(stage_fifo_drain)
{
    SETUP(3);
    kvbm_mutable *mb[5];
    ASSERT_TRUE(alloc(m, 5, mb));
    uint32_t id3 = kvbm_mutable_block_id(mb[3]), id4 = kvbm_mutable_block_id(mb[4]);
    extend_mut(a, mb, 5);
    EXPECT_EQ(stage(a, s, 0, 3), 3);
    uint32_t id;
    ASSERT_TRUE(kvbm_logical_asg_get_unassigned(a, 0, &id, NULL));
    EXPECT_EQ(id, id3);
    ASSERT_TRUE(kvbm_logical_asg_get_unassigned(a, 1, &id, NULL));
    EXPECT_EQ(id, id4);
    TEARDOWN();
}

KVBM_TEST(stage_partial_fewer_blocks_than_unassigned)
{
    SETUP(3);
    kvbm_mutable *mb[5];
    ASSERT_TRUE(alloc(m, 5, mb));
    extend_mut(a, mb, 5);
    EXPECT_EQ(stage(a, s, 0, 3), 3);
    COUNTS(a, 0, 3, 2);
    TEARDOWN();
}

KVBM_TEST(stage_partial_fewer_unassigned_than_blocks)
{
    SETUP(5);
    kvbm_mutable *mb[2];
    ASSERT_TRUE(alloc(m, 2, mb));
    extend_mut(a, mb, 2);
    EXPECT_EQ(stage(a, s, 0, 5), 2);
    COUNTS(a, 0, 2, 0);
    TEARDOWN();
}

KVBM_TEST(stage_block_size_mismatch_recovery)
{
    SETUP(1);
    kvbm_block_seq *s8 = mkseq_bs(16, 8);
    kvbm_mutable *mb[2];
    ASSERT_TRUE(alloc(m, 2, mb));
    uint32_t id0 = kvbm_mutable_block_id(mb[0]);
    extend_mut(a, mb, 2);
    kvbm_mutable *failed = NULL;
    kvbm_seq_error e;
    size_t n = 9;
    EXPECT_STATUS(kvbm_logical_asg_stage(a, s8, 0, 2, &n, &failed, &e), KVBM_EINVAL);
    EXPECT_EQ(n, 0);
    EXPECT_EQ(e.kind, KVBM_SEQERR_BLOCK_SIZE_MISMATCH);
    EXPECT_EQ(e.expected, 4);
    EXPECT_EQ(e.actual, 8);
    ASSERT_TRUE(failed != NULL);
    EXPECT_EQ(kvbm_mutable_block_id(failed), id0); /* the block travels with the error */
    EXPECT_EQ(kvbm_logical_asg_staged_count(a), 0);
    /* the failed guard has left the queue; the reference's "unassigned 2" counts it in
     * the error value, here the caller holds it */
    EXPECT_EQ(kvbm_logical_asg_unassigned_count(a), 1);
    EXPECT_FALSE(kvbm_logical_asg_contains(a, id0));
    EXPECT_OK(kvbm_mutable_release(failed));
    kvbm_block_seq_destroy(s8);
    TEARDOWN();
}

KVBM_TEST(stage_partial_then_mismatch)
{
    SETUP(2);
    kvbm_mutable *mb[2];
    ASSERT_TRUE(alloc(m, 2, mb));
    extend_mut(a, mb, 2);
    EXPECT_EQ(stage(a, s, 0, 2), 2);
    kvbm_mutable *more[1];
    ASSERT_TRUE(alloc(m, 1, more));
    extend_mut(a, more, 1);
    kvbm_block_seq *s8 = mkseq_bs(8, 8);
    kvbm_mutable *failed = NULL;
    EXPECT_STATUS(kvbm_logical_asg_stage(a, s8, 0, 1, NULL, &failed, NULL), KVBM_EINVAL);
    COUNTS(a, 0, 2, 0);
    EXPECT_TRUE(failed == more[0]);
    EXPECT_OK(kvbm_mutable_release(failed));
    kvbm_block_seq_destroy(s8);
    TEARDOWN();
}

KVBM_TEST(register_basic)
{
    SETUP(3);
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    uint32_t ids[3] = { kvbm_mutable_block_id(mb[0]), kvbm_mutable_block_id(mb[1]), kvbm_mutable_block_id(mb[2]) };
    extend_mut(a, mb, 3);
    stage(a, s, 0, 3);
    EXPECT_EQ(reg(a, m), 3);
    COUNTS(a, 3, 0, 0);
    for (size_t i = 0; i < 3; i++) {
        uint32_t id;
        kvbm_block *b;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(a, i, &id, &b));
        EXPECT_EQ(id, ids[i]);
        EXPECT_EQ(kvbm_block_id(b), ids[i]);
    }
    TEARDOWN();
}

KVBM_TEST(register_empty_staged)
{
    SETUP(1);
    EXPECT_EQ(reg(a, m), 0);
    TEARDOWN();
}

KVBM_TEST(full_pipeline_extend_stage_register)
{
    SETUP(5);
    kvbm_mutable *mb[5];
    ASSERT_TRUE(alloc(m, 5, mb));
    uint32_t ids[5];
    for (size_t i = 0; i < 5; i++) ids[i] = kvbm_mutable_block_id(mb[i]);
    extend_mut(a, mb, 5);
    EXPECT_EQ(stage(a, s, 0, 5), 5);
    EXPECT_EQ(reg(a, m), 5);
    for (size_t i = 0; i < 5; i++) {
        uint32_t id;
        kvbm_block *b;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(a, i, &id, &b));
        EXPECT_EQ(id, ids[i]);
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(b), seq_hash(s, i)));
    }
    TEARDOWN();
}

KVBM_TEST(full_pipeline_incremental)
{
    SETUP(3);
    kvbm_mutable *mb[6];
    ASSERT_TRUE(alloc(m, 6, mb));
    uint32_t ids[6];
    for (size_t i = 0; i < 6; i++) ids[i] = kvbm_mutable_block_id(mb[i]);
    extend_mut(a, mb, 6);
    EXPECT_EQ(stage(a, s, 0, 3), 3);
    EXPECT_EQ(reg(a, m), 3);
    EXPECT_EQ(stage(a, s, 0, 3), 3); /* the relative slice is reused; no position check */
    EXPECT_EQ(reg(a, m), 3);
    COUNTS(a, 6, 0, 0);
    uint32_t got[6];
    size_t n;
    ASSERT_OK(kvbm_logical_asg_all_block_ids(a, got, 6, &n));
    for (size_t i = 0; i < 6; i++) EXPECT_EQ(got[i], ids[i]);
    TEARDOWN();
}

KVBM_TEST(contains_across_collections)
{
    SETUP(4);
    kvbm_mutable *mb[6];
    ASSERT_TRUE(alloc(m, 6, mb));
    uint32_t ids[6];
    for (size_t i = 0; i < 6; i++) ids[i] = kvbm_mutable_block_id(mb[i]);
    extend_mut(a, mb, 2);
    stage(a, s, 0, 2);
    reg(a, m);
    extend_mut(a, mb + 2, 4);
    stage(a, s, 2, 4);
    COUNTS(a, 2, 2, 2);
    for (size_t i = 0; i < 6; i++) EXPECT_TRUE(kvbm_logical_asg_contains(a, ids[i]));
    EXPECT_FALSE(kvbm_logical_asg_contains(a, 999));
    TEARDOWN();
}

KVBM_TEST(clear)
{
    SETUP(3);
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    extend_mut(a, mb, 3);
    stage(a, s, 0, 3);
    reg(a, m);
    kvbm_logical_asg_clear(a);
    EXPECT_TRUE(kvbm_logical_asg_is_empty(a));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    TEARDOWN();
}

KVBM_TEST(take_assigned)
{
    SETUP(3);
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    uint32_t want[3] = { kvbm_mutable_block_id(mb[0]), kvbm_mutable_block_id(mb[1]), kvbm_mutable_block_id(mb[2]) };
    extend_mut(a, mb, 3);
    stage(a, s, 0, 3);
    reg(a, m);
    kvbm_block *b[3];
    uint32_t ids[3];
    size_t n = 0;
    EXPECT_STATUS(kvbm_logical_asg_take_assigned(a, ids, b, 2, &n), KVBM_ERANGE);
    EXPECT_EQ(n, 3);
    EXPECT_EQ(kvbm_logical_asg_assigned_count(a), 3);
    ASSERT_OK(kvbm_logical_asg_take_assigned(a, ids, b, 3, &n));
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ(ids[i], want[i]);
        EXPECT_EQ(kvbm_block_id(b[i]), want[i]);
    }
    EXPECT_EQ(kvbm_logical_asg_assigned_count(a), 0);
    tm_release_blocks(b, 3);
    TEARDOWN();
}

KVBM_TEST(take_staged)
{
    SETUP(3);
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    uint32_t want[3] = { kvbm_mutable_block_id(mb[0]), kvbm_mutable_block_id(mb[1]), kvbm_mutable_block_id(mb[2]) };
    extend_mut(a, mb, 3);
    stage(a, s, 0, 3);
    kvbm_complete *c[3];
    uint32_t ids[3];
    size_t n = 0;
    ASSERT_OK(kvbm_logical_asg_take_staged(a, ids, c, 3, &n));
    ASSERT_EQ(n, 3);
    for (size_t i = 0; i < 3; i++) EXPECT_EQ(ids[i], want[i]);
    EXPECT_EQ(kvbm_logical_asg_staged_count(a), 0);
    tm_release_completes(c, 3);
    TEARDOWN();
}

KVBM_TEST(take_unassigned)
{
    SETUP(3);
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    extend_mut(a, mb, 3);
    kvbm_mutable *out[3];
    uint32_t ids[3];
    size_t n = 0;
    ASSERT_OK(kvbm_logical_asg_take_unassigned(a, ids, out, 3, &n));
    ASSERT_EQ(n, 3);
    for (size_t i = 0; i < 3; i++) {
        EXPECT_TRUE(out[i] == mb[i]);
        EXPECT_EQ(ids[i], kvbm_mutable_block_id(mb[i]));
    }
    EXPECT_EQ(kvbm_logical_asg_unassigned_count(a), 0);
    tm_release_mutables(out, 3);
    TEARDOWN();
}

KVBM_TEST(extend_assigned_duplicate_already_in_assigned)
{
    SETUP(3);
    kvbm_block *b[3], *c[3];
    register_directly(m, s, 3, b);
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 3, NULL, NULL));
    for (size_t i = 0; i < 3; i++) ASSERT_OK(kvbm_block_clone(b[i], &c[i]));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_logical_asg_extend_assigned(a, c, 3, NULL, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_DUPLICATE_ASSIGNED_BLOCK_ID);
    EXPECT_EQ(e.block_id, kvbm_block_id(b[0]));
    EXPECT_EQ(kvbm_logical_asg_assigned_count(a), 3);
    tm_release_blocks(c, 3); /* all three handed back to the caller */
    TEARDOWN();
}

KVBM_TEST(extend_assigned_duplicate_within_input_batch)
{
    SETUP(1);
    kvbm_block *b[2];
    register_directly(m, s, 1, b);
    ASSERT_OK(kvbm_block_clone(b[0], &b[1]));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_logical_asg_extend_assigned(a, b, 2, NULL, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_DUPLICATE_ASSIGNED_BLOCK_ID);
    EXPECT_TRUE(kvbm_logical_asg_is_empty(a));
    EXPECT_FALSE(kvbm_logical_asg_contains(a, kvbm_block_id(b[0])));
    tm_release_blocks(b, 2);
    TEARDOWN();
}

KVBM_TEST(extend_assigned_disjoint_from_staged)
{
    SETUP(6);
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    extend_mut(a, mb, 3);
    stage(a, s, 0, 3);
    kvbm_block *b[3];
    register_directly(m, s, 3, b); /* other slots, Allow duplicates */
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 3, NULL, NULL));
    COUNTS(a, 3, 3, 0);
    TEARDOWN();
}

KVBM_TEST(extend_assigned_disjoint_from_unassigned)
{
    SETUP(3);
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    extend_mut(a, mb, 3);
    kvbm_block *b[3];
    register_directly(m, s, 3, b);
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 3, NULL, NULL));
    COUNTS(a, 3, 0, 3);
    TEARDOWN();
}

KVBM_TEST(extend_blocks_id_already_in_assigned)
{
    /* With one manager a mutable block can never carry the id of a block this tracker
     * holds registered (the slot is held); the reference test only asserts the count. */
    SETUP(3);
    kvbm_block *b[3];
    register_directly(m, s, 3, b);
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 3, NULL, NULL));
    EXPECT_EQ(kvbm_logical_asg_assigned_count(a), 3);
    /* the check itself: a second manager hands out the same ids */
    kvbm_manager *m2 = create_test_manager(10);
    ASSERT_TRUE(m2 != NULL);
    kvbm_mutable *mb[10];
    ASSERT_TRUE(alloc(m2, 10, mb));
    size_t k = 0;
    while (kvbm_mutable_block_id(mb[k]) != kvbm_block_id(b[0])) k++;
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_logical_asg_extend_blocks(a, &mb[k], 1, NULL, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_DUPLICATE_BLOCK_ID);
    EXPECT_EQ(kvbm_logical_asg_unassigned_count(a), 0);
    tm_release_mutables(mb, 10);
    tm_manager_destroy(m2);
    TEARDOWN();
}

KVBM_TEST(stage_empty_unassigned)
{
    SETUP(3);
    EXPECT_EQ(stage(a, s, 0, 3), 0);
    COUNTS(a, 0, 0, 0);
    TEARDOWN();
}

KVBM_TEST(stage_empty_sequence_blocks)
{
    SETUP(0);
    kvbm_mutable *mb[2];
    ASSERT_TRUE(alloc(m, 2, mb));
    extend_mut(a, mb, 2);
    EXPECT_EQ(stage(a, s, 0, 0), 0);
    COUNTS(a, 0, 0, 2);
    TEARDOWN();
}

KVBM_TEST(stage_both_empty)
{
    SETUP(0);
    EXPECT_EQ(stage(a, s, 0, 0), 0);
    EXPECT_TRUE(kvbm_logical_asg_is_empty(a));
    TEARDOWN();
}

KVBM_TEST(get_assigned_out_of_bounds)
{
    kvbm_logical_asg *a = mkla();
    EXPECT_FALSE(kvbm_logical_asg_get_assigned(a, 0, NULL, NULL));
    EXPECT_FALSE(kvbm_logical_asg_get_assigned(a, 100, NULL, NULL));
    kvbm_logical_asg_destroy(a);
}

KVBM_TEST(get_staged_out_of_bounds)
{
    kvbm_logical_asg *a = mkla();
    EXPECT_FALSE(kvbm_logical_asg_get_staged(a, 0, NULL, NULL));
    EXPECT_FALSE(kvbm_logical_asg_get_staged(a, 100, NULL, NULL));
    kvbm_logical_asg_destroy(a);
}

KVBM_TEST(get_unassigned_out_of_bounds)
{
    kvbm_logical_asg *a = mkla();
    EXPECT_FALSE(kvbm_logical_asg_get_unassigned(a, 0, NULL, NULL));
    EXPECT_FALSE(kvbm_logical_asg_get_unassigned(a, 100, NULL, NULL));
    kvbm_logical_asg_destroy(a);
}

KVBM_TEST(get_out_of_bounds_with_populated_collections)
{
    SETUP(2);
    kvbm_block *b[2];
    register_directly(m, s, 2, b);
    ASSERT_OK(kvbm_logical_asg_extend_assigned(a, b, 2, NULL, NULL));
    EXPECT_TRUE(kvbm_logical_asg_get_assigned(a, 1, NULL, NULL));
    EXPECT_FALSE(kvbm_logical_asg_get_assigned(a, 2, NULL, NULL));
    EXPECT_FALSE(kvbm_logical_asg_get_staged(a, 0, NULL, NULL));
    EXPECT_FALSE(kvbm_logical_asg_get_unassigned(a, 0, NULL, NULL));
    TEARDOWN();
}

KVBM_TEST(debug_impl)
{
    kvbm_logical_asg *a = mkla();
    char buf[200];
    kvbm_logical_asg_describe(a, buf, sizeof buf);
    EXPECT_TRUE(strstr(buf, "LogicalBlockAssignments") != NULL);
    EXPECT_TRUE(strstr(buf, "unassigned_count: 0") != NULL);
    kvbm_logical_asg_destroy(a);
}

/* ---- doctest, extras --------------------------------------------------------------- */

KVBM_TEST(doctest_logical_full_pipeline)
{
    tm_opts o = TM_OPTS_INIT(10);
    o.tracker_kind = TM_TRACKER_SMALL;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_logical_asg *a = mkla();
    kvbm_mutable *mb[3];
    ASSERT_TRUE(alloc(m, 3, mb));
    uint32_t ids[3] = { kvbm_mutable_block_id(mb[0]), kvbm_mutable_block_id(mb[1]), kvbm_mutable_block_id(mb[2]) };
    extend_mut(a, mb, 3);
    EXPECT_EQ(kvbm_logical_asg_unassigned_count(a), 3);
    EXPECT_EQ(stage(a, s, 0, 3), 3);
    EXPECT_EQ(kvbm_logical_asg_staged_count(a), 3);
    EXPECT_EQ(reg(a, m), 3);
    EXPECT_EQ(kvbm_logical_asg_assigned_count(a), 3);
    for (size_t i = 0; i < 3; i++) {
        uint32_t id;
        kvbm_block *b;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(a, i, &id, &b));
        EXPECT_EQ(id, ids[i]);
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(b), seq_hash(s, i)));
    }
    TEARDOWN();
}

KVBM_TEST(decision7_reject_policy_keys_by_returned_block)
{
    kvbm_manager *m = create_test_manager_with_policy(10, KVBM_DUP_REJECT);
    ASSERT_TRUE(m != NULL);
    kvbm_block_seq *s = mkseq(1, 0);
    kvbm_logical_asg *a = mkla();
    kvbm_block *primary[1];
    register_directly(m, s, 1, primary); /* the hash is registered elsewhere */
    kvbm_mutable *mb[1];
    ASSERT_TRUE(alloc(m, 1, mb));
    uint32_t staged_id = kvbm_mutable_block_id(mb[0]);
    ASSERT_NE(staged_id, kvbm_block_id(primary[0]));
    extend_mut(a, mb, 1);
    EXPECT_EQ(stage(a, s, 0, 1), 1);
    EXPECT_EQ(reg(a, m), 1);
    uint32_t id;
    kvbm_block *b;
    ASSERT_TRUE(kvbm_logical_asg_get_assigned(a, 0, &id, &b));
    EXPECT_EQ(id, kvbm_block_id(primary[0])); /* keyed by the block actually returned */
    EXPECT_EQ(kvbm_block_id(b), id);
    EXPECT_TRUE(kvbm_logical_asg_contains(a, id));
    EXPECT_FALSE(kvbm_logical_asg_contains(a, staged_id)); /* that slot went back to reset */
    uint32_t all[1];
    size_t n;
    ASSERT_OK(kvbm_logical_asg_all_block_ids(a, all, 1, &n));
    EXPECT_EQ(all[0], kvbm_block_id(primary[0]));
    tm_release_blocks(primary, 1);
    TEARDOWN();
}

KVBM_TEST(extend_blocks_null_and_alloc_failure_change_nothing)
{
    SETUP(1);
    kvbm_mutable *mb[2] = { NULL, NULL };
    EXPECT_STATUS(kvbm_logical_asg_extend_blocks(a, mb, 2, NULL, NULL), KVBM_EINVAL);
    ASSERT_TRUE(alloc(m, 2, mb));
    kvbm__alloc_fail_set(1);
    kvbm_status st = kvbm_logical_asg_extend_blocks(a, mb, 2, NULL, NULL);
    kvbm__alloc_fail_set(0);
    EXPECT_STATUS(st, KVBM_ENOMEM);
    EXPECT_TRUE(kvbm_logical_asg_is_empty(a));
    extend_mut(a, mb, 2);
    COUNTS(a, 0, 0, 2);
    kvbm_mutable *p;
    uint32_t id;
    ASSERT_OK(kvbm_logical_asg_pop_last_unassigned(a, &id, &p));
    EXPECT_TRUE(p == mb[1]);
    EXPECT_OK(kvbm_mutable_release(p));
    TEARDOWN();
}
