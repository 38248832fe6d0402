/* src/backends/lineage.c - the Lineage inactive backend, kvbm's default (10-core §3.4).
 *
 * Goal: evict only leaves of the prefix forest, so a cached prefix is never broken from the
 * root side while longer continuations remain cached.
 *
 * Structure. A slab of nodes addressed by uint32 index, pre-sized to block_count, with a
 * free list threaded through next_sibling; it grows geometrically only when ghost nodes
 * push the node count past the pre-size (the only allocation after construction, under
 * the store lock; it fails cleanly with KVBM_ENOMEM before any state changes).
 *
 *   node = { kind: FREE | GHOST | REAL, hash + block_id (REAL), position, fragment,
 *            parent, first_child, next_sibling, prev_sibling }
 *
 * The key of a node is (position, fragment) with fragment =
 * parent_fragment_for_child_position(hash, position + 1): the value its children carry as
 * their parent fragment. An open-addressing index (index.h) maps keys to nodes (REAL and
 * GHOST). The key alone is not unique: lookups by hash also compare the full stored hash.
 *
 * A GHOST stands for a parent that is referenced by a child but is not (or no longer) in
 * the pool. Invariants (checked by lineage_check):
 *   - every GHOST has >= 1 child (childless ghosts are pruned at once), so every leaf is
 *     REAL and allocate(n) returns n whenever len >= n;
 *   - children lists are doubly linked (prev_sibling is kvbm's addition: detaching a
 *     child is O(1) instead of the reference's O(siblings)); new children are prepended;
 *   - the leaf policy holds exactly the REAL nodes without children;
 *   - count = number of REAL nodes = number of set bits of id_present.
 *
 * Costs: insert O(1) expected (+ O(log n) heap push for Tick), find/take O(1) + pruning
 * of the ghost chain being released, allocate O(1) (Fifo) / O(log n) (Tick) per victim,
 * has O(1). Memory per block: 56 B node + 16-32 B index + 1 B id bitmap + policy
 * (Tick 12 B per node + 16 B heap entry per block; Fifo 8 B per node) ~ 101-117 B (Tick),
 * 81-97 B (Fifo), plus ~80-85 B per live ghost.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/index.h"
#include "backends/leaf_policy.h"

#define NIL UINT32_MAX

enum { NODE_FREE = 0, NODE_GHOST = 1, NODE_REAL = 2 };

typedef struct lin_node {
    kvbm_plh hash;        /* REAL only */
    uint64_t fragment;    /* key fragment */
    uint32_t position;    /* key position (<= 2^24 - 1) */
    uint32_t block_id;    /* REAL only */
    uint32_t parent, first_child, next_sibling, prev_sibling;
    uint32_t slot;        /* index slot (back-pointer maintained by index.h) */
    uint8_t  kind;
} lin_node;

typedef struct lineage {
    lin_node        *nodes;
    size_t           cap_cells;  /* allocated cells */
    size_t           used_cells; /* bump pointer: cells ever handed out */
    uint32_t         free_head;  /* free list through next_sibling */
    size_t           free_count;
    size_t           count;      /* REAL nodes */
    size_t           capacity;   /* block_count */
    uint8_t         *id_present; /* [capacity] */
    kvbm_idxtab      tab;
    kvbm_leaf_policy policy;
} lineage;

typedef struct lin_key {
    const lineage *g;
    uint64_t       position, fragment;
} lin_key;

/* h32 of a key. The fragment is (masked) hash output already; one multiply spreads it
 * and the position over the top 32 bits. */
static inline uint32_t key_h32(uint64_t position, uint64_t fragment)
{
    uint64_t x = (fragment ^ (position * UINT64_C(0x9E3779B97F4A7C15))) * UINT64_C(0xD6E8FEB86659FD93);
    return (uint32_t)(x >> 32);
}

static bool lin_key_eq(const void *ctx, uint32_t val)
{
    const lin_key *k = ctx;
    const lin_node *n = &k->g->nodes[val];
    return n->fragment == k->fragment && n->position == k->position;
}

static inline size_t lin_find_slot(const lineage *g, uint64_t position, uint64_t fragment)
{
    lin_key k = { g, position, fragment };
    return kvbm__idx_find(&g->tab, key_h32(position, fragment), lin_key_eq, &k);
}

