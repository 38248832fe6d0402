/* src/backends/lru.c - LRU and multi-level LRU inactive backends (10-core §3.2, §3.3).
 *
 * Both are one "list map": an open-addressing index hash -> block id (index.h) plus, per
 * block id, a node {key, prev, next, level} threaded on one of L recency lists (L = 1 for
 * LRU, 4 for MultiLRU). Everything is allocated at construction for `capacity` block ids;
 * no operation allocates.
 *
 *   nodes[id].level == LEVEL_ABSENT  <=>  id not in the backend
 *   list[l]: head = least recent (next victim) ... tail = most recent
 *   count = sum(len[l]) = index.count
 *
 * LRU: nothing refreshes recency while an entry is inactive, so the order is really FIFO
 * over insertion (= release) time (§9.2). `insert` on a full LRU returns KVBM_EFULL (the
 * reference panics "LRU backend insert would cause eviction!").
 *
 * MultiLRU: four levels 0 cold .. 3 very hot, each able to hold every block (a block id is
 * in at most one level, so sharing one index and one node array is exact). The level is
 * chosen once, at insert, from the frequency tracker's count f: 0 if f < t1, 1 if f < t2,
 * 2 if f < t3, else 3. Victims come from the least recent entry of the lowest non-empty
 * level. `count()` takes the tracker's (leaf) mutex while the store lock is held.
 *
 * Memory per block: 32 B node + 2 index slots x 8 B (load <= 1/2, power of two: 16-32 B)
 * = 48-64 B, for LRU and MultiLRU alike. Every operation is O(1) (MultiLRU victim search
 * looks at <= 4 list heads).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/index.h"

#define LEVEL_ABSENT 0xFFu
#define NIL          UINT32_MAX
#define MAX_LEVELS   4

typedef struct lru_node {
    kvbm_plh key;
    uint32_t prev, next;
    uint32_t slot;  /* index slot (back-pointer maintained by index.h) */
    uint8_t  level;
} lru_node;

typedef struct lru_map {
    kvbm_idxtab   tab;
    lru_node     *nodes;     /* indexed by block id, [capacity] */
    size_t        capacity;
    size_t        count;
    uint32_t      head[MAX_LEVELS], tail[MAX_LEVELS];
    size_t        len[MAX_LEVELS];
    unsigned      nlevels;
    uint8_t       thr[3];
    kvbm_tracker *tracker;   /* MultiLRU only (one reference) */
} lru_map;

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

static inline size_t lru_find_slot(const lru_map *m, kvbm_plh h, uint32_t h32)
{
    lru_key_ctx k = { m, h.hi, h.lo };
    return kvbm__idx_find(&m->tab, h32, lru_key_eq, &k);
}

static inline void list_push_tail(lru_map *m, unsigned l, uint32_t id)
{
    lru_node *n = &m->nodes[id];
    n->level = (uint8_t)l;
    n->next  = NIL;
    n->prev  = m->tail[l];
    if (m->tail[l] != NIL) m->nodes[m->tail[l]].next = id;
    else m->head[l] = id;
    m->tail[l] = id;
    m->len[l]++;
}

static inline void list_unlink(lru_map *m, uint32_t id)
{
    lru_node *n = &m->nodes[id];
    unsigned l = n->level;
    if (n->prev != NIL) m->nodes[n->prev].next = n->next;
    else m->head[l] = n->next;
    if (n->next != NIL) m->nodes[n->next].prev = n->prev;
    else m->tail[l] = n->prev;
    m->len[l]--;
    n->level = LEVEL_ABSENT;
}

/* Remove block id (present, in index slot @slot). */
static inline void lru_remove(lru_map *m, size_t slot, uint32_t id)
{
    kvbm__idx_del(&m->tab, slot);
    list_unlink(m, id);
    m->count--;
}

