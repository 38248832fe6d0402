/* tests/tokens/test_seq.c - TokenBlockSequence (spec 20 §1.8), porting the SNAP
 * dynamo-tokens sequence tests (§5.3). The reference's block-size-3 cases use 4 here:
 * kvbm only accepts power-of-two block sizes. */
#include "harness.h"
#include "kvbm/tokens.h"

#define HASH_1_4      UINT64_C(14643705804678351452)
#define SEQ_HASH_5_8  UINT64_C(4945711292740353085)
#define SEQ_HASH_9_12 UINT64_C(12583592247330656132)

static uint32_t T[64];
__attribute__((constructor)) static void init_tokens(void)
{
    for (uint32_t i = 0; i < 64; i++) T[i] = i + 1; /* T[i] = i + 1: tokens 1, 2, 3, ... */
}

static kvbm_token_seq *mkseq(size_t n, uint32_t bs)
{
    kvbm_token_seq *s = NULL;
    if (kvbm_token_seq_create(T, n, bs, 1337, &s) != KVBM_OK) return NULL;
    return s;
}

/* the sequence holds tokens 1..total, in blocks of bs, with the canonical hashes */
static bool seq_is(const kvbm_token_seq *s, size_t total)
{
    uint32_t bs = kvbm_token_seq_block_size(s);
    bool ok = kvbm_token_seq_total_tokens(s) == total && kvbm_token_seq_block_count(s) == total / bs;
    size_t np = 0;
    const uint32_t *pt = kvbm_token_seq_partial_tokens(s, &np);
    ok = ok && np == total % bs;
    for (size_t i = 0; ok && i < np; i++) ok = pt[i] == T[total / bs * bs + i];
    ok = ok && kvbm_token_seq_partial_position(s) == total / bs;
    uint64_t prev = 0;
    for (size_t i = 0; ok && i < total / bs; i++) {
        const kvbm_token_block *b = kvbm_token_seq_block(s, i);
        ok = memcmp(kvbm_token_block_tokens(b), T + i * bs, bs * 4) == 0;
        uint64_t bh = kvbm_tokens_block_hash(T + i * bs, bs, 1337);
        uint64_t want = i ? kvbm_tokens_chain_hash(prev, bh) : bh;
        ok = ok && kvbm_token_block_seq_hash(b) == want && kvbm_token_block_position(b) == i;
        uint64_t p = 0;
        ok = ok && kvbm_token_block_parent_seq_hash(b, &p) == (i > 0) && (i == 0 || p == prev);
        prev = want;
    }
    uint64_t pp = 0;
    ok = ok && kvbm_token_seq_partial_parent(s, &pp) == (total / bs > 0);
    ok = ok && (total / bs == 0 || pp == prev);
    if (!ok) fprintf(stderr, "    sequence state differs from tokens 1..%zu\n", total);
    return ok;
}

KVBM_TEST(new_sequence)
{
    kvbm_token_seq *s = mkseq(0, 4);
    ASSERT_TRUE(s != NULL);
    EXPECT_EQ(kvbm_token_seq_total_tokens(s), 0);
    EXPECT_TRUE(kvbm_token_seq_last_block(s) == NULL);
    EXPECT_TRUE(seq_is(s, 0));
    kvbm_token_seq_destroy(s);

    s = mkseq(3, 4); /* partial only */
    EXPECT_TRUE(seq_is(s, 3));
    kvbm_token_seq_destroy(s);

    s = mkseq(12, 4);
    EXPECT_TRUE(seq_is(s, 12));
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(kvbm_token_seq_block(s, 0)), HASH_1_4);
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(kvbm_token_seq_block(s, 1)), SEQ_HASH_5_8);
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(kvbm_token_seq_block(s, 2)), SEQ_HASH_9_12);
    EXPECT_TRUE(kvbm_token_seq_block(s, 3) == NULL);
    EXPECT_TRUE(kvbm_token_seq_last_block(s) == kvbm_token_seq_block(s, 2));
    kvbm_token_seq_destroy(s);

    s = mkseq(14, 4);
    EXPECT_TRUE(seq_is(s, 14));
    uint32_t out[16];
    size_t n = 99;
    ASSERT_OK(kvbm_token_seq_tokens_at(s, 0, 14, out, 16, &n));
    EXPECT_EQ(n, 14);
    EXPECT_EQ(memcmp(out, T, 14 * 4), 0);
    ASSERT_OK(kvbm_token_seq_tokens_at(s, 2, 6, out, 16, &n)); /* across a block boundary */
    EXPECT_EQ(n, 4);
    EXPECT_EQ(out[0], 3);
    EXPECT_EQ(out[3], 6);
    ASSERT_OK(kvbm_token_seq_tokens_at(s, 11, 14, out, 16, &n)); /* into the partial */
    EXPECT_EQ(n, 3);
    EXPECT_EQ(out[2], 14);
    kvbm_token_seq_destroy(s);
}

