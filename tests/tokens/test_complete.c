/* tests/tokens/test_complete.c - MutableBlock completion from a TokenBlock (spec 10 §1.3):
 * matching size stages the block under the token block's PLH; a size mismatch returns the
 * same mutable block to the caller with expected/actual reported and nothing changed. */
#include "harness.h"
#include "kvbm/kvbm.h"

static kvbm_manager *mk_manager(uint32_t block_size, uint64_t count)
{
    kvbm_registry *reg = NULL;
    if (kvbm_registry_create(NULL, &reg) != KVBM_OK) return NULL;
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = reg;
    cfg.block_count = count;
    cfg.block_size = block_size;
    kvbm_manager *m = NULL;
    kvbm_status st = kvbm_manager_create(&cfg, &m);
    kvbm_registry_release(reg); /* the manager holds its own reference */
    return st == KVBM_OK ? m : NULL;
}

KVBM_TEST(complete_from_token_block)
{
    kvbm_manager *m = mk_manager(4, 4);
    ASSERT_TRUE(m != NULL);
    static const uint32_t toks[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    kvbm_token_seq *s = NULL;
    ASSERT_OK(kvbm_token_seq_create(toks, 8, 4, 1337, &s));
    kvbm_mutable *mb[2] = { NULL, NULL };
    ASSERT_OK(kvbm_manager_allocate(m, 2, mb, NULL, NULL));
    kvbm_complete *cb[2] = { NULL, NULL };
    for (int i = 0; i < 2; i++) {
        uint32_t e = 0, a = 0;
        const kvbm_token_block *tb = kvbm_token_seq_block(s, (size_t)i);
        ASSERT_OK(kvbm_mutable_complete(mb[i], tb, &cb[i], &e, &a));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_complete_seq_hash(cb[i]), kvbm_token_block_plh(tb)));
        EXPECT_EQ(kvbm_complete_block_size(cb[i]), 4);
    }
    kvbm_block *ib[2] = { NULL, NULL };
    ASSERT_OK(kvbm_manager_register_blocks(m, cb, 2, ib));
    kvbm_plh want[2];
    size_t n = 0, matched = 0;
    ASSERT_OK(kvbm_token_seq_plhs(s, want, 2, &n));
    for (int i = 0; i < 2; i++) EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(ib[i]), want[i]));
    kvbm_block *hit[2] = { NULL, NULL };
    ASSERT_OK(kvbm_manager_match_blocks(m, want, 2, hit, &matched));
    EXPECT_EQ(matched, 2);
    for (size_t i = 0; i < matched; i++) kvbm_block_release(hit[i]);
    kvbm_block_release(ib[0]);
    kvbm_block_release(ib[1]);
    kvbm_token_seq_destroy(s);
    kvbm_manager_destroy(m);
}

KVBM_TEST(complete_size_mismatch_returns_block)
{
    kvbm_manager *m = mk_manager(8, 2);
    ASSERT_TRUE(m != NULL);
    static const uint32_t toks[4] = { 1, 2, 3, 4 };
    kvbm_token_block *tb = NULL;
    ASSERT_OK(kvbm_token_block_create(toks, 4, 1337, NULL, &tb));
    kvbm_mutable *mb = NULL;
    ASSERT_OK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL));
    uint32_t id = kvbm_mutable_block_id(mb);
    kvbm_complete *cb = NULL;
    uint32_t e = 0, a = 0;
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_mutable_complete(mb, tb, &cb, &e, &a), KVBM_ESIZE);
    EXPECT_EQ(e, 8);
    EXPECT_EQ(a, 4);
    EXPECT_TRUE(cb == NULL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Block size mismatch: expected 8 tokens, got 4");
    /* the caller still owns the same mutable block; it can be completed properly */
    EXPECT_EQ(kvbm_mutable_block_id(mb), id);
    EXPECT_EQ(kvbm_mutable_block_size(mb), 8);
    static const uint32_t t8[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    kvbm_token_block *tb8 = NULL;
    ASSERT_OK(kvbm_token_block_create(t8, 8, 1337, NULL, &tb8));
    ASSERT_OK(kvbm_mutable_complete(mb, tb8, &cb, NULL, NULL));
    EXPECT_EQ(kvbm_complete_block_id(cb), id);
    EXPECT_OK(kvbm_complete_release(cb));
    EXPECT_EQ(kvbm_manager_reset_len(m), 2);
    kvbm_token_block_destroy(tb);
    kvbm_token_block_destroy(tb8);
    kvbm_manager_destroy(m);
}
