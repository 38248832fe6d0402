/* src/backends/lineage.c - the Lineage inactive backend, kvbm's default (10-core §3.4): evict
 * only leaves of the prefix forest. The graph, its invariants and costs: lineage_int.h; the
 * removals (pruning, find_match / take, allocate): lineage_evict.h. This file: insert (one
 * block and a batch of pairs), the self-check, construction and the ops tables, which
 * instantiate every operation per leaf policy.
 */
#include <inttypes.h>

#include "backends/lineage_evict.h"

static size_t lin_len(void *ctx) { return ((lineage *)ctx)->count; }

/* The node @idx (not REAL, not dormant, all links made) becomes the REAL node of (h,
 * block_id): the state every insert ends with, before the parent link and the leaf order. */
KVBM__LP_INLINE lin_node *lin_make_real(lineage *g, kvbm_lineage_eviction K, bool R, uint32_t idx, kvbm_plh h,
                                        uint32_t block_id, bool hvalid)
{
    lin_node *n = &g->nodes[idx];
    n->kind = NODE_REAL;
    n->hvalid = hvalid;
    kvbm__plh_store(&n->hash, h);
    n->block_id = block_id;
    g->count++;
    g->id_present[block_id] = 1;
    if (R) g->tring[g->policy.next_tick & g->tring_mask] = idx;
    kvbm__lpk_on_node_inserted(&g->policy, K, LS, idx);
    return n;
}

/* insert (backend.h). @F: try the fast paths below first - insert_pairs only: the single
 * insert's callers release unrelated blocks (the matrix: roots), for which the fast paths'
 * tests and gcc's layout of the larger body cost ~4 Ir per insert. */
