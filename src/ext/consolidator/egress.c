/* src/ext/consolidator/egress.c - drained tracker events -> one vLLM KV-event batch
 * (spec 20 §4.3.4): run sort, router projection, conversion, array-form encoding. */
#include "cons_int.h"

#include <inttypes.h>
#include <math.h>
#include <time.h>

#include "kvbm/consolidator_vllm.h"
#include "kvbm/tokens.h"

struct kvbm_cons_egress {
    kvbm_cons_events      *own;      /* drain target of kvbm_cons_egress_drain */
    kvbm_vllm_event       *vev;      /* converted events */
    uint64_t              *hashes;   /* one router hash per event */
    size_t                 cap;      /* of vev and hashes */
    uint32_t              *clamped;  /* token copies of events that needed clamping */
    size_t                 clamped_cap;
    uint8_t               *buf;      /* encoded payload */
    size_t                 buf_cap;
    uint64_t               seq;
    kvbm_cons_egress_stats st;
};

kvbm_status kvbm_cons_egress_create(kvbm_cons_egress **out)
{
    if (out == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: out is NULL", __func__);
    kvbm_cons_egress *eg = kvbm__calloc(1, sizeof *eg);
    if (eg == NULL) return KVBM_FAIL(KVBM_ENOMEM, "%s: no memory", __func__);
    kvbm_status st = kvbm_cons_events_create(&eg->own);
    if (st != KVBM_OK) {
        kvbm__free(eg);
        return st;
    }
    *out = eg;
    return KVBM_OK;
}

void kvbm_cons_egress_destroy(kvbm_cons_egress *eg)
{
    if (eg == NULL) return;
    kvbm_cons_events_destroy(eg->own);
    kvbm__free(eg->vev);
    kvbm__free(eg->hashes);
    kvbm__free(eg->clamped);
    kvbm__free(eg->buf);
    kvbm__free(eg);
}

uint64_t kvbm_cons_egress_next_seq(const kvbm_cons_egress *eg) { return eg ? eg->seq : 0; }

void kvbm_cons_egress_get_stats(const kvbm_cons_egress *eg, kvbm_cons_egress_stats *out)
{
    if (eg != NULL && out != NULL) *out = eg->st;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    size_t bytes;
    if (!kvbm__size_mul(c, elem, &bytes)) return false;
    void *n = kvbm__realloc(*p, bytes);
    if (n == NULL) return false;
    *p = n;
    *cap = c;
    return true;
}

/* Room for @n events, and the clamp buffer for the tokens that need it. */
static kvbm_status reserve(kvbm_cons_egress *eg, const kvbm_cons_events *ev, size_t *n_clamp)
{
    size_t n = kvbm_cons_events_count(ev), nc = 0;
    for (size_t i = 0; i < n; i++) {
        const kvbm_cons_event *e = kvbm_cons_events_get(ev, i);
        for (size_t j = 0; j < e->n_tokens; j++)
            if (e->tokens[j] > INT32_MAX) {
                nc += e->n_tokens;
                break;
            }
    }
    size_t cap_v = eg->cap, cap_h = eg->cap;
    if (!grow((void **)&eg->vev, &cap_v, n, sizeof *eg->vev) || !grow((void **)&eg->hashes, &cap_h, n, sizeof *eg->hashes) ||
        !grow((void **)&eg->clamped, &eg->clamped_cap, nc, sizeof *eg->clamped))
        return KVBM_FAIL(KVBM_ENOMEM, "consolidator egress: %zu events", n);
    eg->cap = cap_v < cap_h ? cap_v : cap_h;
    *n_clamp = nc;
    return KVBM_OK;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

kvbm_status kvbm_cons_egress_encode(kvbm_cons_egress *eg, kvbm_cons_events *ev, double ts, const uint8_t **payload,
                                    size_t *len, uint64_t *seq)
{
    if (eg == NULL || ev == NULL || payload == NULL || len == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: NULL argument", __func__);
    *payload = eg->buf;
    *len = 0;
    size_t n = kvbm_cons_events_count(ev), n_clamp = 0;
    if (n == 0) return KVBM_OK;
    KVBM_TRY(kvbm_cons_events_sort_egress(ev));
    KVBM_TRY(reserve(eg, ev, &n_clamp));
    uint64_t clamped_tokens = 0, clamped_sizes = 0;
    size_t clamp_used = 0;
    for (size_t i = 0; i < n; i++) {
        const kvbm_cons_event *e = kvbm_cons_events_get(ev, i);
        kvbm_vllm_event *v = &eg->vev[i];
        memset(v, 0, sizeof *v);
        if (e->kind == KVBM_CONS_CLEAR_ALL) {
            v->type = KVBM_VLLM_ALL_BLOCKS_CLEARED;
            continue;
        }
        eg->hashes[i] = kvbm_plh_router_block_hash(e->plh);
        v->block_hashes = &eg->hashes[i];
        v->n_block_hashes = 1;
        if (e->kind == KVBM_CONS_REMOVE) {
            v->type = KVBM_VLLM_BLOCK_REMOVED;
            continue;
        }
        v->type = KVBM_VLLM_BLOCK_STORED;
        v->has_parent = kvbm_plh_router_parent_hash(e->plh, &v->parent_block_hash);
        v->token_ids = e->tokens;
        v->n_token_ids = e->n_tokens;
        for (size_t j = 0; j < e->n_tokens; j++) {
            if (e->tokens[j] <= INT32_MAX) continue;
            uint32_t *c = eg->clamped + clamp_used; /* reserved above */
            for (size_t k = 0; k < e->n_tokens; k++) {
                c[k] = e->tokens[k] > INT32_MAX ? INT32_MAX : e->tokens[k];
                clamped_tokens += e->tokens[k] > INT32_MAX;
            }
            clamp_used += e->n_tokens;
            v->token_ids = c;
            break;
        }
        v->block_size = e->block_size > INT32_MAX ? INT32_MAX : e->block_size;
        clamped_sizes += e->block_size > INT32_MAX;
        v->lora_name = e->lora_name;
    }
    kvbm_vllm_batch b = {.ts = (ts >= 0 && !isnan(ts)) ? ts : now_seconds(), .events = eg->vev, .n_events = n,
                         .has_dp_rank = true, .dp_rank = 0};
    size_t need = 0;
    kvbm_status st = kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_ARRAY, eg->buf, eg->buf_cap, &need);
    if (st == KVBM_EOVERFLOW) {
        if (!grow((void **)&eg->buf, &eg->buf_cap, need, 1))
            return KVBM_FAIL(KVBM_ENOMEM, "%s: payload of %zu bytes", __func__, need);
        st = kvbm_vllm_batch_encode(&b, KVBM_VLLM_FORM_ARRAY, eg->buf, eg->buf_cap, &need);
    }
    if (st != KVBM_OK) return st;
    *payload = eg->buf;
    *len = need;
    if (seq != NULL) *seq = eg->seq;
    eg->seq++;
    eg->st.batches++;
    eg->st.events += n;
    eg->st.bytes += need;
    eg->st.clamped_tokens += clamped_tokens;
    eg->st.clamped_sizes += clamped_sizes;
    if (clamped_tokens + clamped_sizes != 0)
        kvbm__log(KVBM_LOG_WARN, "consolidator",
                  "egress batch %" PRIu64 ": %" PRIu64 " token ids and %" PRIu64 " block sizes above INT32_MAX clamped",
                  eg->seq - 1, clamped_tokens, clamped_sizes);
    return KVBM_OK;
}

kvbm_status kvbm_cons_egress_drain(kvbm_cons_egress *eg, kvbm_cons_tracker *t, double ts, const uint8_t **payload,
                                   size_t *len, uint64_t *seq)
{
    if (eg == NULL || t == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL argument", __func__);
    KVBM_TRY(kvbm_cons_tracker_drain(t, eg->own));
    return kvbm_cons_egress_encode(eg, eg->own, ts, payload, len, seq);
}

kvbm_status kvbm_cons_egress_publish(kvbm_cons_egress *eg, kvbm_cons_tracker *t, kvbm_vllm_pub *pub, double ts,
                                     bool *sent, uint64_t *seq)
{
    if (sent != NULL) *sent = false;
    if (pub == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL publisher", __func__);
    const uint8_t *p;
    size_t len = 0;
    KVBM_TRY(kvbm_cons_egress_drain(eg, t, ts, &p, &len, NULL));
    if (len == 0) return KVBM_OK;
    kvbm_status st = kvbm_vllm_pub_send_payload(pub, p, len, seq);
    if (sent != NULL) *sent = st == KVBM_OK;
    return st;
}
