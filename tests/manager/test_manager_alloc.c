/* tests/manager/test_manager_alloc.c - 10-core §7.1 builder_tests (LRU/validation),
 * block_size_tests, allocation_tests, lifecycle_tests (single-threaded), error_handling_tests
 * and the LRU-only capacity_lifecycle_tests. Every state change goes through CK()/CKV(),
 * which runs the §2.2 invariant checker on every live test manager. */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"

/* ---- builder_tests ---------------------------------------------------------------- */

/* Build from @cfg expecting KVBM_ECONFIG with @needle in kvbm_last_error(). */
static void expect_config_error(kvbm_manager_config *cfg, const char *needle)
{
    kvbm_manager *m = NULL;
    kvbm_clear_last_error();
    kvbm_status st = kvbm_manager_create(cfg, &m);
    EXPECT_STATUS(st, KVBM_ECONFIG);
    EXPECT_TRUE(m == NULL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), needle);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Builder validation failed: ");
    if (m != NULL) kvbm_manager_destroy(m);
}

static kvbm_registry *plain_registry(void)
{
    kvbm_registry *r = NULL;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) return NULL;
    return r;
}

KVBM_TEST(test_builder_with_lru_backend)
{
    tm_opts o = TM_OPTS_INIT(100);
    o.tracker_kind = TM_TRACKER_NONE;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    EXPECT_EQ(kvbm_manager_backend(m), KVBM_BACKEND_LRU);
    kvbm_mutable *mb[10];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 10, mb, NULL, NULL)));
    tm_release_mutables(mb, 10);
    tm_manager_destroy(m);
}

KVBM_TEST(test_builder_with_duplication_policy)
{
    tm_opts o = TM_OPTS_INIT(100);
    o.policy = KVBM_DUP_REJECT;
    kvbm_manager *m = tm_manager_create(&o);
    ASSERT_TRUE(m != NULL);
    EXPECT_EQ(kvbm_manager_duplication_policy(m), KVBM_DUP_REJECT);
    kvbm_mutable *mb[2];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 2, mb, NULL, NULL)));
    tm_release_mutables(mb, 2);
    tm_manager_destroy(m);
}

KVBM_TEST(test_builder_validation_zero_blocks)
{
    kvbm_registry *r = plain_registry();
    ASSERT_TRUE(r != NULL);
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = r;
    cfg.block_count = 0;
    expect_config_error(&cfg, "block_count must be greater than 0");
    kvbm_registry_release(r);
}

KVBM_TEST(test_builder_validation_missing_block_count)
{
    kvbm_registry *r = plain_registry();
    ASSERT_TRUE(r != NULL);
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = r;
    expect_config_error(&cfg, "block_count is required");
    kvbm_registry_release(r);
}

KVBM_TEST(test_builder_validation_missing_registry)
{
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.block_count = 10;
    expect_config_error(&cfg, "registry is required");
}

/* validation order: registry first, then block_count, then block size */
KVBM_TEST(test_builder_validation_order)
{
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.block_count = 0;
    cfg.block_size = 7;
    expect_config_error(&cfg, "registry is required");
    kvbm_registry *r = plain_registry();
    ASSERT_TRUE(r != NULL);
    cfg.registry = r;
    expect_config_error(&cfg, "block_count must be greater than 0");
    kvbm_registry_release(r);
}

/* ---- block_size_tests --------------------------------------------------------------- */

KVBM_TEST(test_default_block_size)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    EXPECT_EQ(kvbm_manager_block_size(m), 4);
    tm_manager_destroy(m);
}

