/* src/ext/nats/nats.c - the NATS publisher (kvbm/nats.h) on the NATS C client (libnats).
 *
 * publish() -> kvbm__msgq (copy, never blocks) -> one sender thread, which owns the
 * connection:
 *   take up to CHUNK messages, natsConnection_Publish each, then a MARKER: a small message
 *   on a private inbox this connection is subscribed to, carrying a sequence number. The
 *   server handles a connection's bytes in order, so the marker coming back on the SAME
 *   connection proves that the server handled every message published before it: they
 *   are done (confirmed). When anything fails (a publish, the marker does not come back,
 *   the connection is not CONNECTED) the queue is rewound; the sender destroys the
 *   connection, connects a new one (every reconnect_wait_ms, no limit) and sends every
 *   unconfirmed message again, in order.
 * Two behaviours of libnats 3.4 ruled out its own reconnection and its PING/PONG flush as
 * the proof (both caught by the fault test, docs/notes/test-failures.md):
 *   - natsConnection_FlushTimeout returned NATS_OK for a PING written to a connection that
 *     was being reset, without any PONG: a message confirmed that way was lost uncounted;
 *   - during its reconnection a publish could still be accepted (reconnect buffer of 1 byte
 *     notwithstanding) and was sent on the new connection BEFORE our in-order resend.
 * With libnats reconnection off, bytes written to a dead connection die with it, and the
 * only buffer - the only place where messages are dropped, counted - is ours. The flush is
 * still called after a marker, to push the bytes out at once, but its OK proves nothing.
 * No callbacks are registered (the client library calls them from its own threads); the
 * stats read counters the sender keeps, never the connection it may be replacing.
 */
#include "kvbm/nats.h"

#include <nats/nats.h>
#include <stdio.h>

#include "../common/transport.h"
#include "../common/url.h"

#define WHO          "nats publisher"
#define CHUNK        1024   /* messages per round trip, at most ... */
#define CHUNK_BYTES  (1u << 20) /* ... and about this many payload bytes: one marker round
                                 * trip wakes nats-server and three threads here; per 64
                                 * messages it cost more CPU than the messages did
                                 * (docs/PERFORMANCE.md §21) */
#define TAKE         64     /* messages taken from the queue per lock hold */
#define IOBUF        (256 << 10) /* the client library's socket buffers (its default 32 KiB) */
#define RTT_WAIT_MS  1000   /* one round trip attempt */
#define POLL_MS      20     /* pause after a failed chunk while still connected */

typedef struct nats_pub {
    kvbm__transport t;           /* first: queue, sender thread, bytes_sent */
    natsConnection *nc;          /* sender thread only (after start) */
    natsSubscription *marks;     /* nc's subscription to the inbox the markers come back on */
    natsOptions    *opts;
    char           *subject;     /* default subject (owned) */
    char            url[300];
    char            inbox[64];
    int             reconnect_wait_ms;
    uint64_t        mark_seq;    /* sender thread only: the last marker sent */
    _Atomic int64_t  max_payload; /* the server's, refreshed by the sender (publish never
                                   * takes a client-library lock) */
    _Atomic uint64_t reconnects; /* connections made after the first */
    _Atomic bool     up;         /* nc exists and was CONNECTED when last looked at */
} nats_pub;

kvbm_status kvbm_nats_subject_check(const char *subject)
{
    if (!subject || !*subject) {
        kvbm__set_error("%s: subject %s", WHO, subject ? "\"\" is empty" : "is NULL");
        return KVBM_EINVAL;
    }
    const char *tok = subject;
    for (const char *p = subject;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t n = (size_t)(p - tok);
            const char *why = n == 0                                      ? "has an empty token"
                            : (n == 1 && (*tok == '*' || *tok == '>')) ? "has a wildcard token (not allowed to publish)"
                                                                       : NULL;
            if (why) {
                kvbm__set_error("%s: subject \"%s\" %s", WHO, subject, why);
                return KVBM_EINVAL;
            }
            if (*p == '\0') return KVBM_OK;
            tok = p + 1;
        } else if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            kvbm__set_error("%s: subject \"%s\" contains whitespace or a control character", WHO, subject);
            return KVBM_EINVAL;
        }
    }
}

static kvbm_status np_publish(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    nats_pub *c = ctx;
    if (!*subject) {
        subject = c->subject;
    } else if (strcmp(subject, c->subject) != 0) {
        KVBM_TRY(kvbm_nats_subject_check(subject));
    }
    int64_t maxp = atomic_load_explicit(&c->max_payload, memory_order_relaxed);
    if ((maxp > 0 && len > (uint64_t)maxp) || len > INT32_MAX) {
        kvbm__set_error("%s: message of %zu bytes exceeds the server's max_payload %lld (%s)", WHO, len,
                        (long long)maxp, c->url);
        return KVBM_ERANGE;
    }
    return kvbm__msgq_push(&c->t.q, WHO, subject, buf, len);
}

static kvbm_status np_flush(void *ctx, int timeout_ms)
{
    return kvbm__msgq_wait_done(&((nats_pub *)ctx)->t.q, WHO, timeout_ms);
}

