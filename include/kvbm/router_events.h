/* kvbm/router_events.h - Dynamo KV-router events (spec 20 §4.1): types, msgpack encode and
 * decode, JSON rendering, storage tiers and the per-(worker, dp_rank) event_id generator.
 * Library: libkvbm_router (optional, needs msgpack-c); link kvbm_router / pkg-config
 * kvbm-router. tokens_hash values are computed with kvbm_router_tokens_hashes (kvbm/tokens.h).
 *
 * One kvbm_router_event is a RouterEvent { worker_id, storage_tier, event: KvCacheEvent
 * { event_id, data, dp_rank } } flattened: @kind selects the data variant (stored / removed /
 * cleared) and only that variant's fields are meaningful. Every array is borrowed with an
 * explicit length: the encoder only reads it; the decoder points the arrays into storage the
 * caller provides (kvbm_router_decode_space), so decoding never allocates and a hostile
 * length can at most fill the caller's buffers (KVBM_EOVERFLOW, nothing else written).
 *
 * Wire (§4.1.2): msgpack maps keyed by the serde field names in the order of the spec;
 * data = {"stored": {...}} | {"removed": {...}} | "cleared"; absent options are nil;
 * mm_extra_info is always written (nil when absent); integers in their smallest form.
 * Decoding keys by name, ignores unknown keys (their values are skipped, nesting bounded by
 * KVBM_ROUTER_MAX_DEPTH), applies the serde defaults (storage_tier device, dp_rank 0,
 * parent_hash / start_position / mm_extra_info null) and reinterprets negative (i64) hashes
 * as u64. Duplicate keys, wrong types, missing required fields and trailing bytes are
 * KVBM_EPROTO.
 *
 * Threads: the free functions are pure and may run on any thread concurrently. A
 * kvbm_router_event_ids generator is not synchronised (one thread at a time).
 */
#ifndef KVBM_ROUTER_EVENTS_H
#define KVBM_ROUTER_EVENTS_H

#include "kvbm/common.h"
#include "kvbm/manager.h"
#include "kvbm/events_pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/** NATS subject of router events (KV_EVENT_SUBJECT). */
#define KVBM_ROUTER_EVENT_SUBJECT "kv-events"
/** Nesting depth beyond which the decoder rejects a message (KVBM_EPROTO). */
#define KVBM_ROUTER_MAX_DEPTH 32

/** StorageTier; serialised as its lowercase name (kvbm_router_tier_name). */
typedef enum kvbm_router_tier {
    KVBM_ROUTER_TIER_DEVICE      = 0, /* "device" (default) */
    KVBM_ROUTER_TIER_HOST_PINNED = 1, /* "host_pinned" */
    KVBM_ROUTER_TIER_DISK        = 2, /* "disk" */
    KVBM_ROUTER_TIER_EXTERNAL    = 3, /* "external" */
} kvbm_router_tier;

typedef enum kvbm_router_event_kind {
    KVBM_ROUTER_STORED  = 0,
    KVBM_ROUTER_REMOVED = 1,
    KVBM_ROUTER_CLEARED = 2,
} kvbm_router_event_kind;

/** One multimodal object of a block: its hash and [start, end) token offsets relative to
 *  the block (@offsets holds 2 * @n_offsets values: start0, end0, start1, end1, ...). */
typedef struct kvbm_router_mm_object {
    uint64_t        mm_hash;
    const uint64_t *offsets;
    size_t          n_offsets;
} kvbm_router_mm_object;

/** KvCacheStoredBlockData. @has_mm_extra_info false: mm_extra_info is nil; true: it is
 *  BlockExtraInfo { mm_objects: @mm_objects[0..@n_mm_objects) } (possibly empty). */
typedef struct kvbm_router_stored_block {
    uint64_t                     block_hash;  /* engine's external sequence hash (opaque) */
    uint64_t                     tokens_hash; /* router-computable local block hash */
    bool                         has_mm_extra_info;
    const kvbm_router_mm_object *mm_objects;
    size_t                       n_mm_objects;
} kvbm_router_stored_block;