KVBM_TEST(test_custom_block_size)
{
    kvbm_manager *m = create_test_manager_with_block_size(10, 32);
    ASSERT_TRUE(m != NULL);
    EXPECT_EQ(kvbm_manager_block_size(m), 32);
    kvbm_mutable *mb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    EXPECT_EQ(kvbm_mutable_block_size(mb), 32);
    tm_release_mutables(&mb, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(test_block_size_validation_correct_size)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    uint32_t t[4] = { 1, 2, 3, 4 };
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    ASSERT_OK(CK(tm_complete_tokens(mb, t, 4, TEST_SALT, &cb, NULL, NULL)));
    EXPECT_EQ(kvbm_complete_block_size(cb), 4);
    EXPECT_TRUE(kvbm_plh_eq(kvbm_complete_seq_hash(cb), hash_for_tokens_salt(t, 4, TEST_SALT)));
    tm_release_completes(&cb, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(test_block_size_validation_wrong_size)
{
    kvbm_manager *m = create_test_manager_with_block_size(10, 8);
    ASSERT_TRUE(m != NULL);
    uint32_t t[4] = { 1, 2, 3, 4 };
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    uint32_t id = kvbm_mutable_block_id(mb);
    uint32_t exp = 0, act = 0;
    kvbm_clear_last_error();
    EXPECT_STATUS(CK(tm_complete_tokens(mb, t, 4, TEST_SALT, &cb, &exp, &act)), KVBM_ESIZE);
    EXPECT_TRUE(cb == NULL);
    EXPECT_EQ(exp, 8);
    EXPECT_EQ(act, 4);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Block size mismatch: expected 8 tokens, got 4");
    /* the caller still owns the unchanged mutable block */
    EXPECT_EQ(kvbm_mutable_block_id(mb), id);
    EXPECT_EQ(MET(m, inflight_mutable), 1);
    EXPECT_EQ(MET(m, stagings), 0);
    tm_release_mutables(&mb, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    tm_manager_destroy(m);
}

KVBM_TEST(test_builder_block_size_power_of_two)
{
    for (uint32_t bs = 1; bs <= 1024; bs <<= 1) {
        kvbm_manager *m = create_test_manager_with_block_size(4, bs);
        ASSERT_TRUE(m != NULL);
        EXPECT_EQ(kvbm_manager_block_size(m), bs);
        tm_manager_destroy(m);
    }
}

static void expect_block_size_error(uint32_t bs, const char *needle)
{
    kvbm_registry *r = plain_registry();
    if (r == NULL) { kvbm_test_fail(__FILE__, __LINE__, "registry"); return; }
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = r;
    cfg.block_count = 10;
    cfg.block_size = bs;
    expect_config_error(&cfg, needle);
    kvbm_registry_release(r);
}

KVBM_TEST(test_builder_block_size_not_power_of_two)
{
    expect_block_size_error(15, "block_size must be a power of 2");
    expect_block_size_error(15, "got 15");
}

KVBM_TEST(test_builder_block_size_too_large)
{
    expect_block_size_error(2048, "block_size must be between 1 and 1024");
    expect_block_size_error(2048, "got 2048");
}

KVBM_TEST(test_builder_block_size_zero)
{
    expect_block_size_error(0, "block_size must be between 1 and 1024");
}

KVBM_TEST(test_builder_validation_invalid_block_size)
{
    expect_block_size_error(7, "block_size must be a power of 2");
}

KVBM_TEST(test_different_block_sizes)
{
    uint32_t t4[4], t8[8];
    tm_iota(100, 4, t4);
    tm_iota(100, 8, t8);
    kvbm_manager *m4 = create_test_manager_with_block_size(10, 4);
    kvbm_manager *m8 = create_test_manager_with_block_size(10, 8);
    ASSERT_TRUE(m4 != NULL && m8 != NULL);
    kvbm_mutable *a = NULL, *b = NULL;
    kvbm_complete *ca = NULL, *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m4, 1, &a, NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_allocate(m8, 1, &b, NULL, NULL)));
    EXPECT_OK(CK(tm_complete_tokens(a, t4, 4, TEST_SALT, &ca, NULL, NULL)));
    EXPECT_OK(CK(tm_complete_tokens(b, t8, 8, TEST_SALT, &cb, NULL, NULL)));
    EXPECT_EQ(kvbm_complete_block_size(ca), 4);
    EXPECT_EQ(kvbm_complete_block_size(cb), 8);
    tm_release_completes(&ca, 1);
    tm_release_completes(&cb, 1);
    tm_manager_destroy(m4);
    tm_manager_destroy(m8);
}

/* ---- allocation_tests ------------------------------------------------------------------ */

KVBM_TEST(test_allocate_single_block)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 9);
    EXPECT_EQ(kvbm_manager_total_blocks(m), 10);
    EXPECT_EQ(MET(m, allocations), 1);
    EXPECT_EQ(MET(m, allocations_from_reset), 1);
    EXPECT_EQ(MET(m, inflight_mutable), 1);
    EXPECT_EQ(MET(m, reset_pool_size), 9);
    EXPECT_EQ(kvbm_mutable_block_size(mb), 4);
    tm_release_mutables(&mb, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 10);
    tm_manager_destroy(m);
}

