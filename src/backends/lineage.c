/* src/backends/lineage.c - the Lineage inactive backend, kvbm's default (10-core §3.4).
 *
 * Goal: evict only leaves of the prefix forest, so a cached prefix is never broken from the
 * root side while longer continuations remain cached.
 *
 * Structure. A slab of nodes addressed by uint32 index, pre-sized to block_count; it grows
 * geometrically only when ghost nodes push the node count past the pre-size (the only
 * allocation after construction, under the store lock; it fails cleanly with KVBM_ENOMEM
 * before any state changes).
 *
 *   node = { hash + block_id (REAL), fragment, position, parent, nchild,
 *            lp: the leaf order's record (leaf_policy.h), kind: DORMANT | GHOST | REAL }
 *
 * A node is one 64-byte, line-aligned cell: the leaf order's record (tick, heap or list
 * links) is embedded, and a dormant node keeps its dormant-list links in the record's
 * tick words (a dormant node has no tick and is outside the order). Every hook of the
 * order - a tick set at insert, a leaf added or demoted, a victim's parent re-leafed -
 * touches the line the operation already holds, not a second array.
 *
 * The key of a node is (position, fragment) with fragment =
 * parent_fragment_for_child_position(hash, position + 1): the value its children carry as
 * their parent fragment. An open-addressing index (index.h) maps keys to nodes (REAL,
 * GHOST and DORMANT). The key alone is not unique: lookups by hash also compare the full
 * stored hash (and need no PLH accessor, see key_h32).
 *
 * A GHOST stands for a parent that is referenced by a child but is not (or no longer) in
 * the pool. A DORMANT node is a pruned node (logically free, §3.4.3) that keeps its key,
 * index entry and old parent (a hint) until its cell is reused: re-inserting its key
 * revives it in place as a fresh node, without index churn (the resurrect/re-insert cycle
 * of match_blocks), see lin_insert_k. Invariants (checked by lineage_check):
 *   - every GHOST has >= 1 child (childless ghosts are pruned at once), so every leaf is
 *     REAL and allocate(n) returns n whenever len >= n;
 *   - a node keeps the number of its children (REAL and GHOST nodes whose parent link
 *     designates it), not a list of them: nothing enumerates children, and a child list
 *     made every attach and detach write to a sibling - a random, usually cold node (the
 *     reference keeps a children list; kvbm's earlier doubly linked list made detaching
 *     O(1) but still wrote to both neighbours);
 *   - DORMANT nodes are on the dormant list (oldest first, through DNEXT / DPREV),
 *     childless, indexed, outside the leaf order;
 *   - the leaf policy holds exactly the REAL nodes without children;
 *   - count = number of REAL nodes = number of set bits of id_present.
 *
 * Costs: insert O(1) expected (+ O(log n) amortized pairing-heap work for Tick, usually
 * O(1)), find/take O(1) + pruning of the ghost chain being released, allocate O(1) (Fifo)
 * / O(log n) amortized (Tick) per victim, has O(1). Memory per cell: 64 B node (the leaf
 * order's record inside) + 64-128 B index (load <= 1/8, LIN_IDX_SPREAD), + 1 B id
 * map per block ~ 129-193 B per block (Tick and Fifo), the same again per cell once ghosts
 * push the cell count past the pre-size (the slab doubles); + 8 B per block for the tick
 * ring of a Tick backend of >= 8192 blocks (LIN_TRING_MAX).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/index.h"
#include "backends/leaf_policy.h"
#include "tokens/plh_int.h"

#define NIL UINT32_MAX

enum { NODE_DORMANT = 0, NODE_GHOST = 1, NODE_REAL = 2 };

typedef struct lin_node {
    kvbm_plh hash;        /* REAL only */
    uint64_t fragment;    /* key fragment */
    uint32_t position;    /* key position (<= 2^24 - 1) */
    uint32_t block_id;    /* REAL only */
    uint32_t parent;      /* REAL / GHOST: the parent link; DORMANT: the old parent (a hint) */
    uint32_t nchild;      /* children: REAL / GHOST nodes whose parent link is this node */
    kvbm__tick_node lp;   /* the leaf order's record; DORMANT: tick words = DNEXT / DPREV */
    uint8_t  kind;
    uint8_t  hvalid;      /* hash holds a hash of this node's key, and the parent link (the
                           * hint, when DORMANT), if any, was made for that hash's parent
                           * fragment. Set when the node becomes REAL (unless a kept link
                           * was made for another hash), kept through GHOST / DORMANT,
                           * cleared when the cell is reused. */
} lin_node;
_Static_assert(sizeof(lin_node) == 64, "a lineage node is one cache line");

