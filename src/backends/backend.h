/* src/backends/backend.h - the inactive-pool backend interface (internal).
 *
 * A backend is a container of (seq_hash, block_id) pairs for the store's Inactive slots:
 * it decides which cached block is evicted next. It knows nothing about slot states, the
 * reset pool or handles.
 *
 * Rules, stated once: every op is called with the store lock held (standalone in tests);
 * ops must not call back into kvbm, block, or emit events. The only lock a backend may take
 * is the frequency tracker's (MultiLRU insert), a leaf. All lookups are *consuming*: a
 * found entry is removed (it is being resurrected). `touch` is accepted and ignored by
 * every shipped backend (frequency is counted at the registry/manager boundary).
 * No heap allocation per operation after construction, except where a backend documents
 * growth (Lineage ghost nodes beyond the pre-size).
 */
#ifndef KVBM_BACKEND_H
#define KVBM_BACKEND_H

#include "internal.h"
#include "kvbm/plh.h"
#include "kvbm/tracker.h"
#include "kvbm/config.h"

struct kvbm__touch_cells; /* tinylfu_int.h */

typedef struct kvbm__pair {
    kvbm_plh hash;
    uint32_t block_id;
} kvbm__pair;

typedef struct kvbm__inactive_ops {
    const char *name;
    /* Remove and return the entry for h. true if found (block id in *block_id). */
    bool   (*find_match)(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id);
    /* Walk hashes in order, remove+return hits into out, stop at the first miss. */
    size_t (*find_matches)(void *ctx, const kvbm_plh *hashes, size_t n, bool touch, kvbm__pair *out);
    /* Like find_matches but skip misses; output in input order of hits. */
    size_t (*scan_matches)(void *ctx, const kvbm_plh *hashes, size_t n, bool touch, kvbm__pair *out);
    /* Remove+return up to count pairs in eviction order. MUST return count when len >= count. */
    size_t (*allocate)(void *ctx, size_t count, kvbm__pair *out);
    /* Make (h, block_id) evictable. Caller guarantees neither is present. KVBM_OK, or an
     * error (KVBM_EFULL, KVBM_EINVAL duplicate/collision) that the store treats as an
     * invariant violation (poison). */
    kvbm_status (*insert)(void *ctx, kvbm_plh h, uint32_t block_id);
    size_t (*len)(void *ctx);
    /* Membership without side effects (no recency change). */
    bool   (*has)(void *ctx, kvbm_plh h);
    /* Remove only if exactly (h, block_id) is present. */
    bool   (*take)(void *ctx, kvbm_plh h, uint32_t block_id);
    /* Remove and return everything (out has room for len() pairs). */
    size_t (*allocate_all)(void *ctx, kvbm__pair *out);
    void   (*destroy)(void *ctx);
    /* Optional (may be NULL; only for backends with a `freq` tracker): insert with the
     * key's sketch cells already computed (tinylfu_int.h, kvbm__tracker_cells), so the
     * count needs no hashing. Same contract and result as insert. */
    kvbm_status (*insert_cells)(void *ctx, kvbm_plh h, uint32_t block_id,
                                const struct kvbm__touch_cells *cells);
    /* Optional (may be NULL): a hint that insert(h, ...) follows soon - the backend may
     * prefetch what that insert will look up. No state change. */
    void   (*prefetch_insert)(void *ctx, kvbm_plh h);
    /* Optional (may be NULL): O(n) structural self-check for tests and KVBM_DEBUG >= 3.
     * true when every internal invariant holds. */
    bool   (*check)(void *ctx);
    /* Optional pair (both or neither; backends that need no lookup by hash of their own).
     * by_id: switch an EMPTY backend to "driven by id" for the rest of its life (the block
     * store does so at creation: its own index then finds Inactive slots by hash). From
     * then on the backend keeps no hash index and no keys: insert/insert_cells only append
     * the id to the eviction order, allocate/allocate_all return the ids in eviction order
     * with the pairs' hashes unspecified (the caller's slots hold them), and the lookups by
     * hash (find_match, find_matches, scan_matches, has, take) always miss.
     * false (no state change) if the backend is not empty.
     * remove_id: remove the present entry of @block_id (a resurrection found by the
     * caller's index); false if @block_id is not present. No hashing, no probe.
     * has_id: membership of @block_id without side effects (the store's invariant check). */
    bool   (*by_id)(void *ctx);
    bool   (*remove_id)(void *ctx, uint32_t block_id);
    bool   (*has_id)(void *ctx, uint32_t block_id);
    /* Optional (may be NULL; only once driven by id, and only for a backend whose insert
     * needs no key at all - no sketch count): insert_ids(ids, n) does what n calls
     * insert(<unused hash>, ids[i]) would, in order, each with the same checks and error
     * message; a refused id is skipped and the rest are still inserted. Returns the number
     * inserted (n unless some were refused; kvbm_last_error() then names the last refusal).
     * The store's batch release appends a run of plain final releases with one call. */
    size_t (*insert_ids)(void *ctx, const uint32_t *ids, size_t n);
    /* Optional (may be NULL; only for a backend with its own hash index - not driven by
     * id - whose insert needs no sketch count, freq == NULL): insert_pairs(pairs, n) does
     * what n calls insert(pairs[i].hash, pairs[i].block_id) would, in order, each with the
     * same checks and error message; a refused pair is skipped and the rest are still
     * inserted. Returns the number inserted (n unless some were refused; kvbm_last_error()
     * then names the last refusal). The store's batch release hands over a run of plain
     * final releases with one call, so the backend can overlap the pairs' index misses
     * (Lineage prefetches a later pair's probe homes while it inserts the current one). */
    size_t (*insert_pairs)(void *ctx, const kvbm__pair *pairs, size_t n);
} kvbm__inactive_ops;

