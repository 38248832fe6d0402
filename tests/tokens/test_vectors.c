/* tests/tokens/test_vectors.c - every numeric vector of spec 20 §5.6 and the §1.10 worked
 * examples, computed through the public hashing API (block hash, chain, bulk, sequence,
 * router). */
#include <xxhash.h>

#include "harness.h"
#include "kvbm/tokens.h"

static const uint32_t T1_12[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* #1 #2 #4 (test_validate_hash_constants) */
KVBM_TEST(v1_2_4_block_hashes)
{
    EXPECT_EQ_U64(kvbm_tokens_block_hash(T1_12, 4, 1337), UINT64_C(14643705804678351452));
    EXPECT_EQ_U64(kvbm_tokens_block_hash(T1_12 + 4, 4, 1337), UINT64_C(16777012769546811212));
    EXPECT_EQ_U64(kvbm_tokens_block_hash(T1_12 + 8, 4, 1337), UINT64_C(483935686894639516));
}

/* #3 #5 chain steps */
KVBM_TEST(v3_5_chain)
{
    uint64_t s1 = kvbm_tokens_chain_hash(UINT64_C(14643705804678351452), UINT64_C(16777012769546811212));
    EXPECT_EQ_U64(s1, UINT64_C(4945711292740353085));
    EXPECT_EQ_U64(kvbm_tokens_chain_hash(s1, UINT64_C(483935686894639516)), UINT64_C(12583592247330656132));
}

/* #6 and #14: the underlying XXH3 (system libxxhash) */
KVBM_TEST(v6_14_raw_xxh3)
{
    EXPECT_EQ_U64(XXH3_64bits_withSeed("test data", 9, 1337), UINT64_C(13226331709069118873));
    EXPECT_EQ_U64(XXH3_64bits_withSeed("{}", 2, 0), UINT64_C(1389868326933519382));
}

/* #7 #8 #9 #10 (§1.10.2) through the bulk hasher and the router projection */
KVBM_TEST(v7_10_consolidator)
{
    static const uint32_t t[8] = { 10, 20, 30, 40, 50, 60, 70, 80 };
    uint64_t bh[2], seq[2];
    kvbm_plh plh[2];
    size_t nb = 0;
    ASSERT_OK(kvbm_tokens_hash_blocks(t, 8, 4, 1337, NULL, bh, seq, plh, 2, &nb));
    ASSERT_EQ(nb, 2);
    EXPECT_EQ_U64(bh[0], UINT64_C(16324159493528209483));                   /* #9 */
    EXPECT_EQ_U64(bh[1], UINT64_C(6032772817189548200));
    EXPECT_EQ_U64(seq[1], UINT64_C(16848833586163979841));                  /* #10 */
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(plh[0]), UINT64_C(3114443937531979)); /* #7 */
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(plh[1]), UINT64_C(5370979798324801)); /* #8 */
    uint64_t rp = 0;
    EXPECT_FALSE(kvbm_plh_router_parent_hash(plh[0], &rp));
    EXPECT_TRUE(kvbm_plh_router_parent_hash(plh[1], &rp));
    EXPECT_EQ_U64(rp, UINT64_C(3114443937531979));
    EXPECT_EQ_U64(plh[1].hi, UINT64_C(0x004b1091fc91c84b));
    EXPECT_EQ_U64(plh[1].lo, UINT64_C(0xe9d314e0aef99641));
}