#define LS sizeof(lin_node) /* the leaf order's record stride */
/* the dormant list (DORMANT only), in the record's tick words */
#define DNEXT(n) ((n)->lp.tick_w[0])
#define DPREV(n) ((n)->lp.tick_w[1])

typedef struct lineage {
    lin_node        *nodes;
    size_t           cap_cells;  /* allocated cells */
    size_t           used_cells; /* bump pointer: cells ever handed out */
    uint32_t         dhead, dtail; /* dormant list (oldest first) through DNEXT / DPREV */
    size_t           dcount;       /* dormant nodes */
    uint32_t         carry;      /* the last insert's parent (a guess for the next key), or NIL */
    uint32_t         rc_cell;    /* the dormant head whose index slot the last recycling
                                  * prefetched, or NIL; rc_home: that slot (its key's home) */
    size_t           rc_home;
    size_t           count;      /* REAL nodes */
    size_t           capacity;   /* block_count */
    uint8_t         *id_present; /* [capacity] */
    uint32_t        *tring;      /* Tick: the cell given tick t at tring[t & tring_mask] (a
                                  * prefetch hint for allocate, never trusted); else NULL */
    uint64_t         tring_mask;
    uint64_t         fmask;      /* lin_fragment_mask() */
    kvbm__idxtab      tab;
    kvbm__leaf_policy policy;
} lineage;

typedef struct lin_key {
    const lineage *g;
    uint64_t       position, fragment;
} lin_key;

/* Index digest of a key. A key fragment is the node's current seq64 truncated to the
 * fragment width of its children's mode (plh.h: "current masked to the fragment width of
 * a child at child_position"), so every fragment of a node, and the current hash of a Real
 * node, agree on the bits of the narrowest fragment width (fmask, derived once through
 * the PLH API, lin_fragment_mask). The digest hashes only those bits: a lookup by full
 * hash (find / has / take) needs neither the position nor the fragment accessor and
 * recognises its node by full-hash equality, a lookup by key (insert, parent link)
 * compares (position, fragment). Keys stay unique in the index; only the spreading
 * ignores the position (same-current nodes at different positions share a probe run). */
static inline uint32_t key_h32(uint64_t fmask, uint64_t fragment)
{
    uint64_t x = fragment & fmask;
    x = (x ^ (x >> 21)) * UINT64_C(0x9E3779B97F4A7C15);
    return (uint32_t)(x >> 32);
}

/* Bits common to the fragment widths of every child position: the AND of the masks
 * parent_fragment_for_child_position() applies to an all-ones current hash, over positions
 * around every power of two (where a width change can occur) and the maximum. */
static uint64_t lin_fragment_mask(void)
{
    kvbm_plh ones = { 0, UINT64_MAX };
    uint64_t m = UINT64_MAX;
    for (unsigned k = 0; k <= 24; k++) {
        uint64_t p = UINT64_C(1) << k;
        if (p > 1) m &= kvbm__plh_parent_fragment_for_child_position(ones, p - 1);
        m &= kvbm__plh_parent_fragment_for_child_position(ones, p);
        m &= kvbm__plh_parent_fragment_for_child_position(ones, p + 1);
    }
    m &= kvbm__plh_parent_fragment_for_child_position(ones, KVBM_PLH_MAX_POSITION);
    return m;
}

