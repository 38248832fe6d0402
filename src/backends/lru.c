/* src/backends/lru.c - LRU and multi-level LRU inactive backends (10-core §3.2, §3.3).
 *
 * Both are one "queue map": an open-addressing index hash -> block id (index.h) plus, per
 * block id, a node {key, pos, slot, level}, and L insertion-ordered queues (L = 1 for LRU,
 * 4 for MultiLRU). Everything is allocated at construction for `capacity` block ids; no
 * operation allocates.
 *
 * Queues with lazy deletion (lazy_ring.h). Queue l is a ring of block ids; insert appends
 * and records the entry's counter in the node (pos); removing an entry from the middle (a
 * lookup resurrecting it, take) only marks the node absent, and its stale entry is skipped
 * when it reaches the head. An entry at counter c is live iff nodes[id].level == l and
 * nodes[id].pos == c. The order of live entries is exactly that of a doubly linked list,
 * but a victim walk reads the ring sequentially (the next ids are known without waiting
 * for a node), and removals and inserts never touch a neighbour's node. A full ring is
 * compacted in place (amortised O(1)).
 *
 *   nodes[id].level == LEVEL_ABSENT  <=>  id not in the backend
 *   queue[l]: head = least recent (next victim) ... tail = most recent
 *   len[l] = live entries of queue l; count = sum(len[l])
 *   tail - head <= ring size; live entries <= capacity <= ring size / 2
 *
 * Parked index entries. A lookup that resurrects a block (find_match, take) leaves the
 * block's index entry in place, "parked": the node keeps its key and slot, only its level
 * becomes ABSENT. The resurrected block usually comes back with the same hash, and that
 * insert revives the entry in place - no backward-shift delete, no probe, no index line
 * touched (the match/release cycle of a cached prefix). An eviction deletes its victim's
 * entry; an insert of another hash first deletes the id's parked entry, and an insert that
 * finds a parked entry of its hash under another id takes that entry over. Hence:
 *   nodes[id].slot != NO_SLOT  <=>  id owns exactly one index entry, at that slot, under
 *                                   nodes[id].key (live if level != ABSENT, else parked)
 *   every live id owns an entry; a hash has at most one entry; index.count = live + parked
 *   <= capacity (the index keeps its load <= 1/2). Lookups treat parked entries as misses.
 *
 * LRU: nothing refreshes recency while an entry is inactive, so the order is really FIFO
 * over insertion (= release) time (§9.2). `insert` on a full LRU returns KVBM_EFULL (the
 * reference panics "LRU backend insert would cause eviction!").
 *
 * MultiLRU: four levels 0 cold .. 3 very hot, each able to hold every block (a block id is
 * in at most one level, so sharing one index and one node array is exact). The level is
 * chosen once, at insert, from the frequency tracker's count f: 0 if f < t1, 1 if f < t2,
 * 2 if f < t3, else 3. Victims come from the least recent entry of the lowest non-empty
 * level. `count()` is the tracker's lock-free read, done while the store lock is held.
 *
 * Driven by id (by_id, the block store's mode): no index and no keys. A node is its 8-byte
 * hot part (pos, level: `lru_hot`, in an array of its own), allocate returns the victims'
 * ids only (the caller's slots hold their hashes), and the parked-entry rules above are
 * void (no entries).
 *
 * Memory per block: 32 B node + 4 index slots x 8 B (load <= 1/4, KVBM_IDX_SLOTS_PER_ENTRY, power
 * of two: 32-64 B) + ring entries (2-4 x 4 B per level: 8-16 B for LRU, 32-64 B for
 * MultiLRU's four rings) = 72-112 B (LRU), 96-160 B (MultiLRU); driven by id 8 B + the
 * rings: 16-24 B (LRU), 40-72 B (MultiLRU). insert, find, take, has: O(1) (insert amortised:
 * compaction); allocate: O(1) amortised per victim (stale entries are skipped once each).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/index.h"
#include "backends/lazy_ring.h"
#include "tinylfu/tinylfu_int.h"

#define LEVEL_ABSENT 0xFFu
#define NIL          UINT32_MAX
#define MAX_LEVELS   4
#define NO_SLOT      UINT32_MAX

/* Per block id: the part every mode uses (the ring entry's liveness), ... */
typedef struct lru_hot {
    uint32_t pos;   /* ring counter of the live entry (valid while level != ABSENT) */
    uint8_t  level;
} lru_hot;

