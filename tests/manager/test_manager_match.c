/* tests/manager/test_manager_match.c - 10-core §7.1 registration_tests, matching_tests,
 * single_lock_match_tests (unmetered), immutable_block_tests, upgrade_function_tests,
 * integration_tests (LRU), scan_matches_tests. Every state change goes through CK()/CKV(). */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"

/* ---- registration_tests ------------------------------------------------------------ */

KVBM_TEST(test_register_single_block)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    uint32_t t[4] = { 1, 2, 3, 4 };
    kvbm_plh h = hash_for_tokens_salt(t, 4, TEST_SALT);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    kvbm_block *b = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    uint32_t id = kvbm_mutable_block_id(mb);
    ASSERT_OK(CK(tm_complete_tokens(mb, t, 4, TEST_SALT, &cb, NULL, NULL)));
    EXPECT_EQ(kvbm_complete_block_id(cb), id);
    ASSERT_OK(CK(kvbm_manager_register_block(m, cb, &b)));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(b), h));
    EXPECT_EQ(kvbm_block_id(b), id);
    EXPECT_FALSE(kvbm_block_is_duplicate(b));
    EXPECT_EQ(MET(m, registrations), 1);
    EXPECT_EQ(MET(m, stagings), 1);
    EXPECT_TRUE(tm_is_registered(m, h));
    EXPECT_TRUE(tm_has_presence(m, h));
    tm_release_blocks(&b, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(test_register_multiple_blocks)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[3];
    kvbm_complete *cb[3];
    kvbm_block *b[3] = { 0 };
    kvbm_plh h[3];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 3, mb, NULL, NULL)));
    for (int i = 0; i < 3; i++) {
        h[i] = tm_hash_for_id((uint32_t)(100 * (i + 1)));
        ASSERT_OK(CK(kvbm_mutable_stage(mb[i], h[i], 4, &cb[i], NULL, NULL)));
    }
    ASSERT_OK(CK(kvbm_manager_register_blocks(m, cb, 3, b)));
    for (int i = 0; i < 3; i++) {
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(b[i]), h[i]));
        EXPECT_EQ(kvbm_block_id(b[i]), i);
    }
    EXPECT_EQ(MET(m, registrations), 3);
    EXPECT_EQ(MET(m, stagings), 3);
    EXPECT_EQ(MET(m, inflight_immutable), 3);
    tm_release_blocks(b, 3);
    tm_manager_destroy(m);
}

static void dedup_case(kvbm_dup_policy policy, uint32_t iota)
{
    kvbm_manager *m = create_test_manager_with_policy(10, policy);
    if (m == NULL) return;
    uint32_t t[4];
    tm_iota(iota, 4, t);
    kvbm_mutable *mb[2];
    kvbm_complete *cb[2];
    kvbm_block *b[2] = { 0 };
    if (CK(kvbm_manager_allocate(m, 2, mb, NULL, NULL)) != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "allocate");
        tm_manager_destroy(m);
        return;
    }
    uint32_t id0 = kvbm_mutable_block_id(mb[0]), id1 = kvbm_mutable_block_id(mb[1]);
    EXPECT_OK(CK(tm_complete_tokens(mb[0], t, 4, TEST_SALT, &cb[0], NULL, NULL)));
    EXPECT_OK(CK(tm_complete_tokens(mb[1], t, 4, TEST_SALT, &cb[1], NULL, NULL)));
    EXPECT_OK(CK(kvbm_manager_register_block(m, cb[0], &b[0])));
    EXPECT_OK(CK(kvbm_manager_register_block(m, cb[1], &b[1])));
    EXPECT_EQ(kvbm_block_id(b[0]), id0);
    EXPECT_EQ(MET(m, registrations), 2);
    if (policy == KVBM_DUP_ALLOW) {
        EXPECT_NE(kvbm_block_id(b[0]), kvbm_block_id(b[1]));
        EXPECT_EQ(kvbm_block_id(b[1]), id1);
        EXPECT_TRUE(kvbm_block_is_duplicate(b[1]));
        EXPECT_EQ(MET(m, duplicate_blocks), 1);
        EXPECT_EQ(MET(m, registration_dedup), 0);
        EXPECT_EQ(kvbm_manager_available_blocks(m), 8);
    } else {
        EXPECT_EQ(kvbm_block_id(b[0]), kvbm_block_id(b[1]));
        EXPECT_EQ(MET(m, registration_dedup), 1);
        EXPECT_EQ(MET(m, duplicate_blocks), 0);
        EXPECT_EQ(kvbm_manager_available_blocks(m), 9);
    }
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(b[0]), kvbm_block_seq_hash(b[1])));
    tm_release_blocks(b, 2);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    tm_manager_destroy(m);
}