static inline uint32_t lin_find(const lineage *g, uint64_t position, uint64_t fragment)
{
    size_t slot = lin_find_slot(g, position, fragment);
    return slot == KVBM_IDX_NONE ? NIL : g->tab.slots[slot].val;
}

static inline uint64_t key_fragment(kvbm_plh h, uint64_t position)
{
    return kvbm_plh_parent_fragment_for_child_position(h, position + 1);
}

/* The REAL node holding exactly h, or NIL. */
static inline uint32_t lin_lookup(const lineage *g, kvbm_plh h)
{
    uint64_t pos = kvbm_plh_position(h);
    uint32_t idx = lin_find(g, pos, key_fragment(h, pos));
    if (idx == NIL) return NIL;
    const lin_node *n = &g->nodes[idx];
    if (n->kind != NODE_REAL || !kvbm_plh_eq(n->hash, h)) return NIL;
    return idx;
}

/* Make sure @need cells can be handed out without allocating. */
static kvbm_status lin_reserve(lineage *g, size_t need)
{
    if (g->free_count + (g->cap_cells - g->used_cells) >= need) return KVBM_OK;
    size_t ncap = g->cap_cells * 2;
    if (ncap < g->used_cells + need) ncap = g->used_cells + need;
    if (ncap > (size_t)UINT32_MAX - 1) return KVBM_ERANGE;
    lin_node *nn = realloc(g->nodes, ncap * sizeof *nn);
    if (nn == NULL) return KVBM_ENOMEM;
    g->nodes = nn;
    g->tab.where_base = (char *)&nn[0].slot;
    KVBM_TRY(lp_reserve(&g->policy, ncap));
    if (ncap * 2 > (g->tab.mask + 1)) KVBM_TRY(kvbm__idx_grow(&g->tab, ncap));
    g->cap_cells = ncap;
    return KVBM_OK;
}

/* Hand out a cell for a node with key (position, fragment), indexed at @slot (an empty
 * slot from kvbm__idx_find_or_empty, or KVBM_IDX_NONE to probe for one). */
static inline uint32_t lin_alloc(lineage *g, uint8_t kind, uint64_t position, uint64_t fragment,
                                 size_t slot)
{
    uint32_t idx;
    if (g->free_head != NIL) {
        idx = g->free_head;
        g->free_head = g->nodes[idx].next_sibling;
        g->free_count--;
    } else {
        kvbm_assert(g->used_cells < g->cap_cells);
        idx = (uint32_t)g->used_cells++;
    }
    lin_node *n = &g->nodes[idx];
    n->kind = kind;
    n->position = (uint32_t)position;
    n->fragment = fragment;
    n->parent = n->first_child = n->next_sibling = n->prev_sibling = NIL;
    if (slot == KVBM_IDX_NONE) kvbm__idx_put(&g->tab, key_h32(position, fragment), idx);
    else kvbm__idx_put_at(&g->tab, slot, key_h32(position, fragment), idx);
    return idx;
}

static inline void lin_free(lineage *g, uint32_t idx)
{
    lin_node *n = &g->nodes[idx];
    size_t slot = kvbm__idx_slot_of(&g->tab, idx);
    kvbm_assert(g->tab.slots[slot].val == idx);
    kvbm__idx_del(&g->tab, slot);
    n->kind = NODE_FREE;
    n->parent = n->first_child = n->prev_sibling = NIL;
    n->next_sibling = g->free_head;
    g->free_head = idx;
    g->free_count++;
}

static inline void lin_detach(lineage *g, uint32_t idx)
{
    lin_node *n = &g->nodes[idx];
    if (n->prev_sibling != NIL) g->nodes[n->prev_sibling].next_sibling = n->next_sibling;
    else if (n->parent != NIL) g->nodes[n->parent].first_child = n->next_sibling;
    if (n->next_sibling != NIL) g->nodes[n->next_sibling].prev_sibling = n->prev_sibling;
    n->prev_sibling = n->next_sibling = NIL;
}

static inline void lin_prepend_child(lineage *g, uint32_t parent, uint32_t child)
{
    lin_node *p = &g->nodes[parent], *c = &g->nodes[child];
    c->parent = parent;
    c->prev_sibling = NIL;
    c->next_sibling = p->first_child;
    if (p->first_child != NIL) g->nodes[p->first_child].prev_sibling = child;
    p->first_child = child;
}