static bool connected(nats_pub *c)
{
    bool up = c->nc && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
    atomic_store_explicit(&c->up, up, memory_order_relaxed);
    return up;
}

/* Publish what was taken (*m first) and up to CHUNK-1 more (CHUNK_BYTES permitting),
 * taking them TAKE at a time (one queue lock hold each); false if a publish failed.
 * *end = one past the last sequence number published or failed. */
static bool send_chunk(nats_pub *c, kvbm__msg m, uint64_t seq, uint64_t *end)
{
    kvbm__msg ms[TAKE];
    size_t k = 1, n = 0, bytes = 0;
    ms[0] = m;
    for (;;) {
        size_t sent = 0;
        for (size_t i = 0; i < k; i++) {
            *end = seq + i + 1;
            natsStatus s = natsConnection_Publish(c->nc, kvbm__msg_subject(&ms[i]), kvbm__msg_payload(&ms[i]),
                                                  (int)ms[i].len);
            if (s != NATS_OK) {
                atomic_fetch_add_explicit(&c->t.bytes_sent, sent, memory_order_relaxed);
                return false;
            }
            sent += ms[i].len;
        }
        atomic_fetch_add_explicit(&c->t.bytes_sent, sent, memory_order_relaxed);
        n += k;
        bytes += sent;
        if (n >= CHUNK || bytes >= CHUNK_BYTES) return true;
        k = kvbm__msgq_try_take_many(&c->t.q, ms, CHUNK - n < TAKE ? CHUNK - n : TAKE, CHUNK_BYTES - bytes, &seq);
        if (k == 0) return true;
    }
}

/* Wait for marker @want on the inbox (older ones, from an attempt given up, are skipped). */
static natsStatus await_marker(nats_pub *c, uint64_t want)
{
    for (;;) {
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, c->marks, RTT_WAIT_MS);
        if (s != NATS_OK) return s;
        uint64_t got = 0;
        if (natsMsg_GetDataLength(m) == (int)sizeof got) memcpy(&got, natsMsg_GetData(m), sizeof got);
        natsMsg_Destroy(m);
        if (got == want) return NATS_OK;
    }
}

/* Everything below @end was published on this connection: confirm it with a marker.
 * False: the connection failed before the marker came back. */
static bool confirm(nats_pub *c, uint64_t end)
{
    uint64_t want = ++c->mark_seq;
    natsStatus s = natsConnection_Publish(c->nc, c->inbox, &want, (int)sizeof want);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(c->nc, RTT_WAIT_MS); /* an OK proves nothing */
    for (;;) {
        if (s == NATS_OK || s == NATS_TIMEOUT) s = await_marker(c, want);
        if (s == NATS_OK) {
            kvbm__msgq_done(&c->t.q, end);
            return true;
        }
        /* a slow server while still connected: wait again rather than send twice */
        if (s != NATS_TIMEOUT || !connected(c) || !kvbm__msgq_sleep(&c->t.q, 0)) return false;
    }
}

static void disconnect(nats_pub *c)
{
    atomic_store_explicit(&c->up, false, memory_order_relaxed);
    if (c->marks) natsSubscription_Destroy(c->marks);
    if (c->nc) natsConnection_Destroy(c->nc); /* closes; what it still buffered is gone */
    c->marks = NULL;
    c->nc = NULL;
}

/* A new connection with its inbox subscription in place (the SUB confirmed by a round
 * trip, so the first marker cannot overtake it). */
static natsStatus connect_once(nats_pub *c)
{
    natsStatus s = natsConnection_Connect(&c->nc, c->opts);
    if (s != NATS_OK) {
        c->nc = NULL;
        return s;
    }
    s = natsConnection_SubscribeSync(&c->marks, c->nc, c->inbox);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(c->nc, RTT_WAIT_MS);
    if (s == NATS_OK && !connected(c)) s = NATS_CONNECTION_DISCONNECTED;
    if (s != NATS_OK) {
        disconnect(c);
        return s;
    }
    atomic_store_explicit(&c->max_payload, natsConnection_GetMaxPayload(c->nc), memory_order_relaxed);
    return NATS_OK;
}

static void *sender(void *arg)
{
    kvbm__thread_name("kvbm-nats");
    nats_pub *c = arg;
    for (;;) {
        if (!connected(c)) {
            disconnect(c);
            if (connect_once(c) == NATS_OK) {
                atomic_fetch_add_explicit(&c->reconnects, 1, memory_order_relaxed);
            } else if (!kvbm__msgq_sleep(&c->t.q, c->reconnect_wait_ms)) {
                break;
            }
            continue;
        }
        kvbm__msg m;
        uint64_t seq, end = 0;
        if (!kvbm__msgq_take(&c->t.q, 100, &m, &seq)) {
            if (!kvbm__msgq_sleep(&c->t.q, 0)) break; /* stopped */
            continue;
        }
        if (!send_chunk(c, m, seq, &end) || !confirm(c, end)) {
            kvbm__msgq_rewind(&c->t.q); /* send the unconfirmed tail again, in order */
            if (connected(c) && !kvbm__msgq_sleep(&c->t.q, POLL_MS)) break; /* e.g. a rejected message */
        }
    }
    return NULL;
}

