/* tests/integrations/test_request_fastpath.c - the block-completing fast path of
 * kvbm_request_seq_complete_and_register_pending (stage + register in one manager call,
 * kvbm_manager_stage_register_blocks) against the two-step path it replaces
 * (kvbm_request_seq_stage_pending + kvbm_request_seq_register_staged): same blocks, ids,
 * hashes, manager counters and events; every allocation failure on the way falls back
 * without losing a block. */
#include <stdlib.h>

#include "support/seq_helpers.h"
#include "sequence/seq_int.h"

static kvbm_request_seq *mkreq_salted(size_t n, size_t max_output, uint32_t first)
{
    kvbm_token *t = iota_tokens(first, n);
    kvbm_request_seq *r = NULL;
    if (kvbm_request_seq_create(t, n, max_output, 4, NULL, &r) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "create: %s", kvbm_last_error());
    free(t);
    return r;
}

/* A request of @n tokens (bs 4) with every block allocated and nothing staged yet. */
static kvbm_request_seq *allocated_req(kvbm_manager *m, size_t n, uint32_t first)
{
    kvbm_request_seq *r = mkreq_salted(n, 4, first);
    if (kvbm_request_seq_allocate_blocks(r, kvbm_request_seq_num_blocks(r) + 1, m, NULL) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "allocate: %s", kvbm_last_error());
    return r;
}

static const kvbm_metric_id counted[] = {
    KVBM_METRIC_registrations,      KVBM_METRIC_stagings,         KVBM_METRIC_inflight_mutable,
    KVBM_METRIC_inflight_immutable, KVBM_METRIC_duplicate_blocks, KVBM_METRIC_registration_dedup,
    KVBM_METRIC_reset_pool_size,    KVBM_METRIC_inactive_pool_size,
};
#define NCOUNTED (sizeof counted / sizeof counted[0])

/* Everything observable of a request and its manager after registration. */
static void expect_same(kvbm_request_seq *a, kvbm_manager *ma, kvbm_request_seq *b, kvbm_manager *mb)
{
    EXPECT_EQ(kvbm_request_seq_assigned_blocks(a), kvbm_request_seq_assigned_blocks(b));
    EXPECT_EQ(kvbm_request_seq_staged_blocks(a), kvbm_request_seq_staged_blocks(b));
    EXPECT_EQ(kvbm_request_seq_unassigned_blocks(a), kvbm_request_seq_unassigned_blocks(b));
    const kvbm_logical_asg *la = kvbm_request_seq_assignments(a), *lb = kvbm_request_seq_assignments(b);
    for (size_t i = 0; i < kvbm_logical_asg_assigned_count(la); i++) {
        uint32_t ia = 0, ib = 0;
        kvbm_block *ba = NULL, *bb = NULL;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(la, i, &ia, &ba));
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(lb, i, &ib, &bb));
        EXPECT_EQ(ia, ib);
        EXPECT_EQ(kvbm_block_id(ba), ia);
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(ba), kvbm_block_seq_hash(bb)));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(ba),
                                kvbm_token_block_plh(kvbm_block_seq_block(kvbm_request_seq_sequence(a), i))));
    }
    for (size_t k = 0; k < NCOUNTED; k++)
        EXPECT_EQ(tm_metric(ma, counted[k]), tm_metric(mb, counted[k]));
    EXPECT_EQ(kvbm_manager_available_blocks(ma), kvbm_manager_available_blocks(mb));
    CHECK_INVARIANTS(ma);
    CHECK_INVARIANTS(mb);
}

KVBM_TEST(fast_path_equals_two_step_fresh_blocks)
{
    kvbm_manager *ma = create_test_manager(20), *mb = create_test_manager(20);
    kvbm_request_seq *a = allocated_req(ma, 14, 0), *b = allocated_req(mb, 14, 0);
    size_t na = 0, ns = 0, nr = 0;
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(a, ma, &na, NULL));
    ASSERT_OK(kvbm_request_seq_stage_pending(b, &ns, NULL));
    ASSERT_OK(kvbm_request_seq_register_staged(b, mb, &nr, NULL));
    EXPECT_EQ(na, 3);
    EXPECT_EQ(nr, 3);
    EXPECT_EQ(kvbm_request_seq_assigned_blocks(a), 3);
    EXPECT_EQ(kvbm_request_seq_unassigned_blocks(a), 1); /* the partial block's */
    expect_same(a, ma, b, mb);
    kvbm_request_seq_destroy(a);
    kvbm_request_seq_destroy(b);
    EXPECT_EQ(kvbm_manager_available_blocks(ma), 20);
    EXPECT_EQ(kvbm_manager_available_blocks(mb), 20);
    for (size_t k = 0; k < NCOUNTED; k++)
        EXPECT_EQ(tm_metric(ma, counted[k]), tm_metric(mb, counted[k]));
    tm_manager_destroy(ma);
    tm_manager_destroy(mb);
}

