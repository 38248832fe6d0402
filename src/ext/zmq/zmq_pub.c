/* src/ext/zmq/zmq_pub.c - the ZeroMQ publisher (kvbm/zmq.h) on libzmq.
 *
 * publish() -> kvbm__msgq (copy, never blocks) -> one sender thread that owns the XPUB
 * socket: [topic, payload] with ZMQ_DONTWAIT; when the socket refuses (a subscriber's
 * high-water mark, ZMQ_XPUB_NODROP) the sender waits for POLLOUT and the message stays
 * queued, so back-pressure fills our queue and publish() drops the newest, counted.
 * The sender also reads the subscription messages of the XPUB (counted).
 */
#include "kvbm/zmq.h"

#include <errno.h>
#include <stdio.h>
#include <zmq.h>

#include "../common/transport.h"
#include "../common/url.h"

#define WHO     "zmq publisher"
#define WAIT_MS 50 /* sender: wait for work / for the socket, then re-check stop */

typedef struct zmq_pub {
    kvbm__transport  t; /* first: queue, sender thread, bytes_sent */
    void            *zctx, *sock;
    char            *topic;
    size_t           topic_len;
    _Atomic uint64_t subscriptions, send_errors;
} zmq_pub;

static kvbm_status zp_publish(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    (void)subject; /* the topic frame is the constant (spec 20 §3.5) */
    return kvbm__msgq_push(&((zmq_pub *)ctx)->t.q, WHO, "", buf, len);
}

static kvbm_status zp_flush(void *ctx, int timeout_ms)
{
    return kvbm__msgq_wait_done(&((zmq_pub *)ctx)->t.q, WHO, timeout_ms);
}

/* Read pending subscription messages (first byte 1 = subscribe). Sender thread only. */
static void read_subscriptions(zmq_pub *c)
{
    uint8_t b[64];
    int n;
    while ((n = zmq_recv(c->sock, b, sizeof b, ZMQ_DONTWAIT)) >= 0)
        if (n > 0 && b[0] == 1) atomic_fetch_add_explicit(&c->subscriptions, 1, memory_order_relaxed);
}

/* Send one frame, waiting for the socket while it refuses; false once stopped. */
static bool send_frame(zmq_pub *c, const void *p, size_t n, int more)
{
    for (;;) {
        if (zmq_send(c->sock, p, n, ZMQ_DONTWAIT | more) >= 0) return true;
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR) { /* unrecoverable: drop it, counted */
            atomic_fetch_add_explicit(&c->send_errors, 1, memory_order_relaxed);
            return true;
        }
        zmq_pollitem_t it = { c->sock, 0, ZMQ_POLLOUT, 0 };
        zmq_poll(&it, 1, WAIT_MS);
        read_subscriptions(c);
        if (!kvbm__msgq_sleep(&c->t.q, 0)) return false;
    }
}

static void *sender(void *arg)
{
    kvbm__thread_name("kvbm-zmq");
    zmq_pub *c = arg;
    for (;;) {
        kvbm__msg m;
        uint64_t seq;
        read_subscriptions(c);
        if (!kvbm__msgq_take(&c->t.q, WAIT_MS, &m, &seq)) {
            if (!kvbm__msgq_sleep(&c->t.q, 0)) break;
            continue;
        }
        if (!send_frame(c, c->topic, c->topic_len, ZMQ_SNDMORE) ||
            !send_frame(c, kvbm__msg_payload(&m), m.len, 0))
            break;
        atomic_fetch_add_explicit(&c->t.bytes_sent, m.len, memory_order_relaxed);
        kvbm__msgq_done(&c->t.q, seq + 1);
    }
    return NULL;
}

static void zp_destroy(void *ctx)
{
    zmq_pub *c = ctx;
    kvbm__transport_stop(&c->t);
    if (c->sock) zmq_close(c->sock);
    if (c->zctx) zmq_ctx_term(c->zctx);
    kvbm__transport_free_queue(&c->t);
    kvbm__free(c->topic);
    kvbm__free(c);
}

static const kvbm_publisher_ops zmq_ops = { zp_publish, zp_flush, zp_destroy };

