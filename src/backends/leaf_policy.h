/* src/backends/leaf_policy.h - leaf eviction orders of the Lineage backend (§3.4.4).
 *
 * Both policies see node indices of the lineage slab and keep per-node state in arrays
 * indexed by node (grown together with the slab, kvbm__leaf_policy_reserve).
 *
 * Tick (default): every node gets a tick from a monotonically increasing counter when it
 * becomes Real; the evictable set is the Real leaves ordered by tick. A node demoted to
 * inner node keeps its tick, so when it becomes a leaf again it returns to its original
 * insertion-order position. kvbm keeps the set in a binary min-heap of (tick, node) with a
 * per-node heap position: insert / remove-anywhere O(log n), minimum O(1). Since fresh
 * leaves carry the largest tick so far, the common insert stops after one comparison.
 * The heap holds at most one entry per Real leaf (<= block_count), pre-allocated.
 *
 *   heap[0] = smallest tick;  hpos[idx] = position of idx in heap, or NIL
 *   tick[idx] = TICK_NONE unless idx is a Real node
 *
 * Fifo: an intrusive doubly-linked list over leaf nodes (prev/next per node); a re-leafed
 * node goes to the tail. O(1) everything.
 */
#ifndef KVBM_LEAF_POLICY_H
#define KVBM_LEAF_POLICY_H

#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"

#define LP_NIL       UINT32_MAX
#define LP_UNLINKED  (UINT32_MAX - 1)
#define LP_TICK_NONE UINT64_MAX

static inline void        lp_fini(kvbm_leaf_policy *p);
static inline kvbm_status lp_reserve(kvbm_leaf_policy *p, size_t cells);

static inline kvbm_status lp_grow_array(void **p, size_t elem, size_t old_n, size_t new_n, int fill)
{
    void *q = realloc(*p, new_n * elem);
    if (q == NULL) return KVBM_ENOMEM;
    memset((char *)q + old_n * elem, fill, (new_n - old_n) * elem);
    *p = q;
    return KVBM_OK;
}

static inline kvbm_status lp_init(kvbm_leaf_policy *p, kvbm_lineage_eviction kind,
                                   size_t cells, size_t max_leaves)
{
    memset(p, 0, sizeof *p);
    if (kind != KVBM_LINEAGE_TICK && kind != KVBM_LINEAGE_FIFO) return KVBM_EINVAL;
    p->kind = kind;
    p->head = p->tail = LP_NIL;
    if (kind == KVBM_LINEAGE_TICK) {
        p->heap = malloc((max_leaves ? max_leaves : 1) * sizeof *p->heap);
        if (p->heap == NULL) return KVBM_ENOMEM;
        p->heap_cap = max_leaves ? max_leaves : 1;
    }
    kvbm_status st = lp_reserve(p, cells);
    if (st != KVBM_OK) lp_fini(p);
    return st;
}

static inline void lp_fini(kvbm_leaf_policy *p)
{
    free(p->heap);
    free(p->tick);
    free(p->hpos);
    free(p->prev);
    free(p->next);
    memset(p, 0, sizeof *p);
}

static inline kvbm_status lp_reserve(kvbm_leaf_policy *p, size_t cells)
{
    if (cells <= p->cells) return KVBM_OK;
    if (p->kind == KVBM_LINEAGE_TICK) {
        KVBM_TRY(lp_grow_array((void **)&p->tick, sizeof *p->tick, p->cells, cells, 0xFF));
        KVBM_TRY(lp_grow_array((void **)&p->hpos, sizeof *p->hpos, p->cells, cells, 0xFF));
    } else {
        KVBM_TRY(lp_grow_array((void **)&p->prev, sizeof *p->prev, p->cells, cells, 0));
        KVBM_TRY(lp_grow_array((void **)&p->next, sizeof *p->next, p->cells, cells, 0));
        for (size_t i = p->cells; i < cells; i++) p->prev[i] = p->next[i] = LP_UNLINKED;
    }
    p->cells = cells;
    return KVBM_OK;
}

/* ---- Tick heap -------------------------------------------------------------------------- */

static inline void lp_heap_set(kvbm_leaf_policy *p, size_t i, kvbm_tick_entry e)
{
    p->heap[i] = e;
    p->hpos[e.idx] = (uint32_t)i;
}

static inline void lp_heap_up(kvbm_leaf_policy *p, size_t i)
{
    kvbm_tick_entry e = p->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (p->heap[parent].tick <= e.tick) break;
        lp_heap_set(p, i, p->heap[parent]);
        i = parent;
    }
    lp_heap_set(p, i, e);
}

static inline void lp_heap_down(kvbm_leaf_policy *p, size_t i)
{
    kvbm_tick_entry e = p->heap[i];
    size_t n = p->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && p->heap[c + 1].tick < p->heap[c].tick) c++;
        if (p->heap[c].tick >= e.tick) break;
        lp_heap_set(p, i, p->heap[c]);
        i = c;
    }
    lp_heap_set(p, i, e);
}

static inline void lp_heap_remove(kvbm_leaf_policy *p, uint32_t idx)
{
    size_t i = p->hpos[idx];
    p->hpos[idx] = LP_NIL;
    size_t last = --p->heap_len;
    if (i == last) return;
    p->heap[i] = p->heap[last];
    p->hpos[p->heap[i].idx] = (uint32_t)i;
    if (i > 0 && p->heap[(i - 1) / 2].tick > p->heap[i].tick) lp_heap_up(p, i);
    else lp_heap_down(p, i);
}

