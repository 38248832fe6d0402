/* kvbm/events_pipeline.h - the event publishing pipeline (spec 20 §3.4, §3.5):
 * subscription -> batcher -> encoder -> publisher, on one worker thread.
 *
 * Batching (exact §3.4 algorithm): events accumulate while they have one kind; a batch is
 * emitted when the kind switches, when it reaches max_batch_size, or when the window
 * deadline passes (re-armed after every flush and every tick, measured from the last
 * flush/tick, not from the batch's first event; an always-ready input never lets the
 * timer win). An emitted batch is stably sorted by position: ascending for Create,
 * descending for Remove. No de-duplication.
 *
 * Each batch is encoded (the encoder is pluggable so that the core library stays free
 * of msgpack; kvbm/events_wire.h in libkvbm_events provides the spec's msgpack encoder)
 * and handed to kvbm_publisher_publish(subject, bytes). Encode and publish errors are
 * counted and logged (kvbm/log.h, rate-limited) and the pipeline carries on. When the
 * stream ends (kvbm_events_manager_close, or the manager and every release handle gone)
 * the worker flushes the pending batch, publishes one Shutdown batch, flushes the
 * publisher and finishes. kvbm_events_pipeline_abort() stops it at once: nothing more
 * is sent, no Shutdown.
 *
 * Threads: every function may be called from any thread; the encoder and the publisher
 * are called from the worker thread only, with no kvbm lock held.
 */
#ifndef KVBM_EVENTS_PIPELINE_H
#define KVBM_EVENTS_PIPELINE_H

#include "kvbm/aggregator.h"
#include "kvbm/events.h"
#include "kvbm/publisher.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_events_pipeline kvbm_events_pipeline;

/* Encode @b into @buf (@cap bytes) and set *@len to the encoded size. If the encoding
 * needs more than @cap bytes: set *@len to the size needed (or any larger estimate) and
 * return KVBM_EOVERFLOW - the caller grows the buffer and calls again. Any other error:
 * the batch is skipped (counted, logged). Called from the worker thread only. */
typedef struct kvbm_events_encoder {
    kvbm_status (*encode)(void *ctx, const kvbm_event_batch *b, uint8_t *buf, size_t cap,
                          size_t *len);
    void *ctx; /* must outlive the pipeline */
} kvbm_events_encoder;

typedef struct kvbm_events_pipeline_config {
    size_t               struct_size;    /* KVBM_EVENTS_PIPELINE_CONFIG_INIT sets it */
    const kvbm_u128     *instance_id;    /* required (copied) */
    kvbm_events_sub     *event_stream;   /* required; owned by the pipeline once started */
    kvbm_publisher      *publisher;      /* required; the pipeline takes its own reference */
    kvbm_events_encoder  encoder;        /* required (encode != NULL) */
    uint32_t             window_ms;      /* 0: 10 */
    uint32_t             max_batch_size; /* 0: 1024; at most 1 << 20 */
    const char          *subject;        /* NULL: "kvbm.events" (copied) */
    int                  flush_timeout_ms; /* final flush; 0: 5000; < 0: no limit */
} kvbm_events_pipeline_config;
#define KVBM_EVENTS_PIPELINE_CONFIG_INIT \
    { sizeof(kvbm_events_pipeline_config), NULL, NULL, NULL, { NULL, NULL }, 0, 0, NULL, 0 }

typedef struct kvbm_events_pipeline_stats {
    uint64_t events;           /* block events taken from the stream */
    uint64_t lost;             /* events the stream dropped before the pipeline read them (lag) */
    uint64_t batches;          /* batches published successfully (Shutdown included) */
    uint64_t events_published; /* block events in those batches */
    uint64_t bytes;            /* encoded bytes of those batches */
    uint64_t publish_errors;   /* publish calls that failed (batch lost) */
    uint64_t encode_errors;    /* batches that could not be encoded (skipped) */
    uint64_t flush_errors;     /* final flush failed or timed out */
} kvbm_events_pipeline_stats;

/**
 * kvbm_events_pipeline_start() - validate @cfg and start the worker thread. On success
 * the pipeline owns cfg->event_stream. Errors (the stream then stays the caller's):
 * KVBM_EINVAL (NULL @cfg / @out, bad struct_size), KVBM_ECONFIG with kvbm_last_error()
 * "instance_id is required", "event_stream is required", "publisher is required",
 * "encoder is required" or a bound violation, KVBM_ENOMEM, KVBM_EIO (thread creation).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_events_pipeline_start(const kvbm_events_pipeline_config *cfg, kvbm_events_pipeline **out);

/** Wait until the worker has finished (stream end, or abort). Idempotent; returns KVBM_OK. */
KVBM_API kvbm_status kvbm_events_pipeline_join(kvbm_events_pipeline *p);

/** Stop the worker as soon as possible; nothing more is published (no Shutdown). Does not
 * wait: call join (or destroy). Idempotent. */
KVBM_API void kvbm_events_pipeline_abort(kvbm_events_pipeline *p);

/** True once the worker has finished. */
KVBM_API bool kvbm_events_pipeline_is_finished(kvbm_events_pipeline *p);

/** Counters into *@out (relaxed reads). KVBM_OK or KVBM_EINVAL. */
KVBM_API kvbm_status kvbm_events_pipeline_get_stats(kvbm_events_pipeline *p,
                                                    kvbm_events_pipeline_stats *out);

/** Abort (unless finished), join and free (NULL: no-op) - dropping the handle aborts. */
KVBM_API void kvbm_events_pipeline_destroy(kvbm_events_pipeline *p);

/**
 * kvbm_events_add_to_aggregator() - export the counters of events manager @m and, if @p is
 * not NULL, of pipeline @p through aggregator @a (kvbm/aggregator.h), read at every scrape:
 *   kvbm_events_emitted_total{kind="create"|"remove"}   events broadcast
 *   kvbm_events_filtered_total                        registrations the policy skipped
 *   kvbm_events_attach_failures_total                 release handles not attached
 *   kvbm_events_lost_total                            events subscribers lost to lag
 *   kvbm_events_dropped_closed_total                  events not sent (stream closed)
 *   kvbm_events_subscribers                           gauge
 * and with @p:
 *   kvbm_events_pipeline_batches_total                batches published (Shutdown included)
 *   kvbm_events_pipeline_events_published_total       block events in those batches
 *   kvbm_events_pipeline_bytes_total                  encoded bytes of those batches
 *   kvbm_events_pipeline_publish_errors_total, _encode_errors_total, _flush_errors_total
 * The source holds a reference on @m and keeps @p's counters readable (destroying @p still
 * stops it at once); both are dropped when the source is removed or @a destroyed.
 * *@id (may be NULL) receives the source id for kvbm_aggregator_remove_source.
 * Errors: KVBM_EINVAL (NULL @a or @m), KVBM_ENOMEM. Any thread, no kvbm lock held.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_events_add_to_aggregator(kvbm_aggregator *a, kvbm_events_manager *m, kvbm_events_pipeline *p,
                              kvbm_source_id *id);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_EVENTS_PIPELINE_H */
