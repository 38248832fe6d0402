/* src/ext/consolidator/events.c - kvbm_cons_events: the tracker's FIFO queue and the lists
 * it is drained into (storage swaps between them), and the egress run sort (§4.3.4). */
#include "cons_int.h"

kvbm_status kvbm_cons_events_create(kvbm_cons_events **out)
{
    if (out == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: out is NULL", __func__);
    kvbm_cons_events *q = kvbm__calloc(1, sizeof *q);
    if (q == NULL) return KVBM_FAIL(KVBM_ENOMEM, "%s: no memory", __func__);
    *out = q;
    return KVBM_OK;
}

void kvbm__cons_events_fini(kvbm_cons_events *q)
{
    for (size_t i = 0; i < q->cap; i++) kvbm__free(q->v[i].tok);
    kvbm__free(q->v);
    kvbm__free(q->scratch);
    kvbm__free(q->keys);
    *q = (kvbm_cons_events){0};
}

void kvbm_cons_events_destroy(kvbm_cons_events *ev)
{
    if (ev == NULL) return;
    kvbm__cons_events_fini(ev);
    kvbm__free(ev);
}

size_t kvbm_cons_events_count(const kvbm_cons_events *ev) { return ev ? ev->n : 0; }

const kvbm_cons_event *kvbm_cons_events_get(const kvbm_cons_events *ev, size_t i)
{
    return ev != NULL && i < ev->n ? &ev->v[i].ev : NULL;
}

kvbm_status kvbm__cons_events_grow(kvbm_cons_events *q, size_t k, size_t n_tokens)
{
    if (q->n + k >= q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        size_t bytes;
        if (!kvbm__size_mul(cap, sizeof *q->v, &bytes))
            return KVBM_FAIL(KVBM_EOVERFLOW, "consolidator: event queue size overflow");
        kvbm__cons_entry *v = kvbm__realloc(q->v, bytes);
        if (v == NULL) return KVBM_FAIL(KVBM_ENOMEM, "consolidator: event queue of %zu", cap);
        memset(v + q->cap, 0, (cap - q->cap) * sizeof *v);
        q->v = v;
        q->cap = cap;
    }
    kvbm__cons_entry *e = &q->v[q->n + k];
    if (e->tok_cap < n_tokens) {
        size_t cap = n_tokens < 16 ? 16 : n_tokens, bytes;
        if (!kvbm__size_mul(cap, sizeof *e->tok, &bytes))
            return KVBM_FAIL(KVBM_EOVERFLOW, "consolidator: %zu tokens", n_tokens);
        uint32_t *tok = kvbm__malloc(bytes);
        if (tok == NULL) return KVBM_FAIL(KVBM_ENOMEM, "consolidator: %zu tokens", n_tokens);
        kvbm__free(e->tok);
        e->tok = tok;
        e->tok_cap = cap;
    }
    return KVBM_OK;
}

void kvbm__cons_events_push(kvbm_cons_events *q, kvbm_cons_event_kind kind, kvbm_cons_source src,
                            kvbm_plh plh, const uint32_t *tokens, size_t n_tokens,
                            uint32_t block_size, const char *lora)
{
    kvbm__assert(q->n < q->cap && q->v[q->n].tok_cap >= n_tokens);
    kvbm__cons_entry *e = &q->v[q->n++];
    if (n_tokens != 0) memcpy(e->tok, tokens, n_tokens * sizeof *tokens);
    e->ev = (kvbm_cons_event){.kind = kind, .source = src, .plh = plh, .tokens = e->tok,
                              .n_tokens = n_tokens, .block_size = block_size, .lora_name = lora};
}

/* ---- egress sort ------------------------------------------------------------------
 * Per run: keys = position - min (ascending) or max - position (descending), an LSD radix
 * sort of (key, index) pairs with 8-bit digits - stable by construction, one pass for the
 * usual spread of < 256 positions - then one permutation of the entries through the
 * scratch array. Already ordered runs (the common single-chain case) cost one scan. */

static bool grow_sort_space(kvbm_cons_events *ev, size_t n)
{
    if (n <= ev->scratch_cap) return true;
    size_t cap = ev->scratch_cap ? ev->scratch_cap : 64;
    while (cap < n) cap *= 2;
    kvbm__cons_entry *s = kvbm__malloc(cap * sizeof *s);
    uint32_t *k = kvbm__malloc(4 * cap * sizeof *k);
    if (s == NULL || k == NULL) {
        kvbm__free(s);
        kvbm__free(k);
        return false;
    }
    kvbm__free(ev->scratch);
    kvbm__free(ev->keys);
    ev->scratch = s;
    ev->keys = k;
    ev->scratch_cap = cap;
    return true;
}

static void sort_run(kvbm_cons_events *ev, size_t a, size_t n, bool asc)
{
    uint32_t *k = ev->keys, *ix = k + ev->scratch_cap, *k2 = ix + ev->scratch_cap, *ix2 = k2 + ev->scratch_cap;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t p = (uint32_t)kvbm_plh_position(ev->v[a + i].ev.plh); /* < 2^24 */
        k[i] = p;
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
    }
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        k[i] = asc ? k[i] - lo : hi - k[i];
        ix[i] = (uint32_t)i;
        if (i > 0 && k[i] < k[i - 1]) sorted = false;
    }
    if (sorted) return;
    uint32_t span = hi - lo;
    for (unsigned shift = 0; shift < 32 && (span >> shift) != 0; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < n; i++) cnt[((k[i] >> shift) & 255u) + 1]++;
        for (int d = 0; d < 256; d++) cnt[d + 1] += cnt[d];
        for (size_t i = 0; i < n; i++) {
            size_t at = cnt[(k[i] >> shift) & 255u]++;
            k2[at] = k[i];
            ix2[at] = ix[i];
        }
        uint32_t *t = k; k = k2; k2 = t;
        t = ix; ix = ix2; ix2 = t;
    }
    for (size_t i = 0; i < n; i++) ev->scratch[i] = ev->v[a + ix[i]];
    memcpy(ev->v + a, ev->scratch, n * sizeof *ev->v); /* a permutation: buffers stay unique */
}

kvbm_status kvbm_cons_events_sort_egress(kvbm_cons_events *ev)
{
    if (ev == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL list", __func__);
    if (ev->n > UINT32_MAX) return KVBM_FAIL(KVBM_EOVERFLOW, "%s: %zu events", __func__, ev->n);
    if (!grow_sort_space(ev, ev->n)) return KVBM_FAIL(KVBM_ENOMEM, "%s: sort space for %zu events", __func__, ev->n);
    for (size_t a = 0; a < ev->n;) {
        kvbm_cons_event_kind k = ev->v[a].ev.kind;
        size_t b = a + 1;
        while (b < ev->n && ev->v[b].ev.kind == k) b++;
        if (k != KVBM_CONS_CLEAR_ALL && b - a > 1) sort_run(ev, a, b - a, k == KVBM_CONS_STORE);
        a = b;
    }
    return KVBM_OK;
}
