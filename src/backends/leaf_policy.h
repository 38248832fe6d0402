/* src/backends/leaf_policy.h - leaf eviction orders of the Lineage backend (§3.4.4).
 *
 * Both policies see node indices of the lineage slab and keep per-node state in arrays
 * indexed by node (grown together with the slab, kvbm__leaf_policy_reserve).
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
 *   tn[idx] = { tick, child, next, prev };  prev == KVBM__LP_UNLINKED <=> idx not in the heap
 *   tick == TICK_NONE unless idx is a Real node
 *
 * Fifo: an intrusive doubly-linked list over leaf nodes (prev/next per node); a re-leafed
 * node goes to the tail. O(1) everything.
 */
#ifndef KVBM_LEAF_POLICY_H
#define KVBM_LEAF_POLICY_H

#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"

#define KVBM__LP_NIL       UINT32_MAX
#define KVBM__LP_UNLINKED  (UINT32_MAX - 1)
#define KVBM__LP_TICK_NONE UINT64_MAX

static inline void        kvbm__lp_fini(kvbm__leaf_policy *p);
static inline kvbm_status kvbm__lp_reserve(kvbm__leaf_policy *p, size_t cells);

static inline kvbm_status kvbm__lp_grow_array(void **p, size_t elem, size_t old_n, size_t new_n, int fill)
{
    void *q = kvbm__realloc(*p, new_n * elem);
    if (q == NULL) return KVBM_ENOMEM;
    memset((char *)q + old_n * elem, fill, (new_n - old_n) * elem);
    *p = q;
    return KVBM_OK;
}

static inline kvbm_status kvbm__lp_init(kvbm__leaf_policy *p, kvbm_lineage_eviction kind,
                                   size_t cells, size_t max_leaves)
{
    KVBM_UNUSED(max_leaves); /* at most one heap record per node: sized by cells */
    memset(p, 0, sizeof *p);
    if (kind != KVBM_LINEAGE_TICK && kind != KVBM_LINEAGE_FIFO) return KVBM_EINVAL;
    p->kind = kind;
    p->head = p->tail = KVBM__LP_NIL;
    p->root = KVBM__LP_NIL;
    kvbm_status st = kvbm__lp_reserve(p, cells);
    if (st != KVBM_OK) kvbm__lp_fini(p);
    return st;
}

static inline void kvbm__lp_fini(kvbm__leaf_policy *p)
{
    kvbm__free(p->tn);
    kvbm__free(p->prev);
    kvbm__free(p->next);
    memset(p, 0, sizeof *p);
}

static inline kvbm_status kvbm__lp_reserve(kvbm__leaf_policy *p, size_t cells)
{
    if (cells <= p->cells) return KVBM_OK;
    if (p->kind == KVBM_LINEAGE_TICK) {
        KVBM_TRY(kvbm__lp_grow_array((void **)&p->tn, sizeof *p->tn, p->cells, cells, 0));
        for (size_t i = p->cells; i < cells; i++) {
            p->tn[i].tick = KVBM__LP_TICK_NONE;
            p->tn[i].child = p->tn[i].next = KVBM__LP_NIL;
            p->tn[i].prev = KVBM__LP_UNLINKED;
        }
    } else {
        KVBM_TRY(kvbm__lp_grow_array((void **)&p->prev, sizeof *p->prev, p->cells, cells, 0));
        KVBM_TRY(kvbm__lp_grow_array((void **)&p->next, sizeof *p->next, p->cells, cells, 0));
        for (size_t i = p->cells; i < cells; i++) p->prev[i] = p->next[i] = KVBM__LP_UNLINKED;
    }
    p->cells = cells;
    return KVBM_OK;
}

/* ---- Tick pairing heap ------------------------------------------------------------------ */

/* Meld two heap roots a and b (their next/prev are ignored): the one with the larger tick
 * becomes the first child of the other, which is returned (its next/prev untouched). */