/* The home slot (start of the probe run) of a key fragment, or of a hash's own key
 * (key_h32 needs only the fmask bits, which h.lo shares with the key fragment). */
static inline size_t lin_home(const lineage *g, uint64_t fragment)
{
    return (size_t)key_h32(g->fmask, fragment) & g->tab.mask;
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
    return kvbm__idx_find(&g->tab, key_h32(g->fmask, fragment), lin_key_eq, &k);
}

static inline uint32_t lin_find(const lineage *g, uint64_t position, uint64_t fragment)
{
    size_t slot = lin_find_slot(g, position, fragment);
    return slot == KVBM_IDX_NONE ? NIL : g->tab.slots[slot].val;
}

static inline uint64_t key_fragment(kvbm_plh h, uint64_t position)
{
    return kvbm__plh_parent_fragment_for_child_position(h, position + 1);
}

/* The position of h, its parent fragment (*@pfrag) and its key fragment (*@frag):
 * kvbm__plh_position_parent and key_fragment. Mode 0 (positions < 256: nearly every block
 * of a replay) is decoded with its widths as constants - the table entry folds - instead
 * of the table's variable shifts, and its child's mode is 0 or 1. */
static inline uint64_t lin_decode(kvbm_plh h, uint64_t *pfrag, uint64_t *frag)
{
    const struct kvbm__plh_mode *m0 = &kvbm__plh_modes[0];
    if (KVBM_LIKELY((h.hi >> KVBM__PLH_MODE_SHIFT) == 0)) {
        uint64_t pos = (h.hi >> m0->frag_bits) & kvbm__plh_mask(m0->pos_bits);
        *pfrag = h.hi & kvbm__plh_mask(m0->frag_bits);
        *frag = h.lo & (pos + 1 < m0->limit ? kvbm__plh_mask(m0->frag_bits)
                                             : kvbm__plh_mask(kvbm__plh_modes[1].frag_bits));
        kvbm__assert(pos == kvbm__plh_position(h) && *pfrag == kvbm__plh_parent_fragment(h) &&
                     *frag == key_fragment(h, pos));
        return pos;
    }
    uint64_t pos = kvbm__plh_position_parent(h, pfrag);
    *frag = key_fragment(h, pos);
    return pos;
}

/* The REAL node holding exactly h, or NIL. The node of key(h) is the only node that can
 * hold h (the key is a function of the hash), so scanning the probe run for a Real node
 * whose full hash equals h finds exactly what "look up key(h), require Real and equal full
 * hash" (§3.4.3) finds. */
static inline uint32_t lin_lookup(const lineage *g, kvbm_plh h)
{
    uint32_t h32 = key_h32(g->fmask, h.lo);
    const kvbm__idxtab *t = &g->tab;
    size_t i = (size_t)h32 & t->mask;
    for (;;) {
        const kvbm__idx_slot *s = &t->slots[i];
        if (s->val == KVBM_IDX_EMPTY) return NIL;
        if (s->h32 == h32) {
            const lin_node *n = &g->nodes[s->val];
            if (n->kind == NODE_REAL && kvbm_plh_eq(n->hash, h)) return s->val;
        }
        i = (i + 1) & t->mask;
    }
}

/* The index runs at load <= 1/8: Lineage announces LIN_IDX_SPREAD entries per cell to
 * index.h (which sizes for load <= 1/4 per announced entry). The insert's probes and the
 * recycling's backward-shift deletion then end at the home slot more often - fewer
 * mispredicted loop exits and fewer second lines. Measured (session 14, docs/perf/
 * backends.md): the lineage replay +5.5 % at 16384 and +7 % at 4096 in wall time, for 64-128 B
 * of index per cell instead of 32-64 B. */
#define LIN_IDX_SPREAD 2u