KVBM_TEST(test_deduplication_policy_allow)
{
    dedup_case(KVBM_DUP_ALLOW, 200);
}

KVBM_TEST(test_deduplication_policy_reject)
{
    dedup_case(KVBM_DUP_REJECT, 300);
}

KVBM_TEST(test_register_mutable_block_from_existing_reject_returns_block_to_reset_pool)
{
    kvbm_manager *m = create_test_manager_with_policy(2, KVBM_DUP_REJECT);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[2];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 2, mb, NULL, NULL)));
    uint32_t p = kvbm_mutable_block_id(mb[0]), d = kvbm_mutable_block_id(mb[1]);
    kvbm_plh h = tm_hash_for_id(7);
    kvbm_complete *cp = NULL, *cd = NULL;
    kvbm_block *bp = NULL, *bd = NULL;
    ASSERT_OK(CK(kvbm_mutable_stage(mb[0], h, 4, &cp, NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_register_block(m, cp, &bp)));
    EXPECT_EQ(kvbm_block_id(bp), p);
    ASSERT_OK(CK(kvbm_mutable_stage(mb[1], h, 4, &cd, NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_register_block(m, cd, &bd)));
    EXPECT_EQ(kvbm_block_id(bd), p);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 1);
    kvbm_mutable *again = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &again, NULL, NULL)));
    EXPECT_EQ(kvbm_mutable_block_id(again), d);
    EXPECT_EQ(MET(m, registrations), 2);
    EXPECT_EQ(MET(m, registration_dedup), 1);
    EXPECT_EQ(MET(m, reset_pool_size), 0);
    tm_release_mutables(&again, 1);
    EXPECT_EQ(MET(m, reset_pool_size), 1);
    tm_release_blocks(&bp, 1);
    tm_release_blocks(&bd, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    tm_manager_destroy(m);
}

/* C hardening (§5.2): a CompleteBlock of another manager is rejected, nothing changes. */
KVBM_TEST(test_register_foreign_block_rejected)
{
    kvbm_manager *a = create_test_manager(4);
    kvbm_manager *b = create_test_manager(4);
    ASSERT_TRUE(a != NULL && b != NULL);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    kvbm_block *out = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(a, 1, &mb, NULL, NULL)));
    ASSERT_OK(CK(kvbm_mutable_stage(mb, tm_hash_for_id(1), 4, &cb, NULL, NULL)));
    EXPECT_STATUS(CK(kvbm_manager_register_block(b, cb, &out)), KVBM_EINVAL);
    EXPECT_TRUE(out == NULL);
    EXPECT_EQ(MET(b, registrations), 0);
    EXPECT_EQ(kvbm_manager_available_blocks(a), 3);
    EXPECT_EQ(kvbm_manager_available_blocks(b), 4);
    /* the caller still owns the block */
    ASSERT_OK(CK(kvbm_manager_register_block(a, cb, &out)));
    tm_release_blocks(&out, 1);
    tm_manager_destroy(a);
    tm_manager_destroy(b);
}

/* ---- matching_tests --------------------------------------------------------------------- */