static inline uint32_t kvbm__lp_ph_link(kvbm__tick_node *t, uint32_t a, uint32_t b)
{
    if (t[b].tick < t[a].tick) {
        uint32_t x = a;
        a = b;
        b = x;
    }
    uint32_t c = t[a].child;
    t[b].next = c;
    if (c != KVBM__LP_NIL) t[c].prev = b;
    t[b].prev = a;
    t[a].child = b;
    return a;
}

/* Two-pass pairing of the sibling list starting at @first: meld pairs left to right, then
 * meld the pair roots right to left. Returns the new root with next = prev = KVBM__LP_NIL. */
static inline uint32_t kvbm__lp_ph_combine(kvbm__tick_node *t, uint32_t first)
{
    if (first == KVBM__LP_NIL) return KVBM__LP_NIL;
    uint32_t stack = KVBM__LP_NIL, a = first;
    while (a != KVBM__LP_NIL) {
        uint32_t b = t[a].next, r;
        if (b == KVBM__LP_NIL) {
            r = a;
            a = KVBM__LP_NIL;
        } else {
            uint32_t nx = t[b].next;
            r = kvbm__lp_ph_link(t, a, b);
            a = nx;
        }
        t[r].next = stack; /* stack of pair roots, rightmost on top */
        stack = r;
    }
    uint32_t root = stack;
    stack = t[stack].next;
    while (stack != KVBM__LP_NIL) {
        uint32_t nx = t[stack].next;
        root = kvbm__lp_ph_link(t, root, stack);
        stack = nx;
    }
    t[root].next = t[root].prev = KVBM__LP_NIL;
    return root;
}

static inline void kvbm__lp_ph_insert(kvbm__leaf_policy *p, uint32_t idx)
{
    kvbm__tick_node *t = p->tn;
    t[idx].child = t[idx].next = KVBM__LP_NIL;
    t[idx].prev = KVBM__LP_NIL;
    if (p->root != KVBM__LP_NIL) {
        uint32_t r = kvbm__lp_ph_link(t, p->root, idx);
        t[r].next = t[r].prev = KVBM__LP_NIL;
        p->root = r;
    } else {
        p->root = idx;
    }
    p->heap_len++;
}

static inline void kvbm__lp_ph_remove(kvbm__leaf_policy *p, uint32_t idx)
{
    kvbm__tick_node *t = p->tn;
    uint32_t sub = kvbm__lp_ph_combine(t, t[idx].child);
    if (idx == p->root) {
        p->root = sub;
    } else {
        uint32_t pv = t[idx].prev, nx = t[idx].next;
        if (t[pv].child == idx) t[pv].child = nx; /* pv is the parent */
        else t[pv].next = nx;                     /* pv is the previous sibling */
        if (nx != KVBM__LP_NIL) t[nx].prev = pv;
        if (sub != KVBM__LP_NIL) {
            uint32_t r = kvbm__lp_ph_link(t, p->root, sub);
            t[r].next = t[r].prev = KVBM__LP_NIL;
            p->root = r;
        }
    }
    t[idx].child = t[idx].next = KVBM__LP_NIL;
    t[idx].prev = KVBM__LP_UNLINKED;
    p->heap_len--;
}

/* ---- Fifo list -------------------------------------------------------------------------- */

static inline void kvbm__lp_fifo_unlink(kvbm__leaf_policy *p, uint32_t idx)
{
    uint32_t pv = p->prev[idx], nx = p->next[idx];
    if (pv != KVBM__LP_NIL) p->next[pv] = nx;
    else p->head = nx;
    if (nx != KVBM__LP_NIL) p->prev[nx] = pv;
    else p->tail = pv;
    p->prev[idx] = p->next[idx] = KVBM__LP_UNLINKED;
    p->fifo_len--;
}

/* ---- hooks ------------------------------------------------------------------------------ */

/* Each hook exists in a form taking the policy kind as a parameter (lpk_*, always
 * inlined: the Lineage backend instantiates its operations once per kind with a constant
 * K, so the kind tests vanish) and in the plain form used by the exported wrappers. */
