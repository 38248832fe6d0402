/* kvbm/consolidator.h - the kvbm-consolidator daemon (spec 20 §4.3) as a library object:
 * engines' vLLM-format KV-event streams and kvbm's own event stream in, ONE deduplicated
 * vLLM-format stream out (what a Dynamo KV router consumes).
 * Library: libkvbm_consolidator (optional); pkg-config kvbm-consolidator.
 *
 *   engine PUB --kvbm_vllm_sub--> ingest thread --+
 *   engine PUB --kvbm_vllm_sub--> ingest thread --+--> tracker (consolidator_tracker.h)
 *   kvbm events manager --subscription--> thread -+        | every poll interval (50 ms)
 *                                                          v
 *                       egress thread: drain, sort, encode --> vLLM-format PUB (+ replay)
 *
 * Ingress (§4.3.1): each input is a kvbm_vllm_sub (kvbm/vllm_sub.h: 2/3 frames, gap
 * detection and recovery through the engine's replay socket, bounded queue) and one thread
 * that applies its decoded batches: BlockStored -> handle_store per block (skipped: block
 * size 0, Eagle, MM info, non-main attention groups, token count that does not chunk into
 * the listed hashes), BlockRemoved -> handle_remove per hash, AllBlocksCleared -> see below.
 * Several inputs of one source kind (e.g. four vLLM engines) are told apart: a block is
 * stored to the tracker when the FIRST input of that kind holds its hash and removed when
 * the LAST one lets it go, so the output is the union of the inputs' live sets.
 * AllBlocksCleared of an input removes that input's blocks (a ClearAll event goes out only
 * when it is the only engine input, as in the spec's single-engine consolidator).
 * kvbm's stream (optional): Create(plh) -> handle_kvbm_store(plh, no tokens), Remove(plh)
 * -> handle_kvbm_remove.
 *
 * Egress (§4.3.4): every poll interval the tracker queue is drained; if not empty it is
 * sorted for egress, encoded as ONE vLLM batch [ts, events, 0] and published as
 * ["", seq BE8, payload] on a PUB bound at out_endpoint, with the replay socket at
 * out_replay_endpoint when given (kvbm/vllm_pub.h).
 *
 * Router output (optional): the same events as Dynamo RouterEvents on a kvbm_publisher
 * (config router_publisher): stored {parent_hash, blocks [{block_hash, tokens_hash}]} with the
 * router projection of the PLH as block hash and kvbm_router_tokens_hashes of the block's
 * tokens (and LoRA) as tokens_hash; removed {block_hashes}; cleared.
 *
 * Audit (kvbm/log.h, module "consolidator", level debug): one line per ingress batch with
 * events "event=ingress_zmq input=<name> source=<src> seq=<n> events=<k>" (none for an empty
 * batch), per kvbm event "event=ingress_kvbm op=store|remove position=<p>", per published
 * batch "event=egress seq=<n> events=<k> bytes=<b>".
 *
 * Threads: create starts one thread per input, one for kvbm's stream, one egress thread.
 * get_stats from any thread; stop/destroy from one thread. No kvbm lock is held by any of
 * these calls.
 */
#ifndef KVBM_CONSOLIDATOR_H
#define KVBM_CONSOLIDATOR_H

#include "kvbm/aggregator.h"
#include "kvbm/common.h"
#include "kvbm/consolidator_tracker.h"
#include "kvbm/events.h"
#include "kvbm/publisher.h"
#include "kvbm/vllm_sub.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_consolidator kvbm_consolidator;

/* One engine stream. All strings copied. */
typedef struct kvbm_consolidator_input {
    const char *source;          /* "vllm", "trtllm" (kvbm_cons_source_parse aliases) or
                                    "sglang" (vLLM format: source vllm). Required. */
    const char *endpoint;        /* tcp://HOST:PORT of the engine's PUB. Required. */
    const char *replay_endpoint; /* tcp://HOST:PORT of its replay ROUTER, or NULL */
    const char *name;            /* log/metrics label; NULL: the endpoint */
    bool        resume;          /* ask the replay socket for everything from start_seq at */
    uint64_t    start_seq;       /* start (kvbm_vllm_sub_config.resume; needs a replay) */
} kvbm_consolidator_input;

typedef struct kvbm_consolidator_config {
    const kvbm_consolidator_input *inputs; /* may be empty (kvbm stream only) */
    size_t                         n_inputs;
    /* kvbm's own event stream, or NULL: subscribed once at create (the consolidator keeps a
     * reference to nothing else; the subscription ends with the stream or at stop). */
    kvbm_events_manager *kvbm_events;
    /* Required: where the output PUB binds, e.g. "tcp://0.0.0.0:5560", "tcp://127.0.0.1:0" (0: a free port). */
    const char *out_endpoint;
    /* Optional: where the output replay ROUTER binds. */
    const char *out_replay_endpoint;
    int      poll_interval_ms; /* 0: 50 */
    uint32_t ingress_queue;    /* batches per input queue; 0: 4096 */
    kvbm_registry *registry;   /* optional, handed to the tracker */
    /* Optional second output: every published event also goes out as a Dynamo RouterEvent
     * (kvbm/router_events.h msgpack, one message per event, event_id from 0 per worker) on
     * this publisher, e.g. a NATS publisher (kvbm/nats.h). The consolidator takes its own
     * reference. Subject: router_subject (NULL: KVBM_ROUTER_EVENT_SUBJECT "kv-events"),
     * worker_id: router_worker_id, dp_rank 0, storage tier device. */
    kvbm_publisher *router_publisher;
    const char     *router_subject;
    uint64_t        router_worker_id;
} kvbm_consolidator_config;

