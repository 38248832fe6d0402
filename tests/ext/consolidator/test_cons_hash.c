/* tests/ext/consolidator/test_cons_hash.c - router projection of tracker PLHs (spec 20
 * §4.3.3; §5.5 hash.rs), through the core's kvbm_plh_router_block_hash/_parent_hash. */
#include "cons_test.h"

KVBM_TEST(router_parent_hash_is_none_at_position_zero)
{
    uint32_t tok[4] = {10, 20, 30, 40};
    kvbm_plh root;
    ASSERT_OK(kvbm_cons_block_plh(tok, 4, 4, NULL, NULL, &root));
    uint64_t parent = 12345;
    EXPECT_FALSE(kvbm_plh_router_parent_hash(root, &parent));
    EXPECT_EQ_U64(parent, 12345); /* untouched */
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(root), UINT64_C(3114443937531979)); /* §1.10.2 */
}

KVBM_TEST(router_parent_hash_equals_parent_router_block_hash_at_pos_one)
{
    uint32_t t0[4] = {10, 20, 30, 40}, t1[4] = {50, 60, 70, 80};
    kvbm_plh root, child;
    ASSERT_OK(kvbm_cons_block_plh(t0, 4, 4, NULL, NULL, &root));
    ASSERT_OK(kvbm_cons_block_plh(t1, 4, 4, NULL, &root, &child));
    EXPECT_EQ_U64(child.hi, UINT64_C(0x004b1091fc91c84b));
    EXPECT_EQ_U64(child.lo, UINT64_C(0xe9d314e0aef99641));
    uint64_t parent = 0;
    ASSERT_TRUE(kvbm_plh_router_parent_hash(child, &parent));
    EXPECT_EQ_U64(parent, kvbm_plh_router_block_hash(root));
    EXPECT_EQ_U64(parent, UINT64_C(3114443937531979));
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(child), UINT64_C(5370979798324801));
}

KVBM_TEST(fragments_correct_at_mode_boundary_255_to_256)
{
    /* single-token blocks 0..256 at S = 1337 through the tracker (spec §1.10.3) */
    kvbm_cons_tracker *t = NULL;
    ASSERT_OK(kvbm_cons_tracker_create(NULL, &t));
    for (uint32_t i = 0; i <= 256; i++) {
        uint64_t parent = i;
        ASSERT_OK(kvbm_cons_tracker_handle_store(t, KVBM_CONS_SOURCE_VLLM, i + 1, i ? &parent : NULL, &i, 1, 1, NULL));
    }
    kvbm_plh p254, p255, p256;
    ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, KVBM_CONS_SOURCE_VLLM, 255, &p254));
    ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, KVBM_CONS_SOURCE_VLLM, 256, &p255));
    ASSERT_TRUE(kvbm_cons_tracker_lookup_external(t, KVBM_CONS_SOURCE_VLLM, 257, &p256));
    EXPECT_EQ_U64(p254.hi, UINT64_C(0x3fba473a20a2bfcc));
    EXPECT_EQ_U64(p255.hi, UINT64_C(0x3fee8a4555e9f42d));
    EXPECT_EQ_U64(p256.hi, UINT64_C(0x40400dd18d0a0f0f));
    EXPECT_EQ_U64(p256.lo, UINT64_C(0xf915185cd5a208c3));
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(p254), UINT64_C(0x2e8a4555e9f42d)); /* 54 bits */
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(p255), UINT64_C(0xdd18d0a0f0f));    /* 46 bits */
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(p256), UINT64_C(0x185cd5a208c3));
    uint64_t par = 0;
    ASSERT_TRUE(kvbm_plh_router_parent_hash(p256, &par));
    EXPECT_EQ_U64(par, kvbm_plh_router_block_hash(p255));
    ASSERT_TRUE(kvbm_plh_router_parent_hash(p255, &par));
    EXPECT_EQ_U64(par, kvbm_plh_router_block_hash(p254));
    kvbm_cons_tracker_destroy(t);
}
