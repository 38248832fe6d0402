/* src/backends/hashmap.c - HashMap inactive backend with the FIFO reuse policy (§3.5).
 *
 * The reference pairs a hash map (seq_hash -> block_id) with a FifoReusePolicy: a
 * monotonically increasing sequence number per insert, an id -> seq map and an ordered map
 * seq -> block, popping the smallest seq (O(log n)). Because seq numbers are handed out in
 * increasing order and only ever removed, the ordered map's order is exactly insertion
 * order; kvbm keeps that observable order in a ring of block ids with lazy deletion
 * (lazy_ring.h, shared with lru.c's queues): insert appends and records the entry's counter
 * in the node (pos); removing an entry in the middle only marks the node absent, and its
 * stale entry is skipped when it reaches the head; a full ring is compacted in place. O(1)
 * amortised, allocation-free. The seq number is still kept per entry
 * (kvbm__fifo_reuse_seq) so the "keys strictly increasing" property remains testable.
 *
 *   fifo.nodes[id].seq == ABSENT  <=>  id not in the policy
 *   ring entry at counter c (head <= c < tail) is live <=> nodes[id].seq != ABSENT and
 *   nodes[id].pos == c; live entries in ring order = increasing seq (head = next victim)
 *
 * The backend's index (index.h) maps hash -> block id and compares keys through the
 * policy's per-id node, so every key is stored once. allocate_all drains in FIFO order
 * (the reference leaves it unspecified: hash-map order).
 *
 * Memory per block: 32 B fifo node + 8-16 B ring + 4 B index back-pointer + 32-64 B index
 * (load <= 1/4, KVBM_IDX_SLOTS_PER_ENTRY) = 76-116 B. All operations O(1) (insert and victim pops amortised).
 */
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/index.h"
#include "backends/lazy_ring.h"

#define ABSENT UINT64_MAX

typedef struct fifo_node {
    kvbm_plh hash;
    uint64_t seq;
    uint32_t pos;   /* ring counter of the live entry (valid while seq != ABSENT) */
} fifo_node;

struct kvbm__fifo_reuse {
    fifo_node *nodes;    /* by block id, [capacity] */
    size_t     capacity;
    size_t     count;
    uint64_t   next_seq;
    kvbm__lring ring;     /* block ids in insertion order, lazy deletion */
};

kvbm_status kvbm__fifo_reuse_create(size_t capacity, kvbm__fifo_reuse **out)
{
    if (out == NULL || capacity == 0 || capacity > KVBM_LRING_MAX_CAPACITY) return KVBM_EINVAL;
    kvbm__fifo_reuse *f = kvbm__calloc(1, sizeof *f);
    if (f == NULL) return KVBM_ENOMEM;
    f->nodes = kvbm__malloc(capacity * sizeof *f->nodes);
    if (f->nodes == NULL || kvbm__lring_init(&f->ring, capacity) != KVBM_OK) {
        kvbm__free(f->nodes);
        kvbm__free(f);
        return KVBM_ENOMEM;
    }
    for (size_t i = 0; i < capacity; i++) {
        f->nodes[i].seq = ABSENT;
        f->nodes[i].pos = 0;
    }
    f->capacity = capacity;
    *out = f;
    return KVBM_OK;
}

void kvbm__fifo_reuse_destroy(kvbm__fifo_reuse *f)
{
    if (f == NULL) return;
    kvbm__free(f->nodes);
    kvbm__lring_fini(&f->ring);
    kvbm__free(f);
}

static inline bool fifo_present(const kvbm__fifo_reuse *f, uint32_t id)
{
    return id < f->capacity && f->nodes[id].seq != ABSENT;
}

static inline bool fifo_live(const kvbm__fifo_reuse *f, uint32_t c, uint32_t id)
{
    return f->nodes[id].seq != ABSENT && f->nodes[id].pos == c;
}

