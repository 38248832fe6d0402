/* tests/manager/test_blocks.c - block handle tests: 10-core §7.2 (pools/tests.rs; the
 * "bare store" is a HashMap/FIFO manager of 5 blocks of size 4), §7.4 (store map keys),
 * §7.7 (lifecycle pins). [D] cases use the describe functions of manager.h. */
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"

static kvbm_manager *bare_store(void)
{
    return create_test_manager_with_backend(5, KVBM_BACKEND_HASHMAP);
}

/* ---- §7.2 -------------------------------------------------------------------------- */

KVBM_TEST(test_mutable_block_complete_error_returns_block)
{
    kvbm_manager *m = bare_store();
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    uint32_t id = kvbm_mutable_block_id(mb);
    uint32_t t[8];
    tm_iota(0, 8, t);
    uint32_t exp = 0, act = 0;
    EXPECT_STATUS(CK(tm_complete_tokens(mb, t, 8, TEST_SALT, &cb, &exp, &act)), KVBM_ESIZE);
    EXPECT_EQ(exp, 4);
    EXPECT_EQ(act, 8);
    EXPECT_TRUE(cb == NULL);
    EXPECT_EQ(kvbm_mutable_block_id(mb), id);
    EXPECT_EQ(kvbm_mutable_block_size(mb), 4);
    /* the recovered block still works */
    EXPECT_OK(CK(tm_complete_tokens(mb, t, 4, TEST_SALT, &cb, NULL, NULL)));
    EXPECT_EQ(kvbm_complete_block_id(cb), id);
    tm_release_completes(&cb, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(test_mutable_block_stage_and_debug)
{
    kvbm_manager *m = bare_store();
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    char buf[256];
    int len = kvbm_mutable_describe(mb, buf, sizeof buf);
    EXPECT_GT(len, 0);
    EXPECT_STR_CONTAINS(buf, "MutableBlock");
    /* snprintf rules: the full length is returned even when truncated */
    char small[4];
    EXPECT_EQ(kvbm_mutable_describe(mb, small, sizeof small), len);
    EXPECT_EQ(strlen(small), 3);
    kvbm_plh h = tm_hash_for_id(77);
    ASSERT_OK(CK(kvbm_mutable_stage(mb, h, 4, &cb, NULL, NULL)));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_complete_seq_hash(cb), h));
    EXPECT_EQ(kvbm_complete_block_size(cb), 4);
    tm_release_completes(&cb, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(test_complete_block_reset)
{
    kvbm_manager *m = bare_store();
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb = NULL, *again = NULL;
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    uint32_t id = kvbm_mutable_block_id(mb);
    ASSERT_OK(CK(kvbm_mutable_stage(mb, tm_hash_for_id(1), 4, &cb, NULL, NULL)));
    ASSERT_OK(CK(kvbm_complete_reset(cb, &again)));
    EXPECT_EQ(kvbm_mutable_block_id(again), id);
    tm_release_mutables(&again, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 5);
    tm_manager_destroy(m);
}

KVBM_TEST(test_immutable_block_downgrade_and_upgrade)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(3);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    EXPECT_GE(kvbm_block_use_count(b), 1);
    kvbm_weak *w = NULL;
    kvbm_block *u = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_weak_seq_hash(w), h));
    ASSERT_OK(CK(kvbm_weak_upgrade(w, &u)));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(u), h));
    EXPECT_EQ(kvbm_block_id(u), kvbm_block_id(b));
    tm_release_blocks(&u, 1);
    tm_release_blocks(&b, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

KVBM_TEST(test_weak_block_upgrade_via_resurrection)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(4);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    uint32_t id = kvbm_block_id(b);
    kvbm_weak *w = NULL;
    kvbm_block *u = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    tm_release_blocks(&b, 1);
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
    ASSERT_OK(CK(kvbm_weak_upgrade(w, &u)));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(u), h));
    EXPECT_EQ(kvbm_block_id(u), id);
    EXPECT_FALSE(kvbm_manager_has_inactive(m, h));
    EXPECT_EQ(MET(m, inflight_immutable), 1);
    tm_release_blocks(&u, 1);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

