/* src/events/batcher.c - window / size / type-switch batching (spec 20 §3.4).
 *
 * A push stores the hash in arrival order and notes whether it broke the batch's output
 * order (ascending positions for Create, descending for Remove), so a flush sorts only
 * batches that need it - a sequence's Creates and tail-first Removes usually do not.
 * Eviction Removes usually do: they arrive as a few descending chains (one per evicted
 * branch, ~6 chains of ~7 in the conversation replay), over a few dozen positions: such a
 * batch is counting-sorted by position. A batch spread over a wider span is sorted as
 * 8-byte keys (position, arrival index) by a natural merge sort - a pass that finds the
 * runs, then log2(runs) merge passes - and its hashes gathered once by the keys' index.
 * (Until session 14 the 24-byte (position, hash) entries were insertion-sorted in runs of
 * 16 and merged: ~90 instructions per sorted event, a fifth of the worker's; docs/perf/
 * events.md.) */
#include "events/batcher.h"

kvbm_status kvbm__batcher_init(kvbm__batcher *b, size_t max, kvbm_u128 instance_id,
                               kvbm__batch_emit emit, void *ctx)
{
    memset(b, 0, sizeof *b);
    if (max == 0 || max > ((size_t)1 << KVBM__BATCH_IDX_BITS)) return KVBM_EINVAL;
    b->out = kvbm__malloc(max * sizeof *b->out);
    b->sorted = kvbm__malloc(max * sizeof *b->sorted);
    b->key = kvbm__malloc(max * sizeof *b->key);
    b->ktmp = kvbm__malloc(max * sizeof *b->ktmp);
    b->runs = kvbm__malloc((max + 1) * sizeof *b->runs);
    b->count = kvbm__malloc((KVBM__BATCH_COUNT + 1) * sizeof *b->count);
    if (b->out == NULL || b->sorted == NULL || b->key == NULL || b->ktmp == NULL || b->runs == NULL ||
        b->count == NULL) {
        kvbm__batcher_fini(b);
        return KVBM_ENOMEM;
    }
    for (unsigned m = 0; m < 4; m++) { /* position = (hi >> F) & (2^P - 1), as two shifts */
        kvbm_plh h = { (uint64_t)m << KVBM__PLH_MODE_SHIFT, 0 };
        const struct kvbm__plh_mode *pm = kvbm__plh_stored_mode(h);
        b->lsh[m] = (uint8_t)(64 - pm->frag_bits - pm->pos_bits);
        b->rsh[m] = (uint8_t)(64 - pm->pos_bits);
    }
    b->max = max;
    b->instance_id = instance_id;
    b->emit = emit;
    b->ctx = ctx;
    return KVBM_OK;
}

void kvbm__batcher_fini(kvbm__batcher *b)
{
    kvbm__free(b->out);
    kvbm__free(b->sorted);
    kvbm__free(b->key);
    kvbm__free(b->ktmp);
    kvbm__free(b->runs);
    kvbm__free(b->count);
    b->out = b->sorted = NULL;
    b->key = b->ktmp = NULL;
    b->runs = b->count = NULL;
}

/* Merge the sorted src[lo, mid) and src[mid, hi) into dst[lo, hi) (keys are distinct). */
static void merge(const uint64_t *src, uint64_t *dst, size_t lo, size_t mid, size_t hi)
{
    if (src[hi - 1] < src[lo]) { /* disjoint, the right run first: evicted chains, whose
                                  * heads arrive in the reverse of the output order */
        memcpy(&dst[lo], &src[mid], (hi - mid) * sizeof *dst);
        memcpy(&dst[lo + hi - mid], &src[lo], (mid - lo) * sizeof *dst);
        return;
    }
    size_t a = lo, c = mid, d = lo;
    while (a < mid && c < hi) {
        uint64_t x = src[a], y = src[c];
        bool take_c = y < x; /* branch-free: which run wins is data, not a pattern */
        dst[d++] = take_c ? y : x;
        a += !take_c;
        c += take_c;
    }
    if (a < mid) memcpy(&dst[d], &src[a], (mid - a) * sizeof *dst);
    if (c < hi) memcpy(&dst[d], &src[c], (hi - c) * sizeof *dst);
}

const uint64_t *kvbm__batcher_sort_keys(uint64_t *key, uint64_t *tmp, uint32_t *runs, size_t n)
{
    size_t nr = 0; /* runs: [runs[r], runs[r + 1]) for r < nr; runs[nr] == n */
    runs[nr++] = 0;
    for (size_t i = 1; i < n; i++)
        if (key[i] < key[i - 1]) runs[nr++] = (uint32_t)i;
    runs[nr] = (uint32_t)n;
    uint64_t *src = key, *dst = tmp;
    while (nr > 1) {
        size_t m = 0; /* runs[m] is written after runs[r .. r + 2] were read: m <= r / 2 */
        for (size_t r = 0; r < nr; r += 2) {
            size_t lo = runs[r];
            if (r + 1 == nr) { /* an odd run out: carried over */
                memcpy(&dst[lo], &src[lo], (n - lo) * sizeof *dst);
            } else {
                merge(src, dst, lo, runs[r + 1], runs[r + 2]);
            }
            runs[m++] = (uint32_t)lo;
        }
        runs[m] = (uint32_t)n;
        nr = m;
        uint64_t *t = src; src = dst; dst = t;
    }
    return src;
}