/* Make sure @need cells can be handed out without allocating. */
static kvbm_status lin_reserve(lineage *g, size_t need)
{
    size_t ncap = g->cap_cells * 2;
    if (ncap < g->used_cells + need) ncap = g->used_cells + need;
    if (ncap > (size_t)UINT32_MAX - 1) return KVBM_ERANGE;
    if (!kvbm__idx_has_room(&g->tab, ncap * LIN_IDX_SPREAD)) {
        KVBM_TRY(kvbm__idx_grow(&g->tab, ncap * LIN_IDX_SPREAD));
        g->rc_cell = NIL; /* homes moved */
    }
    lin_node *nn = kvbm__aligned_alloc(64, ncap * sizeof *nn);
    if (nn == NULL) return KVBM_ENOMEM;
    memcpy(nn, g->nodes, g->used_cells * sizeof *nn);
    kvbm__free(g->nodes);
    g->nodes = nn;
    kvbm__lp_rebase(&g->policy, (char *)nn + offsetof(lin_node, lp), ncap);
    g->cap_cells = ncap;
    return KVBM_OK;
}

/* @head: idx is the dormant list's head (a constant; no previous node to relink). */
static inline void lin_dormant_unlink(lineage *g, uint32_t idx, bool head)
{
    lin_node *n = &g->nodes[idx];
    uint32_t dn = DNEXT(n), dp = head ? NIL : DPREV(n);
    kvbm__assert(DPREV(n) == dp);
    if (dp != NIL) DNEXT(&g->nodes[dp]) = dn;
    else g->dhead = dn;
    if (dn != NIL) DPREV(&g->nodes[dn]) = dp;
    else g->dtail = dp;
    kvbm__lp_tick_set(&n->lp, KVBM__LP_TICK_NONE); /* the record's tick words again */
    g->dcount--;
}

/* A pruned (childless, detached) node becomes dormant: logically freed (§3.4.3), but it
 * keeps its key, its index entry and its old parent index (a hint) until the cell is
 * handed out again. Appended to the dormant list (oldest is recycled first). */
static inline void lin_make_dormant(lineage *g, uint32_t idx)
{
    lin_node *n = &g->nodes[idx];
    n->kind = NODE_DORMANT;
    DNEXT(n) = NIL;
    DPREV(n) = g->dtail;
    if (g->dtail != NIL) DNEXT(&g->nodes[g->dtail]) = idx;
    else g->dhead = idx;
    g->dtail = idx;
    g->dcount++;
}

/* A dormant node comes back as a fresh node of its own key (no parent link, no children;
 * already indexed). Returns its parent hint. */
static inline uint32_t lin_revive(lineage *g, uint32_t idx, uint8_t kind)
{
    lin_dormant_unlink(g, idx, false);
    lin_node *n = &g->nodes[idx];
    uint32_t hint = n->parent;
    n->kind = kind;
    n->parent = NIL;
    kvbm__assert(n->nchild == 0);
    return hint;
}

/* The index slot of handed-out cell @idx: its entry is in the probe run of its key's
 * digest (no back-pointers: keeping them current wrote to the node of every entry a
 * backward-shift deletion moved - a random, usually cold line). KVBM_IDX_NONE if the
 * entry is missing (a broken invariant; lin_check reports it). */
static inline size_t lin_slot_from(const lineage *g, uint32_t idx, size_t home)
{
    const kvbm__idxtab *t = &g->tab;
    size_t i = home;
    for (;;) {
        uint32_t v = t->slots[i].val;
        if (v == idx) return i;
        if (KVBM_UNLIKELY(v == KVBM_IDX_EMPTY)) return KVBM_IDX_NONE;
        i = (i + 1) & t->mask;
    }
}

static inline size_t lin_slot_of(const lineage *g, uint32_t idx)
{
    return lin_slot_from(g, idx, lin_home(g, g->nodes[idx].fragment));
}

