/* tests/tokens/test_block.c - TokenBlock and PartialTokenBlock (spec 20 §1.8; SNAP
 * test_partial_block_ops, test_token_block_creation_and_hashes, test_token_block_accessors,
 * test_sequence_next_block) and bad input. */
#include "harness.h"
#include "kvbm/tokens.h"

#define HASH_1_4     UINT64_C(14643705804678351452)
#define HASH_5_8     UINT64_C(16777012769546811212)
#define SEQ_HASH_5_8 UINT64_C(4945711292740353085)

KVBM_TEST(partial_block_ops)
{
    kvbm_partial_block *pb = NULL;
    ASSERT_OK(kvbm_partial_block_create(4, 1337, &pb));
    EXPECT_EQ(kvbm_partial_block_len(pb), 0);
    EXPECT_EQ(kvbm_partial_block_remaining(pb), 4);
    EXPECT_EQ(kvbm_partial_block_position(pb), 0);
    EXPECT_FALSE(kvbm_partial_block_parent_seq_hash(pb, NULL));
    uint32_t tok = 99;
    EXPECT_STATUS(kvbm_partial_block_pop_token(pb, &tok), KVBM_EEMPTY);
    EXPECT_EQ(tok, 99);
    EXPECT_STATUS(kvbm_partial_block_pop_tokens(pb, 1), KVBM_EINSUFFICIENT);
    kvbm_token_block *tb = NULL;
    EXPECT_STATUS(kvbm_partial_block_commit(pb, &tb), KVBM_EINCOMPLETE);
    EXPECT_TRUE(tb == NULL);

    static const uint32_t in[6] = { 1, 2, 3, 4, 5, 6 };
    size_t used = 0;
    ASSERT_OK(kvbm_partial_block_push_tokens(pb, in, 2, &used));
    EXPECT_EQ(used, 2);
    EXPECT_EQ(kvbm_partial_block_remaining(pb), 2);
    ASSERT_OK(kvbm_partial_block_push_tokens(pb, in + 2, 4, &used)); /* [5,6] left over */
    EXPECT_EQ(used, 2);
    EXPECT_EQ(kvbm_partial_block_len(pb), 4);
    ASSERT_OK(kvbm_partial_block_push_tokens(pb, in, 3, &used)); /* full: all left over */
    EXPECT_EQ(used, 0);
    EXPECT_STATUS(kvbm_partial_block_push_token(pb, 7), KVBM_EFULL);
    EXPECT_STATUS(kvbm_partial_block_pop_tokens(pb, 5), KVBM_EINSUFFICIENT);
    EXPECT_EQ(kvbm_partial_block_len(pb), 4);
    ASSERT_OK(kvbm_partial_block_pop_token(pb, &tok));
    EXPECT_EQ(tok, 4);
    EXPECT_STATUS(kvbm_partial_block_commit(pb, &tb), KVBM_EINCOMPLETE);
    ASSERT_OK(kvbm_partial_block_pop_tokens(pb, 2));
    size_t n = 0;
    const uint32_t *t = kvbm_partial_block_tokens(pb, &n);
    ASSERT_EQ(n, 1);
    EXPECT_EQ(t[0], 1);
    ASSERT_OK(kvbm_partial_block_push_tokens(pb, in + 1, 3, &used));
    ASSERT_OK(kvbm_partial_block_commit(pb, &tb));
    EXPECT_EQ_U64(kvbm_token_block_hash(tb), HASH_1_4);
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(tb), HASH_1_4);
    /* post-commit state: empty, parent = committed seq64, position 1 */
    EXPECT_EQ(kvbm_partial_block_len(pb), 0);
    EXPECT_EQ(kvbm_partial_block_position(pb), 1);
    uint64_t par = 0;
    EXPECT_TRUE(kvbm_partial_block_parent_seq_hash(pb, &par));
    EXPECT_EQ_U64(par, HASH_1_4);
    ASSERT_OK(kvbm_partial_block_push_tokens(pb, (const uint32_t[]){ 5, 6, 7, 8 }, 4, &used));
    kvbm_token_block *tb2 = NULL;
    ASSERT_OK(kvbm_partial_block_commit(pb, &tb2));
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(tb2), SEQ_HASH_5_8);
    EXPECT_EQ(kvbm_token_block_position(tb2), 1);
    EXPECT_OK(kvbm_token_block_destroy(tb));
    EXPECT_OK(kvbm_token_block_destroy(tb2));
    kvbm_partial_block_destroy(pb);
}