static bool lru_find_match(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id)
{
    lru_map *m = ctx;
    KVBM_UNUSED(touch);
    uint32_t h32 = kvbm__idx_plh_h32(h);
    size_t slot = lru_find_slot(m, h, h32);
    if (slot == KVBM_IDX_NONE) return false;
    uint32_t id = m->tab.slots[slot].val;
    lru_remove(m, slot, id);
    *block_id = id;
    return true;
}

static size_t lru_find_matches(void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                               kvbm_pair *out)
{
    return kvbm__inactive_walk(lru_find_match, ctx, hashes, n, touch, true, out);
}

static size_t lru_scan_matches(void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                               kvbm_pair *out)
{
    return kvbm__inactive_walk(lru_find_match, ctx, hashes, n, touch, false, out);
}

/* Two passes: first walk the victims (least recent first, level by level: exactly the
 * sequence of head pops, since removing the head never reorders the rest) and prefetch
 * each one's index slot; then remove them in that order. The walk is a chain of node
 * loads, but the index misses of the whole batch overlap instead of adding one dependent
 * miss per victim (node -> slot). */
static size_t lru_allocate(void *ctx, size_t count, kvbm_pair *out)
{
    lru_map *m = ctx;
    size_t k = 0;
    unsigned l = 0;
    uint32_t id = m->head[0];
    while (k < count) {
        while (id == NIL) {
            if (++l >= m->nlevels) goto walked;
            id = m->head[l];
        }
        const lru_node *n = &m->nodes[id];
        __builtin_prefetch(&m->tab.slots[n->slot], 1, 3);
        out[k++].block_id = id;
        id = n->next;
    }
walked:
    for (size_t j = 0; j < k; j++) {
        uint32_t v = out[j].block_id;
        lru_node *n = &m->nodes[v];
        kvbm_plh h = n->key;
        size_t slot = kvbm__idx_slot_of(&m->tab, v); /* current: earlier deletes may shift */
        kvbm_assert(m->tab.slots[slot].val == v);
        kvbm_assert(m->head[n->level] == v);
        lru_remove(m, slot, v);
        out[j].hash = h;
    }
    return k;
}

static size_t lru_allocate_all(void *ctx, kvbm_pair *out)
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

static kvbm_status lru_insert(void *ctx, kvbm_plh h, uint32_t block_id)
{
    lru_map *m = ctx;
    if (KVBM_UNLIKELY(m->count >= m->capacity)) {
        kvbm__set_error("LRU backend insert would cause eviction! len=%zu capacity=%zu",
                        m->count, m->capacity);
        return KVBM_EFULL;
    }
    if (KVBM_UNLIKELY(block_id >= m->capacity)) {
        kvbm__set_error("block id %u out of range (capacity %zu)", block_id, m->capacity);
        return KVBM_EINVAL;
    }
    if (KVBM_UNLIKELY(m->nodes[block_id].level != LEVEL_ABSENT)) {
        kvbm__set_error("block %u already in the inactive backend", block_id);
        return KVBM_EINVAL;
    }
    uint32_t h32 = kvbm__idx_plh_h32(h);
    lru_key_ctx kc = { m, h.hi, h.lo };
    size_t slot;
    if (KVBM_UNLIKELY(kvbm__idx_find_or_empty(&m->tab, h32, lru_key_eq, &kc, &slot))) {
        kvbm__set_error("sequence hash already in the inactive backend (block %u)", block_id);
        return KVBM_EINVAL;
    }
    unsigned level = 0;
    if (m->nlevels > 1) level = multi_level_for(m, kvbm_tracker_count(m->tracker, h));
    kvbm__plh_store(&m->nodes[block_id].key, h);
    list_push_tail(m, level, block_id);
    kvbm__idx_put_at(&m->tab, slot, h32, block_id);
    m->count++;
    return KVBM_OK;
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
    lru_remove(m, slot, block_id);
    return true;
}

static void lru_destroy(void *ctx)
{
    lru_map *m = ctx;
    if (m == NULL) return;
    kvbm__idx_fini(&m->tab);
    free(m->nodes);
    kvbm_tracker_release(m->tracker);
    free(m);
}

