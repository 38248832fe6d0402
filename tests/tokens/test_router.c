/* tests/tokens/test_router.c - Dynamo KV-router hashes (spec 20 §4.1.4, §4.3.3; SNAP
 * kv-router tests of §5.4 that concern hashing). */
#include <stdlib.h>

#include "harness.h"
#include "kvbm/tokens.h"

static uint32_t T[256];
__attribute__((constructor)) static void init_tokens(void)
{
    for (uint32_t i = 0; i < 256; i++) T[i] = i;
}

static size_t count_for(size_t n, uint32_t bs)
{
    uint64_t h[64];
    size_t k = 999;
    if (kvbm_router_tokens_hashes(T, n, bs, NULL, false, NULL, 0, h, 64, &k) != KVBM_OK) return 999;
    return k;
}

/* test_compute_block_hash_for_seq (11, 32, 64): n -> 1, n+1 -> 1, 2n+1 -> 2 */
KVBM_TEST(compute_block_hash_for_seq)
{
    static const uint32_t sizes[3] = { 11, 32, 64 };
    for (int i = 0; i < 3; i++) {
        uint32_t n = sizes[i];
        EXPECT_EQ(count_for(n, n), 1);
        EXPECT_EQ(count_for(n + 1, n), 1);
        EXPECT_EQ(count_for(2 * n + 1, n), 2);
        EXPECT_EQ(count_for(n - 1, n), 0);
    }
    /* windows hash LE32 tokens with seed 1337: same as the kvbm block hash with salt 1337 */
    uint64_t h[4];
    size_t k = 0;
    ASSERT_OK(kvbm_router_tokens_hashes(T, 64, 16, NULL, false, NULL, 0, h, 4, &k));
    ASSERT_EQ(k, 4);
    for (int i = 0; i < 4; i++) EXPECT_EQ_U64(h[i], kvbm_tokens_block_hash(T + 16 * i, 16, 1337));
}

KVBM_TEST(lora_name_produces_different_hash)
{
    uint64_t base, a, b;
    size_t k;
    ASSERT_OK(kvbm_router_tokens_hashes(T, 16, 16, NULL, false, NULL, 0, &base, 1, &k));
    ASSERT_OK(kvbm_router_tokens_hashes(T, 16, 16, "adapter-a", false, NULL, 0, &a, 1, &k));
    ASSERT_OK(kvbm_router_tokens_hashes(T, 16, 16, "adapter-b", false, NULL, 0, &b, 1, &k));
    EXPECT_NE_U64(base, a);
    EXPECT_NE_U64(base, b);
    EXPECT_NE_U64(a, b);
    uint64_t e;
    ASSERT_OK(kvbm_router_tokens_hashes(T, 16, 16, "", false, NULL, 0, &e, 1, &k));
    EXPECT_EQ_U64(e, base); /* test_lora_name_empty_string_normalized_to_none */
}

/* test_tokens_with_hashes_lora: every block hash differs with a LoRA */
KVBM_TEST(tokens_with_hashes_lora)
{
    uint64_t base[8], lora[8];
    size_t k1, k2;
    ASSERT_OK(kvbm_router_tokens_hashes(T, 128, 16, NULL, false, NULL, 0, base, 8, &k1));
    ASSERT_OK(kvbm_router_tokens_hashes(T, 128, 16, "my-lora", false, NULL, 0, lora, 8, &k2));
    ASSERT_EQ(k1, 8);
    ASSERT_EQ(k2, 8);
    for (int i = 0; i < 8; i++) EXPECT_NE_U64(base[i], lora[i]);
    /* the LoRA seed is a kvbm salt: the kvbm block hashes then equal router tokens hashes */
    for (int i = 0; i < 8; i++)
        EXPECT_EQ_U64(lora[i], kvbm_tokens_block_hash(T + 16 * i, 16, kvbm_router_seed("my-lora")));
}

/* test_compute_block_hash_for_seq_eagle_windows: 6 tokens, block 2 */
KVBM_TEST(eagle_windows)
{
    uint64_t h[4];
    size_t k = 0;
    ASSERT_OK(kvbm_router_tokens_hashes(T, 6, 2, NULL, false, NULL, 0, h, 4, &k));
    EXPECT_EQ(k, 3);
    ASSERT_OK(kvbm_router_tokens_hashes(T, 6, 2, NULL, true, NULL, 0, h, 4, &k));
    ASSERT_EQ(k, 2);
    EXPECT_EQ_U64(h[0], kvbm_tokens_block_hash(T, 3, 1337));     /* [0,1,2] */
    EXPECT_EQ_U64(h[1], kvbm_tokens_block_hash(T + 2, 3, 1337)); /* [2,3,4] */
}