/** RouterEvent (flattened, see the file comment). */
typedef struct kvbm_router_event {
    uint64_t               worker_id;
    kvbm_router_tier       storage_tier;
    uint64_t               event_id;
    uint32_t               dp_rank;
    kvbm_router_event_kind kind;
    /* KVBM_ROUTER_STORED: KvCacheStoreData */
    bool                            has_parent_hash;    /* false: parent_hash nil (root) */
    uint64_t                        parent_hash;
    bool                            has_start_position; /* false: start_position nil */
    uint32_t                        start_position;
    const kvbm_router_stored_block *blocks;
    size_t                          n_blocks;
    /* KVBM_ROUTER_REMOVED: KvCacheRemoveData */
    const uint64_t *block_hashes;
    size_t          n_block_hashes;
} kvbm_router_event;

/** Caller storage the decoder fills (any pointer may be NULL with capacity 0). Block
 *  hashes of a removed event and mm offsets share @u64. Reusable across calls; a decoded
 *  event points into it and is valid until the space is reused or freed. */
typedef struct kvbm_router_decode_space {
    kvbm_router_stored_block *blocks;
    size_t                    blocks_cap;
    kvbm_router_mm_object    *mm_objects;
    size_t                    mm_objects_cap;
    uint64_t                 *u64;
    size_t                    u64_cap;
} kvbm_router_decode_space;

/* ---- tiers ------------------------------------------------------------------------- */

/** "device", "host_pinned", "disk", "external"; NULL for values outside the enum. */
KVBM_API const char *kvbm_router_tier_name(kvbm_router_tier t);

/**
 * kvbm_router_tier_from_medium() - StorageTier::from_kv_medium (§4.1.3), ASCII
 * case-insensitive: GPU DEVICE -> device; CPU_PINNED CPU_TIER1 CPU -> host_pinned;
 * CPU_TIER2 DISK NVME STORAGE -> disk; EXTERNAL NETWORK REMOTE SHARED -> external;
 * NULL or anything else -> device. Pure.
 */
KVBM_API kvbm_router_tier kvbm_router_tier_from_medium(const char *medium);

/** kvbm tier (kvbm_layout) -> router tier: G1 device, G2 host_pinned, G3 disk, G4 external; other
 *  values: KVBM_EINVAL with a message, *@out unchanged. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_router_tier_from_layout(kvbm_layout layout, kvbm_router_tier *out);

/* ---- encoding ---------------------------------------------------------------------- */

/**
 * kvbm_router_event_encode() - RouterEvent as msgpack (named maps, §4.1.2) into @buf.
 * @ev:   read only for the call (arrays included).
 * @buf, @cap: caller buffer (NULL allowed with cap 0 to size the output).
 * @len:  receives the encoded size, also when it does not fit.
 * Returns KVBM_OK; KVBM_EOVERFLOW when *@len > @cap (the buffer content is then
 * unspecified); KVBM_EINVAL for NULL arguments, a kind or tier outside its enum, or an
 * array with a non-zero length and a NULL pointer. Never allocates.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_event_encode(const kvbm_router_event *ev, uint8_t *buf, size_t cap, size_t *len);

/**
 * kvbm_router_event_to_json() - the canonical JSON of @ev (§4.1.2: field order of the
 * spec, no whitespace, hashes as bare unsigned numbers), NUL-terminated into @buf.
 * @len receives strlen of the full rendering (also when it does not fit). Returns KVBM_OK,
 * KVBM_EOVERFLOW when *@len + 1 > @cap (the buffer then holds a truncated, terminated
 * prefix when @cap > 0), KVBM_EINVAL as kvbm_router_event_encode. Never allocates.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_event_to_json(const kvbm_router_event *ev, char *buf, size_t cap, size_t *len);

/* ---- decoding ---------------------------------------------------------------------- */