/* out[0, n) into sorted[], stably by key[i] (the output-order position of out[i]), all
 * keys in [lo, lo + span): a counting sort, one pass to count and one to place. */
static void counting_sort(kvbm__batcher *b, size_t n, uint64_t lo, size_t span)
{
    uint32_t *cnt = b->count;
    memset(cnt, 0, (span + 1) * sizeof *cnt);
    for (size_t i = 0; i < n; i++) cnt[b->key[i] - lo + 1]++;
    for (size_t j = 1; j < span; j++) cnt[j] += cnt[j - 1]; /* cnt[j]: first slot of key lo + j */
    for (size_t i = 0; i < n; i++) b->sorted[cnt[b->key[i] - lo]++] = b->out[i];
}

/* out[0, n) into sorted[], stably by output order. A batch's positions usually span a few
 * hundred at most (a counting sort over them); wider ones are sorted as 8-byte (position,
 * arrival index) keys by kvbm__batcher_sort_keys and gathered. */
static void sort_batch(kvbm__batcher *b, size_t n)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = kvbm__batcher_position(b, b->out[i]) ^ b->flip;
        b->key[i] = k;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    if (hi - lo < KVBM__BATCH_COUNT && hi - lo <= 4 * (uint64_t)n) {
        counting_sort(b, n, lo, (size_t)(hi - lo + 1));
        return;
    }
    for (size_t i = 0; i < n; i++) b->key[i] = b->key[i] << KVBM__BATCH_IDX_BITS | i;
    const uint64_t *k = kvbm__batcher_sort_keys(b->key, b->ktmp, b->runs, n);
    uint64_t idx = ((uint64_t)1 << KVBM__BATCH_IDX_BITS) - 1;
    for (size_t i = 0; i < n; i++) b->sorted[i] = b->out[k[i] & idx];
}

static void flush(kvbm__batcher *b)
{
    const kvbm_plh *hs = b->out;
    size_t n = b->n;
    if (b->unsorted) {
        sort_batch(b, n);
        hs = b->sorted;
    }
    kvbm_event_batch out = { b->kind, hs, n, b->instance_id };
    b->emit(b->ctx, &out);
    b->n = 0;
    b->last = 0;
    b->unsorted = false;
}

/* The invariants of kvbm__batcher (batcher.h), in debug builds (KVBM_DEBUG >= 2). */
static void check(const kvbm__batcher *b)
{
#if KVBM_DEBUG >= 2
    kvbm__assert(b->n < b->max);
    bool unsorted = false;
    uint64_t last = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t ord = kvbm__plh_position(b->out[i]) ^ b->flip;
        unsorted |= ord < last;
        last = ord;
    }
    kvbm__assert(b->last == last && b->unsorted == unsorted);
#else
    (void)b;
#endif
}

/* Start or continue a batch of @kind (the pending one, if of another kind, is emitted). */
static bool set_kind(kvbm__batcher *b, kvbm_event_kind kind)
{
    bool emitted = false;
    if (b->has_kind && b->kind != kind && b->n > 0) {
        flush(b);
        emitted = true;
    }
    b->has_kind = true;
    b->kind = kind;
    b->flip = kind == KVBM_EVENT_REMOVE ? KVBM__BATCH_POS_FLIP : 0;
    return emitted;
}

bool kvbm__batcher_push_slow(kvbm__batcher *b, kvbm_event_kind kind, kvbm_plh h)
{
    bool emitted = set_kind(b, kind);
    kvbm__batcher_append(b, h);
    if (b->n >= b->max) {
        flush(b);
        b->has_kind = false;
        emitted = true;
    }
    check(b);
    return emitted;
}

static inline kvbm_event_kind kind_at(const uint64_t *kinds, size_t j)
{
    return (kvbm_event_kind)(kinds[j >> 6] >> (j & 63) & 1);
}

bool kvbm__batcher_push_bits(kvbm__batcher *b, const kvbm_plh *h, const uint64_t *kinds, size_t n)
{
    bool emitted = false;
    size_t i = 0;
    while (i < n) {
        kvbm_event_kind k = kind_at(kinds, i);
        if (!(b->n > 0 && b->kind == k && b->n + 1 < b->max)) {
            emitted |= kvbm__batcher_push_slow(b, k, h[i]);
            i++;
            continue;
        }
        /* the run of kind k from i within this kind word (events of the other kind are the
         * set bits of w), cut to what leaves the pending batch below max: the same appends
         * as kvbm__batcher_push, with the batch's fields in registers */
        uint64_t w = kinds[i >> 6] >> (i & 63);
        if (k == KVBM_EVENT_CREATE) w = ~w;
        w = ~w; /* set bits: events of the other kind */
        size_t len = w != 0 ? (size_t)__builtin_ctzll(w) : 64 - (i & 63);
        if (len > 64 - (i & 63)) len = 64 - (i & 63);
        size_t m = b->n, room = b->max - 1 - m, end = i + (len < room ? len : room);
        if (end > n) end = n;
        uint64_t flip = b->flip, last = b->last;
        bool unsorted = b->unsorted;
        kvbm_plh *out = b->out;
        for (; i < end; i++) {
            uint64_t ord = kvbm__batcher_position(b, h[i]) ^ flip;
            unsorted |= ord < last;
            last = ord;
            out[m++] = h[i];
        }
        b->n = m;
        b->last = last;
        b->unsorted = unsorted;
        check(b);
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