KVBM_TEST(test_match_no_blocks)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(12345);
    kvbm_block *out[1] = { NULL };
    size_t n = 99;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(MET(m, match_hashes_requested), 1);
    EXPECT_EQ(MET(m, match_blocks_returned), 0);
    tm_manager_destroy(m);
}

KVBM_TEST(test_match_single_block)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(1);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_block_id(out[0]), kvbm_block_id(b));
    EXPECT_EQ(MET(m, match_hashes_requested), 1);
    EXPECT_EQ(MET(m, match_blocks_returned), 1);
    tm_release_blocks(out, 1);
    tm_release_blocks(&b, 1);
    EXPECT_EQ(MET(m, inactive_pool_size), 1);
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(out[0]), h));
    EXPECT_EQ(MET(m, match_hashes_requested), 2);
    EXPECT_EQ(MET(m, match_blocks_returned), 2);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    tm_release_blocks(out, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(test_match_multiple_blocks)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    uint32_t toks[16];
    tm_iota(500, 16, toks);
    kvbm_plh h[4];
    ASSERT_EQ(tm_chain_hashes(toks, 16, 4, TEST_SALT, h), 4);
    {
        kvbm_block *b[4] = { 0 };
        ASSERT_TRUE(tm_register_hashes(m, h, 4, b));
        tm_release_blocks(b, 4);
    }
    EXPECT_EQ(kvbm_manager_inactive_len(m), 4);
    kvbm_block *out[4] = { 0 };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 4, out, &n)));
    ASSERT_EQ(n, 4);
    for (int i = 0; i < 4; i++) EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(out[i]), h[i]));
    EXPECT_EQ(MET(m, match_hashes_requested), 4);
    EXPECT_EQ(MET(m, match_blocks_returned), 4);
    tm_release_blocks(out, 4);
    tm_manager_destroy(m);
}

KVBM_TEST(test_match_partial_blocks)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    uint32_t toks[12];
    tm_iota(700, 12, toks);
    kvbm_plh h[3];
    ASSERT_EQ(tm_chain_hashes(toks, 12, 4, TEST_SALT, h), 3);
    kvbm_block *b[2] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, 2, b));
    kvbm_block *out[3] = { 0 };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 3, out, &n)));
    EXPECT_EQ(n, 2);
    EXPECT_TRUE(out[2] == NULL);
    EXPECT_EQ(MET(m, match_hashes_requested), 3);
    EXPECT_EQ(MET(m, match_blocks_returned), 2);
    tm_release_blocks(out, n);
    tm_release_blocks(b, 2);
    tm_manager_destroy(m);
}

KVBM_TEST(test_match_blocks_returns_immutable_blocks)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(3);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(out[0], &w)));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_weak_seq_hash(w), h));
    CKV(kvbm_weak_release(w));
    tm_release_blocks(out, 1);
    tm_release_blocks(&b, 1);
    tm_manager_destroy(m);
}

/* duplicate input hashes yield several handles to the same block */
KVBM_TEST(test_match_duplicate_input_hashes)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(5);
    tm_register_and_drop(m, h);
    kvbm_plh in[2] = { h, h };
    kvbm_block *out[2] = { 0 };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, in, 2, out, &n)));
    ASSERT_EQ(n, 2);
    EXPECT_EQ(kvbm_block_id(out[0]), kvbm_block_id(out[1]));
    EXPECT_EQ(MET(m, inflight_immutable), 2);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    tm_release_blocks(out, 2);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    tm_manager_destroy(m);
}

/* ---- single_lock_match_tests ------------------------------------------------------------- */

/* register blocks with bases base0 + 10*i; drop the ones flagged in @inactive_mask */
static bool setup_mixed(kvbm_manager *m, int n, unsigned inactive_mask, kvbm_block **held, kvbm_plh *h)
{
    for (int i = 0; i < n; i++) {
        uint32_t t[4];
        tm_iota((uint32_t)(1000 + 10 * i), 4, t);
        h[i] = hash_for_tokens(t, 4);
        held[i] = register_one(m, (uint32_t)(1000 + 10 * i));
        if (held[i] == NULL) return false;
        if (!kvbm_plh_eq(kvbm_block_seq_hash(held[i]), h[i])) return false;
    }
    for (int i = 0; i < n; i++)
        if (inactive_mask & (1u << i)) tm_release_blocks(&held[i], 1);
    return true;
}