/**
 * kvbm_router_event_decode() - one msgpack RouterEvent (exactly @len bytes) into @out,
 * arrays pointing into @space (see the file comment for the rules).
 * Returns KVBM_OK; KVBM_EPROTO for malformed input (message says where); KVBM_EOVERFLOW
 * when @space is too small (the message names the pool);
 * KVBM_EINVAL for NULL @buf (with len > 0), @out or @space. On error *@out is unspecified.
 * Never allocates; time and stack are linear in @len and bounded by KVBM_ROUTER_MAX_DEPTH.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_event_decode(const uint8_t *buf, size_t len, kvbm_router_event *out,
                         const kvbm_router_decode_space *space);

/**
 * kvbm_router_event_from_json() - one RouterEvent from JSON (@len bytes at @json, no NUL
 * needed): the inverse of kvbm_router_event_to_json and of serde_json's form (§4.1.2),
 * with the decoder's rules (keys by name in any order, unknown keys ignored, serde
 * defaults, negative hashes reinterpreted as u64, other integers non-negative and in
 * range, "cleared" or {"cleared": null}); arrays point into @space. Parsed by json-c
 * (strict mode; nesting deeper than KVBM_ROUTER_MAX_DEPTH rejected; a duplicated key: the
 * last one counts; json-c allocates its tree with the C allocator, bounded by @len).
 * Whitespace may follow the value; anything else is trailing bytes. Returns KVBM_OK;
 * KVBM_EPROTO (message names the field or the byte); KVBM_EOVERFLOW (a pool of @space
 * too small, named); KVBM_EINVAL (NULL arguments); KVBM_ENOMEM. Pure, any thread.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_event_from_json(const char *json, size_t len, kvbm_router_event *out,
                            const kvbm_router_decode_space *space);

/* ---- more §4.1.1 types: WorkerWithDpRank, KvCacheEvents, Placement --------------------
 * msgpack named maps like RouterEvent: WorkerWithDpRank {worker_id, dp_rank}; KvCacheEvents
 * {events: [KvCacheEvent], shutdown: bool} where each KvCacheEvent is the "event" map of a
 * RouterEvent ({event_id, data, dp_rank}); PlacementEvent {placement: {owner:
 * {"LocalWorker": WorkerWithDpRank} | "Shared", tier}, event: KvCacheEvent}. The decoders
 * follow kvbm_router_event_decode's rules (keys by name, unknown keys skipped, defaults:
 * dp_rank 0, shutdown false, tier device). A KvCacheEvent lives in a kvbm_router_event
 * whose worker_id and storage_tier are unused (the decoders set them to 0 / device). */

typedef struct kvbm_router_worker { /* WorkerWithDpRank */
    uint64_t worker_id;
    uint32_t dp_rank;
} kvbm_router_worker;

typedef enum kvbm_router_owner {
    KVBM_ROUTER_OWNER_LOCAL_WORKER = 0, /* {"LocalWorker": WorkerWithDpRank} */
    KVBM_ROUTER_OWNER_SHARED       = 1  /* "Shared" */
} kvbm_router_owner;

typedef struct kvbm_router_placement {
    kvbm_router_owner  owner;
    kvbm_router_worker worker; /* LocalWorker only */
    kvbm_router_tier   tier;
} kvbm_router_placement;

typedef struct kvbm_router_placement_event {
    kvbm_router_placement placement;
    kvbm_router_event     event; /* KvCacheEvent: worker_id / storage_tier unused */
} kvbm_router_placement_event;