KVBM_TEST(test_immutable_and_weak_block_debug)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b = tm_register_hash(m, tm_hash_for_id(5));
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    char buf[256];
    EXPECT_GT(kvbm_block_describe(b, buf, sizeof buf), 0);
    EXPECT_STR_CONTAINS(buf, "ImmutableBlock");
    char want[32];
    snprintf(want, sizeof want, "block_id: %u", (unsigned)kvbm_block_id(b));
    EXPECT_STR_CONTAINS(buf, want);
    EXPECT_GT(kvbm_weak_describe(w, buf, sizeof buf), 0);
    EXPECT_STR_CONTAINS(buf, "WeakBlock");
    CKV(kvbm_weak_release(w));
    tm_release_blocks(&b, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(test_weak_block_upgrade_fails_when_evicted)
{
    kvbm_manager *m = create_test_manager(10);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(6);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    tm_release_blocks(&b, 1);
    for (uint32_t i = 0; i < 10; i++) tm_register_and_drop(m, tm_hash_for_id(1000 + 10 * i));
    kvbm_block *u = NULL;
    EXPECT_STATUS(CK(kvbm_weak_upgrade(w, &u)), KVBM_ENOENT);
    EXPECT_TRUE(u == NULL);
    CKV(kvbm_weak_release(w));
    tm_manager_destroy(m);
}

/* ---- §7.4 store map keys -------------------------------------------------------------- */

static void five_keys(kvbm_plh k[5])
{
    k[0] = tm_plh(0x1, false, 0, 0);
    k[1] = tm_plh(0x2, true, 0x1, 1);
    k[2] = tm_plh(0x3, true, 0x2, 2);
    k[3] = tm_plh(0xAA, true, 0x11, 5);
    k[4] = tm_plh(0xAA, true, 0x22, 5);
}

/* The store's hash -> block map is internal; the round trip is observed through the
 * manager: each key registers, is found again by match (active) and, after release, by
 * has_inactive + match (inactive); re-registration under Reject "overwrites" to the same
 * block; evict-on-reset "removes" the key. */
KVBM_TEST(seq_hash_map_round_trips_keys)
{
    kvbm_manager *m = create_test_manager_with_policy(8, KVBM_DUP_REJECT);
    ASSERT_TRUE(m != NULL);
    kvbm_plh k[5];
    five_keys(k);
    kvbm_block *b[5] = { 0 };
    ASSERT_TRUE(tm_register_hashes(m, k, 5, b));
    for (int i = 0; i < 5; i++) {
        kvbm_block *out[1] = { NULL };
        size_t n = 0;
        EXPECT_OK(CK(kvbm_manager_match_blocks(m, &k[i], 1, out, &n)));
        EXPECT_EQ(n, 1);
        if (n == 1) {
            EXPECT_EQ(kvbm_block_id(out[0]), kvbm_block_id(b[i]));
            EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(out[0]), k[i]));
        }
        tm_release_blocks(out, n);
    }
    /* overwrite: same key again returns the existing entry */
    kvbm_block *dup = tm_register_hash(m, k[3]);
    ASSERT_TRUE(dup != NULL);
    EXPECT_EQ(kvbm_block_id(dup), kvbm_block_id(b[3]));
    tm_release_blocks(&dup, 1);
    /* remove: k[4] leaves the store entirely, the others stay cached */
    EXPECT_OK(CK(kvbm_block_set_evict_on_reset(b[4], true)));
    tm_release_blocks(b, 5);
    for (int i = 0; i < 4; i++) EXPECT_TRUE(kvbm_manager_has_inactive(m, k[i]));
    EXPECT_FALSE(kvbm_manager_has_inactive(m, k[4]));
    kvbm_block *out[5] = { 0 };
    size_t n = 0;
    EXPECT_OK(CK(kvbm_manager_match_blocks(m, &k[4], 1, out, &n)));
    EXPECT_EQ(n, 0);
    EXPECT_OK(CK(kvbm_manager_match_blocks(m, k, 5, out, &n)));
    EXPECT_EQ(n, 4);
    tm_release_blocks(out, n);
    tm_manager_destroy(m);
}

