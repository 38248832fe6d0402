/* tests/manager/test_block_props.c - 10-core §7.3 block property tests as seeded random
 * loops (each prints its seed; KVBM_TEST_SEED replays it), plus the fixed regression case
 * "block_size = 1, token_count = 3, block_id = 0". Token blocks come from kvbm/tokens.h
 * (tm_complete_tokens); every state change goes through CK(). */
#include <stdlib.h>

#include "harness.h"
#include "kvbm/tokens.h"
#include "support/manager_helpers.h"

#define PROP_CASES 256

static const uint32_t common_sizes[4] = { 1, 4, 16, 64 }; /* COMMON_TEST_BLOCK_SIZES */

static uint64_t announce(const char *name)
{
    uint64_t seed = test_seed();
    printf("    %s: seed=%" PRIu64 " (KVBM_TEST_SEED=%" PRIu64 " to replay)\n", name, seed, seed);
    return seed;
}

static void random_tokens(uint64_t *rng, uint32_t lo, uint32_t hi, size_t n, uint32_t *out)
{
    for (size_t i = 0; i < n; i++) out[i] = lo + (uint32_t)tm_rand_below(rng, hi - lo);
}

/* Allocate @k blocks, keep a random one in *@keep, release the others. */
static kvbm_status pick_block(kvbm_manager *m, uint64_t *rng, size_t k, kvbm_mutable **keep)
{
    kvbm_mutable *mb[8] = { 0 };
    kvbm_status st = CK(kvbm_manager_allocate(m, k, mb, NULL, NULL));
    if (st != KVBM_OK) return st;
    size_t pick = (size_t)tm_rand_below(rng, k);
    *keep = mb[pick];
    mb[pick] = NULL;
    tm_release_mutables(mb, k);
    return KVBM_OK;
}

KVBM_TEST(prop_complete_mismatch_returns_block)
{
    uint64_t rng = announce("prop_complete_mismatch_returns_block");
    static const uint32_t wrong_sizes[5] = { 1, 2, 8, 16, 32 };
    kvbm_manager *ms[4];
    for (int i = 0; i < 4; i++) {
        ms[i] = create_test_manager_with_block_size(8, common_sizes[i]);
        ASSERT_TRUE(ms[i] != NULL);
    }
    uint32_t tokens[64];
    for (int c = 0; c < PROP_CASES && !kvbm_test_failed_flag; c++) {
        int si = (int)tm_rand_below(&rng, 4);
        uint32_t size = common_sizes[si];
        uint32_t wrong = wrong_sizes[tm_rand_below(&rng, 5)];
        if (wrong == size) continue; /* prop_assume!(wrong != size) */
        kvbm_manager *m = ms[si];
        kvbm_mutable *mb = NULL;
        ASSERT_OK(pick_block(m, &rng, 1 + (size_t)tm_rand_below(&rng, 8), &mb));
        uint32_t id = kvbm_mutable_block_id(mb);
        random_tokens(&rng, 0, 50000, wrong, tokens);
        kvbm_complete *cb = NULL;
        uint32_t exp = 0, act = 0;
        kvbm_status st = CK(tm_complete_tokens(mb, tokens, wrong, 0, &cb, &exp, &act));
        EXPECT_STATUS(st, KVBM_ESIZE);
        EXPECT_TRUE(cb == NULL);
        EXPECT_EQ(exp, size);
        EXPECT_EQ(act, wrong);
        EXPECT_EQ(kvbm_mutable_block_id(mb), id);
        EXPECT_EQ(kvbm_mutable_block_size(mb), size);
        if (st == KVBM_OK) tm_release_completes(&cb, 1);
        else tm_release_mutables(&mb, 1);
        if (kvbm_test_failed_flag) printf("    case %d: size %u wrong %u id %u\n", c, size, wrong, id);
    }
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(kvbm_manager_available_blocks(ms[i]), 8);
        EXPECT_EQ(MET(ms[i], stagings), 0);
        tm_manager_destroy(ms[i]);
    }
}

