/* src/backends/lineage_int.h - the Lineage inactive backend's graph (private to lineage.c).
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
#ifndef KVBM_BACKENDS_LINEAGE_INT_H
#define KVBM_BACKENDS_LINEAGE_INT_H

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

#endif /* KVBM_BACKENDS_LINEAGE_INT_H */