KVBM_TEST(id_hasher_distinguishes_distinct_keys)
{
    kvbm_plh k[5];
    five_keys(k);
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) {
            EXPECT_FALSE(kvbm_plh_eq(k[i], k[j]));
            EXPECT_NE_U64(kvbm_plh_fold(k[i]), kvbm_plh_fold(k[j]));
            EXPECT_NE_U64(kvbm_plh_hash64(k[i]), kvbm_plh_hash64(k[j]));
        }
    /* equal keys give equal digests */
    kvbm_plh again = tm_plh(0xAA, true, 0x11, 5);
    EXPECT_TRUE(kvbm_plh_eq(again, k[3]));
    EXPECT_EQ_U64(kvbm_plh_fold(again), kvbm_plh_fold(k[3]));
}

/* ---- §7.7 lifecycle pins ---------------------------------------------------------------- */

KVBM_TEST(manager_id_unique_across_managers)
{
    kvbm_manager *a = create_test_manager(4), *b = create_test_manager(4);
    ASSERT_TRUE(a != NULL && b != NULL);
    EXPECT_NE_U64(tm_manager_id(a), tm_manager_id(b));
    EXPECT_NE_U64(tm_manager_id(a), KVBM_MANAGER_ID_NULL);
    EXPECT_NE_U64(tm_manager_id(b), KVBM_MANAGER_ID_NULL);
    tm_manager_destroy(a);
    tm_manager_destroy(b);
}

KVBM_TEST(manager_id_stable_across_clones)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(9);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_block *c = NULL;
    kvbm_pin *p1 = NULL, *p2 = NULL, *p3 = NULL;
    ASSERT_OK(CK(kvbm_block_clone(b, &c)));
    ASSERT_OK(CK(kvbm_block_pin(b, &p1)));
    ASSERT_OK(CK(kvbm_block_pin(c, &p2)));
    ASSERT_OK(CK(kvbm_pin_clone(p1, &p3)));
    uint64_t id = tm_manager_id(m);
    EXPECT_EQ_U64(kvbm_block_manager_id(b), id);
    EXPECT_EQ_U64(kvbm_pin_manager_id(p1), id);
    EXPECT_EQ_U64(kvbm_pin_manager_id(p2), id);
    EXPECT_EQ_U64(kvbm_pin_manager_id(p3), id);
    EXPECT_EQ(kvbm_pin_block_id(p1), kvbm_block_id(b));
    EXPECT_EQ(kvbm_pin_block_id(p3), kvbm_block_id(b));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_pin_seq_hash(p2), h));
    char buf[256];
    EXPECT_GT(kvbm_pin_describe(p1, buf, sizeof buf), 0);
    char want[32];
    snprintf(want, sizeof want, "%u", (unsigned)kvbm_block_id(b));
    EXPECT_STR_CONTAINS(buf, want);
    /* pins change no gauge */
    EXPECT_EQ(MET(m, inflight_immutable), 2);
    CK(kvbm_pin_release(p1));
    CK(kvbm_pin_release(p2));
    CK(kvbm_pin_release(p3));
    tm_release_blocks(&c, 1);
    tm_release_blocks(&b, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(pin_keeps_slot_active_after_block_drops)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(10);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    kvbm_pin *p = NULL;
    ASSERT_OK(CK(kvbm_block_pin(b, &p)));
    tm_release_blocks(&b, 1);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 0);
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    /* still matchable while pinned */
    kvbm_block *out[1] = { NULL };
    size_t n = 0;
    EXPECT_OK(CK(kvbm_manager_match_blocks(m, &h, 1, out, &n)));
    EXPECT_EQ(n, 1);
    tm_release_blocks(out, n);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 3);
    CK(kvbm_pin_release(p));
    EXPECT_EQ(kvbm_manager_available_blocks(m), 4);
    EXPECT_EQ(kvbm_manager_inactive_len(m), 1);
    tm_manager_destroy(m);
}

