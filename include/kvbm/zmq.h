/* kvbm/zmq.h - a ZeroMQ transport for kvbm event batches (optional library libkvbm_zmq).
 *
 * Link with -lkvbm_zmq -lkvbm (pkg-config: kvbm-zmq). The transport is a kvbm_publisher
 * (kvbm/publisher.h), wire-compatible with the kvbm-hub indexer of spec 20 §3.5: a PUB
 * socket (an XPUB, so that subscriptions are visible and back-pressure is not silent),
 * linger 0, each message sent as 2 frames [topic, payload] with topic "kvbm.kv_index";
 * the subject argument of publish() is ignored (the topic frame is the constant).
 *
 * Bind or connect: "zmq+tcp://HOST:PORT" CONNECTS (a worker connects to the hub's SUB,
 * which binds - the spec's deployment); "zmq+tcp://HOST:PORT?bind" (or cfg.bind) BINDS, for
 * subscribers that connect (e.g. `kvbm events listen`). ZeroMQ connects in the background:
 * a peer that is down at start is not an error, messages wait in the queue / are dropped
 * by PUB semantics while nobody subscribes (no acknowledgment exists in PUB/SUB).
 *
 * Queue: publish() copies the message into a bounded queue (default 1024 batches) and
 * returns at once; a sender thread hands the queue to the socket in order. When a
 * subscriber is slower than the stream, the socket refuses (ZMQ_XPUB_NODROP) instead of
 * dropping silently, the queue fills, and publish() drops the NEWEST message (KVBM_EFULL,
 * counted in `dropped`). flush() waits until everything published before it was handed to
 * the socket (not until a subscriber read it).
 */
#ifndef KVBM_ZMQ_H
#define KVBM_ZMQ_H

#include "kvbm/publisher.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVBM_ZMQ_DEFAULT_TOPIC "kvbm.kv_index"

typedef struct kvbm_zmq_config {
    /* zmq+tcp://HOST:PORT[?bind]. Required. Copied. */
    const char *url;
    /* Bind instead of connect (same as the "?bind" suffix). */
    bool bind;
    /* First frame of every message. NULL: KVBM_ZMQ_DEFAULT_TOPIC. Copied. */
    const char *topic;
    /* Messages held before the newest is dropped. 0: 1024. */
    uint32_t queue_capacity;
} kvbm_zmq_config;

#define KVBM_ZMQ_CONFIG_INIT { NULL, false, NULL, 0 }

typedef struct kvbm_zmq_stats {
    uint64_t accepted;      /* publish calls whose message was queued */
    uint64_t dropped;       /* publish calls refused: queue full (the newest message dropped) */
    uint64_t sent;          /* messages handed to the socket */
    uint64_t queued;        /* accepted, not yet handed to the socket */
    uint64_t bytes_sent;    /* payload bytes handed to the socket */
    uint64_t subscriptions; /* subscribe requests received from peers (monotonic) */
    uint64_t send_errors;   /* frames the socket rejected for good (not EAGAIN): dropped */
} kvbm_zmq_stats;

/**
 * kvbm_zmq_publisher_create() - open the socket (bind or connect, see above) and return a
 * publisher (one reference in *@out; kvbm_publisher_release() stops the sender thread,
 * discards what is still queued and closes the socket without lingering).
 * Errors (detail in kvbm_last_error(), naming the value): KVBM_EINVAL (NULL argument, URL
 * that does not parse, empty topic), KVBM_EADDRINUSE (bind: address in use), KVBM_ECONNECT
 * (the address cannot be bound or connected to, e.g. an unknown host), KVBM_ENOMEM, KVBM_EIO.
 * Threads: any; publish/flush from any number of threads. Starts one sender thread.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_zmq_publisher_create(const kvbm_zmq_config *cfg, kvbm_publisher **out);

/** kvbm_zmq_publisher_get_stats() - counters into *@out. KVBM_EINVAL if @p is not a ZeroMQ
 * publisher or an argument is NULL. Any thread. */
KVBM_API kvbm_status kvbm_zmq_publisher_get_stats(const kvbm_publisher *p, kvbm_zmq_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_ZMQ_H */