static void expect_match_prefix(kvbm_manager *m, const kvbm_plh *h, size_t n, size_t want)
{
    kvbm_block *out[8] = { 0 };
    size_t got = 99;
    EXPECT_OK(CK(kvbm_manager_match_blocks(m, h, n, out, &got)));
    EXPECT_EQ(got, want);
    for (size_t i = 0; i < got && i < want; i++)
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(out[i]), h[i]));
    tm_release_blocks(out, got <= 8 ? got : 8);
}

/* A chain of n registered blocks, those in @inactive_mask released (inactive), the rest
 * held (active): match_blocks returns all n, and the inactive ones are active afterwards
 * (inactive_len unchanged once the matched handles are released again). */
static void check_mixed_full_match(size_t capacity, size_t n, unsigned inactive_mask)
{
    kvbm_manager *m = create_test_manager(capacity);
    ASSERT_TRUE(m != NULL);
    kvbm_block *held[8];
    kvbm_plh h[8];
    ASSERT_TRUE(n <= 8);
    ASSERT_TRUE(setup_mixed(m, (int)n, inactive_mask, held, h));
    uint64_t inactive = (uint64_t)__builtin_popcount(inactive_mask);
    EXPECT_EQ(kvbm_manager_inactive_len(m), inactive);
    expect_match_prefix(m, h, n, n);
    EXPECT_EQ(kvbm_manager_inactive_len(m), inactive);
    tm_release_blocks(held, n);
    tm_manager_destroy(m);
}

KVBM_TEST(match_mixed_active_inactive_prefix_returns_full_length)
{
    check_mixed_full_match(6, 6, (1u << 2) | (1u << 3));
}

KVBM_TEST(match_inactive_then_active) { check_mixed_full_match(4, 2, 1u << 0); }

KVBM_TEST(match_active_inactive_active) { check_mixed_full_match(4, 3, 1u << 1); }

KVBM_TEST(match_stops_at_first_total_miss)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_block *held[3];
    kvbm_plh h[3];
    ASSERT_TRUE(setup_mixed(m, 3, 0, held, h));
    kvbm_plh q[4] = { h[0], h[1], tm_hash_for_id(999999), h[2] };
    expect_match_prefix(m, q, 4, 2);
    EXPECT_EQ(MET(m, match_hashes_requested), 4);
    EXPECT_EQ(MET(m, match_blocks_returned), 2);
    tm_release_blocks(held, 3);
    tm_manager_destroy(m);
}

KVBM_TEST(match_empty_input_returns_empty)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_block *out[1] = { NULL };
    size_t n = 99;
    EXPECT_OK(CK(kvbm_manager_match_blocks(m, NULL, 0, out, &n)));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(MET(m, match_blocks_returned), 0);
    EXPECT_EQ(MET(m, match_hashes_requested), 0);
    tm_manager_destroy(m);
}

/* ---- immutable_block_tests / upgrade_function_tests -------------------------------------- */

