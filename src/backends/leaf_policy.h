/* src/backends/leaf_policy.h - leaf eviction orders of the Lineage backend (§3.4.4).
 *
 * Both policies see node indices of the lineage slab and keep one 20-byte record per node
 * (kvbm__tick_node, backend.h): record i lives at base + i * stride. Standalone (tests,
 * kvbm__lp_init) the policy owns an array of records and grows it with reserve; embedded
 * (kvbm__lp_init_embedded) the records are a member of the owner's nodes - the Lineage
 * node holds its own, so the order's hooks touch the cache line the backend already
 * holds instead of a second array (docs/perf/backends.md, session 11). The owner
 * initialises an embedded record (kvbm__lp_rec_init) when it hands out its cell and
 * rebases the policy when its node array moves (kvbm__lp_rebase).
 *
 * Tick (default): every node gets a tick from a monotonically increasing counter when it
 * becomes Real; the evictable set is the Real leaves ordered by tick. A node demoted to
 * inner node keeps its tick, so when it becomes a leaf again it returns to its original
 * insertion-order position. kvbm keeps the set in an intrusive pairing heap over the
 * per-node records (child / next sibling / prev = previous sibling or parent): insert O(1)
 * (one comparison with the root), remove-min and remove-anywhere O(log n) amortized
 * (two-pass pairing of the removed node's children), minimum O(1), no allocation. Ticks are
 * unique, so the order is the same total order the binary heap it replaces produced.
 * The typical Lineage patterns are O(1): a fresh leaf (largest tick) becomes a child of
 * the root; its demotion (a child is inserted) cuts a childless node; evicting a chain
 * leaf-first re-adds the parent, which becomes the new root.
 *
 *   rec(idx) = { tick, child, next, prev };  prev == KVBM__LP_UNLINKED <=> idx not in the order
 *   tick == TICK_NONE unless idx is a Real node (an embedding owner may use the tick words
 *   of a node that has none and is not in the order, see backend.h)
 *
 * Fifo: an intrusive doubly-linked list over leaf nodes (the records' prev/next); a
 * re-leafed node goes to the tail. O(1) everything.
 *
 * Every hook exists in a form taking the policy kind K and the record stride S as
 * parameters (kvbm__lpk_*, always inlined: the Lineage backend instantiates its operations
 * once per kind with constant K and S, so the kind tests vanish and the record address is
 * a shift) and in the plain form of the exported wrappers (p->kind, p->stride).
 */
#ifndef KVBM_LEAF_POLICY_H
#define KVBM_LEAF_POLICY_H

#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"

#define KVBM__LP_NIL       UINT32_MAX
#define KVBM__LP_UNLINKED  (UINT32_MAX - 1)
#define KVBM__LP_TICK_NONE UINT64_MAX

#define KVBM__LP_INLINE static inline __attribute__((always_inline))

/* Record idx of a policy with stride S. */
#define KVBM__LP_REC(base, S, idx) ((kvbm__tick_node *)(void *)((base) + (size_t)(idx) * (S)))

KVBM__LP_INLINE uint64_t kvbm__lp_tick_get(const kvbm__tick_node *r)
{
    uint64_t v;
    memcpy(&v, r->tick_w, sizeof v);
    return v;
}

KVBM__LP_INLINE void kvbm__lp_tick_set(kvbm__tick_node *r, uint64_t v) { memcpy(r->tick_w, &v, sizeof v); }

/* A record outside the order, without a tick. */
KVBM__LP_INLINE void kvbm__lp_rec_init(kvbm__tick_node *r)
{
    kvbm__lp_tick_set(r, KVBM__LP_TICK_NONE);
    r->child = r->next = KVBM__LP_NIL;
    r->prev = KVBM__LP_UNLINKED;
}

static inline void        kvbm__lp_fini(kvbm__leaf_policy *p);
static inline kvbm_status kvbm__lp_reserve(kvbm__leaf_policy *p, size_t cells);