KVBM__LP_INLINE kvbm_status lin_insert_k(void *ctx, kvbm_lineage_eviction K, bool R, bool F, kvbm_plh h_in,
                                         uint32_t block_id)
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
    /* The replay's two common cases, each what the general path below does for it, without
     * its case analysis (docs/perf/backends.md, session 14). The previous insert's parent (the
     * carry, see below) is a GHOST - so it has children and stays an inner node - and:
     *  - holds h exactly and keeps its parent link (a chain resurrected root-first, now
     *    released tail first): it just becomes REAL, no link to make;
     *  - is key(h) without a parent link (created by the previous insert): h becomes REAL
     *    in it, linked under the parent key's node when that is a ghost, else - the parent
     *    key not indexed - under a new ghost parent (a recycled cell, at the empty slot the
     *    parent probe ended on).
     * Anything else (another carry, a parent found that is not a ghost, no spare cell)
     * takes the general path, which redoes these lookups (they changed nothing). */
    uint32_t ci = g->carry;
    if (F && KVBM_LIKELY(ci != NIL) && g->nodes[ci].kind == NODE_GHOST) {
        const lin_node *c = &g->nodes[ci];
        kvbm__assert(c->nchild != 0);
        bool ex = c->hvalid && kvbm_plh_eq(c->hash, h);
        if (ex && c->parent != NIL) {
            g->carry = lin_make_real(g, K, R, ci, h, block_id, true)->parent;
            return KVBM_OK;
        }
        uint64_t pfr, cfr;
        uint64_t cpos = lin_decode(h, &pfr, &cfr);
        if ((ex || (c->position == cpos && c->fragment == cfr)) && c->parent == NIL && cpos > 0) {
            lin_key kp = { g, cpos - 1, pfr };
            size_t ps;
            uint32_t ph = key_h32(g->fmask, pfr);
            if (kvbm__idx_find_or_empty(&g->tab, ph, lin_key_eq, &kp, &ps)) {
                uint32_t parent = g->tab.slots[ps].val;
                if (g->nodes[parent].kind == NODE_GHOST) { /* has children: stays inner */
                    lin_make_real(g, K, R, ci, h, block_id, true);
                    g->carry = parent;
                    lin_link_child(g, parent, ci);
                    return KVBM_OK;
                }
            } else if (g->dhead != NIL || g->used_cells < g->cap_cells) { /* a spare cell */
                lin_make_real(g, K, R, ci, h, block_id, true);
                uint32_t parent = lin_alloc(g, NODE_GHOST, cpos - 1, pfr, ph, ps, true);
                g->carry = parent;
                lin_link_child(g, parent, ci);
                return KVBM_OK;
            }
        }
    }
    /* One scan of the probe run finds the node of key(h) two ways: by exact valid hash (a
     * block resurrected and now released again: a Ghost of a chain resurrected root-first,
     * or a dormant node; position and fragment then come from the node, without the PLH
     * accessors), or by key, computed only when an entry with the same digest needs the
     * comparison. Keys are unique, so the first entry matching either way is the node. A
     * miss ends on the empty slot where the key goes (the digest needs only h.lo). */
    uint32_t idx = NIL;
    bool exact = false, have_key = false; /* have_key: pos, frag and pfrag decoded from h */
    uint64_t pos = 0, frag = 0, pfrag = 0;
    size_t slot = KVBM_IDX_NONE;
    /* The previous insert's parent is the likeliest node of key(h): a request released tail
     * first inserts each block right after its child, which created or found that parent.
     * Any cell that holds key(h) (exactly, or as its (position, fragment)) is the node of
     * key(h) - every handed-out cell is indexed under its current key and keys are unique -
     * so a match is what the probe below would find, without the probe. */
    if (g->carry != NIL) {
        const lin_node *c = &g->nodes[g->carry];
        if (c->hvalid && kvbm_plh_eq(c->hash, h)) {
            exact = true;
            idx = g->carry;
        } else {
            pos = kvbm__plh_position_parent(h, &pfrag);
            frag = key_fragment(h, pos);
            have_key = true;
            if (c->fragment == frag && c->position == pos) idx = g->carry;
        }
    }
    if (idx == NIL) {
        uint32_t h32 = key_h32(g->fmask, h.lo);
        const kvbm__idxtab *t = &g->tab;
        size_t i = (size_t)h32 & t->mask;
        for (;;) {
            const kvbm__idx_slot *sl = &t->slots[i];
            if (sl->val == KVBM_IDX_EMPTY) break;
            if (sl->h32 == h32) {
                const lin_node *c = &g->nodes[sl->val];
                if (c->hvalid && kvbm_plh_eq(c->hash, h)) {
                    exact = true;
                    idx = sl->val;
                    break;
                }
                if (!have_key) {
                    pos = kvbm__plh_position_parent(h, &pfrag);
                    frag = key_fragment(h, pos);
                    have_key = true;
                }
                if (c->fragment == frag && c->position == pos) {
                    idx = sl->val;
                    break;
                }
            }
            i = (i + 1) & t->mask;
        }
        slot = i;
    }
    if (exact) {
        pos = g->nodes[idx].position;
        frag = g->nodes[idx].fragment;
    } else if (!have_key) {
        pos = kvbm__plh_position_parent(h, &pfrag);
        frag = key_fragment(h, pos);
        have_key = true;
    }
    lin_key kc = { g, pos, frag };
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
     * failure (ghost growth) leaves the graph untouched. A dormant node of the key is
     * revived in place: exactly a fresh node (no parent link, no children), minus the index
     * insertion. Its parent hint saves the parent probe:
     *  - the hint cell still holds the key the parent had when this node was pruned: that
     *    parent was live then, so it entered the dormant list (if at all) after this node,
     *    and cells are recycled oldest first - a dormant node's hint cell is never reused
     *    before the node itself. With the same full hash (exact) the parent key is the
     *    same, so the hint is the parent node (asserted in debug builds);
     *  - with another hash of the same key, the hint is used only if its key matches
     *    (keys are unique in the index: a node whose key matches is what lin_find returns). */
    bool own_dormant = idx != NIL && g->nodes[idx].kind == NODE_DORMANT;
    bool link = pos > 0 && (idx == NIL || own_dormant || g->nodes[idx].parent == NIL);
    uint32_t parent = NIL;
    if (link) {
        uint32_t hint = own_dormant ? g->nodes[idx].parent : NIL;
        if (exact && hint != NIL) {
            parent = hint;
            kvbm__assert(g->nodes[hint].position == pos - 1 &&
                        g->nodes[hint].fragment == kvbm__plh_parent_fragment(h));
        } else {
            if (!have_key) pfrag = kvbm__plh_parent_fragment(h);
            kvbm__assert((pfrag & g->fmask) == (h.hi & g->fmask)); /* lin_prefetch_insert */
            if (hint != NIL && g->nodes[hint].position == pos - 1 && g->nodes[hint].fragment == pfrag)
                parent = hint;
            else
                parent = lin_find(g, pos - 1, pfrag);
        }
    }
    bool parent_dormant = parent != NIL && g->nodes[parent].kind == NODE_DORMANT;
    size_t need = (size_t)(idx == NIL) + (size_t)(link && parent == NIL);
    if (KVBM_UNLIKELY(need != 0 &&
                      g->dcount - own_dormant - parent_dormant + (g->cap_cells - g->used_cells) < need)) {
        KVBM_TRY(lin_reserve(g, need));
        if (idx == NIL) (void)kvbm__idx_find_or_empty(&g->tab, key_h32(g->fmask, frag), lin_key_eq, &kc, &slot);
    }
    if (own_dormant) (void)lin_revive(g, idx, NODE_REAL);
    if (parent_dormant) (void)lin_revive(g, parent, NODE_GHOST);

    if (idx == NIL) idx = lin_alloc(g, NODE_REAL, pos, frag, key_h32(g->fmask, frag), slot, F);
    /* a Ghost keeping its link (no relink) got it for its stored hash: still valid for h
     * only if h is that hash */
    lin_node *n = lin_make_real(g, K, R, idx, h, block_id, link || pos == 0 || exact);

    bool leaf = g->nodes[idx].nchild == 0;
    g->carry = n->parent; /* a kept link, or NIL (pos 0); the new link below replaces it */
    if (link) {
        if (parent == NIL)
            parent = lin_alloc(g, NODE_GHOST, pos - 1, pfrag, key_h32(g->fmask, pfrag), KVBM_IDX_NONE, F);
        g->carry = parent;
        bool was_leaf = g->nodes[parent].nchild == 0;
        lin_link_child(g, parent, idx);
        if (was_leaf && g->nodes[parent].kind == NODE_REAL) {
            if (leaf) { /* on_leaf_demoted(parent) + on_leaf_added(idx) */
                kvbm__lpk_on_leaf_replaced(&g->policy, K, LS, parent, idx);
                return KVBM_OK;
            }
            kvbm__lpk_on_leaf_demoted(&g->policy, K, LS, parent);
        }
    }
    if (leaf) {
        kvbm_status st = kvbm__lpk_on_leaf_added(&g->policy, K, LS, idx);
        kvbm__assert(st == KVBM_OK);
        KVBM_UNUSED(st);
    }
    return KVBM_OK;
}

