/* tests/manager/test_audit_counters.c - 10-core §7.1 audit_counter_tests with a metered
 * MultiLRU manager, the metered single_lock_match_tests (LRU), and the §5.5 touch
 * accounting table. The [A] test eager_primary_to_inactive_is_deterministic_with_pause_hook
 * is replaced by option_b_last_drop_vs_lookup_stress (test_race_regression.c); the two
 * fake-index rollback tests need the internal store constructor and live in
 * test_store_rollback.c. Every state change goes through CK(). */
#include "harness.h"
#include "support/manager_helpers.h"

#define METERED_MULTI_LRU(n, meter) create_test_manager_metered((n), KVBM_BACKEND_MULTI_LRU, (meter))

static void finish(kvbm_manager *m, metered_tracker *meter)
{
    tm_manager_destroy(m);
    metered_tracker_release(meter);
}

KVBM_TEST(match_inactive_block_touches_frequency_tracker_exactly_once)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = METERED_MULTI_LRU(4, &mt);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(1);
    tm_register_and_drop(m, h);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    metered_tracker_reset(mt);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    EXPECT_EQ(n, 1);
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    tm_release_blocks(out, n);
    finish(m, mt);
}

KVBM_TEST(scan_inactive_block_touches_frequency_tracker_exactly_once)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = METERED_MULTI_LRU(4, &mt);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(2);
    tm_register_and_drop(m, h);
    metered_tracker_reset(mt);
    kvbm_plh oh[1];
    kvbm_block *ob[1] = { NULL };
    size_t found = 0;
    ASSERT_OK(CK(kvbm_manager_scan_matches(m, &h, 1, true, oh, ob, &found)));
    EXPECT_EQ(found, 1);
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    tm_release_blocks(ob, found);
    finish(m, mt);
}

KVBM_TEST(scan_inactive_block_with_touch_false_does_not_touch)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = METERED_MULTI_LRU(4, &mt);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(3);
    tm_register_and_drop(m, h);
    metered_tracker_reset(mt);
    kvbm_plh oh[1];
    kvbm_block *ob[1] = { NULL };
    size_t found = 0;
    ASSERT_OK(CK(kvbm_manager_scan_matches(m, &h, 1, false, oh, ob, &found)));
    EXPECT_EQ(found, 1);
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    tm_release_blocks(ob, found);
    finish(m, mt);
}

KVBM_TEST(match_active_block_touches_frequency_tracker_exactly_once)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = METERED_MULTI_LRU(4, &mt);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(4);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    metered_tracker_reset(mt);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    EXPECT_EQ(n, 1);
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    tm_release_blocks(out, n);
    tm_release_blocks(&b, 1);
    finish(m, mt);
}

KVBM_TEST(reset_inactive_pool_drains_and_clears_presence)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = METERED_MULTI_LRU(4, &mt);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[4];
    for (uint32_t i = 0; i < 4; i++) {
        h[i] = tm_hash_for_id(100 + 10 * i);
        tm_register_and_drop(m, h[i]);
    }
    EXPECT_EQ(kvbm_manager_inactive_len(m), 4);
    EXPECT_EQ(kvbm_manager_reset_len(m), 0);
    for (int i = 0; i < 4; i++) EXPECT_TRUE(tm_has_presence(m, h[i]));
    uint64_t exp = 0, act = 0;
    EXPECT_OK(CK(kvbm_manager_reset_inactive_pool(m, &exp, &act)));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(kvbm_manager_reset_len(m), 4);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);
    for (int i = 0; i < 4; i++) {
        EXPECT_FALSE(tm_has_presence(m, h[i]));
        EXPECT_FALSE(tm_is_registered(m, h[i]));
    }
    EXPECT_EQ(MET(m, evictions), 0);
    EXPECT_EQ(MET(m, allocations), 4);
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(MET(m, reset_pool_size), 4);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    finish(m, mt);
}

/* ---- single_lock_match_tests (metered) ------------------------------------------------- */

