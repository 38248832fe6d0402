/* src/ext/vllm/pub.c - the vLLM-compatible ZMQ KV-event publisher (kvbm/vllm_pub.h).
 *
 * One mutex (p->mu) guards the PUB socket, the sequence counter, the encode buffer, the
 * replay ring and the counters. The ring is indexed by seq % capacity; with replay enabled
 * a batch is encoded straight into its ring slot (no second copy). The replay thread owns
 * the ROUTER socket; per answered batch it copies one slot into a zmq message under the
 * mutex and sends it after releasing it. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "internal.h"
#include "kvbm/vllm_pub.h"

#define EP_MAX 512

struct slot {
    uint8_t *data;
    size_t   len, cap;
};

struct kvbm_vllm_pub {
    void           *ctx, *pub, *router;
    pthread_mutex_t mu;
    pthread_t       thread;
    bool            thread_started;
    atomic_bool     stop;
    char           *topic;
    size_t          topic_len;
    kvbm_vllm_form  form;
    uint64_t        next_seq;
    struct slot     enc;    /* encode buffer when there is no ring */
    struct slot    *ring;   /* replay ring (NULL without replay) */
    uint32_t        ring_cap;
    uint64_t        ring_count;
    kvbm_vllm_pub_stats st;
    char            ep[EP_MAX], rep[EP_MAX];
};

/* ---- endpoints --------------------------------------------------------------------- */

/* vLLM's DP rule: tcp port + r; ipc/inproc path + "_dp<r>" */
static kvbm_status shift_endpoint(const char *in, uint32_t r, char *out, size_t cap)
{
    static const char fn[] = "kvbm_vllm_pub_create";
    int n = 0;
    if (r == 0) {
        n = snprintf(out, cap, "%s", in);
    } else if (strncmp(in, "tcp://", 6) == 0) {
        const char *c = strrchr(in, ':');
        char *end;
        errno = 0;
        unsigned long port = c && c > in + 5 ? strtoul(c + 1, &end, 10) : 0;
        if (c == NULL || c <= in + 5 || c[1] < '0' || c[1] > '9' || *end != '\0' || errno || port + r > 65535) {
            kvbm__set_error("%s: endpoint \"%s\": no numeric TCP port that dp_rank %u can shift within 65535", fn,
                            in, r);
            return KVBM_EINVAL;
        }
        n = snprintf(out, cap, "%.*s:%lu", (int)(c - in), in, port + r);
    } else if (strncmp(in, "ipc://", 6) == 0 || strncmp(in, "inproc://", 9) == 0) {
        n = snprintf(out, cap, "%s_dp%u", in, r);
    } else {
        kvbm__set_error("%s: endpoint \"%s\": dp_rank %u needs a tcp://, ipc:// or inproc:// endpoint", fn, in, r);
        return KVBM_EINVAL;
    }
    if (n < 0 || (size_t)n >= cap) {
        kvbm__set_error("%s: endpoint \"%s\" longer than %zu bytes", fn, in, cap - 1);
        return KVBM_EINVAL;
    }
    return KVBM_OK;
}

