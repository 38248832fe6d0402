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
#include "kvbm/manager.h"

typedef struct kvbm_pair {
    kvbm_plh hash;
    uint32_t block_id;
} kvbm_pair;

typedef struct kvbm_inactive_ops {
    const char *name;
    /* Remove and return the entry for h. true if found (block id in *block_id). */
    bool   (*find_match)(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id);
    /* Walk hashes in order, remove+return hits into out, stop at the first miss. */
    size_t (*find_matches)(void *ctx, const kvbm_plh *hashes, size_t n, bool touch, kvbm_pair *out);
    /* Like find_matches but skip misses; output in input order of hits. */
    size_t (*scan_matches)(void *ctx, const kvbm_plh *hashes, size_t n, bool touch, kvbm_pair *out);
    /* Remove+return up to count pairs in eviction order. MUST return count when len >= count. */
    size_t (*allocate)(void *ctx, size_t count, kvbm_pair *out);
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
    size_t (*allocate_all)(void *ctx, kvbm_pair *out);
    void   (*destroy)(void *ctx);
} kvbm_inactive_ops;

/* A constructed backend: ops table + its private context. */
typedef struct kvbm_inactive {
    const kvbm_inactive_ops *ops;
    void                    *ctx;
} kvbm_inactive;

/* Constructors. capacity = block_count (max entries / max block id + 1).
 * Return KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM, KVBM_ECONFIG (bad thresholds; message set). */
kvbm_status kvbm__lru_create(size_t capacity, kvbm_inactive *out);
kvbm_status kvbm__hashmap_create(size_t capacity, kvbm_inactive *out);      /* FIFO reuse */
kvbm_status kvbm__multi_lru_create(size_t capacity, const uint8_t thresholds[3],
                                   kvbm_tracker *tracker, kvbm_inactive *out); /* takes a tracker ref */
kvbm_status kvbm__lineage_create(size_t capacity, kvbm_lineage_eviction eviction, kvbm_inactive *out);

/* Convenience: build the backend a manager config asks for. */
kvbm_status kvbm__inactive_create(kvbm_backend kind, size_t capacity, kvbm_lineage_eviction ev,
                                  const uint8_t thresholds[3], kvbm_tracker *tracker,
                                  kvbm_inactive *out);

static inline void kvbm__inactive_destroy(kvbm_inactive *b)
{
    if (b->ops != NULL && b->ops->destroy != NULL) b->ops->destroy(b->ctx);
    b->ops = NULL; b->ctx = NULL;
}

#endif /* KVBM_BACKEND_H */
