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

kvbm_status kvbm__cons_events_reserve(kvbm_cons_events *q, size_t k, size_t n_tokens)
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

/* ---- egress sort ------------------------------------------------------------------- */

static inline bool before(const kvbm__cons_entry *a, const kvbm__cons_entry *b, bool ascending)
{
    uint64_t pa = kvbm_plh_position(a->ev.plh), pb = kvbm_plh_position(b->ev.plh);
    return ascending ? pa < pb : pa > pb;
}

/* Stable merge sort of v[0..n) with scratch s[0..n); entries are moved, never copied twice
 * into owners, so every token buffer stays owned by exactly one slot. */
static void merge_sort(kvbm__cons_entry *v, kvbm__cons_entry *s, size_t n, bool asc)
{
    if (n < 2) return;
    if (n <= 16) { /* insertion sort: stable */
        for (size_t i = 1; i < n; i++) {
            kvbm__cons_entry x = v[i];
            size_t j = i;
            for (; j > 0 && before(&x, &v[j - 1], asc); j--) v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(v, s, h, asc);
    merge_sort(v + h, s, n - h, asc);
    if (!before(&v[h], &v[h - 1], asc)) return; /* already in order */
    memcpy(s, v, h * sizeof *v);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) v[k++] = before(&v[j], &s[i], asc) ? v[j++] : s[i++];
    while (i < h) v[k++] = s[i++];
}

kvbm_status kvbm_cons_events_sort_egress(kvbm_cons_events *ev)
{
    if (ev == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL list", __func__);
    if (ev->scratch_cap < ev->n / 2 + 1) {
        size_t cap = ev->n / 2 + 1;
        kvbm__cons_entry *s = kvbm__malloc(cap * sizeof *s);
        if (s == NULL) return KVBM_FAIL(KVBM_ENOMEM, "%s: scratch of %zu", __func__, cap);
        kvbm__free(ev->scratch);
        ev->scratch = s;
        ev->scratch_cap = cap;
    }
    for (size_t a = 0; a < ev->n;) {
        kvbm_cons_event_kind k = ev->v[a].ev.kind;
        size_t b = a + 1;
        while (b < ev->n && ev->v[b].ev.kind == k) b++;
        if (k != KVBM_CONS_CLEAR_ALL) merge_sort(ev->v + a, ev->scratch, b - a, k == KVBM_CONS_STORE);
        a = b;
    }
    return KVBM_OK;
}