static bool lin_has(void *ctx, kvbm_plh h) { return lin_lookup(ctx, h) != NIL; }

/* An insert of h follows: warm the index slots its two probes start at - its own key's
 * and its parent's. Released tail first, a request's blocks each look up a parent that
 * is not cached yet (a miss on a cold slot); the store hints the next block while it
 * inserts the current one. */
#define LIN_HINT_MIN_SLOTS ((UINT64_C(1) << 15) * LIN_IDX_SPREAD) /* a backend of >= 8192 blocks:
                                                                   * its slab and index are
                                                                   * beyond L1/L2-resident */

static void lin_prefetch_insert(void *ctx, kvbm_plh h)
{
    const lineage *g = ctx;
    if (g->tab.mask + 1 < LIN_HINT_MIN_SLOTS) return; /* a small index stays cached: no use */
    __builtin_prefetch(&g->tab.slots[lin_home(g, h.lo)]);
    /* the parent fragment is h.hi masked to a width >= the narrowest (fmask): the same
     * home without decoding the mode (asserted in lin_insert_k) */
    __builtin_prefetch(&g->tab.slots[lin_home(g, h.hi)]);
}

/* insert_pairs (backend.h): lin_insert_k with its fast paths per pair, in order, each with
 * its own checks and message. While pair i is inserted, pair i + 1's homes are prefetched
 * (lin_prefetch_insert's hint, pipelined inside the batch; a lead of 1, see
 * docs/perf/backends.md, session 14). Its own home is the home of pair i's parent key when
 * pair i + 1 continues pair i's chain (the carry then finds its node): already prefetched. */