static kvbm_status open_socket(struct kvbm_vllm_pub *p, int type, const char *endpoint, uint32_t dp, int hwm,
                               void **sock, char *bound)
{
    static const char fn[] = "kvbm_vllm_pub_create";
    char ep[EP_MAX];
    KVBM_TRY(shift_endpoint(endpoint, dp, ep, sizeof ep));
    int zero = 0;
    *sock = zmq_socket(p->ctx, type);
    if (*sock == NULL || zmq_setsockopt(*sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(*sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(*sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0) {
        kvbm__set_error("%s: zmq socket for \"%s\": %s", fn, ep, zmq_strerror(zmq_errno()));
        return KVBM_EIO;
    }
    if (zmq_bind(*sock, ep) != 0) {
        int e = zmq_errno();
        kvbm__set_error("%s: cannot bind \"%s\": %s", fn, ep, zmq_strerror(e));
        return e == EADDRINUSE                                              ? KVBM_EADDRINUSE
               : e == EINVAL || e == EPROTONOSUPPORT || e == ENOCOMPATPROTO ? KVBM_EINVAL
               : e == ENOMEM                                                ? KVBM_ENOMEM
                                                                            : KVBM_ECONNECT;
    }
    size_t len = EP_MAX;
    if (zmq_getsockopt(*sock, ZMQ_LAST_ENDPOINT, bound, &len) != 0) snprintf(bound, EP_MAX, "%s", ep);
    return KVBM_OK;
}

/* ---- replay thread ----------------------------------------------------------------- */

static void be64(uint64_t v, uint8_t out[8])
{
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* receive one request; false when it is not [identity, empty, start_seq BE8] */
static bool recv_request(void *s, uint8_t *id, size_t *id_len, uint64_t *start)
{
    int frames = 0, more = 1;
    size_t sizes[3] = { 0, 0, 0 };
    uint8_t seq[8] = { 0 };
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return false;
        }
        size_t n = zmq_msg_size(&m);
        if (frames < 3) sizes[frames] = n;
        if (frames == 0 && n <= 255) memcpy(id, zmq_msg_data(&m), n);
        if (frames == 2 && n == 8) memcpy(seq, zmq_msg_data(&m), 8);
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        frames++;
    }
    if (frames != 3 || sizes[0] > 255 || sizes[1] != 0 || sizes[2] != 8) return false;
    *id_len = sizes[0];
    *start = 0;
    for (int i = 0; i < 8; i++) *start = *start << 8 | seq[i];
    return true;
}

/* [identity, empty, seq BE8, payload-message] without waiting; false if refused */
static bool send_answer(void *s, const uint8_t *id, size_t id_len, uint64_t seq, zmq_msg_t *payload)
{
    uint8_t b[8];
    be64(seq, b);
    bool ok = zmq_send(s, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
              zmq_send(s, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 && zmq_send(s, b, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
              zmq_msg_send(payload, s, ZMQ_DONTWAIT) >= 0;
    if (!ok) zmq_msg_close(payload);
    return ok;
}

static void serve(struct kvbm_vllm_pub *p, const uint8_t *id, size_t id_len, uint64_t start)
{
    uint64_t sent = 0;
    pthread_mutex_lock(&p->mu);
    uint64_t end = p->next_seq; /* batches published after the request are not replayed */
    pthread_mutex_unlock(&p->mu);
    for (uint64_t s = start; s < end; s++) {
        zmq_msg_t m;
        pthread_mutex_lock(&p->mu);
        uint64_t oldest = p->next_seq - p->ring_count;
        if (s < oldest) s = oldest;
        bool have = s < end;
        if (have) {
            const struct slot *sl = &p->ring[s % p->ring_cap];
            have = zmq_msg_init_size(&m, sl->len) == 0;
            if (have) memcpy(zmq_msg_data(&m), sl->data, sl->len);
        }
        pthread_mutex_unlock(&p->mu);
        if (!have) break;
        sent += send_answer(p->router, id, id_len, s, &m);
    }
    zmq_msg_t endm;
    zmq_msg_init(&endm);
    send_answer(p->router, id, id_len, KVBM_VLLM_REPLAY_END, &endm);
    pthread_mutex_lock(&p->mu);
    p->st.replays++;
    p->st.replayed_batches += sent;
    pthread_mutex_unlock(&p->mu);
}

static void *replay_main(void *arg)
{
    struct kvbm_vllm_pub *p = arg;
    while (!atomic_load(&p->stop)) {
        zmq_pollitem_t it = { p->router, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll(&it, 1, 50);
        if (rc < 0 && zmq_errno() == ETERM) break;
        if (rc <= 0) continue;
        uint8_t id[256];
        size_t id_len = 0;
        uint64_t start = 0;
        if (recv_request(p->router, id, &id_len, &start)) {
            serve(p, id, id_len, start);
        } else {
            pthread_mutex_lock(&p->mu);
            p->st.bad_requests++;
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------- */

void kvbm_vllm_pub_destroy(kvbm_vllm_pub *p)
{
    if (p == NULL) return;
    atomic_store(&p->stop, true);
    if (p->thread_started) pthread_join(p->thread, NULL);
    if (p->router) zmq_close(p->router);
    if (p->pub) zmq_close(p->pub);
    if (p->ctx) zmq_ctx_term(p->ctx);
    for (uint32_t i = 0; p->ring && i < p->ring_cap; i++) kvbm__free(p->ring[i].data);
    kvbm__free(p->ring);
    kvbm__free(p->enc.data);
    kvbm__free(p->topic);
    pthread_mutex_destroy(&p->mu);
    kvbm__free(p);
}

static kvbm_status start(struct kvbm_vllm_pub *p, const kvbm_vllm_pub_config *c)
{
    static const char fn[] = "kvbm_vllm_pub_create";
    const char *topic = c->topic ? c->topic : "";
    p->topic_len = strlen(topic);
    p->topic = kvbm__malloc(p->topic_len + 1);
    if (p->topic == NULL) {
        kvbm__set_error("%s: no memory for the topic", fn);
        return KVBM_ENOMEM;
    }
    memcpy(p->topic, topic, p->topic_len + 1);
    if (c->replay_endpoint) {
        p->ring_cap = c->replay_buffer ? c->replay_buffer : KVBM_VLLM_PUB_DEFAULT_REPLAY;
        p->ring = kvbm__calloc(p->ring_cap, sizeof *p->ring);
        if (p->ring == NULL) {
            kvbm__set_error("%s: no memory for a replay buffer of %u batches", fn, p->ring_cap);
            return KVBM_ENOMEM;
        }
    }
    p->ctx = zmq_ctx_new();
    if (p->ctx == NULL) {
        kvbm__set_error("%s: zmq_ctx_new: %s", fn, zmq_strerror(zmq_errno()));
        return KVBM_EIO;
    }
    int hwm = c->hwm ? c->hwm : KVBM_VLLM_PUB_DEFAULT_HWM;
    KVBM_TRY(open_socket(p, ZMQ_PUB, c->endpoint ? c->endpoint : KVBM_VLLM_PUB_DEFAULT_ENDPOINT, c->dp_rank, hwm,
                         &p->pub, p->ep));
    if (c->replay_endpoint == NULL) return KVBM_OK;
    KVBM_TRY(open_socket(p, ZMQ_ROUTER, c->replay_endpoint, c->dp_rank, hwm, &p->router, p->rep));
    if (pthread_create(&p->thread, NULL, replay_main, p) != 0) {
        kvbm__set_error("%s: cannot start the replay thread", fn);
        return KVBM_EIO;
    }
    p->thread_started = true;
    return KVBM_OK;
}

kvbm_status kvbm_vllm_pub_create(const kvbm_vllm_pub_config *cfg, kvbm_vllm_pub **out)
{
    static const char fn[] = "kvbm_vllm_pub_create";
    kvbm_vllm_pub_config def = KVBM_VLLM_PUB_CONFIG_INIT;
    const kvbm_vllm_pub_config *c = cfg ? cfg : &def;
    if (out == NULL || (unsigned)c->form > KVBM_VLLM_FORM_ARRAY || c->hwm < 0) {
        kvbm__set_error("%s: %s", fn, out == NULL ? "out is NULL" : c->hwm < 0 ? "negative hwm" : "form outside its enum");
        return KVBM_EINVAL;
    }
    struct kvbm_vllm_pub *p = kvbm__calloc(1, sizeof *p);
    if (p == NULL) {
        kvbm__set_error("%s: no memory", fn);
        return KVBM_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    atomic_init(&p->stop, false);
    p->form = c->form;
    kvbm_status st = start(p, c);
    if (st != KVBM_OK) {
        kvbm_vllm_pub_destroy(p);
        return st;
    }
    *out = p;
    return KVBM_OK;
}

/* ---- sending ----------------------------------------------------------------------- */

/* the buffer the next batch is written to: its ring slot, or the encode buffer */
static struct slot *next_slot(struct kvbm_vllm_pub *p)
{
    return p->ring ? &p->ring[p->next_seq % p->ring_cap] : &p->enc;
}

/* writing the next slot failed: with a full ring it held the oldest batch, now lost */
static void slot_failed(struct kvbm_vllm_pub *p, struct slot *s)
{
    s->len = 0;
    if (p->ring && p->ring_count == p->ring_cap) p->ring_count--;
}

static kvbm_status grow(struct slot *s, size_t n)
{
    if (n <= s->cap) return KVBM_OK;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n) cap *= 2;
    uint8_t *d = kvbm__realloc(s->data, cap);
    if (d == NULL) {
        kvbm__set_error("kvbm_vllm_pub_send: no memory for a %zu-byte payload", n);
        return KVBM_ENOMEM;
    }
    s->data = d;
    s->cap = cap;
    return KVBM_OK;
}

/* under p->mu: number @data (already in its ring slot, if any) and send it */
static kvbm_status publish_locked(struct kvbm_vllm_pub *p, const uint8_t *data, size_t len, uint64_t *seq)
{
    uint8_t b[8];
    uint64_t n = p->next_seq++;
    if (p->ring && p->ring_count < p->ring_cap) p->ring_count++;
    be64(n, b);
    if (seq) *seq = n;
    p->st.batches++;
    p->st.bytes += len;
    if (zmq_send(p->pub, p->topic, p->topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(p->pub, b, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 || zmq_send(p->pub, data, len, ZMQ_DONTWAIT) < 0) {
        p->st.send_errors++;
        kvbm__set_error("kvbm_vllm_pub_send: batch %" PRIu64 " refused by the socket: %s", n, zmq_strerror(zmq_errno()));
        return KVBM_EIO;
    }
    return KVBM_OK;
}

kvbm_status kvbm_vllm_pub_send(kvbm_vllm_pub *p, const kvbm_vllm_batch *batch, uint64_t *seq)
{
    if (p == NULL || batch == NULL) {
        kvbm__set_error("kvbm_vllm_pub_send: %s is NULL", p == NULL ? "publisher" : "batch");
        return KVBM_EINVAL;
    }
    pthread_mutex_lock(&p->mu);
    struct slot *s = next_slot(p);
    size_t len = 0;
    kvbm_status st = kvbm_vllm_batch_encode(batch, p->form, s->data, s->cap, &len);
    if (st == KVBM_EOVERFLOW && (st = grow(s, len)) == KVBM_OK)
        st = kvbm_vllm_batch_encode(batch, p->form, s->data, s->cap, &len);
    if (st == KVBM_OK) {
        s->len = len;
        st = publish_locked(p, s->data, len, seq);
    } else {
        slot_failed(p, s);
        if (st != KVBM_ENOMEM) p->st.encode_errors++;
    }
    pthread_mutex_unlock(&p->mu);
    return st;
}

kvbm_status kvbm_vllm_pub_send_payload(kvbm_vllm_pub *p, const uint8_t *payload, size_t len, uint64_t *seq)
{
    if (p == NULL || (payload == NULL && len > 0)) {
        kvbm__set_error("kvbm_vllm_pub_send_payload: %s is NULL", p == NULL ? "publisher" : "payload");
        return KVBM_EINVAL;
    }
    pthread_mutex_lock(&p->mu);
    kvbm_status st = KVBM_OK;
    const uint8_t *data = payload;
    if (p->ring) {
        struct slot *s = next_slot(p);
        st = grow(s, len);
        if (st != KVBM_OK) slot_failed(p, s);
        else if (len > 0) memcpy(s->data, payload, len);
        s->len = st == KVBM_OK ? len : 0;
        data = s->data;
    }
    if (st == KVBM_OK) st = publish_locked(p, data, len, seq);
    pthread_mutex_unlock(&p->mu);
    return st;
}

kvbm_status kvbm_vllm_pub_get_stats(kvbm_vllm_pub *p, kvbm_vllm_pub_stats *out)
{
    if (p == NULL || out == NULL) {
        kvbm__set_error("kvbm_vllm_pub_get_stats: %s is NULL", p == NULL ? "publisher" : "out");
        return KVBM_EINVAL;
    }
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    pthread_mutex_unlock(&p->mu);
    return KVBM_OK;
}

kvbm_status kvbm_vllm_pub_endpoint(kvbm_vllm_pub *p, bool replay, char *buf, size_t cap)
{
    if (p == NULL || buf == NULL) {
        kvbm__set_error("kvbm_vllm_pub_endpoint: %s is NULL", p == NULL ? "publisher" : "buf");
        return KVBM_EINVAL;
    }
    if (replay && p->router == NULL) {
        kvbm__set_error("kvbm_vllm_pub_endpoint: the publisher has no replay socket");
        return KVBM_ENOENT;
    }
    const char *e = replay ? p->rep : p->ep;
    if (strlen(e) + 1 > cap) {
        kvbm__set_error("kvbm_vllm_pub_endpoint: %zu bytes needed, buffer has %zu", strlen(e) + 1, cap);
        return KVBM_EOVERFLOW;
    }
    memcpy(buf, e, strlen(e) + 1);
    return KVBM_OK;
}
