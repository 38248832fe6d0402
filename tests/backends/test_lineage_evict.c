/* tests/backends/test_lineage_evict.c - Lineage/Tick eviction in runs (lineage.c,
 * lin_allocate_tick_k), and the match of an inner node (lin_find_match_k).
 *
 * An allocate evicts a chain released tail first in one run: each victim's parent, Real,
 * left childless and holding the next tick, takes the root position, and the root's heap
 * children are handed over once, to whatever node is root when the run ends - the run's
 * last parent (the count ran out) or the last victim (its parent does not qualify: the
 * general pruning step then runs). An allocate of one block is a run of at most one step,
 * so allocating one block at a time is the per-victim hand-off the runs must reproduce:
 * the same victims in the same order, the same graph, every invariant (check) after every
 * call, whatever the allocate sizes.
 */
#include <inttypes.h>
#include <stdio.h>

#include "backends_test.h"

static kvbm__inactive mk(size_t cap) { return tb_lineage(cap, KVBM_LINEAGE_TICK); }
static kvbm__lineage_info st_of(const kvbm__inactive *b) { return tb_lineage_info(b); }

/* Tick: an evicted root whose Real parent re-leafs with the next tick hands the parent its
 * place in the heap - only then. The victims must come out in tick order either way:
 * chains released tail first (A, B: the parent follows the victim by one tick: runs), a
 * chain inserted root first (E: the parent's tick is older) and one whose parent was
 * inserted after an unrelated leaf (F, G: the parent's tick is newer than the next
 * victim's - handing it the root would evict it before G), two single blocks (C, D):
 * every run boundary, with heap children at the root throughout. (Moved from
 * test_lineage.c, where it allocated one block at a time: step 1 below.) */
static void build_mixed(kvbm__inactive *b)
{
    kvbm_plh a[4], bb[2], c[1], d[1], e[2], f[2], gl[1];
    tb_chain(4, 0, a);
    tb_chain(2, 100, bb);
    tb_chain(1, 200, c);
    tb_chain(1, 300, d);
    tb_chain(2, 400, e);
    tb_chain(2, 500, f);
    tb_chain(1, 600, gl);
    for (int i = 3; i >= 0; i--)
        if (b->ops->insert(b->ctx, a[i], (uint32_t)i) != KVBM_OK) abort();
    const kvbm_plh *h[] = { &bb[1], &bb[0], &c[0], &d[0], &e[0], &e[1], &f[1], &gl[0], &f[0] };
    const uint32_t id[] = { 11, 10, 20, 21, 12, 13, 15, 16, 14 };
    for (size_t i = 0; i < sizeof id / sizeof id[0]; i++)
        if (b->ops->insert(b->ctx, *h[i], id[i]) != KVBM_OK) abort();
}

KVBM_TEST(tick_eviction_passes_the_root_to_a_re_leafed_parent_only_in_tick_order)
{
    static const uint32_t want[] = { 3, 2, 1, 0, 11, 10, 20, 21, 13, 12, 15, 16, 14 };
    const size_t n = sizeof want / sizeof want[0];
    for (size_t step = 1; step <= n + 1; step++) { /* allocate sizes step, step, ... */
        kvbm__inactive b = mk(32);
        build_mixed(&b);
        EXPECT_TRUE(tb_check(&b));
        kvbm__pair out[16];
        size_t done = 0;
        while (done < n) {
            size_t got = b.ops->allocate(b.ctx, step, out);
            ASSERT_EQ(got, n - done < step ? n - done : step);
            for (size_t i = 0; i < got; i++) EXPECT_EQ(out[i].block_id, want[done + i]);
            done += got;
            EXPECT_TRUE(tb_check(&b));
            EXPECT_EQ(b.ops->len(b.ctx), n - done);
        }
        EXPECT_EQ(b.ops->allocate(b.ctx, 4, out), 0u);
        kvbm__lineage_info s = st_of(&b);
        EXPECT_TRUE(s.real == 0 && s.ghosts == 0 && s.leaves == 0);
        kvbm__inactive_destroy(&b);
    }
}

/* A run that ends because the count ran out leaves the run's last parent at the root with
 * the old root's heap children: an insert (a fresh leaf joins the heap under it) and the
 * next allocate must see exactly that heap. */