/* ... and, indexed by hash only, the key and the index back-pointer. A backend driven by
 * id keeps no keys (the store's slots have them): its per-id array is lru_hot alone, 8 B
 * instead of 32 (at 16384 blocks 128 KiB instead of 512 KiB of randomly touched lines). */
typedef struct lru_node {
    lru_hot  h;
    uint32_t slot;  /* index slot (back-pointer maintained by index.h), NO_SLOT if none */
    kvbm_plh key;
} lru_node;
_Static_assert(sizeof(lru_hot) == 8 && sizeof(lru_node) == 32, "lru node layout");

typedef struct lru_queue {
    kvbm__lring ring;         /* block ids, lazy deletion (lazy_ring.h) */
    size_t     len;          /* live entries */
} lru_queue;

typedef struct lru_map {
    kvbm__idxtab   tab;
    char         *hot;       /* lru_hot of block id i at hot + (i << hshift): inside nodes[i]
                                (indexed), or an array of lru_hot (by id) */
    unsigned      hshift;    /* 5 (indexed: stride 32) or 3 (by id: stride 8) */
    lru_node     *nodes;     /* indexed by block id, [capacity]; NULL once driven by id */
    size_t        capacity;
    size_t        count;
    lru_queue     q[MAX_LEVELS];
    unsigned      nlevels;
    uint8_t       thr[3];
    kvbm_tracker *tracker;   /* MultiLRU only (one reference) */
    bool          byid;      /* driven by id (by_id op): no index entries, lookups miss */
} lru_map;

static inline lru_hot *lru_h(const lru_map *m, uint32_t id)
{
    return (lru_hot *)(void *)(m->hot + ((size_t)id << m->hshift));
}

typedef struct lru_key_ctx {
    const lru_map *m;
    uint64_t       hi, lo;
} lru_key_ctx;

static bool lru_key_eq(const void *ctx, uint32_t val)
{
    const lru_key_ctx *k = ctx;
    const kvbm_plh *s = &k->m->nodes[val].key;
    return s->lo == k->lo && s->hi == k->hi;
}

/* Slot of h's entry, live or parked, or KVBM_IDX_NONE. */
static inline size_t lru_find_entry(const lru_map *m, kvbm_plh h, uint32_t h32)
{
    lru_key_ctx k = { m, h.hi, h.lo };
    return kvbm__idx_find(&m->tab, h32, lru_key_eq, &k);
}

/* Slot of h's live entry, or KVBM_IDX_NONE (a parked entry is a miss). */
static inline size_t lru_find_slot(const lru_map *m, kvbm_plh h, uint32_t h32)
{
    size_t slot = lru_find_entry(m, h, h32);
    if (slot != KVBM_IDX_NONE && lru_h(m, m->tab.slots[slot].val)->level == LEVEL_ABSENT)
        return KVBM_IDX_NONE;
    return slot;
}

/* Queue l's ring liveness and pos update (lazy_ring.h callbacks; ctx = struct lru_level). */
struct lru_level { lru_map *m; unsigned l; };

static inline bool entry_live(const lru_map *m, unsigned l, uint32_t c, uint32_t id)
{
    const lru_hot *n = lru_h(m, id);
    return n->level == l && n->pos == c;
}

static bool level_live(const void *ctx, uint32_t c, uint32_t id)
{
    const struct lru_level *lv = ctx;
    return entry_live(lv->m, lv->l, c, id);
}

static void level_move(void *ctx, uint32_t id, uint32_t c)
{
    lru_h(((struct lru_level *)ctx)->m, id)->pos = c;
}