static bool fifo_live_cb(const void *ctx, uint32_t c, uint32_t id) { return fifo_live(ctx, c, id); }
static void fifo_move_cb(void *ctx, uint32_t id, uint32_t c) { ((kvbm__fifo_reuse *)ctx)->nodes[id].pos = c; }

static __attribute__((noinline)) void fifo_compact(kvbm__fifo_reuse *f)
{
    kvbm__lring_compact(&f->ring, fifo_live_cb, fifo_move_cb, f);
    kvbm__assert(kvbm__lring_span(&f->ring) == f->count);
}

kvbm_status kvbm__fifo_reuse_insert(kvbm__fifo_reuse *f, uint32_t block_id, kvbm_plh h)
{
    if (KVBM_UNLIKELY(block_id >= f->capacity)) {
        kvbm__set_error("block id %u out of range (capacity %zu)", block_id, f->capacity);
        return KVBM_EINVAL;
    }
    fifo_node *n = &f->nodes[block_id];
    if (KVBM_UNLIKELY(n->seq != ABSENT)) {
        kvbm__set_error("Block %u already exists in free list (block already exists)", block_id);
        return KVBM_EINVAL;
    }
    if (KVBM_UNLIKELY(kvbm__lring_full(&f->ring))) fifo_compact(f);
    kvbm__plh_store(&n->hash, h);
    n->seq = f->next_seq++;
    n->pos = kvbm__lring_push(&f->ring, block_id);
    f->count++;
    return KVBM_OK;
}

/* Remove a present id: its ring entry goes stale. */
static inline void fifo_unlink(kvbm__fifo_reuse *f, uint32_t id)
{
    f->nodes[id].seq = ABSENT;
    f->count--;
}

/* Remove a present id found by lookup (kvbm__lring_drop: an entry at either end of the
 * ring leaves it, one in the middle goes stale). */
static inline void fifo_unlink_any(kvbm__fifo_reuse *f, uint32_t id)
{
    kvbm__lring_drop(&f->ring, f->nodes[id].pos);
    fifo_unlink(f, id);
}

kvbm_status kvbm__fifo_reuse_remove(kvbm__fifo_reuse *f, uint32_t block_id)
{
    if (!fifo_present(f, block_id)) {
        kvbm__set_error("Block %u not found in free list", block_id);
        return KVBM_ENOENT;
    }
    fifo_unlink_any(f, block_id);
    return KVBM_OK;
}

bool kvbm__fifo_reuse_next_free(kvbm__fifo_reuse *f, kvbm__pair *out)
{
    while (f->ring.head != f->ring.tail) {
        uint32_t c = f->ring.head++;
        uint32_t id = kvbm__lring_at(&f->ring, c);
        if (!fifo_live(f, c, id)) continue;
        out->hash = f->nodes[id].hash;
        out->block_id = id;
        fifo_unlink(f, id);
        return true;
    }
    return false;
}

size_t kvbm__fifo_reuse_len(const kvbm__fifo_reuse *f) { return f->count; }

uint64_t kvbm__fifo_reuse_seq(const kvbm__fifo_reuse *f, uint32_t block_id)
{
    return block_id < f->capacity ? f->nodes[block_id].seq : ABSENT;
}

/* ---- the backend ----------------------------------------------------------------------- */

typedef struct hashmap_be {
    kvbm__idxtab      tab;
    kvbm__fifo_reuse *fifo;
    uint32_t        *slot_of; /* [capacity] index back-pointers */
} hashmap_be;

typedef struct hm_key_ctx {
    const kvbm__fifo_reuse *f;
    uint64_t               hi, lo;
} hm_key_ctx;

static bool hm_key_eq(const void *ctx, uint32_t val)
{
    const hm_key_ctx *k = ctx;
    const kvbm_plh *s = &k->f->nodes[val].hash;
    return s->lo == k->lo && s->hi == k->hi;
}