/* #11 (§1.10.1 PLH B rows) via a sequence, the bulk hasher and standalone blocks */
KVBM_TEST(v11_plh_rows)
{
    static const uint64_t hi[3] = { 0, UINT64_C(0x0078e4d7fb2dca5c), UINT64_C(0x00a2b2379d6d3c3d) };
    static const uint64_t lo[3] = { UINT64_C(0xcb38e4d7fb2dca5c), UINT64_C(0x44a2b2379d6d3c3d),
                                    UINT64_C(0xaea1e67a6c80cf84) };
    kvbm_token_seq *s = NULL;
    ASSERT_OK(kvbm_token_seq_create(T1_12, 12, 4, 1337, &s));
    ASSERT_EQ(kvbm_token_seq_block_count(s), 3);
    kvbm_plh bulk[3];
    ASSERT_OK(kvbm_tokens_hash_blocks(T1_12, 12, 4, 1337, NULL, NULL, NULL, bulk, 3, NULL));
    kvbm_token_block *b[3] = { NULL, NULL, NULL };
    for (int i = 0; i < 3; i++) {
        kvbm_plh p = kvbm_token_block_plh(kvbm_token_seq_block(s, (size_t)i));
        EXPECT_EQ_U64(p.hi, hi[i]);
        EXPECT_EQ_U64(p.lo, lo[i]);
        EXPECT_TRUE(kvbm_plh_eq(bulk[i], p));
        ASSERT_OK(kvbm_token_block_create(T1_12 + 4 * i, 4, 1337, i ? b[i - 1] : NULL, &b[i]));
        EXPECT_TRUE(kvbm_plh_eq(kvbm_token_block_plh(b[i]), p));
    }
    for (int i = 0; i < 3; i++) EXPECT_OK(kvbm_token_block_destroy(b[i]));
    kvbm_token_seq_destroy(s);
}

/* #13 salt 0 (absent) and the salt-0 block hash of [5,6,7,8] (§1.10.1) */
KVBM_TEST(v13_salt_zero)
{
    EXPECT_EQ_U64(kvbm_tokens_block_hash(T1_12, 4, 0), UINT64_C(8052976908588476977));
    EXPECT_EQ_U64(kvbm_tokens_block_hash(T1_12 + 4, 4, 0), UINT64_C(13852901005659965728));
    EXPECT_NE_U64(kvbm_tokens_block_hash(T1_12, 4, 0), kvbm_tokens_block_hash(T1_12, 4, 1337));
    kvbm_token_seq *s = NULL;
    ASSERT_OK(kvbm_token_seq_create(T1_12, 8, 4, 0, &s)); /* "no salt" = 0 */
    EXPECT_EQ_U64(kvbm_token_seq_salt(s), 0);
    EXPECT_EQ_U64(kvbm_token_block_hash(kvbm_token_seq_block(s, 0)), UINT64_C(8052976908588476977));
    kvbm_token_seq_destroy(s);
}

/* #15 #16 and the other §4.1.4 router vectors */
KVBM_TEST(v15_16_router)
{
    static const uint32_t t[4] = { 10, 20, 30, 40 }, z[4] = { 0, 1, 2, 3 };
    uint64_t h[4];
    size_t n = 0;
    EXPECT_EQ_U64(kvbm_router_seed("adapter-x"), UINT64_C(18075064641689012588));
    EXPECT_EQ_U64(kvbm_router_seed(NULL), 1337);
    EXPECT_EQ_U64(kvbm_router_seed(""), 1337);
    ASSERT_OK(kvbm_router_tokens_hashes(t, 4, 4, NULL, false, NULL, 0, h, 4, &n));
    ASSERT_EQ(n, 1);
    EXPECT_EQ_U64(h[0], UINT64_C(16324159493528209483));
    ASSERT_OK(kvbm_router_tokens_hashes(t, 4, 4, "adapter-x", false, NULL, 0, h, 4, &n));
    EXPECT_EQ_U64(h[0], UINT64_C(6685748347521229854));                  /* #15 */
    ASSERT_OK(kvbm_router_tokens_hashes(z, 4, 4, "", false, NULL, 0, h, 4, &n));
    EXPECT_EQ_U64(h[0], UINT64_C(9143094415614847814));
    static const uint64_t mmh[2] = { 5, 3 };
    kvbm_router_block_mm mm = { mmh, 2 };
    ASSERT_OK(kvbm_router_tokens_hashes(T1_12, 4, 4, NULL, false, &mm, 1, h, 4, &n));
    EXPECT_EQ_U64(h[0], UINT64_C(11530720033157309043));                 /* #16 */
}

/* #17 */
KVBM_TEST(v17_new)
{
    kvbm_plh h;
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x11, 5, &h));
    EXPECT_EQ_U64(h.hi, UINT64_C(0x0140000000000011));
    EXPECT_EQ_U64(h.lo, UINT64_C(0x00000000000000aa));
}

