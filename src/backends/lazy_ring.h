/* src/backends/lazy_ring.h - insertion-ordered queue of block ids with lazy deletion
 * (internal; the eviction orders of lru.c and hashmap.c, docs/design/backends.md §3).
 *
 * A power-of-two ring of ids addressed by free-running uint32 counters [head, tail). The
 * owner keeps, per id, whether it is queued and the counter of its entry (pos); an entry at
 * counter c is live iff its id is queued with pos == c (a counter is unique within the
 * ring's window, which is < 2^32 long). Removing an id from the middle only makes its entry
 * stale (the owner marks the id absent); stale entries are skipped when they reach the head.
 * The order of live entries is that of a doubly linked list with unlinking. A full ring is
 * compacted in place by the owner (live entries keep their order and get new counters):
 * with at most capacity live entries in a ring of >= 2 x capacity, a compaction frees at
 * least half the ring, so push is amortised O(1).
 *
 * The liveness test and the pos update are the owner's: they are passed as constant
 * functions to the static inline helpers below, which inline them (as index.h's eq).
 * Not thread-safe (the store lock protects it). No allocation after init.
 */
#ifndef KVBM_BACKEND_LAZY_RING_H
#define KVBM_BACKEND_LAZY_RING_H

#include <stdlib.h>

#include "internal.h"

#define KVBM_LRING_MAX_CAPACITY (UINT32_C(1) << 30) /* ring (2 x capacity, rounded up) < 2^32 */

typedef struct kvbm__lring {
    uint32_t *ids;        /* [mask + 1] */
    uint32_t  mask;
    uint32_t  head, tail; /* free-running counters */
} kvbm__lring;

/* Is the entry (c, id) live? / Record that id's live entry is now at counter c. */
typedef bool (*kvbm__lring_live_fn)(const void *ctx, uint32_t c, uint32_t id);
typedef void (*kvbm__lring_move_fn)(void *ctx, uint32_t id, uint32_t c);

/* A ring for up to @capacity (<= KVBM_LRING_MAX_CAPACITY) live ids. */
static inline kvbm_status kvbm__lring_init(kvbm__lring *r, size_t capacity)
{
    size_t size = (size_t)kvbm__next_pow2_u64((uint64_t)capacity * 2u);
    if (size < 16) size = 16;
    r->ids = kvbm__malloc(size * sizeof *r->ids);
    if (r->ids == NULL) return KVBM_ENOMEM;
    r->mask = (uint32_t)(size - 1);
    r->head = r->tail = 0;
    return KVBM_OK;
}

static inline void kvbm__lring_fini(kvbm__lring *r)
{
    kvbm__free(r->ids);
    r->ids = NULL;
}

static inline uint32_t kvbm__lring_at(const kvbm__lring *r, uint32_t c) { return r->ids[c & r->mask]; }

/* Entries (live or stale) between head and tail. */
static inline uint32_t kvbm__lring_span(const kvbm__lring *r) { return r->tail - r->head; }

/* Does counter @c lie in the window [head, tail)? */
static inline bool kvbm__lring_in_window(const kvbm__lring *r, uint32_t c)
{
    return (uint32_t)(c - r->head) < kvbm__lring_span(r);
}

/* Rewrite the live entries contiguously from head, in order; tail follows the last one. */
static inline void kvbm__lring_compact(kvbm__lring *r, kvbm__lring_live_fn live,
                                       kvbm__lring_move_fn move, void *ctx)
{
    uint32_t w = r->head;
    for (uint32_t c = r->head; c != r->tail; c++) {
        uint32_t id = kvbm__lring_at(r, c);
        if (!live(ctx, c, id)) continue;
        r->ids[w & r->mask] = id;
        move(ctx, id, w);
        w++;
    }
    r->tail = w;
}

/* Every slot holds an entry: the owner compacts (in a cold, out-of-line path) before a push. */
static inline bool kvbm__lring_full(const kvbm__lring *r) { return kvbm__lring_span(r) > r->mask; }

/* Append @id to a ring that is not full; returns its counter, the id's new pos. */
static inline uint32_t kvbm__lring_push(kvbm__lring *r, uint32_t id)
{
    uint32_t c = r->tail++;
    r->ids[c & r->mask] = id;
    return c;
}

/* The id whose live entry is at counter @c is being removed by lookup: an entry at either
 * end leaves the ring (the common cases: a prefix is looked up oldest block first, and a
 * chain released tail-first has its first block newest); one in the middle goes stale. */
static inline void kvbm__lring_drop(kvbm__lring *r, uint32_t c)
{
    if (c == r->head) r->head++;
    else if (c == r->tail - 1u) r->tail--;
}

#endif /* KVBM_BACKEND_LAZY_RING_H */