static inline kvbm_status kvbm__lp_init_common(kvbm__leaf_policy *p, kvbm_lineage_eviction kind)
{
    memset(p, 0, sizeof *p);
    if (kind != KVBM_LINEAGE_TICK && kind != KVBM_LINEAGE_FIFO) {
        kvbm__set_error("leaf policy: unknown kind %d", (int)kind);
        return KVBM_EINVAL;
    }
    p->kind = kind;
    p->head = p->tail = KVBM__LP_NIL;
    p->root = KVBM__LP_NIL;
    return KVBM_OK;
}

/* Standalone: the policy owns @cells records (grown by reserve). */
static inline kvbm_status kvbm__lp_init(kvbm__leaf_policy *p, kvbm_lineage_eviction kind,
                                   size_t cells, size_t max_leaves)
{
    KVBM_UNUSED(max_leaves); /* at most one record per node: sized by cells */
    KVBM_TRY(kvbm__lp_init_common(p, kind));
    p->owned = true;
    p->stride = sizeof(kvbm__tick_node);
    kvbm_status st = kvbm__lp_reserve(p, cells);
    if (st != KVBM_OK) kvbm__lp_fini(p);
    return st;
}

/* Embedded: record i at @base + i * @stride, inside the owner's nodes; the owner
 * initialises each record (kvbm__lp_rec_init) before the policy sees its index. */
static inline kvbm_status kvbm__lp_init_embedded(kvbm__leaf_policy *p, kvbm_lineage_eviction kind,
                                                 void *base, size_t stride, size_t cells)
{
    KVBM_TRY(kvbm__lp_init_common(p, kind));
    p->base = base;
    p->stride = stride;
    p->cells = cells;
    return KVBM_OK;
}

/* Embedded: the owner's nodes moved (or grew) to @base, @cells records. */
static inline void kvbm__lp_rebase(kvbm__leaf_policy *p, void *base, size_t cells)
{
    p->base = base;
    p->cells = cells;
}

static inline void kvbm__lp_fini(kvbm__leaf_policy *p)
{
    if (p->owned) kvbm__free(p->base);
    memset(p, 0, sizeof *p);
}

static inline kvbm_status kvbm__lp_reserve(kvbm__leaf_policy *p, size_t cells)
{
    if (cells <= p->cells) return KVBM_OK;
    if (!p->owned) { /* embedded: the owner grows its nodes and rebases (kvbm__lp_rebase) */
        kvbm__set_error("leaf policy: reserve of an embedded policy (%zu -> %zu records)", p->cells, cells);
        return KVBM_EINVAL;
    }
    kvbm__tick_node *q = kvbm__realloc(p->base, cells * sizeof *q);
    if (q == NULL) return KVBM_ENOMEM; /* message set by kvbm__realloc */
    for (size_t i = p->cells; i < cells; i++) kvbm__lp_rec_init(&q[i]);
    p->base = (char *)q;
    p->cells = cells;
    return KVBM_OK;
}

/* ---- Tick pairing heap ------------------------------------------------------------------ */

/* Meld two heap roots a and b (their next/prev are ignored): the one with the larger tick
 * becomes the first child of the other, which is returned (its next/prev untouched). */
static inline uint32_t kvbm__lp_ph_link(char *base, size_t S, uint32_t a, uint32_t b)
{
    if (kvbm__lp_tick_get(KVBM__LP_REC(base, S, b)) < kvbm__lp_tick_get(KVBM__LP_REC(base, S, a))) {
        uint32_t x = a;
        a = b;
        b = x;
    }
    kvbm__tick_node *ra = KVBM__LP_REC(base, S, a), *rb = KVBM__LP_REC(base, S, b);
    uint32_t c = ra->child;
    rb->next = c;
    if (c != KVBM__LP_NIL) KVBM__LP_REC(base, S, c)->prev = b;
    rb->prev = a;
    ra->child = b;
    return a;
}

/* Two-pass pairing of the sibling list starting at @first: meld pairs left to right, then
 * meld the pair roots right to left. Returns the new root with next = prev = KVBM__LP_NIL. */
