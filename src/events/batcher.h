/* src/events/batcher.h - the §3.4 batcher as a clock-free state machine (the pipeline's
 * worker drives it; tests drive it directly). */
#ifndef KVBM_EVENTS_BATCHER_H
#define KVBM_EVENTS_BATCHER_H

#include "events/events_int.h"
#include "tokens/plh_int.h"

typedef void (*kvbm__batch_emit)(void *ctx, const kvbm_event_batch *b);

/* A pending hash with its position (the sort key, computed once at push). */
typedef struct kvbm__keyed_plh {
    uint64_t pos;
    kvbm_plh h;
} kvbm__keyed_plh;

typedef struct kvbm__batcher {
    bool             has_kind;
    bool             unsorted;   /* a push broke the batch's output order */
    kvbm_event_kind  kind;
    size_t           n, max;
    kvbm__keyed_plh *ent, *tmp;  /* max entries each (tmp: merge sort scratch) */
    kvbm_plh        *out;        /* max entries: the emitted hashes */
    kvbm_u128        instance_id;
    kvbm__batch_emit emit;
    void            *ctx;
} kvbm__batcher;

kvbm_status kvbm__batcher_init(kvbm__batcher *b, size_t max, kvbm_u128 instance_id,
                               kvbm__batch_emit emit, void *ctx);
void kvbm__batcher_fini(kvbm__batcher *b);
/* pa before pb in the output order (strictly): ascending, or descending if @desc */
static inline bool kvbm__batcher_before(uint64_t pa, uint64_t pb, bool desc)
{
    return desc ? pa > pb : pa < pb;
}
/* Append @h to the pending batch (room and kind already checked). */
static inline void kvbm__batcher_append(kvbm__batcher *b, kvbm_plh h)
{
    uint64_t pos = kvbm__plh_position(h);
    size_t n = b->n;
    if (n > 0 && kvbm__batcher_before(pos, b->ent[n - 1].pos, b->kind == KVBM_EVENT_REMOVE)) b->unsorted = true;
    b->ent[n].pos = pos;
    b->ent[n].h = h;
    b->n = n + 1;
}
bool kvbm__batcher_push_slow(kvbm__batcher *b, kvbm_event_kind kind, kvbm_plh h);
/* An input event. Returns true if a batch was emitted (the caller re-arms its deadline).
 * Inline for the usual case: same kind as the pending batch, and it does not fill it. */
static inline bool kvbm__batcher_push(kvbm__batcher *b, kvbm_event_kind kind, kvbm_plh h)
{
    if (KVBM_LIKELY(b->n > 0 && b->kind == kind && b->n + 1 < b->max)) {
        kvbm__batcher_append(b, h);
        return false;
    }
    return kvbm__batcher_push_slow(b, kind, h);
}
/* The deadline passed: emit the pending batch if any (the caller re-arms either way). */
void kvbm__batcher_tick(kvbm__batcher *b);
/* Input ended: emit the pending batch if any. */
void kvbm__batcher_end(kvbm__batcher *b);
/* Stable sort of @v by pos (ascending, or descending if @desc); @tmp has n entries. */
void kvbm__keyed_stable_sort(kvbm__keyed_plh *v, kvbm__keyed_plh *tmp, size_t n, bool desc);

#endif /* KVBM_EVENTS_BATCHER_H */
