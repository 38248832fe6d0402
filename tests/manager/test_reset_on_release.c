/* tests/manager/test_reset_on_release.c - 10-core §7.1 reset_on_release_tests (§1.6).
 * The [A] case eager_resurrection_preserves_flag is replaced by the Option-B stress test in
 * test_race_regression.c (README decision 1). Every state change goes through CK(). */
#include "harness.h"
#include "support/manager_helpers.h"

static size_t match_count(kvbm_manager *m, kvbm_plh h)
{
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    if (CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)) != KVBM_OK) return 99;
    tm_release_blocks(out, n);
    return n;
}

KVBM_TEST(per_block_flag_bypasses_inactive_pool)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(1);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(b, true)));
    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(kvbm_manager_reset_len(m), 4);
    EXPECT_FALSE(kvbm_manager_has_inactive(m, h));
    EXPECT_FALSE(tm_is_registered(m, h));
    EXPECT_EQ(match_count(m, h), 0);
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 4);
    tm_manager_destroy(m);
}

KVBM_TEST(flag_does_not_prevent_inflight_sharing)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(2);
    kvbm_block *a = tm_register_hash(m, h), *b = NULL;
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(CK(kvbm_block_clone(a, &b)));
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, true)));
    tm_release_blocks(&a, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    EXPECT_TRUE(tm_is_registered(m, h));
    EXPECT_EQ(match_count(m, h), 1);
    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 4);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_FALSE(tm_is_registered(m, h));
    tm_manager_destroy(m);
}

KVBM_TEST(last_writer_wins_across_clones)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(3);
    kvbm_block *a = tm_register_hash(m, h), *b = NULL;
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(CK(kvbm_block_clone(a, &b)));
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, true)));
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(b, false)));
    tm_release_blocks(&a, 1);
    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 3);
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
    tm_manager_destroy(m);
}

KVBM_TEST(no_poisoning_across_registrations)
{
    kvbm_manager *m = create_test_manager(1);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h1 = tm_hash_for_id(4), h2 = tm_hash_for_id(14);
    kvbm_block *a = tm_register_hash(m, h1);
    ASSERT_TRUE(a != NULL);
    uint32_t slot = kvbm_block_id(a);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, true)));
    tm_release_blocks(&a, 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 1);
    kvbm_block *b = tm_register_hash(m, h2);
    ASSERT_TRUE(b != NULL);
    EXPECT_EQ(kvbm_block_id(b), slot);
    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h2));
    EXPECT_TRUE(tm_is_registered(m, h2));
    tm_manager_destroy(m);
}

KVBM_TEST(store_wide_default_resets_on_release)
{
    kvbm_manager *m = create_test_manager_with_default_reset_on_release(4, true);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(5);
    tm_register_and_drop(m, h);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(kvbm_manager_reset_len(m), 4);
    EXPECT_FALSE(tm_is_registered(m, h));
    tm_manager_destroy(m);
}

KVBM_TEST(opt_out_survives_inactive_resurrection)
{
    kvbm_manager *m = create_test_manager_with_default_reset_on_release(4, true);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(6);
    kvbm_block *a = tm_register_hash(m, h);
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, false)));
    tm_release_blocks(&a, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    tm_release_blocks(out, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_TRUE(tm_is_registered(m, h));
    tm_manager_destroy(m);
}

KVBM_TEST(per_block_can_opt_out_of_store_default)
{
    kvbm_manager *m = create_test_manager_with_default_reset_on_release(4, true);
    ASSERT_TRUE(m != NULL);
    kvbm_block *a = tm_register_hash(m, tm_hash_for_id(7));
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, false)));
    tm_release_blocks(&a, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 3);
    tm_manager_destroy(m);
}

KVBM_TEST(duplicate_release_still_resets_with_default_false)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(8);
    kvbm_block *p = tm_register_hash(m, h), *d = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL && d != NULL);
    EXPECT_EQ(kvbm_block_id(p), 0);
    EXPECT_EQ(kvbm_block_id(d), 1);
    EXPECT_TRUE(kvbm_block_is_duplicate(d));
    uint64_t reset0 = kvbm_manager_reset_len(m), inact0 = kvbm_manager_inactive_len(m);
    tm_release_blocks(&d, 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), reset0 + 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), inact0);
    tm_release_blocks(&p, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), inact0 + 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), reset0 + 1);
    tm_manager_destroy(m);
}

KVBM_TEST(override_survives_multiple_resurrection_cycles)
{
    kvbm_manager *m = create_test_manager_with_default_reset_on_release(4, true);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(9);
    kvbm_block *a = tm_register_hash(m, h);
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, false)));
    tm_release_blocks(&a, 1);
    for (int cycle = 0; cycle < 2; cycle++) {
        kvbm_block *out[1] = { NULL };
        size_t n = 0;
        ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
        ASSERT_EQ(n, 1);
        EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
        tm_release_blocks(out, 1);
        EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
        EXPECT_TRUE(tm_is_registered(m, h));
    }
    tm_manager_destroy(m);
}