KVBM_TEST(mm_hashes_sorted_and_per_block)
{
    static const uint64_t up[3] = { 1, 2, 3 }, down[3] = { 3, 2, 1 };
    kvbm_router_block_mm m1[2] = { { NULL, 0 }, { up, 3 } }, m2[2] = { { NULL, 0 }, { down, 3 } };
    uint64_t h1[3], h2[3], plain[3];
    size_t k;
    ASSERT_OK(kvbm_router_tokens_hashes(T, 12, 4, NULL, false, m1, 2, h1, 3, &k));
    ASSERT_OK(kvbm_router_tokens_hashes(T, 12, 4, NULL, false, m2, 2, h2, 3, &k));
    ASSERT_OK(kvbm_router_tokens_hashes(T, 12, 4, NULL, false, NULL, 0, plain, 3, &k));
    EXPECT_EQ_U64(h1[1], h2[1]);  /* order of objects does not matter */
    EXPECT_NE_U64(h1[1], plain[1]);
    EXPECT_EQ_U64(h1[0], plain[0]); /* blocks without info, or beyond n_mm, unchanged */
    EXPECT_EQ_U64(h1[2], plain[2]);
    /* more than the stack scratch (64) objects */
    uint64_t *many = malloc(100 * sizeof *many);
    ASSERT_TRUE(many != NULL);
    for (int i = 0; i < 100; i++) many[i] = (uint64_t)(100 - i);
    kvbm_router_block_mm mb = { many, 100 };
    uint64_t hm, hm2;
    ASSERT_OK(kvbm_router_tokens_hashes(T, 4, 4, NULL, false, &mb, 1, &hm, 1, &k));
    for (int i = 0; i < 100; i++) many[i] = (uint64_t)(i + 1);
    ASSERT_OK(kvbm_router_tokens_hashes(T, 4, 4, NULL, false, &mb, 1, &hm2, 1, &k));
    EXPECT_EQ_U64(hm, hm2);
    free(many);
}

KVBM_TEST(router_seq_hashes_match_kvbm_chain)
{
    uint64_t th[8], rs[8], seq64[8];
    size_t k;
    ASSERT_OK(kvbm_router_tokens_hashes(T, 128, 16, NULL, false, NULL, 0, th, 8, &k));
    ASSERT_OK(kvbm_router_seq_hashes(th, 8, rs));
    /* default request (salt 1337): router chain == kvbm seq64 chain bit for bit (§1.4) */
    ASSERT_OK(kvbm_tokens_hash_blocks(T, 128, 16, 1337, NULL, NULL, seq64, NULL, 8, &k));
    for (int i = 0; i < 8; i++) EXPECT_EQ_U64(rs[i], seq64[i]);
    ASSERT_OK(kvbm_router_seq_hashes(th, 8, th)); /* in place */
    for (int i = 0; i < 8; i++) EXPECT_EQ_U64(th[i], rs[i]);
    EXPECT_OK(kvbm_router_seq_hashes(NULL, 0, NULL));
    EXPECT_STATUS(kvbm_router_seq_hashes(NULL, 1, rs), KVBM_EINVAL);
}

KVBM_TEST(router_bad_input)
{
    uint64_t h[2] = { 5, 5 };
    size_t k = 9;
    EXPECT_STATUS(kvbm_router_tokens_hashes(T, 8, 0, NULL, false, NULL, 0, h, 2, &k), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_tokens_hashes(NULL, 8, 4, NULL, false, NULL, 0, h, 2, &k), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_tokens_hashes(T, 12, 4, NULL, false, NULL, 0, h, 2, &k), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_router_tokens_hashes(T, 8, 4, NULL, false, NULL, 0, h, 2, NULL), KVBM_EINVAL);
    EXPECT_EQ(k, 9);
    EXPECT_EQ_U64(h[0], 5);
    ASSERT_OK(kvbm_router_tokens_hashes(NULL, 0, 4, NULL, false, NULL, 0, NULL, 0, &k));
    EXPECT_EQ(k, 0);
}
