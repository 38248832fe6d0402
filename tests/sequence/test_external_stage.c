/* tests/sequence/test_external_stage.c - ExternalBlockAssignments staging, extend_assigned,
 * zip planners (spec 30 §5.3, second half), the two External doctests (§5.2) and the
 * External gap tests of §5.8. */
#include <stdlib.h>

#include "support/seq_helpers.h"

static bool zip_is(bool pending, const kvbm_ext_asg *a, const kvbm_ext_asg *b, const size_t (*want)[3], size_t n)
{
    kvbm_zip_entry z[16];
    size_t got = 99;
    kvbm_status st = pending ? kvbm_zip_assigned_pending(a, b, z, 16, &got) : kvbm_zip_assigned(a, b, z, 16, &got);
    if (st != KVBM_OK || got != n) return false;
    for (size_t i = 0; i < n; i++)
        if (z[i].position != want[i][0] || z[i].first != want[i][1] || z[i].second != want[i][2]) return false;
    return true;
}


KVBM_TEST(zip_assigned_full_overlap)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(10, 20, 30), s), *b = assigned_at(0, IDS(110, 120, 130), s);
    const size_t want[][3] = { { 0, 10, 110 }, { 1, 20, 120 }, { 2, 30, 130 } };
    EXPECT_TRUE(zip_is(false, a, b, want, 3));
    kvbm_zip_entry z[1];
    size_t n = 0;
    EXPECT_STATUS(kvbm_zip_assigned(a, b, z, 1, &n), KVBM_ERANGE);
    EXPECT_EQ(n, 3);
    kvbm_ext_asg_destroy(a);
    kvbm_ext_asg_destroy(b);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(zip_assigned_partial_overlap)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(10, 20, 30, 40), s), *b = assigned_at(2, IDS(110, 120, 130), s);
    const size_t want[][3] = { { 2, 30, 110 }, { 3, 40, 120 } };
    EXPECT_TRUE(zip_is(false, a, b, want, 2));
    kvbm_ext_asg_destroy(a);
    kvbm_ext_asg_destroy(b);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(zip_assigned_no_overlap)
{
    kvbm_block_seq *s = mkseq(7, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(10, 20), s), *b = assigned_at(5, IDS(110, 120), s);
    EXPECT_TRUE(zip_is(false, a, b, NULL, 0));
    kvbm_ext_asg_destroy(a);
    kvbm_ext_asg_destroy(b);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(zip_assigned_either_empty)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = assigned_at(0, IDS(10, 20, 30), s), *b = mkasg(0);
    EXPECT_TRUE(zip_is(false, a, b, NULL, 0));
    EXPECT_TRUE(zip_is(false, b, a, NULL, 0));
    kvbm_ext_asg_destroy(a);
    kvbm_ext_asg_destroy(b);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(zip_assigned_both_empty)
{
    kvbm_ext_asg *a = mkasg(0), *b = mkasg(0);
    EXPECT_TRUE(zip_is(false, a, b, NULL, 0));
    kvbm_ext_asg_destroy(a);
    kvbm_ext_asg_destroy(b);
}

KVBM_TEST(zip_assigned_pending_full_overlap)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *src = assigned_at(2, IDS(10, 20, 30), s);
    kvbm_block_seq *s2 = mkseq(2, 0);
    kvbm_ext_asg *dst = assigned_at(0, IDS(110, 120, 130, 140, 150), s2);
    RANGE_IS(kvbm_ext_asg_pending_positions(dst), 2, 5);
    const size_t want[][3] = { { 2, 10, 130 }, { 3, 20, 140 }, { 4, 30, 150 } };
    EXPECT_TRUE(zip_is(true, src, dst, want, 3));
    kvbm_ext_asg_destroy(src);
    kvbm_ext_asg_destroy(dst);
    kvbm_block_seq_destroy(s);
    kvbm_block_seq_destroy(s2);
}

