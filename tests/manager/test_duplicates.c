/* tests/manager/test_duplicates.c - primary/duplicate semantics of 10-core §1.5, §2.4.6 and
 * the §2.7 table (Allow / Reject against a live, an inactive and no primary), plus the
 * batch release and registration-handle accessors of manager.h. Every state change goes
 * through CK(), which runs the §2.2 invariant checker. */
#include "harness.h"
#include "support/manager_helpers.h"

static uint32_t presence_count(kvbm_manager *m, kvbm_plh h)
{
    kvbm_handle *hd = NULL;
    if (kvbm_registry_match(kvbm_manager_registry(m), h, false, &hd) != KVBM_OK) return 0;
    uint32_t c = kvbm_handle_presence(hd, kvbm_manager_tier(m));
    kvbm_handle_release(hd);
    return c;
}

/* §2.7 row "live primary", Allow: duplicate + keepalive; lookups return the primary. */
KVBM_TEST(allow_duplicate_of_live_primary)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(1);
    kvbm_block *p = tm_register_hash(m, h), *d = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL && d != NULL);
    EXPECT_FALSE(kvbm_block_is_duplicate(p));
    EXPECT_TRUE(kvbm_block_is_duplicate(d));
    EXPECT_NE(kvbm_block_id(p), kvbm_block_id(d));
    EXPECT_EQ(MET(m, duplicate_blocks), 1);
    EXPECT_EQ(MET(m, registrations), 2);
    EXPECT_EQ(presence_count(m, h), 2);
    /* the duplicate holds a strong reference on the primary */
    EXPECT_GE(kvbm_block_use_count(p), 2);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_block_id(out[0]), kvbm_block_id(p));
    tm_release_blocks(out, 1);
    /* the primary stays Primary while its duplicate lives */
    tm_release_blocks(&p, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 2);
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_FALSE(kvbm_block_is_duplicate(out[0]));
    tm_release_blocks(out, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    /* dropping the duplicate resets its slot and releases the keepalive: primary -> inactive */
    tm_release_blocks(&d, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_reset_len(m), 3);
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
    EXPECT_EQ(presence_count(m, h), 1);
    EXPECT_EQ(MET(m, release_duplicate_noop), 0);
    tm_manager_destroy(m);
}

/* §2.7 row "P inactive", Allow: P is resurrected and pinned by the duplicate (§9.7). */
KVBM_TEST(allow_registration_resurrects_inactive_primary)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(2);
    kvbm_block *p = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL);
    uint32_t pid = kvbm_block_id(p);
    tm_release_blocks(&p, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    kvbm_block *d = tm_register_hash(m, h);
    ASSERT_TRUE(d != NULL);
    EXPECT_TRUE(kvbm_block_is_duplicate(d));
    EXPECT_NE(kvbm_block_id(d), pid);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0); /* resurrected */
    EXPECT_EQ(MET(m, inactive_pool_size), 0);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 2);
    EXPECT_EQ(MET(m, duplicate_blocks), 1);
    /* the resurrected primary cannot be evicted: only the 2 reset blocks are allocatable */
    kvbm_mutable *mb[3] = { 0 };
    EXPECT_STATUS(CK(kvbm_manager_allocate(m, 3, mb, NULL, NULL)), KVBM_EEXHAUSTED);
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    ASSERT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    ASSERT_EQ(n, 1);
    EXPECT_EQ(kvbm_block_id(out[0]), pid);
    tm_release_blocks(out, 1);
    tm_release_blocks(&d, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);
    tm_manager_destroy(m);
}

/* §2.7 row "P inactive", Reject: P is resurrected and returned; the input slot resets. */
KVBM_TEST(reject_registration_resurrects_inactive_primary)
{
    kvbm_manager *m = create_test_manager_with_policy(4, KVBM_DUP_REJECT);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(3);
    kvbm_block *p = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL);
    uint32_t pid = kvbm_block_id(p);
    tm_release_blocks(&p, 1);
    kvbm_block *again = tm_register_hash(m, h);
    ASSERT_TRUE(again != NULL);
    EXPECT_EQ(kvbm_block_id(again), pid);
    EXPECT_FALSE(kvbm_block_is_duplicate(again));
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(kvbm_manager_reset_len(m), 3);
    EXPECT_EQ(MET(m, registration_dedup), 1);
    EXPECT_EQ(MET(m, duplicate_blocks), 0);
    EXPECT_EQ(MET(m, inflight_immutable), 1);
    EXPECT_EQ(presence_count(m, h), 1);
    /* the rejected slot went to the back of the FIFO: ids 2, 3 come out before it */
    kvbm_mutable *mb[3];
    ASSERT_OK(CK(kvbm_manager_allocate(m, 3, mb, NULL, NULL)));
    EXPECT_EQ(kvbm_mutable_block_id(mb[0]), 2);
    EXPECT_EQ(kvbm_mutable_block_id(mb[1]), 3);
    EXPECT_EQ(kvbm_mutable_block_id(mb[2]), 1);
    tm_release_mutables(mb, 3);
    tm_release_blocks(&again, 1);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    tm_manager_destroy(m);
}

/* A weak made from a duplicate upgrades to the duplicate while it lives (fast path), and
 * to the primary once the duplicate is gone (slow path, §9.6). */