/* Delete the index entry of handed-out cell @idx, found from its key's @home; returns the
 * slot the deletion left empty (kvbm__idx_del). Out of line: inside the insert the
 * branch-free steps of kvbm__idx_del_nobp spilled most of their registers. */
static __attribute__((noinline)) size_t lin_unindex(lineage *g, uint32_t idx, size_t home)
{
    return kvbm__idx_del_nobp(&g->tab, lin_slot_from(g, idx, home));
}

/* Hand out a cell for a node with key (position, fragment) of digest @h32 (key_h32), indexed
 * at @slot (the empty slot kvbm__idx_find_or_empty returned for the key, the table unchanged
 * since, or KVBM_IDX_NONE to probe for one). The oldest dormant node is recycled before the
 * slab's untouched cells are used (the reference's free list holds exactly the pruned
 * cells, so the slab high-water mark is the same). @pop (a constant): unlink the recycled
 * cell as the list's head, which it is - the insert_pairs code; the single insert keeps
 * the general unlink (with the pop gcc laid its general path out ~5 Ir per insert worse). */
static inline uint32_t lin_alloc(lineage *g, uint8_t kind, uint64_t position, uint64_t fragment,
                                 uint32_t h32, size_t slot, bool pop)
{
    kvbm__assert(h32 == key_h32(g->fmask, fragment));
    uint32_t idx;
    if (g->dhead != NIL) {
        idx = g->dhead;
        /* its home as computed when the previous recycling prefetched it: a cell's key
         * changes only here, and the index's size only in lin_reserve (which forgets it) */
        size_t home = idx == g->rc_cell ? g->rc_home : lin_home(g, g->nodes[idx].fragment);
        kvbm__assert(home == lin_home(g, g->nodes[idx].fragment));
        lin_dormant_unlink(g, idx, pop);
        size_t hole = lin_unindex(g, idx, home);
        if (slot != KVBM_IDX_NONE) slot = kvbm__idx_empty_after_del(&g->tab, h32, slot, hole);
        /* Recycling walks the dormant list oldest first: warm up the next cell's index
         * slot (its node was prefetched by the previous recycling), the last slot its
         * deletion's branch-free steps read (the next line when the home is one of its
         * line's last two slots: +2.5 % replay wall time at 16384) and the node after it.
         * Hints only; revivals in between just waste them. (A deeper pipeline - a front
         * LIN_RC_LEAD cells ahead - was slower: docs/perf/backends.md, session 14 round 2.) */
        uint32_t d1 = g->dhead;
        g->rc_cell = d1;
        if (d1 != NIL) {
            const lin_node *n1 = &g->nodes[d1];
            g->rc_home = lin_home(g, n1->fragment);
            __builtin_prefetch(&g->tab.slots[g->rc_home], 1, 3);
            __builtin_prefetch(&g->tab.slots[(g->rc_home + KVBM_IDX_DEL_STEPS) & g->tab.mask], 1, 3);
            if (DNEXT(n1) != NIL) __builtin_prefetch(&g->nodes[DNEXT(n1)], 1, 3);
        }
    } else {
        kvbm__assert(g->used_cells < g->cap_cells);
        idx = (uint32_t)g->used_cells++;
    }
    lin_node *n = &g->nodes[idx];
    n->kind = kind;
    n->hvalid = 0;
    n->position = (uint32_t)position;
    n->fragment = fragment;
    n->parent = NIL;
    kvbm__lp_rec_init(&n->lp);
    n->nchild = 0;
    if (slot == KVBM_IDX_NONE) kvbm__idx_put(&g->tab, h32, idx);
    else kvbm__idx_put_at(&g->tab, slot, h32, idx);
    return idx;
}

/* Link @child under @parent. */
static inline void lin_link_child(lineage *g, uint32_t parent, uint32_t child)
{
    g->nodes[child].parent = parent;
    g->nodes[parent].nchild++;
}

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