/* A second request with the same tokens: under Allow its blocks become duplicates, under
 * Reject the existing primaries are returned and the request's ids change (decision 7). */
static void same_tokens_twice(kvbm_dup_policy policy)
{
    kvbm_manager *ma = create_test_manager_with_policy(20, policy);
    kvbm_manager *mb = create_test_manager_with_policy(20, policy);
    kvbm_request_seq *a1 = allocated_req(ma, 12, 7), *b1 = allocated_req(mb, 12, 7);
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(a1, ma, NULL, NULL));
    ASSERT_OK(kvbm_request_seq_stage_pending(b1, NULL, NULL));
    ASSERT_OK(kvbm_request_seq_register_staged(b1, mb, NULL, NULL));
    kvbm_request_seq *a2 = allocated_req(ma, 12, 7), *b2 = allocated_req(mb, 12, 7);
    ASSERT_OK(kvbm_request_seq_complete_and_register_pending(a2, ma, NULL, NULL));
    ASSERT_OK(kvbm_request_seq_stage_pending(b2, NULL, NULL));
    ASSERT_OK(kvbm_request_seq_register_staged(b2, mb, NULL, NULL));
    expect_same(a2, ma, b2, mb);
    const kvbm_logical_asg *l1 = kvbm_request_seq_assignments(a1), *l2 = kvbm_request_seq_assignments(a2);
    for (size_t i = 0; i < 3; i++) {
        uint32_t i1 = 0, i2 = 0;
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(l1, i, &i1, NULL));
        ASSERT_TRUE(kvbm_logical_asg_get_assigned(l2, i, &i2, NULL));
        if (policy == KVBM_DUP_REJECT) EXPECT_EQ(i1, i2);
        else EXPECT_NE(i1, i2);
        EXPECT_TRUE(kvbm_logical_asg_contains(l2, i2));
    }
    EXPECT_EQ(tm_metric(ma, policy == KVBM_DUP_REJECT ? KVBM_METRIC_registration_dedup
                                                       : KVBM_METRIC_duplicate_blocks), 3);
    kvbm_request_seq_destroy(a1);
    kvbm_request_seq_destroy(a2);
    kvbm_request_seq_destroy(b1);
    kvbm_request_seq_destroy(b2);
    EXPECT_EQ(kvbm_manager_available_blocks(ma), 20);
    tm_manager_destroy(ma);
    tm_manager_destroy(mb);
}

KVBM_TEST(fast_path_equals_two_step_duplicates_allow) { same_tokens_twice(KVBM_DUP_ALLOW); }
KVBM_TEST(fast_path_equals_two_step_duplicates_reject) { same_tokens_twice(KVBM_DUP_REJECT); }

/* Fail every allocation of complete_and_register_pending in turn (the fast path's, then
 * the fallback's): the call either succeeds or fails with ENOMEM, no block is lost or
 * held twice, and a retry without the failure completes the registration. */
KVBM_TEST(fast_path_allocation_failures_fall_back)
{
    bool fired_once = false;
    for (long nth = 1; nth < 64; nth++) {
        kvbm_manager *m = create_test_manager(20);
        kvbm_request_seq *r = allocated_req(m, 14, 3);
        size_t total = kvbm_request_seq_unassigned_blocks(r);
        kvbm__alloc_fail_set(nth);
        kvbm_status st = kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL);
        bool fired = kvbm__alloc_fail_pending() == 0;
        kvbm__alloc_fail_set(0);
        EXPECT_TRUE(st == KVBM_OK || st == KVBM_ENOMEM);
        if (st != KVBM_OK) EXPECT_TRUE(fired);
        EXPECT_EQ(kvbm_request_seq_assigned_blocks(r) + kvbm_request_seq_staged_blocks(r) +
                      kvbm_request_seq_unassigned_blocks(r), total);
        CHECK_INVARIANTS(m);
        ASSERT_OK(kvbm_request_seq_complete_and_register_pending(r, m, NULL, NULL));
        EXPECT_EQ(kvbm_request_seq_assigned_blocks(r), 3);
        EXPECT_EQ(kvbm_request_seq_staged_blocks(r), 0);
        EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_immutable), 3);
        kvbm_request_seq_destroy(r);
        EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
        tm_manager_destroy(m);
        if (fired) fired_once = true;
        if (!fired) break; /* every allocation site has been failed once */
    }
    EXPECT_TRUE(fired_once);
}