KVBM_TEST(set_evict_on_reset_on_resurrected_inner_takes_effect)
{
    kvbm_manager *m = create_test_manager_with_default_reset_on_release(4, true);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(10);
    kvbm_block *a = tm_register_hash(m, h);
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, false)));
    tm_release_blocks(&a, 1);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(out[0], true)));
    tm_release_blocks(out, 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 4);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_FALSE(tm_is_registered(m, h));
    tm_manager_destroy(m);
}

KVBM_TEST(mixed_flags_in_single_register_blocks_call)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[3] = { tm_hash_for_id(100), tm_hash_for_id(110), tm_hash_for_id(120) };
    kvbm_block *b[3] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, 3, b));
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(b[0], true)));
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(b[2], true)));
    tm_release_blocks(b, 3);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 3);
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h[1]));
    EXPECT_FALSE(tm_is_registered(m, h[0]));
    EXPECT_TRUE(tm_is_registered(m, h[1]));
    EXPECT_FALSE(tm_is_registered(m, h[2]));
    tm_manager_destroy(m);
}

KVBM_TEST(override_discarded_on_eviction_back_to_mutable)
{
    kvbm_manager *m = create_test_manager_with_default_reset_on_release(1, true);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h1 = tm_hash_for_id(11), h2 = tm_hash_for_id(21);
    kvbm_block *a = tm_register_hash(m, h1);
    ASSERT_TRUE(a != NULL);
    uint32_t slot = kvbm_block_id(a);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, false)));
    tm_release_blocks(&a, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    kvbm_mutable *mb = NULL;
    kvbm_plh ev[1];
    size_t nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, ev, &nev)));
    ASSERT_EQ(nev, 1);
    EXPECT_TRUE(kvbm_plh_eq(ev[0], h1));
    EXPECT_FALSE(tm_is_registered(m, h1));
    EXPECT_EQ(MET(m, evictions), 1);
    kvbm_complete *cb = NULL;
    kvbm_block *b = NULL;
    ASSERT_OK(CK(kvbm_mutable_stage(mb, h2, 4, &cb, NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_register_block(m, cb, &b)));
    EXPECT_EQ(kvbm_block_id(b), slot);
    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_FALSE(tm_is_registered(m, h2));
    tm_manager_destroy(m);
}

KVBM_TEST(duplicate_set_evict_on_reset_is_noop)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(12);
    kvbm_block *p = tm_register_hash(m, h), *d = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL && d != NULL);
    uint32_t pid = kvbm_block_id(p);
    ASSERT_TRUE(kvbm_block_is_duplicate(d));
    uint64_t reset0 = kvbm_manager_reset_len(m), inact0 = kvbm_manager_inactive_len(m);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(d, true)));
    tm_release_blocks(&d, 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), reset0 + 1);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_block_id(out[0]), pid);
    tm_release_blocks(out, 1);
    tm_release_blocks(&p, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), inact0 + 1);
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
    tm_manager_destroy(m);
}

KVBM_TEST(metric_gauges_stay_coherent_under_reset_flag)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    kvbm_block *b = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 3);
    ASSERT_OK(CK(kvbm_mutable_stage(mb, tm_hash_for_id(13), 4, &cb, NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_register_block(m, cb, &b)));
    EXPECT_EQ(MET(m, inflight_immutable), 1);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 3);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(b, true)));
    EXPECT_EQ(MET(m, inflight_immutable), 1);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 3);
    tm_release_blocks(&b, 1);
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 4);
    tm_manager_destroy(m);
}

/* §1.6: the per-slot override is reset to the default when a CompleteBlock goes back to
 * Mutable, and Allow registration against a flagged inactive primary keeps the flag. */
KVBM_TEST(flag_reset_to_default_on_entry_to_mutable)
{
    kvbm_manager *m = create_test_manager(1);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(15);
    kvbm_block *a = tm_register_hash(m, h);
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(a, true)));
    tm_release_blocks(&a, 1); /* -> Reset (flag still true on the slot until re-entry) */
    kvbm_mutable *mb = NULL, *again = NULL;
    kvbm_complete *cb = NULL;
    kvbm_block *b = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    ASSERT_OK(CK(kvbm_mutable_stage(mb, h, 4, &cb, NULL, NULL)));
    ASSERT_OK(CK(kvbm_complete_reset(cb, &again)));
    ASSERT_OK(CK(kvbm_mutable_stage(again, h, 4, &cb, NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_register_block(m, cb, &b)));
    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    tm_manager_destroy(m);
}