KVBM_TEST(pin_clone_is_arc_bump)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_block *b = tm_register_hash(m, tm_hash_for_id(11));
    ASSERT_TRUE(b != NULL);
    kvbm_pin *p = NULL, *q = NULL;
    ASSERT_OK(CK(kvbm_block_pin(b, &p)));
    uint32_t before = kvbm_pin_use_count(p);
    EXPECT_GE(before, 2);
    ASSERT_OK(CK(kvbm_pin_clone(p, &q)));
    EXPECT_EQ(kvbm_pin_use_count(p), before + 1);
    EXPECT_EQ(kvbm_block_use_count(b), before + 1);
    CK(kvbm_pin_release(q));
    EXPECT_EQ(kvbm_pin_use_count(p), before);
    CK(kvbm_pin_release(p));
    tm_release_blocks(&b, 1);
    tm_manager_destroy(m);
}

KVBM_TEST(pins_from_different_managers_have_different_addresses)
{
    kvbm_manager *a = create_test_manager(4), *b = create_test_manager(4);
    ASSERT_TRUE(a != NULL && b != NULL);
    uint32_t t[4] = { 1, 2, 3, 4 };
    kvbm_block *ba = register_one(a, 1), *bb = register_one(b, 1);
    ASSERT_TRUE(ba != NULL && bb != NULL);
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(ba), hash_for_tokens(t, 4)));
    kvbm_pin *pa = NULL, *pb = NULL;
    ASSERT_OK(CK(kvbm_block_pin(ba, &pa)));
    ASSERT_OK(CK(kvbm_block_pin(bb, &pb)));
    EXPECT_TRUE(kvbm_plh_eq(kvbm_pin_seq_hash(pa), kvbm_pin_seq_hash(pb)));
    EXPECT_NE_U64(kvbm_pin_manager_id(pa), kvbm_pin_manager_id(pb));
    EXPECT_EQ_U64(kvbm_pin_manager_id(pa), tm_manager_id(a));
    EXPECT_EQ_U64(kvbm_pin_manager_id(pb), tm_manager_id(b));
    CK(kvbm_pin_release(pa));
    CK(kvbm_pin_release(pb));
    tm_release_blocks(&ba, 1);
    tm_release_blocks(&bb, 1);
    tm_manager_destroy(a);
    tm_manager_destroy(b);
}

/* Store lifetime (README decision 4): handles outlive the manager. */
KVBM_TEST(handles_outlive_manager)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(12);
    kvbm_block *b = tm_register_hash(m, h);
    ASSERT_TRUE(b != NULL);
    kvbm_weak *w = NULL;
    kvbm_pin *p = NULL;
    kvbm_mutable *mb = NULL;
    ASSERT_OK(CK(kvbm_block_downgrade(b, &w)));
    ASSERT_OK(CK(kvbm_block_pin(b, &p)));
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    tm_manager_destroy(m);
    EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(b), h));
    EXPECT_OK(kvbm_block_release(b));
    kvbm_block *u = NULL;
    EXPECT_OK(kvbm_weak_upgrade(w, &u)); /* pinned: still alive */
    EXPECT_OK(kvbm_block_release(u));
    EXPECT_OK(kvbm_pin_release(p));
    EXPECT_OK(kvbm_mutable_release(mb));
    EXPECT_OK(kvbm_weak_upgrade(w, &u)); /* cached in the orphaned store */
    EXPECT_OK(kvbm_block_release(u));
    kvbm_weak_release(w);
}
