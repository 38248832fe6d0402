/* src/ext/vllm/sub_decode.c - kvbm_vllm_sub_recv_batch: receive and decode, skipping (and
 * counting) payloads that do not decode. The decode space grows by doubling on
 * KVBM_EOVERFLOW up to the payload length (every pool of that capacity always suffices,
 * see kvbm/vllm_events.h), so steady state does not allocate. */
#include "sub_int.h"

#include <time.h>

#define SPACE_MIN 256

void kvbm__vsub_space_free(kvbm_vllm_sub *s)
{
    kvbm_vllm_decode_space *d = &s->space;
    kvbm__free(d->events);
    kvbm__free(d->u64);
    kvbm__free(d->tokens);
    kvbm__free(d->block_mm);
    kvbm__free(d->mm_objects);
    kvbm__free(d->chars);
    memset(d, 0, sizeof *d);
    s->space_cap = 0;
}

static kvbm_status space_grow(kvbm_vllm_sub *s, size_t cap)
{
    kvbm__vsub_space_free(s);
    kvbm_vllm_decode_space *d = &s->space;
    d->events = kvbm__malloc(cap * sizeof *d->events);
    d->u64 = kvbm__malloc(cap * sizeof *d->u64);
    d->tokens = kvbm__malloc(cap * sizeof *d->tokens);
    d->block_mm = kvbm__malloc(cap * sizeof *d->block_mm);
    d->mm_objects = kvbm__malloc(cap * sizeof *d->mm_objects);
    d->chars = kvbm__malloc(cap);
    if (!d->events || !d->u64 || !d->tokens || !d->block_mm || !d->mm_objects || !d->chars) {
        kvbm__vsub_space_free(s);
        kvbm__set_error("vllm subscriber: out of memory for a decode space of %zu elements", cap);
        return KVBM_ENOMEM;
    }
    d->events_cap = d->u64_cap = d->tokens_cap = d->block_mm_cap = d->mm_objects_cap = d->chars_cap = cap;
    s->space_cap = cap;
    return KVBM_OK;
}

static kvbm_status decode(kvbm_vllm_sub *s, const kvbm_vllm_sub_msg *m,
                          const kvbm_vllm_decode_options *opts, kvbm_vllm_batch *out)
{
    if (!s->space_cap) KVBM_TRY(space_grow(s, SPACE_MIN));
    for (;;) {
        kvbm_status st = kvbm_vllm_batch_decode(m->payload, m->len, opts, out, &s->space);
        if (st != KVBM_EOVERFLOW || s->space_cap >= m->len) return st;
        size_t cap = s->space_cap * 2;
        KVBM_TRY(space_grow(s, cap < m->len ? cap : m->len));
    }
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

kvbm_status kvbm_vllm_sub_recv_batch(kvbm_vllm_sub *s, int timeout_ms, const kvbm_vllm_decode_options *opts,
                                     kvbm_vllm_batch *batch, kvbm_vllm_sub_msg *msg)
{
    if (!s || !batch) {
        kvbm__set_error("vllm subscriber: NULL %s", !s ? "subscriber" : "batch");
        return KVBM_EINVAL;
    }
    int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    for (;;) {
        int left = timeout_ms;
        if (timeout_ms > 0) {
            int64_t l = deadline - now_ms();
            left = l > 0 ? (int)l : 0;
        }
        kvbm_vllm_sub_msg m;
        kvbm_status st = kvbm_vllm_sub_recv(s, left, &m);
        if (st != KVBM_OK) return st;
        if ((st = decode(s, &m, opts, batch)) == KVBM_OK) {
            if (msg) *msg = m;
            return KVBM_OK;
        }
        uint64_t k = KVBM__VSUB_INC(s, decode_errors, 1);
        kvbm__log(k == 0 ? KVBM_LOG_WARN : KVBM_LOG_DEBUG, KVBM__VSUB_MOD,
                  "%s: batch %llu (%zu bytes) skipped, it does not decode: %s", s->name,
                  (unsigned long long)m.seq, m.len, kvbm_last_error());
        if (st == KVBM_ENOMEM) return st;
    }
}
