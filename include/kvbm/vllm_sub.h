/* kvbm/vllm_sub.h - the vLLM ZMQ KV-event ingress subscriber (optional library libkvbm_vllm).
 *
 * Link with -lkvbm_vllm -lkvbm (pkg-config: kvbm-vllm). One subscriber follows one engine
 * (vLLM, TRT-LLM, SGLang: anything speaking spec 20 §4.2.1), as the consolidator's ingress
 * does (§4.3.1):
 *
 *   - a ZMQ SUB socket CONNECTS to the engine's PUB: empty topic filter, receive timeout
 *     100 ms, reconnect 100-5000 ms (exponential), TCP keepalive, linger 0. A peer that is
 *     down is not an error: ZeroMQ retries with that backoff; every disconnect is counted
 *     and logged (kvbm/log.h, module "vllm_sub"), so is the reconnect.
 *   - messages of 3 frames [topic, seq, payload] and 2 frames [topic, payload] (no sequence
 *     number) are accepted; any other frame count is dropped and counted (frame_errors).
 *     seq is read big-endian from up to 8 bytes (a longer frame: its first 8 bytes).
 *   - gap detection on the sequence numbers of 3-frame messages. With a replay endpoint
 *     (the engine's ROUTER, §4.2.1), a gap is recovered there: a DEALER sends
 *     [empty, start_seq BE8] and reads [empty, seq BE8, payload] until seq = 2^64-1; the
 *     recovered batches are delivered in order before the live one, batches already
 *     delivered are skipped, so nothing is lost or duplicated. Batches the engine no longer
 *     buffers (or with no replay endpoint, or no answer within replay_timeout_ms) are
 *     counted in unrecoverable and the stream continues after the gap. A sequence number
 *     that goes backwards on the live stream means the engine restarted: counted in
 *     restarts, logged, and the stream restarts from that number.
 *   - resume: a subscriber created with resume = true and start_seq = S asks the replay
 *     socket for everything from S on at once (before the first live batch), so a consumer
 *     that stopped after batch S-1 and starts again misses nothing the engine still buffers.
 *   - catch-up: a PUB drops what it sends before this subscription reaches it, and a gap is
 *     only seen when a later batch arrives. So after every connect (the first one and each
 *     reconnect), with a replay endpoint and a known next number, the subscriber replays
 *     from that number after 100 ms, then every 200, 400, ... up to 5000 ms, until the first
 *     live message after that connect proves the subscription active (counted in catchups
 *     and replays). Batches sent before the subscription was active and followed by silence
 *     are thus recovered too; a silent engine costs one replay request per 5 s.
 *   - a bounded queue (queue_capacity batches) between the socket thread and the consumer:
 *     when it is full the NEWEST batch is dropped and counted (dropped); memory is bounded.
 *
 * Threads: one socket thread per subscriber, started by create; ONE consumer thread calls
 * kvbm_vllm_sub_recv() (not concurrently with itself); get_stats and wake from any thread.
 * No kvbm lock is held by any call here.
 */
#ifndef KVBM_VLLM_SUB_H
#define KVBM_VLLM_SUB_H

#include "kvbm/common.h"
#include "kvbm/vllm_events.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_vllm_sub kvbm_vllm_sub;

typedef struct kvbm_vllm_sub_config {
    /* "tcp://HOST:PORT" of the engine's PUB socket. Required. Copied. */
    const char *endpoint;
    /* "tcp://HOST:PORT" of the engine's replay ROUTER socket, or NULL (no recovery). Copied. */
    const char *replay_endpoint;
    /* Name in log lines; NULL: the endpoint. Copied. */
    const char *name;
    /* Batches held between the socket thread and the consumer. 0: 4096. */
    uint32_t queue_capacity;
    /* How long one replay waits for the next answer message. 0: 2000 ms. */
    int replay_timeout_ms;
    /* start_seq is meaningful: batches before it were already consumed. */
    bool resume;
    uint64_t start_seq;
} kvbm_vllm_sub_config;

#define KVBM_VLLM_SUB_CONFIG_INIT { NULL, NULL, NULL, 0, 0, false, 0 }

typedef struct kvbm_vllm_sub_stats {
    uint64_t batches;       /* batches queued for the consumer (live + recovered) */
    uint64_t consumed;      /* batches handed to the consumer by recv */
    uint64_t gaps;          /* sequence gaps detected (each counts once) */
    uint64_t recovered;     /* batches obtained through the replay socket and queued */
    uint64_t unrecoverable; /* batches missing for good (not replayable) */
    uint64_t unrecoverable_gaps; /* gaps not (fully) recovered */
    uint64_t duplicates;    /* batches skipped because they were already delivered */
    uint64_t decode_errors; /* payloads the consumer could not decode (see recv_batch) */
    uint64_t frame_errors;  /* messages with a frame count other than 2 or 3: dropped */
    uint64_t dropped;       /* batches dropped because the queue was full */
    uint64_t restarts;      /* the live sequence went backwards (engine restarted) */
    uint64_t disconnects;   /* the connection to the engine was lost (ZeroMQ retries) */
    uint64_t connects;      /* connections established */
    uint64_t replays;       /* replay requests sent */
    uint64_t replay_failures; /* replay requests that got no complete answer */
    uint64_t queued;        /* batches waiting for the consumer now */
    uint64_t next_seq;      /* the sequence number expected next (valid if has_next_seq) */
    bool     has_next_seq;
    uint64_t catchups;      /* catch-up replays after a connect (also counted in replays) */
} kvbm_vllm_sub_stats;