/* REAL node idx -> GHOST, then prune childless ghosts upwards (§3.4.3). */
static void lin_remove_node(lineage *g, uint32_t idx, kvbm_pair *out)
{
    lin_node *n = &g->nodes[idx];
    out->hash = n->hash;
    out->block_id = n->block_id;
    n->kind = NODE_GHOST;
    g->count--;
    g->id_present[n->block_id] = 0;
    lp_on_node_removed(&g->policy, idx);

    uint32_t cur = idx;
    for (;;) {
        lin_node *c = &g->nodes[cur];
        if (c->first_child != NIL) break; /* stays as a ghost */
        uint32_t parent = c->parent;
        lin_detach(g, cur);
        lin_free(g, cur);
        if (parent == NIL) break;
        lin_node *p = &g->nodes[parent];
        if (p->first_child != NIL) break;
        if (p->kind == NODE_REAL) {
            kvbm_status st = lp_on_leaf_added(&g->policy, parent);
            kvbm_assert(st == KVBM_OK);
            KVBM_UNUSED(st);
            break;
        }
        cur = parent;
    }
}

static bool lin_find_match(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id)
{
    lineage *g = ctx;
    KVBM_UNUSED(touch);
    uint32_t idx = lin_lookup(g, h);
    if (idx == NIL) return false;
    kvbm_pair p;
    lin_remove_node(g, idx, &p);
    *block_id = p.block_id;
    return true;
}

static size_t lin_find_matches(void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                               kvbm_pair *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        if (!lin_find_match(ctx, hashes[i], touch, &id)) break;
        out[k].hash = hashes[i];
        out[k].block_id = id;
        k++;
    }
    return k;
}

static size_t lin_scan_matches(void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                               kvbm_pair *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        if (!lin_find_match(ctx, hashes[i], touch, &id)) continue;
        out[k].hash = hashes[i];
        out[k].block_id = id;
        k++;
    }
    return k;
}

static size_t lin_allocate(void *ctx, size_t count, kvbm_pair *out)
{
    lineage *g = ctx;
    size_t k = 0;
    while (k < count) {
        uint32_t victim = lp_next_victim(&g->policy);
        if (victim == NIL) break;
        kvbm_assert(g->nodes[victim].kind == NODE_REAL && g->nodes[victim].first_child == NIL);
        lin_remove_node(g, victim, &out[k]);
        k++;
    }
    return k;
}

static size_t lin_len(void *ctx) { return ((lineage *)ctx)->count; }

static size_t lin_allocate_all(void *ctx, kvbm_pair *out) { return lin_allocate(ctx, lin_len(ctx), out); }