/* ---- Fifo list -------------------------------------------------------------------------- */

static inline void lp_fifo_unlink(kvbm_leaf_policy *p, uint32_t idx)
{
    uint32_t pv = p->prev[idx], nx = p->next[idx];
    if (pv != LP_NIL) p->next[pv] = nx;
    else p->head = nx;
    if (nx != LP_NIL) p->prev[nx] = pv;
    else p->tail = pv;
    p->prev[idx] = p->next[idx] = LP_UNLINKED;
    p->fifo_len--;
}

/* ---- hooks ------------------------------------------------------------------------------ */

static inline void lp_on_node_inserted(kvbm_leaf_policy *p, uint32_t idx)
{
    if (p->kind == KVBM_LINEAGE_TICK) p->tick[idx] = p->next_tick++;
}

static inline kvbm_status lp_on_leaf_added(kvbm_leaf_policy *p, uint32_t idx)
{
    if (p->kind == KVBM_LINEAGE_TICK) {
        kvbm_assert(p->tick[idx] != LP_TICK_NONE && p->hpos[idx] == LP_NIL);
        if (KVBM_UNLIKELY(p->tick[idx] == LP_TICK_NONE || p->hpos[idx] != LP_NIL ||
                          p->heap_len >= p->heap_cap)) {
            kvbm__set_error("TickPolicy: leaf %u added without a tick or twice", idx);
            return KVBM_EINVAL;
        }
        size_t i = p->heap_len++;
        p->heap[i].tick = p->tick[idx];
        p->heap[i].idx = idx;
        p->hpos[idx] = (uint32_t)i;
        lp_heap_up(p, i);
        return KVBM_OK;
    }
    kvbm_assert(p->prev[idx] == LP_UNLINKED);
    if (KVBM_UNLIKELY(p->prev[idx] != LP_UNLINKED)) {
        kvbm__set_error("FifoPolicy: leaf %u added twice", idx);
        return KVBM_EINVAL;
    }
    p->next[idx] = LP_NIL;
    p->prev[idx] = p->tail;
    if (p->tail != LP_NIL) p->next[p->tail] = idx;
    else p->head = idx;
    p->tail = idx;
    p->fifo_len++;
    return KVBM_OK;
}

static inline void lp_on_leaf_demoted(kvbm_leaf_policy *p, uint32_t idx)
{
    if (p->kind == KVBM_LINEAGE_TICK) {
        if (p->hpos[idx] != LP_NIL) lp_heap_remove(p, idx); /* keeps the tick */
    } else if (p->prev[idx] != LP_UNLINKED) {
        lp_fifo_unlink(p, idx);
    }
}

static inline void lp_on_node_removed(kvbm_leaf_policy *p, uint32_t idx)
{
    if (p->kind == KVBM_LINEAGE_TICK) {
        if (p->hpos[idx] != LP_NIL) lp_heap_remove(p, idx);
        p->tick[idx] = LP_TICK_NONE;
    } else if (p->prev[idx] != LP_UNLINKED) {
        lp_fifo_unlink(p, idx);
    }
}

static inline uint32_t lp_next_victim(const kvbm_leaf_policy *p)
{
    if (p->kind == KVBM_LINEAGE_TICK) return p->heap_len ? p->heap[0].idx : LP_NIL;
    return p->head;
}

static inline size_t lp_len(const kvbm_leaf_policy *p)
{
    return p->kind == KVBM_LINEAGE_TICK ? p->heap_len : p->fifo_len;
}

static inline bool lp_contains(const kvbm_leaf_policy *p, uint32_t idx)
{
    if (idx >= p->cells) return false;
    return p->kind == KVBM_LINEAGE_TICK ? p->hpos[idx] != LP_NIL : p->prev[idx] != LP_UNLINKED;
}

static inline uint64_t lp_tick(const kvbm_leaf_policy *p, uint32_t idx)
{
    return p->kind == KVBM_LINEAGE_TICK && idx < p->cells ? p->tick[idx] : LP_TICK_NONE;
}

static inline bool lp_check(const kvbm_leaf_policy *p)
{
    if (p->kind == KVBM_LINEAGE_TICK) {
        for (size_t i = 0; i < p->heap_len; i++) {
            uint32_t idx = p->heap[i].idx;
            if (idx >= p->cells || p->hpos[idx] != i || p->tick[idx] != p->heap[i].tick) return false;
            if (i > 0 && p->heap[(i - 1) / 2].tick > p->heap[i].tick) return false;
        }
        size_t in = 0;
        for (size_t idx = 0; idx < p->cells; idx++)
            if (p->hpos[idx] != LP_NIL) in++;
        return in == p->heap_len;
    }
    size_t n = 0;
    uint32_t prev = LP_NIL;
    for (uint32_t i = p->head; i != LP_NIL; i = p->next[i]) {
        if (i >= p->cells || p->prev[i] != prev || ++n > p->cells) return false;
        prev = i;
    }
    return prev == p->tail && n == p->fifo_len;
}

#endif /* KVBM_LEAF_POLICY_H */