static __attribute__((noinline)) void queue_compact(lru_map *m, unsigned l)
{
    struct lru_level lv = { m, l };
    kvbm__lring_compact(&m->q[l].ring, level_live, level_move, &lv);
    kvbm__assert(kvbm__lring_span(&m->q[l].ring) == m->q[l].len);
}

/* Append id, whose node is @n, to queue l. */
static inline void queue_push_n(lru_map *m, unsigned l, uint32_t id, lru_hot *n)
{
    lru_queue *q = &m->q[l];
    if (KVBM_UNLIKELY(kvbm__lring_full(&q->ring))) queue_compact(m, l);
    n->pos = kvbm__lring_push(&q->ring, id);
    n->level = (uint8_t)l;
    q->len++;
}

static inline void queue_push(lru_map *m, unsigned l, uint32_t id)
{
    queue_push_n(m, l, id, lru_h(m, id));
}

/* Mark block id (present) absent: its ring entry goes stale, its index entry (if the
 * caller keeps it) is parked. */
static inline void lru_mark_absent(lru_map *m, uint32_t id)
{
    lru_hot *n = lru_h(m, id);
    m->q[n->level].len--;
    n->level = LEVEL_ABSENT;
    m->count--;
}

/* Remove block id (present) by lookup, parking its index entry (kvbm__lring_drop: an entry
 * at either end of its ring leaves it, one in the middle goes stale). */
static inline void lru_remove(lru_map *m, uint32_t id)
{
    const lru_hot *n = lru_h(m, id);
    kvbm__lring_drop(&m->q[n->level].ring, n->pos);
    lru_mark_absent(m, id);
}

/* Delete id's index entry (in @slot). */
static inline void lru_unindex(lru_map *m, size_t slot, uint32_t id)
{
    kvbm__idx_del(&m->tab, slot);
    m->nodes[id].slot = NO_SLOT;
}

static bool lru_find_match(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id)
{
    lru_map *m = ctx;
    KVBM_UNUSED(touch);
    uint32_t h32 = kvbm__idx_plh_h32(h);
    size_t slot = lru_find_slot(m, h, h32);
    if (slot == KVBM_IDX_NONE) return false;
    uint32_t id = m->tab.slots[slot].val;
    lru_remove(m, id);
    *block_id = id;
    return true;
}

static size_t lru_find_matches(void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                               kvbm__pair *out)
{
    return kvbm__inactive_walk(lru_find_match, ctx, hashes, n, touch, true, out);
}

static size_t lru_scan_matches(void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                               kvbm__pair *out)
{
    return kvbm__inactive_walk(lru_find_match, ctx, hashes, n, touch, false, out);
}

/* Two passes: first walk the rings (least recent first, level by level: exactly the
 * sequence of head pops, since removing the head never reorders the rest), skipping stale
 * entries and prefetching each victim's index slot; then remove the victims in that order.
 * Ring reads are sequential and the node loads independent of each other, so the misses of
 * the whole batch overlap instead of forming a chain. Every entry the walk passed is a
 * victim or stale, so each walked level's head moves to where its walk stopped. */
static size_t lru_allocate_indexed(lru_map *m, size_t count, kvbm__pair *out)
{
    size_t k = 0;
    uint32_t stop[MAX_LEVELS];
    unsigned walked = 0;
    for (unsigned l = 0; l < m->nlevels && k < count; l++) {
        const kvbm__lring *r = &m->q[l].ring;
        uint32_t c = r->head;
        while (k < count && c != r->tail) {
            uint32_t id = kvbm__lring_at(r, c);
            if (entry_live(m, l, c, id)) {
                __builtin_prefetch(&m->tab.slots[m->nodes[id].slot], 1, 3);
                out[k++].block_id = id;
            }
            c++;
        }
        stop[l] = c;
        walked = l + 1;
    }
    for (size_t j = 0; j < k; j++) {
        uint32_t v = out[j].block_id;
        lru_mark_absent(m, v);
        lru_node *n = &m->nodes[v];
        size_t slot = n->slot; /* current: earlier deletes may have shifted it */
        kvbm__assert(m->tab.slots[slot].val == v);
        lru_unindex(m, slot, v);
        out[j].hash = n->key;
    }
    for (unsigned l = 0; l < walked; l++) m->q[l].ring.head = stop[l];
    return k;
}