KVBM_TEST(test_immutable_block_downgrade_upgrade)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(11);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    kvbm_block *u = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    ASSERT_OK(CK(kvbm_weak_upgrade(w, &u)));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(u), h));
    EXPECT_EQ(kvbm_block_id(u), kvbm_block_id(b));
    EXPECT_EQ(MET(m, inflight_immutable), 2);
    tm_release_blocks(&u, 1);
    tm_release_blocks(&b, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

KVBM_TEST(test_weak_block_upgrade_after_drop)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(12);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    /* the hash is cached (inactive): §1.8 says the slow path resurrects it */
    kvbm_block *u = NULL;
    EXPECT_OK(CK(kvbm_weak_upgrade(w, &u)));
    if (u != NULL) {
        EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(u), h));
        EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    }
    tm_release_blocks(&u, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

/* n register+drop cycles of fresh hashes on an n-block LRU manager evict @h */
static void evict_by_cycles(kvbm_manager *m, uint32_t first_id, int cycles)
{
    for (int i = 0; i < cycles; i++) tm_register_and_drop(m, tm_hash_for_id(first_id + 10u * (uint32_t)i));
}

KVBM_TEST(test_weak_block_upgrade_nonexistent)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(1);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    tm_release_blocks(&b, 1);
    evict_by_cycles(m, 5000, 10);
    EXPECT_FALSE(kvbm_manager_has_inactive(m, h));
    /* the weak keeps the registry entry alive, but no slot holds the hash */
    EXPECT_TRUE(tm_is_registered(m, h));
    EXPECT_FALSE(tm_has_presence(m, h));
    kvbm_block *u = NULL;
    EXPECT_STATUS(CK(kvbm_weak_upgrade(w, &u)), KVBM_ENOENT);
    EXPECT_TRUE(u == NULL);
    CKV(kvbm_weak_release(w));
    EXPECT_FALSE(tm_is_registered(m, h));
    tm_manager_destroy(m);
}

KVBM_TEST(test_multiple_weak_blocks_same_sequence)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(21);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w[3] = { 0 };
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w[0])));
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w[1])));
    ASSERT_OK(CK(kvbm_weak_clone(w[0], &w[2])));
    tm_release_blocks(&b, 1);
    kvbm_block *u[3] = { 0 };
    for (int i = 0; i < 3; i++) {
        EXPECT_OK(CK(kvbm_weak_upgrade(w[i], &u[i])));
        if (u[i] != NULL) EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(u[i]), h));
    }
    if (u[0] && u[1] && u[2]) {
        EXPECT_EQ(kvbm_block_id(u[0]), kvbm_block_id(u[1]));
        EXPECT_EQ(kvbm_block_id(u[0]), kvbm_block_id(u[2]));
    }
    tm_release_blocks(u, 3);
    for (int i = 0; i < 3; i++) CKV(kvbm_weak_release(w[i]));
    tm_manager_destroy(m);
}