/** WorkerWithDpRank as msgpack; sizing/EOVERFLOW as kvbm_router_event_encode. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_worker_encode(const kvbm_router_worker *w, uint8_t *buf, size_t cap, size_t *len);
/** WorkerWithDpRank from msgpack (exactly @len bytes). KVBM_OK, KVBM_EPROTO, KVBM_EINVAL. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_worker_decode(const uint8_t *buf, size_t len, kvbm_router_worker *out);

/** KvCacheEvents (router batch) of @n KvCacheEvents (@events[i].worker_id / storage_tier
 *  ignored) and @shutdown, as msgpack. Sizing, EOVERFLOW, EINVAL as kvbm_router_event_encode. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_batch_encode(const kvbm_router_event *events, size_t n, bool shutdown, uint8_t *buf,
                         size_t cap, size_t *len);
/**
 * kvbm_router_batch_decode() - KvCacheEvents from msgpack: at most @cap events into
 * @events (*@n receives the count; their arrays share @space), *@shutdown the flag.
 * KVBM_OK, KVBM_EPROTO, KVBM_EOVERFLOW (more than @cap events, or @space too small),
 * KVBM_EINVAL. Never allocates.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_batch_decode(const uint8_t *buf, size_t len, kvbm_router_event *events, size_t cap,
                         size_t *n, bool *shutdown, const kvbm_router_decode_space *space);

/** PlacementEvent as msgpack. Sizing, EOVERFLOW, EINVAL (also owner/tier outside the enums). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_placement_event_encode(const kvbm_router_placement_event *pe, uint8_t *buf, size_t cap,
                                   size_t *len);
/** PlacementEvent from msgpack, arrays in @space. KVBM_OK, KVBM_EPROTO, KVBM_EOVERFLOW, KVBM_EINVAL. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_placement_event_decode(const uint8_t *buf, size_t len, kvbm_router_placement_event *out,
                                   const kvbm_router_decode_space *space);
/**
 * kvbm_router_placement_event_into_router_event() - PlacementEvent::into_router_event: a
 * LocalWorker placement gives the RouterEvent {worker_id of the placement's worker,
 * storage_tier = placement tier, event} (the event keeps its own dp_rank; arrays still
 * borrowed from @pe). A Shared placement has none: KVBM_ENOENT. KVBM_EINVAL for NULL.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_placement_event_into_router_event(const kvbm_router_placement_event *pe,
                                              kvbm_router_event *out);

/**
 * kvbm_router_request_mark_free_to_json() - the router request {"method":"mark_free",
 * "request_id":"<id>"} (the request_id member omitted when @request_id is NULL; the id is
 * JSON-escaped) into @buf, NUL-terminated; *@len = its strlen. KVBM_OK, KVBM_EOVERFLOW
 * (as kvbm_router_event_to_json), KVBM_EINVAL. Pure.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_request_mark_free_to_json(const char *request_id, char *buf, size_t cap, size_t *len);

/* ---- event_id generator (§4.1.5) --------------------------------------------------- */

typedef struct kvbm_router_event_ids kvbm_router_event_ids;

/** Create a generator (no key yet). *@out owned by the caller, freed with
 *  kvbm_router_event_ids_destroy. KVBM_EINVAL (NULL), KVBM_ENOMEM. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_router_event_ids_create(kvbm_router_event_ids **out);
/** Destroy; NULL is a no-op. */
KVBM_API void kvbm_router_event_ids_destroy(kvbm_router_event_ids *g);
/**
 * kvbm_router_event_ids_next() - the next event_id of (@worker_id, @dp_rank): 0 for the
 * first call with that pair, then 1, 2, ... independently per pair. A new pair may
 * allocate: KVBM_ENOMEM leaves the generator unchanged. KVBM_EINVAL for NULL arguments.
 * Not synchronised: one thread at a time per generator.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_event_ids_next(kvbm_router_event_ids *g, uint64_t worker_id, uint32_t dp_rank, uint64_t *id);

/* ---- router feed: a manager's registrations as router events (docs/design/router.md) ---
 *
 * A feed turns the Create / Remove batches of an events manager's stream (kvbm/events.h)
 * into RouterEvents published on any kvbm_publisher (NATS: kvbm/nats.h, ZeroMQ:
 * kvbm/zmq.h), through an events pipeline (kvbm/events_pipeline.h: same batching).
 *   Create batch -> one `stored` event per parent chain in the batch (blocks ascending by
 *                   position; a block continues a chain when its router parent hash is
 *                   the chain's last block hash at the previous position), block_hash /
 *                   parent_hash = kvbm_plh_router_block_hash / _parent_hash (§4.3.3),
 *                   tokens_hash = kvbm_handle_router_tokens_hash of the live registration
 *                   (manager option router_tokens_hash), else the block_hash itself
 *                   (counted in no_tokens_hash). A hash no longer registered when the
 *                   batch is converted is left out (stale; its Remove follows).
 *   Remove batch -> one `removed` event with the block hashes.
 *   Shutdown     -> nothing (RouterEvent has no shutdown); the transport is flushed.
 * worker_id, dp_rank and storage_tier are configured (tier: the manager's layout, G1-G4 ->
 * device / host_pinned / disk / external); event_id counts from 0 per feed, i.e. per
 * (worker_id, dp_rank) when one feed publishes for that pair. The events manager's order
 * guarantee (no Remove after a later Create of a hash, decision 6) carries over: the feed
 * keeps the stream's order. Conversion runs on the pipeline's worker thread. */

