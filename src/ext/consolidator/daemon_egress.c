/* src/ext/consolidator/daemon_egress.c - the consolidator's egress (spec 20 §4.3.4): every
 * tick drain the tracker, sort the events for egress, convert each to a vLLM event
 * (router projection §4.3.3), encode ONE batch [now, events, 0] in array form and send it
 * as ["", seq BE8, payload] on the output PUB. The sequence number is consumed once the
 * batch is encoded (a failed send still uses it, as the spec's egress does).
 * Replay (optional, §4.2.1): the last REPLAY_KEEP batches are kept; a ROUTER answers
 * [id, "", start BE8] with [id, "", seq BE8, payload] per kept batch >= start, then
 * [id, "", -1 BE8, ""]. Served by the egress thread between ticks (kvbm__degress_wait). */
#include "daemon_int.h"

#include <stdio.h>
#include <time.h>
#include <zmq.h>

#include "kvbm/tokens.h"

#define WHO "consolidator egress"
#define REPLAY_KEEP 10000

typedef struct kvbm__degress {
    void             *zctx, *pub, *router;
    char              ep[128], rep_ep[128];
    uint8_t         **kept;     /* ring of REPLAY_KEEP copies (router only) */
    size_t           *kept_len;
    kvbm_cons_events *ev;
    kvbm_vllm_event  *vev;     /* converted events (grown) */
    uint64_t         *hashes;  /* 2 per event: block hash, parent */
    size_t            cap;
    uint8_t          *buf;
    size_t            buf_cap;
    uint64_t          seq;
    bool              warned_clamp;
} kvbm__degress;

static kvbm_status zfail(const char *what, const char *ep)
{
    int e = zmq_errno();
    kvbm__set_error("%s: %s %s failed: %s", WHO, what, ep, zmq_strerror(e));
    return e == EADDRINUSE ? KVBM_EADDRINUSE : e == ENOMEM ? KVBM_ENOMEM : KVBM_ECONNECT;
}

/* Bind @sock at @want ("...:0" = a free port) and store the resolved endpoint. */
static kvbm_status bind_at(void *sock, const char *want, char *got, size_t cap)
{
    char ep[128];
    snprintf(ep, sizeof ep, "%s", want);
    size_t l = strlen(ep);
    if (l > 2 && !strcmp(ep + l - 2, ":0")) snprintf(ep + l - 1, sizeof ep - (l - 1), "*");
    if (zmq_bind(sock, ep) != 0) return zfail("bind to", want);
    size_t n = cap;
    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, got, &n);
    return KVBM_OK;
}