KVBM_TEST(token_block_creation_and_hashes)
{
    static const uint32_t a[4] = { 1, 2, 3, 4 }, b[4] = { 5, 6, 7, 8 };
    kvbm_token_block *root = NULL, *child = NULL, *other = NULL, *wrong = NULL;
    ASSERT_OK(kvbm_token_block_create(a, 4, 1337, NULL, &root));
    ASSERT_OK(kvbm_token_block_create(b, 4, 1337, root, &child));
    EXPECT_EQ_U64(kvbm_token_block_hash(root), HASH_1_4);
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(root), HASH_1_4);
    EXPECT_EQ_U64(kvbm_token_block_hash(child), HASH_5_8);
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(child), SEQ_HASH_5_8);
    uint64_t p = 0;
    EXPECT_FALSE(kvbm_token_block_parent_seq_hash(root, &p));
    EXPECT_TRUE(kvbm_token_block_parent_seq_hash(child, &p));
    EXPECT_EQ_U64(p, HASH_1_4);
    /* a wrong parent changes the sequence hash but not the block hash */
    ASSERT_OK(kvbm_token_block_create(b, 4, 1337, NULL, &other));
    ASSERT_OK(kvbm_token_block_create(b, 4, 1337, other, &wrong));
    EXPECT_EQ_U64(kvbm_token_block_hash(wrong), HASH_5_8);
    EXPECT_NE_U64(kvbm_token_block_seq_hash(wrong), SEQ_HASH_5_8);
    /* PLH fragments at positions 0 and 1 */
    kvbm_plh r = kvbm_token_block_plh(root), c = kvbm_token_block_plh(child);
    EXPECT_EQ_U64(kvbm_plh_position(r), 0);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(r), 0);
    EXPECT_EQ_U64(kvbm_plh_current(r), HASH_1_4);
    EXPECT_EQ_U64(kvbm_plh_position(c), 1);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(c), HASH_1_4 & ((UINT64_C(1) << 54) - 1));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(c), kvbm_plh_parent_fragment_for_child_position(r, 1));
    EXPECT_EQ_U64(kvbm_plh_current(c), SEQ_HASH_5_8);
    kvbm_token_block_destroy(root);
    kvbm_token_block_destroy(child);
    kvbm_token_block_destroy(other);
    kvbm_token_block_destroy(wrong);
}

KVBM_TEST(token_block_accessors)
{
    static const uint32_t a[8] = { 9, 8, 7, 6, 5, 4, 3, 2 };
    kvbm_token_block *tb = NULL;
    ASSERT_OK(kvbm_token_block_create(a, 8, 77, NULL, &tb));
    EXPECT_EQ(kvbm_token_block_size(tb), 8);
    EXPECT_EQ(memcmp(kvbm_token_block_tokens(tb), a, sizeof a), 0);
    EXPECT_TRUE(kvbm_token_block_tokens(tb) != a); /* a copy */
    EXPECT_EQ_U64(kvbm_token_block_salt(tb), 77);
    EXPECT_EQ_U64(kvbm_token_block_hash(tb), kvbm_tokens_block_hash(a, 8, 77));
    EXPECT_EQ_U64(kvbm_token_block_position(tb), 0);
    EXPECT_TRUE(kvbm_plh_eq(kvbm_token_block_plh(tb), kvbm_plh_root(kvbm_token_block_hash(tb))));
    kvbm_token_block_destroy(tb);
}

KVBM_TEST(next_block)
{
    static const uint32_t a[4] = { 1, 2, 3, 4 };
    kvbm_token_block *tb = NULL, *tb2 = NULL;
    ASSERT_OK(kvbm_token_block_create(a, 4, 1337, NULL, &tb));
    kvbm_partial_block *pb = NULL;
    ASSERT_OK(kvbm_token_block_next(tb, &pb));
    EXPECT_EQ(kvbm_partial_block_block_size(pb), 4);
    EXPECT_EQ(kvbm_partial_block_len(pb), 0);
    EXPECT_EQ(kvbm_partial_block_position(pb), 1);
    uint64_t par = 0;
    EXPECT_TRUE(kvbm_partial_block_parent_seq_hash(pb, &par));
    EXPECT_EQ_U64(par, HASH_1_4);
    ASSERT_OK(kvbm_partial_block_push_tokens(pb, (const uint32_t[]){ 5, 6, 7, 8 }, 4, NULL));
    ASSERT_OK(kvbm_partial_block_commit(pb, &tb2));
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(tb2), SEQ_HASH_5_8);
    EXPECT_EQ_U64(kvbm_token_block_salt(tb2), 1337);
    kvbm_partial_block_destroy(pb);
    kvbm_token_block_destroy(tb);
    kvbm_token_block_destroy(tb2);
}

