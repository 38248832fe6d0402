/* src/events/batcher.h - the §3.4 batcher as a clock-free state machine (the pipeline's
 * worker drives it; tests drive it directly). */
#ifndef KVBM_EVENTS_BATCHER_H
#define KVBM_EVENTS_BATCHER_H

#include "events/events_int.h"

typedef void (*kvbm__batch_emit)(void *ctx, const kvbm_event_batch *b);

typedef struct kvbm__batcher {
    bool             has_kind;
    kvbm_event_kind  kind;
    size_t           n, max;
    kvbm_plh        *buf, *tmp;  /* max entries each (tmp: merge sort scratch) */
    kvbm_u128        instance_id;
    kvbm__batch_emit emit;
    void            *ctx;
} kvbm__batcher;

kvbm_status kvbm__batcher_init(kvbm__batcher *b, size_t max, kvbm_u128 instance_id,
                               kvbm__batch_emit emit, void *ctx);
void kvbm__batcher_fini(kvbm__batcher *b);
/* An input event. Returns true if a batch was emitted (the caller re-arms its deadline). */
bool kvbm__batcher_push(kvbm__batcher *b, kvbm_event_kind kind, kvbm_plh h);
/* The deadline passed: emit the pending batch if any (the caller re-arms either way). */
void kvbm__batcher_tick(kvbm__batcher *b);
/* Input ended: emit the pending batch if any. */
void kvbm__batcher_end(kvbm__batcher *b);
/* Stable sort of @v by position (ascending, or descending if @desc); @tmp has n entries. */
void kvbm__plh_stable_sort(kvbm_plh *v, kvbm_plh *tmp, size_t n, bool desc);

#endif /* KVBM_EVENTS_BATCHER_H */