KVBM_TEST(test_upgrade_function_finds_active_blocks)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(31);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    kvbm_block *u = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    EXPECT_OK(CK(kvbm_weak_upgrade(w, &u)));
    if (u != NULL) EXPECT_EQ(kvbm_block_id(u), kvbm_block_id(b));
    tm_release_blocks(&u, 1);
    tm_release_blocks(&b, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

KVBM_TEST(test_upgrade_function_finds_inactive_blocks)
{
    kvbm_manager *m = create_test_manager(20);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(41);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    tm_release_blocks(&b, 1);
    evict_by_cycles(m, 7000, 10); /* 20 blocks: no eviction needed */
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
    kvbm_block *u = NULL;
    EXPECT_OK(CK(kvbm_weak_upgrade(w, &u)));
    if (u != NULL) EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(u), h));
    tm_release_blocks(&u, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

/* §1.8/§9.6: after eviction and re-registration on another slot, the weak (identity = hash)
 * upgrades to the new slot. */
KVBM_TEST(test_weak_upgrade_returns_reregistered_slot)
{
    kvbm_manager *m = create_test_manager(2);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(50);
    kvbm_block *b = tm_register_hash(m, h); /* slot 0 */
    ASSERT_TRUE(b != NULL);
    uint32_t first = kvbm_block_id(b);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    kvbm_block *other = tm_register_hash(m, tm_hash_for_id(60)); /* slot 1, held */
    ASSERT_TRUE(other != NULL);
    tm_release_blocks(&b, 1); /* h inactive on slot 0 */
    kvbm_mutable *mb = NULL;
    kvbm_plh ev[1];
    size_t nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, ev, &nev))); /* evicts h from slot 0 */
    ASSERT_EQ(nev, 1);
    EXPECT_TRUE(kvbm_plh_eq(ev[0], h));
    EXPECT_EQ(kvbm_mutable_block_id(mb), first);
    tm_release_blocks(&other, 1); /* slot 1 -> inactive; reset holds nothing */
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_mutable_stage(mb, tm_hash_for_id(70), 4, &cb, NULL, NULL)));
    kvbm_block *x = NULL;
    ASSERT_OK(CK(kvbm_manager_register_block(m, cb, &x))); /* slot 0 now holds id 70 */
    /* re-register h: the only evictable slot is 1 */
    kvbm_block *again = tm_register_hash(m, h);
    ASSERT_TRUE(again != NULL);
    EXPECT_NE(kvbm_block_id(again), first);
    kvbm_block *u = NULL;
    EXPECT_OK(CK(kvbm_weak_upgrade(w, &u)));
    if (u != NULL) EXPECT_EQ(kvbm_block_id(u), kvbm_block_id(again));
    tm_release_blocks(&u, 1);
    tm_release_blocks(&again, 1);
    tm_release_blocks(&x, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

/* ---- integration_tests ------------------------------------------------------------------- */

KVBM_TEST(test_full_lifecycle_single_block)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    uint32_t t[4] = { 9, 8, 7, 6 };
    kvbm_plh h = hash_for_tokens_salt(t, 4, TEST_SALT);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    kvbm_block *b = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    uint32_t id = kvbm_mutable_block_id(mb);
    ASSERT_OK(CK(tm_complete_tokens(mb, t, 4, TEST_SALT, &cb, NULL, NULL)));
    EXPECT_EQ(kvbm_complete_block_id(cb), id);
    ASSERT_OK(CK(kvbm_manager_register_block(m, cb, &b)));
    EXPECT_EQ(kvbm_block_id(b), id);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_block_id(out[0]), id);
    kvbm_weak *w = NULL;
    kvbm_block *u = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(out[0], &w)));
    ASSERT_OK(CK(kvbm_weak_upgrade(w, &u)));
    EXPECT_EQ(kvbm_block_id(u), id);
    tm_release_blocks(&u, 1);
    tm_release_blocks(out, 1);
    tm_release_blocks(&b, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

KVBM_TEST(test_concurrent_allocation_simulation)
{
    kvbm_manager *m = create_test_manager(50);
    ASSERT_TRUE(m != NULL);
    uint32_t toks[60];
    tm_iota(2000, 60, toks);
    kvbm_plh h[15];
    ASSERT_EQ(tm_chain_hashes(toks, 60, 4, TEST_SALT, h), 15);
    kvbm_mutable *mb[15];
    kvbm_complete *cb[15] = { 0 };
    kvbm_block *b[15] = { 0 };
    ASSERT_OK(CK(kvbm_manager_allocate(m, 10, mb, NULL, NULL)));
    for (int i = 0; i < 10; i++) ASSERT_OK(CK(kvbm_mutable_stage(mb[i], h[i], 4, &cb[i], NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_register_blocks(m, cb, 5, b)));
    ASSERT_OK(CK(kvbm_manager_allocate(m, 5, mb + 10, NULL, NULL)));
    for (int i = 10; i < 15; i++) ASSERT_OK(CK(kvbm_mutable_stage(mb[i], h[i], 4, &cb[i], NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_register_blocks(m, cb + 5, 10, b + 5)));
    kvbm_block *out[15] = { 0 };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 15, out, &n)));
    EXPECT_EQ(n, 15);
    for (size_t i = 0; i < n; i++) EXPECT_EQ(kvbm_block_id(out[i]), kvbm_block_id(b[i]));
    tm_release_blocks(out, n);
    tm_release_blocks(b, 15);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 50);
    tm_manager_destroy(m);
}