#define KVBM__LP_INLINE static inline __attribute__((always_inline))

KVBM__LP_INLINE void kvbm__lpk_on_node_inserted(kvbm__leaf_policy *p, kvbm_lineage_eviction K, uint32_t idx)
{
    if (K == KVBM_LINEAGE_TICK) p->tn[idx].tick = p->next_tick++;
}

KVBM__LP_INLINE kvbm_status kvbm__lpk_on_leaf_added(kvbm__leaf_policy *p, kvbm_lineage_eviction K, uint32_t idx)
{
    if (K == KVBM_LINEAGE_TICK) {
        kvbm__assert(p->tn[idx].tick != KVBM__LP_TICK_NONE && p->tn[idx].prev == KVBM__LP_UNLINKED);
        if (KVBM_UNLIKELY(p->tn[idx].tick == KVBM__LP_TICK_NONE || p->tn[idx].prev != KVBM__LP_UNLINKED)) {
            kvbm__set_error("TickPolicy: leaf %u added without a tick or twice", idx);
            return KVBM_EINVAL;
        }
        kvbm__lp_ph_insert(p, idx);
        return KVBM_OK;
    }
    kvbm__assert(p->prev[idx] == KVBM__LP_UNLINKED);
    if (KVBM_UNLIKELY(p->prev[idx] != KVBM__LP_UNLINKED)) {
        kvbm__set_error("FifoPolicy: leaf %u added twice", idx);
        return KVBM_EINVAL;
    }
    p->next[idx] = KVBM__LP_NIL;
    p->prev[idx] = p->tail;
    if (p->tail != KVBM__LP_NIL) p->next[p->tail] = idx;
    else p->head = idx;
    p->tail = idx;
    p->fifo_len++;
    return KVBM_OK;
}

KVBM__LP_INLINE void kvbm__lpk_on_leaf_demoted(kvbm__leaf_policy *p, kvbm_lineage_eviction K, uint32_t idx)
{
    if (K == KVBM_LINEAGE_TICK) {
        if (p->tn[idx].prev != KVBM__LP_UNLINKED) kvbm__lp_ph_remove(p, idx); /* keeps the tick */
    } else if (p->prev[idx] != KVBM__LP_UNLINKED) {
        kvbm__lp_fifo_unlink(p, idx);
    }
}

KVBM__LP_INLINE void kvbm__lpk_on_node_removed(kvbm__leaf_policy *p, kvbm_lineage_eviction K, uint32_t idx)
{
    if (K == KVBM_LINEAGE_TICK) {
        if (p->tn[idx].prev != KVBM__LP_UNLINKED) kvbm__lp_ph_remove(p, idx);
        p->tn[idx].tick = KVBM__LP_TICK_NONE;
    } else if (p->prev[idx] != KVBM__LP_UNLINKED) {
        kvbm__lp_fifo_unlink(p, idx);
    }
}

KVBM__LP_INLINE uint32_t kvbm__lpk_next_victim(const kvbm__leaf_policy *p, kvbm_lineage_eviction K)
{
    return K == KVBM_LINEAGE_TICK ? p->root : p->head;
}

/* on_leaf_demoted(old) then on_leaf_added(idx) (a leaf gains its first child, a fresh
 * leaf). Fifo: when old is the tail, idx takes its place (where unlink + append would put
 * it) without touching the neighbours twice. */
KVBM__LP_INLINE void kvbm__lpk_on_leaf_replaced(kvbm__leaf_policy *p, kvbm_lineage_eviction K, uint32_t old,
                                    uint32_t idx)
{
    if (K == KVBM_LINEAGE_FIFO && p->tail == old) {
        kvbm__assert(p->prev[idx] == KVBM__LP_UNLINKED);
        uint32_t pv = p->prev[old];
        p->prev[idx] = pv;
        p->next[idx] = KVBM__LP_NIL;
        if (pv != KVBM__LP_NIL) p->next[pv] = idx;
        else p->head = idx;
        p->tail = idx;
        p->prev[old] = p->next[old] = KVBM__LP_UNLINKED;
        return;
    }
    kvbm__lpk_on_leaf_demoted(p, K, old);
    kvbm_status st = kvbm__lpk_on_leaf_added(p, K, idx);
    kvbm__assert(st == KVBM_OK);
    KVBM_UNUSED(st);
}