KVBM_TEST(bad_input)
{
    static const uint32_t a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    kvbm_token_block *tb = (kvbm_token_block *)0x1;
    kvbm_partial_block *pb = (kvbm_partial_block *)0x1;
    EXPECT_STATUS(kvbm_token_block_create(NULL, 4, 0, NULL, &tb), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_token_block_create(a, 0, 0, NULL, &tb), KVBM_EINVAL);
    kvbm_clear_last_error();
    EXPECT_STATUS(kvbm_token_block_create(a, 3, 0, NULL, &tb), KVBM_EINVAL); /* not pow2 */
    EXPECT_STR_CONTAINS(kvbm_last_error(), "power of two");
    EXPECT_STATUS(kvbm_token_block_create(a, 4, 0, NULL, NULL), KVBM_EINVAL);
    EXPECT_TRUE(tb == (kvbm_token_block *)0x1);
    EXPECT_STATUS(kvbm_partial_block_create(0, 0, &pb), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_partial_block_create(2048, 0, &pb), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_partial_block_create(6, 0, &pb), KVBM_EINVAL);
    EXPECT_TRUE(pb == (kvbm_partial_block *)0x1);
    EXPECT_OK(kvbm_token_block_destroy(NULL));
    kvbm_partial_block_destroy(NULL);

    /* position cap: a block at KVBM_PLH_MAX_POSITION has no successor */
    kvbm_plh top;
    ASSERT_OK(kvbm_plh_new(5, true, 4, KVBM_PLH_MAX_POSITION - 1, &top));
    kvbm_plh out[2] = { { 0, 0 }, { 0, 0 } };
    size_t nb = 99;
    ASSERT_OK(kvbm_tokens_hash_blocks(a, 4, 4, 0, &top, NULL, NULL, out, 2, &nb));
    EXPECT_EQ(nb, 1);
    EXPECT_EQ_U64(kvbm_plh_position(out[0]), KVBM_PLH_MAX_POSITION);
    kvbm_plh o2[2] = { { 7, 7 }, { 7, 7 } };
    EXPECT_STATUS(kvbm_tokens_hash_blocks(a, 8, 4, 0, &top, NULL, NULL, o2, 2, &nb), KVBM_ERANGE);
    EXPECT_EQ_U64(o2[0].hi, 7);
    EXPECT_STATUS(kvbm_tokens_hash_blocks(a, 4, 4, 0, &out[0], NULL, NULL, o2, 2, &nb), KVBM_ERANGE);
    /* bulk hasher: NULL / empty / block size / capacity */
    nb = 99;
    EXPECT_STATUS(kvbm_tokens_hash_blocks(NULL, 4, 4, 0, NULL, NULL, NULL, o2, 2, &nb), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_tokens_hash_blocks(a, 0, 4, 0, NULL, NULL, NULL, o2, 2, &nb), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_tokens_hash_blocks(a, 8, 0, 0, NULL, NULL, NULL, o2, 2, &nb), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_tokens_hash_blocks(a, 8, 2048, 0, NULL, NULL, NULL, o2, 2, &nb), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_tokens_hash_blocks(a, 8, 3, 0, NULL, NULL, NULL, o2, 2, &nb), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_tokens_hash_blocks(a, 8, 2, 0, NULL, NULL, NULL, o2, 2, &nb), KVBM_EINVAL);
    EXPECT_EQ(nb, 99);
    EXPECT_EQ_U64(o2[0].hi, 7);
    ASSERT_OK(kvbm_tokens_hash_blocks(a, 8, 2, 0, NULL, NULL, NULL, NULL, 0, &nb)); /* count only */
    EXPECT_EQ(nb, 4);
    ASSERT_OK(kvbm_tokens_hash_blocks(a, 3, 4, 0, NULL, NULL, NULL, o2, 0, &nb)); /* partial only */
    EXPECT_EQ(nb, 0);
}

/* block sizes 1 .. 1024 all accepted; hashes agree with the raw hasher */
KVBM_TEST(all_block_sizes)
{
    static uint32_t t[2048];
    for (uint32_t i = 0; i < 2048; i++) t[i] = i * 2654435761u;
    for (uint32_t bs = 1; bs <= 1024; bs *= 2) {
        kvbm_token_block *tb = NULL;
        ASSERT_OK(kvbm_token_block_create(t, bs, 5, NULL, &tb));
        EXPECT_EQ_U64(kvbm_token_block_hash(tb), kvbm_tokens_block_hash(t, bs, 5));
        uint64_t bh[2048];
        size_t nb = 0;
        ASSERT_OK(kvbm_tokens_hash_blocks(t, 2048, bs, 5, NULL, bh, NULL, NULL, 2048, &nb));
        EXPECT_EQ(nb, 2048 / bs);
        EXPECT_EQ_U64(bh[0], kvbm_token_block_hash(tb));
        kvbm_token_block_destroy(tb);
    }
}
