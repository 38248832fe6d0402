/* tests/integrations/test_request.c - RequestSequence (spec 30 §5.5, request.rs; manager
 * with 20 blocks, bs 4, LRU unless noted) and its bad-input statuses (§6.4). */
#include <stdlib.h>

#include "support/seq_helpers.h"
#include "sequence/seq_int.h"

static kvbm_request_seq *mkreq(size_t n, size_t max_output)
{
    kvbm_token *t = iota_tokens(0, n);
    kvbm_request_seq *r = NULL;
    if (kvbm_request_seq_create(t, n, max_output, 4, NULL, &r) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "create: %s", kvbm_last_error());
    free(t);
    return r;
}

/* build_prefilled: new -> match -> allocate (nb - matched) + (max > 0) -> register */
static kvbm_request_seq *build_prefilled(size_t n, size_t max_output, kvbm_manager *m)
{
    kvbm_request_seq *r = mkreq(n, max_output);
    size_t matched = 0;
    if (kvbm_request_seq_match_and_add_prefix(r, m, &matched, NULL) != KVBM_OK) goto fail;
    size_t need = kvbm_request_seq_num_blocks(r) - matched + (max_output > 0);
    if (kvbm_request_seq_allocate_blocks(r, need, m, NULL) != KVBM_OK) goto fail;
    if (kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL) != KVBM_OK) goto fail;
    return r;
fail:
    kvbm_request_seq_destroy(r);
    return NULL;
}

#define BLOCKS(r, asg, stg, una) do { EXPECT_EQ(kvbm_request_seq_assigned_blocks(r), (asg)); \
        EXPECT_EQ(kvbm_request_seq_staged_blocks(r), (stg));                                 \
        EXPECT_EQ(kvbm_request_seq_unassigned_blocks(r), (una)); } while (0)

static void append(kvbm_request_seq *r, kvbm_token t, bool *crossed)
{
    if (kvbm_request_seq_append_token(r, t, crossed, NULL, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "append_token: %s", kvbm_last_error());
}

KVBM_TEST(new_minimal_constructor)
{
    kvbm_request_seq *r = mkreq(8, 10);
    EXPECT_EQ(kvbm_request_seq_num_input_tokens(r), 8);
    EXPECT_EQ(kvbm_request_seq_total_tokens(r), 8);
    EXPECT_EQ(kvbm_request_seq_num_blocks(r), 2);
    EXPECT_EQ(kvbm_request_seq_generated_tokens(r), 0);
    EXPECT_EQ(kvbm_request_seq_max_output_tokens(r), 10);
    EXPECT_EQ(kvbm_request_seq_salt(r), 0);
    BLOCKS(r, 0, 0, 0);
    kvbm_request_seq_destroy(r);
}

KVBM_TEST(build_prefilled_basic)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    BLOCKS(r, 2, 0, 1);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(build_prefilled_partial_tokens)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(6, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_EQ(kvbm_request_seq_num_blocks(r), 1);
    BLOCKS(r, 1, 0, 1);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(build_prefilled_empty_tokens)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(0, 10, m);
    ASSERT_TRUE(r != NULL);
    BLOCKS(r, 0, 0, 1);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(build_prefilled_zero_max)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 0, m);
    ASSERT_TRUE(r != NULL);
    BLOCKS(r, 2, 0, 0);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(build_prefilled_allocation_failure)
{
    kvbm_manager *m = create_test_manager(2);
    kvbm_request_seq *r = build_prefilled(12, 10, m);
    EXPECT_TRUE(r == NULL);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 2);
    tm_manager_destroy(m);
}