typedef struct kvbm_router_feed kvbm_router_feed;

typedef struct kvbm_router_feed_config {
    size_t               struct_size;    /* KVBM_ROUTER_FEED_CONFIG_INIT sets it */
    kvbm_events_manager *events;         /* required: the stream (subscribed at start) */
    kvbm_manager        *manager;        /* required: registry (tokens_hash) and tier */
    kvbm_publisher      *publisher;      /* required: the transport (a reference is taken) */
    uint64_t             worker_id;
    uint32_t             dp_rank;
    const char          *subject;        /* NULL: KVBM_ROUTER_EVENT_SUBJECT (copied) */
    uint32_t             window_ms;      /* batching window, 0: 10 (pipeline) */
    uint32_t             max_batch_size; /* 0: 1024 (pipeline) */
} kvbm_router_feed_config;
#define KVBM_ROUTER_FEED_CONFIG_INIT \
    { sizeof(kvbm_router_feed_config), NULL, NULL, NULL, 0, 0, NULL, 0, 0 }

typedef struct kvbm_router_feed_stats {
    uint64_t events;          /* RouterEvents published (stored + removed) */
    uint64_t stored_blocks;   /* blocks in published stored events */
    uint64_t removed_hashes;  /* hashes in published removed events */
    uint64_t stale;           /* Create of a hash no longer registered: left out */
    uint64_t no_tokens_hash;  /* stored blocks without a kept tokens_hash */
    uint64_t errors;          /* events lost: encode or transport error (event_id used) */
} kvbm_router_feed_stats;

/**
 * kvbm_router_feed_start() - subscribe to cfg->events and start the pipeline thread.
 * The manager must outlive the feed (its registry is referenced; its tier read now).
 * Returns KVBM_OK; KVBM_EINVAL (NULL, bad struct_size, tier_key beyond G4); KVBM_ECONFIG
 * ("events is required", "manager is required", "publisher is required"); KVBM_ENOMEM;
 * KVBM_EIO (thread). The stream ends as kvbm/events_pipeline.h says.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_router_feed_start(const kvbm_router_feed_config *cfg, kvbm_router_feed **out);
/** Wait until the stream ended and everything was published (kvbm_events_pipeline_join). */
KVBM_API kvbm_status kvbm_router_feed_join(kvbm_router_feed *f);
/** Counters (relaxed reads). KVBM_OK or KVBM_EINVAL. */
KVBM_API kvbm_status kvbm_router_feed_get_stats(kvbm_router_feed *f, kvbm_router_feed_stats *out);
/** Abort (unless finished), join and free. NULL: no-op. */
KVBM_API void kvbm_router_feed_destroy(kvbm_router_feed *f);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_ROUTER_EVENTS_H */
