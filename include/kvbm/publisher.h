/* kvbm/publisher.h - the Publisher interface: where encoded event batches go.
 *
 * A publisher is an opaque, refcounted object around a user- or transport-supplied ops
 * table (spec 20 §3.5, §6.4). The event pipeline (kvbm/events.h) encodes batches and hands
 * the bytes to kvbm_publisher_publish(); transports (NATS: kvbm/nats.h, ZeroMQ:
 * kvbm/zmq.h, in optional libraries) are publishers built on this same interface, and a
 * user can add their own by filling a kvbm_publisher_ops.
 *
 * Threads: every function is callable from any thread. The ops are called without any
 * kvbm lock held; a publisher's ops may be called concurrently from several threads only
 * if several pipelines share it (the implementation must then be thread-safe).
 */
#ifndef KVBM_PUBLISHER_H
#define KVBM_PUBLISHER_H

#include "kvbm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_publisher kvbm_publisher;

/* The ops a publisher implementation supplies. */
typedef struct kvbm_publisher_ops {
    /* Queue one message (@buf, @len bytes; @subject is NUL-terminated, the transport decides
     * what it means) and return without waiting for the peer. @buf is only valid during the
     * call. Return KVBM_OK, or an error status after setting kvbm__set_error-style detail
     * (kvbm_last_error) - the caller counts it and carries on. Required. */
    kvbm_status (*publish)(void *ctx, const char *subject, const uint8_t *buf, size_t len);
    /* Wait until every message published before the call is handed to the peer or
     * acknowledged (transport-defined), at most @timeout_ms (< 0: no limit). KVBM_OK,
     * KVBM_ETIMEDOUT or another error. NULL: nothing to flush (always OK). */
    kvbm_status (*flush)(void *ctx, int timeout_ms);
    /* Free @ctx; called once, by the release that drops the last reference. NULL: none. */
    void (*destroy)(void *ctx);
} kvbm_publisher_ops;

/* Counters kept by the wrapper (monotonic, relaxed reads). */
typedef struct kvbm_publisher_stats {
    uint64_t published;     /* publish calls that returned KVBM_OK */
    uint64_t bytes;         /* bytes of those messages */
    uint64_t errors;        /* publish calls that returned an error */
    uint64_t flushes;       /* flush calls that returned KVBM_OK */
    uint64_t flush_errors;  /* flush calls that returned an error (timeouts included) */
} kvbm_publisher_stats;

/**
 * kvbm_publisher_create() - wrap @ops / @ctx into a publisher. @ops is copied; @ctx is owned
 * by the publisher from a successful return (ops->destroy frees it). *@out holds one
 * reference. Returns KVBM_OK, KVBM_EINVAL (NULL @ops, @out or @ops->publish; @ctx is then
 * not owned and not destroyed), KVBM_ENOMEM (@ctx not destroyed either).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_publisher_create(const kvbm_publisher_ops *ops, void *ctx, kvbm_publisher **out);

/** kvbm_publisher_acquire() - one more reference; returns @p. */
KVBM_API kvbm_publisher *kvbm_publisher_acquire(kvbm_publisher *p);

/** kvbm_publisher_release() - drop one reference; the last one calls ops->destroy. NULL ok. */
KVBM_API void kvbm_publisher_release(kvbm_publisher *p);

/**
 * kvbm_publisher_publish() - ops->publish, counted. KVBM_EINVAL for NULL @p, @subject, or
 * NULL @buf with @len > 0; otherwise what ops->publish returns.
 */
KVBM_API kvbm_status kvbm_publisher_publish(kvbm_publisher *p, const char *subject,
                                            const uint8_t *buf, size_t len);

/** kvbm_publisher_flush() - ops->flush (KVBM_OK when it is NULL), counted. */
KVBM_API kvbm_status kvbm_publisher_flush(kvbm_publisher *p, int timeout_ms);

/** kvbm_publisher_get_stats() - the wrapper's counters into *@out. KVBM_EINVAL on NULL. */
KVBM_API kvbm_status kvbm_publisher_get_stats(const kvbm_publisher *p, kvbm_publisher_stats *out);

/**
 * kvbm_publisher_context() - the @ctx given to kvbm_publisher_create(), if @p was created
 * with an ops table whose publish function is @publish; NULL otherwise (or for NULL
 * arguments). Lets an implementation (e.g. kvbm_nats_publisher_get_stats) reach its own
 * state from the generic handle, and refuse a foreign one. The pointer is valid while the
 * caller holds a reference to @p. No lock, any thread.
 */
KVBM_API void *kvbm_publisher_context(const kvbm_publisher *p,
                                      kvbm_status (*publish)(void *, const char *,
                                                             const uint8_t *, size_t));

#ifdef __cplusplus
}
#endif
#endif /* KVBM_PUBLISHER_H */
