/* tests/sequence/test_external.c - ExternalBlockAssignments, BlockSequence and zip
 * (spec 30 §5.3, assignments/tests.rs; same test names without the test_ prefix). */
#include <stdlib.h>

#include "support/seq_helpers.h"

static void append_tokens(kvbm_block_seq *s, uint32_t start, size_t n)
{
    kvbm_token *t = iota_tokens(start, n);
    if (kvbm_block_seq_extend_tokens(s, t, n, NULL, NULL, NULL, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "extend_tokens");
    free(t);
}

static bool queued_are(const kvbm_ext_asg *a, const uint64_t *ids, size_t n)
{
    if (kvbm_ext_asg_unassigned_count(a) != n) return false;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        if (!kvbm_ext_asg_get_unassigned(a, i, &id) || id != ids[i]) return false;
    }
    return true;
}
#define COUNTS(a, x, y, z) do { EXPECT_EQ(kvbm_ext_asg_assigned_count(a), (x)); \
        EXPECT_EQ(kvbm_ext_asg_staged_count(a), (y)); EXPECT_EQ(kvbm_ext_asg_unassigned_count(a), (z)); } while (0)

/* One aligned/partial case: complete blocks, partial tokens, n ids (100, 200, ...). */
static void basic_case(size_t complete, size_t partial, size_t nids, size_t exp_end)
{
    kvbm_block_seq *s = mkseq(complete, partial);
    kvbm_ext_asg *a = mkasg(0);
    uint64_t ids[16];
    for (size_t i = 0; i < nids; i++) ids[i] = (i + 1) * 100;
    ext(a, ids, nids);
    kvbm_range r = assign_all(a, s);
    RANGE_IS(r, 0, exp_end);
    EXPECT_EQ(kvbm_ext_asg_assigned_count(a), exp_end);
    for (size_t i = 0; i < exp_end; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
    EXPECT_TRUE(queued_are(a, ids + exp_end, nids - exp_end));
    EXPECT_EQ(kvbm_ext_asg_staged_count(a), 0);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(aligned_0_blocks_0_block_ids) { basic_case(0, 0, 0, 0); }
KVBM_TEST(aligned_1_block_0_block_ids) { basic_case(1, 0, 0, 0); }
KVBM_TEST(aligned_1_block_1_block_id) { basic_case(1, 0, 1, 1); }
KVBM_TEST(aligned_1_block_2_block_ids) { basic_case(1, 0, 2, 1); }
KVBM_TEST(aligned_3_blocks_3_block_ids) { basic_case(3, 0, 3, 3); }
KVBM_TEST(aligned_3_blocks_1_block_id) { basic_case(3, 0, 1, 1); }
KVBM_TEST(aligned_3_blocks_5_block_ids) { basic_case(3, 0, 5, 3); }
KVBM_TEST(partial_0_complete_2_partial_0_block_ids) { basic_case(0, 2, 0, 0); }
KVBM_TEST(partial_2_complete_1_partial_2_block_ids) { basic_case(2, 1, 2, 2); }
KVBM_TEST(partial_2_complete_3_partial_4_block_ids) { basic_case(2, 3, 4, 2); }
KVBM_TEST(partial_3_complete_2_partial_1_block_id) { basic_case(3, 2, 1, 1); }
KVBM_TEST(empty_slot_receives_block_ids) { basic_case(0, 0, 3, 0); }
KVBM_TEST(only_partial_tokens_receives_block_ids) { basic_case(0, 3, 2, 0); }
KVBM_TEST(large_sequence_exact_match) { basic_case(10, 0, 10, 10); }

KVBM_TEST(incremental_assignment_aligned)
{
    kvbm_block_seq *s = mkseq(4, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200));
    RANGE_IS(assign_all(a, s), 0, 2);
    ext(a, IDS(100, 200, 300, 400));
    RANGE_IS(assign_all(a, s), 2, 4);
    for (size_t i = 0; i < 4; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(incremental_assignment_with_excess)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200));
    RANGE_IS(assign_all(a, s), 0, 2);
    ext(a, IDS(100, 200, 300, 400, 500));
    RANGE_IS(assign_all(a, s), 2, 3);
    EXPECT_TRUE(asg_is(a, 2, 300, s, 2));
    EXPECT_TRUE(queued_are(a, IDS(400, 500)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(incremental_assignment_partial_then_excess)
{
    kvbm_block_seq *s = mkseq(2, 2);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100));
    RANGE_IS(assign_all(a, s), 0, 1);
    ext(a, IDS(100, 200, 300, 400));
    RANGE_IS(assign_all(a, s), 1, 2);
    EXPECT_TRUE(asg_is(a, 1, 200, s, 1));
    EXPECT_TRUE(queued_are(a, IDS(300, 400)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(all_blocks_already_assigned_extra_goes_to_unassigned)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200));
    RANGE_IS(assign_all(a, s), 0, 2);
    ext(a, IDS(100, 200, 300, 400));
    RANGE_IS(assign_all(a, s), 2, 2);
    EXPECT_TRUE(queued_are(a, IDS(300, 400)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(verify_hash_block_id_pairing_order)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = mkasg(0);
    const uint64_t ids[] = { 999, 888, 777, 666, 555 };
    ext(a, ids, 5);
    RANGE_IS(assign_all(a, s), 0, 5);
    for (size_t i = 0; i < 5; i++) EXPECT_TRUE(asg_is(a, i, ids[i], s, i));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(cartesian_product_combinations)
{
    const size_t blocks[] = { 0, 1, 3, 5 }, partials[] = { 0, 1, 3 };
    for (size_t bi = 0; bi < 4; bi++)
        for (size_t pi = 0; pi < 3; pi++) {
            size_t nb = blocks[bi];
            const size_t nids[] = { 0, nb / 2, nb, nb + 3 };
            for (size_t k = 0; k < 4; k++) basic_case(nb, partials[pi], nids[k], nids[k] < nb ? nids[k] : nb);
        }
}

KVBM_TEST(unassigned_blocks_applied_before_new_blocks)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400, 500, 600, 700));
    RANGE_IS(assign_all(a, s), 0, 5);
    append_tokens(s, 20, 8);
    ext(a, IDS(100, 200, 300, 400, 500, 600, 700, 800, 900));
    RANGE_IS(assign_all(a, s), 5, 7);
    EXPECT_TRUE(asg_is(a, 5, 600, s, 5));
    EXPECT_TRUE(asg_is(a, 6, 700, s, 6));
    EXPECT_TRUE(queued_are(a, IDS(800, 900)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(unassigned_blocks_with_new_blocks_all_assigned)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400));
    RANGE_IS(assign_all(a, s), 0, 3);
    append_tokens(s, 12, 12);
    ext(a, IDS(100, 200, 300, 400, 500, 600));
    RANGE_IS(assign_all(a, s), 3, 6);
    for (size_t i = 3; i < 6; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(unassigned_blocks_no_new_space)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400));
    RANGE_IS(assign_all(a, s), 0, 2);
    ext(a, IDS(100, 200, 300, 400, 500, 600));
    RANGE_IS(assign_all(a, s), 2, 2);
    EXPECT_TRUE(queued_are(a, IDS(300, 400, 500, 600)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(unassigned_blocks_partial_space)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400, 500));
    RANGE_IS(assign_all(a, s), 0, 3);
    append_tokens(s, 12, 4);
    ext(a, IDS(100, 200, 300, 400, 500, 600, 700, 800));
    RANGE_IS(assign_all(a, s), 3, 4);
    EXPECT_TRUE(asg_is(a, 3, 400, s, 3));
    EXPECT_TRUE(queued_are(a, IDS(500, 600, 700, 800)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(multiple_rounds_of_unassigned_accumulation)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 0, 2);
    ext(a, IDS(100, 200, 300, 400, 500));
    RANGE_IS(assign_all(a, s), 2, 2);
    ext(a, IDS(100, 200, 300, 400, 500, 600, 700));
    EXPECT_TRUE(queued_are(a, IDS(300, 400, 500, 600, 700)));
    append_tokens(s, 8, 12);
    RANGE_IS(assign_all(a, s), 2, 5);
    for (size_t i = 2; i < 5; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
    EXPECT_TRUE(queued_are(a, IDS(600, 700)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(unassigned_blocks_ordering_preserved)
{
    kvbm_block_seq *s = mkseq(1, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(10, 20, 30, 40));
    RANGE_IS(assign_all(a, s), 0, 1);
    ext(a, IDS(10, 20, 30, 40, 50, 60));
    ext(a, IDS(10, 20, 30, 40, 50, 60, 70));
    append_tokens(s, 4, 12);
    RANGE_IS(assign_all(a, s), 1, 4);
    EXPECT_TRUE(asg_is(a, 1, 20, s, 1));
    EXPECT_TRUE(asg_is(a, 2, 30, s, 2));
    EXPECT_TRUE(asg_is(a, 3, 40, s, 3));
    EXPECT_TRUE(queued_are(a, IDS(50, 60, 70)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(unassigned_blocks_with_partial_token_block)
{
    kvbm_block_seq *s = mkseq(2, 2);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400, 500));
    RANGE_IS(assign_all(a, s), 0, 2);
    append_tokens(s, 10, 2);
    RANGE_IS(assign_all(a, s), 2, 3);
    EXPECT_TRUE(asg_is(a, 2, 300, s, 2));
    EXPECT_TRUE(queued_are(a, IDS(400, 500)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(unassigned_blocks_exactly_fill_new_space)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400, 500));
    RANGE_IS(assign_all(a, s), 0, 2);
    append_tokens(s, 8, 12);
    RANGE_IS(assign_all(a, s), 2, 5);
    EXPECT_EQ(kvbm_ext_asg_unassigned_count(a), 0);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(empty_unassigned_with_new_blocks)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 0, 3);
    append_tokens(s, 12, 4);
    ext(a, IDS(100, 200, 300, 400));
    RANGE_IS(assign_all(a, s), 3, 4);
    EXPECT_TRUE(asg_is(a, 3, 400, s, 3));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(ordering_violation_known_after_new)
{
    kvbm_block_seq *s = mkseq(1, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(100), s);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_ext_asg_extend_block_ids(a, IDS(200, 100), &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_ORDERING_VIOLATION);
    EXPECT_EQ(e.known_id, 100);
    EXPECT_EQ(e.new_id, 200);
    EXPECT_EQ(e.known_index, 1);
    EXPECT_EQ(e.first_new_index, 0);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "ordering violation: known block_id 100 at index 1 "
                                          "appeared after new block_id 200 at index 0") == 0);
    COUNTS(a, 1, 0, 0);
    EXPECT_FALSE(kvbm_ext_asg_contains(a, 200));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(ordering_violation_no_state_change)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(100, 200), s);
    EXPECT_STATUS(kvbm_ext_asg_extend_block_ids(a, IDS(300, 100), NULL), KVBM_EINVAL);
    EXPECT_TRUE(asg_is(a, 0, 100, s, 0));
    EXPECT_TRUE(asg_is(a, 1, 200, s, 1));
    COUNTS(a, 2, 0, 0);
    EXPECT_FALSE(kvbm_ext_asg_contains(a, 300));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(all_duplicates_noop)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 0, 3);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 3, 3);
    COUNTS(a, 3, 0, 0);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(duplicates_with_unassigned)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400));
    RANGE_IS(assign_all(a, s), 0, 2);
    ext(a, IDS(100, 200, 300, 400));
    RANGE_IS(assign_all(a, s), 2, 2);
    EXPECT_TRUE(queued_are(a, IDS(300, 400)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(shorter_sequence_slice_does_not_shrink_assigned)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 0, 3);
    kvbm_range r;
    ASSERT_OK(kvbm_ext_asg_assign_pending(a, s, 0, 2, &r, NULL));
    RANGE_IS(r, 3, 3);
    COUNTS(a, 3, 0, 0);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(offset_assignments)
{
    kvbm_block_seq *s = mkseq(10, 0);
    kvbm_ext_asg *a = mkasg(5);
    EXPECT_EQ(kvbm_ext_asg_next_position(a), 5);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 0, 3);
    EXPECT_EQ(kvbm_ext_asg_next_position(a), 8);
    for (size_t i = 0; i < 3; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, 5 + i));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(offset_with_excess)
{
    kvbm_block_seq *s = mkseq(8, 0);
    kvbm_ext_asg *a = mkasg(5);
    ext(a, IDS(100, 200, 300, 400, 500));
    RANGE_IS(assign_all(a, s), 0, 3);
    EXPECT_TRUE(asg_is(a, 0, 100, s, 5));
    EXPECT_TRUE(queued_are(a, IDS(400, 500)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(multi_instance_different_offsets)
{
    kvbm_block_seq *s = mkseq(10, 0);
    kvbm_ext_asg *a = mkasg(0), *b = mkasg(5);
    ext(a, IDS(100, 200, 300));
    ext(b, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 0, 3);
    RANGE_IS(assign_all(b, s), 0, 3);
    for (size_t i = 0; i < 3; i++) {
        EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
        EXPECT_TRUE(asg_is(b, i, (i + 1) * 100, s, 5 + i));
    }
    kvbm_ext_asg_destroy(a);
    kvbm_ext_asg_destroy(b);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(token_extension_then_flush)
{
    kvbm_block_seq *s = mkseq(2, 2);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 0, 2);
    append_tokens(s, 10, 2);
    RANGE_IS(assign_all(a, s), 2, 3);
    EXPECT_TRUE(asg_is(a, 2, 300, s, 2));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(extend_tokens_creates_new_blocks)
{
    kvbm_block_seq *s = mkseq(1, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(assign_all(a, s), 0, 1);
    kvbm_token *t = iota_tokens(4, 8);
    bool done = false;
    size_t f = 0, e = 0;
    ASSERT_OK(kvbm_block_seq_extend_tokens(s, t, 8, &done, &f, &e, NULL));
    free(t);
    EXPECT_TRUE(done);
    EXPECT_EQ(kvbm_block_seq_num_blocks(s), 3);
    RANGE_IS(assign_all(a, s), 1, 3);
    EXPECT_TRUE(asg_is(a, 1, 200, s, 1));
    EXPECT_TRUE(asg_is(a, 2, 300, s, 2));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(clear_preserves_offset)
{
    kvbm_block_seq *s = mkseq(6, 0);
    kvbm_ext_asg *a = assigned_at(3, IDS(100, 200, 300), s);
    kvbm_ext_asg_clear(a);
    COUNTS(a, 0, 0, 0);
    EXPECT_EQ(kvbm_ext_asg_offset(a), 3);
    EXPECT_EQ(kvbm_ext_asg_next_position(a), 3);
    EXPECT_FALSE(kvbm_ext_asg_contains(a, 100));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(assign_with_nonzero_offset)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(1);
    ext(a, IDS(100, 200));
    RANGE_IS(assign_all(a, s), 0, 2);
    EXPECT_TRUE(asg_is(a, 0, 100, s, 1));
    EXPECT_TRUE(asg_is(a, 1, 200, s, 2));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(contains)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(100, 200, 300), s);
    EXPECT_TRUE(kvbm_ext_asg_contains(a, 100));
    EXPECT_TRUE(kvbm_ext_asg_contains(a, 200));
    EXPECT_TRUE(kvbm_ext_asg_contains(a, 300));
    EXPECT_FALSE(kvbm_ext_asg_contains(a, 400));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(assigned_iter)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(100, 200, 300), s);
    size_t n = 0;
    uint64_t id;
    kvbm_plh h;
    while (kvbm_ext_asg_get_assigned(a, n, &id, &h)) {
        EXPECT_EQ(id, (n + 1) * 100);
        EXPECT_TRUE(kvbm_plh_eq(h, seq_hash(s, n)));
        n++;
    }
    EXPECT_EQ(n, 3);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

/* ---- BlockSequence -------------------------------------------------------------------- */

KVBM_TEST(block_sequence_new)
{
    kvbm_block_seq *s = mkseq(2, 0);
    EXPECT_EQ(kvbm_block_seq_num_blocks(s), 2);
    EXPECT_EQ(kvbm_block_seq_block_size(s), 4);
    EXPECT_EQ(kvbm_block_seq_total_tokens(s), 8);
    EXPECT_TRUE(kvbm_block_seq_block(s, 2) == NULL);
    EXPECT_EQ(kvbm_token_seq_total_tokens(kvbm_block_seq_tokens(s)), 8);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(block_sequence_all_sequence_hashes)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_plh h[4];
    size_t n = 0;
    EXPECT_STATUS(kvbm_block_seq_all_hashes(s, h, 1, &n), KVBM_ERANGE);
    EXPECT_EQ(n, 2);
    ASSERT_OK(kvbm_block_seq_all_hashes(s, h, 4, &n));
    ASSERT_EQ(n, 2);
    kvbm_token *t = iota_tokens(0, 8);
    kvbm_plh want[2];
    EXPECT_EQ(tm_chain_hashes(t, 8, 4, 0, want), 2);
    free(t);
    for (size_t i = 0; i < 2; i++) {
        EXPECT_TRUE(kvbm_plh_eq(h[i], want[i]));
        EXPECT_TRUE(kvbm_plh_eq(h[i], seq_hash(s, i)));
    }
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(block_sequence_extend_tokens)
{
    kvbm_block_seq *s = mkseq(1, 0);
    kvbm_token *t = iota_tokens(4, 6);
    bool done = false;
    size_t f = 9, e = 9;
    ASSERT_OK(kvbm_block_seq_extend_tokens(s, t, 6, &done, &f, &e, NULL));
    free(t);
    EXPECT_TRUE(done);
    EXPECT_EQ(f, 1);
    EXPECT_EQ(e, 2);
    EXPECT_EQ(kvbm_block_seq_num_blocks(s), 2);
    EXPECT_EQ(kvbm_block_seq_total_tokens(s), 10);
    ASSERT_OK(kvbm_block_seq_extend_tokens(s, (const kvbm_token[]){ 10 }, 1, &done, NULL, NULL, NULL));
    EXPECT_FALSE(done); /* Ok(None) */
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(block_sequence_append_token)
{
    kvbm_block_seq *s = mkseq(0, 3);
    bool done = false;
    size_t idx = 9;
    ASSERT_OK(kvbm_block_seq_append_token(s, 3, &done, &idx, NULL));
    EXPECT_TRUE(done);
    EXPECT_EQ(idx, 0);
    EXPECT_EQ(kvbm_block_seq_num_blocks(s), 1);
    ASSERT_OK(kvbm_block_seq_append_token(s, 4, &done, &idx, NULL));
    EXPECT_FALSE(done);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(block_sequence_with_salt)
{
    kvbm_token t[4] = { 0, 1, 2, 3 };
    uint64_t salt = 42, zero = 0;
    kvbm_block_seq *a = NULL, *b = NULL, *c = NULL;
    ASSERT_OK(kvbm_block_seq_create(t, 4, 4, NULL, &a));
    ASSERT_OK(kvbm_block_seq_create(t, 4, 4, &salt, &b));
    ASSERT_OK(kvbm_block_seq_create(t, 4, 4, &zero, &c));
    EXPECT_FALSE(kvbm_plh_eq(seq_hash(a, 0), seq_hash(b, 0)));
    EXPECT_TRUE(kvbm_plh_eq(seq_hash(a, 0), seq_hash(c, 0))); /* None == Some(0) */
    kvbm_block_seq_destroy(a);
    kvbm_block_seq_destroy(b);
    kvbm_block_seq_destroy(c);
}

KVBM_TEST(block_sequence_bad_block_size)
{
    kvbm_token t[4] = { 0, 1, 2, 3 };
    kvbm_block_seq *a = NULL;
    EXPECT_STATUS(kvbm_block_seq_create(t, 4, 0, NULL, &a), KVBM_EINVAL);
    EXPECT_TRUE(a == NULL);
    EXPECT_TRUE(strstr(kvbm_last_error(), "block_size") != NULL);
    EXPECT_STATUS(kvbm_block_seq_create(t, 4, 3, NULL, &a), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_block_seq_create(NULL, 4, 4, NULL, &a), KVBM_EINVAL);
}

/* ---- positions -------------------------------------------------------------------------- */

KVBM_TEST(assigned_positions_empty)
{
    kvbm_ext_asg *a = mkasg(0);
    RANGE_IS(kvbm_ext_asg_assigned_positions(a), 0, 0);
    kvbm_ext_asg_destroy(a);
}

KVBM_TEST(assigned_positions_with_offset)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = assigned_at(3, IDS(100, 200), s);
    RANGE_IS(kvbm_ext_asg_assigned_positions(a), 3, 5);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(pending_positions_empty)
{
    kvbm_ext_asg *a = mkasg(0);
    RANGE_IS(kvbm_ext_asg_pending_positions(a), 0, 0);
    kvbm_ext_asg_destroy(a);
}

KVBM_TEST(pending_positions_with_assigned_and_unassigned)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(100, 200, 300, 400), s);
    RANGE_IS(kvbm_ext_asg_pending_positions(a), 2, 4);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(pending_positions_with_offset)
{
    kvbm_block_seq *s = mkseq(9, 0);
    kvbm_ext_asg *a = assigned_at(5, IDS(100, 200, 300, 400), s);
    RANGE_IS(kvbm_ext_asg_assigned_positions(a), 5, 9);
    RANGE_IS(kvbm_ext_asg_pending_positions(a), 9, 9);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(get_at_position_in_range)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = assigned_at(2, IDS(100, 200, 300), s);
    uint64_t id;
    kvbm_plh h;
    ASSERT_TRUE(kvbm_ext_asg_get_at_position(a, 2, &id, &h));
    EXPECT_EQ(id, 100);
    EXPECT_TRUE(kvbm_plh_eq(h, seq_hash(s, 2)));
    ASSERT_TRUE(kvbm_ext_asg_get_at_position(a, 4, &id, &h));
    EXPECT_EQ(id, 300);
    EXPECT_TRUE(kvbm_plh_eq(h, seq_hash(s, 4)));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(get_at_position_out_of_range)
{
    kvbm_block_seq *s = mkseq(4, 0);
    kvbm_ext_asg *a = assigned_at(2, IDS(100, 200), s);
    const size_t ps[] = { 0, 1, 4, 100 };
    for (size_t i = 0; i < 4; i++) EXPECT_FALSE(kvbm_ext_asg_get_at_position(a, ps[i], NULL, NULL));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(get_pending_at_position_in_range)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(100, 200, 300, 400, 500), s);
    uint64_t id;
    ASSERT_TRUE(kvbm_ext_asg_get_pending_at_position(a, 2, &id));
    EXPECT_EQ(id, 300);
    ASSERT_TRUE(kvbm_ext_asg_get_pending_at_position(a, 3, &id));
    EXPECT_EQ(id, 400);
    ASSERT_TRUE(kvbm_ext_asg_get_pending_at_position(a, 4, &id));
    EXPECT_EQ(id, 500);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(get_pending_at_position_out_of_range)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(100, 200, 300, 400), s);
    const size_t ps[] = { 0, 1, 4, 100 };
    for (size_t i = 0; i < 4; i++) EXPECT_FALSE(kvbm_ext_asg_get_pending_at_position(a, ps[i], NULL));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}