/* Driven by id: the same walk in one pass - a victim is marked absent where it is found
 * (a later entry of the same id in the ring is stale anyway), no index, no key (the pairs'
 * hashes are left to the caller). */
static size_t lru_allocate_by_id(lru_map *m, size_t count, kvbm__pair *out)
{
    lru_hot *hot = (lru_hot *)(void *)m->hot;
    size_t k = 0;
    for (unsigned l = 0; l < m->nlevels && k < count; l++) {
        kvbm__lring *r = &m->q[l].ring;
        size_t k0 = k;
        uint32_t c = r->head;
        while (k < count && c != r->tail) {
            uint32_t id = kvbm__lring_at(r, c);
            lru_hot *n = &hot[id];
            if (n->level == l && n->pos == c) {
                n->level = LEVEL_ABSENT;
                out[k++].block_id = id;
            }
            c++;
        }
        r->head = c;
        m->q[l].len -= k - k0;
    }
    m->count -= k;
    return k;
}

static size_t lru_allocate(void *ctx, size_t count, kvbm__pair *out)
{
    lru_map *m = ctx;
    return m->byid ? lru_allocate_by_id(m, count, out) : lru_allocate_indexed(m, count, out);
}

static size_t lru_allocate_all(void *ctx, kvbm__pair *out)
{
    lru_map *m = ctx;
    return lru_allocate(ctx, m->count, out);
}

static inline unsigned multi_level_for(const lru_map *m, uint32_t f)
{
    if (f < m->thr[0]) return 0;
    if (f < m->thr[1]) return 1;
    if (f < m->thr[2]) return 2;
    return 3;
}

static __attribute__((noinline, cold)) kvbm_status lru_insert_error(lru_map *m, uint32_t block_id)
{
    if (m->count >= m->capacity) {
        kvbm__set_error("LRU backend insert would cause eviction! len=%zu capacity=%zu",
                        m->count, m->capacity);
        return KVBM_EFULL;
    }
    if (block_id >= m->capacity) {
        kvbm__set_error("block id %u out of range (capacity %zu)", block_id, m->capacity);
        return KVBM_EINVAL;
    }
    kvbm__set_error("block %u already in the inactive backend", block_id);
    return KVBM_EINVAL;
}

/* insert, with the key's sketch cells when the caller has them (@cells, MultiLRU only). */
static inline kvbm_status lru_insert_with(void *ctx, kvbm_plh h, uint32_t block_id,
                                          const kvbm__touch_cells *cells)
{
    lru_map *m = ctx;
    if (KVBM_UNLIKELY(m->count >= m->capacity || block_id >= m->capacity ||
                      lru_h(m, block_id)->level != LEVEL_ABSENT))
        return lru_insert_error(m, block_id);
    /* by id: no key kept (the caller's index guarantees h is not present) */
    lru_node *n = m->byid ? NULL : &m->nodes[block_id];
    /* the id's parked entry under h: it is h's only entry, revive it in place */
    if (n != NULL && !(n->slot != NO_SLOT && kvbm_plh_eq(n->key, h))) {
        if (n->slot != NO_SLOT) lru_unindex(m, n->slot, block_id); /* parked under another hash */
        uint32_t h32 = kvbm__idx_plh_h32(h);
        lru_key_ctx kc = { m, h.hi, h.lo };
        size_t slot;
        if (KVBM_UNLIKELY(kvbm__idx_find_or_empty(&m->tab, h32, lru_key_eq, &kc, &slot))) {
            uint32_t other = m->tab.slots[slot].val;
            if (lru_h(m, other)->level != LEVEL_ABSENT) {
                kvbm__set_error("sequence hash already in the inactive backend (block %u)", block_id);
                return KVBM_EINVAL;
            }
            /* parked under another id: the entry changes owner */
            m->nodes[other].slot = NO_SLOT;
            m->tab.slots[slot].val = block_id;
            n->slot = (uint32_t)slot;
        } else {
            kvbm__idx_put_at(&m->tab, slot, h32, block_id);
        }
        kvbm__plh_store(&n->key, h);
    }
    unsigned level = 0;
    if (m->nlevels > 1)
        level = multi_level_for(m, cells != NULL ? kvbm__tracker_count_cells(m->tracker, h, cells)
                                                 : kvbm_tracker_count(m->tracker, h));
    queue_push(m, level, block_id);
    m->count++;
    return KVBM_OK;
}