/* #18: position 16 of tokens 0..67, block size 4, salt 1337 - by sequence, bulk, extend */
KVBM_TEST(v18_position_16)
{
    uint32_t t[68];
    for (uint32_t i = 0; i < 68; i++) t[i] = i;
    kvbm_token_seq *s = NULL;
    ASSERT_OK(kvbm_token_seq_create(t, 68, 4, 1337, &s));
    ASSERT_EQ(kvbm_token_seq_block_count(s), 17);
    kvbm_plh p = kvbm_token_block_plh(kvbm_token_seq_block(s, 16));
    EXPECT_EQ_U64(p.hi, UINT64_C(0x040699a78fce6afd));
    EXPECT_EQ_U64(p.lo, UINT64_C(0x52907f748e11e96c));
    EXPECT_EQ_U64(kvbm_plh_position(p), 16);
    kvbm_plh chain = kvbm_plh_root(kvbm_tokens_block_hash(t, 4, 1337));
    for (int i = 1; i < 17; i++) ASSERT_OK(kvbm_plh_extend(&chain, kvbm_tokens_block_hash(t + 4 * i, 4, 1337), &chain));
    EXPECT_TRUE(kvbm_plh_eq(chain, p));
    kvbm_token_seq_destroy(s);
}

/* §1.10.3: single-token blocks 0..256, S = 1337: rows 254, 255, 256 */
KVBM_TEST(mode_boundary_table_1_10_3)
{
    uint32_t t[257];
    for (uint32_t i = 0; i < 257; i++) t[i] = i;
    kvbm_plh p[257];
    size_t nb = 0;
    ASSERT_OK(kvbm_tokens_hash_blocks(t, 257, 1, 1337, NULL, NULL, NULL, p, 257, &nb));
    ASSERT_EQ(nb, 257);
    EXPECT_EQ_U64(p[254].hi, UINT64_C(0x3fba473a20a2bfcc));
    EXPECT_EQ_U64(p[254].lo, UINT64_C(0xf6ae8a4555e9f42d));
    EXPECT_EQ_U64(p[255].hi, UINT64_C(0x3fee8a4555e9f42d));
    EXPECT_EQ_U64(p[255].lo, UINT64_C(0x739dcdd18d0a0f0f));
    EXPECT_EQ_U64(p[256].hi, UINT64_C(0x40400dd18d0a0f0f));
    EXPECT_EQ_U64(p[256].lo, UINT64_C(0xf915185cd5a208c3));
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(p[254]), UINT64_C(0x2e8a4555e9f42d));
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(p[255]), UINT64_C(0xdd18d0a0f0f));
    EXPECT_EQ_U64(kvbm_plh_router_block_hash(p[256]), UINT64_C(0x185cd5a208c3));
    for (int i = 1; i < 257; i++) {
        uint64_t rp = 0;
        ASSERT_TRUE(kvbm_plh_router_parent_hash(p[i], &rp));
        ASSERT_EQ_U64(rp, kvbm_plh_router_block_hash(p[i - 1]));
    }
}

/* §1.10.4: salt 42 - chain seed stays 1337 (schema B) */
KVBM_TEST(salt_42_1_10_4)
{
    kvbm_token_seq *s = NULL;
    ASSERT_OK(kvbm_token_seq_create(T1_12, 8, 4, 42, &s));
    const kvbm_token_block *b0 = kvbm_token_seq_block(s, 0), *b1 = kvbm_token_seq_block(s, 1);
    EXPECT_EQ_U64(kvbm_token_block_hash(b0), UINT64_C(14608671080364358214));
    EXPECT_EQ_U64(kvbm_token_block_hash(b1), UINT64_C(2860485226904642129));
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(b1), UINT64_C(6438422395236042128));
    EXPECT_EQ_U64(kvbm_token_block_plh(b1).hi, UINT64_C(0x007c6cf291a3ba46));
    EXPECT_EQ_U64(kvbm_token_block_plh(b1).lo, UINT64_C(0x5959df0e65f6c590));
    EXPECT_EQ_U64(kvbm_token_block_plh(b0).hi, 0);
    EXPECT_EQ_U64(kvbm_token_block_plh(b0).lo, UINT64_C(0xcabc6cf291a3ba46));
    EXPECT_NE_U64(kvbm_token_block_seq_hash(b1), UINT64_C(2039199032896062926)); /* schema A */
    kvbm_token_seq_destroy(s);
}
