/* tests/backends/test_lineage.c - Lineage backend and its leaf policies (§3.4, §7.5
 * lineage/mod.rs and lineage/eviction.rs). Chains use block size 1: create_chain(n, offset)
 * = PLHs of tokens offset..offset+n, block ids 0..n-1. */
#include "backends_test.h"
#include "backends/index.h"

static kvbm__inactive mk(size_t cap, kvbm_lineage_eviction ev) { return tb_lineage(cap, ev); }
static kvbm__lineage_info st_of(const kvbm__inactive *b) { return tb_lineage_info(b); }

static bool graph_empty(const kvbm__inactive *b)
{
    kvbm__lineage_info s = st_of(b);
    return s.real == 0 && s.ghosts == 0 && s.leaves == 0;
}

static uint32_t alloc1(kvbm__inactive *b)
{
    kvbm__pair p;
    return b->ops->allocate(b->ctx, 1, &p) == 1 ? p.block_id : UINT32_MAX;
}

/* insert chain[i] with block id base+i for i in [0, n) */
static void insert_chain(kvbm__inactive *b, const kvbm_plh *c, size_t n, uint32_t base)
{
    for (size_t i = 0; i < n; i++)
        if (b->ops->insert(b->ctx, c[i], base + (uint32_t)i) != KVBM_OK) abort();
}

