/* src/ext/nats/nats.c - the NATS publisher (kvbm/nats.h) on the NATS C client (libnats).
 *
 * publish() -> kvbm__msgq (copy, never blocks) -> one sender thread:
 *   take up to CHUNK messages, natsConnection_Publish each, then one round trip
 *   (natsConnection_FlushTimeout); on success they are done (confirmed); when the
 *   connection dropped (publish or round trip failed, status not CONNECTED) the queue is
 *   rewound and everything unconfirmed is sent again once the client library reconnected.
 * The client library's own reconnect buffer is disabled (1 byte): while disconnected its
 * publish fails at once, so the only buffer, and the only place where messages can be
 * dropped, is ours - counted. No callbacks are registered (the client library calls them
 * from its own threads, possibly after close); the sender polls the connection status.
 */
#include "kvbm/nats.h"

#include <nats/nats.h>
#include <stdio.h>

#include "../common/transport.h"
#include "../common/url.h"

#define WHO          "nats publisher"
#define CHUNK        64     /* messages per round trip */
#define RTT_WAIT_MS  1000   /* one round trip attempt */
#define POLL_MS      20     /* status poll while disconnected */

typedef struct nats_pub {
    kvbm__transport t;           /* first: queue, sender thread, bytes_sent */
    natsConnection *nc;
    natsOptions    *opts;
    char           *subject;     /* default subject (owned) */
    char            url[300];
    _Atomic int64_t  max_payload; /* the server's, refreshed by the sender (publish never
                                   * takes a client-library lock) */
    natsStatistics  *rtt_stats;   /* sender thread only: the reconnect count around a round trip */
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

static bool connected(nats_pub *c) { return natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED; }

/* Publish what was taken (*m first) and up to CHUNK-1 more; false if a publish failed.
 * *end = one past the last sequence number taken. */
static bool send_chunk(nats_pub *c, kvbm__msg m, uint64_t seq, uint64_t *end)
{
    int n = 0;
    do {
        *end = seq + 1;
        natsStatus s = natsConnection_Publish(c->nc, kvbm__msg_subject(&m), kvbm__msg_payload(&m), (int)m.len);
        if (s != NATS_OK) return false;
        atomic_fetch_add_explicit(&c->t.bytes_sent, m.len, memory_order_relaxed);
    } while (++n < CHUNK && kvbm__msgq_try_take(&c->t.q, &m, &seq));
    return true;
}

/* The client library's reconnect count. A round trip answered over a newer connection than
 * the one a chunk went out on confirms nothing: the chunk may have been lost with the old
 * connection (the fault test saw exactly that: a flush pending across a reconnect returned
 * OK and a message was never delivered). */
static uint64_t reconnects(nats_pub *c)
{
    uint64_t r = 0;
    if (natsConnection_GetStats(c->nc, c->rtt_stats) == NATS_OK)
        natsStatistics_GetCounts(c->rtt_stats, NULL, NULL, NULL, NULL, &r);
    return r;
}

/* One round trip confirming everything below @end, sent while the reconnect count was
 * @epoch. False: the connection dropped, or was replaced since the chunk was sent. */
static bool confirm(nats_pub *c, uint64_t end, uint64_t epoch)
{
    for (;;) {
        natsStatus s = natsConnection_FlushTimeout(c->nc, RTT_WAIT_MS);
        if (s == NATS_OK) {
            if (reconnects(c) != epoch) return false; /* resend: at least once, never lost */
            kvbm__msgq_done(&c->t.q, end);
            return true;
        }
        /* a slow server while still connected: wait again rather than send twice */
        if (s != NATS_TIMEOUT || !connected(c) || !kvbm__msgq_sleep(&c->t.q, 0)) return false;
    }
}

static void *sender(void *arg)
{
    nats_pub *c = arg;
    for (;;) {
        if (!connected(c)) {
            if (!kvbm__msgq_sleep(&c->t.q, POLL_MS)) break;
            continue;
        }
        kvbm__msg m;
        uint64_t seq, end = 0;
        if (!kvbm__msgq_take(&c->t.q, 100, &m, &seq)) {
            if (!kvbm__msgq_sleep(&c->t.q, 0)) break; /* stopped */
            continue;
        }
        atomic_store_explicit(&c->max_payload, natsConnection_GetMaxPayload(c->nc), memory_order_relaxed);
        uint64_t epoch = reconnects(c);
        if (!send_chunk(c, m, seq, &end) || !confirm(c, end, epoch)) {
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
    if (c->nc) natsConnection_Destroy(c->nc); /* closes */
    if (c->opts) natsOptions_Destroy(c->opts);
    if (c->rtt_stats) natsStatistics_Destroy(c->rtt_stats);
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
        (s = natsOptions_SetAllowReconnect(c->opts, true)) != NATS_OK ||
        (s = natsOptions_SetMaxReconnect(c->opts, -1)) != NATS_OK ||
        (s = natsOptions_SetReconnectWait(c->opts, rw)) != NATS_OK ||
        (s = natsOptions_SetReconnectJitter(c->opts, 0, 0)) != NATS_OK ||
        (s = natsOptions_SetReconnectBufSize(c->opts, 1)) != NATS_OK) /* ours is the buffer */
        return client_error("natsOptions", s);
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
    natsStatus s = natsStatistics_Create(&c->rtt_stats);
    if (s != NATS_OK) return client_error("natsStatistics_Create", s);
    s = natsConnection_Connect(&c->nc, c->opts);
    if (s != NATS_OK) {
        c->nc = NULL;
        kvbm__set_error("%s: cannot connect to %s: %s", WHO, cfg->url, natsStatus_GetText(s));
        return s == NATS_NO_MEMORY ? KVBM_ENOMEM : KVBM_ECONNECT;
    }
    atomic_store_explicit(&c->max_payload, natsConnection_GetMaxPayload(c->nc), memory_order_relaxed);
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
    out->connected = connected(c);
    natsStatistics *st = NULL;
    if (natsStatistics_Create(&st) == NATS_OK && natsConnection_GetStats(c->nc, st) == NATS_OK)
        natsStatistics_GetCounts(st, NULL, NULL, NULL, NULL, &out->reconnects);
    natsStatistics_Destroy(st);
    return KVBM_OK;
}