KVBM_TEST(prefix_cache_hit)
{
    kvbm_manager *m = create_test_manager(20);
    cache_prefix(m, 8);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_EQ(kvbm_request_seq_prefix_matched_blocks(r), 2);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(partial_prefix_cache_hit)
{
    kvbm_manager *m = create_test_manager(20);
    cache_prefix(m, 4);
    kvbm_request_seq *r = build_prefilled(12, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_EQ(kvbm_request_seq_prefix_matched_blocks(r), 1);
    BLOCKS(r, 3, 0, 1);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(add_matched_blocks_panics_when_matched_exceeds_completed)
{
    kvbm_manager *m = create_test_manager(20);
    cache_prefix(m, 8);
    kvbm_request_seq *big = mkreq(8, 10), *r = mkreq(4, 10);
    kvbm_token *t = iota_tokens(0, 8);
    kvbm_plh h[2];
    tm_chain_hashes(t, 8, 4, 0, h);
    free(t);
    kvbm_block *b[2];
    size_t got = 0;
    ASSERT_OK(kvbm_manager_match_blocks(m, h, 2, b, &got));
    ASSERT_EQ(got, 2);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm__request_seq_add_matched_blocks(r, b, 2, NULL, &e), KVBM_ERANGE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PRECONDITION);
    EXPECT_TRUE(strstr(kvbm_last_error(), "matched blocks exceed completed sequence blocks") != NULL);
    BLOCKS(r, 0, 0, 0);
    EXPECT_EQ(kvbm_request_seq_prefix_matched_blocks(r), 0);
    tm_release_blocks(b, 2);
    kvbm_request_seq_destroy(big);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(add_matched_blocks_returns_error_on_hash_mismatch)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = mkreq(4, 10);
    kvbm_block *b = register_one(m, 100); /* tokens 100..103 at position 0 */
    ASSERT_TRUE(b != NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm__request_seq_add_matched_blocks(r, &b, 1, NULL, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_SEQUENCE_HASH_MISMATCH);
    EXPECT_EQ(e.position, 0);
    EXPECT_TRUE(kvbm_plh_eq(e.actual_hash, kvbm_block_seq_hash(b)));
    EXPECT_TRUE(strstr(kvbm_last_error(), "sequence hash mismatch at position 0") != NULL);
    BLOCKS(r, 0, 0, 0); /* the block is handed back (still ours) */
    tm_release_blocks(&b, 1);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(new_tokens_for_prefill)
{
    kvbm_manager *m = create_test_manager(20);
    cache_prefix(m, 4);
    kvbm_request_seq *r = mkreq(12, 10);
    size_t c = 0;
    ASSERT_OK(kvbm_request_seq_match_and_add_prefix(r, m, &c, NULL));
    EXPECT_EQ(c, 1);
    EXPECT_EQ(kvbm_request_seq_new_tokens_for_prefill(r), 8);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(append_token_no_boundary)
{
    kvbm_request_seq *r = mkreq(5, 10);
    bool crossed = true;
    append(r, 5, &crossed);
    EXPECT_FALSE(crossed);
    EXPECT_EQ(kvbm_request_seq_generated_tokens(r), 1);
    EXPECT_EQ(kvbm_request_seq_total_tokens(r), 6);
    kvbm_request_seq_destroy(r);
}

KVBM_TEST(append_token_crosses_boundary)
{
    kvbm_request_seq *r = mkreq(7, 10);
    bool crossed = false;
    size_t idx = 9;
    ASSERT_OK(kvbm_request_seq_append_token(r, 7, &crossed, &idx, NULL));
    EXPECT_TRUE(crossed);
    EXPECT_EQ(idx, 1);
    EXPECT_EQ(kvbm_request_seq_num_blocks(r), 2);
    kvbm_request_seq_destroy(r);
}

KVBM_TEST(append_token_panics_after_max)
{
    kvbm_request_seq *r = mkreq(4, 1);
    append(r, 4, NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_request_seq_append_token(r, 5, NULL, NULL, &e), KVBM_ERANGE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PRECONDITION);
    EXPECT_TRUE(strstr(kvbm_last_error(), "Cannot generate more tokens") != NULL);
    EXPECT_EQ(kvbm_request_seq_generated_tokens(r), 1);
    EXPECT_EQ(kvbm_request_seq_total_tokens(r), 5);
    kvbm_request_seq_destroy(r);
}

KVBM_TEST(is_complete_transitions)
{
    kvbm_request_seq *r = mkreq(4, 3);
    for (int i = 0; i < 3; i++) {
        EXPECT_FALSE(kvbm_request_seq_is_complete(r));
        EXPECT_EQ(kvbm_request_seq_remaining_tokens(r), (size_t)(3 - i));
        append(r, (kvbm_token)(10 + i), NULL);
    }
    EXPECT_TRUE(kvbm_request_seq_is_complete(r));
    EXPECT_EQ(kvbm_request_seq_remaining_tokens(r), 0);
    kvbm_request_seq_destroy(r);
}

KVBM_TEST(is_complete_zero_max)
{
    kvbm_request_seq *r = mkreq(4, 0);
    EXPECT_TRUE(kvbm_request_seq_is_complete(r));
    kvbm_request_seq_destroy(r);
}

KVBM_TEST(modular_decode_loop)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(4, 8, m);
    ASSERT_TRUE(r != NULL);
    BLOCKS(r, 1, 0, 1);
    for (int i = 0; i < 4; i++) {
        bool crossed = false;
        append(r, (kvbm_token)(100 + i), &crossed);
        EXPECT_EQ(crossed, i == 3);
    }
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL));
    BLOCKS(r, 2, 0, 0);
    ASSERT_OK(kvbm_request_seq_allocate_blocks(r, 1, m, NULL));
    for (int i = 0; i < 4; i++) append(r, (kvbm_token)(200 + i), NULL);
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL));
    EXPECT_TRUE(kvbm_request_seq_is_complete(r));
    BLOCKS(r, 3, 0, 0);
    EXPECT_OK(kvbm_request_seq_release(r));
    BLOCKS(r, 0, 0, 0);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(modular_prefill_with_cache)
{
    kvbm_manager *m = create_test_manager(20);
    cache_prefix(m, 4);
    kvbm_request_seq *r = mkreq(8, 10);
    size_t c = 0;
    ASSERT_OK(kvbm_request_seq_match_and_add_prefix(r, m, &c, NULL));
    EXPECT_EQ(c, 1);
    ASSERT_OK(kvbm_request_seq_allocate_blocks(r, kvbm_request_seq_num_blocks(r) - c + 1, m, NULL));
    size_t staged = 0, reg = 0;
    ASSERT_OK(kvbm_request_seq_stage_pending(r, &staged, NULL));
    EXPECT_EQ(staged, 1);
    BLOCKS(r, 1, 1, 1);
    ASSERT_OK(kvbm_request_seq_register_staged(r, m, &reg, NULL));
    EXPECT_EQ(reg, 1);
    BLOCKS(r, 2, 0, 1);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(allocate_blocks_failure)
{
    kvbm_manager *m = create_test_manager(2);
    kvbm_request_seq *r = mkreq(8, 10);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_request_seq_allocate_blocks(r, 3, m, &e), KVBM_EEXHAUSTED);
    EXPECT_EQ(e.kind, KVBM_SEQERR_ALLOCATION_FAILED);
    EXPECT_EQ(e.needed, 3);
    BLOCKS(r, 0, 0, 0);
    ASSERT_OK(kvbm_request_seq_allocate_blocks(r, 2, m, NULL));
    BLOCKS(r, 0, 0, 2);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(allocate_blocks_zero)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = mkreq(8, 10);
    ASSERT_OK(kvbm_request_seq_allocate_blocks(r, 0, m, NULL));
    BLOCKS(r, 0, 0, 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(detach_registered_blocks_preserves_identity_and_decode_offsets)
{
    kvbm_manager *m = create_test_manager(8);
    kvbm_request_seq *r = mkreq(4, 4);
    ASSERT_OK(kvbm_request_seq_allocate_blocks(r, 2, m, NULL));
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL));
    uint32_t before[8], after[8];
    size_t nb = 0, na = 0, n = 0;
    ASSERT_OK(kvbm_request_seq_page_indices(r, before, 8, &nb));
    kvbm_block *out[4];
    EXPECT_STATUS(kvbm_request_seq_detach_registered_blocks(r, out, 0, &n), KVBM_ERANGE);
    EXPECT_EQ(n, 1);
    ASSERT_OK(kvbm_request_seq_detach_registered_blocks(r, out, 4, &n));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_request_seq_assigned_blocks(r), 1);
    EXPECT_EQ(kvbm_logical_asg_assigned_count(kvbm_request_seq_assignments(r)), 0);
    ASSERT_OK(kvbm_request_seq_page_indices(r, after, 8, &na));
    ASSERT_EQ(na, nb);
    for (size_t i = 0; i < na; i++) EXPECT_EQ(after[i], before[i]);
    for (int i = 0; i < 4; i++) append(r, (kvbm_token)(100 + i), NULL);
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL));
    ASSERT_OK(kvbm_request_seq_page_indices(r, before, 8, &nb));
    ASSERT_OK(kvbm_request_seq_detach_registered_blocks(r, out + 1, 3, &n));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_request_seq_assigned_blocks(r), 2);
    EXPECT_EQ(kvbm_request_seq_detached_blocks(r), 2);
    ASSERT_OK(kvbm_request_seq_page_indices(r, after, 8, &na));
    ASSERT_EQ(na, nb);
    for (size_t i = 0; i < na; i++) EXPECT_EQ(after[i], before[i]);
    EXPECT_EQ(kvbm_block_id(out[0]), after[0]);
    EXPECT_EQ(kvbm_block_id(out[1]), after[1]);
    tm_release_blocks(out, 2);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(release)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_OK(kvbm_request_seq_release(r));
    BLOCKS(r, 0, 0, 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    EXPECT_EQ(kvbm_request_seq_total_tokens(r), 8); /* tokens stay */
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(release_idempotent)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_OK(kvbm_request_seq_release(r));
    EXPECT_OK(kvbm_request_seq_release(r));
    BLOCKS(r, 0, 0, 0);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(release_returns_blocks_to_pools)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 17);
    EXPECT_OK(kvbm_request_seq_release(r));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(reacquire_basic)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    append(r, 100, NULL);
    append(r, 101, NULL);
    EXPECT_OK(kvbm_request_seq_release(r));
    bool ok = false;
    ASSERT_OK(kvbm_request_seq_reacquire(r, m, &ok, NULL));
    EXPECT_TRUE(ok);
    BLOCKS(r, 2, 0, 0);
    EXPECT_EQ(kvbm_request_seq_generated_tokens(r), 2);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(reacquire_with_cache_hits)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_OK(kvbm_request_seq_release(r));
    bool ok = false;
    ASSERT_OK(kvbm_request_seq_reacquire(r, m, &ok, NULL));
    EXPECT_TRUE(ok);
    EXPECT_EQ(kvbm_request_seq_prefix_matched_blocks(r), 2);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(reacquire_cleans_up_on_failure)
{
    kvbm_manager *m = create_test_manager(4);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_OK(kvbm_request_seq_release(r));
    kvbm_mutable *mb[4];
    ASSERT_OK(kvbm_manager_allocate(m, 4, mb, NULL, NULL)); /* evicts the cached blocks */
    bool ok = true;
    ASSERT_OK(kvbm_request_seq_reacquire(r, m, &ok, NULL));
    EXPECT_FALSE(ok);
    BLOCKS(r, 0, 0, 0);
    tm_release_mutables(mb, 4);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(blocks_returned_on_drop)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 17);
    kvbm_request_seq_destroy(r);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    tm_manager_destroy(m);
}