#define KVBM_CONSOLIDATOR_CONFIG_INIT { NULL, 0, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, 0 }

typedef struct kvbm_consolidator_stats {
    /* ingress, summed over the inputs (per input: kvbm_consolidator_input_stats) */
    uint64_t batches_in;        /* batches decoded and applied */
    uint64_t block_stores_in;   /* blocks stored by engines (before dedup) */
    uint64_t block_removes_in;  /* blocks removed by engines */
    uint64_t events_skipped;    /* engine events skipped (Eagle, MM, block size, groups, chunking) */
    uint64_t gaps, recovered, unrecoverable, decode_errors, frame_errors, dropped, disconnects;
    uint64_t unknown_removes;   /* removes of hashes the input did not hold */
    /* kvbm's stream */
    uint64_t kvbm_events;       /* Create/Remove events applied */
    uint64_t kvbm_lost;         /* events lost because the subscription lagged */
    /* tracker */
    uint64_t unknown_parent;    /* stores whose parent was unknown (hashed as roots) */
    uint64_t duplicates;        /* stores suppressed: already published or held elsewhere */
    uint64_t live_blocks;       /* gauge */
    /* egress */
    uint64_t batches_out;       /* batches published */
    uint64_t events_out;        /* events in them */
    uint64_t egress_errors;     /* batches that could not be encoded or published */
    uint64_t router_events_out; /* RouterEvents handed to router_publisher */
    uint64_t router_errors;     /* RouterEvents that could not be built or published */
} kvbm_consolidator_stats;

/**
 * kvbm_consolidator_create() - validate @cfg, bind the output, connect the inputs, start
 * the threads. *@out owned by the caller (kvbm_consolidator_destroy).
 * Errors (detail in kvbm_last_error(), naming the value): KVBM_EINVAL (NULL, no
 * out_endpoint, an input without source or endpoint, "Unknown event source: ..."),
 * KVBM_EADDRINUSE / KVBM_ECONNECT (binding the output), KVBM_ENOMEM, KVBM_EIO (threads).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_consolidator_create(const kvbm_consolidator_config *cfg, kvbm_consolidator **out);

/**
 * kvbm_consolidator_stop() - stop every thread (each waits at most ~100 ms for its input),
 * publish what the tracker still holds queued, close the sockets. Idempotent. Returns
 * within about a second. get_stats stays valid until destroy.
 */
KVBM_API void kvbm_consolidator_stop(kvbm_consolidator *c);

/**
 * kvbm_consolidator_flush() - run one egress tick now (drain, sort, publish) instead of
 * waiting for the next poll interval; serialised with the egress thread. Returns true if a
 * batch was published. For tests and for callers that want a batch boundary.
 */
KVBM_API bool kvbm_consolidator_flush(kvbm_consolidator *c);

/** kvbm_consolidator_destroy() - stop (if running) and free. NULL: no-op. */
KVBM_API void kvbm_consolidator_destroy(kvbm_consolidator *c);

/** Counters into *@out. KVBM_OK, KVBM_EINVAL. Any thread. */
KVBM_API kvbm_status kvbm_consolidator_get_stats(kvbm_consolidator *c, kvbm_consolidator_stats *out);

/** Counters of input @i (config order) into *@out. KVBM_OK, KVBM_EINVAL, KVBM_ERANGE. */
KVBM_API kvbm_status kvbm_consolidator_input_stats(kvbm_consolidator *c, size_t i,
                                                   kvbm_vllm_sub_stats *out);

/** The output PUB's actual endpoint (port resolved when the config said 0 or *), and the
 *  replay socket's (NULL without one). Valid while @c lives. */
KVBM_API const char *kvbm_consolidator_out_endpoint(const kvbm_consolidator *c);
KVBM_API const char *kvbm_consolidator_out_replay_endpoint(const kvbm_consolidator *c);

/** The tracker (borrowed; for tests and for callers with tokens: handle_kvbm_store). */
KVBM_API kvbm_cons_tracker *kvbm_consolidator_tracker(kvbm_consolidator *c);

/**
 * kvbm_consolidator_add_metrics() - export the counters to @a as Prometheus families
 * kvbm_consolidator_* (per-input families labelled input="<name>"). The source holds a
 * reference to @c's counters, not to @c: removing it is optional (destroy removes it).
 * KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_consolidator_add_metrics(kvbm_consolidator *c, kvbm_aggregator *a);

/**
 * kvbm_consolidator_format_stats() - one line "batches_in=.. stores_in=.. removes_in=..
 * gaps=.. recovered=.. unrecoverable=.. unknown_parent=.. decode_errors=.. duplicates=..
 * live=.. batches_out=.. events_out=.." into @buf (NUL-terminated, truncated to @cap);
 * returns the full length. For the CLI's periodic log line.
 */
KVBM_API size_t kvbm_consolidator_format_stats(const kvbm_consolidator_stats *s, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_CONSOLIDATOR_H */
