/* src/events/batcher.h - the §3.4 batcher as a clock-free state machine (the pipeline's
 * worker drives it; tests drive it directly). */
#ifndef KVBM_EVENTS_BATCHER_H
#define KVBM_EVENTS_BATCHER_H

#include "events/events_int.h"
#include "tokens/plh_int.h"

typedef void (*kvbm__batch_emit)(void *ctx, const kvbm_event_batch *b);

/* Sort keys (flush of an unsorted batch): the position in output order in the high bits,
 * the arrival index in the low KVBM__BATCH_IDX_BITS, so that ascending keys are the
 * stable order and every key is distinct. Positions are below 2^24 (spec 20 §1.5). */
#define KVBM__BATCH_IDX_BITS 20
#define KVBM__BATCH_POS_FLIP ((UINT64_C(1) << 24) - 1)
/* Largest span of positions (max - min + 1) an unsorted batch is counting-sorted over. */
#define KVBM__BATCH_COUNT 4096

/* Invariants: n < max between calls (a batch that reaches max is emitted at once);
 * out[0, n) are the pending hashes in arrival order, all of kind `kind` when n > 0;
 * `last` is the output-order key (position ^ flip) of out[n - 1], 0 when n == 0 (so the
 * first append never sets `unsorted`); `unsorted` iff some out[i + 1] comes strictly
 * before out[i] in the output order. */
typedef struct kvbm__batcher {
    bool             has_kind;
    bool             unsorted;   /* a push broke the batch's output order */
    kvbm_event_kind  kind;
    uint64_t         flip;       /* KVBM__BATCH_POS_FLIP for Remove (descending), else 0 */
    uint64_t         last;       /* position ^ flip of the last pushed hash */
    size_t           n, max;     /* max <= 2^KVBM__BATCH_IDX_BITS */
    kvbm_plh        *out, *sorted; /* max entries each: arrival order, output order */
    uint64_t        *key, *ktmp; /* max entries each: sort keys and merge scratch */
    uint32_t        *runs;       /* max + 1 entries: run boundaries of the merge sort */
    uint32_t        *count;      /* KVBM__BATCH_COUNT + 1 entries: the counting sort's */
    uint8_t          lsh[4], rsh[4]; /* per stored mode: position = hi << lsh >> rsh */
    kvbm_u128        instance_id;
    kvbm__batch_emit emit;
    void            *ctx;
} kvbm__batcher;

kvbm_status kvbm__batcher_init(kvbm__batcher *b, size_t max, kvbm_u128 instance_id,
                               kvbm__batch_emit emit, void *ctx);
void kvbm__batcher_fini(kvbm__batcher *b);
/* kvbm__plh_position(h) in two shifts by the widths of h's stored mode, taken from the
 * tokens module's table at init (kvbm__batcher_init): the push loop's per-event cost was
 * half in the table walk of the general form. */
static inline uint64_t kvbm__batcher_position(const kvbm__batcher *b, kvbm_plh h)
{
    unsigned m = (unsigned)(h.hi >> KVBM__PLH_MODE_SHIFT);
    uint64_t pos = h.hi << b->lsh[m] >> b->rsh[m];
    kvbm__assert_internal(pos == kvbm__plh_position(h));
    return pos;
}
/* Append @h to the pending batch (room and kind already checked). */
static inline void kvbm__batcher_append(kvbm__batcher *b, kvbm_plh h)
{
    uint64_t ord = kvbm__batcher_position(b, h) ^ b->flip;
    size_t n = b->n;
    b->unsorted |= ord < b->last;
    b->last = ord;
    b->out[n] = h;
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
/* @n input events - hashes @h, the kind of event j in bit j % 64 of @kinds[j / 64] (Create
 * 0, Remove 1; kvbm__events_next_bits' format) - exactly as @n kvbm__batcher_push calls
 * in order (the same batches, in the same order); returns true if any batch was emitted.
 * A run of one kind that fits the pending batch is found with one bit scan and appended in
 * one loop (the pipeline worker's sweep). */
bool kvbm__batcher_push_bits(kvbm__batcher *b, const kvbm_plh *h, const uint64_t *kinds, size_t n);
/* The deadline passed: emit the pending batch if any (the caller re-arms either way). */
void kvbm__batcher_tick(kvbm__batcher *b);
/* Input ended: emit the pending batch if any. */
void kvbm__batcher_end(kvbm__batcher *b);
/* Sort the distinct keys @key[0, n) ascending (natural merge sort: the runs already in
 * order are found first, then merged pairwise); @tmp has n entries, @runs n + 1. Returns
 * the array holding the result (@key or @tmp). */
const uint64_t *kvbm__batcher_sort_keys(uint64_t *key, uint64_t *tmp, uint32_t *runs, size_t n);

#endif /* KVBM_EVENTS_BATCHER_H */
