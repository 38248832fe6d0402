/* tests/backends/test_insert_pairs.c - the batched insert of backends with their own hash
 * index (backend.h, insert_pairs; Lineage). A batch must leave exactly the state n single
 * inserts leave - graph, leaf order, eviction order, errors - including refused pairs in
 * the middle of the batch, which are skipped with insert's message. The model is a second
 * backend of the same kind fed one insert per pair. */
#include "backends_test.h"

static bool lin_kind(enum tb_kind k) { return k == TB_LINEAGE_TICK || k == TB_LINEAGE_FIFO; }

KVBM_TEST(insert_pairs_only_for_lineage)
{
    for (int k = 0; k < TB_NKINDS; k++) {
        kvbm__inactive b;
        ASSERT_OK(tb_create((enum tb_kind)k, 8, &b, NULL));
        EXPECT_EQ(b.ops->insert_pairs != NULL, lin_kind((enum tb_kind)k));
        kvbm__inactive_destroy(&b);
    }
}

/* Apply @pairs to @a with one insert_pairs call and to the model @r one insert at a time;
 * both must accept the same pairs and report the same last error. */
static void feed(kvbm__inactive *a, kvbm__inactive *r, const kvbm__pair *pairs, size_t n)
{
    size_t ok = 0;
    char want[256] = "";
    for (size_t i = 0; i < n; i++) {
        if (r->ops->insert(r->ctx, pairs[i].hash, pairs[i].block_id) == KVBM_OK) ok++;
        else snprintf(want, sizeof want, "%s", kvbm_last_error());
    }
    kvbm__set_error("%s", "");
    EXPECT_EQ(a->ops->insert_pairs(a->ctx, pairs, n), ok);
    if (ok != n) EXPECT_STR_EQ(kvbm_last_error(), want);
    EXPECT_EQ(a->ops->len(a->ctx), r->ops->len(r->ctx));
    kvbm__lineage_info ia, ir;
    ASSERT_TRUE(kvbm__lineage_stats(a, &ia) && kvbm__lineage_stats(r, &ir));
    EXPECT_EQ(ia.real, ir.real);
    EXPECT_EQ(ia.ghosts, ir.ghosts);
    EXPECT_EQ(ia.leaves, ir.leaves);
    EXPECT_EQ(ia.slab_cells, ir.slab_cells);
    EXPECT_TRUE(tb_check(a));
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
    *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (*s >> 33) % n;
}

/* Evict @n from both and compare the victims (hash and id, in order); their ids go back
 * to @used (NULL: not tracked). */
static void evict_same(kvbm__inactive *a, kvbm__inactive *r, size_t n, bool *used)
{
    kvbm__pair *pa = calloc(n ? n : 1, sizeof *pa), *pr = calloc(n ? n : 1, sizeof *pr);
    ASSERT_TRUE(pa != NULL && pr != NULL);
    size_t ka = a->ops->allocate(a->ctx, n, pa), kr = r->ops->allocate(r->ctx, n, pr);
    EXPECT_EQ(ka, kr);
    for (size_t i = 0; i < ka && i < kr; i++) {
        EXPECT_EQ(pa[i].block_id, pr[i].block_id);
        EXPECT_TRUE(kvbm_plh_eq(pa[i].hash, pr[i].hash));
        if (used != NULL) used[pa[i].block_id] = false;
    }
    EXPECT_TRUE(tb_check(a));
    free(pa);
    free(pr);
}

/* Chains released tail first in batches (the replay's pattern: each insert finds its own
 * node as the ghost the previous one created), shared prefixes, resurrected prefixes
 * released again (their nodes are found exactly), evictions in between; capacity @cap
 * (8192: the index is large enough for the prefetch hint and, under Tick, the tick ring). */
