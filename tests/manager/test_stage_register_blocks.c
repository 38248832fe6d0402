/* tests/manager/test_stage_register_blocks.c - kvbm_manager_stage_register_blocks (manager.h):
 * the one-call "these blocks are full" step equals kvbm_mutable_stage_many followed by
 * kvbm_manager_register_blocks (same blocks, hashes, counters), refuses bad input with
 * nothing consumed, and follows the duplicate policy. */
#include "harness.h"
#include "support/manager_helpers.h"

#define N 6

static void alloc_n(kvbm_manager *m, size_t n, kvbm_mutable **out)
{
    for (size_t i = 0; i < n; i++) out[i] = NULL;
    EXPECT_OK(kvbm_manager_allocate(m, n, out, NULL, NULL));
}

/* The same batch through the one call and through the two calls: equal ids, hashes and
 * every counter. */
KVBM_TEST(stage_register_blocks_equals_stage_many_then_register)
{
    kvbm_manager *a = create_test_manager(16), *b = create_test_manager(16);
    ASSERT_TRUE(a != NULL && b != NULL);
    kvbm_plh hs[N];
    for (size_t i = 0; i < N; i++) hs[i] = tm_hash_for_id((uint32_t)(100 + i));
    hs[4] = hs[1]; /* a duplicate inside the batch (Allow: a Duplicate block) */
    kvbm_mutable *ma[N], *mb[N];
    alloc_n(a, N, ma);
    alloc_n(b, N, mb);
    kvbm_block *oa[N] = { 0 }, *ob[N] = { 0 };
    size_t done = 99;
    ASSERT_OK(CK(kvbm_manager_stage_register_blocks(a, ma, hs, N, kvbm_manager_block_size(a), oa,
                                                    &done)));
    EXPECT_EQ(done, N);
    kvbm_complete *cb[N];
    ASSERT_OK(CK(kvbm_mutable_stage_many(mb, hs, N, kvbm_manager_block_size(b), cb)));
    ASSERT_OK(CK(kvbm_manager_register_blocks(b, cb, N, ob)));
    for (size_t i = 0; i < N; i++) {
        EXPECT_EQ(kvbm_block_id(oa[i]), kvbm_block_id(ob[i]));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(oa[i]), hs[i]));
        EXPECT_EQ(kvbm_block_is_duplicate(oa[i]), kvbm_block_is_duplicate(ob[i]));
    }
    EXPECT_TRUE(kvbm_block_is_duplicate(oa[4]));
    for (int id = 0; id < (int)KVBM_METRIC_COUNT; id++)
        EXPECT_EQ(tm_metric(a, (kvbm_metric_id)id), tm_metric(b, (kvbm_metric_id)id));
    EXPECT_EQ(MET(a, registrations), N);
    /* the registered blocks are found by a match */
    kvbm_block *found[N] = { 0 };
    size_t nf = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(a, hs, 4, found, &nf)));
    EXPECT_EQ(nf, 4);
    tm_release_blocks(found, nf);
    tm_release_blocks(oa, N);
    tm_release_blocks(ob, N);
    tm_manager_destroy(a);
    tm_manager_destroy(b);
}

/* Bad input: the right status and message, nothing consumed - the same mutable blocks
 * stage and register afterwards. */
KVBM_TEST(stage_register_blocks_refuses_bad_input_and_consumes_nothing)
{
    kvbm_manager *m = create_test_manager(16), *other = create_test_manager(4);
    ASSERT_TRUE(m != NULL && other != NULL);
    uint32_t bs = kvbm_manager_block_size(m);
    kvbm_plh hs[3] = { tm_hash_for_id(1), tm_hash_for_id(2), tm_hash_for_id(3) };
    kvbm_mutable *in[3], *foreign[1];
    alloc_n(m, 3, in);
    alloc_n(other, 1, foreign);
    kvbm_block *out[3] = { 0 };
    size_t done = 7;

    EXPECT_STATUS(kvbm_manager_stage_register_blocks(NULL, in, hs, 3, bs, out, &done), KVBM_EINVAL);
    EXPECT_EQ(done, 0);
    EXPECT_STATUS(kvbm_manager_stage_register_blocks(m, in, NULL, 3, bs, out, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_manager_stage_register_blocks(m, NULL, hs, 3, bs, out, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_manager_stage_register_blocks(m, in, hs, 3, bs, NULL, NULL), KVBM_EINVAL);

    kvbm_mutable *twice[3] = { in[0], in[1], in[0] };
    done = 7;
    EXPECT_STATUS(CK(kvbm_manager_stage_register_blocks(m, twice, hs, 3, bs, out, &done)), KVBM_EINVAL);
    EXPECT_EQ(done, 0);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "input 2: the same block is passed twice");

    kvbm_mutable *mixed[2] = { in[0], foreign[0] };
    EXPECT_STATUS(CK(kvbm_manager_stage_register_blocks(m, mixed, hs, 2, bs, out, NULL)), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "input 1: block belongs to another manager");

    kvbm_mutable *withnull[2] = { in[0], NULL };
    EXPECT_STATUS(CK(kvbm_manager_stage_register_blocks(m, withnull, hs, 2, bs, out, NULL)), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "kvbm_manager_stage_register_blocks: input 1");

    EXPECT_STATUS(CK(kvbm_manager_stage_register_blocks(m, in, hs, 3, bs + 1, out, NULL)), KVBM_ESIZE);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Block size mismatch");

    EXPECT_OK(kvbm_manager_stage_register_blocks(m, in, hs, 0, bs, out, NULL)); /* n = 0 */
    EXPECT_EQ(MET(m, registrations), 0);
    EXPECT_EQ(MET(m, stagings), 0);
    EXPECT_TRUE(out[0] == NULL);

    /* every input is still a usable mutable block */
    ASSERT_OK(CK(kvbm_manager_stage_register_blocks(m, in, hs, 3, bs, out, &done)));
    EXPECT_EQ(done, 3);
    EXPECT_EQ(MET(m, registrations), 3);
    tm_release_blocks(out, 3);
    EXPECT_OK(kvbm_mutable_release(foreign[0]));
    tm_manager_destroy(m);
    tm_manager_destroy(other);
}

/* Reject: a batch member whose hash has a live primary gets that primary; its mutable slot
 * returns to the reset pool. */
KVBM_TEST(stage_register_blocks_reject_returns_existing_primary)
{
    kvbm_manager *m = create_test_manager_with_policy(8, KVBM_DUP_REJECT);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(42), h2 = tm_hash_for_id(43);
    kvbm_block *p = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL);
    kvbm_mutable *in[2];
    alloc_n(m, 2, in);
    int64_t reset_before = MET(m, reset_pool_size);
    kvbm_plh hs[2] = { h, h2 };
    kvbm_block *out[2] = { 0 };
    ASSERT_OK(CK(kvbm_manager_stage_register_blocks(m, in, hs, 2, kvbm_manager_block_size(m), out,
                                                    NULL)));
    EXPECT_EQ(kvbm_block_id(out[0]), kvbm_block_id(p));
    EXPECT_FALSE(kvbm_block_is_duplicate(out[0]));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(out[1]), h2));
    EXPECT_EQ(MET(m, duplicate_blocks), 0);
    EXPECT_EQ(MET(m, registration_dedup), 1);
    EXPECT_EQ(MET(m, reset_pool_size), reset_before + 1); /* in[0]'s slot */
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    tm_release_blocks(out, 2);
    tm_release_blocks(&p, 1);
    tm_manager_destroy(m);
}