KVBM_TEST(tick_run_cut_by_the_count_leaves_the_parent_at_the_root)
{
    kvbm__inactive b = mk(32);
    kvbm_plh a[6], x[1], y[1];
    tb_chain(6, 0, a);
    tb_chain(1, 900, x);
    tb_chain(1, 901, y);
    for (int i = 5; i >= 0; i--) ASSERT_OK(b.ops->insert(b.ctx, a[i], (uint32_t)i));
    ASSERT_OK(b.ops->insert(b.ctx, x[0], 7)); /* a heap child of the chain's leaf */
    kvbm__pair out[8];
    ASSERT_EQ(b.ops->allocate(b.ctx, 2, out), 2u); /* 5, 4: a[3] is the root now */
    EXPECT_EQ(out[0].block_id, 5u);
    EXPECT_EQ(out[1].block_id, 4u);
    EXPECT_TRUE(kvbm_plh_eq(out[0].hash, a[5]) && kvbm_plh_eq(out[1].hash, a[4]));
    EXPECT_TRUE(tb_check(&b));
    ASSERT_OK(b.ops->insert(b.ctx, y[0], 8));
    EXPECT_TRUE(tb_check(&b));
    EXPECT_TRUE(b.ops->has(b.ctx, a[3]));
    ASSERT_EQ(b.ops->allocate(b.ctx, 8, out), 6u);
    const uint32_t want[] = { 3, 2, 1, 0, 7, 8 };
    for (size_t i = 0; i < 6; i++) EXPECT_EQ(out[i].block_id, want[i]);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

#define LIVE   200u
#define MAXLEN 24u

/* The replay's pattern, with the variations that end runs: match a chain's cached prefix
 * (consumed), allocate for the rest, insert the chain tail first (runs) or root first
 * (older parent ticks), sometimes leave a gap (ghost parents, pruned by the victim's
 * step). Backend a allocates in one call per request, b one block at a time. */
KVBM_TEST(tick_runs_evict_exactly_like_one_block_at_a_time)
{
    kvbm__inactive a = mk(LIVE), b = mk(LIVE);
    static uint32_t free_ids[LIVE];
    size_t nfree = 0;
    for (uint32_t i = LIVE; i-- > 0;) free_ids[nfree++] = i;
    uint64_t seed = test_seed() | 1, s = seed;
    printf("tick_runs: seed=%" PRIu64 " (KVBM_TEST_SEED to replay)\n", seed);
    kvbm_plh c[MAXLEN];
    kvbm__pair pa[MAXLEN], pb[MAXLEN];
    uint32_t ids[MAXLEN];
    size_t evictions = 0;
    const size_t rounds = test_under_sanitizer() ? 1500 : 4000;
    for (size_t round = 0; round < rounds; round++) {
        size_t len = 1 + (size_t)(tb_rng(&s) % MAXLEN);
        tb_chain(len, 1000 * (tb_rng(&s) % 64), c); /* 64 prompts: shared prefixes */
        size_t ha = tb_match_both(&a, &b, c, len, pa, pb, ids);
        ASSERT_TRUE(ha != SIZE_MAX);
        /* blocks past the prefix may still be cached (below a gap's ghost): consumed too */
        size_t need = 0;
        uint32_t *slot[MAXLEN];
        for (size_t i = ha; i < len; i++) {
            uint32_t ia = UINT32_MAX, ib = UINT32_MAX;
            bool fa = a.ops->find_match(a.ctx, c[i], false, &ia);
            bool fb = b.ops->find_match(b.ctx, c[i], false, &ib);
            ASSERT_TRUE(fa == fb && ia == ib);
            ids[i] = ia;
            if (!fa) slot[need++] = &ids[i];
        }
        size_t from_free = need < nfree ? need : nfree, evict = need - from_free;
        for (size_t i = 0; i < from_free; i++) *slot[i] = free_ids[--nfree];
        if (evict > 0) {
            ASSERT_EQ(a.ops->allocate(a.ctx, evict, pa), evict);
            for (size_t i = 0; i < evict; i++) {
                ASSERT_EQ(b.ops->allocate(b.ctx, 1, &pb[i]), 1u);
                ASSERT_EQ(pa[i].block_id, pb[i].block_id);
                ASSERT_TRUE(kvbm_plh_eq(pa[i].hash, pb[i].hash));
                *slot[from_free + i] = pa[i].block_id;
            }
            evictions += evict;
        }
        /* release: a gap (the block before it stays out: its child links to a ghost) */
        size_t gap = tb_rng(&s) % 8 == 0 && len > 2 ? 1 + (size_t)(tb_rng(&s) % (len - 2)) : len;
        bool root_first = tb_rng(&s) % 6 == 0;
        for (size_t j = 0; j < len; j++) {
            size_t i = root_first ? j : len - 1 - j;
            if (i == gap) {
                free_ids[nfree++] = ids[i];
                continue;
            }
            kvbm_status sa = a.ops->insert(a.ctx, c[i], ids[i]);
            kvbm_status sb = b.ops->insert(b.ctx, c[i], ids[i]);
            ASSERT_EQ(sa, sb);
            ASSERT_OK(sa);
        }
        if (round % 64 == 0) {
            EXPECT_TRUE(tb_check(&a));
            EXPECT_TRUE(tb_check(&b));
        }
        kvbm__lineage_info ia = st_of(&a), ib = st_of(&b);
        ASSERT_TRUE(ia.real == ib.real && ia.ghosts == ib.ghosts && ia.leaves == ib.leaves &&
                    ia.slab_cells == ib.slab_cells);
    }
    EXPECT_TRUE(evictions > 10 * LIVE);
    EXPECT_TRUE(tb_check(&a));
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&a);
    kvbm__inactive_destroy(&b);
}