static inline uint32_t kvbm__lp_ph_combine(char *base, size_t S, uint32_t first)
{
    if (first == KVBM__LP_NIL) return KVBM__LP_NIL;
    uint32_t stack = KVBM__LP_NIL, a = first;
    while (a != KVBM__LP_NIL) {
        uint32_t b = KVBM__LP_REC(base, S, a)->next, r;
        if (b == KVBM__LP_NIL) {
            r = a;
            a = KVBM__LP_NIL;
        } else {
            uint32_t nx = KVBM__LP_REC(base, S, b)->next;
            r = kvbm__lp_ph_link(base, S, a, b);
            a = nx;
        }
        KVBM__LP_REC(base, S, r)->next = stack; /* stack of pair roots, rightmost on top */
        stack = r;
    }
    uint32_t root = stack;
    stack = KVBM__LP_REC(base, S, stack)->next;
    while (stack != KVBM__LP_NIL) {
        uint32_t nx = KVBM__LP_REC(base, S, stack)->next;
        root = kvbm__lp_ph_link(base, S, root, stack);
        stack = nx;
    }
    kvbm__tick_node *rr = KVBM__LP_REC(base, S, root);
    rr->next = rr->prev = KVBM__LP_NIL;
    return root;
}

static inline void kvbm__lp_ph_insert(kvbm__leaf_policy *p, size_t S, uint32_t idx)
{
    kvbm__tick_node *r = KVBM__LP_REC(p->base, S, idx);
    r->child = r->next = KVBM__LP_NIL;
    r->prev = KVBM__LP_NIL;
    if (p->root != KVBM__LP_NIL) {
        uint32_t nr = kvbm__lp_ph_link(p->base, S, p->root, idx);
        kvbm__tick_node *q = KVBM__LP_REC(p->base, S, nr);
        q->next = q->prev = KVBM__LP_NIL;
        p->root = nr;
    } else {
        p->root = idx;
    }
    p->heap_len++;
}

static inline void kvbm__lp_ph_remove(kvbm__leaf_policy *p, size_t S, uint32_t idx)
{
    char *base = p->base;
    kvbm__tick_node *r = KVBM__LP_REC(base, S, idx);
    uint32_t sub = kvbm__lp_ph_combine(base, S, r->child);
    if (idx == p->root) {
        p->root = sub;
    } else {
        uint32_t pv = r->prev, nx = r->next;
        kvbm__tick_node *rp = KVBM__LP_REC(base, S, pv);
        if (rp->child == idx) rp->child = nx; /* pv is the parent */
        else rp->next = nx;                   /* pv is the previous sibling */
        if (nx != KVBM__LP_NIL) KVBM__LP_REC(base, S, nx)->prev = pv;
        if (sub != KVBM__LP_NIL) {
            uint32_t nr = kvbm__lp_ph_link(base, S, p->root, sub);
            kvbm__tick_node *q = KVBM__LP_REC(base, S, nr);
            q->next = q->prev = KVBM__LP_NIL;
            p->root = nr;
        }
    }
    r->child = r->next = KVBM__LP_NIL;
    r->prev = KVBM__LP_UNLINKED;
    p->heap_len--;
}

/* ---- Fifo list -------------------------------------------------------------------------- */

static inline void kvbm__lp_fifo_unlink(kvbm__leaf_policy *p, size_t S, uint32_t idx)
{
    kvbm__tick_node *r = KVBM__LP_REC(p->base, S, idx);
    uint32_t pv = r->prev, nx = r->next;
    if (pv != KVBM__LP_NIL) KVBM__LP_REC(p->base, S, pv)->next = nx;
    else p->head = nx;
    if (nx != KVBM__LP_NIL) KVBM__LP_REC(p->base, S, nx)->prev = pv;
    else p->tail = pv;
    r->next = KVBM__LP_NIL;
    r->prev = KVBM__LP_UNLINKED;
    p->fifo_len--;
}

/* ---- hooks ------------------------------------------------------------------------------ */

KVBM__LP_INLINE void kvbm__lpk_on_node_inserted(kvbm__leaf_policy *p, kvbm_lineage_eviction K, size_t S,
                                               uint32_t idx)
{
    if (K == KVBM_LINEAGE_TICK) kvbm__lp_tick_set(KVBM__LP_REC(p->base, S, idx), p->next_tick++);
}