static __attribute__((noinline)) kvbm_status lru_insert_indexed(void *ctx, kvbm_plh h, uint32_t block_id)
{
    return lru_insert_with(ctx, h, block_id, NULL);
}

/* A plain LRU driven by id (the replay's and the store's common case) appends the id and
 * nothing else: no index, no key, no parked entry, no level. A leaf (the index path is a
 * tail call), so the release loop's insert costs no frame. Same checks and errors as
 * lru_insert_with. */
static kvbm_status lru_insert(void *ctx, kvbm_plh h, uint32_t block_id)
{
    lru_map *m = ctx;
    if (!m->byid || m->nlevels != 1) return lru_insert_indexed(ctx, h, block_id);
    lru_hot *n = (lru_hot *)(void *)m->hot + block_id; /* by id: an array of lru_hot */
    if (KVBM_UNLIKELY(m->count >= m->capacity || block_id >= m->capacity ||
                      n->level != LEVEL_ABSENT))
        return lru_insert_error(m, block_id);
    queue_push_n(m, 0, block_id, n); /* the caller's index guarantees h is new */
    m->count++;
    return KVBM_OK;
}

/* insert_ids (backend.h): lru_insert's by-id leaf for a run of ids, with the ring's
 * counters in locals (the lru_hot stores would otherwise make the compiler reload them
 * for every id). A single-level map driven by id only (lru_ops). */
static size_t lru_insert_ids(void *ctx, const uint32_t *ids, size_t n)
{
    lru_map *m = ctx;
    if (KVBM_UNLIKELY(!m->byid || m->nlevels != 1)) {
        kvbm__set_error("insert_ids needs a single-level LRU driven by id");
        return 0;
    }
    lru_hot *hot = (lru_hot *)(void *)m->hot;
    lru_queue *q = &m->q[0];
    const size_t cap = m->capacity;
    const size_t count0 = m->count;
    size_t count = count0, synced = count0; /* q->len includes the pushes up to `synced` */
    uint32_t *ring = q->ring.ids, mask = q->ring.mask, head = q->ring.head, tail = q->ring.tail;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        if (KVBM_UNLIKELY(count >= cap || id >= cap || hot[id].level != LEVEL_ABSENT)) {
            m->count = count;
            (void)lru_insert_error(m, id);
            continue;
        }
        if (KVBM_UNLIKELY(tail - head > mask)) { /* kvbm__lring_full: compact (cold) */
            q->ring.tail = tail;
            q->len += count - synced;
            synced = count;
            m->count = count;
            queue_compact(m, 0);
            head = q->ring.head;
            tail = q->ring.tail;
        }
        ring[tail & mask] = id; /* kvbm__lring_push */
        hot[id].pos = tail++;
        hot[id].level = 0;
        count++;
    }
    q->ring.tail = tail;
    q->len += count - synced;
    m->count = count;
    return count - count0;
}

static kvbm_status lru_insert_cells(void *ctx, kvbm_plh h, uint32_t block_id,
                                    const kvbm__touch_cells *cells)
{
    return lru_insert_with(ctx, h, block_id, cells);
}