KVBM__LP_INLINE size_t lin_insert_pairs_k(void *ctx, kvbm_lineage_eviction K, bool R, const kvbm__pair *pairs,
                                          size_t n)
{
    lineage *g = ctx;
    /* a hint only: stale after growth is fine; the ring exists only where the hint works */
    bool hint = R || g->tab.mask + 1 >= LIN_HINT_MIN_SLOTS;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (hint && i + 1 < n) {
            kvbm_plh nx = pairs[i + 1].hash;
            if (((nx.lo ^ pairs[i].hash.hi) & g->fmask) != 0)
                __builtin_prefetch(&g->tab.slots[lin_home(g, nx.lo)]);
            __builtin_prefetch(&g->tab.slots[lin_home(g, nx.hi)]);
        }
        k += lin_insert_k(g, K, R, true, pairs[i].hash, pairs[i].block_id) == KVBM_OK;
    }
    return k;
}

KVBM__LP_INLINE bool lin_take_k(void *ctx, kvbm_lineage_eviction K, kvbm_plh h, uint32_t block_id)
{
    lineage *g = ctx;
    uint32_t idx = lin_lookup(g, h);
    if (idx == NIL || g->nodes[idx].block_id != block_id) return false;
    (void)lin_remove_node(g, K, idx, false);
    return true;
}

static void lin_destroy(void *ctx)
{
    lineage *g = ctx;
    if (g == NULL) return;
    kvbm__lp_fini(&g->policy);
    kvbm__idx_fini(&g->tab);
    kvbm__free(g->nodes);
    kvbm__free(g->id_present);
    kvbm__free(g->tring);
    kvbm__free(g);
}

static bool lin_check(void *ctx)
{
    lineage *g = ctx;
    size_t real = 0, ghosts = 0, dormant = 0, leaves = 0;
    if (g->carry != NIL && g->carry >= g->used_cells) return false; /* a handed-out cell */
    /* children counted from the parent links, compared with nchild in the second pass */
    uint32_t *kids = kvbm__calloc(g->used_cells ? g->used_cells : 1, sizeof *kids);
    if (kids == NULL) return false;
    bool ok = true;
    for (uint32_t i = 0; i < g->used_cells && ok; i++) {
        const lin_node *n = &g->nodes[i];
        if (n->hvalid) {
            ok = n->position == kvbm__plh_position(n->hash) &&
                 n->fragment == key_fragment(n->hash, n->position);
            /* the link matches the hash's parent key (a dormant node's hint, too: a hint
             * cell is never recycled before the node, see lin_insert_k) */
            if (ok && n->parent != NIL) {
                const lin_node *p = &g->nodes[n->parent];
                ok = p->position + 1 == n->position && p->fragment == kvbm__plh_parent_fragment(n->hash);
            }
        }
        /* every handed-out cell is indexed under its key, in its key's probe run */
        ok = ok && lin_find(g, n->position, n->fragment) == i && lin_slot_of(g, i) != KVBM_IDX_NONE;
        if (!ok) break;
        if (n->kind == NODE_DORMANT) {
            dormant++;
            ok = !kvbm__lp_contains(&g->policy, i) && n->nchild == 0;
            continue;
        }
        /* outside the dormant list, a node's tick words are its tick: none unless REAL */
        ok = n->kind == NODE_REAL || kvbm__lp_tick(&g->policy, i) == KVBM__LP_TICK_NONE;
        if (n->kind == NODE_REAL) {
            real++;
            ok = ok && n->block_id < g->capacity && g->id_present[n->block_id] &&
                 n->position == kvbm__plh_position(n->hash) &&
                 n->fragment == key_fragment(n->hash, n->position) &&
                 (n->hash.lo & g->fmask) == (n->fragment & g->fmask);
            bool leaf = n->nchild == 0;
            if (leaf) leaves++;
            ok = ok && leaf == kvbm__lp_contains(&g->policy, i);
        } else {
            ghosts++;
            /* ghost leaves never exist */
            ok = ok && n->kind == NODE_GHOST && n->nchild != 0 && !kvbm__lp_contains(&g->policy, i);
        }
        if (ok && n->parent != NIL) {
            /* (a REAL child promoted from a ghost by another hash of its key keeps the link
             * made for the old hash, §3.4.2 step 3: checked through hvalid above) */
            const lin_node *p = n->parent < g->used_cells ? &g->nodes[n->parent] : NULL;
            ok = p != NULL && p->kind != NODE_DORMANT && p->position + 1 == n->position;
            if (ok) kids[n->parent]++;
        }
    }
    for (uint32_t i = 0; i < g->used_cells && ok; i++) ok = kids[i] == g->nodes[i].nchild;
    kvbm__free(kids);
    if (!ok) return false;
    size_t dl = 0;
    uint32_t dprev = NIL;
    for (uint32_t d = g->dhead; d != NIL; d = DNEXT(&g->nodes[d])) {
        if (d >= g->used_cells || g->nodes[d].kind != NODE_DORMANT || DPREV(&g->nodes[d]) != dprev ||
            ++dl > g->used_cells)
            return false;
        dprev = d;
    }
    if (dprev != g->dtail) return false;
    size_t ids = 0;
    for (size_t b = 0; b < g->capacity; b++) ids += g->id_present[b];
    return real == g->count && ids == real && dl == dormant && dormant == g->dcount &&
           g->tab.count == real + ghosts + dormant && leaves == kvbm__lp_len(&g->policy) &&
           kvbm__lp_check_upto(&g->policy, g->used_cells);
}

