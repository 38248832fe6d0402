/* src/ext/consolidator/cons_int.h - internals of libkvbm_consolidator (private).
 *
 *   source.c    source names and aliases
 *   map.c       kvbm__cmap: open-addressing table (two u64 key words -> one slot)
 *   events.c    kvbm_cons_events: the event list (tracker queue and drained lists), sort
 *   tracker.c   kvbm_cons_tracker: the dedup state machine
 */
#ifndef KVBM_CONS_INT_H
#define KVBM_CONS_INT_H

#include "internal.h"
#include "kvbm/consolidator_tracker.h"

/* ---- kvbm__cmap ---------------------------------------------------------------------
 * Linear probing, power-of-two capacity, load <= 1/2, backward-shift deletion (no
 * tombstones). Slots move on insert/erase/reserve: a slot pointer is valid only until the
 * next mutating call. Not synchronised (the tracker lock protects it). 32-byte slots; a
 * slot is free iff k1 == KVBM__CMAP_FREE (a value no key has, see below).
 * Two uses in the tracker:
 *   blocks:   key = PLH as (k0 = lo, k1 = hi; hi is never all ones: mode 3 is invalid);
 *             refs[s] = how many (s, x) mappings name the block (kvbm bridge: 0/1), its
 *             sources are {s : refs[s] > 0}; published; handle = registry handle or NULL
 *   external: key = (k0 = external hash, k1 = source); v = the block's PLH */
#define KVBM__CMAP_FREE UINT64_MAX
#define KVBM__CONS_MAX_REFS UINT16_MAX

typedef struct kvbm__cmap_slot {
    uint64_t k0, k1;
    union {
        kvbm_plh v; /* external */
        struct {    /* blocks */
            kvbm_handle *handle;
            uint16_t     refs[KVBM_CONS_SOURCE_COUNT];
            uint8_t      published;
        };
    };
} kvbm__cmap_slot;

typedef struct kvbm__cmap {
    kvbm__cmap_slot *slots;
    size_t           cap;   /* 0 or a power of two */
    size_t           count;
} kvbm__cmap;

static inline bool kvbm__cmap_used(const kvbm__cmap_slot *s) { return s->k1 != KVBM__CMAP_FREE; }

kvbm__cmap_slot *kvbm__cmap_find(const kvbm__cmap *m, uint64_t k0, uint64_t k1);
/* Room for @extra more entries without growing; KVBM_ENOMEM leaves @m unchanged. */
kvbm_status kvbm__cmap_grow(kvbm__cmap *m, size_t extra);
static inline kvbm_status kvbm__cmap_reserve(kvbm__cmap *m, size_t extra)
{
    return KVBM_LIKELY(extra <= 1 && (m->count + 1) * 2 <= m->cap) ? KVBM_OK : kvbm__cmap_grow(m, extra);
}
/* Insert an absent key (room must have been reserved); the slot's values are zeroed. */
kvbm__cmap_slot *kvbm__cmap_insert(kvbm__cmap *m, uint64_t k0, uint64_t k1);
void kvbm__cmap_erase(kvbm__cmap *m, kvbm__cmap_slot *s);
void kvbm__cmap_clear(kvbm__cmap *m); /* keeps the capacity */
void kvbm__cmap_free(kvbm__cmap *m);

/* ---- event lists --------------------------------------------------------------------
 * An entry is a public event plus the token buffer it owns; buffers stay with their slot
 * when the list is emptied, so a recycled list stores events without allocating. */
typedef struct kvbm__cons_entry {
    kvbm_cons_event ev;      /* first: kvbm_cons_events_get returns &entry->ev */
    uint32_t       *tok;     /* owned, tok_cap tokens */
    size_t          tok_cap;
} kvbm__cons_entry;

struct kvbm_cons_events {
    kvbm__cons_entry *v;       /* v[0..n) events; v[n..cap) spare slots (buffers kept) */
    size_t            n, cap;
    kvbm__cons_entry *scratch; /* sort scratch (entries moved, never owned) */
    uint32_t         *keys;    /* sort keys and indices: 4 arrays of scratch_cap */
    size_t            scratch_cap;
};

/* Make v[n + k] (k < 2) exist with room for @n_tokens tokens. KVBM_ENOMEM leaves the
 * events unchanged (capacity may have grown). */
kvbm_status kvbm__cons_events_grow(kvbm_cons_events *q, size_t k, size_t n_tokens);
static inline kvbm_status kvbm__cons_events_reserve(kvbm_cons_events *q, size_t k, size_t n_tokens)
{
    return KVBM_LIKELY(q->n + k < q->cap && q->v[q->n + k].tok_cap >= n_tokens) ? KVBM_OK
                                                                                : kvbm__cons_events_grow(q, k, n_tokens);
}
/* Append (after a successful reserve with >= n_tokens: cannot fail). */
void kvbm__cons_events_push(kvbm_cons_events *q, kvbm_cons_event_kind kind, kvbm_cons_source src,
                            kvbm_plh plh, const uint32_t *tokens, size_t n_tokens,
                            uint32_t block_size, const char *lora);
void kvbm__cons_events_fini(kvbm_cons_events *q);

#endif /* KVBM_CONS_INT_H */