/* A constructed backend: ops table + its private context. */
typedef struct kvbm__inactive {
    const kvbm__inactive_ops *ops;
    void                    *ctx;
    kvbm_tracker            *freq;  /* borrowed: the tracker insert() counts with, else NULL */
} kvbm__inactive;

/* find_matches (stop_on_miss: end at the first miss) and scan_matches (skip misses) in
 * terms of a backend's find_match. Backends pass their own find_match as a constant, so it
 * inlines: one loop serves every backend. */
static inline size_t kvbm__inactive_walk(bool (*find_match)(void *, kvbm_plh, bool, uint32_t *),
                                         void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                                         bool stop_on_miss, kvbm__pair *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        if (!find_match(ctx, hashes[i], touch, &id)) {
            if (stop_on_miss) break;
            continue;
        }
        out[k].hash = hashes[i];
        out[k].block_id = id;
        k++;
    }
    return k;
}

/* Constructors. capacity = block_count (max entries / max block id + 1).
 * Return KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM, KVBM_ECONFIG (bad thresholds; message set). */
/* Each backend's largest capacity - one fact, checked by its create function and (through
 * kvbm_backend_max_block_count, backend.c) by the manager's configuration validation.
 * Lineage: 2 node ids per block below UINT32_MAX; the ring backends: KVBM_LRING_MAX_CAPACITY
 * (lazy_ring.h, 2^30: a ring of 2 x capacity ids). */
#define KVBM__LINEAGE_MAX_CAPACITY ((size_t)(UINT32_MAX - 1) / 2)
#define KVBM__RING_MAX_CAPACITY    ((size_t)1 << 30)
_Static_assert(KVBM__LINEAGE_MAX_CAPACITY == KVBM_MAX_BLOCK_COUNT, "KVBM_MAX_BLOCK_COUNT is the largest backend limit");

kvbm_status kvbm__lru_create(size_t capacity, kvbm__inactive *out);
kvbm_status kvbm__hashmap_create(size_t capacity, kvbm__inactive *out);      /* FIFO reuse */
kvbm_status kvbm__multi_lru_create(size_t capacity, const uint8_t thresholds[3],
                                   kvbm_tracker *tracker, kvbm__inactive *out); /* takes a tracker ref */
kvbm_status kvbm__lineage_create(size_t capacity, kvbm_lineage_eviction eviction, kvbm__inactive *out);

/* Convenience: build the backend a manager config asks for. */
kvbm_status kvbm__inactive_create(kvbm_backend kind, size_t capacity, kvbm_lineage_eviction ev,
                                  const uint8_t thresholds[3], kvbm_tracker *tracker,
                                  kvbm__inactive *out);

/* ---- backend-specific introspection (tests, benchmarks) ------------------------------ */

/* MultiLRU threshold validation of §3.3 (message set; KVBM_ECONFIG on failure). */
kvbm_status kvbm__multi_lru_validate(const uint8_t thresholds[3]);
/* Level (0..3) of h in a MultiLRU (0 for a plain LRU), -1 if absent or not an LRU, and
 * always -1 once driven by id (no keys kept); _of_id: the level of a present block id. */
int    kvbm__multi_lru_level_of(const kvbm__inactive *b, kvbm_plh h);
int    kvbm__multi_lru_level_of_id(const kvbm__inactive *b, uint32_t block_id);
size_t kvbm__multi_lru_level_len(const kvbm__inactive *b, unsigned level);
/* The index entry a (Multi)LRU block id owns (lru.c, "parked index entries"): true with
 * its slot and whether it is live (false: parked), false if the id owns none. The total
 * number of entries goes to *entries when not NULL. */
bool   kvbm__lru_entry_of(const kvbm__inactive *b, uint32_t block_id, size_t *slot, bool *live,
                          size_t *entries);