/* Undo whatever start() got to (also the destroy op). */
static void np_destroy(void *ctx)
{
    nats_pub *c = ctx;
    kvbm__transport_stop(&c->t);
    disconnect(c);
    if (c->opts) natsOptions_Destroy(c->opts);
    kvbm__transport_free_queue(&c->t);
    kvbm__free(c->subject);
    kvbm__free(c);
}

static const kvbm_publisher_ops nats_ops = { np_publish, np_flush, np_destroy };

static kvbm_status client_error(const char *what, natsStatus s)
{
    kvbm__set_error("%s: %s failed: %s", WHO, what, natsStatus_GetText(s));
    return s == NATS_NO_MEMORY ? KVBM_ENOMEM : KVBM_EIO;
}

static kvbm_status make_options(nats_pub *c, const kvbm_nats_config *cfg)
{
    natsStatus s = natsOptions_Create(&c->opts);
    if (s != NATS_OK) return client_error("natsOptions_Create", s);
    int cto = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 2000;
    int rw = cfg->reconnect_wait_ms > 0 ? cfg->reconnect_wait_ms : 250;
    if ((s = natsOptions_SetURL(c->opts, c->url)) != NATS_OK ||
        (s = natsOptions_SetTimeout(c->opts, cto)) != NATS_OK ||
        (s = natsOptions_SetAllowReconnect(c->opts, false)) != NATS_OK || /* the sender reconnects */
        (s = natsOptions_SetIOBufSize(c->opts, IOBUF)) != NATS_OK)
        return client_error("natsOptions", s);
    c->reconnect_wait_ms = rw;
    return KVBM_OK;
}

static kvbm_status start(void *ctx, const void *config)
{
    nats_pub *c = ctx;
    const kvbm_nats_config *cfg = config;
    kvbm__url u;
    KVBM_TRY(kvbm__url_parse(WHO, cfg->url, "nats", 4222, &u));
    if (u.option[0] || !strcmp(u.host, "*")) {
        kvbm__set_error("%s: bad URL \"%s\": expected nats://HOST[:PORT]", WHO, cfg->url);
        return KVBM_EINVAL;
    }
    snprintf(c->url, sizeof c->url, u.ipv6 ? "nats://[%s]:%u" : "nats://%s:%u", u.host, (unsigned)u.port);
    const char *subj = cfg->subject ? cfg->subject : KVBM_NATS_DEFAULT_SUBJECT;
    KVBM_TRY(kvbm_nats_subject_check(subj));
    size_t sl = strlen(subj);
    if (!(c->subject = kvbm__malloc(sl + 1))) {
        kvbm__set_error("%s: out of memory", WHO);
        return KVBM_ENOMEM;
    }
    memcpy(c->subject, subj, sl + 1);
    KVBM_TRY(kvbm__msgq_init(&c->t.q, cfg->queue_capacity ? cfg->queue_capacity : 4096));
    KVBM_TRY(make_options(c, cfg));
    natsInbox *inbox = NULL;
    natsStatus s = natsInbox_Create(&inbox);
    if (s != NATS_OK) return client_error("natsInbox_Create", s);
    snprintf(c->inbox, sizeof c->inbox, "%s", (const char *)inbox);
    natsInbox_Destroy(inbox);
    if ((s = connect_once(c)) != NATS_OK) {
        kvbm__set_error("%s: cannot connect to %s: %s", WHO, cfg->url, natsStatus_GetText(s));
        return s == NATS_NO_MEMORY ? KVBM_ENOMEM : KVBM_ECONNECT;
    }
    return kvbm__transport_start(&c->t, WHO, sender);
}

kvbm_status kvbm_nats_publisher_create(const kvbm_nats_config *cfg, kvbm_publisher **out)
{
    return kvbm__transport_create("kvbm_nats_publisher_create", WHO, sizeof(nats_pub), cfg, start,
                                  np_destroy, &nats_ops, out);
}

kvbm_status kvbm_nats_publisher_get_stats(const kvbm_publisher *p, kvbm_nats_stats *out)
{
    kvbm__msgq_counts n;
    nats_pub *c = kvbm__transport_stats(p, np_publish, out, "kvbm_nats_publisher_get_stats", "NATS publisher", &n);
    if (!c) return KVBM_EINVAL;
    memset(out, 0, sizeof *out);
    out->accepted = n.accepted;
    out->dropped = n.dropped;
    out->confirmed = n.done;
    out->queued = n.queued;
    out->resent = n.resent;
    out->bytes_sent = atomic_load_explicit(&c->t.bytes_sent, memory_order_relaxed);
    out->connected = atomic_load_explicit(&c->up, memory_order_relaxed);
    out->reconnects = atomic_load_explicit(&c->reconnects, memory_order_relaxed);
    return KVBM_OK;
}
