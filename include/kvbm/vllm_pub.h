/* kvbm/vllm_pub.h - a vLLM-compatible ZMQ KV-event publisher (spec 20 §4.2.1), with the
 * replay socket. Library: libkvbm_vllm (pkg-config kvbm-vllm); payloads per
 * kvbm/vllm_events.h.
 *
 * Wire: a PUB socket bound at the endpoint sends every batch as 3 frames [topic, seq,
 * payload]: topic = the configured UTF-8 topic (default empty), seq = 8-byte big-endian
 * counter starting at 0 per publisher, +1 per batch, payload = msgpack KVEventBatch (map
 * form by default, array form by option). A batch that fails to encode consumes no number;
 * a batch the socket refuses still consumes its number (counted in send_errors).
 * Optional replay socket (ROUTER, bound at replay_endpoint): a request [empty, start_seq
 * BE8] (as a REQ or DEALER client sends it) is answered with one message [empty, seq BE8,
 * payload] per buffered batch with seq >= start_seq, oldest first, then the end marker
 * [empty, 0xFFFFFFFFFFFFFFFF, empty] (the client sees [seq, payload] ... [-1, ""]). The
 * buffer holds the last replay_buffer batches (default 10000); other request shapes are
 * dropped (counted in bad_requests). A replay thread serves requests.
 * DP rank r: r is added to the TCP port of both endpoints (vLLM's rule); for ipc:// and
 * inproc:// endpoints "_dp<r>" is appended to the path when r > 0.
 *
 * Never blocks the caller on a slow subscriber: sends are non-blocking and the sockets drop
 * (ZeroMQ PUB / ROUTER semantics) past the high-water mark (default 100000 messages) - a
 * subscriber that falls behind loses batches and sees the gap in the sequence numbers (and
 * can ask for a replay). Lingering is off: batches not yet written when the publisher is
 * destroyed are discarded.
 *
 * Threads: kvbm_vllm_pub_send / _send_payload / _get_stats / _endpoint may be called from
 * any number of threads concurrently (one internal mutex serialises sends, so the sequence
 * numbers on the wire are in call order); kvbm_vllm_pub_destroy must not race any of them.
 * No callbacks; the mutex is never held across anything but encoding, a non-blocking send
 * and a memcpy into the replay buffer.
 */
#ifndef KVBM_VLLM_PUB_H
#define KVBM_VLLM_PUB_H

#include "kvbm/vllm_events.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVBM_VLLM_PUB_DEFAULT_ENDPOINT "tcp://*:5557"
#define KVBM_VLLM_PUB_DEFAULT_REPLAY   10000u
#define KVBM_VLLM_PUB_DEFAULT_HWM      100000
/** The replay end marker's sequence frame (-1 as a signed big-endian 64-bit number). */
#define KVBM_VLLM_REPLAY_END UINT64_MAX

typedef struct kvbm_vllm_pub kvbm_vllm_pub;

typedef struct kvbm_vllm_pub_config {
    const char    *endpoint;        /* PUB bind address; NULL: KVBM_VLLM_PUB_DEFAULT_ENDPOINT. Copied. */
    const char    *replay_endpoint; /* ROUTER bind address; NULL: no replay socket. Copied. */
    const char    *topic;           /* first frame; NULL: "" (empty). Copied. */
    uint32_t       replay_buffer;   /* batches kept for replay; 0: KVBM_VLLM_PUB_DEFAULT_REPLAY */
    int            hwm;             /* send high-water mark of both sockets; 0: default, < 0: EINVAL */
    uint32_t       dp_rank;         /* port shift, see the file comment */
    kvbm_vllm_form form;            /* payload event form; default KVBM_VLLM_FORM_MAP */
} kvbm_vllm_pub_config;

#define KVBM_VLLM_PUB_CONFIG_INIT { NULL, NULL, NULL, 0, 0, 0, KVBM_VLLM_FORM_MAP }

typedef struct kvbm_vllm_pub_stats {
    uint64_t batches;          /* batches that got a sequence number */
    uint64_t bytes;            /* payload bytes of those batches */
    uint64_t send_errors;      /* batches the PUB socket refused (the number is lost) */
    uint64_t encode_errors;    /* kvbm_vllm_pub_send calls whose batch did not encode */
    uint64_t replays;          /* replay requests answered */
    uint64_t replayed_batches; /* batches sent in replay answers */
    uint64_t bad_requests;     /* replay requests of the wrong shape, dropped */
} kvbm_vllm_pub_stats;

/**
 * kvbm_vllm_pub_create() - bind the PUB socket (and the replay ROUTER socket if configured,
 * starting the replay thread). @cfg NULL: all defaults. *@out owned by the caller, freed with
 * kvbm_vllm_pub_destroy.
 * Errors (detail in kvbm_last_error(), naming the endpoint): KVBM_EINVAL (NULL @out, bad
 * form, negative hwm, an endpoint ZeroMQ does not accept or whose port + dp_rank exceeds
 * 65535), KVBM_EADDRINUSE (address in use), KVBM_ECONNECT (the address cannot be bound, e.g.
 * not local), KVBM_ENOMEM, KVBM_EIO (other ZeroMQ or thread failure).
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_vllm_pub_create(const kvbm_vllm_pub_config *cfg, kvbm_vllm_pub **out);

/** Stop the replay thread, close the sockets without lingering, free. NULL is a no-op.
 *  Must not race other calls on @p. */
KVBM_API void kvbm_vllm_pub_destroy(kvbm_vllm_pub *p);

/**
 * kvbm_vllm_pub_send() - encode @batch (the configured form) and publish it.
 * @seq: optional; receives the batch's sequence number.
 * Returns KVBM_OK; the encoder's errors (KVBM_EINVAL, KVBM_EUNSUPPORTED: nothing sent, no
 * number used); KVBM_ENOMEM (encode or replay buffer growth: nothing sent); KVBM_EIO when
 * the socket refused the message (the number is used and counted in send_errors).
 * Any thread; never blocks on subscribers. Allocates only to grow its buffers.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_vllm_pub_send(kvbm_vllm_pub *p, const kvbm_vllm_batch *batch, uint64_t *seq);

/** kvbm_vllm_pub_send_payload() - publish an already encoded payload (@len bytes, copied
 *  into the replay buffer) as kvbm_vllm_pub_send does; the payload is not checked. Errors:
 *  KVBM_EINVAL (NULL @p, NULL @payload with len > 0), KVBM_ENOMEM, KVBM_EIO. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_vllm_pub_send_payload(kvbm_vllm_pub *p, const uint8_t *payload, size_t len, uint64_t *seq);

/** Counters into *@out. KVBM_EINVAL for NULL arguments. Any thread. */
KVBM_API kvbm_status kvbm_vllm_pub_get_stats(kvbm_vllm_pub *p, kvbm_vllm_pub_stats *out);

/**
 * kvbm_vllm_pub_endpoint() - the address a socket is actually bound to (after the DP shift
 * and with a "*" port resolved, e.g. "tcp://127.0.0.1:40123"), NUL-terminated into @buf.
 * @replay: false for the PUB socket, true for the replay socket.
 * KVBM_OK; KVBM_ENOENT (no replay socket); KVBM_EOVERFLOW (@cap too small); KVBM_EINVAL.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_vllm_pub_endpoint(kvbm_vllm_pub *p, bool replay, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_VLLM_PUB_H */
