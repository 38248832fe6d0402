/* src/backends/lineage_evict.h - the Lineage backend's removals (private to lineage.c):
 * pruning (§3.4.3), removing a node (find_match, take), and allocate - under Tick a chain
 * released tail first is evicted leaf to root as one run. Static functions of the one
 * translation unit that instantiates them per leaf policy (lineage.c, LIN_*_OPS): included
 * there only, after lineage_int.h.
 */
#ifndef KVBM_BACKENDS_LINEAGE_EVICT_H
#define KVBM_BACKENDS_LINEAGE_EVICT_H

#include "backends/lineage_int.h"

/* One step of pruning (§3.4.3 step 2): the childless node @cur becomes dormant and leaves
 * its parent. Returns the parent when it is a ghost left childless (pruned in turn), else
 * NIL; a Real parent left childless re-enters the leaf order. */
KVBM__LP_INLINE uint32_t lin_prune_one(lineage *g, kvbm_lineage_eviction K, uint32_t cur)
{
    uint32_t parent = g->nodes[cur].parent; /* kept as the dormant node's hint */
    lin_make_dormant(g, cur);
    if (parent == NIL) return NIL;
    lin_node *p = &g->nodes[parent];
    if (--p->nchild != 0) return NIL;
    if (p->kind == NODE_REAL) {
        kvbm_status st = kvbm__lpk_on_leaf_added(&g->policy, K, LS, parent);
        kvbm__assert(st == KVBM_OK);
        KVBM_UNUSED(st);
        return NIL;
    }
    return parent;
}

/* Prune the childless node @cur and every ghost above it that becomes childless. Not
 * cloned per constant kind (gcc): the clone made find_match's inlined caller ~2 Ir per
 * block dearer (session 13). */
#if defined(__GNUC__) && !defined(__clang__)
#define LIN_NOCLONE __attribute__((noclone))
#else
#define LIN_NOCLONE
#endif
LIN_NOCLONE static void lin_prune(lineage *g, kvbm_lineage_eviction K, uint32_t cur)
{
    while (cur != NIL) cur = lin_prune_one(g, K, cur);
}

/* REAL node idx -> GHOST, then prune childless ghosts upwards (§3.4.3). A node with
 * children (a chain resurrected root-first) just stays as a ghost. @leaf (a constant):
 * the caller knows idx is a leaf, an eviction victim - its first pruning step is inline, a
 * ghost chain above it out of line. (Tick's victims take lin_allocate_tick_k instead.) */
KVBM__LP_INLINE uint32_t lin_remove_node(lineage *g, kvbm_lineage_eviction K, uint32_t idx, bool leaf)
{
    lin_node *n = &g->nodes[idx];
    uint32_t block_id = n->block_id;
    n->kind = NODE_GHOST;
    g->count--;
    g->id_present[n->block_id] = 0;
    kvbm__lpk_on_node_removed(&g->policy, K, LS, idx);
    if (leaf) {
        uint32_t up = lin_prune_one(g, K, idx);
        if (up != NIL) lin_prune(g, K, up);
    } else if (n->nchild == 0) {
        lin_prune(g, K, idx);
    }
    return block_id;
}

/* lin_remove_node of a node that is not known to be a leaf, out of line, per kind. */
LIN_NOCLONE static __attribute__((noinline)) void lin_remove_tick(lineage *g, uint32_t idx)
{
    (void)lin_remove_node(g, KVBM_LINEAGE_TICK, idx, false);
}
LIN_NOCLONE static __attribute__((noinline)) void lin_remove_fifo(lineage *g, uint32_t idx)
{
    (void)lin_remove_node(g, KVBM_LINEAGE_FIFO, idx, false);
}

/* A match hits inner nodes (a cached prefix has cached continuations; the replay's hits are
 * nearly all such): an inner node is outside the leaf order and keeps its children, so
 * lin_remove_node only makes it a ghost (no order hook but the tick's reset, no pruning) -
 * that much inline; a leaf (the order's removal, the pruning of a ghost chain) out of line,
 * so the common path saves no registers. */
KVBM__LP_INLINE bool lin_find_match_k(void *ctx, kvbm_lineage_eviction K, kvbm_plh h, uint32_t *block_id)
{
    lineage *g = ctx;
    uint32_t idx = lin_lookup(g, h);
    if (idx == NIL) return false;
    lin_node *n = &g->nodes[idx];
    uint32_t bid = n->block_id;
    *block_id = bid;
    if (KVBM_LIKELY(n->nchild != 0)) {
        kvbm__assert(n->lp.prev == KVBM__LP_UNLINKED); /* the order holds exactly the Real leaves */
        n->kind = NODE_GHOST;
        g->count--;
        g->id_present[bid] = 0;
        if (K == KVBM_LINEAGE_TICK) kvbm__lp_tick_set(&n->lp, KVBM__LP_TICK_NONE);
        return true;
    }
    if (K == KVBM_LINEAGE_TICK) lin_remove_tick(g, idx);
    else lin_remove_fifo(g, idx);
    return true;
}