/* O(n) structural check: lists, levels, index and counts agree. */
static bool lru_check(void *ctx)
{
    lru_map *m = ctx;
    size_t total = 0;
    for (unsigned l = 0; l < m->nlevels; l++) {
        size_t n = 0;
        uint32_t prev = NIL;
        for (uint32_t id = m->head[l]; id != NIL; id = m->nodes[id].next) {
            if (id >= m->capacity || m->nodes[id].level != l || m->nodes[id].prev != prev) return false;
            kvbm_plh h = m->nodes[id].key;
            size_t slot = lru_find_slot(m, h, kvbm__idx_plh_h32(h));
            if (slot == KVBM_IDX_NONE || m->tab.slots[slot].val != id) return false;
            if (kvbm__idx_slot_of(&m->tab, id) != slot) return false;
            prev = id;
            if (++n > m->capacity) return false;
        }
        if (m->tail[l] != prev || n != m->len[l]) return false;
        total += n;
    }
    if (total != m->count || m->tab.count != m->count) return false;
    size_t present = 0;
    for (size_t id = 0; id < m->capacity; id++)
        if (m->nodes[id].level != LEVEL_ABSENT) present++;
    return present == m->count;
}

static const kvbm_inactive_ops lru_ops = {
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
};

static const kvbm_inactive_ops multi_lru_ops = {
    .name = "multi-lru",
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
};

static kvbm_status lru_map_create(size_t capacity, unsigned nlevels, lru_map **out)
{
    if (capacity == 0 || capacity > (size_t)UINT32_MAX - 1) {
        kvbm__set_error("backend capacity must be in 1..%u, got %zu", UINT32_MAX - 1, capacity);
        return KVBM_EINVAL;
    }
    lru_map *m = calloc(1, sizeof *m);
    if (m == NULL) return KVBM_ENOMEM;
    m->nodes = malloc(capacity * sizeof *m->nodes);
    kvbm_status st = m->nodes == NULL ? KVBM_ENOMEM : kvbm__idx_init(&m->tab, capacity);
    if (st != KVBM_OK) {
        free(m->nodes);
        free(m);
        return st;
    }
    for (size_t i = 0; i < capacity; i++) {
        m->nodes[i].prev = m->nodes[i].next = NIL;
        m->nodes[i].level = LEVEL_ABSENT;
    }
    m->tab.where_base = (char *)&m->nodes[0].slot;
    m->tab.where_stride = sizeof *m->nodes;
    m->capacity = capacity;
    m->nlevels = nlevels;
    for (unsigned l = 0; l < MAX_LEVELS; l++) m->head[l] = m->tail[l] = NIL;
    *out = m;
    return KVBM_OK;
}

kvbm_status kvbm__lru_create(size_t capacity, kvbm_inactive *out)
{
    if (out == NULL) return KVBM_EINVAL;
    lru_map *m;
    KVBM_TRY(lru_map_create(capacity, 1, &m));
    out->ops = &lru_ops;
    out->ctx = m;
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
                                   kvbm_tracker *tracker, kvbm_inactive *out)
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
    return KVBM_OK;
}

int kvbm__multi_lru_level_of(const kvbm_inactive *b, kvbm_plh h)
{
    if (b->ops != &multi_lru_ops && b->ops != &lru_ops) return -1;
    const lru_map *m = b->ctx;
    size_t slot = lru_find_slot(m, h, kvbm__idx_plh_h32(h));
    if (slot == KVBM_IDX_NONE) return -1;
    return m->nodes[m->tab.slots[slot].val].level;
}

size_t kvbm__multi_lru_level_len(const kvbm_inactive *b, unsigned level)
{
    if (b->ops != &multi_lru_ops && b->ops != &lru_ops) return 0;
    const lru_map *m = b->ctx;
    return level < m->nlevels ? m->len[level] : 0;
}
