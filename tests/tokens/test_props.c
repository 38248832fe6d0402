/* tests/tokens/test_props.c - seeded property tests (replay with KVBM_TEST_SEED=N):
 *  - extend in random chunks == rebuilding from all tokens == the bulk hasher
 *  - hashing is independent of how tokens were fed (one at a time vs in bulk)
 *  - truncate / unwind / pop restore the exact earlier hashes
 *  - child parent fragments match the parent's projection across 255->256, 65535->65536
 *  - the bulk hasher's per-block-size loops == the one-block primitives */
#include <stdlib.h>

#include "harness.h"
#include "kvbm/tokens.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static void seed_rng(const char *who)
{
    uint64_t s = test_seed();
    printf("  %s: seed=%" PRIu64 " (KVBM_TEST_SEED=%" PRIu64 " to replay)\n", who, s, s);
    rng_state = s ? s : 0x9e3779b97f4a7c15u;
}

static int rounds(int n) { return test_under_sanitizer() ? n / 4 + 1 : n; }

/* every block of @s equals the bulk hash of its token array */
static bool seq_matches_bulk(const kvbm_token_seq *s)
{
    size_t total = kvbm_token_seq_total_tokens(s), nb = kvbm_token_seq_block_count(s);
    if (nb == 0) return total < kvbm_token_seq_block_size(s);
    kvbm_plh *p = malloc(nb * sizeof *p);
    uint64_t *bh = malloc(nb * sizeof *bh);
    size_t n = 0;
    bool ok = p && bh &&
              kvbm_tokens_hash_blocks(kvbm_token_seq_tokens(s), total, kvbm_token_seq_block_size(s),
                                      kvbm_token_seq_salt(s), NULL, bh, NULL, p, nb, &n) == KVBM_OK &&
              n == nb;
    for (size_t i = 0; ok && i < nb; i++) {
        const kvbm_token_block *b = kvbm_token_seq_block(s, i);
        ok = kvbm_plh_eq(kvbm_token_block_plh(b), p[i]) && kvbm_token_block_hash(b) == bh[i];
    }
    free(p);
    free(bh);
    return ok;
}

KVBM_TEST(extend_agrees_with_rebuild)
{
    seed_rng("extend_agrees_with_rebuild");
    static uint32_t toks[4096];
    for (int r = 0; r < rounds(200); r++) {
        uint32_t bs = 1u << rnd_below(7); /* 1 .. 64 */
        uint64_t salt = rnd_below(3) == 0 ? 1337 : rnd();
        size_t total = rnd_below(sizeof toks / sizeof toks[0]);
        for (size_t i = 0; i < total; i++) toks[i] = (uint32_t)rnd();
        kvbm_token_seq *inc = NULL, *whole = NULL, *one = NULL;
        ASSERT_OK(kvbm_token_seq_create(NULL, 0, bs, salt, &inc));
        ASSERT_OK(kvbm_token_seq_create(NULL, 0, bs, salt, &one));
        ASSERT_OK(kvbm_token_seq_create(toks, total, bs, salt, &whole));
        size_t fed = 0;
        while (fed < total) {
            size_t k = rnd_below(3) == 0 ? rnd_below(4) : rnd_below(3 * bs + 2);
            if (k > total - fed) k = total - fed;
            size_t before = kvbm_token_seq_block_count(inc), first = 99, end = 99;
            ASSERT_OK(kvbm_token_seq_extend(inc, toks + fed, k, &first, &end));
            ASSERT_EQ(first, before);
            ASSERT_EQ(end, (fed + k) / bs);
            fed += k;
        }
        for (size_t i = 0; i < total; i++) {
            bool done = false;
            size_t idx = 0;
            ASSERT_OK(kvbm_token_seq_append(one, toks[i], &done, &idx));
            ASSERT_EQ(done, (i + 1) % bs == 0);
        }
        ASSERT_EQ(kvbm_token_seq_block_count(inc), total / bs);
        ASSERT_EQ(kvbm_token_seq_block_count(whole), total / bs);
        ASSERT_EQ(kvbm_token_seq_block_count(one), total / bs);
        for (size_t i = 0; i < total / bs; i++) {
            kvbm_plh a = kvbm_token_block_plh(kvbm_token_seq_block(inc, i));
            ASSERT_TRUE(kvbm_plh_eq(a, kvbm_token_block_plh(kvbm_token_seq_block(whole, i))));
            ASSERT_TRUE(kvbm_plh_eq(a, kvbm_token_block_plh(kvbm_token_seq_block(one, i))));
        }
        ASSERT_TRUE(seq_matches_bulk(inc));
        /* root + extend over the block hashes reproduces the chain */
        if (total / bs > 0) {
            kvbm_plh c = kvbm_plh_root(kvbm_token_block_hash(kvbm_token_seq_block(whole, 0)));
            for (size_t i = 1; i < total / bs; i++)
                ASSERT_OK(kvbm_plh_extend(&c, kvbm_token_block_hash(kvbm_token_seq_block(whole, i)), &c));
            ASSERT_TRUE(kvbm_plh_eq(c, kvbm_token_block_plh(kvbm_token_seq_last_block(whole))));
        }
        /* the bulk hasher continued from a parent == one bulk call over everything */
        if (total / bs >= 2) {
            size_t nb = total / bs, cut = 1 + rnd_below(nb - 1);
            kvbm_plh *all = malloc(nb * sizeof *all);
            ASSERT_TRUE(all != NULL);
            size_t n1 = 0, n2 = 0;
            ASSERT_OK(kvbm_tokens_hash_blocks(toks, cut * bs, bs, salt, NULL, NULL, NULL, all, nb, &n1));
            ASSERT_OK(kvbm_tokens_hash_blocks(toks + cut * bs, total - cut * bs, bs, salt, &all[cut - 1],
                                              NULL, NULL, all + cut, nb - cut, &n2));
            ASSERT_EQ(n1 + n2, nb);
            for (size_t i = 0; i < nb; i++)
                ASSERT_TRUE(kvbm_plh_eq(all[i], kvbm_token_block_plh(kvbm_token_seq_block(whole, i))));
            free(all);
        }
        kvbm_token_seq_destroy(inc);
        kvbm_token_seq_destroy(whole);
        kvbm_token_seq_destroy(one);
    }
}