KVBM_TEST(prop_state_transitions_preserve_properties)
{
    uint64_t rng = announce("prop_state_transitions_preserve_properties");
    kvbm_manager *ms[4];
    for (int i = 0; i < 4; i++) {
        ms[i] = create_test_manager_with_block_size(8, common_sizes[i]);
        ASSERT_TRUE(ms[i] != NULL);
    }
    uint32_t tokens[64];
    for (int c = 0; c < PROP_CASES && !kvbm_test_failed_flag; c++) {
        int si = (int)tm_rand_below(&rng, 4);
        uint32_t size = common_sizes[si];
        uint32_t base = (uint32_t)tm_rand_below(&rng, 1000);
        tm_iota(base, size, tokens);
        kvbm_manager *m = ms[si];
        kvbm_mutable *mb = NULL, *again = NULL;
        kvbm_complete *cb = NULL, *cb2 = NULL;
        ASSERT_OK(pick_block(m, &rng, 1 + (size_t)tm_rand_below(&rng, 8), &mb));
        uint32_t id = kvbm_mutable_block_id(mb);
        ASSERT_OK(CK(tm_complete_tokens(mb, tokens, size, 0, &cb, NULL, NULL)));
        EXPECT_EQ(kvbm_complete_block_id(cb), id);
        EXPECT_EQ(kvbm_complete_block_size(cb), size);
        kvbm_plh h1 = kvbm_complete_seq_hash(cb);
        ASSERT_OK(CK(kvbm_complete_reset(cb, &again)));
        EXPECT_EQ(kvbm_mutable_block_id(again), id);
        EXPECT_EQ(kvbm_mutable_block_size(again), size);
        ASSERT_OK(CK(tm_complete_tokens(again, tokens, size, 0, &cb2, NULL, NULL)));
        EXPECT_EQ(kvbm_complete_block_id(cb2), id);
        EXPECT_TRUE(kvbm_plh_eq(kvbm_complete_seq_hash(cb2), h1)); /* deterministic */
        EXPECT_TRUE(kvbm_plh_eq(h1, hash_for_tokens(tokens, size)));
        tm_release_completes(&cb2, 1);
        if (kvbm_test_failed_flag) printf("    case %d: size %u base %u\n", c, size, base);
    }
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(kvbm_manager_available_blocks(ms[i]), 8);
        EXPECT_EQ(MET(ms[i], inflight_mutable), 0);
        tm_manager_destroy(ms[i]);
    }
}

KVBM_TEST(prop_valid_block_sizes_work)
{
    uint32_t *tokens = malloc(sizeof(uint32_t) * 1024);
    ASSERT_TRUE(tokens != NULL);
    tm_iota(0, 1024, tokens);
    for (uint32_t size = 1; size <= 1024; size <<= 1) {
        kvbm_manager *m = create_test_manager_with_block_size(2, size);
        ASSERT_TRUE(m != NULL);
        kvbm_mutable *mb = NULL;
        kvbm_complete *cb = NULL;
        ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
        EXPECT_EQ(kvbm_mutable_block_size(mb), size);
        EXPECT_OK(CK(tm_complete_tokens(mb, tokens, size, 0, &cb, NULL, NULL)));
        if (cb != NULL) EXPECT_EQ(kvbm_complete_block_size(cb), size);
        tm_release_completes(&cb, 1);
        tm_manager_destroy(m);
    }
    free(tokens);
}