KVBM_TEST(test_allocate_multiple_blocks)
{
    kvbm_manager *m = create_test_manager(20);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[5];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 5, mb, NULL, NULL)));
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            EXPECT_NE(kvbm_mutable_block_id(mb[i]), kvbm_mutable_block_id(mb[j]));
    /* a fresh manager hands out ids in FIFO order 0, 1, 2, ... (§2.6) */
    for (int i = 0; i < 5; i++) EXPECT_EQ(kvbm_mutable_block_id(mb[i]), i);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 15);
    EXPECT_EQ(MET(m, allocations), 5);
    EXPECT_EQ(MET(m, inflight_mutable), 5);
    tm_release_mutables(mb, 5);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    tm_manager_destroy(m);
}

KVBM_TEST(test_allocate_all_blocks)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[10];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 10, mb, NULL, NULL)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 0);
    tm_release_mutables(mb, 10);
    tm_manager_destroy(m);
}

KVBM_TEST(test_allocate_more_than_available)
{
    kvbm_manager *m = create_test_manager(5);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[10] = { 0 };
    size_t nev = 77;
    EXPECT_STATUS(CK(kvbm_manager_allocate(m, 10, mb, NULL, &nev)), KVBM_EEXHAUSTED);
    for (int i = 0; i < 10; i++) EXPECT_TRUE(mb[i] == NULL); /* nothing written */
    EXPECT_EQ(nev, 77);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 5);
    EXPECT_EQ(MET(m, allocations), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 5);
    tm_manager_destroy(m);
}

KVBM_TEST(test_allocate_zero_blocks)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[1] = { NULL };
    size_t nev = 77;
    EXPECT_OK(CK(kvbm_manager_allocate(m, 0, mb, NULL, &nev)));
    EXPECT_TRUE(mb[0] == NULL);
    EXPECT_EQ(MET(m, allocations), 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    tm_manager_destroy(m);
}

KVBM_TEST(test_sequential_allocations)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *g1[3], *g2[4], *g3[3], *x[1] = { NULL };
    ASSERT_OK(CK(kvbm_manager_allocate(m, 3, g1, NULL, NULL)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 7);
    EXPECT_EQ(MET(m, reset_pool_size), 7);
    ASSERT_OK(CK(kvbm_manager_allocate(m, 4, g2, NULL, NULL)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    EXPECT_EQ(MET(m, reset_pool_size), 3);
    ASSERT_OK(CK(kvbm_manager_allocate(m, 3, g3, NULL, NULL)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 0);
    EXPECT_EQ(MET(m, allocations), 10);
    EXPECT_EQ(MET(m, inflight_mutable), 10);
    EXPECT_STATUS(CK(kvbm_manager_allocate(m, 1, x, NULL, NULL)), KVBM_EEXHAUSTED);
    EXPECT_TRUE(x[0] == NULL);
    tm_release_mutables(g3, 3);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    EXPECT_EQ(MET(m, reset_pool_size), 3);
    EXPECT_EQ(MET(m, inflight_mutable), 7);
    tm_release_mutables(g2, 4);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 7);
    EXPECT_EQ(MET(m, reset_pool_size), 7);
    tm_release_mutables(g1, 3);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    EXPECT_EQ(MET(m, reset_pool_size), 10);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    tm_manager_destroy(m);
}

/* §2.6: a block returned to Reset goes to the back of the FIFO. */
KVBM_TEST(test_reset_pool_is_fifo)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *a[2], *b[2];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 2, a, NULL, NULL))); /* ids 0, 1 */
    EXPECT_EQ(kvbm_mutable_block_id(a[0]), 0);
    EXPECT_EQ(kvbm_mutable_block_id(a[1]), 1);
    tm_release_mutables(&a[0], 1); /* free = 2, 3, 0 */
    ASSERT_OK(CK(kvbm_manager_allocate(m, 2, b, NULL, NULL)));
    EXPECT_EQ(kvbm_mutable_block_id(b[0]), 2);
    EXPECT_EQ(kvbm_mutable_block_id(b[1]), 3);
    kvbm_mutable *c = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &c, NULL, NULL)));
    EXPECT_EQ(kvbm_mutable_block_id(c), 0);
    tm_release_mutables(&c, 1);
    tm_release_mutables(b, 2);
    tm_release_mutables(&a[1], 1);
    tm_manager_destroy(m);
}