KVBM__LP_INLINE kvbm_status kvbm__lpk_on_leaf_added(kvbm__leaf_policy *p, kvbm_lineage_eviction K, size_t S,
                                                   uint32_t idx)
{
    kvbm__tick_node *r = KVBM__LP_REC(p->base, S, idx);
    if (K == KVBM_LINEAGE_TICK) {
        bool bad = kvbm__lp_tick_get(r) == KVBM__LP_TICK_NONE || r->prev != KVBM__LP_UNLINKED;
        kvbm__assert(!bad);
        if (KVBM_UNLIKELY(bad)) {
            kvbm__set_error("TickPolicy: leaf %u added without a tick or twice", idx);
            return KVBM_EINVAL;
        }
        kvbm__lp_ph_insert(p, S, idx);
        return KVBM_OK;
    }
    kvbm__assert(r->prev == KVBM__LP_UNLINKED);
    if (KVBM_UNLIKELY(r->prev != KVBM__LP_UNLINKED)) {
        kvbm__set_error("FifoPolicy: leaf %u added twice", idx);
        return KVBM_EINVAL;
    }
    r->next = KVBM__LP_NIL;
    r->prev = p->tail;
    if (p->tail != KVBM__LP_NIL) KVBM__LP_REC(p->base, S, p->tail)->next = idx;
    else p->head = idx;
    p->tail = idx;
    p->fifo_len++;
    return KVBM_OK;
}

KVBM__LP_INLINE void kvbm__lpk_on_leaf_demoted(kvbm__leaf_policy *p, kvbm_lineage_eviction K, size_t S,
                                              uint32_t idx)
{
    if (KVBM__LP_REC(p->base, S, idx)->prev == KVBM__LP_UNLINKED) return;
    if (K == KVBM_LINEAGE_TICK) kvbm__lp_ph_remove(p, S, idx); /* keeps the tick */
    else kvbm__lp_fifo_unlink(p, S, idx);
}

KVBM__LP_INLINE void kvbm__lpk_on_node_removed(kvbm__leaf_policy *p, kvbm_lineage_eviction K, size_t S,
                                              uint32_t idx)
{
    kvbm__lpk_on_leaf_demoted(p, K, S, idx);
    if (K == KVBM_LINEAGE_TICK) kvbm__lp_tick_set(KVBM__LP_REC(p->base, S, idx), KVBM__LP_TICK_NONE);
}

KVBM__LP_INLINE uint32_t kvbm__lpk_next_victim(const kvbm__leaf_policy *p, kvbm_lineage_eviction K)
{
    return K == KVBM_LINEAGE_TICK ? p->root : p->head;
}

/* on_leaf_demoted(old) then on_leaf_added(idx) (a leaf gains its first child, a fresh
 * leaf). Fifo: when old is the tail, idx takes its place (where unlink + append would put
 * it) without touching the neighbours twice. */
KVBM__LP_INLINE void kvbm__lpk_on_leaf_replaced(kvbm__leaf_policy *p, kvbm_lineage_eviction K, size_t S,
                                               uint32_t old, uint32_t idx)
{
    if (K == KVBM_LINEAGE_FIFO && p->tail == old) {
        kvbm__tick_node *ro = KVBM__LP_REC(p->base, S, old), *ri = KVBM__LP_REC(p->base, S, idx);
        kvbm__assert(ri->prev == KVBM__LP_UNLINKED);
        uint32_t pv = ro->prev;
        ri->prev = pv;
        ri->next = KVBM__LP_NIL;
        if (pv != KVBM__LP_NIL) KVBM__LP_REC(p->base, S, pv)->next = idx;
        else p->head = idx;
        p->tail = idx;
        ro->next = KVBM__LP_NIL;
        ro->prev = KVBM__LP_UNLINKED;
        return;
    }
    kvbm__lpk_on_leaf_demoted(p, K, S, old);
    kvbm_status st = kvbm__lpk_on_leaf_added(p, K, S, idx);
    kvbm__assert(st == KVBM_OK);
    KVBM_UNUSED(st);
}