KVBM_TEST(zip_assigned_pending_partial_overlap)
{
    kvbm_block_seq *s = mkseq(6, 0);
    kvbm_ext_asg *src = assigned_at(2, IDS(10, 20, 30, 40), s);
    kvbm_block_seq *s3 = mkseq(3, 0);
    kvbm_ext_asg *dst = assigned_at(0, IDS(110, 120, 130, 140, 150), s3);
    RANGE_IS(kvbm_ext_asg_pending_positions(dst), 3, 5);
    const size_t want[][3] = { { 3, 20, 140 }, { 4, 30, 150 } };
    EXPECT_TRUE(zip_is(true, src, dst, want, 2));
    kvbm_ext_asg_destroy(src);
    kvbm_ext_asg_destroy(dst);
    kvbm_block_seq_destroy(s);
    kvbm_block_seq_destroy(s3);
}

KVBM_TEST(zip_assigned_pending_no_overlap)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *src = assigned_at(0, IDS(10, 20), s);
    kvbm_ext_asg *dst = mkasg(5);
    ext(dst, IDS(130, 140));
    RANGE_IS(kvbm_ext_asg_pending_positions(dst), 5, 7);
    EXPECT_TRUE(zip_is(true, src, dst, NULL, 0));
    kvbm_ext_asg_destroy(src);
    kvbm_ext_asg_destroy(dst);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(zip_assigned_pending_either_empty)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *src = mkasg(0), *dst = mkasg(0);
    ext(dst, IDS(110, 120));
    EXPECT_TRUE(zip_is(true, src, dst, NULL, 0)); /* no source assigned */
    kvbm_ext_asg *src2 = assigned_at(0, IDS(10, 20, 30), s), *dst2 = mkasg(0);
    EXPECT_TRUE(zip_is(true, src2, dst2, NULL, 0)); /* no destination pending */
    kvbm_ext_asg_destroy(src);
    kvbm_ext_asg_destroy(dst);
    kvbm_ext_asg_destroy(src2);
    kvbm_ext_asg_destroy(dst2);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(onboard_scenario_g2_to_g1)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_block_seq *s2 = mkseq(2, 0);
    kvbm_ext_asg *g1 = assigned_at(0, IDS(1000, 1001), s2);
    kvbm_ext_asg *g2 = assigned_at(2, IDS(2002, 2003, 2004), s);
    RANGE_IS(kvbm_ext_asg_assigned_positions(g1), 0, 2);
    RANGE_IS(kvbm_ext_asg_assigned_positions(g2), 2, 5);
    ext(g1, IDS(1000, 1001, 1002, 1003, 1004));
    RANGE_IS(kvbm_ext_asg_pending_positions(g1), 2, 5);
    const size_t want[][3] = { { 2, 2002, 1002 }, { 3, 2003, 1003 }, { 4, 2004, 1004 } };
    EXPECT_TRUE(zip_is(true, g2, g1, want, 3));
    kvbm_range r;
    ASSERT_OK(kvbm_ext_asg_assign_pending(g1, s, 0, 5, &r, NULL));
    RANGE_IS(r, 2, 5);
    RANGE_IS(kvbm_ext_asg_assigned_positions(g1), 0, 5);
    EXPECT_TRUE(zip_is(false, g2, g1, want, 3));
    kvbm_ext_asg_destroy(g1);
    kvbm_ext_asg_destroy(g2);
    kvbm_block_seq_destroy(s);
    kvbm_block_seq_destroy(s2);
}

/* ---- staging ------------------------------------------------------------------------ */