/* A match consumes a cached prefix: its nodes have cached continuations (inner nodes,
 * outside the leaf order), so they only become ghosts - find_match does that inline and
 * takes lin_remove_node out of line for a leaf (the order's removal, the pruning). Both
 * kinds: the ghosts keep their children, lose their tick (check), and are pruned with the
 * continuations' eviction; a leaf matched alone leaves the order. */
KVBM_TEST(matching_inner_nodes_leaves_ghosts_that_the_eviction_prunes)
{
    for (int kind = 0; kind < 2; kind++) {
        kvbm__inactive b = tb_lineage(32, kind == 0 ? KVBM_LINEAGE_TICK : KVBM_LINEAGE_FIFO);
        kvbm_plh a[6], x[1];
        tb_chain(6, 0, a);
        tb_chain(1, 700, x);
        for (int i = 5; i >= 0; i--) ASSERT_OK(b.ops->insert(b.ctx, a[i], (uint32_t)i));
        ASSERT_OK(b.ops->insert(b.ctx, x[0], 9));
        kvbm__pair pa[6];
        ASSERT_EQ(b.ops->find_matches(b.ctx, a, 3, false, pa), 3u); /* inner nodes 0..2 */
        for (uint32_t i = 0; i < 3; i++) EXPECT_EQ(pa[i].block_id, i);
        EXPECT_TRUE(tb_check(&b));
        kvbm__lineage_info st = tb_lineage_info(&b);
        EXPECT_TRUE(st.real == 4 && st.ghosts == 3 && st.leaves == 2);
        for (int i = 0; i < 6; i++) EXPECT_EQ(b.ops->has(b.ctx, a[i]), i >= 3);
        uint32_t id = UINT32_MAX;
        EXPECT_TRUE(b.ops->find_match(b.ctx, x[0], false, &id)); /* a leaf: out of line */
        EXPECT_EQ(id, 9u);
        EXPECT_TRUE(tb_check(&b));
        ASSERT_OK(b.ops->insert(b.ctx, a[1], 1)); /* a ghost promoted back, under ghost a[0] */
        EXPECT_TRUE(tb_check(&b));
        ASSERT_EQ(b.ops->allocate(b.ctx, 8, pa), 4u);
        const uint32_t want[] = { 5, 4, 3, 1 };
        for (size_t i = 0; i < 4; i++) EXPECT_EQ(pa[i].block_id, want[i]);
        st = tb_lineage_info(&b);
        EXPECT_TRUE(st.real == 0 && st.ghosts == 0 && st.leaves == 0);
        EXPECT_TRUE(tb_check(&b));
        kvbm__inactive_destroy(&b);
    }
}