/* Tick: the heap root @v leaves the order and becomes dormant, its block already returned
 * and its parent's child count already decremented (@parent: its parent link, or NIL) -
 * the victim's pruning step (lin_prune_one) where a run (lin_tick_run_k) does not take it: no parent, a parent with children left, a ghost left childless (pruned in turn), or a
 * Real one re-leafed with a later tick (it joins the heap). The hooks run in
 * lin_prune_one's order (the victim out, then the parent in). */
KVBM__LP_INLINE void lin_evict_root_k(lineage *g, uint32_t v, uint32_t parent)
{
    uint32_t up = NIL;
    kvbm__lpk_on_node_removed(&g->policy, KVBM_LINEAGE_TICK, LS, v);
    if (parent != NIL && g->nodes[parent].nchild == 0) {
        if (g->nodes[parent].kind == NODE_REAL) {
            kvbm_status st = kvbm__lpk_on_leaf_added(&g->policy, KVBM_LINEAGE_TICK, LS, parent);
            kvbm__assert(st == KVBM_OK);
            KVBM_UNUSED(st);
        } else {
            up = parent; /* a ghost left childless: pruned in turn */
        }
    }
    lin_make_dormant(g, v);
    if (up != NIL) lin_prune(g, KVBM_LINEAGE_TICK, up);
}

/* lin_evict_root_k out of line: a run's last victim, and the victims after it that start
 * none (lin_tick_run_k). */
static __attribute__((noinline)) void lin_evict_root_slow(lineage *g, uint32_t v, uint32_t parent)
{
    lin_evict_root_k(g, v, parent);
}

/* The tick ring (Tick, index >= LIN_HINT_MIN_SLOTS): the cell given tick t is recorded at
 * tring[t & tring_mask] (2 x capacity entries, at most LIN_TRING_MAX), and allocate
 * prefetches the cell of tick(victim) + LIN_TRING_LEAD. A chain released tail first got
 * consecutive ticks and is evicted leaf to root (the root hand-off), so that cell is the
 * victim's grandparent: its line is in flight one eviction before the walk needs it. A
 * hint only: an entry may name a cell recycled since (wasted prefetch, never read). */
#define LIN_TRING_MAX  (UINT64_C(1) << 20) /* ring entries (4 MiB) */
#define LIN_TRING_LEAD 2

/* The locals of a Tick allocate (lin_allocate_tick_k). */
typedef struct lin_evict {
    lin_node       *nodes;
    uint8_t        *idp;
    const uint32_t *tring;
    uint64_t        tmask;
} lin_evict;

/* Tick allocate, one victim: return the block of @n (the heap root, cell @v) into *@o, leave
 * its parent (*@parent: the link, or NIL) one child fewer. true when the parent takes the
 * root position: Real, left childless, holding the next tick. */
KVBM__LP_INLINE bool lin_tick_step(const lin_evict *e, bool R, const lin_node *n, kvbm__pair *o, uint32_t *parent)
{
    kvbm__assert(n->kind == NODE_REAL && n->nchild == 0 && n->lp.next == KVBM__LP_NIL);
    uint64_t t = kvbm__lp_tick_get(&n->lp);
    /* the cell LIN_TRING_LEAD ticks ahead: in a chain, the victim's grandparent (its parent's
     * line was requested one eviction earlier, as that victim's grandparent) */
    if (R) __builtin_prefetch(&e->nodes[e->tring[(t + LIN_TRING_LEAD) & e->tmask]], 1);
    uint32_t bid = n->block_id;
    o->hash = n->hash;
    o->block_id = bid;
    e->idp[bid] = 0;
    uint32_t pa = n->parent;
    *parent = pa;
    if (pa == NIL) return false;
    lin_node *p = &e->nodes[pa];
    return --p->nchild == 0 && p->kind == NODE_REAL && kvbm__lp_tick_get(&p->lp) == t + 1;
}

/* Tick allocate: a run. Nearly every eviction of the replay is a step of one: a chain
 * released tail first got consecutive ticks and is evicted leaf to root, so the victim's
 * parent is Real, left childless, with the next tick - it takes the victim's place at the
 * heap root (ticks are unique and the root holds the smallest, so every other member's
 * tick exceeds the parent's). Within a run the root's heap children are handed over once,
 * to the node that is root when the run ends, instead of at every step: the parents in
 * between enter and leave the root position in the same run, and they are outside the
 * order before (non-leaves: clean records) and after (dormant). So a step only returns the
 * block, decrements the parent's child count, checks its kind and tick, and appends the
 * victim to the dormant list - the same final state, in the same eviction order, as the
 * per-victim hooks. A run that ends on a victim whose parent does not qualify: that victim
 * takes the general step, and so do the next ones until one starts a run again (runs
 * follow each other in the replay) - both out of line. @v: the root, its block returned,
 * its parent @parent qualified (by lin_tick_step); returns the blocks returned into
 * out[0..max) after v's (the count ends it, or an empty order). */
