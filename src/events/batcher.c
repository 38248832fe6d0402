/* src/events/batcher.c - window / size / type-switch batching (spec 20 §3.4).
 *
 * Each pushed hash is stored with its position (computed once), and the push notes
 * whether it broke the batch's output order (ascending for Create, descending for
 * Remove), so a flush sorts only batches that need it - eviction Removes usually do, a
 * sequence's Creates and tail-first Removes usually do not. */
#include "events/batcher.h"

kvbm_status kvbm__batcher_init(kvbm__batcher *b, size_t max, kvbm_u128 instance_id,
                               kvbm__batch_emit emit, void *ctx)
{
    memset(b, 0, sizeof *b);
    b->ent = kvbm__malloc(max * sizeof *b->ent);
    b->tmp = kvbm__malloc(max * sizeof *b->tmp);
    b->out = kvbm__malloc(max * sizeof *b->out);
    if (b->ent == NULL || b->tmp == NULL || b->out == NULL) {
        kvbm__batcher_fini(b);
        return KVBM_ENOMEM;
    }
    b->max = max;
    b->instance_id = instance_id;
    b->emit = emit;
    b->ctx = ctx;
    return KVBM_OK;
}

void kvbm__batcher_fini(kvbm__batcher *b)
{
    kvbm__free(b->ent);
    kvbm__free(b->tmp);
    kvbm__free(b->out);
    b->ent = b->tmp = NULL;
    b->out = NULL;
}

static inline bool before(uint64_t pa, uint64_t pb, bool desc) { return kvbm__batcher_before(pa, pb, desc); }

/* Stable insertion sort of v[lo, hi) (strict comparison: equal keys keep their order). */
static void insertion_sort(kvbm__keyed_plh *v, size_t lo, size_t hi, bool desc)
{
    for (size_t i = lo + 1; i < hi; i++) {
        kvbm__keyed_plh x = v[i];
        size_t j = i;
        while (j > lo && before(x.pos, v[j - 1].pos, desc)) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

#define SORT_RUN 16

void kvbm__keyed_stable_sort(kvbm__keyed_plh *v, kvbm__keyed_plh *tmp, size_t n, bool desc)
{
    /* insertion-sorted runs of SORT_RUN (the usual batch is one or two runs), then a
     * bottom-up merge; ties take the left run first, so both steps are stable */
    for (size_t lo = 0; lo < n; lo += SORT_RUN) insertion_sort(v, lo, lo + SORT_RUN < n ? lo + SORT_RUN : n, desc);
    kvbm__keyed_plh *src = v, *dst = tmp;
    for (size_t w = SORT_RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, c = mid, k = lo;
            while (a < mid && c < hi) dst[k++] = before(src[c].pos, src[a].pos, desc) ? src[c++] : src[a++];
            while (a < mid) dst[k++] = src[a++];
            while (c < hi) dst[k++] = src[c++];
        }
        kvbm__keyed_plh *t = src; src = dst; dst = t;
    }
    if (src != v) memcpy(v, src, n * sizeof *v);
}

static void flush(kvbm__batcher *b)
{
    if (b->unsorted) kvbm__keyed_stable_sort(b->ent, b->tmp, b->n, b->kind == KVBM_EVENT_REMOVE);
    for (size_t i = 0; i < b->n; i++) b->out[i] = b->ent[i].h;
    kvbm_event_batch out = { b->kind, b->out, b->n, b->instance_id };
    b->emit(b->ctx, &out);
    b->n = 0;
    b->unsorted = false;
}

bool kvbm__batcher_push_slow(kvbm__batcher *b, kvbm_event_kind kind, kvbm_plh h)
{
    bool emitted = false;
    if (b->has_kind && b->kind != kind && b->n > 0) {
        flush(b);
        emitted = true;
    }
    b->has_kind = true;
    b->kind = kind;
    kvbm__batcher_append(b, h);
    if (b->n >= b->max) {
        flush(b);
        b->has_kind = false;
        emitted = true;
    }
    return emitted;
}

void kvbm__batcher_tick(kvbm__batcher *b)
{
    if (b->has_kind && b->n > 0) flush(b);
    b->has_kind = false;
}

void kvbm__batcher_end(kvbm__batcher *b)
{
    if (b->has_kind && b->n > 0) flush(b);
}
