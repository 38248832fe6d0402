/* kvbm/nats.h - a NATS transport for kvbm event batches (optional library libkvbm_nats).
 *
 * Link with -lkvbm_nats -lkvbm (pkg-config: kvbm-nats). The transport is a kvbm_publisher
 * (kvbm/publisher.h): the event pipeline, or anyone, publishes encoded batches through it.
 *
 * Delivery (docs/design/transports.md): publish() copies the message into a bounded queue
 * and returns at once; a sender thread publishes the queue in order and confirms what it
 * sent with a marker: a small message on a private inbox (_INBOX.*) the connection is
 * subscribed to, whose return proves the server handled everything sent before it (the
 * credentials used must allow publishing and subscribing there). When the connection
 * drops, the sender connects again (every reconnect_wait_ms, without limit) and sends
 * again, in order, every message not yet confirmed: at-least-once, so a subscriber may see the
 * unconfirmed tail of the stream twice (counted in `resent`). Nothing is lost silently:
 * a message is either confirmed, still queued, or counted in `dropped` (queue full: the
 * newest message is refused); what is still queued when the last reference is released
 * is discarded (flush first).
 * NATS core has no persistence: what the server routes while no subscriber is connected
 * is gone, as for any NATS publisher.
 */
#ifndef KVBM_NATS_H
#define KVBM_NATS_H

#include "kvbm/publisher.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVBM_NATS_DEFAULT_SUBJECT "kvbm.events"

typedef struct kvbm_nats_config {
    /* nats://HOST[:PORT] (port default 4222). Required. Copied. */
    const char *url;
    /* Subject used when publish() is given "" (the pipeline passes its own subject, default
     * "kvbm.events" too). NULL: KVBM_NATS_DEFAULT_SUBJECT. Checked at create. Copied. */
    const char *subject;
    /* Messages held (waiting + sent but not yet confirmed). 0: 4096. */
    uint32_t queue_capacity;
    /* Time allowed for the first connection (TCP + handshake). 0: 2000 ms. */
    int connect_timeout_ms;
    /* Pause between reconnection attempts after the connection dropped. 0: 250 ms. */
    int reconnect_wait_ms;
} kvbm_nats_config;

#define KVBM_NATS_CONFIG_INIT { NULL, NULL, 0, 0, 0 }

typedef struct kvbm_nats_stats {
    uint64_t accepted;   /* publish calls whose message was queued */
    uint64_t dropped;    /* publish calls refused: queue full (the newest message dropped) */
    uint64_t confirmed;  /* accepted messages confirmed (their marker came back) */
    uint64_t queued;     /* accepted, not yet confirmed (= accepted - confirmed) */
    uint64_t resent;     /* messages sent again after a lost connection (duplicates possible) */
    uint64_t reconnects; /* successful reconnections */
    uint64_t bytes_sent; /* payload bytes handed to the connection, resends included */
    bool     connected;  /* connected right now */
} kvbm_nats_stats;

/**
 * kvbm_nats_publisher_create() - connect to @cfg->url and return a publisher (one
 * reference in *@out; release with kvbm_publisher_release(), which stops the sender thread
 * and closes the connection; see `lost`). Blocks for the connection (at most
 * connect_timeout_ms); starts one sender thread.
 * Errors (detail in kvbm_last_error(), naming the value): KVBM_EINVAL (NULL argument, URL
 * that does not parse, subject NATS rejects), KVBM_ECONNECT (no server at the URL),
 * KVBM_ENOMEM, KVBM_EIO (thread or client library failure).
 * Threads: any. The publisher's publish/flush may be called from any number of threads.
 *
 * publish(subject, buf, len): @subject "" means the configured subject; a subject NATS
 * rejects is KVBM_EINVAL; a message larger than the server's max_payload is KVBM_ERANGE;
 * KVBM_EFULL when the queue is full (message dropped, counted). Never blocks on the network.
 * flush(timeout_ms): waits until every message published before the call is confirmed by
 * the server (across reconnections); KVBM_ETIMEDOUT after @timeout_ms.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_nats_publisher_create(const kvbm_nats_config *cfg, kvbm_publisher **out);

/**
 * kvbm_nats_publisher_get_stats() - the transport's counters (a consistent snapshot of the
 * queue counters; connection counters read separately). KVBM_EINVAL if @p is NULL or not a
 * NATS publisher, or @out is NULL. Any thread.
 */
KVBM_API kvbm_status kvbm_nats_publisher_get_stats(const kvbm_publisher *p, kvbm_nats_stats *out);

/**
 * kvbm_nats_subject_check() - KVBM_OK if @subject is a subject a NATS publisher may use
 * (non-empty tokens separated by '.', no whitespace or control characters, no wildcard
 * token "*" or ">"), else KVBM_EINVAL with a detail naming it. No lock, any thread.
 */
KVBM_API kvbm_status kvbm_nats_subject_check(const char *subject);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_NATS_H */