static size_t lru_len(void *ctx) { return ((lru_map *)ctx)->count; }

static bool lru_has(void *ctx, kvbm_plh h)
{
    lru_map *m = ctx;
    return lru_find_slot(m, h, kvbm__idx_plh_h32(h)) != KVBM_IDX_NONE;
}

static bool lru_take(void *ctx, kvbm_plh h, uint32_t block_id)
{
    lru_map *m = ctx;
    size_t slot = lru_find_slot(m, h, kvbm__idx_plh_h32(h));
    if (slot == KVBM_IDX_NONE || m->tab.slots[slot].val != block_id) return false;
    lru_remove(m, block_id);
    return true;
}

/* Driven by id: the (empty) index is replaced by a minimal one that stays empty. */
static bool lru_by_id(void *ctx)
{
    lru_map *m = ctx;
    if (m->count != 0 || m->tab.count != 0) return false;
    kvbm__idxtab t;
    if (kvbm__idx_init(&t, 1) != KVBM_OK) return false; /* keeps working with its index */
    lru_hot *hot = kvbm__malloc(m->capacity * sizeof *hot);
    if (hot == NULL) {
        kvbm__idx_fini(&t);
        return false;
    }
    for (size_t i = 0; i < m->capacity; i++) {
        hot[i].pos = 0;
        hot[i].level = LEVEL_ABSENT;
    }
    kvbm__idx_fini(&m->tab);
    m->tab = t; /* (no back-pointers: it stays empty) */
    kvbm__free(m->nodes);
    m->nodes = NULL;
    m->hot = (char *)hot;
    m->hshift = 3;
    m->byid = true;
    return true;
}

static bool lru_remove_id(void *ctx, uint32_t block_id)
{
    lru_map *m = ctx;
    if (block_id >= m->capacity || lru_h(m, block_id)->level == LEVEL_ABSENT) return false;
    lru_remove(m, block_id);
    return true;
}

static bool lru_has_id(void *ctx, uint32_t block_id)
{
    lru_map *m = ctx;
    return block_id < m->capacity && lru_h(m, block_id)->level != LEVEL_ABSENT;
}

static void lru_destroy(void *ctx)
{
    lru_map *m = ctx;
    if (m == NULL) return;
    kvbm__idx_fini(&m->tab);
    for (unsigned l = 0; l < MAX_LEVELS; l++) kvbm__lring_fini(&m->q[l].ring);
    if (m->nodes == NULL) kvbm__free(m->hot); /* by id: its own array */
    kvbm__free(m->nodes);
    kvbm_tracker_release(m->tracker);
    kvbm__free(m);
}

/* O(n) structural check: rings, levels, index and counts agree. */
static bool lru_check(void *ctx)
{
    lru_map *m = ctx;
    size_t total = 0;
    for (unsigned l = 0; l < m->nlevels; l++) {
        const lru_queue *q = &m->q[l];
        if (kvbm__lring_span(&q->ring) > q->ring.mask + 1u) return false;
        size_t n = 0;
        for (uint32_t c = q->ring.head; c != q->ring.tail; c++) {
            uint32_t id = kvbm__lring_at(&q->ring, c);
            if (id >= m->capacity) return false;
            if (!entry_live(m, l, c, id)) continue;
            if (++n > m->capacity) return false;
            if (m->byid) continue;
            kvbm_plh h = m->nodes[id].key;
            size_t slot = lru_find_slot(m, h, kvbm__idx_plh_h32(h));
            if (slot == KVBM_IDX_NONE || m->tab.slots[slot].val != id) return false;
            if (kvbm__idx_slot_of(&m->tab, id) != slot) return false;
        }
        if (n != q->len) return false;
        total += n;
    }
    if (total != m->count) return false;
    size_t present = 0, indexed = 0;
    for (size_t id = 0; id < m->capacity; id++) {
        const lru_node *nd = m->byid ? NULL : &m->nodes[id];
        if (nd != NULL && nd->slot != NO_SLOT) {
            /* the entry at slot names id, and is the one a lookup of id's key finds */
            if (nd->slot > m->tab.mask || m->tab.slots[nd->slot].val != id) return false;
            if (lru_find_entry(m, nd->key, kvbm__idx_plh_h32(nd->key)) != nd->slot) return false;
            indexed++;
        }
        const lru_hot *ht = lru_h(m, (uint32_t)id);
        if (ht->level == LEVEL_ABSENT) continue;
        if (nd != NULL && nd->slot == NO_SLOT) return false;
        if (ht->level >= m->nlevels) return false;
        const kvbm__lring *r = &m->q[ht->level].ring;
        /* the node's entry lies in its ring's window and names it */
        if (!kvbm__lring_in_window(r, ht->pos) || kvbm__lring_at(r, ht->pos) != id) return false;
        present++;
    }
    return present == m->count && indexed == m->tab.count;
}