static kvbm_status lin_insert(void *ctx, kvbm_plh h_in, uint32_t block_id)
{
    lineage *g = ctx;
    kvbm_plh h = kvbm__plh_launder(h_in);
    if (KVBM_UNLIKELY(block_id >= g->capacity || g->id_present[block_id])) {
        kvbm__set_error("block id %u out of range or already in the lineage backend", block_id);
        return KVBM_EINVAL;
    }
    if (KVBM_UNLIKELY(g->count >= g->capacity)) {
        kvbm__set_error("lineage backend is full (%zu blocks)", g->capacity);
        return KVBM_EFULL;
    }
    uint64_t pos = kvbm_plh_position(h);
    uint64_t frag = key_fragment(h, pos);
    lin_key kc = { g, pos, frag };
    size_t slot;
    bool found = kvbm__idx_find_or_empty(&g->tab, key_h32(pos, frag), lin_key_eq, &kc, &slot);
    uint32_t idx = found ? g->tab.slots[slot].val : NIL;
    if (idx != NIL && g->nodes[idx].kind == NODE_REAL) {
        if (kvbm_plh_eq(g->nodes[idx].hash, h))
            kvbm__set_error("Duplicate insertion detected! position=%" PRIu64 ", fragment=%#" PRIx64
                            ", hash=%016" PRIx64 "%016" PRIx64, pos, frag, h.hi, h.lo);
        else
            kvbm__set_error("Hash collision detected! position=%" PRIu64 ", fragment=%#" PRIx64
                            ", existing=%016" PRIx64 "%016" PRIx64 ", new=%016" PRIx64 "%016" PRIx64,
                            pos, frag, g->nodes[idx].hash.hi, g->nodes[idx].hash.lo, h.hi, h.lo);
        return KVBM_EINVAL;
    }
    /* Look everything up first, reserve the cells it needs, then mutate: an allocation
     * failure (ghost growth) leaves the graph untouched. */
    bool link = pos > 0 && (idx == NIL || g->nodes[idx].parent == NIL);
    uint64_t pfrag = link ? kvbm_plh_parent_fragment(h) : 0;
    uint32_t parent = link ? lin_find(g, pos - 1, pfrag) : NIL;
    size_t need = (size_t)(idx == NIL) + (size_t)(link && parent == NIL);
    if (KVBM_UNLIKELY(g->free_count + (g->cap_cells - g->used_cells) < need)) {
        KVBM_TRY(lin_reserve(g, need));
        if (idx == NIL) (void)kvbm__idx_find_or_empty(&g->tab, key_h32(pos, frag), lin_key_eq, &kc, &slot);
    }

    if (idx == NIL) idx = lin_alloc(g, NODE_REAL, pos, frag, slot);
    lin_node *n = &g->nodes[idx];
    n->kind = NODE_REAL;
    kvbm__plh_store(&n->hash, h);
    n->block_id = block_id;
    g->count++;
    g->id_present[block_id] = 1;
    lp_on_node_inserted(&g->policy, idx);

    if (link) {
        if (parent == NIL) parent = lin_alloc(g, NODE_GHOST, pos - 1, pfrag, KVBM_IDX_NONE);
        bool was_leaf = g->nodes[parent].first_child == NIL;
        lin_prepend_child(g, parent, idx);
        if (was_leaf && g->nodes[parent].kind == NODE_REAL)
            lp_on_leaf_demoted(&g->policy, parent);
    }
    if (g->nodes[idx].first_child == NIL) {
        kvbm_status st = lp_on_leaf_added(&g->policy, idx);
        kvbm_assert(st == KVBM_OK);
        KVBM_UNUSED(st);
    }
    return KVBM_OK;
}

static bool lin_has(void *ctx, kvbm_plh h) { return lin_lookup(ctx, h) != NIL; }

static bool lin_take(void *ctx, kvbm_plh h, uint32_t block_id)
{
    lineage *g = ctx;
    uint32_t idx = lin_lookup(g, h);
    if (idx == NIL || g->nodes[idx].block_id != block_id) return false;
    kvbm_pair p;
    lin_remove_node(g, idx, &p);
    return true;
}

static void lin_destroy(void *ctx)
{
    lineage *g = ctx;
    if (g == NULL) return;
    lp_fini(&g->policy);
    kvbm__idx_fini(&g->tab);
    free(g->nodes);
    free(g->id_present);
    free(g);
}

static bool lin_check(void *ctx)
{
    lineage *g = ctx;
    size_t real = 0, ghosts = 0, freec = 0, leaves = 0;
    for (uint32_t i = 0; i < g->used_cells; i++) {
        const lin_node *n = &g->nodes[i];
        if (n->kind == NODE_FREE) {
            freec++;
            if (lp_contains(&g->policy, i)) return false;
            continue;
        }
        if (lin_find(g, n->position, n->fragment) != i) return false;
        if (g->tab.slots[kvbm__idx_slot_of(&g->tab, i)].val != i) return false;
        if (n->kind == NODE_REAL) {
            real++;
            if (n->block_id >= g->capacity || !g->id_present[n->block_id]) return false;
            if (n->position != kvbm_plh_position(n->hash)) return false;
            if (n->fragment != key_fragment(n->hash, n->position)) return false;
            bool leaf = n->first_child == NIL;
            if (leaf) leaves++;
            if (leaf != lp_contains(&g->policy, i)) return false;
        } else {
            ghosts++;
            if (n->first_child == NIL) return false; /* ghost leaves never exist */
            if (lp_contains(&g->policy, i)) return false;
        }
        uint32_t prev = NIL;
        size_t nchild = 0;
        for (uint32_t c = n->first_child; c != NIL; c = g->nodes[c].next_sibling) {
            const lin_node *cn = &g->nodes[c];
            if (cn->kind == NODE_FREE || cn->parent != i || cn->prev_sibling != prev) return false;
            if (cn->position != n->position + 1) return false;
            if (cn->kind == NODE_REAL && kvbm_plh_parent_fragment(cn->hash) != n->fragment) return false;
            prev = c;
            if (++nchild > g->used_cells) return false;
        }
        if (n->parent != NIL) {
            const lin_node *p = &g->nodes[n->parent];
            if (p->kind == NODE_FREE) return false;
            bool found = false;
            for (uint32_t c = p->first_child; c != NIL && !found; c = g->nodes[c].next_sibling)
                found = c == i;
            if (!found) return false;
        } else if (n->prev_sibling != NIL || n->next_sibling != NIL) {
            return false;
        }
    }
    size_t fl = 0;
    for (uint32_t f = g->free_head; f != NIL; f = g->nodes[f].next_sibling) {
        if (g->nodes[f].kind != NODE_FREE || ++fl > g->used_cells) return false;
    }
    size_t ids = 0;
    for (size_t b = 0; b < g->capacity; b++) ids += g->id_present[b];
    return real == g->count && ids == real && fl == freec && freec == g->free_count &&
           g->tab.count == real + ghosts && leaves == lp_len(&g->policy) &&
           lp_check(&g->policy);
}