kvbm_status kvbm__degress_open(kvbm_consolidator *c, const kvbm_consolidator_config *cfg)
{
    kvbm__degress *g = kvbm__calloc(1, sizeof *g);
    if (!g) {
        kvbm__set_error("%s: out of memory", WHO);
        return KVBM_ENOMEM;
    }
    c->eg = g;
    KVBM_TRY(kvbm_cons_events_create(&g->ev));
    if (!(g->zctx = zmq_ctx_new()) || !(g->pub = zmq_socket(g->zctx, ZMQ_PUB)))
        return zfail("socket for", cfg->out_endpoint);
    int zero = 0, one = 1, hwm = 100000, ivl = 100, ivl_max = 5000;
    zmq_setsockopt(g->pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(g->pub, ZMQ_SNDTIMEO, &zero, sizeof zero);
    zmq_setsockopt(g->pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(g->pub, ZMQ_TCP_KEEPALIVE, &one, sizeof one);
    zmq_setsockopt(g->pub, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(g->pub, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    KVBM_TRY(bind_at(g->pub, cfg->out_endpoint, g->ep, sizeof g->ep));
    if (!cfg->out_replay_endpoint) return KVBM_OK;
    if (!(g->router = zmq_socket(g->zctx, ZMQ_ROUTER))) return zfail("socket for", cfg->out_replay_endpoint);
    zmq_setsockopt(g->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(g->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    KVBM_TRY(bind_at(g->router, cfg->out_replay_endpoint, g->rep_ep, sizeof g->rep_ep));
    g->kept = kvbm__calloc(REPLAY_KEEP, sizeof *g->kept);
    g->kept_len = kvbm__calloc(REPLAY_KEEP, sizeof *g->kept_len);
    if (!g->kept || !g->kept_len) {
        kvbm__set_error("%s: out of memory for the replay buffer", WHO);
        return KVBM_ENOMEM;
    }
    return KVBM_OK;
}

static void send_replay(kvbm__degress *g, zmq_msg_t *id, uint64_t seq, const void *p, size_t len)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)(seq >> (56 - 8 * i));
    zmq_send(g->router, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE);
    zmq_send(g->router, "", 0, ZMQ_SNDMORE);
    zmq_send(g->router, be, 8, ZMQ_SNDMORE);
    zmq_send(g->router, p, len, 0);
}

/* One replay request [id, "", start BE8] (other shapes ignored). */
static void serve_replay(kvbm__degress *g)
{
    zmq_msg_t f[3];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, g->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 3) f[n++] = m;
        else zmq_msg_close(&m);
    }
    if (n == 3 && zmq_msg_size(&f[2]) >= 1) {
        const uint8_t *p = zmq_msg_data(&f[2]);
        uint64_t from = 0;
        for (size_t i = 0; i < zmq_msg_size(&f[2]) && i < 8; i++) from = (from << 8) | p[i];
        uint64_t oldest = g->seq > REPLAY_KEEP ? g->seq - REPLAY_KEEP : 0;
        for (uint64_t s = from < oldest ? oldest : from; s < g->seq; s++)
            if (g->kept[s % REPLAY_KEEP]) send_replay(g, &f[0], s, g->kept[s % REPLAY_KEEP], g->kept_len[s % REPLAY_KEEP]);
        send_replay(g, &f[0], UINT64_MAX, "", 0);
    }
    for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
}

void kvbm__degress_wait(kvbm_consolidator *c, int timeout_ms)
{
    kvbm__degress *g = c->eg;
    if (!g->router) {
        if (timeout_ms > 0) zmq_poll(NULL, 0, timeout_ms);
        return;
    }
    zmq_pollitem_t it = { g->router, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return;
    pthread_mutex_lock(&c->egress_mu);
    for (int i = 0; i < 64 && (zmq_poll(&it, 1, 0) > 0); i++) serve_replay(g);
    pthread_mutex_unlock(&c->egress_mu);
}

static void keep(kvbm__degress *g, uint64_t seq, const uint8_t *p, size_t len)
{
    if (!g->kept) return;
    size_t k = seq % REPLAY_KEEP;
    uint8_t *d = kvbm__realloc(g->kept[k], len ? len : 1);
    if (!d) { /* that batch cannot be replayed; the ring stays consistent */
        kvbm__free(g->kept[k]);
        g->kept[k] = NULL;
        return;
    }
    memcpy(d, p, len);
    g->kept[k] = d;
    g->kept_len[k] = len;
}

void kvbm__degress_close(kvbm_consolidator *c)
{
    kvbm__degress *g = c->eg;
    if (!g) return;
    if (g->pub) {
        int linger = 200; /* let the last batch leave (bounded: clean stop < 1 s) */
        zmq_setsockopt(g->pub, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(g->pub);
    }
    if (g->router) zmq_close(g->router);
    if (g->zctx) zmq_ctx_term(g->zctx);
    g->pub = g->router = g->zctx = NULL;
}

void kvbm__degress_free(kvbm_consolidator *c)
{
    kvbm__degress *g = c->eg;
    if (!g) return;
    kvbm__degress_close(c);
    c->eg = NULL;
    if (g->kept)
        for (size_t i = 0; i < REPLAY_KEEP; i++) kvbm__free(g->kept[i]);
    kvbm__free(g->kept);
    kvbm__free(g->kept_len);
    kvbm_cons_events_destroy(g->ev);
    kvbm__free(g->vev);
    kvbm__free(g->hashes);
    kvbm__free(g->buf);
    kvbm__free(g);
}

const char *kvbm__degress_endpoint(const kvbm_consolidator *c, bool replay)
{
    if (!c->eg) return NULL;
    return replay ? (c->eg->router ? c->eg->rep_ep : NULL) : c->eg->ep;
}

static bool reserve(kvbm__degress *g, size_t n)
{
    if (n <= g->cap) return true;
    size_t cap = g->cap ? g->cap : 64;
    while (cap < n) cap *= 2;
    kvbm_vllm_event *v = kvbm__realloc(g->vev, cap * sizeof *v);
    if (v) g->vev = v;
    uint64_t *h = kvbm__realloc(g->hashes, 2 * cap * sizeof *h);
    if (h) g->hashes = h;
    if (!v || !h) return false;
    g->cap = cap;
    return true;
}

/* tracker event -> vLLM event (§4.3.4 conversion). Tokens go out as-is: the encoder writes
 * u32 values, and a token > INT32_MAX (which the spec's egress clamps) is logged once. */
static void convert(kvbm__degress *g, const kvbm_cons_event *e, size_t i)
{
    kvbm_vllm_event *v = &g->vev[i];
    memset(v, 0, sizeof *v);
    uint64_t *h = &g->hashes[2 * i];
    switch (e->kind) {
    case KVBM_CONS_STORE:
        v->type = KVBM_VLLM_BLOCK_STORED;
        h[0] = kvbm_plh_router_block_hash(e->plh);
        v->block_hashes = h;
        v->n_block_hashes = 1;
        v->has_parent = kvbm_plh_router_parent_hash(e->plh, &v->parent_block_hash);
        v->token_ids = e->tokens;
        v->n_token_ids = e->n_tokens;
        v->block_size = e->block_size;
        v->lora_name = e->lora_name;
        if (!g->warned_clamp)
            for (size_t k = 0; k < e->n_tokens; k++)
                if (e->tokens[k] > INT32_MAX) {
                    g->warned_clamp = true;
                    kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "egress: token id %u exceeds i32", e->tokens[k]);
                    break;
                }
        break;
    case KVBM_CONS_REMOVE:
        v->type = KVBM_VLLM_BLOCK_REMOVED;
        h[0] = kvbm_plh_router_block_hash(e->plh);
        v->block_hashes = h;
        v->n_block_hashes = 1;
        break;
    case KVBM_CONS_CLEAR_ALL: v->type = KVBM_VLLM_ALL_BLOCKS_CLEARED; break;
    }
}

static kvbm_status encode(kvbm__degress *g, const kvbm_vllm_batch *b, size_t *len)
{
    for (;;) {
        kvbm_status st = kvbm_vllm_batch_encode(b, KVBM_VLLM_FORM_ARRAY, g->buf, g->buf_cap, len);
        if (st != KVBM_EOVERFLOW) return st;
        uint8_t *nb = kvbm__realloc(g->buf, *len);
        if (!nb) {
            kvbm__set_error("%s: out of memory for a batch of %zu bytes", WHO, *len);
            return KVBM_ENOMEM;
        }
        g->buf = nb;
        g->buf_cap = *len;
    }
}

static bool publish(kvbm__degress *g, const uint8_t *p, size_t len, uint64_t seq)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)(seq >> (56 - 8 * i));
    return zmq_send(g->pub, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
           zmq_send(g->pub, be, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
           zmq_send(g->pub, p, len, ZMQ_DONTWAIT) >= 0;
}

/* Convert, encode and publish events [from, from + n) of the drained list as one batch. */
static bool publish_chunk(kvbm_consolidator *c, size_t from, size_t n)
{
    kvbm__degress *g = c->eg;
    for (size_t i = 0; i < n; i++) convert(g, kvbm_cons_events_get(g->ev, from + i), i);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    kvbm_vllm_batch b = { .ts = (double)ts.tv_sec + ts.tv_nsec / 1e9, .events = g->vev, .n_events = n,
                          .has_dp_rank = true, .dp_rank = 0 };
    size_t len = 0;
    if (encode(g, &b, &len) != KVBM_OK) {
        KVBM__DINC(&c->egress_errors, 1);
        kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "egress: %zu events lost: %s", n, kvbm_last_error());
        return false;
    }
    uint64_t seq = g->seq++;
    keep(g, seq, g->buf, len);
    if (!publish(g, g->buf, len, seq)) {
        KVBM__DINC(&c->egress_errors, 1);
        kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "egress: batch %llu not sent: %s", (unsigned long long)seq,
                  zmq_strerror(zmq_errno()));
        return false;
    }
    KVBM__DINC(&c->batches_out, 1);
    KVBM__DINC(&c->events_out, n);
    if (kvbm__log_enabled(KVBM_LOG_DEBUG))
        kvbm__log(KVBM_LOG_DEBUG, KVBM__DMOD, "event=egress seq=%llu events=%zu bytes=%zu",
                  (unsigned long long)seq, n, len);
    return true;
}

bool kvbm__degress_tick(kvbm_consolidator *c)
{
    kvbm__degress *g = c->eg;
    if (!g || !g->pub || kvbm_cons_tracker_drain(c->tracker, g->ev) != KVBM_OK) return false;
    size_t n = kvbm_cons_events_count(g->ev);
    if (!n) return false;
    kvbm_status st = kvbm_cons_events_sort_egress(g->ev);
    if (st == KVBM_OK && !reserve(g, n < KVBM__DEGRESS_MAX_EVENTS ? n : KVBM__DEGRESS_MAX_EVENTS)) {
        kvbm__set_error("%s: out of memory for %zu events", WHO, n);
        st = KVBM_ENOMEM;
    }
    if (st != KVBM_OK) {
        KVBM__DINC(&c->egress_errors, 1);
        kvbm__log(KVBM_LOG_WARN, KVBM__DMOD, "egress: %zu events lost: %s", n, kvbm_last_error());
        return false;
    }
    /* batches of at most KVBM__DEGRESS_MAX_EVENTS: the order is the sorted order, so a
     * split changes nothing for a receiver that applies batches in sequence */
    bool sent = false;
    for (size_t from = 0; from < n; from += KVBM__DEGRESS_MAX_EVENTS) {
        size_t k = n - from < KVBM__DEGRESS_MAX_EVENTS ? n - from : KVBM__DEGRESS_MAX_EVENTS;
        sent = publish_chunk(c, from, k) || sent;
    }
    return sent;
}