static void batches_match_single_inserts(enum tb_kind kind, size_t cap)
{
    enum { CHAINS = 24, LEN = 40 };
    kvbm__inactive a, r;
    ASSERT_OK(tb_create(kind, cap, &a, NULL));
    ASSERT_OK(tb_create(kind, cap, &r, NULL));
    static kvbm_plh h[CHAINS][LEN];
    /* chain c % 3 == 1 repeats chain c - 1's tokens: the two share their nodes */
    for (int c = 0; c < CHAINS; c++) tb_chain(LEN, (uint64_t)(c - (c % 3 == 1)) * 7919u, h[c]);
    bool *used = calloc(cap, sizeof *used);
    ASSERT_TRUE(used != NULL);
    uint32_t cursor = 0;
    kvbm__pair batch[LEN];
    uint64_t seed = 99;
    for (int round = 0; round < 6; round++) {
        for (int c = 0; c < CHAINS; c++) {
            size_t n = 0, len = 1 + (size_t)rnd_below(&seed, LEN);
            for (size_t i = len; i-- > 0;) { /* tail first */
                if (a.ops->has(a.ctx, h[c][i])) continue; /* cached: not released again */
                if (a.ops->len(a.ctx) + n >= cap) break;
                while (used[cursor]) cursor = (cursor + 1) % (uint32_t)cap;
                used[cursor] = true;
                batch[n].hash = h[c][i];
                batch[n++].block_id = cursor;
            }
            feed(&a, &r, batch, n);
            if (rnd_below(&seed, 4) == 0) evict_same(&a, &r, 1 + (size_t)rnd_below(&seed, 30), used);
            if (rnd_below(&seed, 2) == 0) { /* resurrect a prefix, release it again */
                kvbm__pair fa[LEN], fr[LEN], back[LEN];
                size_t want = 1 + (size_t)rnd_below(&seed, LEN);
                size_t ka = a.ops->find_matches(a.ctx, h[c], want, false, fa);
                size_t kr = r.ops->find_matches(r.ctx, h[c], want, false, fr);
                EXPECT_EQ(ka, kr);
                for (size_t i = 0; i < ka && i < kr; i++) EXPECT_EQ(fa[i].block_id, fr[i].block_id);
                for (size_t i = 0; i < ka; i++) back[i] = fa[ka - 1 - i];
                feed(&a, &r, back, ka);
            }
        }
    }
    evict_same(&a, &r, a.ops->len(a.ctx), used);
    EXPECT_EQ(a.ops->len(a.ctx), 0u);
    free(used);
    kvbm__inactive_destroy(&a);
    kvbm__inactive_destroy(&r);
}

KVBM_TEST(insert_pairs_matches_single_inserts_tick)
{
    batches_match_single_inserts(TB_LINEAGE_TICK, 512);
    batches_match_single_inserts(TB_LINEAGE_TICK, 8192); /* hint + tick ring */
}

KVBM_TEST(insert_pairs_matches_single_inserts_fifo)
{
    batches_match_single_inserts(TB_LINEAGE_FIFO, 512);
    batches_match_single_inserts(TB_LINEAGE_FIFO, 8192);
}

/* Refusals in the middle of a batch: id out of range, id already present, the same hash
 * twice (duplicate), another hash of a present key (collision), a full backend. Each is
 * skipped with insert's message; the pairs around it are inserted. */
KVBM_TEST(insert_pairs_skips_refused_pairs)
{
    for (int k = TB_LINEAGE_TICK; k <= TB_LINEAGE_FIFO; k++) {
        enum { CAP = 12 };
        kvbm__inactive a, r;
        ASSERT_OK(tb_create((enum tb_kind)k, CAP, &a, NULL));
        ASSERT_OK(tb_create((enum tb_kind)k, CAP, &r, NULL));
        kvbm_plh c[8];
        tb_chain(8, 4242, c);
        /* a hash of c[3]'s key (same position and parent fragment) with another current */
        kvbm_plh other = c[3];
        other.lo ^= UINT64_C(1) << 63;
        const kvbm__pair p1[] = {
            { c[7], 0 }, { c[6], 99 /* out of range */ }, { c[6], 1 }, { c[5], 1 /* present */ },
            { c[5], 2 }, { c[5], 3 /* duplicate hash */ }, { c[4], 3 },
        };
        feed(&a, &r, p1, sizeof p1 / sizeof p1[0]);
        EXPECT_EQ(a.ops->len(a.ctx), 4u);
        const kvbm__pair p2[] = { { c[3], 4 }, { other, 5 } };
        feed(&a, &r, p2, 2);
        EXPECT_TRUE(a.ops->has(a.ctx, c[3]));
        /* fill to capacity, then one more: full */
        kvbm__pair p3[CAP];
        size_t n = 0;
        for (uint32_t id = 5; id < CAP; id++) p3[n++] = (kvbm__pair){ tb_hash_for_id(1000 + id), id };
        p3[n++] = (kvbm__pair){ c[2], 5 }; /* present id and full: the id check comes first */
        feed(&a, &r, p3, n);
        EXPECT_EQ(a.ops->len(a.ctx), (size_t)CAP);
        evict_same(&a, &r, CAP, NULL);
        /* an empty batch inserts nothing */
        EXPECT_EQ(a.ops->insert_pairs(a.ctx, p3, 0), 0u);
        EXPECT_EQ(a.ops->len(a.ctx), 0u);
        kvbm__inactive_destroy(&a);
        kvbm__inactive_destroy(&r);
    }
}