/* Lineage graph statistics. */
typedef struct kvbm__lineage_info {
    size_t real;        /* Real nodes (== len) */
    size_t ghosts;      /* Ghost nodes */
    size_t leaves;      /* Real leaves (== evictable set) */
    size_t slab_cells;  /* cells ever handed out (live + free list) */
    size_t slab_cap;    /* allocated cells */
    size_t index_slots; /* slots of the key index (>= 8 per allocated cell: load <= 1/8) */
} kvbm__lineage_info;
bool kvbm__lineage_stats(const kvbm__inactive *b, kvbm__lineage_info *out); /* false: not lineage */
/* The index digest of a lineage key (position, fragment) (tests). */
uint32_t kvbm__lineage_key_h32(uint64_t position, uint64_t fragment);

/* Leaf eviction order of the Lineage backend (§3.4.4), usable standalone by node index.
 * Tick: pairing heap of nodes keyed by tick; Fifo: intrusive list. One 20-byte record per
 * node, in an array the policy owns (standalone: grows with reserve) or embedded in the
 * owner's nodes (leaf_policy.h, kvbm__lp_init_embedded: the Lineage node holds its record,
 * so an order operation touches the node's own cache line). next_victim peeks (UINT32_MAX
 * when empty); the victim leaves the order through on_node_removed. */
typedef struct kvbm__tick_node {
    uint32_t tick_w[2];                  /* Tick: the tick, a uint64_t in two words (memcpy;
                                          * UINT64_MAX = none); 4-byte alignment keeps the
                                          * record 20 bytes. Free for the owner while the
                                          * node has no tick and is not in the order. */
    uint32_t child, next;                /* heap: first child, next sibling; Fifo: next */
    uint32_t prev;                       /* heap: previous sibling, or parent of a first
                                          * child, UINT32_MAX for the root; Fifo: previous;
                                          * UINT32_MAX-1 = not in the order */
} kvbm__tick_node;
typedef struct kvbm__leaf_policy {
    kvbm_lineage_eviction kind;
    size_t           cells;              /* records */
    char            *base;               /* record i at base + i * stride */
    size_t           stride;
    bool             owned;              /* base is the policy's array (standalone) */
    /* Tick */
    uint64_t         next_tick;
    uint32_t         root;               /* heap root (smallest tick) or UINT32_MAX */
    size_t           heap_len;
    /* Fifo */
    uint32_t         head, tail;
    size_t           fifo_len;
} kvbm__leaf_policy;
kvbm_status kvbm__leaf_policy_init(kvbm__leaf_policy *p, kvbm_lineage_eviction kind,
                                   size_t cells, size_t max_leaves);
void        kvbm__leaf_policy_fini(kvbm__leaf_policy *p);
kvbm_status kvbm__leaf_policy_reserve(kvbm__leaf_policy *p, size_t cells);
void        kvbm__leaf_policy_on_node_inserted(kvbm__leaf_policy *p, uint32_t idx);
kvbm_status kvbm__leaf_policy_on_leaf_added(kvbm__leaf_policy *p, uint32_t idx);
void        kvbm__leaf_policy_on_leaf_demoted(kvbm__leaf_policy *p, uint32_t idx);
void        kvbm__leaf_policy_on_node_removed(kvbm__leaf_policy *p, uint32_t idx);
uint32_t    kvbm__leaf_policy_next_victim(const kvbm__leaf_policy *p);
size_t      kvbm__leaf_policy_len(const kvbm__leaf_policy *p);
bool        kvbm__leaf_policy_contains(const kvbm__leaf_policy *p, uint32_t idx);
uint64_t    kvbm__leaf_policy_tick(const kvbm__leaf_policy *p, uint32_t idx);
bool        kvbm__leaf_policy_check(const kvbm__leaf_policy *p);

/* The FIFO reuse policy of the HashMap backend (§3.5), usable standalone.
 * insert of a present id: KVBM_EINVAL, "Block {id} already exists in free list" (the
 * reference panics "block already exists"); remove of an absent id: KVBM_ENOENT,
 * "Block {id} not found in free list". next_free pops the oldest insert. */
typedef struct kvbm__fifo_reuse kvbm__fifo_reuse;
kvbm_status kvbm__fifo_reuse_create(size_t capacity, kvbm__fifo_reuse **out);
void        kvbm__fifo_reuse_destroy(kvbm__fifo_reuse *f);
kvbm_status kvbm__fifo_reuse_insert(kvbm__fifo_reuse *f, uint32_t block_id, kvbm_plh h);
kvbm_status kvbm__fifo_reuse_remove(kvbm__fifo_reuse *f, uint32_t block_id);
bool        kvbm__fifo_reuse_next_free(kvbm__fifo_reuse *f, kvbm__pair *out);
size_t      kvbm__fifo_reuse_len(const kvbm__fifo_reuse *f);
/* Sequence number assigned to block_id at insert (UINT64_MAX if absent). */
uint64_t    kvbm__fifo_reuse_seq(const kvbm__fifo_reuse *f, uint32_t block_id);

static inline void kvbm__inactive_destroy(kvbm__inactive *b)
{
    if (b->ops != NULL && b->ops->destroy != NULL) b->ops->destroy(b->ctx);
    b->ops = NULL; b->ctx = NULL;
}

#endif /* KVBM_BACKEND_H */