KVBM_TEST(match_mixed_prefix_touches_once_per_returned_block)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = create_test_manager_metered(5, KVBM_BACKEND_LRU, &mt);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[5];
    kvbm_block *held[5] = { 0 };
    for (uint32_t i = 0; i < 5; i++) {
        held[i] = register_one(m, 1000 + 10 * i);
        ASSERT_TRUE(held[i] != NULL);
        h[i] = kvbm_block_seq_hash(held[i]);
    }
    tm_release_blocks(&held[1], 1);
    tm_release_blocks(&held[3], 1);
    metered_tracker_reset(mt);
    kvbm_block *out[5] = { 0 };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, h, 5, out, &n)));
    EXPECT_EQ(n, 5);
    EXPECT_EQ(metered_tracker_touches(mt), 5);
    for (int i = 0; i < 5; i++) EXPECT_EQ(metered_tracker_key_touches(mt, h[i]), 2); /* register + match */
    tm_release_blocks(out, n);
    tm_release_blocks(held, 5);
    finish(m, mt);
}

KVBM_TEST(match_total_miss_touches_nothing)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = create_test_manager_metered(4, KVBM_BACKEND_LRU, &mt);
    ASSERT_TRUE(m != NULL);
    metered_tracker_reset(mt);
    kvbm_plh h = tm_hash_for_id(31337);
    kvbm_block *out[1] = { NULL };
    size_t n = 99;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, NULL, 0, out, &n)));
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    finish(m, mt);
}

/* ---- §5.5 touch accounting per public call ---------------------------------------------- */

KVBM_TEST(touch_accounting_table)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = METERED_MULTI_LRU(8, &mt);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(7), other = tm_hash_for_id(17);

    metered_tracker_reset(mt);
    kvbm_block *b = tm_register_hash(m, h); /* fresh handle: 1 touch */
    ASSERT_TRUE(b != NULL);
    EXPECT_EQ(metered_tracker_touches(mt), 1);

    metered_tracker_reset(mt);
    kvbm_block *d = tm_register_hash(m, h); /* handle exists (duplicate): 0 touches */
    ASSERT_TRUE(d != NULL);
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    tm_release_blocks(&d, 1); /* duplicate -> reset, no insert */
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    EXPECT_EQ(metered_tracker_counts(mt), 0);

    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    metered_tracker_reset(mt);
    tm_release_blocks(&b, 1); /* primary -> inactive: MultiLRU insert = 1 count, 0 touches */
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    EXPECT_EQ(metered_tracker_counts(mt), 1);

    metered_tracker_reset(mt);
    kvbm_block *u = NULL;
    ASSERT_OK(CK(kvbm_weak_upgrade(w, &u))); /* resurrection by weak upgrade: 0 */
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    tm_release_blocks(&u, 1);
    EXPECT_EQ(metered_tracker_counts(mt), 1);

    metered_tracker_reset(mt);
    kvbm_mutable *mb[8];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 8, mb, NULL, NULL))); /* evicts h: 0 */
    tm_release_mutables(mb, 8);
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    EXPECT_EQ(metered_tracker_counts(mt), 0);

    /* scan on a hash without registry handle: no touch; match miss: no touch */
    metered_tracker_reset(mt);
    kvbm_plh oh[1];
    kvbm_block *ob[1] = { NULL };
    size_t found = 9;
    ASSERT_OK(CK(kvbm_manager_scan_matches(m, &other, 1, true, oh, ob, &found)));
    EXPECT_EQ(found, 0);
    EXPECT_EQ(metered_tracker_touches(mt), 0);
    CKV(kvbm_weak_release(w));
    finish(m, mt);
}

/* §4.5: scan(touch) touches a hash whose registry handle exists even when the store misses
 * (e.g. the hash is only kept alive by a weak handle after eviction). */
KVBM_TEST(scan_touches_registered_hash_even_on_store_miss)
{
    metered_tracker *mt = NULL;
    kvbm_manager *m = create_test_manager_metered(1, KVBM_BACKEND_LRU, &mt);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(1);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    tm_release_blocks(&b, 1);
    tm_register_and_drop(m, tm_hash_for_id(11)); /* evicts h; the weak keeps its handle */
    EXPECT_TRUE(tm_is_registered(m, h));
    metered_tracker_reset(mt);
    kvbm_plh oh[1];
    kvbm_block *ob[1] = { NULL };
    size_t found = 9;
    ASSERT_OK(CK(kvbm_manager_scan_matches(m, &h, 1, true, oh, ob, &found)));
    EXPECT_EQ(found, 0);
    EXPECT_EQ(metered_tracker_touches(mt), 1);
    CKV(kvbm_weak_release(w));
    finish(m, mt);
}