/* The ops of each leaf policy: the *_k bodies inlined with a constant kind K (and R: the
 * tick ring), under the names lin_<op>_<sfx> (the names profiles show). The lookups do not
 * use the ring: the ring's table shares the plain Tick ones. */
#define LIN_LOOKUP_OPS(sfx, K)                                                                  \
    static bool lin_find_match_##sfx(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id)    \
    {                                                                                          \
        KVBM_UNUSED(touch);                                                                    \
        return lin_find_match_k(ctx, K, h, block_id);                                          \
    }                                                                                          \
    static size_t lin_find_matches_##sfx(void *ctx, const kvbm_plh *hashes, size_t n,          \
                                         bool touch, kvbm__pair *out)                           \
    {                                                                                          \
        return kvbm__inactive_walk(lin_find_match_##sfx, ctx, hashes, n, touch, true, out);    \
    }                                                                                          \
    static size_t lin_scan_matches_##sfx(void *ctx, const kvbm_plh *hashes, size_t n,          \
                                         bool touch, kvbm__pair *out)                           \
    {                                                                                          \
        return kvbm__inactive_walk(lin_find_match_##sfx, ctx, hashes, n, touch, false, out);   \
    }                                                                                          \
    static bool lin_take_##sfx(void *ctx, kvbm_plh h, uint32_t block_id)                       \
    {                                                                                          \
        return lin_take_k(ctx, K, h, block_id);                                                \
    }

#define LIN_POLICY_OPS(sfx, lsfx, K, R, label)                                                  \
    static size_t lin_allocate_##sfx(void *ctx, size_t count, kvbm__pair *out)                  \
    {                                                                                          \
        return lin_allocate_k(ctx, K, R, count, out);                                          \
    }                                                                                          \
    static size_t lin_allocate_all_##sfx(void *ctx, kvbm__pair *out)                            \
    {                                                                                          \
        return lin_allocate_k(ctx, K, R, lin_len(ctx), out);                                   \
    }                                                                                          \
    static kvbm_status lin_insert_##sfx(void *ctx, kvbm_plh h, uint32_t block_id)              \
    {                                                                                          \
        return lin_insert_k(ctx, K, R, false, h, block_id);                                    \
    }                                                                                          \
    static size_t lin_insert_pairs_##sfx(void *ctx, const kvbm__pair *pairs, size_t n)        \
    {                                                                                          \
        return lin_insert_pairs_k(ctx, K, R, pairs, n);                                        \
    }                                                                                          \
    static const kvbm__inactive_ops lineage_##sfx##_ops = {                                     \
        .name = label,                                                                         \
        .find_match = lin_find_match_##lsfx,                                                   \
        .find_matches = lin_find_matches_##lsfx,                                               \
        .scan_matches = lin_scan_matches_##lsfx,                                               \
        .allocate = lin_allocate_##sfx,                                                        \
        .insert = lin_insert_##sfx,                                                            \
        .prefetch_insert = lin_prefetch_insert,                                                \
        .insert_pairs = lin_insert_pairs_##sfx,                                                \
        .len = lin_len,                                                                        \
        .has = lin_has,                                                                        \
        .take = lin_take_##lsfx,                                                               \
        .allocate_all = lin_allocate_all_##sfx,                                                \
        .destroy = lin_destroy,                                                                \
        .check = lin_check,                                                                    \
    }