KVBM__LP_INLINE size_t lin_tick_run_k(lineage *g, bool R, uint32_t v, uint32_t parent, size_t max, kvbm__pair *out)
{
    const lin_evict e = { g->nodes, g->id_present, g->tring, g->tring_mask };
    kvbm__pair *o = out, *const end = out + max;
    for (;;) {
        lin_node *n = &e.nodes[v];
        /* detach the root's heap children; v becomes dormant (its record clean) */
        uint32_t c = n->lp.child;
        n->lp.child = KVBM__LP_NIL;
        n->lp.prev = KVBM__LP_UNLINKED;
        lin_make_dormant(g, v);
        uint32_t tail; /* the dormant list's tail */
        size_t dn = 0;
        bool evicted = false;
        for (;;) {
            /* the parent takes the root position */
            tail = v;
            v = parent;
            n = &e.nodes[v];
            kvbm__assert(n->lp.prev == KVBM__LP_UNLINKED && n->lp.child == KVBM__LP_NIL);
            if (o == end) break;
            if (!lin_tick_step(&e, R, n, o++, &parent)) {
                evicted = true;
                break;
            }
            /* and leaves it: dormant, appended to the list */
            n->kind = NODE_DORMANT;
            DNEXT(n) = NIL;
            DPREV(n) = tail;
            DNEXT(&e.nodes[tail]) = v;
            dn++;
        }
        g->dtail = tail;
        g->dcount += dn;
        /* v (the run's last victim, or a parent not evicted) is the root: it adopts c */
        n->lp.child = c;
        n->lp.prev = KVBM__LP_NIL;
        if (c != KVBM__LP_NIL) KVBM__LP_REC(g->policy.base, LS, c)->prev = v;
        g->policy.root = v;
        if (!evicted) break;
        lin_evict_root_slow(g, v, parent);
        /* the next victims, until one starts a run (the next iteration) or the count ends */
        for (;;) {
            if (o == end || (v = g->policy.root) == NIL) return (size_t)(o - out);
            if (lin_tick_step(&e, R, &e.nodes[v], o++, &parent)) break;
            lin_evict_root_slow(g, v, parent);
        }
    }
    return (size_t)(o - out);
}

/* The run out of line, one function per ring variant: its loop keeps its own registers
 * (inline, the allocate loop around it spilled the ring and the id map). */
static __attribute__((noinline)) size_t lin_tick_run(lineage *g, uint32_t v, uint32_t parent, size_t max,
                                                    kvbm__pair *out)
{
    return lin_tick_run_k(g, false, v, parent, max, out);
}
static __attribute__((noinline)) size_t lin_tick_run_r(lineage *g, uint32_t v, uint32_t parent, size_t max,
                                                      kvbm__pair *out)
{
    return lin_tick_run_k(g, true, v, parent, max, out);
}

/* Tick allocate: the victims come from the heap root; a victim whose parent takes the root
 * position starts a run (lin_tick_run_k), any other takes the general pruning step inline
 * (lin_evict_root_k: a chain released root first evicts every block that way). The count of
 * Real nodes is updated once. */
KVBM__LP_INLINE size_t lin_allocate_tick_k(lineage *g, bool R, size_t count, kvbm__pair *out)
{
    const lin_evict e = { g->nodes, g->id_present, g->tring, g->tring_mask };
    size_t k = 0;
    uint32_t v;
    while (k < count && (v = g->policy.root) != NIL) {
        uint32_t parent;
        if (lin_tick_step(&e, R, &e.nodes[v], &out[k++], &parent))
            k += R ? lin_tick_run_r(g, v, parent, count - k, out + k) : lin_tick_run(g, v, parent, count - k, out + k);
        else
            lin_evict_root_k(g, v, parent);
    }
    g->count -= k;
    return k;
}

KVBM__LP_INLINE size_t lin_allocate_k(void *ctx, kvbm_lineage_eviction K, bool R, size_t count, kvbm__pair *out)
{
    lineage *g = ctx;
    if (K == KVBM_LINEAGE_TICK) return lin_allocate_tick_k(g, R, count, out);
    size_t k = 0;
    while (k < count) {
        uint32_t victim = kvbm__lpk_next_victim(&g->policy, K);
        if (victim == NIL) break;
        /* Victims are old, cold nodes, and so are their parents (pruned or re-leafed by this
         * eviction) and the next victim (the list's next leaf). Start those misses now.
         * Hints only. */
        uint32_t vp = g->nodes[victim].parent;
        if (vp != NIL) __builtin_prefetch(&g->nodes[vp], 1);
        uint32_t nx = g->nodes[victim].lp.next;
        if (nx != KVBM__LP_NIL) __builtin_prefetch(&g->nodes[nx], 1);
        kvbm__assert(g->nodes[victim].kind == NODE_REAL && g->nodes[victim].nchild == 0);
        out[k].hash = g->nodes[victim].hash;
        out[k].block_id = lin_remove_node(g, K, victim, true);
        k++;
    }
    return k;
}

#endif /* KVBM_BACKENDS_LINEAGE_EVICT_H */