static const kvbm__inactive_ops lru_ops = {
    .name = "lru",
    .find_match = lru_find_match,
    .find_matches = lru_find_matches,
    .scan_matches = lru_scan_matches,
    .allocate = lru_allocate,
    .insert = lru_insert,
    .len = lru_len,
    .has = lru_has,
    .take = lru_take,
    .allocate_all = lru_allocate_all,
    .destroy = lru_destroy,
    .check = lru_check,
    .by_id = lru_by_id,
    .remove_id = lru_remove_id,
    .has_id = lru_has_id,
    .insert_ids = lru_insert_ids,
};

static const kvbm__inactive_ops multi_lru_ops = {
    .name = "multi-lru",
    .find_match = lru_find_match,
    .find_matches = lru_find_matches,
    .scan_matches = lru_scan_matches,
    .allocate = lru_allocate,
    .insert = lru_insert,
    .insert_cells = lru_insert_cells,
    .len = lru_len,
    .has = lru_has,
    .take = lru_take,
    .allocate_all = lru_allocate_all,
    .destroy = lru_destroy,
    .check = lru_check,
    .by_id = lru_by_id,
    .remove_id = lru_remove_id,
    .has_id = lru_has_id,
};

static kvbm_status lru_map_create(size_t capacity, unsigned nlevels, lru_map **out)
{
    if (capacity == 0 || capacity > KVBM_LRING_MAX_CAPACITY) {
        kvbm__set_error("backend capacity must be in 1..%u, got %zu", KVBM_LRING_MAX_CAPACITY, capacity);
        return KVBM_EINVAL;
    }
    lru_map *m = kvbm__calloc(1, sizeof *m);
    if (m == NULL) return KVBM_ENOMEM;
    m->nodes = kvbm__malloc(capacity * sizeof *m->nodes);
    kvbm_status st = m->nodes == NULL ? KVBM_ENOMEM : kvbm__idx_init(&m->tab, capacity);
    for (unsigned l = 0; l < nlevels && st == KVBM_OK; l++) st = kvbm__lring_init(&m->q[l].ring, capacity);
    if (st != KVBM_OK) {
        for (unsigned l = 0; l < nlevels; l++) kvbm__lring_fini(&m->q[l].ring);
        if (m->nodes != NULL) kvbm__idx_fini(&m->tab);
        kvbm__free(m->nodes);
        kvbm__free(m);
        return st;
    }
    for (size_t i = 0; i < capacity; i++) {
        m->nodes[i].h.pos = 0;
        m->nodes[i].h.level = LEVEL_ABSENT;
        m->nodes[i].slot = NO_SLOT;
    }
    m->hot = (char *)m->nodes;
    m->hshift = 5;
    m->tab.where_base = (char *)&m->nodes[0].slot;
    m->tab.where_stride = sizeof *m->nodes;
    m->capacity = capacity;
    m->nlevels = nlevels;
    *out = m;
    return KVBM_OK;
}