KVBM_TEST(prop_sequence_hash_deterministic)
{
    uint64_t rng = announce("prop_sequence_hash_deterministic");
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    for (int c = 0; c < PROP_CASES && !kvbm_test_failed_flag; c++) {
        uint32_t t[4];
        random_tokens(&rng, 0, UINT32_MAX, 4, t);
        kvbm_mutable *mb[2];
        kvbm_complete *cb[2] = { 0 };
        ASSERT_OK(CK(kvbm_manager_allocate(m, 2, mb, NULL, NULL)));
        ASSERT_OK(CK(tm_complete_tokens(mb[0], t, 4, TEST_SALT, &cb[0], NULL, NULL)));
        ASSERT_OK(CK(tm_complete_tokens(mb[1], t, 4, TEST_SALT, &cb[1], NULL, NULL)));
        EXPECT_NE(kvbm_complete_block_id(cb[0]), kvbm_complete_block_id(cb[1]));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_complete_seq_hash(cb[0]), kvbm_complete_seq_hash(cb[1])));
        tm_release_completes(cb, 2);
    }
    tm_manager_destroy(m);
}

KVBM_TEST(prop_different_tokens_different_hashes)
{
    uint64_t rng = announce("prop_different_tokens_different_hashes");
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    for (int c = 0; c < PROP_CASES && !kvbm_test_failed_flag; c++) {
        uint32_t a[4], b[4];
        random_tokens(&rng, 0, 100, 4, a);
        random_tokens(&rng, 100, 200, 4, b);
        kvbm_mutable *mb[2];
        kvbm_complete *cb[2] = { 0 };
        ASSERT_OK(CK(kvbm_manager_allocate(m, 2, mb, NULL, NULL)));
        ASSERT_OK(CK(tm_complete_tokens(mb[0], a, 4, TEST_SALT, &cb[0], NULL, NULL)));
        ASSERT_OK(CK(tm_complete_tokens(mb[1], b, 4, TEST_SALT, &cb[1], NULL, NULL)));
        EXPECT_FALSE(kvbm_plh_eq(kvbm_complete_seq_hash(cb[0]), kvbm_complete_seq_hash(cb[1])));
        tm_release_completes(cb, 2);
    }
    tm_manager_destroy(m);
}

/* proptest-regressions/pools/block_proptest.txt: block_size = 1, token_count = 3, block_id = 0 */
KVBM_TEST(regression_block_size_1_token_count_3_block_id_0)
{
    kvbm_manager *m = create_test_manager_with_block_size(4, 1);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    EXPECT_EQ(kvbm_mutable_block_id(mb), 0);
    uint32_t t[3] = { 0, 1, 2 };
    uint32_t exp = 0, act = 0;
    kvbm_clear_last_error();
    EXPECT_STATUS(CK(tm_complete_tokens(mb, t, 3, TEST_SALT, &cb, &exp, &act)), KVBM_ESIZE);
    EXPECT_EQ(exp, 1);
    EXPECT_EQ(act, 3);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Block size mismatch: expected 1 tokens, got 3");
    EXPECT_TRUE(cb == NULL);
    EXPECT_EQ(kvbm_mutable_block_id(mb), 0);
    EXPECT_EQ(kvbm_mutable_block_size(mb), 1);
    tm_release_mutables(&mb, 1);
    tm_manager_destroy(m);
}

/* The same mismatch through a real kvbm_token_block (4 tokens on a size-1 manager). */
KVBM_TEST(complete_with_token_block_of_wrong_size)
{
    kvbm_manager *m = create_test_manager_with_block_size(4, 1);
    ASSERT_TRUE(m != NULL);
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    ASSERT_OK(CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)));
    uint32_t t[4] = { 0, 1, 2, 3 };
    kvbm_token_block *tb = NULL;
    ASSERT_OK(kvbm_token_block_create(t, 4, TEST_SALT, NULL, &tb));
    uint32_t exp = 0, act = 0;
    EXPECT_STATUS(CK(kvbm_mutable_complete(mb, tb, &cb, &exp, &act)), KVBM_ESIZE);
    EXPECT_EQ(exp, 1);
    EXPECT_EQ(act, 4);
    EXPECT_TRUE(cb == NULL);
    (void)kvbm_token_block_destroy(tb);
    tm_release_mutables(&mb, 1);
    tm_manager_destroy(m);
}