KVBM_TEST(new_sequence_bad_block_size)
{
    kvbm_token_seq *s = (kvbm_token_seq *)0x1;
    EXPECT_STATUS(kvbm_token_seq_create(T, 4, 0, 0, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_token_seq_create(T, 4, 3, 0, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_token_seq_create(T, 4, 2048, 0, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_token_seq_create(NULL, 4, 4, 0, &s), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_token_seq_create(T, 4, 4, 0, NULL), KVBM_EINVAL);
    EXPECT_TRUE(s == (kvbm_token_seq *)0x1);
    ASSERT_OK(kvbm_token_seq_create(NULL, 0, 1024, 0, &s)); /* empty is fine */
    EXPECT_EQ(kvbm_token_seq_block_size(s), 1024);
    kvbm_token_seq_destroy(s);
    kvbm_token_seq_destroy(NULL);
}

KVBM_TEST(append_single_token)
{
    kvbm_token_seq *s = mkseq(0, 4);
    for (uint32_t i = 0; i < 12; i++) {
        bool done = true;
        size_t idx = 99;
        ASSERT_OK(kvbm_token_seq_append(s, T[i], &done, &idx));
        EXPECT_EQ(done, (i + 1) % 4 == 0);
        if (done) EXPECT_EQ(idx, i / 4);
        else EXPECT_EQ(idx, 99);
    }
    EXPECT_TRUE(seq_is(s, 12)); /* token 12 completed block index 2 */
    kvbm_token_seq_destroy(s);
}

/* extend from @start tokens by @add tokens: expect blocks [first, end) completed */
static void extend_case(size_t start, size_t add, size_t want_first, size_t want_end)
{
    kvbm_token_seq *s = mkseq(start, 4);
    size_t first = 99, end = 99;
    ASSERT_OK(kvbm_token_seq_extend(s, T + start, add, &first, &end));
    EXPECT_EQ(first, want_first);
    EXPECT_EQ(end, want_end);
    EXPECT_TRUE(seq_is(s, start + add));
    kvbm_token_seq_destroy(s);
}

KVBM_TEST(extend)
{
    extend_case(0, 2, 0, 0);   /* into an empty partial, no block completed */
    extend_case(0, 4, 0, 1);   /* exactly one block */
    extend_case(2, 2, 0, 1);   /* fill the partial exactly */
    extend_case(2, 7, 0, 2);   /* fill partial, one more block, 1 left */
    extend_case(4, 8, 1, 3);   /* after a full block, two more */
    extend_case(5, 0, 1, 1);   /* nothing: empty range */
    extend_case(3, 21, 0, 6);  /* many blocks in one call */
    kvbm_token_seq *s = mkseq(1, 4);
    EXPECT_STATUS(kvbm_token_seq_extend(s, NULL, 3, NULL, NULL), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_token_seq_extend(NULL, T, 3, NULL, NULL), KVBM_EINVAL);
    EXPECT_OK(kvbm_token_seq_extend(s, NULL, 0, NULL, NULL));
    EXPECT_TRUE(seq_is(s, 1));
    kvbm_token_seq_destroy(s);
}

/* truncate @start tokens (block size 4) to @len: expect tokens 1..min(len,start) */
static void truncate_case(size_t start, size_t len)
{
    kvbm_token_seq *s = mkseq(start, 4);
    ASSERT_OK(kvbm_token_seq_truncate(s, len));
    EXPECT_TRUE(seq_is(s, len < start ? len : start));
    /* the partial can be refilled and reproduces the original */
    if (len < start) {
        ASSERT_OK(kvbm_token_seq_extend(s, T + len, start - len, NULL, NULL));
        EXPECT_TRUE(seq_is(s, start));
    }
    kvbm_token_seq_destroy(s);
}

KVBM_TEST(truncate)
{
    truncate_case(10, 9);   /* within the partial */
    truncate_case(10, 8);   /* partial emptied exactly at a block boundary */
    truncate_case(10, 7);   /* into the last block */
    truncate_case(10, 4);   /* to exactly one block */
    truncate_case(10, 3);   /* into the first block */
    truncate_case(10, 0);   /* everything */
    truncate_case(12, 11);  /* full blocks only, drop one token */
    truncate_case(12, 8);   /* drop a whole block */
    truncate_case(12, 1);   /* across several blocks */
    truncate_case(10, 10);  /* no-op: len == total */
    truncate_case(10, 50);  /* no-op: len > total */
}

KVBM_TEST(unwind)
{
    kvbm_token_seq *s = mkseq(10, 4);
    EXPECT_STATUS(kvbm_token_seq_unwind(s, 11), KVBM_EINSUFFICIENT);
    EXPECT_TRUE(seq_is(s, 10));
    ASSERT_OK(kvbm_token_seq_unwind(s, 3));
    EXPECT_TRUE(seq_is(s, 7));
    ASSERT_OK(kvbm_token_seq_unwind(s, 0));
    EXPECT_TRUE(seq_is(s, 7));
    ASSERT_OK(kvbm_token_seq_unwind(s, 7)); /* count == total empties it */
    EXPECT_TRUE(seq_is(s, 0));
    EXPECT_STATUS(kvbm_token_seq_unwind(s, 1), KVBM_EINSUFFICIENT);
    kvbm_token_seq_destroy(s);
}

KVBM_TEST(pop)
{
    kvbm_token_seq *s = mkseq(6, 4);
    uint32_t tok = 0;
    ASSERT_OK(kvbm_token_seq_pop(s, &tok)); /* from the partial */
    EXPECT_EQ(tok, 6);
    EXPECT_TRUE(seq_is(s, 5));
    ASSERT_OK(kvbm_token_seq_pop(s, &tok));
    EXPECT_EQ(tok, 5);
    EXPECT_TRUE(seq_is(s, 4));
    ASSERT_OK(kvbm_token_seq_pop(s, &tok)); /* from the full block (pop_from_full_block) */
    EXPECT_EQ(tok, 4);
    EXPECT_TRUE(seq_is(s, 3));
    EXPECT_EQ(kvbm_token_seq_block_count(s), 0);
    for (int i = 3; i > 0; i--) {
        ASSERT_OK(kvbm_token_seq_pop(s, &tok));
        EXPECT_EQ(tok, (uint32_t)i);
    }
    tok = 77;
    EXPECT_STATUS(kvbm_token_seq_pop(s, &tok), KVBM_EEMPTY);
    EXPECT_EQ(tok, 77);
    kvbm_token_seq_destroy(s);
}

KVBM_TEST(total_tokens)
{
    for (size_t n = 0; n < 20; n++) {
        kvbm_token_seq *s = mkseq(n, 4);
        EXPECT_EQ(kvbm_token_seq_total_tokens(s), n);
        EXPECT_EQ(kvbm_token_seq_block_count(s) * 4 + (n % 4), n);
        kvbm_token_seq_destroy(s);
    }
}

KVBM_TEST(tokens_at_edge_cases)
{
    kvbm_token_seq *s = mkseq(10, 4);
    uint32_t out[16];
    size_t n = 99;
    ASSERT_OK(kvbm_token_seq_tokens_at(s, 5, 5, out, 16, &n)); /* empty */
    EXPECT_EQ(n, 0);
    ASSERT_OK(kvbm_token_seq_tokens_at(s, 6, 5, out, 16, &n)); /* reversed */
    EXPECT_EQ(n, 0);
    ASSERT_OK(kvbm_token_seq_tokens_at(s, 0, 11, out, 16, &n)); /* past the end */
    EXPECT_EQ(n, 0);
    ASSERT_OK(kvbm_token_seq_tokens_at(s, 11, 12, out, 16, &n));
    EXPECT_EQ(n, 0);
    ASSERT_OK(kvbm_token_seq_tokens_at(s, 9, 10, out, 16, &n)); /* last token */
    EXPECT_EQ(n, 1);
    EXPECT_EQ(out[0], 10);
    EXPECT_STATUS(kvbm_token_seq_tokens_at(s, 0, 10, out, 9, &n), KVBM_EINVAL);
    kvbm_token_seq_destroy(s);
}

KVBM_TEST(reset)
{
    kvbm_token_seq *s = mkseq(10, 4);
    ASSERT_OK(kvbm_token_seq_reset(s));
    EXPECT_TRUE(seq_is(s, 0));
    EXPECT_EQ(kvbm_token_seq_block_size(s), 4);
    EXPECT_EQ_U64(kvbm_token_seq_salt(s), 1337);
    ASSERT_OK(kvbm_token_seq_extend(s, T, 12, NULL, NULL)); /* fresh root again */
    EXPECT_TRUE(seq_is(s, 12));
    kvbm_token_seq_destroy(s);
}

KVBM_TEST(into_parts_and_last_complete_block)
{
    kvbm_token_seq *s = mkseq(9, 4);
    EXPECT_EQ(memcmp(kvbm_token_seq_tokens(s), T, 9 * 4), 0);
    const kvbm_token_block *last = kvbm_token_seq_last_block(s);
    ASSERT_TRUE(last != NULL);
    EXPECT_EQ(kvbm_token_block_position(last), 1);
    EXPECT_EQ(kvbm_token_block_tokens(last)[0], 5);
    EXPECT_EQ_U64(kvbm_token_block_seq_hash(last), SEQ_HASH_5_8);
    kvbm_plh p[4];
    size_t n = 0;
    ASSERT_OK(kvbm_token_seq_plhs(s, p, 4, &n));
    EXPECT_EQ(n, 2);
    EXPECT_TRUE(kvbm_plh_eq(p[1], kvbm_token_block_plh(last)));
    EXPECT_STATUS(kvbm_token_seq_plhs(s, p, 1, &n), KVBM_EINVAL);
    EXPECT_STATUS(kvbm_token_block_destroy((kvbm_token_block *)last), KVBM_EINVAL); /* borrowed */
    kvbm_token_seq_destroy(s);
}

/* test_into_sequence (block size 3 in the reference; 4 here): 1 block + partial [5, 6] */
KVBM_TEST(into_sequence)
{
    kvbm_token_seq *s = mkseq(6, 4);
    EXPECT_EQ(kvbm_token_seq_block_count(s), 1);
    size_t n = 0;
    const uint32_t *pt = kvbm_token_seq_partial_tokens(s, &n);
    ASSERT_EQ(n, 2);
    EXPECT_EQ(pt[0], 5);
    EXPECT_EQ(pt[1], 6);
    kvbm_token_seq_destroy(s);
}

/* salt is per sequence: same tokens, different salts -> different hashes everywhere */
KVBM_TEST(salt_per_sequence)
{
    kvbm_token_seq *a = NULL, *b = NULL;
    ASSERT_OK(kvbm_token_seq_create(T, 8, 4, 1, &a));
    ASSERT_OK(kvbm_token_seq_create(T, 8, 4, 2, &b));
    for (size_t i = 0; i < 2; i++) {
        EXPECT_NE_U64(kvbm_token_block_hash(kvbm_token_seq_block(a, i)),
                      kvbm_token_block_hash(kvbm_token_seq_block(b, i)));
        EXPECT_FALSE(kvbm_plh_eq(kvbm_token_block_plh(kvbm_token_seq_block(a, i)),
                                 kvbm_token_block_plh(kvbm_token_seq_block(b, i))));
        EXPECT_EQ_U64(kvbm_token_block_salt(kvbm_token_seq_block(b, i)), 2);
    }
    kvbm_token_seq_destroy(a);
    kvbm_token_seq_destroy(b);
}

/* extending a sequence with its own tokens (the source may move during the call) */
KVBM_TEST(extend_from_own_tokens)
{
    kvbm_token_seq *s = mkseq(3, 4), *ref = NULL;
    for (int i = 0; i < 10; i++) {
        size_t n = kvbm_token_seq_total_tokens(s);
        ASSERT_OK(kvbm_token_seq_extend(s, kvbm_token_seq_tokens(s), n, NULL, NULL));
    }
    size_t total = kvbm_token_seq_total_tokens(s);
    EXPECT_EQ(total, 3u << 10);
    const uint32_t *t = kvbm_token_seq_tokens(s);
    for (size_t i = 0; i < total; i++) ASSERT_EQ(t[i], T[i % 3]);
    ASSERT_OK(kvbm_token_seq_create(t, total, 4, 1337, &ref));
    for (size_t i = 0; i < total / 4; i++)
        ASSERT_TRUE(kvbm_plh_eq(kvbm_token_block_plh(kvbm_token_seq_block(s, i)),
                                kvbm_token_block_plh(kvbm_token_seq_block(ref, i))));
    kvbm_token_seq_destroy(ref);
    kvbm_token_seq_destroy(s);
}
