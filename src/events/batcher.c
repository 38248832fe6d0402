/* src/events/batcher.c - window / size / type-switch batching (spec 20 §3.4). */
#include "events/batcher.h"

kvbm_status kvbm__batcher_init(kvbm__batcher *b, size_t max, kvbm_u128 instance_id,
                               kvbm__batch_emit emit, void *ctx)
{
    memset(b, 0, sizeof *b);
    b->buf = kvbm__malloc(max * sizeof *b->buf);
    b->tmp = kvbm__malloc(max * sizeof *b->tmp);
    if (b->buf == NULL || b->tmp == NULL) {
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
    kvbm__free(b->buf);
    kvbm__free(b->tmp);
    b->buf = b->tmp = NULL;
}

/* a before b in the output order (strictly) */
static inline bool before(kvbm_plh a, kvbm_plh b, bool desc)
{
    uint64_t pa = kvbm_plh_position(a), pb = kvbm_plh_position(b);
    return desc ? pa > pb : pa < pb;
}

void kvbm__plh_stable_sort(kvbm_plh *v, kvbm_plh *tmp, size_t n, bool desc)
{
    size_t i = 1;
    while (i < n && !before(v[i], v[i - 1], desc)) i++;
    if (i >= n) return; /* already in order: the common case (a sequence's blocks) */
    /* bottom-up merge sort; ties take the left run first, so it is stable */
    kvbm_plh *src = v, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, c = mid, k = lo;
            while (a < mid && c < hi) dst[k++] = before(src[c], src[a], desc) ? src[c++] : src[a++];
            while (a < mid) dst[k++] = src[a++];
            while (c < hi) dst[k++] = src[c++];
        }
        kvbm_plh *t = src; src = dst; dst = t;
    }
    if (src != v) memcpy(v, src, n * sizeof *v);
}

static void flush(kvbm__batcher *b)
{
    kvbm__plh_stable_sort(b->buf, b->tmp, b->n, b->kind == KVBM_EVENT_REMOVE);
    kvbm_event_batch out = { b->kind, b->buf, b->n, b->instance_id };
    b->emit(b->ctx, &out);
    b->n = 0;
}

bool kvbm__batcher_push(kvbm__batcher *b, kvbm_event_kind kind, kvbm_plh h)
{
    bool emitted = false;
    if (b->has_kind && b->kind != kind && b->n > 0) {
        flush(b);
        emitted = true;
    }
    b->has_kind = true;
    b->kind = kind;
    b->buf[b->n++] = h;
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