KVBM_TEST(weak_from_duplicate_upgrades_to_duplicate_then_primary)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(4);
    kvbm_block *p = tm_register_hash(m, h), *d = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL && d != NULL);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(d, &w)));
    kvbm_block *u = NULL;
    ASSERT_OK(CK(kvbm_weak_upgrade(w, &u)));
    EXPECT_EQ(kvbm_block_id(u), kvbm_block_id(d));
    tm_release_blocks(&u, 1);
    tm_release_blocks(&d, 1);
    ASSERT_OK(CK(kvbm_weak_upgrade(w, &u)));
    EXPECT_EQ(kvbm_block_id(u), kvbm_block_id(p));
    tm_release_blocks(&u, 1);
    tm_release_blocks(&p, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

/* Several duplicates of one hash; the primary caches only after the last one is gone. */
KVBM_TEST(many_duplicates_keep_primary_until_last)
{
    kvbm_manager *m = create_test_manager(6);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(5);
    kvbm_block *b[5] = { 0 };
    for (int i = 0; i < 5; i++) {
        b[i] = tm_register_hash(m, h);
        ASSERT_TRUE(b[i] != NULL);
    }
    EXPECT_EQ(MET(m, duplicate_blocks), 4);
    EXPECT_EQ(presence_count(m, h), 5);
    tm_release_blocks(&b[0], 1); /* the primary's own handle */
    for (int i = 1; i < 5; i++) {
        EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
        tm_release_blocks(&b[i], 1);
        EXPECT_EQ(presence_count(m, h), (uint32_t)(i == 4 ? 1 : 5 - i));
    }
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 6);
    tm_manager_destroy(m);
}

KVBM_TEST(release_many_releases_each_handle)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[3] = { tm_hash_for_id(10), tm_hash_for_id(20), tm_hash_for_id(30) };
    kvbm_block *b[4] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, h, 3, b));
    ASSERT_OK(CK(kvbm_block_clone(b[0], &b[3])));
    EXPECT_EQ(MET(m, inflight_immutable), 4);
    kvbm_block *many[5] = { b[0], NULL, b[1], b[2], b[3] };
    ASSERT_OK(CK(kvbm_block_release_many(many, 5)));
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 3);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);
    EXPECT_OK(CK(kvbm_block_release_many(NULL, 0)));
    tm_manager_destroy(m);
}

KVBM_TEST(registration_handle_and_ids)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(40);
    kvbm_mutable *mb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    EXPECT_EQ_U64(kvbm_mutable_manager_id(mb), tm_manager_id(m));
    kvbm_complete *cb = NULL;
    kvbm_block *b = NULL;
    ASSERT_OK(CK(kvbm_mutable_stage(mb, h, 4, &cb, NULL, NULL)));
    ASSERT_OK(CK(kvbm_manager_register_block(m, cb, &b)));
    kvbm_handle *hd = NULL;
    ASSERT_OK(kvbm_block_registration_handle(b, &hd));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_handle_seq_hash(hd), h));
    EXPECT_TRUE(kvbm_handle_is_from_registry(hd, kvbm_manager_registry(m)));
    EXPECT_TRUE(kvbm_handle_has_block(hd, kvbm_manager_tier(m)));
    kvbm_pin *p = NULL;
    kvbm_handle *hp = NULL;
    ASSERT_OK(CK(kvbm_block_pin(b, &p)));
    ASSERT_OK(kvbm_pin_registration_handle(p, &hp));
    EXPECT_TRUE(hp == hd); /* one live handle per hash */
    kvbm_handle_release(hp);
    CK(kvbm_pin_release(p));
    /* the external handle ref keeps the registry entry alive across an evict-on-reset drop */
    ASSERT_OK(CK(kvbm_block_set_evict_on_reset(b, true)));
    tm_release_blocks(&b, 1);
    EXPECT_TRUE(tm_is_registered(m, h));
    EXPECT_FALSE(kvbm_handle_has_block(hd, kvbm_manager_tier(m)));
    kvbm_handle_release(hd);
    EXPECT_FALSE(tm_is_registered(m, h));
    tm_manager_destroy(m);
}

/* §2.4.1: reset blocks first (FIFO), then evicted ones in backend order; evicted hashes
 * listed in the same order and no longer registered. */
KVBM_TEST(allocate_reset_first_then_evicted)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h[2] = { tm_hash_for_id(50), tm_hash_for_id(60) };
    tm_register_and_drop(m, h[0]); /* slot 0 */
    tm_register_and_drop(m, h[1]); /* slot 1 */
    kvbm_mutable *mb[3];
    kvbm_plh ev[3];
    size_t nev = 0;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 3, mb, ev, &nev)));
    EXPECT_EQ(kvbm_mutable_block_id(mb[0]), 2);
    EXPECT_EQ(kvbm_mutable_block_id(mb[1]), 3);
    EXPECT_EQ(kvbm_mutable_block_id(mb[2]), 0);
    ASSERT_EQ(nev, 1);
    EXPECT_TRUE(kvbm_plh_eq(ev[0], h[0]));
    EXPECT_FALSE(tm_is_registered(m, h[0]));
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h[1]));
    EXPECT_EQ(MET(m, evictions), 1);
    EXPECT_EQ(MET(m, allocations), 5);
    EXPECT_EQ(MET(m, allocations_from_reset), 4);
    tm_release_mutables(mb, 3);
    tm_manager_destroy(m);
}