KVBM_TEST(truncate_unwind_restore_exact_hashes)
{
    seed_rng("truncate_unwind_restore_exact_hashes");
    static uint32_t toks[2048];
    static kvbm_plh snap[2048];
    for (int r = 0; r < rounds(200); r++) {
        uint32_t bs = 1u << rnd_below(6);
        size_t total = 1 + rnd_below(sizeof toks / sizeof toks[0]);
        for (size_t i = 0; i < total; i++) toks[i] = (uint32_t)rnd();
        kvbm_token_seq *s = NULL;
        ASSERT_OK(kvbm_token_seq_create(toks, total, bs, rnd(), &s));
        size_t nb = 0;
        ASSERT_OK(kvbm_token_seq_plhs(s, snap, 2048, &nb));
        for (int op = 0; op < 8; op++) {
            size_t cur = kvbm_token_seq_total_tokens(s);
            int kind = (int)rnd_below(3);
            if (kind == 0) ASSERT_OK(kvbm_token_seq_truncate(s, rnd_below(cur + 2)));
            else if (kind == 1) ASSERT_OK(kvbm_token_seq_unwind(s, rnd_below(cur + 1)));
            else if (cur) ASSERT_OK(kvbm_token_seq_pop(s, NULL));
            size_t now = kvbm_token_seq_total_tokens(s);
            ASSERT_LE(now, cur);
            ASSERT_EQ(kvbm_token_seq_block_count(s), now / bs);
            for (size_t i = 0; i < now / bs; i++)
                ASSERT_TRUE(kvbm_plh_eq(kvbm_token_block_plh(kvbm_token_seq_block(s, i)), snap[i]));
            ASSERT_EQ(memcmp(kvbm_token_seq_tokens(s), toks, now * 4), 0);
            /* refill to the original length: the exact original hashes come back */
            ASSERT_OK(kvbm_token_seq_extend(s, toks + now, total - now, NULL, NULL));
            ASSERT_EQ(kvbm_token_seq_block_count(s), nb);
            for (size_t i = 0; i < nb; i++)
                ASSERT_TRUE(kvbm_plh_eq(kvbm_token_block_plh(kvbm_token_seq_block(s, i)), snap[i]));
        }
        kvbm_token_seq_destroy(s);
    }
}

/* chain invariant over whole single-token chains crossing both mode boundaries */
KVBM_TEST(fragments_match_across_mode_boundaries)
{
    seed_rng("fragments_match_across_mode_boundaries");
    size_t n = 65536 + 64;
    uint32_t *toks = malloc(n * sizeof *toks);
    kvbm_plh *p = malloc(n * sizeof *p);
    ASSERT_TRUE(toks && p);
    for (size_t i = 0; i < n; i++) toks[i] = (uint32_t)rnd();
    size_t nb = 0;
    ASSERT_OK(kvbm_tokens_hash_blocks(toks, n, 1, rnd(), NULL, NULL, NULL, p, n, &nb));
    ASSERT_EQ(nb, n);
    for (size_t i = 1; i < n; i++) {
        ASSERT_EQ_U64(kvbm_plh_position(p[i]), i);
        ASSERT_EQ_U64(kvbm_plh_parent_fragment(p[i]),
                      kvbm_plh_parent_fragment_for_child_position(p[i - 1], i));
        uint64_t rp = 0;
        ASSERT_TRUE(kvbm_plh_router_parent_hash(p[i], &rp));
        ASSERT_EQ_U64(rp, kvbm_plh_router_block_hash(p[i - 1]));
    }
    EXPECT_EQ(kvbm_plh_mode(p[255]), 0);
    EXPECT_EQ(kvbm_plh_mode(p[256]), 1);
    EXPECT_EQ(kvbm_plh_mode(p[65535]), 1);
    EXPECT_EQ(kvbm_plh_mode(p[65536]), 2);
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(p[256]), p[255].lo & ((UINT64_C(1) << 46) - 1));
    EXPECT_EQ_U64(kvbm_plh_parent_fragment(p[65536]), p[65535].lo & ((UINT64_C(1) << 38) - 1));
    /* random parents at random positions near each boundary, via extend */
    static const uint64_t edges[3] = { 256, 65536, KVBM_PLH_MAX_POSITION };
    for (int r = 0; r < rounds(3000); r++) {
        uint64_t pos = edges[rnd_below(3)] - 1 - rnd_below(3);
        kvbm_plh a, c;
        ASSERT_OK(kvbm_plh_new(rnd(), true, rnd(), pos, &a));
        ASSERT_OK(kvbm_plh_extend(&a, rnd(), &c));
        ASSERT_EQ_U64(kvbm_plh_parent_fragment(c),
                      kvbm_plh_parent_fragment_for_child_position(a, kvbm_plh_position(c)));
        ASSERT_OK(kvbm_plh_validate(c));
    }
    free(toks);
    free(p);
}