static const kvbm_inactive_ops lineage_tick_ops = {
    .name = "lineage-tick",
    .find_match = lin_find_match,
    .find_matches = lin_find_matches,
    .scan_matches = lin_scan_matches,
    .allocate = lin_allocate,
    .insert = lin_insert,
    .len = lin_len,
    .has = lin_has,
    .take = lin_take,
    .allocate_all = lin_allocate_all,
    .destroy = lin_destroy,
    .check = lin_check,
};

static const kvbm_inactive_ops lineage_fifo_ops = {
    .name = "lineage-fifo",
    .find_match = lin_find_match,
    .find_matches = lin_find_matches,
    .scan_matches = lin_scan_matches,
    .allocate = lin_allocate,
    .insert = lin_insert,
    .len = lin_len,
    .has = lin_has,
    .take = lin_take,
    .allocate_all = lin_allocate_all,
    .destroy = lin_destroy,
    .check = lin_check,
};

kvbm_status kvbm__lineage_create(size_t capacity, kvbm_lineage_eviction eviction, kvbm_inactive *out)
{
    if (out == NULL) return KVBM_EINVAL;
    if (capacity == 0 || capacity > ((size_t)UINT32_MAX - 1) / 2) {
        kvbm__set_error("backend capacity must be in 1..%u, got %zu", (UINT32_MAX - 1) / 2, capacity);
        return KVBM_EINVAL;
    }
    if (eviction != KVBM_LINEAGE_TICK && eviction != KVBM_LINEAGE_FIFO) {
        kvbm__set_error("unknown lineage eviction policy %d", (int)eviction);
        return KVBM_EINVAL;
    }
    lineage *g = calloc(1, sizeof *g);
    if (g == NULL) return KVBM_ENOMEM;
    g->capacity = capacity;
    g->cap_cells = capacity;
    g->free_head = NIL;
    g->nodes = malloc(capacity * sizeof *g->nodes);
    g->id_present = calloc(capacity, 1);
    kvbm_status st = (g->nodes == NULL || g->id_present == NULL) ? KVBM_ENOMEM : KVBM_OK;
    if (st == KVBM_OK) st = kvbm__idx_init(&g->tab, capacity);
    if (st == KVBM_OK) {
        g->tab.where_base = (char *)&g->nodes[0].slot;
        g->tab.where_stride = sizeof *g->nodes;
    }
    if (st == KVBM_OK) st = lp_init(&g->policy, eviction, capacity, capacity);
    if (st != KVBM_OK) {
        kvbm__idx_fini(&g->tab);
        free(g->nodes);
        free(g->id_present);
        free(g);
        return st;
    }
    out->ops = eviction == KVBM_LINEAGE_TICK ? &lineage_tick_ops : &lineage_fifo_ops;
    out->ctx = g;
    return KVBM_OK;
}

bool kvbm__lineage_stats(const kvbm_inactive *b, kvbm_lineage_stats *out)
{
    if (b->ops != &lineage_tick_ops && b->ops != &lineage_fifo_ops) return false;
    const lineage *g = b->ctx;
    size_t live = g->used_cells - g->free_count;
    out->real = g->count;
    out->ghosts = live - g->count;
    out->leaves = lp_len(&g->policy);
    out->slab_cells = g->used_cells;
    out->slab_cap = g->cap_cells;
    return true;
}

uint32_t kvbm__lineage_key_h32(uint64_t position, uint64_t fragment) { return key_h32(position, fragment); }