/* One batch handed to the consumer. payload stays valid until the next recv on the same
 * subscriber or its destruction. */
typedef struct kvbm_vllm_sub_msg {
    uint64_t       seq;       /* the engine's sequence number (0 when !has_seq) */
    bool           has_seq;   /* false for 2-frame messages */
    bool           recovered; /* obtained through the replay socket */
    const uint8_t *payload;   /* the msgpack KVEventBatch, not decoded */
    size_t         len;
} kvbm_vllm_sub_msg;

/**
 * kvbm_vllm_sub_create() - connect to cfg->endpoint, start the socket thread, return the
 * subscriber in *@out (destroy with kvbm_vllm_sub_destroy). Connecting happens in the
 * background: an engine that is not up yet is not an error.
 * Errors (detail in kvbm_last_error(), naming the value): KVBM_EINVAL (NULL argument, an
 * endpoint that is not "tcp://HOST:PORT", resume without a replay endpoint), KVBM_ECONNECT
 * (ZeroMQ refused the endpoint), KVBM_ENOMEM, KVBM_EIO (thread creation).
 * Threads: any.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_vllm_sub_create(const kvbm_vllm_sub_config *cfg, kvbm_vllm_sub **out);

/**
 * kvbm_vllm_sub_destroy() - stop the socket thread (within ~100 ms), close the sockets
 * without lingering, discard what is queued. NULL is a no-op. No recv may be running or
 * start on @s. Threads: any.
 */
KVBM_API void kvbm_vllm_sub_destroy(kvbm_vllm_sub *s);

/**
 * kvbm_vllm_sub_recv() - the next batch, in order, waiting up to @timeout_ms (< 0: no limit,
 * 0: do not wait). KVBM_OK (*@out filled), KVBM_ETIMEDOUT (nothing arrived in time, or
 * kvbm_vllm_sub_wake was called), KVBM_EINVAL (NULL argument).
 * Threads: one consumer thread at a time (see the file comment).
 */
KVBM_API kvbm_status kvbm_vllm_sub_recv(kvbm_vllm_sub *s, int timeout_ms, kvbm_vllm_sub_msg *out);

/**
 * kvbm_vllm_sub_recv_batch() - kvbm_vllm_sub_recv(), then the payload decoded with
 * kvbm_vllm_batch_decode (@opts NULL: defaults) into *@batch; a payload that does not
 * decode is counted (decode_errors), logged (the first one of each subscriber at warn, the
 * others at debug) and skipped, and the next batch is tried within the same @timeout_ms.
 * *@msg (optional) receives the frame data. *@batch and *@msg point into storage of @s
 * valid until the next recv/recv_batch or destruction. The decode space is owned by @s and
 * grows with the largest batch seen (no allocation once it is large enough).
 * Returns KVBM_OK, KVBM_ETIMEDOUT, KVBM_EINVAL (NULL @s or @batch), KVBM_ENOMEM (growing
 * the decode space; that batch is lost and counted as a decode error).
 * Threads: the one consumer thread.
 */
KVBM_API kvbm_status kvbm_vllm_sub_recv_batch(kvbm_vllm_sub *s, int timeout_ms,
                                              const kvbm_vllm_decode_options *opts,
                                              kvbm_vllm_batch *batch, kvbm_vllm_sub_msg *msg);

/** kvbm_vllm_sub_wake() - make a recv that is waiting now return KVBM_ETIMEDOUT at once
 * (a later recv waits normally); for a consumer that is asked to stop. Any thread. */
KVBM_API void kvbm_vllm_sub_wake(kvbm_vllm_sub *s);

/** kvbm_vllm_sub_count_decode_error() - count a payload the consumer could not decode
 * (decode_errors); for consumers that decode themselves. Any thread. */
KVBM_API void kvbm_vllm_sub_count_decode_error(kvbm_vllm_sub *s);

/** kvbm_vllm_sub_get_stats() - counters into *@out. KVBM_EINVAL on NULL. Any thread. */
KVBM_API kvbm_status kvbm_vllm_sub_get_stats(const kvbm_vllm_sub *s, kvbm_vllm_sub_stats *out);

/** kvbm_vllm_sub_name() - the name given in the config (or the endpoint); valid while @s
 * lives. */
KVBM_API const char *kvbm_vllm_sub_name(const kvbm_vllm_sub *s);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_VLLM_SUB_H */