/* ---- scan_matches_tests --------------------------------------------------------------- */

KVBM_TEST(test_scan_matches_with_pool_size_gauges)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[3];
    for (uint32_t i = 0; i < 3; i++) {
        h[i] = tm_hash_for_id(100 + i * 10);
        tm_register_and_drop(m, h[i]);
    }
    EXPECT_EQ(MET(m, inactive_pool_size), 3);
    EXPECT_EQ(MET(m, reset_pool_size), 7);
    kvbm_plh q[3] = { h[0], tm_hash_for_id(424242), h[2] };
    kvbm_plh oh[3];
    kvbm_block *ob[3] = { 0 };
    size_t found = 0;
    ASSERT_OK(CK(kvbm_manager_scan_matches(m, q, 3, true, oh, ob, &found)));
    ASSERT_EQ(found, 2);
    EXPECT_TRUE(kvbm_plh_eq(oh[0], h[0]));
    EXPECT_TRUE(kvbm_plh_eq(oh[1], h[2]));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(ob[0]), h[0]));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(ob[1]), h[2]));
    EXPECT_EQ(MET(m, inactive_pool_size), 1);
    EXPECT_EQ(MET(m, scan_hashes_requested), 3);
    EXPECT_EQ(MET(m, scan_blocks_returned), 2);
    EXPECT_EQ(MET(m, inflight_immutable), 2);
    tm_release_blocks(ob, 2);
    EXPECT_EQ(MET(m, inactive_pool_size), 3);
    tm_manager_destroy(m);
}

/* one entry per distinct hash; an active block is found too; misses never stop the scan */
KVBM_TEST(test_scan_matches_distinct_and_active)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh a = tm_hash_for_id(1), b = tm_hash_for_id(11);
    kvbm_block *held = tm_register_hash(m, a);
    ASSERT_TRUE(held != NULL);
    tm_register_and_drop(m, b);
    kvbm_plh q[4] = { tm_hash_for_id(999), a, b, a };
    kvbm_plh oh[4];
    kvbm_block *ob[4] = { 0 };
    size_t found = 0;
    ASSERT_OK(CK(kvbm_manager_scan_matches(m, q, 4, false, oh, ob, &found)));
    ASSERT_EQ(found, 2);
    EXPECT_TRUE(kvbm_plh_eq(oh[0], a));
    EXPECT_TRUE(kvbm_plh_eq(oh[1], b));
    EXPECT_EQ(kvbm_block_id(ob[0]), kvbm_block_id(held));
    EXPECT_EQ(MET(m, scan_hashes_requested), 4);
    EXPECT_EQ(MET(m, scan_blocks_returned), 2);
    EXPECT_EQ(MET(m, inflight_immutable), 3);
    tm_release_blocks(ob, found);
    tm_release_blocks(&held, 1);
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 2);
    tm_manager_destroy(m);
}

/* reset_inactive_pool (§5.2): drains to reset, no evictions counted; mismatch when held */
KVBM_TEST(test_reset_inactive_pool_reports_mismatch)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh a = tm_hash_for_id(1), b = tm_hash_for_id(11);
    tm_register_and_drop(m, a);
    kvbm_block *held = tm_register_hash(m, b);
    ASSERT_TRUE(held != NULL);
    uint64_t exp = 0, act = 0;
    EXPECT_STATUS(CK(kvbm_manager_reset_inactive_pool(m, &exp, &act)), KVBM_ERESET_MISMATCH);
    EXPECT_EQ(exp, 4);
    EXPECT_EQ(act, 3);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0); /* not rolled back */
    EXPECT_FALSE(tm_has_presence(m, a));
    EXPECT_EQ(MET(m, evictions), 0);
    tm_release_blocks(&held, 1);
    EXPECT_OK(CK(kvbm_manager_reset_inactive_pool(m, &exp, &act)));
    EXPECT_EQ(kvbm_manager_reset_len(m), 4);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 4);
    tm_manager_destroy(m);
}