static inline size_t hm_find_slot(const hashmap_be *m, kvbm_plh h)
{
    hm_key_ctx k = { m->fifo, h.hi, h.lo };
    return kvbm__idx_find(&m->tab, kvbm__idx_plh_h32(h), hm_key_eq, &k);
}

static bool hm_find_match(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id)
{
    hashmap_be *m = ctx;
    KVBM_UNUSED(touch);
    size_t slot = hm_find_slot(m, h);
    if (slot == KVBM_IDX_NONE) return false;
    uint32_t id = m->tab.slots[slot].val;
    kvbm__idx_del(&m->tab, slot);
    fifo_unlink_any(m->fifo, id);
    *block_id = id;
    return true;
}

static size_t hm_find_matches(void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                              kvbm__pair *out)
{
    return kvbm__inactive_walk(hm_find_match, ctx, hashes, n, touch, true, out);
}

static size_t hm_scan_matches(void *ctx, const kvbm_plh *hashes, size_t n, bool touch,
                              kvbm__pair *out)
{
    return kvbm__inactive_walk(hm_find_match, ctx, hashes, n, touch, false, out);
}

/* Two passes (as in lru.c): walk the ring from its head collecting the live victims and
 * prefetching their back-pointers, then remove them in that order (the same sequence as
 * popping the head repeatedly). Ring reads are sequential and the node loads independent,
 * so the misses of the batch overlap; every entry walked is a victim or stale, so the head
 * moves to where the walk stopped. */
static size_t hm_allocate(void *ctx, size_t count, kvbm__pair *out)
{
    hashmap_be *m = ctx;
    kvbm__fifo_reuse *f = m->fifo;
    size_t k = 0;
    uint32_t c = f->ring.head;
    for (; k < count && c != f->ring.tail; c++) {
        uint32_t id = kvbm__lring_at(&f->ring, c);
        if (!fifo_live(f, c, id)) continue;
        __builtin_prefetch(&m->slot_of[id], 0, 3);
        out[k++].block_id = id;
    }
    for (size_t j = 0; j < k; j++) /* slot_of lines are in flight; the slots follow */
        __builtin_prefetch(&m->tab.slots[m->slot_of[out[j].block_id]], 1, 3);
    for (size_t j = 0; j < k; j++) {
        uint32_t id = out[j].block_id;
        kvbm_plh h = f->nodes[id].hash;
        size_t slot = kvbm__idx_slot_of(&m->tab, id); /* current: earlier deletes may shift */
        kvbm__assert(m->tab.slots[slot].val == id);
        fifo_unlink(f, id);
        kvbm__idx_del(&m->tab, slot);
        out[j].hash = h;
    }
    f->ring.head = c;
    return k;
}

static size_t hm_len(void *ctx) { return ((hashmap_be *)ctx)->fifo->count; }

static size_t hm_allocate_all(void *ctx, kvbm__pair *out) { return hm_allocate(ctx, hm_len(ctx), out); }

static kvbm_status hm_insert(void *ctx, kvbm_plh h, uint32_t block_id)
{
    hashmap_be *m = ctx;
    uint32_t h32 = kvbm__idx_plh_h32(h);
    hm_key_ctx kc = { m->fifo, h.hi, h.lo };
    size_t slot;
    if (KVBM_UNLIKELY(kvbm__idx_find_or_empty(&m->tab, h32, hm_key_eq, &kc, &slot))) {
        kvbm__set_error("sequence hash already in the inactive backend (block %u)", block_id);
        return KVBM_EINVAL;
    }
    KVBM_TRY(kvbm__fifo_reuse_insert(m->fifo, block_id, h));
    kvbm__idx_put_at(&m->tab, slot, h32, block_id);
    return KVBM_OK;
}

static bool hm_has(void *ctx, kvbm_plh h) { return hm_find_slot(ctx, h) != KVBM_IDX_NONE; }