LIN_LOOKUP_OPS(tick, KVBM_LINEAGE_TICK)
LIN_LOOKUP_OPS(fifo, KVBM_LINEAGE_FIFO)
LIN_POLICY_OPS(tick, tick, KVBM_LINEAGE_TICK, false, "lineage-tick");
LIN_POLICY_OPS(tickr, tick, KVBM_LINEAGE_TICK, true, "lineage-tick"); /* with the tick ring */
LIN_POLICY_OPS(fifo, fifo, KVBM_LINEAGE_FIFO, false, "lineage-fifo");

kvbm_status kvbm__lineage_create(size_t capacity, kvbm_lineage_eviction eviction, kvbm__inactive *out)
{
    if (out == NULL) return KVBM_EINVAL;
    if (capacity == 0 || capacity > KVBM__LINEAGE_MAX_CAPACITY) {
        kvbm__set_error("backend capacity must be in 1..%zu, got %zu", KVBM__LINEAGE_MAX_CAPACITY, capacity);
        return KVBM_EINVAL;
    }
    if (eviction != KVBM_LINEAGE_TICK && eviction != KVBM_LINEAGE_FIFO) {
        kvbm__set_error("unknown lineage eviction policy %d", (int)eviction);
        return KVBM_EINVAL;
    }
    lineage *g = kvbm__calloc(1, sizeof *g);
    if (g == NULL) return KVBM_ENOMEM;
    g->capacity = capacity;
    g->fmask = lin_fragment_mask();
    g->cap_cells = capacity;
    g->dhead = g->dtail = NIL;
    g->carry = NIL;
    g->rc_cell = NIL;
    g->nodes = kvbm__aligned_alloc(64, capacity * sizeof *g->nodes);
    g->id_present = kvbm__calloc(capacity, 1);
    kvbm_status st = (g->nodes == NULL || g->id_present == NULL) ? KVBM_ENOMEM : KVBM_OK;
    if (st == KVBM_OK) st = kvbm__idx_init(&g->tab, capacity * LIN_IDX_SPREAD);
    /* the tick ring only where the insert hint works too: a smaller slab stays cached */
    if (st == KVBM_OK && eviction == KVBM_LINEAGE_TICK && g->tab.mask + 1 >= LIN_HINT_MIN_SLOTS) {
        uint64_t ring = kvbm__next_pow2_u64((uint64_t)capacity * 2);
        g->tring_mask = (ring < LIN_TRING_MAX ? ring : LIN_TRING_MAX) - 1;
        g->tring = kvbm__calloc((size_t)g->tring_mask + 1, sizeof *g->tring);
        if (g->tring == NULL) st = KVBM_ENOMEM;
    }
    if (st == KVBM_OK)
        st = kvbm__lp_init_embedded(&g->policy, eviction, (char *)g->nodes + offsetof(lin_node, lp), LS, capacity);
    if (st != KVBM_OK) {
        kvbm__idx_fini(&g->tab);
        kvbm__free(g->nodes);
        kvbm__free(g->id_present);
        kvbm__free(g->tring);
        kvbm__free(g);
        return st;
    }
    out->ops = eviction == KVBM_LINEAGE_FIFO ? &lineage_fifo_ops
             : g->tring != NULL              ? &lineage_tickr_ops
                                             : &lineage_tick_ops;
    out->ctx = g;
    out->freq = NULL;
    return KVBM_OK;
}

bool kvbm__lineage_stats(const kvbm__inactive *b, kvbm__lineage_info *out)
{
    if (b->ops != &lineage_tick_ops && b->ops != &lineage_tickr_ops && b->ops != &lineage_fifo_ops) return false;
    const lineage *g = b->ctx;
    size_t live = g->used_cells - g->dcount;
    out->real = g->count;
    out->ghosts = live - g->count;
    out->leaves = kvbm__lp_len(&g->policy);
    out->slab_cells = g->used_cells;
    out->slab_cap = g->cap_cells;
    out->index_slots = g->tab.mask + 1;
    return true;
}

uint32_t kvbm__lineage_key_h32(uint64_t position, uint64_t fragment)
{
    KVBM_UNUSED(position);
    return key_h32(lin_fragment_mask(), fragment);
}