static inline void kvbm__lp_on_node_inserted(kvbm__leaf_policy *p, uint32_t idx)
{
    kvbm__lpk_on_node_inserted(p, p->kind, p->stride, idx);
}
static inline kvbm_status kvbm__lp_on_leaf_added(kvbm__leaf_policy *p, uint32_t idx)
{
    return kvbm__lpk_on_leaf_added(p, p->kind, p->stride, idx);
}
static inline void kvbm__lp_on_leaf_demoted(kvbm__leaf_policy *p, uint32_t idx)
{
    kvbm__lpk_on_leaf_demoted(p, p->kind, p->stride, idx);
}
static inline void kvbm__lp_on_node_removed(kvbm__leaf_policy *p, uint32_t idx)
{
    kvbm__lpk_on_node_removed(p, p->kind, p->stride, idx);
}
static inline uint32_t kvbm__lp_next_victim(const kvbm__leaf_policy *p) { return kvbm__lpk_next_victim(p, p->kind); }

static inline size_t kvbm__lp_len(const kvbm__leaf_policy *p)
{
    return p->kind == KVBM_LINEAGE_TICK ? p->heap_len : p->fifo_len;
}

static inline bool kvbm__lp_contains(const kvbm__leaf_policy *p, uint32_t idx)
{
    return idx < p->cells && KVBM__LP_REC(p->base, p->stride, idx)->prev != KVBM__LP_UNLINKED;
}

static inline uint64_t kvbm__lp_tick(const kvbm__leaf_policy *p, uint32_t idx)
{
    return p->kind == KVBM_LINEAGE_TICK && idx < p->cells ? kvbm__lp_tick_get(KVBM__LP_REC(p->base, p->stride, idx))
                                                          : KVBM__LP_TICK_NONE;
}

/* O(n) over the first @upto records (an embedded owner passes the cells it handed out;
 * the rest are uninitialised). */
static inline bool kvbm__lp_check_upto(const kvbm__leaf_policy *p, size_t upto)
{
    if (upto > p->cells) return false;
    const size_t S = p->stride;
    if (p->kind == KVBM_LINEAGE_TICK) {
        /* Every member is the root or in exactly one child list: walking each member's
         * child list checks the links and the heap order in O(n). */
        size_t members = 0, children = 0;
        if (p->root != KVBM__LP_NIL) {
            const kvbm__tick_node *rr = KVBM__LP_REC(p->base, S, p->root);
            if (p->root >= upto || rr->prev != KVBM__LP_NIL || rr->next != KVBM__LP_NIL) return false;
        }
        for (uint32_t i = 0; i < upto; i++) {
            const kvbm__tick_node *r = KVBM__LP_REC(p->base, S, i);
            if (r->prev == KVBM__LP_UNLINKED) {
                if (r->child != KVBM__LP_NIL || r->next != KVBM__LP_NIL) return false;
                continue;
            }
            members++;
            uint64_t tick = kvbm__lp_tick_get(r);
            if (tick == KVBM__LP_TICK_NONE) return false;
            uint32_t prev = i;
            for (uint32_t c = r->child; c != KVBM__LP_NIL; c = KVBM__LP_REC(p->base, S, c)->next) {
                if (c >= upto) return false;
                const kvbm__tick_node *rc = KVBM__LP_REC(p->base, S, c);
                if (rc->prev != prev || kvbm__lp_tick_get(rc) <= tick) return false;
                if (++children > upto) return false;
                prev = c;
            }
        }
        return members == p->heap_len && (members == 0 ? p->root == KVBM__LP_NIL : children + 1 == members);
    }
    size_t n = 0, listed = 0;
    uint32_t prev = KVBM__LP_NIL;
    for (uint32_t i = p->head; i != KVBM__LP_NIL; i = KVBM__LP_REC(p->base, S, i)->next) {
        if (i >= upto || KVBM__LP_REC(p->base, S, i)->prev != prev || ++n > upto) return false;
        prev = i;
    }
    for (uint32_t i = 0; i < upto; i++) listed += KVBM__LP_REC(p->base, S, i)->prev != KVBM__LP_UNLINKED;
    return prev == p->tail && n == p->fifo_len && listed == n;
}

static inline bool kvbm__lp_check(const kvbm__leaf_policy *p) { return kvbm__lp_check_upto(p, p->cells); }

#endif /* KVBM_LEAF_POLICY_H */