static inline void kvbm__lp_on_node_inserted(kvbm__leaf_policy *p, uint32_t idx)
{
    kvbm__lpk_on_node_inserted(p, p->kind, idx);
}
static inline kvbm_status kvbm__lp_on_leaf_added(kvbm__leaf_policy *p, uint32_t idx)
{
    return kvbm__lpk_on_leaf_added(p, p->kind, idx);
}
static inline void kvbm__lp_on_leaf_demoted(kvbm__leaf_policy *p, uint32_t idx)
{
    kvbm__lpk_on_leaf_demoted(p, p->kind, idx);
}
static inline void kvbm__lp_on_node_removed(kvbm__leaf_policy *p, uint32_t idx)
{
    kvbm__lpk_on_node_removed(p, p->kind, idx);
}
static inline uint32_t kvbm__lp_next_victim(const kvbm__leaf_policy *p) { return kvbm__lpk_next_victim(p, p->kind); }

static inline size_t kvbm__lp_len(const kvbm__leaf_policy *p)
{
    return p->kind == KVBM_LINEAGE_TICK ? p->heap_len : p->fifo_len;
}

static inline bool kvbm__lp_contains(const kvbm__leaf_policy *p, uint32_t idx)
{
    if (idx >= p->cells) return false;
    return p->kind == KVBM_LINEAGE_TICK ? p->tn[idx].prev != KVBM__LP_UNLINKED : p->prev[idx] != KVBM__LP_UNLINKED;
}

static inline uint64_t kvbm__lp_tick(const kvbm__leaf_policy *p, uint32_t idx)
{
    return p->kind == KVBM_LINEAGE_TICK && idx < p->cells ? p->tn[idx].tick : KVBM__LP_TICK_NONE;
}

static inline bool kvbm__lp_check(const kvbm__leaf_policy *p)
{
    if (p->kind == KVBM_LINEAGE_TICK) {
        /* Every member is the root or in exactly one child list: walking each member's
         * child list checks the links and the heap order in O(n). */
        const kvbm__tick_node *t = p->tn;
        size_t members = 0, children = 0;
        if (p->root != KVBM__LP_NIL) {
            if (p->root >= p->cells || t[p->root].prev != KVBM__LP_NIL || t[p->root].next != KVBM__LP_NIL)
                return false;
        }
        for (uint32_t i = 0; i < p->cells; i++) {
            if (t[i].prev == KVBM__LP_UNLINKED) {
                if (t[i].child != KVBM__LP_NIL || t[i].next != KVBM__LP_NIL) return false;
                continue;
            }
            members++;
            if (t[i].tick == KVBM__LP_TICK_NONE) return false;
            uint32_t prev = i;
            for (uint32_t c = t[i].child; c != KVBM__LP_NIL; c = t[c].next) {
                if (c >= p->cells || t[c].prev != prev || t[c].tick <= t[i].tick) return false;
                if (++children > p->cells) return false;
                prev = c;
            }
        }
        return members == p->heap_len && (members == 0 ? p->root == KVBM__LP_NIL : children + 1 == members);
    }
    size_t n = 0;
    uint32_t prev = KVBM__LP_NIL;
    for (uint32_t i = p->head; i != KVBM__LP_NIL; i = p->next[i]) {
        if (i >= p->cells || p->prev[i] != prev || ++n > p->cells) return false;
        prev = i;
    }
    return prev == p->tail && n == p->fifo_len;
}

#endif /* KVBM_LEAF_POLICY_H */