KVBM_TEST(test_leaf_insertion)
{
    kvbm__inactive b = mk(10, KVBM_LINEAGE_TICK);
    kvbm_plh c[1];
    tb_chain(1, 0, c);
    insert_chain(&b, c, 1, 0);
    EXPECT_EQ(b.ops->len(b.ctx), 1u);
    EXPECT_EQ(st_of(&b).leaves, 1u);
    EXPECT_EQ(alloc1(&b), 0u);
    EXPECT_TRUE(graph_empty(&b));
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(test_parent_child_insertion)
{
    kvbm__inactive b = mk(10, KVBM_LINEAGE_TICK);
    kvbm_plh c[2];
    tb_chain(2, 0, c);
    insert_chain(&b, c, 2, 0);
    EXPECT_EQ(b.ops->len(b.ctx), 2u);
    EXPECT_EQ(st_of(&b).leaves, 1u);
    EXPECT_EQ(alloc1(&b), 1u); /* the leaf, not the root */
    EXPECT_EQ(st_of(&b).leaves, 1u);
    EXPECT_EQ(alloc1(&b), 0u);
    EXPECT_TRUE(graph_empty(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(test_out_of_order_insertion)
{
    for (int ev = 0; ev < 2; ev++) {
        kvbm__inactive b = mk(10, (kvbm_lineage_eviction)ev);
        kvbm_plh c[2];
        tb_chain(2, 0, c);
        ASSERT_OK(b.ops->insert(b.ctx, c[1], 1)); /* child first: ghost parent */
        kvbm__lineage_info s = st_of(&b);
        EXPECT_EQ(s.real, 1u);
        EXPECT_EQ(s.ghosts, 1u);
        ASSERT_OK(b.ops->insert(b.ctx, c[0], 0)); /* ghost promoted */
        s = st_of(&b);
        EXPECT_EQ(b.ops->len(b.ctx), 2u);
        EXPECT_EQ(s.ghosts, 0u);
        EXPECT_EQ(s.leaves, 1u);
        EXPECT_TRUE(tb_check(&b));
        EXPECT_EQ(alloc1(&b), 1u);
        EXPECT_EQ(alloc1(&b), 0u);
        EXPECT_TRUE(graph_empty(&b));
        kvbm__inactive_destroy(&b);
    }
}

KVBM_TEST(test_branching)
{
    kvbm__inactive b = mk(10, KVBM_LINEAGE_TICK);
    kvbm_plh a[3], x[3];
    tb_chain(3, 0, a);
    tb_chain(3, 5000, x);
    insert_chain(&b, a, 3, 0);
    insert_chain(&b, x, 3, 3);
    EXPECT_EQ(b.ops->len(b.ctx), 6u);
    EXPECT_EQ(st_of(&b).leaves, 2u);
    EXPECT_NE(alloc1(&b), UINT32_MAX);
    EXPECT_EQ(b.ops->len(b.ctx), 5u);
    EXPECT_EQ(st_of(&b).leaves, 2u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

/* A real branch point: two children under one parent; the parent becomes a leaf only
 * after both are gone. */
KVBM_TEST(test_shared_prefix_branches)
{
    kvbm__inactive b = mk(10, KVBM_LINEAGE_TICK);
    kvbm_plh c[3], d;
    tb_chain(3, 0, c);
    ASSERT_OK(kvbm_plh_extend(&c[1], 0xD00D, &d)); /* sibling of c[2] */
    insert_chain(&b, c, 3, 0);
    ASSERT_OK(b.ops->insert(b.ctx, d, 3));
    EXPECT_EQ(st_of(&b).leaves, 2u);
    EXPECT_EQ(alloc1(&b), 2u);
    EXPECT_EQ(alloc1(&b), 3u);
    EXPECT_EQ(alloc1(&b), 1u);
    EXPECT_EQ(alloc1(&b), 0u);
    EXPECT_TRUE(graph_empty(&b));
    kvbm__inactive_destroy(&b);
}

static void interleaved(kvbm_lineage_eviction ev, const uint32_t want[4])
{
    kvbm__inactive b = mk(10, ev);
    kvbm_plh a[2], x[2];
    tb_chain(2, 0, a);
    tb_chain(2, 100, x);
    /* ids: A=0, B=1, X=2, Y=3 */
    ASSERT_OK(b.ops->insert(b.ctx, a[0], 0));
    ASSERT_OK(b.ops->insert(b.ctx, a[1], 1));
    ASSERT_OK(b.ops->insert(b.ctx, x[0], 2));
    ASSERT_OK(b.ops->insert(b.ctx, x[1], 3));
    for (int i = 0; i < 4; i++) EXPECT_EQ(alloc1(&b), want[i]);
    EXPECT_TRUE(graph_empty(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(test_interleaved_chains)
{
    const uint32_t want[4] = { 1, 0, 3, 2 }; /* B, A, Y, X */
    interleaved(KVBM_LINEAGE_TICK, want);
}

KVBM_TEST(test_interleaved_chains_fifo)
{
    const uint32_t want[4] = { 1, 3, 0, 2 }; /* B, Y, A, X */
    interleaved(KVBM_LINEAGE_FIFO, want);
}

KVBM_TEST(test_remove_by_hash)
{
    kvbm__inactive b = mk(10, KVBM_LINEAGE_TICK);
    kvbm_plh c[1];
    tb_chain(1, 0, c);
    insert_chain(&b, c, 1, 0);
    uint32_t id = 99;
    EXPECT_TRUE(b.ops->find_match(b.ctx, c[0], false, &id));
    EXPECT_EQ(id, 0u);
    EXPECT_TRUE(graph_empty(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(test_deep_chain_cleanup_iterative)
{
    enum { N = 1000 };
    kvbm_plh *c = malloc(N * sizeof *c);
    ASSERT_TRUE(c != NULL);
    tb_chain(N, 0, c);
    kvbm__inactive b = mk(N, KVBM_LINEAGE_TICK);
    insert_chain(&b, c, N, 0);
    uint32_t id;
    EXPECT_TRUE(b.ops->find_match(b.ctx, c[N - 1], false, &id));
    EXPECT_EQ(id, (uint32_t)(N - 1));
    EXPECT_EQ(b.ops->len(b.ctx), (size_t)N - 1);
    EXPECT_EQ(st_of(&b).leaves, 1u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);

    /* only position 100 of a 101-chain: exactly one ghost parent, pruned on removal */
    b = mk(N, KVBM_LINEAGE_TICK);
    ASSERT_OK(b.ops->insert(b.ctx, c[100], 0));
    kvbm__lineage_info s = st_of(&b);
    EXPECT_EQ(s.real, 1u);
    EXPECT_EQ(s.ghosts, 1u);
    EXPECT_TRUE(b.ops->find_match(b.ctx, c[100], false, &id));
    EXPECT_EQ(b.ops->len(b.ctx), 0u);
    EXPECT_TRUE(graph_empty(&b));
    kvbm__inactive_destroy(&b);

    /* a long ghost chain collapses iteratively: remove 0..N-2 (ghosts), then the leaf */
    b = mk(N, KVBM_LINEAGE_FIFO);
    insert_chain(&b, c, N, 0);
    for (int i = 0; i < N - 1; i++) ASSERT_TRUE(b.ops->find_match(b.ctx, c[i], false, &id));
    s = st_of(&b);
    EXPECT_EQ(s.real, 1u);
    EXPECT_EQ(s.ghosts, (size_t)N - 1);
    EXPECT_TRUE(tb_check(&b));
    EXPECT_TRUE(b.ops->find_match(b.ctx, c[N - 1], false, &id));
    EXPECT_TRUE(graph_empty(&b));
    kvbm__inactive_destroy(&b);
    free(c);
}

KVBM_TEST(test_split_sequence_eviction)
{
    kvbm__inactive b = mk(10, KVBM_LINEAGE_TICK);
    kvbm_plh a[5], x[5];
    tb_chain(5, 0, a);
    tb_chain(5, 5000, x);
    insert_chain(&b, a, 5, 0);
    insert_chain(&b, x, 5, 5);
    EXPECT_EQ(b.ops->len(b.ctx), 10u);
    EXPECT_EQ(st_of(&b).leaves, 2u);
    kvbm__pair out[2];
    EXPECT_EQ(b.ops->allocate(b.ctx, 1, out), 1u);
    EXPECT_EQ(b.ops->len(b.ctx), 9u);
    EXPECT_EQ(st_of(&b).leaves, 2u);
    EXPECT_EQ(b.ops->allocate(b.ctx, 1, out), 1u);
    EXPECT_EQ(b.ops->len(b.ctx), 8u);
    EXPECT_EQ(st_of(&b).leaves, 2u);
    EXPECT_EQ(b.ops->allocate(b.ctx, 2, out), 2u);
    EXPECT_EQ(b.ops->len(b.ctx), 6u);
    EXPECT_EQ(st_of(&b).leaves, 2u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(lookup_rejects_same_position_fragment_but_different_full_hash)
{
    kvbm_plh stored, impostor;
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x11, 5, &stored));
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x22, 5, &impostor));
    ASSERT_FALSE(kvbm_plh_eq(stored, impostor));
    kvbm__inactive b = mk(10, KVBM_LINEAGE_TICK);
    ASSERT_OK(b.ops->insert(b.ctx, stored, 3));
    EXPECT_FALSE(b.ops->has(b.ctx, impostor));
    uint32_t id;
    EXPECT_FALSE(b.ops->find_match(b.ctx, impostor, false, &id));
    kvbm__pair out[1];
    EXPECT_EQ(b.ops->scan_matches(b.ctx, &impostor, 1, false, out), 0u);
    EXPECT_EQ(b.ops->find_matches(b.ctx, &impostor, 1, false, out), 0u);
    EXPECT_FALSE(b.ops->take(b.ctx, impostor, 3));
    EXPECT_EQ(b.ops->len(b.ctx), 1u);
    /* inserting the impostor is a detected collision, not a silent overwrite */
    kvbm_clear_last_error();
    EXPECT_STATUS(b.ops->insert(b.ctx, impostor, 4), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Hash collision detected!");
    EXPECT_TRUE(b.ops->has(b.ctx, stored));
    EXPECT_TRUE(b.ops->take(b.ctx, stored, 3));
    EXPECT_TRUE(graph_empty(&b));
    kvbm__inactive_destroy(&b);
}

KVBM_TEST(lineage_duplicate_insertion_detected)
{
    kvbm__inactive b = mk(10, KVBM_LINEAGE_TICK);
    kvbm_plh c[2];
    tb_chain(2, 0, c);
    insert_chain(&b, c, 2, 0);
    kvbm_clear_last_error();
    EXPECT_STATUS(b.ops->insert(b.ctx, c[1], 5), KVBM_EINVAL);
    EXPECT_STR_CONTAINS(kvbm_last_error(), "Duplicate insertion detected! position=1");
    EXPECT_EQ(b.ops->len(b.ctx), 2u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

/* The key index runs at load <= 1/8 of the allocated cells (LIN_IDX_SPREAD, lineage.c). */
KVBM_TEST(index_is_sized_for_an_eighth_load)
{
    static const size_t caps[] = { 1, 7, 100, 4096, 8192 };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        kvbm__inactive b = mk(caps[i], i % 2 ? KVBM_LINEAGE_FIFO : KVBM_LINEAGE_TICK);
        kvbm__lineage_info s = st_of(&b);
        EXPECT_EQ(s.slab_cap, caps[i]);
        EXPECT_GE(s.index_slots, 8 * s.slab_cap);
        EXPECT_TRUE((s.index_slots & (s.index_slots - 1)) == 0); /* a power of two */
        kvbm__inactive_destroy(&b);
    }
}

KVBM_TEST(slab_recycles_freed_slots)
{
    kvbm__inactive b = mk(8, KVBM_LINEAGE_TICK);
    kvbm_plh c[8], d[8];
    tb_chain(8, 0, c);
    tb_chain(8, 777, d);
    insert_chain(&b, c, 8, 0);
    EXPECT_EQ(st_of(&b).slab_cells, 8u);
    kvbm__pair out[8];
    EXPECT_EQ(b.ops->allocate_all(b.ctx, out), 8u);
    EXPECT_TRUE(graph_empty(&b));
    insert_chain(&b, d, 8, 0);
    EXPECT_EQ(st_of(&b).slab_cells, 8u);
    EXPECT_EQ(st_of(&b).slab_cap, 8u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

/* kvbm keeps pruned nodes dormant (indexed, with their old parent as a hint) until their
 * cell is reused; reviving them must be observably a fresh insert (§3.4.2): a chain
 * resurrected root-first and re-inserted leaf-first, then root, then middle. */
KVBM_TEST(dormant_chain_revival_is_a_fresh_insert)
{
    for (int ev = 0; ev < 2; ev++) {
        kvbm__inactive b = mk(3, (kvbm_lineage_eviction)ev);
        kvbm_plh c[3];
        tb_chain(3, 0, c);
        insert_chain(&b, c, 3, 0);
        kvbm__pair out[3];
        EXPECT_EQ(b.ops->find_matches(b.ctx, c, 3, false, out), 3u); /* root-first */
        EXPECT_TRUE(graph_empty(&b));
        EXPECT_TRUE(tb_check(&b));
        ASSERT_OK(b.ops->insert(b.ctx, c[2], 2)); /* leaf: its parent comes back as a ghost */
        kvbm__lineage_info s = st_of(&b);
        EXPECT_EQ(s.real, 1u);
        EXPECT_EQ(s.ghosts, 1u);
        EXPECT_EQ(s.leaves, 1u);
        EXPECT_TRUE(tb_check(&b));
        ASSERT_OK(b.ops->insert(b.ctx, c[0], 0)); /* the ghost has no parent link: a leaf */
        s = st_of(&b);
        EXPECT_EQ(s.real, 2u);
        EXPECT_EQ(s.ghosts, 1u);
        EXPECT_EQ(s.leaves, 2u);
        EXPECT_TRUE(tb_check(&b));
        ASSERT_OK(b.ops->insert(b.ctx, c[1], 1)); /* ghost promoted, links to c[0] */
        s = st_of(&b);
        EXPECT_EQ(s.real, 3u);
        EXPECT_EQ(s.ghosts, 0u);
        EXPECT_EQ(s.leaves, 1u);
        EXPECT_EQ(s.slab_cells, 3u);
        EXPECT_TRUE(tb_check(&b));
        EXPECT_EQ(alloc1(&b), 2u);
        EXPECT_EQ(alloc1(&b), 1u);
        EXPECT_EQ(alloc1(&b), 0u);
        EXPECT_TRUE(graph_empty(&b));
        EXPECT_TRUE(tb_check(&b));
        kvbm__inactive_destroy(&b);
    }
}

/* A dormant node revived by a hash of the same key but another parent fragment must not
 * follow its stale parent hint. */
KVBM_TEST(dormant_revival_ignores_a_stale_parent_hint)
{
    kvbm_plh p1, p2, c1, c2;
    ASSERT_OK(kvbm_plh_new(0x11, true, 0x7, 4, &p1));
    ASSERT_OK(kvbm_plh_new(0x22, true, 0x7, 4, &p2));
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x11, 5, &c1)); /* child of p1 */
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x22, 5, &c2)); /* same key as c1, child of p2 */
    kvbm__inactive b = mk(8, KVBM_LINEAGE_TICK);
    ASSERT_OK(b.ops->insert(b.ctx, p1, 0));
    ASSERT_OK(b.ops->insert(b.ctx, c1, 1));
    ASSERT_OK(b.ops->insert(b.ctx, p2, 2));
    EXPECT_TRUE(b.ops->take(b.ctx, c1, 1)); /* c1 dormant, hint -> p1; p1 a leaf again */
    EXPECT_TRUE(tb_check(&b));
    ASSERT_OK(b.ops->insert(b.ctx, c2, 3));
    EXPECT_TRUE(tb_check(&b));
    kvbm__lineage_info s = st_of(&b);
    EXPECT_EQ(s.real, 3u);
    EXPECT_EQ(s.ghosts, 1u); /* the common ghost parent (3, 0x7) of p1 and p2 */
    EXPECT_EQ(s.leaves, 2u); /* p1 and c2; p2 has the child c2 */
    EXPECT_FALSE(b.ops->has(b.ctx, c1));
    EXPECT_TRUE(b.ops->has(b.ctx, c2));
    EXPECT_EQ(alloc1(&b), 0u); /* p1: tick 0 */
    EXPECT_EQ(alloc1(&b), 3u); /* c2: tick 3 (p2 is not a leaf) */
    EXPECT_EQ(alloc1(&b), 2u); /* p2 re-leafed with tick 2 */
    EXPECT_TRUE(graph_empty(&b));
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

/* A Ghost promoted by another hash of its key keeps its parent link (§3.4.2 step 3); once
 * pruned, re-inserting that hash must link by the hash's own parent fragment, not follow
 * the link made for the old hash. */
KVBM_TEST(dormant_revival_after_promotion_by_another_hash)
{
    kvbm_plh p1, p2, c1, c2, d1;
    ASSERT_OK(kvbm_plh_new(0x11, true, 0x7, 4, &p1));
    ASSERT_OK(kvbm_plh_new(0x22, true, 0x7, 4, &p2));
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x11, 5, &c1)); /* child of p1 */
    ASSERT_OK(kvbm_plh_new(0xAA, true, 0x22, 5, &c2)); /* same key as c1, child of p2 */
    ASSERT_OK(kvbm_plh_new(0xBB, true, 0xAA, 6, &d1)); /* child of the (5, 0xAA) node */
    kvbm__inactive b = mk(8, KVBM_LINEAGE_TICK);
    ASSERT_OK(b.ops->insert(b.ctx, p1, 0));
    ASSERT_OK(b.ops->insert(b.ctx, c1, 1));
    ASSERT_OK(b.ops->insert(b.ctx, d1, 2));
    ASSERT_OK(b.ops->insert(b.ctx, p2, 3));
    uint32_t id;
    EXPECT_TRUE(b.ops->find_match(b.ctx, c1, false, &id)); /* ghost, keeps its link to p1 */
    EXPECT_EQ(id, 1u);
    ASSERT_OK(b.ops->insert(b.ctx, c2, 4)); /* promoted, no relink: stays under p1 */
    EXPECT_TRUE(tb_check(&b));
    EXPECT_EQ(st_of(&b).leaves, 2u); /* d1, p2 */
    EXPECT_TRUE(b.ops->take(b.ctx, d1, 2));
    EXPECT_TRUE(b.ops->take(b.ctx, c2, 4)); /* pruned: p1 is a leaf again */
    EXPECT_TRUE(tb_check(&b));
    ASSERT_OK(b.ops->insert(b.ctx, c2, 5)); /* fresh insert: links to p2 */
    EXPECT_TRUE(tb_check(&b));
    kvbm__lineage_info s = st_of(&b);
    EXPECT_EQ(s.real, 3u);
    EXPECT_EQ(s.leaves, 2u); /* p1, c2 */
    EXPECT_EQ(alloc1(&b), 0u); /* p1: tick 0 */
    EXPECT_EQ(alloc1(&b), 5u); /* c2: newest tick, p2 (tick 3) is not a leaf */
    EXPECT_EQ(alloc1(&b), 3u);
    EXPECT_TRUE(graph_empty(&b));
    EXPECT_TRUE(tb_check(&b));
    kvbm__inactive_destroy(&b);
}

/* Ghosts beyond the pre-size grow the slab (the only allowed growth) and stay consistent. */
KVBM_TEST(slab_grows_for_ghosts)
{
    kvbm__inactive b = mk(4, KVBM_LINEAGE_TICK);
    kvbm_plh c[4][3];
    for (int i = 0; i < 4; i++) tb_chain(3, 1000u * (unsigned)i, c[i]);
    for (uint32_t i = 0; i < 4; i++) ASSERT_OK(b.ops->insert(b.ctx, c[i][2], i)); /* 4 ghosts */
    kvbm__lineage_info s = st_of(&b);
    EXPECT_EQ(s.real, 4u);
    EXPECT_EQ(s.ghosts, 4u);
    EXPECT_GE(s.slab_cap, 8u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__pair out[4];
    EXPECT_EQ(b.ops->allocate_all(b.ctx, out), 4u);
    for (uint32_t i = 0; i < 4; i++) EXPECT_EQ(out[i].block_id, i); /* tick order */
    EXPECT_TRUE(graph_empty(&b));
    kvbm__inactive_destroy(&b);
}

/* Chains A = a0 a1 (block ids 0, 1) and X = x0 x1 (ids 2, 3) inserted in that order, then
 * a1 matched (removed): A0 becomes a leaf again, after X1 became one. */
static kvbm__inactive two_chains_a0_releafed(kvbm_lineage_eviction ev)
{
    kvbm__inactive b = mk(10, ev);
    kvbm_plh a[2], x[2];
    tb_chain(2, 0, a);
    tb_chain(2, 100, x);
    insert_chain(&b, a, 2, 0);
    insert_chain(&b, x, 2, 2);
    uint32_t id;
    if (!b.ops->find_match(b.ctx, a[1], false, &id) || id != 1) abort();
    return b;
}

KVBM_TEST(re_leafed_node_goes_to_fifo_tail)
{
    kvbm__inactive b = two_chains_a0_releafed(KVBM_LINEAGE_FIFO); /* A0 re-leafed -> tail */
    EXPECT_EQ(alloc1(&b), 3u);                                /* B1 */
    EXPECT_EQ(alloc1(&b), 0u);                                /* A0 */
    EXPECT_EQ(alloc1(&b), 2u);
    kvbm__inactive_destroy(&b);
}

/* Tick counterpart: the re-leafed node returns to its original position. */
KVBM_TEST(re_leafed_node_keeps_tick_position)
{
    kvbm__inactive b = two_chains_a0_releafed(KVBM_LINEAGE_TICK);
    EXPECT_EQ(alloc1(&b), 0u); /* A0 has the smallest tick */
    EXPECT_EQ(alloc1(&b), 3u);
    EXPECT_EQ(alloc1(&b), 2u);
    kvbm__inactive_destroy(&b);
}

/* A demoted-to-ghost inner node keeps its parent link; re-inserting it promotes the ghost
 * and the chain evicts leaf-first again. */
KVBM_TEST(ghost_inner_node_reinsert)
{
    for (int ev = 0; ev < 2; ev++) {
        kvbm__inactive b = mk(10, (kvbm_lineage_eviction)ev);
        kvbm_plh c[3];
        tb_chain(3, 0, c);
        insert_chain(&b, c, 3, 0);
        uint32_t id;
        ASSERT_TRUE(b.ops->find_match(b.ctx, c[1], false, &id));
        kvbm__lineage_info s = st_of(&b);
        EXPECT_EQ(s.real, 2u);
        EXPECT_EQ(s.ghosts, 1u);
        EXPECT_EQ(s.leaves, 1u); /* root is not a leaf: ghost child with a real child */
        ASSERT_OK(b.ops->insert(b.ctx, c[1], 7));
        EXPECT_EQ(st_of(&b).ghosts, 0u);
        EXPECT_TRUE(tb_check(&b));
        EXPECT_EQ(alloc1(&b), 2u);
        EXPECT_EQ(alloc1(&b), 7u);
        EXPECT_EQ(alloc1(&b), 0u);
        kvbm__inactive_destroy(&b);
    }
}

/* Chains crossing the PLH mode boundary (position 255 -> 256) link correctly. */
KVBM_TEST(lineage_chain_across_mode_boundary)
{
    enum { N = 300 };
    kvbm_plh *c = malloc(N * sizeof *c);
    ASSERT_TRUE(c != NULL);
    tb_chain(N, 42, c);
    kvbm__inactive b = mk(N, KVBM_LINEAGE_TICK);
    for (int i = N - 1; i >= 0; i--) ASSERT_OK(b.ops->insert(b.ctx, c[i], (uint32_t)i)); /* reverse */
    kvbm__lineage_info s = st_of(&b);
    EXPECT_EQ(s.real, (size_t)N);
    EXPECT_EQ(s.ghosts, 0u);
    EXPECT_EQ(s.leaves, 1u);
    EXPECT_TRUE(tb_check(&b));
    kvbm__pair *out = malloc(N * sizeof *out);
    ASSERT_TRUE(out != NULL);
    EXPECT_EQ(b.ops->allocate_all(b.ctx, out), (size_t)N);
    for (int i = 0; i < N; i++) EXPECT_EQ(out[i].block_id, (uint32_t)(N - 1 - i));
    kvbm__inactive_destroy(&b);
    free(out);
    free(c);
}

/* ---- eviction.rs: the policies on raw node indices ------------------------------------ */

static uint32_t drain1(kvbm__leaf_policy *p)
{
    uint32_t v = kvbm__leaf_policy_next_victim(p);
    if (v != UINT32_MAX) kvbm__leaf_policy_on_node_removed(p, v);
    return v;
}

KVBM_TEST(fifo_order_and_unlink)
{
    kvbm__leaf_policy p;
    ASSERT_OK(kvbm__leaf_policy_init(&p, KVBM_LINEAGE_FIFO, 8, 8));
    for (uint32_t i = 0; i < 4; i++) {
        kvbm__leaf_policy_on_node_inserted(&p, i);
        ASSERT_OK(kvbm__leaf_policy_on_leaf_added(&p, i));
    }
    kvbm__leaf_policy_on_leaf_demoted(&p, 2);
    kvbm__leaf_policy_on_node_removed(&p, 0);
    EXPECT_EQ(kvbm__leaf_policy_next_victim(&p), 1u);
    ASSERT_OK(kvbm__leaf_policy_on_leaf_added(&p, 0));
    EXPECT_TRUE(kvbm__leaf_policy_check(&p));
    EXPECT_EQ(drain1(&p), 1u);
    EXPECT_EQ(drain1(&p), 3u);
    EXPECT_EQ(drain1(&p), 0u);
    EXPECT_EQ(drain1(&p), UINT32_MAX);
    kvbm__leaf_policy_on_node_removed(&p, 2); /* not linked: no-op */
    EXPECT_EQ(kvbm__leaf_policy_len(&p), 0u);
    kvbm__leaf_policy_fini(&p);
}

KVBM_TEST(tick_re_leafed_node_keeps_original_position)
{
    kvbm__leaf_policy p;
    ASSERT_OK(kvbm__leaf_policy_init(&p, KVBM_LINEAGE_TICK, 8, 8));
    for (uint32_t i = 0; i < 3; i++) {
        kvbm__leaf_policy_on_node_inserted(&p, i);
        ASSERT_OK(kvbm__leaf_policy_on_leaf_added(&p, i));
    }
    kvbm__leaf_policy_on_leaf_demoted(&p, 0);
    EXPECT_EQ(kvbm__leaf_policy_next_victim(&p), 1u);
    ASSERT_OK(kvbm__leaf_policy_on_leaf_added(&p, 0));
    EXPECT_EQ(kvbm__leaf_policy_next_victim(&p), 0u); /* head again */
    kvbm__leaf_policy_on_node_removed(&p, 0);
    kvbm__leaf_policy_on_node_inserted(&p, 0); /* new tick */
    ASSERT_OK(kvbm__leaf_policy_on_leaf_added(&p, 0));
    EXPECT_TRUE(kvbm__leaf_policy_check(&p));
    EXPECT_EQ(drain1(&p), 1u);
    EXPECT_EQ(drain1(&p), 2u);
    EXPECT_EQ(drain1(&p), 0u);
    kvbm__leaf_policy_fini(&p);
}

/* A recycling remembers the next dormant cell's index home (the slot it prefetched) for the
 * following recycling. The index may grow before that cell is recycled - here the cell is
 * revived, ghosts outgrow the slab (index and slab double), and it is pruned again as the
 * only dormant cell: its recycling must find its entry at the home under the new size.
 * Sixteen key sets, so that some home moves with the growth. */
KVBM_TEST(recycled_cell_home_survives_index_growth)
{
    for (uint64_t k = 0; k < 16; k++) {
        kvbm__inactive b = mk(4, KVBM_LINEAGE_TICK);
        kvbm_plh a[1], bb[1], e[1], x[2], y[2], f[1];
        tb_chain(1, 1000 * k + 1, a);
        tb_chain(1, 1000 * k + 2, bb);
        tb_chain(1, 1000 * k + 3, e);
        tb_chain(2, 1000 * k + 4, x);
        tb_chain(2, 1000 * k + 6, y);
        tb_chain(1, 1000 * k + 8, f);
        ASSERT_OK(b.ops->insert(b.ctx, a[0], 0));
        ASSERT_OK(b.ops->insert(b.ctx, bb[0], 1));
        kvbm__pair out[2];
        ASSERT_EQ(b.ops->allocate(b.ctx, 2, out), 2u);   /* dormant: A's cell, then B's */
        ASSERT_OK(b.ops->insert(b.ctx, e[0], 0));        /* recycles A's; B's home remembered */
        ASSERT_OK(b.ops->insert(b.ctx, bb[0], 1));       /* B revived in place */
        ASSERT_OK(b.ops->insert(b.ctx, x[1], 2));        /* + a ghost: the slab is full */
        size_t cap0 = st_of(&b).slab_cap;
        EXPECT_GE(st_of(&b).index_slots, 8 * cap0);      /* load <= 1/8 before ... */
        ASSERT_OK(b.ops->insert(b.ctx, y[1], 3));        /* + a ghost: slab and index grow */
        EXPECT_TRUE(st_of(&b).slab_cap > cap0);
        EXPECT_GE(st_of(&b).index_slots, 8 * st_of(&b).slab_cap); /* ... and after growing */
        uint32_t id = UINT32_MAX;
        EXPECT_TRUE(b.ops->find_match(b.ctx, bb[0], false, &id)); /* B dormant again, alone */
        EXPECT_EQ(id, 1u);
        ASSERT_OK(b.ops->insert(b.ctx, f[0], 1));        /* recycles B's cell */
        EXPECT_TRUE(tb_check(&b));
        EXPECT_FALSE(b.ops->has(b.ctx, bb[0]));
        EXPECT_TRUE(b.ops->has(b.ctx, f[0]));
        EXPECT_EQ(b.ops->len(b.ctx), 4u);
        kvbm__inactive_destroy(&b);
    }
}

/* §8.9: TickPolicy on_leaf_added without a tick is an invariant violation -> status. */
KVBM_TEST(tick_leaf_added_without_tick_is_an_error)
{
#if KVBM_DEBUG == 0
    kvbm__leaf_policy p;
    ASSERT_OK(kvbm__leaf_policy_init(&p, KVBM_LINEAGE_TICK, 4, 4));
    EXPECT_STATUS(kvbm__leaf_policy_on_leaf_added(&p, 1), KVBM_EINVAL);
    kvbm__leaf_policy_fini(&p);
#endif
}

/* Tick heap against sorted order under random demote/re-add/remove. */
KVBM_TEST(tick_heap_random_order)
{
    enum { N = 200 };
    uint64_t seed = test_seed();
    printf("seed=%" PRIu64 "\n", seed);
    uint64_t x = seed | 1;
    kvbm__leaf_policy p;
    ASSERT_OK(kvbm__leaf_policy_init(&p, KVBM_LINEAGE_TICK, N, N));
    bool real[N] = { false }, leaf[N] = { false };
    uint64_t tick[N] = { 0 }, next = 0;
    for (int step = 0; step < 20000; step++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint32_t i = (uint32_t)(x % N);
        unsigned op = (unsigned)(x >> 32) % 4;
        if (!real[i]) {
            kvbm__leaf_policy_on_node_inserted(&p, i);
            ASSERT_OK(kvbm__leaf_policy_on_leaf_added(&p, i));
            real[i] = leaf[i] = true;
            tick[i] = next++;
        } else if (op == 0) {
            kvbm__leaf_policy_on_node_removed(&p, i);
            real[i] = leaf[i] = false;
        } else if (op == 1 && leaf[i]) {
            kvbm__leaf_policy_on_leaf_demoted(&p, i);
            leaf[i] = false;
        } else if (op == 2 && !leaf[i]) {
            ASSERT_OK(kvbm__leaf_policy_on_leaf_added(&p, i));
            leaf[i] = true;
        } else {
            uint32_t best = UINT32_MAX;
            for (uint32_t j = 0; j < N; j++)
                if (leaf[j] && (best == UINT32_MAX || tick[j] < tick[best])) best = j;
            ASSERT_EQ(kvbm__leaf_policy_next_victim(&p), best);
            if (best != UINT32_MAX) {
                kvbm__leaf_policy_on_node_removed(&p, best);
                real[best] = leaf[best] = false;
            }
        }
    }
    EXPECT_TRUE(kvbm__leaf_policy_check(&p));
    kvbm__leaf_policy_fini(&p);
}

/* pair_hasher_distinguishes_keys: kvbm's index digest of a key (position, fragment) hashes
 * the bits of the fragment shared by every fragment width (so a lookup by full hash needs
 * no position; design/backends.md §5): small fragments give distinct digests, the digest
 * does not depend on the position, and the digest of a Real node's key equals that of its
 * current hash (what find/has/take probe with). */
KVBM_TEST(pair_hasher_distinguishes_keys)
{
    const uint64_t frags[6] = { 0, 1, 2, 3, 0x11, 0x22 };
    uint32_t d[6];
    for (int i = 0; i < 6; i++) d[i] = kvbm__lineage_key_h32(1, frags[i]);
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++) EXPECT_NE(d[i], d[j]);
    EXPECT_EQ(kvbm__lineage_key_h32(0, 7), kvbm__lineage_key_h32(300, 7));
    kvbm_plh h;
    ASSERT_OK(kvbm_plh_new(UINT64_C(0xF00DCAFE12345678), true, 0x11, 70000, &h));
    uint64_t pos = kvbm_plh_position(h);
    EXPECT_EQ(kvbm__lineage_key_h32(pos, kvbm_plh_parent_fragment_for_child_position(h, pos + 1)),
              kvbm__lineage_key_h32(pos, kvbm_plh_current(h)));
}

/* prefetch_insert is a hint: on a backend large enough to use it (an index of >= 2^15
 * slots), hinting present and absent hashes - including ones inserted right after, tail
 * first as release_many does - changes nothing observable, and the optional op is absent
 * from the other backends. */
KVBM_TEST(prefetch_insert_is_a_pure_hint)
{
    for (int e = 0; e < 2; e++) {
        kvbm__inactive b = mk(16384, e == 0 ? KVBM_LINEAGE_TICK : KVBM_LINEAGE_FIFO);
        ASSERT_TRUE(b.ops->prefetch_insert != NULL);
        kvbm_plh c[64];
        tb_chain(64, 7, c);
        for (size_t i = 64; i-- > 32;) { /* tail first, each insert hinted one ahead */
            if (i > 32) b.ops->prefetch_insert(b.ctx, c[i - 1]);
            ASSERT_OK(b.ops->insert(b.ctx, c[i], (uint32_t)i));
        }
        for (size_t i = 0; i < 64; i++) b.ops->prefetch_insert(b.ctx, c[i]);
        b.ops->prefetch_insert(b.ctx, tb_hash_for_id(12345));
        EXPECT_EQ(b.ops->len(b.ctx), 32u);
        for (size_t i = 0; i < 64; i++) EXPECT_EQ(b.ops->has(b.ctx, c[i]), i >= 32);
        EXPECT_TRUE(tb_check(&b));
        kvbm__lineage_info s = st_of(&b);
        EXPECT_EQ(s.real, 32u);
        EXPECT_EQ(s.ghosts, 1u); /* the absent parent of c[32] */
        EXPECT_EQ(s.leaves, 1u);
        kvbm__inactive_destroy(&b);
    }
    for (int k = TB_HASHMAP; k <= TB_MULTI_LRU; k++) {
        kvbm__inactive b;
        ASSERT_OK(tb_create((enum tb_kind)k, 8, &b, NULL)); /* the backend owns its tracker */
        EXPECT_TRUE(b.ops->prefetch_insert == NULL);
        kvbm__inactive_destroy(&b);
    }
}

/* A dormant node's parent hint names a cell that an eviction pruned after it, and that
 * an insert may hand out again before the dormant node comes back: a1 goes dormant with
 * hint = a0's cell, a0 is evicted (dormant too), an unrelated root x recycles a cell, then
 * a1 comes back. Whichever cells were recycled, the graph must end up with a1 under a
 * ghost of a0's key and x a separate leaf (a freed-cell scheme tried in session 11, whose
 * hints could name reused cells, failed this test when it trusted the hint). */
KVBM_TEST(dormant_hint_cell_freed_by_eviction_and_reused)
{
    for (int e = 0; e < 2; e++) {
        for (int reuse = 0; reuse < 2; reuse++) {
            kvbm__inactive b = mk(8, e == 0 ? KVBM_LINEAGE_TICK : KVBM_LINEAGE_FIFO);
            kvbm_plh a[2];
            tb_chain(2, 100, a);
            kvbm_plh x = tb_hash_for_id(77);
            insert_chain(&b, a, 2, 0);
            uint32_t id = UINT32_MAX;
            ASSERT_TRUE(b.ops->find_match(b.ctx, a[1], false, &id)); /* a1 dormant, a0 a leaf */
            EXPECT_EQ(id, 1u);
            EXPECT_EQ(alloc1(&b), 0u); /* a0 evicted */
            EXPECT_TRUE(graph_empty(&b));
            EXPECT_TRUE(tb_check(&b));
            if (reuse) ASSERT_OK(b.ops->insert(b.ctx, x, 2)); /* recycles a cell */
            ASSERT_OK(b.ops->insert(b.ctx, a[1], 1));
            EXPECT_TRUE(tb_check(&b));
            kvbm__lineage_info s = st_of(&b);
            EXPECT_EQ(s.real, reuse ? 2u : 1u);
            EXPECT_EQ(s.ghosts, 1u); /* a0's key again, as a ghost */
            EXPECT_EQ(s.leaves, reuse ? 2u : 1u);
            if (reuse) EXPECT_EQ(alloc1(&b), 2u); /* x, a leaf inserted first */
            EXPECT_EQ(alloc1(&b), 1u);
            EXPECT_TRUE(graph_empty(&b));
            ASSERT_OK(b.ops->insert(b.ctx, a[0], 0)); /* a0 and a1 again: a chain */
            ASSERT_OK(b.ops->insert(b.ctx, a[1], 1));
            EXPECT_EQ(st_of(&b).leaves, 1u);
            EXPECT_EQ(alloc1(&b), 1u);
            EXPECT_EQ(alloc1(&b), 0u);
            EXPECT_TRUE(tb_check(&b));
            kvbm__inactive_destroy(&b);
        }
    }
}

/* The insert's carry guess (the previous insert's parent) names a cell an eviction
 * pruned in between: a0 is a1's parent (the carry after a1's insert), both are evicted,
 * then a0 and a1 come back with other block ids. */
KVBM_TEST(carry_guess_dropped_when_evicted)
{
    for (int e = 0; e < 2; e++) {
        kvbm__inactive b = mk(8, e == 0 ? KVBM_LINEAGE_TICK : KVBM_LINEAGE_FIFO);
        kvbm_plh a[2];
        tb_chain(2, 300, a);
        ASSERT_OK(b.ops->insert(b.ctx, a[0], 0));
        ASSERT_OK(b.ops->insert(b.ctx, a[1], 1)); /* carry = a0's cell */
        kvbm__pair out[2];
        ASSERT_EQ(b.ops->allocate(b.ctx, 2, out), 2u);
        EXPECT_EQ(out[0].block_id, 1u);
        EXPECT_EQ(out[1].block_id, 0u);
        EXPECT_TRUE(graph_empty(&b));
        ASSERT_OK(b.ops->insert(b.ctx, a[0], 5));
        ASSERT_OK(b.ops->insert(b.ctx, a[1], 6));
        EXPECT_TRUE(tb_check(&b));
        kvbm__lineage_info s = st_of(&b);
        EXPECT_EQ(s.real, 2u);
        EXPECT_EQ(s.ghosts, 0u);
        EXPECT_EQ(s.leaves, 1u);
        EXPECT_EQ(alloc1(&b), 6u);
        EXPECT_EQ(alloc1(&b), 5u);
        kvbm__inactive_destroy(&b);
    }
}

/* Slab growth (ghosts beyond the pre-size) under both leaf orders: the nodes move to a
 * new line-aligned array and the leaf order's records move with them (embedded). A
 * failed allocation at either step of the growth (index, nodes) leaves the graph as it
 * was, and the insert succeeds when retried. */
KVBM_TEST(slab_growth_moves_embedded_order_and_survives_alloc_failure)
{
    for (int e = 0; e < 2; e++) {
        for (long nth = 1; nth <= 3; nth++) {
            kvbm__inactive b = mk(4, e == 0 ? KVBM_LINEAGE_TICK : KVBM_LINEAGE_FIFO);
            kvbm_plh c[4][3];
            for (int i = 0; i < 4; i++) tb_chain(3, 5000u + 1000u * (unsigned)i, c[i]);
            ASSERT_OK(b.ops->insert(b.ctx, c[0][2], 0)); /* cells 0-1 */
            ASSERT_OK(b.ops->insert(b.ctx, c[1][2], 1)); /* cells 2-3: full */
            kvbm__alloc_fail_set(nth);
            kvbm_status st = b.ops->insert(b.ctx, c[2][2], 2); /* needs 2 more cells */
            kvbm__alloc_fail_set(0);
            if (st != KVBM_OK) {
                EXPECT_STATUS(st, KVBM_ENOMEM);
                kvbm__lineage_info s = st_of(&b);
                EXPECT_EQ(s.real, 2u);
                EXPECT_EQ(s.ghosts, 2u);
                EXPECT_FALSE(b.ops->has(b.ctx, c[2][2]));
                EXPECT_TRUE(tb_check(&b));
                ASSERT_OK(b.ops->insert(b.ctx, c[2][2], 2));
            }
            ASSERT_OK(b.ops->insert(b.ctx, c[3][2], 3));
            EXPECT_TRUE(tb_check(&b));
            kvbm__lineage_info s = st_of(&b);
            EXPECT_EQ(s.real, 4u);
            EXPECT_EQ(s.ghosts, 4u);
            EXPECT_GE(s.slab_cap, 8u);
            kvbm__pair out[4];
            EXPECT_EQ(b.ops->allocate_all(b.ctx, out), 4u);
            for (uint32_t i = 0; i < 4; i++) EXPECT_EQ(out[i].block_id, i); /* tick and fifo: insertion order */
            EXPECT_TRUE(graph_empty(&b));
            EXPECT_TRUE(tb_check(&b));
            kvbm__inactive_destroy(&b);
        }
    }
}