static bool hm_take(void *ctx, kvbm_plh h, uint32_t block_id)
{
    hashmap_be *m = ctx;
    size_t slot = hm_find_slot(m, h);
    if (slot == KVBM_IDX_NONE || m->tab.slots[slot].val != block_id) return false;
    kvbm__idx_del(&m->tab, slot);
    fifo_unlink_any(m->fifo, block_id);
    return true;
}

static void hm_destroy(void *ctx)
{
    hashmap_be *m = ctx;
    if (m == NULL) return;
    kvbm__idx_fini(&m->tab);
    kvbm__fifo_reuse_destroy(m->fifo);
    kvbm__free(m->slot_of);
    kvbm__free(m);
}

static bool hm_check(void *ctx)
{
    hashmap_be *m = ctx;
    const kvbm__fifo_reuse *f = m->fifo;
    if (kvbm__lring_span(&f->ring) > f->ring.mask + 1u) return false;
    size_t n = 0;
    uint64_t last_seq = 0;
    for (uint32_t c = f->ring.head; c != f->ring.tail; c++) {
        uint32_t id = kvbm__lring_at(&f->ring, c);
        if (id >= f->capacity) return false;
        if (!fifo_live(f, c, id)) continue;
        const fifo_node *nd = &f->nodes[id];
        if (n > 0 && nd->seq <= last_seq) return false;
        size_t slot = hm_find_slot(m, nd->hash);
        if (slot == KVBM_IDX_NONE || m->tab.slots[slot].val != id) return false;
        if (m->slot_of[id] != slot) return false;
        last_seq = nd->seq;
        if (++n > f->capacity) return false;
    }
    size_t present = 0;
    for (uint32_t id = 0; id < f->capacity; id++) {
        const fifo_node *nd = &f->nodes[id];
        if (nd->seq == ABSENT) continue;
        if (!kvbm__lring_in_window(&f->ring, nd->pos) || kvbm__lring_at(&f->ring, nd->pos) != id)
            return false;
        present++;
    }
    return n == f->count && present == n && m->tab.count == n;
}

static const kvbm__inactive_ops hashmap_ops = {
    .name = "hashmap",
    .find_match = hm_find_match,
    .find_matches = hm_find_matches,
    .scan_matches = hm_scan_matches,
    .allocate = hm_allocate,
    .insert = hm_insert,
    .len = hm_len,
    .has = hm_has,
    .take = hm_take,
    .allocate_all = hm_allocate_all,
    .destroy = hm_destroy,
    .check = hm_check,
};

kvbm_status kvbm__hashmap_create(size_t capacity, kvbm__inactive *out)
{
    if (out == NULL) return KVBM_EINVAL;
    if (capacity == 0 || capacity > KVBM_LRING_MAX_CAPACITY) {
        kvbm__set_error("backend capacity must be in 1..%u, got %zu", KVBM_LRING_MAX_CAPACITY, capacity);
        return KVBM_EINVAL;
    }
    hashmap_be *m = kvbm__calloc(1, sizeof *m);
    if (m == NULL) return KVBM_ENOMEM;
    kvbm_status st = kvbm__fifo_reuse_create(capacity, &m->fifo);
    if (st == KVBM_OK) st = kvbm__idx_init(&m->tab, capacity);
    if (st == KVBM_OK) {
        m->slot_of = kvbm__malloc(capacity * sizeof *m->slot_of);
        if (m->slot_of == NULL) st = KVBM_ENOMEM;
    }
    if (st != KVBM_OK) {
        kvbm__idx_fini(&m->tab);
        kvbm__fifo_reuse_destroy(m->fifo);
        kvbm__free(m);
        return st;
    }
    m->tab.where_base = (char *)m->slot_of;
    m->tab.where_stride = sizeof *m->slot_of;
    out->ops = &hashmap_ops;
    out->ctx = m;
    out->freq = NULL;
    return KVBM_OK;
}