/* ---- lifecycle_tests ------------------------------------------------------------------- */

KVBM_TEST(test_mutable_block_returns_to_reset_pool)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    {
        kvbm_mutable *mb[3];
        ASSERT_OK(CK(kvbm_manager_allocate(m, 3, mb, NULL, NULL)));
        EXPECT_EQ(kvbm_manager_available_blocks(m), 7);
        EXPECT_EQ(MET(m, inflight_mutable), 3);
        EXPECT_EQ(MET(m, reset_pool_size), 7);
        tm_release_mutables(mb, 3);
    }
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 10);
    tm_manager_destroy(m);
}

KVBM_TEST(test_complete_block_returns_to_reset_pool)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[2];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 2, mb, NULL, NULL)));
    uint32_t t3[3] = { 1, 2, 3 };
    for (int i = 0; i < 2; i++) {
        kvbm_complete *cb = NULL;
        uint32_t exp = 0, act = 0;
        EXPECT_STATUS(CK(tm_complete_tokens(mb[i], t3, 3, TEST_SALT, &cb, &exp, &act)), KVBM_ESIZE);
        EXPECT_EQ(exp, 4);
        EXPECT_EQ(act, 3);
    }
    /* the errors still hold the blocks */
    EXPECT_EQ(kvbm_manager_available_blocks(m), 8);
    EXPECT_EQ(MET(m, inflight_mutable), 2);
    EXPECT_EQ(MET(m, stagings), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 8);
    tm_release_mutables(mb, 2);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 10);
    tm_manager_destroy(m);
}

KVBM_TEST(test_registered_block_lifecycle)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    uint32_t t[4] = { 10, 11, 12, 13 };
    kvbm_plh h = hash_for_tokens_salt(t, 4, TEST_SALT);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    kvbm_block *b = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    EXPECT_EQ(MET(m, allocations), 1);
    EXPECT_EQ(MET(m, inflight_mutable), 1);
    EXPECT_EQ(MET(m, reset_pool_size), 9);
    ASSERT_OK(CK(tm_complete_tokens(mb, t, 4, TEST_SALT, &cb, NULL, NULL)));
    EXPECT_EQ(MET(m, stagings), 1);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 9);
    ASSERT_OK(CK(kvbm_manager_register_block(m, cb, &b)));
    EXPECT_EQ(MET(m, registrations), 1);
    EXPECT_EQ(MET(m, inflight_immutable), 1);
    EXPECT_EQ(MET(m, reset_pool_size), 9);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(b), h));

    kvbm_block *got[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, got, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_block_id(got[0]), kvbm_block_id(b));
    EXPECT_EQ(MET(m, match_hashes_requested), 1);
    EXPECT_EQ(MET(m, match_blocks_returned), 1);
    EXPECT_EQ(MET(m, inflight_immutable), 2);
    tm_release_blocks(got, 1);
    EXPECT_EQ(MET(m, inflight_immutable), 1);

    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    EXPECT_EQ(MET(m, inactive_pool_size), 1);
    EXPECT_EQ(MET(m, reset_pool_size), 9);
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h));

    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, got, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_FALSE(kvbm_manager_has_inactive(m, h));
    tm_release_blocks(got, 1);
    EXPECT_EQ(MET(m, inactive_pool_size), 1);
    tm_manager_destroy(m);
}