KVBM_TEST(debug_impl)
{
    kvbm_request_seq *r = mkreq(8, 10);
    char buf[400];
    kvbm_request_seq_describe(r, buf, sizeof buf);
    EXPECT_TRUE(strstr(buf, "RequestSequence") != NULL);
    EXPECT_TRUE(strstr(buf, "total_tokens: 8") != NULL);
    kvbm_request_seq_destroy(r);
}

/* ---- bad input (§6.4) and extensions ---------------------------------------------- */

KVBM_TEST(create_rejects_bad_block_size)
{
    kvbm_request_seq *r = NULL;
    kvbm_token t[4] = { 0, 1, 2, 3 };
    EXPECT_STATUS(kvbm_request_seq_create(t, 4, 10, 0, NULL, &r), KVBM_EINVAL);
    EXPECT_TRUE(r == NULL);
    EXPECT_STATUS(kvbm_request_seq_create(t, 4, 10, 6, NULL, &r), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_request_seq_create(t, 4, 10, 4, NULL, NULL), KVBM_EINVAL);
}

KVBM_TEST(match_or_reacquire_while_holding_is_refused)
{
    kvbm_manager *m = create_test_manager(20);
    kvbm_request_seq *r = build_prefilled(8, 10, m);
    ASSERT_TRUE(r != NULL);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_request_seq_match_and_add_prefix(r, m, NULL, &e), KVBM_ESTATE);
    EXPECT_EQ(e.kind, KVBM_SEQERR_PRECONDITION);
    EXPECT_TRUE(strstr(kvbm_last_error(), "existing assignments") != NULL);
    bool ok = true;
    EXPECT_STATUS(kvbm_request_seq_reacquire(r, m, &ok, &e), KVBM_ESTATE);
    EXPECT_TRUE(strstr(kvbm_last_error(), "reacquire called with existing assignments") != NULL);
    EXPECT_FALSE(ok);
    BLOCKS(r, 2, 0, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 17);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(block_size_mismatch_with_manager_is_refused)
{
    kvbm_manager *m = create_test_manager_with_block_size(20, 8);
    kvbm_request_seq *r = mkreq(8, 10);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_request_seq_allocate_blocks(r, 2, m, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_BLOCK_SIZE_MISMATCH);
    EXPECT_EQ(e.expected, 8);
    EXPECT_EQ(e.actual, 4);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "Block size mismatch: expected 8 tokens, got 4") == 0);
    EXPECT_STATUS(kvbm_request_seq_match_and_add_prefix(r, m, NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL), KVBM_EINVAL);
    BLOCKS(r, 0, 0, 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    kvbm_request_seq_destroy(r);
    tm_manager_destroy(m);
}

KVBM_TEST(salt_changes_hashes_and_default_matches_reference)
{
    kvbm_manager *m = create_test_manager(20);
    cache_prefix(m, 8); /* salt 0, like the reference */
    kvbm_token *t = iota_tokens(0, 8);
    uint64_t salt = 7, zero = 0;
    kvbm_request_seq *a = NULL, *b = NULL;
    ASSERT_OK(kvbm_request_seq_create(t, 8, 4, 4, &salt, &a));
    ASSERT_OK(kvbm_request_seq_create(t, 8, 4, 4, &zero, &b));
    free(t);
    EXPECT_EQ(kvbm_request_seq_salt(a), 7);
    size_t ca = 9, cb = 9;
    ASSERT_OK(kvbm_request_seq_match_and_add_prefix(a, m, &ca, NULL));
    ASSERT_OK(kvbm_request_seq_match_and_add_prefix(b, m, &cb, NULL));
    EXPECT_EQ(ca, 0); /* another tenant shares nothing */
    EXPECT_EQ(cb, 2); /* salt 0 hashes are the reference's */
    kvbm_request_seq_destroy(a);
    kvbm_request_seq_destroy(b);
    tm_manager_destroy(m);
}