kvbm_status kvbm__lru_create(size_t capacity, kvbm__inactive *out)
{
    if (out == NULL) return KVBM_EINVAL;
    lru_map *m;
    KVBM_TRY(lru_map_create(capacity, 1, &m));
    out->ops = &lru_ops;
    out->ctx = m;
    out->freq = NULL;
    return KVBM_OK;
}

kvbm_status kvbm__multi_lru_validate(const uint8_t t[3])
{
    if (!(t[0] < t[1] && t[1] < t[2])) {
        kvbm__set_error("Thresholds must be in ascending order: %u < %u < %u failed",
                        (unsigned)t[0], (unsigned)t[1], (unsigned)t[2]);
        return KVBM_ECONFIG;
    }
    if (t[2] > 15) {
        kvbm__set_error("Maximum threshold cannot exceed 15 (4-bit counter limit), got: %u",
                        (unsigned)t[2]);
        return KVBM_ECONFIG;
    }
    if (t[0] < 1) {
        kvbm__set_error("Cold threshold must be >= 1 to distinguish from never-accessed "
                        "blocks, got: %u", (unsigned)t[0]);
        return KVBM_ECONFIG;
    }
    return KVBM_OK;
}

kvbm_status kvbm__multi_lru_create(size_t capacity, const uint8_t thresholds[3],
                                   kvbm_tracker *tracker, kvbm__inactive *out)
{
    static const uint8_t defaults[3] = { 3, 8, 15 };
    if (out == NULL) return KVBM_EINVAL;
    if (tracker == NULL) {
        kvbm__set_error("MultiLRU backend requires a registry with frequency tracking");
        return KVBM_ECONFIG;
    }
    const uint8_t *t = thresholds != NULL ? thresholds : defaults;
    KVBM_TRY(kvbm__multi_lru_validate(t));
    lru_map *m;
    KVBM_TRY(lru_map_create(capacity, MAX_LEVELS, &m));
    memcpy(m->thr, t, 3);
    m->tracker = kvbm_tracker_clone(tracker);
    out->ops = &multi_lru_ops;
    out->ctx = m;
    out->freq = m->tracker;
    return KVBM_OK;
}

int kvbm__multi_lru_level_of(const kvbm__inactive *b, kvbm_plh h)
{
    if (b->ops != &multi_lru_ops && b->ops != &lru_ops) return -1;
    const lru_map *m = b->ctx;
    if (m->byid) return -1; /* no keys: kvbm__multi_lru_level_of_id */
    size_t slot = lru_find_slot(m, h, kvbm__idx_plh_h32(h));
    if (slot == KVBM_IDX_NONE) return -1;
    return lru_h(m, m->tab.slots[slot].val)->level;
}

int kvbm__multi_lru_level_of_id(const kvbm__inactive *b, uint32_t block_id)
{
    if (b->ops != &multi_lru_ops && b->ops != &lru_ops) return -1;
    const lru_map *m = b->ctx;
    if (block_id >= m->capacity || lru_h(m, block_id)->level == LEVEL_ABSENT) return -1;
    return lru_h(m, block_id)->level;
}

size_t kvbm__multi_lru_level_len(const kvbm__inactive *b, unsigned level)
{
    if (b->ops != &multi_lru_ops && b->ops != &lru_ops) return 0;
    const lru_map *m = b->ctx;
    return level < m->nlevels ? m->q[level].len : 0;
}

bool kvbm__lru_entry_of(const kvbm__inactive *b, uint32_t block_id, size_t *slot, bool *live,
                        size_t *entries)
{
    if (b->ops != &multi_lru_ops && b->ops != &lru_ops) return false;
    const lru_map *m = b->ctx;
    if (entries != NULL) *entries = m->tab.count;
    if (m->byid || block_id >= m->capacity || m->nodes[block_id].slot == NO_SLOT) return false;
    if (slot != NULL) *slot = m->nodes[block_id].slot;
    if (live != NULL) *live = lru_h(m, block_id)->level != LEVEL_ABSENT;
    return true;
}