KVBM_TEST(test_full_block_lifecycle)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[5];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 5, mb, NULL, NULL)));
    kvbm_complete *cb[3] = { 0 };
    kvbm_plh h[3];
    for (int i = 0; i < 3; i++) {
        uint32_t t[4];
        tm_iota((uint32_t)(100 + 10 * i), 4, t);
        h[i] = hash_for_tokens_salt(t, 4, TEST_SALT);
        ASSERT_OK(CK(tm_complete_tokens(mb[i], t, 4, TEST_SALT, &cb[i], NULL, NULL)));
        mb[i] = NULL;
    }
    tm_release_mutables(&mb[3], 2);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 7);
    kvbm_block *ib[3] = { 0 };
    ASSERT_OK(CK(kvbm_manager_register_blocks(m, cb, 3, ib)));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 7);
    kvbm_block *got[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h[1], 1, got, &n)));
    EXPECT_EQ(n, 1);
    tm_release_blocks(&ib[0], 1);
    uint64_t av = kvbm_manager_available_blocks(m);
    EXPECT_GE(av, 7);
    EXPECT_LE(av, 10);
    tm_release_blocks(ib, 3);
    tm_release_blocks(got, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 10);
    tm_manager_destroy(m);
}

/* ---- error_handling_tests ------------------------------------------------------------- */

KVBM_TEST(test_allocation_exhaustion)
{
    kvbm_manager *m = create_test_manager(3);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *a[2], *b = NULL, *c = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 2, a, NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &b, NULL, NULL)));
    EXPECT_STATUS(CK(kvbm_manager_allocate(m, 1, &c, NULL, NULL)), KVBM_EEXHAUSTED);
    EXPECT_TRUE(c == NULL);
    tm_release_mutables(&b, 1);
    EXPECT_OK(CK(kvbm_manager_allocate(m, 1, &c, NULL, NULL)));
    tm_release_mutables(&c, 1);
    tm_release_mutables(a, 2);
    tm_manager_destroy(m);
}

KVBM_TEST(test_empty_sequence_matching)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_block *out[1] = { NULL };
    size_t n = 99;
    EXPECT_OK(CK(kvbm_manager_match_blocks(m, NULL, 0, out, &n)));
    EXPECT_EQ(n, 0);
    EXPECT_TRUE(out[0] == NULL);
    tm_manager_destroy(m);
}

KVBM_TEST(test_register_empty_block_list)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_block *out[1] = { NULL };
    EXPECT_OK(CK(kvbm_manager_register_blocks(m, NULL, 0, out)));
    EXPECT_TRUE(out[0] == NULL);
    EXPECT_EQ(MET(m, registrations), 0);
    tm_manager_destroy(m);
}

/* ---- capacity_lifecycle_tests (LRU-only cases) ---------------------------------------- */

KVBM_TEST(test_mutable_drops_go_to_reset_not_inactive)
{
    kvbm_manager *m = create_test_manager(16);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[16];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 16, mb, NULL, NULL)));
    tm_release_mutables(mb, 16);
    EXPECT_EQ(kvbm_manager_reset_len(m), 16);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 16);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    EXPECT_EQ(MET(m, registrations), 0);
    tm_manager_destroy(m);
}

KVBM_TEST(test_complete_drops_go_to_reset_not_inactive)
{
    kvbm_manager *m = create_test_manager(16);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb[16];
    kvbm_complete *cb[16] = { 0 };
    ASSERT_OK(CK(kvbm_manager_allocate(m, 16, mb, NULL, NULL)));
    for (uint32_t i = 0; i < 16; i++) {
        ASSERT_OK(CK(kvbm_mutable_stage(mb[i], tm_hash_for_id(i * 10), 4, &cb[i], NULL, NULL)));
        mb[i] = NULL;
    }
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 0);
    tm_release_completes(cb, 16);
    EXPECT_EQ(kvbm_manager_reset_len(m), 16);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 16);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, stagings), 16);
    EXPECT_EQ(MET(m, registrations), 0);
    tm_manager_destroy(m);
}

/* §1.4: CompleteBlock::reset -> Mutable with the same id; stagings is not decremented. */
KVBM_TEST(test_complete_reset_back_to_mutable_gauges)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb = NULL, *again = NULL;
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    uint32_t id = kvbm_mutable_block_id(mb);
    ASSERT_OK(CK(kvbm_mutable_stage(mb, tm_hash_for_id(1), 4, &cb, NULL, NULL)));
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    ASSERT_OK(CK(kvbm_complete_reset(cb, &again)));
    EXPECT_EQ(kvbm_mutable_block_id(again), id);
    EXPECT_EQ(MET(m, inflight_mutable), 1);
    EXPECT_EQ(MET(m, stagings), 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    tm_release_mutables(&again, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    tm_manager_destroy(m);
}