/* the position limit in sequences: more than 2^24 blocks is ERANGE, nothing changes */
KVBM_TEST(sequence_position_limit)
{
    size_t cap = (size_t)KVBM_PLH_MAX_POSITION + 1; /* number of representable positions */
    uint32_t *toks = calloc(cap + 1, sizeof *toks);
    ASSERT_TRUE(toks != NULL);
    kvbm_token_seq *s = (kvbm_token_seq *)0x1;
    EXPECT_STATUS(kvbm_token_seq_create(toks, cap + 1, 1, 0, &s), KVBM_ERANGE);
    EXPECT_TRUE(s == (kvbm_token_seq *)0x1);
    ASSERT_OK(kvbm_token_seq_create(toks, 3, 1, 0, &s));
    EXPECT_STATUS(kvbm_token_seq_extend(s, toks, cap - 2, NULL, NULL), KVBM_ERANGE);
    EXPECT_EQ(kvbm_token_seq_total_tokens(s), 3);
    EXPECT_EQ(kvbm_token_seq_block_count(s), 3);
    kvbm_token_seq_destroy(s);
    free(toks);
}

/* The bulk hasher's loops specialised per block size (4, 8, 16, 32; PLH-only or with block
 * and seq64 outputs; with or without a parent) == the one-block public primitives. */
KVBM_TEST(bulk_hasher_specialisations_match_primitives)
{
    seed_rng("bulk_hasher_specialisations_match_primitives");
    static uint32_t toks[40 * 128];
    static const uint32_t sizes[] = { 1, 2, 4, 8, 16, 32, 64, 128 };
    for (int r = 0; r < rounds(40); r++) {
        uint32_t bs = sizes[rnd_below(sizeof sizes / sizeof sizes[0])];
        size_t nb = 1 + rnd_below(40);
        uint64_t salt = rnd_below(2) ? 0 : rnd();
        for (size_t i = 0; i < nb * bs; i++) toks[i] = (uint32_t)rnd();
        bool with_parent = rnd_below(2);
        kvbm_plh parent = kvbm_plh_root(rnd()), want[40], got[40];
        if (with_parent && rnd_below(2)) /* a parent in mode 1 */
            ASSERT_OK(kvbm_plh_new(rnd(), true, rnd(), 300, &parent));
        uint64_t bh[40], sq[40], prev_lo = parent.lo;
        for (size_t i = 0; i < nb; i++) {
            uint64_t h = kvbm_tokens_block_hash(toks + i * bs, bs, salt);
            if (i == 0 && !with_parent) want[0] = kvbm_plh_root(h);
            else ASSERT_OK(kvbm_plh_extend(i ? &want[i - 1] : &parent, h, &want[i]));
            ASSERT_EQ_U64(want[i].lo, (i || with_parent) ? kvbm_tokens_chain_hash(prev_lo, h) : h);
            prev_lo = want[i].lo;
            bh[i] = h;
        }
        size_t n = 0;
        const kvbm_plh *pp = with_parent ? &parent : NULL;
        ASSERT_OK(kvbm_tokens_hash_blocks(toks, nb * bs, bs, salt, pp, NULL, NULL, got, nb, &n));
        ASSERT_EQ(n, nb);
        for (size_t i = 0; i < nb; i++) ASSERT_TRUE(kvbm_plh_eq(got[i], want[i]));
        uint64_t gbh[40], gsq[40];
        ASSERT_OK(kvbm_tokens_hash_blocks(toks, nb * bs + bs - 1, bs, salt, pp, gbh, gsq, got, nb, &n));
        ASSERT_EQ(n, nb);
        for (size_t i = 0; i < nb; i++) {
            sq[i] = want[i].lo;
            ASSERT_TRUE(kvbm_plh_eq(got[i], want[i]));
            ASSERT_EQ_U64(gbh[i], bh[i]);
            ASSERT_EQ_U64(gsq[i], sq[i]);
        }
        ASSERT_OK(kvbm_tokens_hash_blocks(toks, nb * bs, bs, salt, pp, NULL, gsq, NULL, nb, &n));
        for (size_t i = 0; i < nb; i++) ASSERT_EQ_U64(gsq[i], sq[i]);
    }
}