static kvbm_range stage(kvbm_ext_asg *a, const kvbm_block_seq *s, size_t end)
{
    kvbm_range r = { 999, 999 };
    if (kvbm_ext_asg_stage_pending(a, s, 0, end, &r, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "stage_pending: %s", kvbm_last_error());
    return r;
}

KVBM_TEST(stage_pending_basic)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    RANGE_IS(stage(a, s, 3), 0, 3);
    for (size_t i = 0; i < 3; i++) EXPECT_TRUE(stg_is(a, i, (i + 1) * 100, s, i));
    EXPECT_EQ(kvbm_ext_asg_assigned_count(a), 0);
    EXPECT_EQ(kvbm_ext_asg_staged_count(a), 3);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(commit_staged_basic)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    stage(a, s, 3);
    RANGE_IS(kvbm_ext_asg_commit_staged(a), 0, 3);
    EXPECT_EQ(kvbm_ext_asg_assigned_count(a), 3);
    EXPECT_EQ(kvbm_ext_asg_staged_count(a), 0);
    for (size_t i = 0; i < 3; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(stage_pending_partial)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400, 500));
    RANGE_IS(stage(a, s, 2), 0, 2);
    EXPECT_EQ(kvbm_ext_asg_unassigned_count(a), 3);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(stage_pending_then_commit_then_stage_more)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400, 500));
    RANGE_IS(stage(a, s, 3), 0, 3);
    RANGE_IS(kvbm_ext_asg_commit_staged(a), 0, 3);
    RANGE_IS(stage(a, s, 5), 0, 2);
    RANGE_IS(kvbm_ext_asg_commit_staged(a), 3, 5);
    for (size_t i = 0; i < 5; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(stage_pending_empty_unassigned)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    RANGE_IS(stage(a, s, 3), 0, 0);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(commit_staged_empty)
{
    kvbm_ext_asg *a = mkasg(0);
    RANGE_IS(kvbm_ext_asg_commit_staged(a), 0, 0);
    kvbm_ext_asg_destroy(a);
}

KVBM_TEST(staged_positions_empty)
{
    kvbm_ext_asg *a = mkasg(0);
    RANGE_IS(kvbm_ext_asg_staged_positions(a), 0, 0);
    kvbm_ext_asg_destroy(a);
}

KVBM_TEST(staged_positions_after_stage)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200));
    stage(a, s, 5);
    kvbm_ext_asg_commit_staged(a);
    ext(a, IDS(100, 200, 300, 400, 500));
    stage(a, s, 5);
    RANGE_IS(kvbm_ext_asg_staged_positions(a), 2, 5);
    RANGE_IS(kvbm_ext_asg_assigned_positions(a), 0, 2);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(staged_positions_with_offset)
{
    kvbm_block_seq *s = mkseq(7, 0);
    kvbm_ext_asg *a = mkasg(3);
    ext(a, IDS(100, 200));
    stage(a, s, 7);
    kvbm_ext_asg_commit_staged(a);
    ext(a, IDS(100, 200, 300, 400));
    stage(a, s, 7);
    RANGE_IS(kvbm_ext_asg_staged_positions(a), 5, 7);
    EXPECT_TRUE(stg_is(a, 0, 300, s, 5));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(staged_iter)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    stage(a, s, 3);
    size_t n = 0;
    while (kvbm_ext_asg_get_staged(a, n, NULL, NULL)) {
        EXPECT_TRUE(stg_is(a, n, (n + 1) * 100, s, n));
        n++;
    }
    EXPECT_EQ(n, 3);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(take_staged)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300));
    stage(a, s, 3);
    uint64_t ids[3];
    kvbm_plh h[3];
    size_t n = 0;
    EXPECT_STATUS(kvbm_ext_asg_take_staged(a, ids, h, 2, &n), KVBM_ERANGE);
    EXPECT_EQ(n, 3);
    EXPECT_EQ(kvbm_ext_asg_staged_count(a), 3);
    ASSERT_OK(kvbm_ext_asg_take_staged(a, ids, h, 3, &n));
    ASSERT_EQ(n, 3);
    for (size_t i = 0; i < 3; i++) {
        EXPECT_EQ(ids[i], (i + 1) * 100);
        EXPECT_TRUE(kvbm_plh_eq(h[i], seq_hash(s, i)));
        EXPECT_FALSE(kvbm_ext_asg_contains(a, ids[i]));
    }
    EXPECT_EQ(kvbm_ext_asg_staged_count(a), 0);
    EXPECT_EQ(kvbm_ext_asg_next_position(a), 0);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(next_position_accounts_for_staged)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    EXPECT_EQ(kvbm_ext_asg_next_position(a), 0);
    ext(a, IDS(100, 200, 300));
    stage(a, s, 3);
    EXPECT_EQ(kvbm_ext_asg_next_position(a), 3);
    kvbm_ext_asg_commit_staged(a);
    EXPECT_EQ(kvbm_ext_asg_next_position(a), 3);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(pending_positions_accounts_for_staged)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200, 300, 400, 500));
    stage(a, s, 3);
    RANGE_IS(kvbm_ext_asg_pending_positions(a), 3, 5);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(extend_assigned_basic)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    kvbm_plh h[3] = { seq_hash(s, 0), seq_hash(s, 1), seq_hash(s, 2) };
    size_t n = 0;
    ASSERT_OK(kvbm_ext_asg_extend_assigned(a, IDS_ARR3(100, 200, 300), h, 3, &n, NULL));
    EXPECT_EQ(n, 3);
    for (size_t i = 0; i < 3; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(extend_assigned_then_stage_pending)
{
    kvbm_block_seq *s = mkseq(5, 0);
    kvbm_ext_asg *a = mkasg(0);
    kvbm_plh h[2] = { seq_hash(s, 0), seq_hash(s, 1) };
    ASSERT_OK(kvbm_ext_asg_extend_assigned(a, IDS_ARR2(100, 200), h, 2, NULL, NULL));
    ext(a, IDS(100, 200, 300, 400, 500));
    kvbm_range r = stage(a, s, 5);
    RANGE_IS(r, 0, 3);
    RANGE_IS(kvbm_ext_asg_commit_staged(a), 2, 5);
    for (size_t i = 0; i < 5; i++) EXPECT_TRUE(asg_is(a, i, (i + 1) * 100, s, i));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(extend_assigned_duplicate_detection)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = mkasg(0);
    kvbm_plh h0 = seq_hash(s, 0), h1 = seq_hash(s, 1);
    ASSERT_OK(kvbm_ext_asg_extend_assigned(a, IDS_ARR1(100), &h0, 1, NULL, NULL));
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_ext_asg_extend_assigned(a, IDS_ARR1(100), &h1, 1, NULL, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_DUPLICATE_BLOCK_ID);
    EXPECT_EQ(e.block_id, 100);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "duplicate block_id 100 already present") == 0);
    EXPECT_EQ(kvbm_ext_asg_assigned_count(a), 1);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(extend_assigned_empty)
{
    kvbm_ext_asg *a = mkasg(0);
    size_t n = 9;
    ASSERT_OK(kvbm_ext_asg_extend_assigned(a, NULL, NULL, 0, &n, NULL));
    EXPECT_EQ(n, 0);
    kvbm_ext_asg_destroy(a);
}