static kvbm_status zmq_fail(const char *what, const char *url)
{
    int e = zmq_errno();
    kvbm__set_error("%s: %s %s failed: %s", WHO, what, url, zmq_strerror(e));
    return e == EADDRINUSE ? KVBM_EADDRINUSE : e == ENOMEM ? KVBM_ENOMEM : KVBM_ECONNECT;
}

static kvbm_status open_socket(zmq_pub *c, const kvbm_zmq_config *cfg, const kvbm__url *u, bool bind)
{
    char ep[KVBM__URL_HOST_MAX + 16];
    snprintf(ep, sizeof ep, u->ipv6 ? "tcp://[%s]:%u" : "tcp://%s:%u", u->host, (unsigned)u->port);
    if (!(c->zctx = zmq_ctx_new())) return zmq_fail("zmq_ctx_new for", cfg->url);
    if (!(c->sock = zmq_socket(c->zctx, ZMQ_XPUB))) return zmq_fail("zmq_socket for", cfg->url);
    int zero = 0, one = 1, hwm = (int)c->t.q.cap;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->sock, ZMQ_XPUB_NODROP, &one, sizeof one);
    zmq_setsockopt(c->sock, ZMQ_XPUB_VERBOSE, &one, sizeof one);
    if (u->ipv6) zmq_setsockopt(c->sock, ZMQ_IPV6, &one, sizeof one);
    if ((bind ? zmq_bind(c->sock, ep) : zmq_connect(c->sock, ep)) != 0)
        return zmq_fail(bind ? "bind to" : "connect to", cfg->url);
    return KVBM_OK;
}

static kvbm_status start(void *ctx, const void *config)
{
    zmq_pub *c = ctx;
    const kvbm_zmq_config *cfg = config;
    kvbm__url u;
    KVBM_TRY(kvbm__url_parse(WHO, cfg->url, "zmq+tcp", 0, &u));
    if (u.option[0] && strcmp(u.option, "bind") != 0) {
        kvbm__set_error("%s: bad URL \"%s\": unknown option \"%s\" (only ?bind)", WHO, cfg->url, u.option);
        return KVBM_EINVAL;
    }
    bool bind = cfg->bind || u.option[0];
    if (!bind && !strcmp(u.host, "*")) {
        kvbm__set_error("%s: bad URL \"%s\": cannot connect to host \"*\" (add ?bind)", WHO, cfg->url);
        return KVBM_EINVAL;
    }
    const char *topic = cfg->topic ? cfg->topic : KVBM_ZMQ_DEFAULT_TOPIC;
    if (!*topic) {
        kvbm__set_error("%s: the topic is empty", WHO);
        return KVBM_EINVAL;
    }
    c->topic_len = strlen(topic);
    if (!(c->topic = kvbm__malloc(c->topic_len + 1))) {
        kvbm__set_error("%s: out of memory", WHO);
        return KVBM_ENOMEM;
    }
    memcpy(c->topic, topic, c->topic_len + 1);
    KVBM_TRY(kvbm__msgq_init(&c->t.q, cfg->queue_capacity ? cfg->queue_capacity : 1024));
    KVBM_TRY(open_socket(c, cfg, &u, bind));
    return kvbm__transport_start(&c->t, WHO, sender);
}

kvbm_status kvbm_zmq_publisher_create(const kvbm_zmq_config *cfg, kvbm_publisher **out)
{
    return kvbm__transport_create("kvbm_zmq_publisher_create", WHO, sizeof(zmq_pub), cfg, start,
                                  zp_destroy, &zmq_ops, out);
}

kvbm_status kvbm_zmq_publisher_get_stats(const kvbm_publisher *p, kvbm_zmq_stats *out)
{
    kvbm__msgq_counts n;
    zmq_pub *c = kvbm__transport_stats(p, zp_publish, out, "kvbm_zmq_publisher_get_stats", "ZeroMQ publisher", &n);
    if (!c) return KVBM_EINVAL;
    memset(out, 0, sizeof *out);
    out->accepted = n.accepted;
    out->dropped = n.dropped;
    out->sent = n.done;
    out->queued = n.queued;
    out->bytes_sent = atomic_load_explicit(&c->t.bytes_sent, memory_order_relaxed);
    out->subscriptions = atomic_load_explicit(&c->subscriptions, memory_order_relaxed);
    out->send_errors = atomic_load_explicit(&c->send_errors, memory_order_relaxed);
    return KVBM_OK;
}