KVBM_TEST(contains_with_staged)
{
    kvbm_block_seq *s = mkseq(4, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100, 200));
    stage(a, s, 4);
    kvbm_ext_asg_commit_staged(a);
    ext(a, IDS(100, 200, 300, 400, 500));
    stage(a, s, 4);
    for (uint64_t id = 100; id <= 500; id += 100) EXPECT_TRUE(kvbm_ext_asg_contains(a, id));
    EXPECT_FALSE(kvbm_ext_asg_contains(a, 600));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(debug_impl)
{
    kvbm_ext_asg *a = mkasg(7);
    char buf[256];
    kvbm_ext_asg_describe(a, buf, sizeof buf);
    EXPECT_TRUE(strstr(buf, "ExternalBlockAssignments") != NULL);
    EXPECT_TRUE(strstr(buf, "offset: 7") != NULL);
    EXPECT_TRUE(strstr(buf, "assigned_count: 0") != NULL);
    kvbm_ext_asg_destroy(a);
}

/* ---- doctests (§5.2) ------------------------------------------------------------------ */

KVBM_TEST(doctest_external_basic_flow)
{
    kvbm_block_seq *s = mkseq(3, 0);
    EXPECT_EQ(kvbm_block_seq_num_blocks(s), 3);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(10, 20, 30));
    EXPECT_EQ(kvbm_ext_asg_unassigned_count(a), 3);
    kvbm_range r;
    ASSERT_OK(kvbm_ext_asg_assign_pending(a, s, 0, 3, &r, NULL));
    RANGE_IS(r, 0, 3);
    EXPECT_TRUE(asg_is(a, 0, 10, s, 0));
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(doctest_external_two_step_staging)
{
    kvbm_block_seq *s = mkseq(2, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(1, 2));
    RANGE_IS(stage(a, s, 2), 0, 2);
    EXPECT_EQ(kvbm_ext_asg_staged_count(a), 2);
    EXPECT_EQ(kvbm_ext_asg_assigned_count(a), 0);
    RANGE_IS(kvbm_ext_asg_commit_staged(a), 0, 2);
    EXPECT_EQ(kvbm_ext_asg_assigned_count(a), 2);
    EXPECT_EQ(kvbm_ext_asg_staged_count(a), 0);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

/* ---- gap tests (§5.8) ------------------------------------------------------------------ */

KVBM_TEST(gap_position_mismatch_on_shifted_view)
{
    kvbm_block_seq *s = mkseq(3, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100));
    kvbm_seq_error e;
    kvbm_range r = { 7, 7 };
    EXPECT_STATUS(kvbm_ext_asg_assign_pending(a, s, 1, 3, &r, &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_POSITION_MISMATCH);
    EXPECT_EQ(e.expected, 0);
    EXPECT_EQ(e.actual, 1);
    EXPECT_EQ(e.block_id, 100);
    EXPECT_TRUE(strcmp(kvbm_last_error(), "position mismatch for block_id 100: expected 0, actual 1") == 0);
    EXPECT_EQ(r.start, 7); /* untouched */
    EXPECT_EQ(kvbm_ext_asg_unassigned_count(a), 1);
    EXPECT_EQ(kvbm_ext_asg_staged_count(a), 0);
    EXPECT_EQ(kvbm_ext_asg_assigned_count(a), 0);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(gap_duplicate_among_new_ids)
{
    kvbm_ext_asg *a = mkasg(0);
    kvbm_seq_error e;
    EXPECT_STATUS(kvbm_ext_asg_extend_block_ids(a, IDS(7, 7), &e), KVBM_EINVAL);
    EXPECT_EQ(e.kind, KVBM_SEQERR_DUPLICATE_BLOCK_ID);
    EXPECT_EQ(e.block_id, 7);
    EXPECT_EQ(kvbm_ext_asg_unassigned_count(a), 0);
    EXPECT_FALSE(kvbm_ext_asg_contains(a, 7));
    kvbm_ext_asg_destroy(a);
}

KVBM_TEST(gap_repeated_known_prefix_accepted)
{
    kvbm_block_seq *s = mkseq(1, 0);
    kvbm_ext_asg *a = mkasg(0);
    ext(a, IDS(100));
    kvbm_range r;
    ASSERT_OK(kvbm_ext_asg_assign_pending(a, s, 0, 1, &r, NULL));
    ASSERT_OK(kvbm_ext_asg_extend_block_ids(a, IDS(100, 100, 300), NULL));
    EXPECT_EQ(kvbm_ext_asg_unassigned_count(a), 1);
    uint64_t id = 0;
    EXPECT_TRUE(kvbm_ext_asg_get_unassigned(a, 0, &id));
    EXPECT_EQ(id, 300);
    kvbm_ext_asg_destroy(a);
    kvbm_block_seq_destroy(s);
}

KVBM_TEST(gap_zip_with_nonzero_offsets_on_both_sides)
{
    kvbm_block_seq *s = mkseq(10, 0);
    kvbm_ext_asg *a = assigned_at(3, IDS(30, 40, 50, 60), s);    /* 3..7 */
    kvbm_ext_asg *b = assigned_at(5, IDS(150, 160, 170, 180), s); /* 5..9 */
    const size_t want[][3] = { { 5, 50, 150 }, { 6, 60, 160 } };
    EXPECT_TRUE(zip_is(false, a, b, want, 2));
    kvbm_block_seq *s7 = mkseq(7, 0);
    kvbm_ext_asg *c = assigned_at(4, IDS(240, 250), s7); /* assigned 4..6 */
    ext(c, IDS(240, 250, 260, 270));                      /* pending 6..8 */
    const size_t want2[][3] = { { 6, 60, 260 } };
    EXPECT_TRUE(zip_is(true, a, c, want2, 1));
    kvbm_ext_asg_destroy(a);
    kvbm_ext_asg_destroy(b);
    kvbm_ext_asg_destroy(c);
    kvbm_block_seq_destroy(s);
    kvbm_block_seq_destroy(s7);
}
