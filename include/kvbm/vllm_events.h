/* kvbm/vllm_events.h - vLLM ZMQ KV events (spec 20 §4.2): types, msgpack encode (map and
 * array form) and decode, JSON rendering, conversion to Dynamo router events (§4.2.3).
 * Library: libkvbm_vllm (optional, needs msgpack-c, libzmq and libkvbm_router); link
 * kvbm_vllm / pkg-config kvbm-vllm. The publisher is in kvbm/vllm_pub.h.
 *
 * A kvbm_vllm_batch is one ZMQ payload, KVEventBatch = [ts, events, data_parallel_rank];
 * frames (topic, sequence number) are the transport's business, not this codec's.
 * Every array and string of an event is borrowed: the encoder only reads it; the decoder
 * points it into storage the caller provides (kvbm_vllm_decode_space), so decoding never
 * allocates and a hostile length can at most fill the caller's pools (KVBM_EOVERFLOW).
 *
 * Decoding (§4.2.2; the message of every KVBM_EPROTO names the event index and field):
 *  - batch: array [ts, events, dp_rank|nil] (extra trailing elements ignored) or map
 *    {ts, events, data_parallel_rank|dp_rank} (unknown keys ignored); ts a float or int.
 *  - event: map with key "type" in {"BlockStored", "BlockRemoved", "AllBlocksCleared"}
 *    (other keys by name, unknown keys ignored) or array [tag, fields...] in declaration
 *    order (extra trailing elements ignored, missing trailing optionals nil). Unknown or
 *    missing type: KVBM_EPROTO.
 *    BlockStored positions: 1 block_hashes, 2 parent_block_hash, 3 token_ids, 4 block_size
 *    (1-4 required), 5 lora_id, 6 medium, 7 lora_name, 8 extra_keys, 9 group_idx (int) OR
 *    block_mm_infos (array; type-dispatched), 10 kv_cache_spec_kind, 11
 *    kv_cache_spec_sliding_window. BlockRemoved: 1 block_hashes, 2 medium, 3 group_idx,
 *    4 kv_cache_spec_kind, 5 kv_cache_spec_sliding_window. Map keys: the same names.
 *  - hashes (block_hashes, parent_block_hash): msgpack int, signed or unsigned, taken as
 *    u64 by bit reinterpretation. A bin digest is KVBM_EUNSUPPORTED ("block_hashes[i]:
 *    32-byte digest ...") unless KVBM_VLLM_DECODE_DIGEST_LOW64 is set: then a bin of 8..64
 *    bytes maps to its LOW 64 bits = its last 8 bytes read big-endian (the digest as a
 *    big-endian integer mod 2^64).
 *  - token_ids: ints in [0, 2^32), or a list of [a, b] pairs (bigram, Eagle): tokens = all
 *    first elements plus the last pair's second element, is_eagle = true.
 *  - block_size: int in [0, 2^31); lora_id: int or nil; medium, lora_name, kv_cache_spec_kind:
 *    str or nil (copied NUL-terminated into the char pool; an embedded NUL is KVBM_EPROTO).
 *  - MM info: an explicit block_mm_infos (per block nil or {"mm_objects": [{"mm_hash": u64,
 *    "offsets": [[start, end], ...]}, ...]}; a BlockExtraInfo may also come as the array
 *    [mm_objects] and an object as [mm_hash, offsets]) wins over extra_keys. extra_keys:
 *    per block nil or a list of items; an item that is a 64-hex-char string, or a [string,
 *    offset] pair whose string is 64 hex chars, is an MM identifier with mm_hash = its first
 *    16 hex chars as u64 (no offsets); other items are ignored. If no block has MM info the
 *    event has none (n_block_mm = 0).
 *  - ignored: set when group_idx is present and != 0, or kv_cache_spec_kind is present and
 *    names neither full attention nor MLA (ASCII case-insensitive: contains "full" or
 *    "mla"); the event is still decoded completely (for logging), conversion skips it.
 *
 * Encoding (docs/DESIGN.md "Interop"): batch always [ts, events, dp_rank|nil]. Map form:
 * "type" first, then the fields by name in positional order, nil/absent optionals omitted
 * except parent_block_hash (always written, nil for a root); MM info as block_mm_infos
 * (never extra_keys); group fields when set. Array
 * form: [tag, block_hashes, parent, token_ids, block_size, lora_id(always nil), medium,
 * lora_name, extra_keys(nil)] with trailing nils omitted; with MM info index 9 holds
 * block_mm_infos, otherwise with has_group_idx 9-11 hold group_idx, kind, window (MM info
 * AND a group in array form: KVBM_EUNSUPPORTED). Eagle events write token_ids as bigrams
 * [t0,t1],[t1,t2],... (is_eagle with exactly 1 token: KVBM_EINVAL). Integers are written in
 * their smallest msgpack form (hashes as unsigned).
 *
 * Threads: all functions are pure and may run on any thread concurrently.
 */
#ifndef KVBM_VLLM_EVENTS_H
#define KVBM_VLLM_EVENTS_H

#include "kvbm/common.h"
#include "kvbm/router_events.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Nesting depth beyond which the decoder rejects a message (KVBM_EPROTO). */
#define KVBM_VLLM_MAX_DEPTH 32

typedef enum kvbm_vllm_event_type {
    KVBM_VLLM_BLOCK_STORED       = 0, /* "BlockStored" */
    KVBM_VLLM_BLOCK_REMOVED      = 1, /* "BlockRemoved" */
    KVBM_VLLM_ALL_BLOCKS_CLEARED = 2, /* "AllBlocksCleared" */
} kvbm_vllm_event_type;

/** Event encoding on the wire (§4.2.2). */
typedef enum kvbm_vllm_form {
    KVBM_VLLM_FORM_MAP   = 0, /* {"type": tag, field: value, ...} (current vLLM) */
    KVBM_VLLM_FORM_ARRAY = 1, /* [tag, field1, field2, ...] (legacy msgspec array_like) */
} kvbm_vllm_form;

/** MM objects of one block (@n_objects 0: none for this block). */
typedef struct kvbm_vllm_block_mm {
    const kvbm_router_mm_object *objects;
    size_t                       n_objects;
} kvbm_vllm_block_mm;

/** One vLLM KV event. Only the fields of @type are meaningful (CLEARED has none but
 *  @ignored / group fields; REMOVED: block_hashes, medium, group fields). */
typedef struct kvbm_vllm_event {
    kvbm_vllm_event_type type;
    /* STORED, REMOVED */
    const uint64_t *block_hashes;
    size_t          n_block_hashes;
    /* STORED */
    bool            has_parent;        /* false: parent_block_hash nil (root) */
    uint64_t        parent_block_hash;
    const uint32_t *token_ids;         /* flattened (bigrams already undone) */
    size_t          n_token_ids;
    bool            is_eagle;          /* token_ids came / go as bigram pairs */
    uint32_t        block_size;
    bool            has_lora_id;       /* deprecated; decoded, never encoded */
    int64_t         lora_id;
    const char     *lora_name;         /* NUL-terminated, NULL = nil ("" = no LoRA for hashing) */
    /* per-block MM info, indexed by block (blocks >= n_block_mm: none); 0 = no MM info */
    const kvbm_vllm_block_mm *block_mm;
    size_t                    n_block_mm;
    /* STORED, REMOVED */
    const char *medium;                /* NUL-terminated, NULL = nil */
    bool        has_group_idx;
    uint32_t    group_idx;
    const char *kv_cache_spec_kind;    /* NUL-terminated, NULL = nil */
    bool        has_sliding_window;
    uint32_t    sliding_window;
    /* decoder output (ignored by the encoder): a non-main attention group's event */
    bool ignored;
} kvbm_vllm_event;

/** KVEventBatch. */
typedef struct kvbm_vllm_batch {
    double                 ts;          /* seconds since the epoch */
    const kvbm_vllm_event *events;
    size_t                 n_events;
    bool                   has_dp_rank; /* false: data_parallel_rank nil */
    uint32_t               dp_rank;
} kvbm_vllm_batch;

/** Caller storage the decoder fills (any pointer may be NULL with capacity 0). Block
 *  hashes, parent-less u64 data and MM offsets share @u64. Every pool with a capacity
 *  >= the input length in bytes is always large enough (each decoded element consumes at
 *  least one input byte). Reusable across calls; a decoded batch points into it and is
 *  valid until the space is reused or freed. */
typedef struct kvbm_vllm_decode_space {
    kvbm_vllm_event       *events;
    size_t                 events_cap;
    uint64_t              *u64;
    size_t                 u64_cap;
    uint32_t              *tokens;
    size_t                 tokens_cap;
    kvbm_vllm_block_mm    *block_mm;
    size_t                 block_mm_cap;
    kvbm_router_mm_object *mm_objects;
    size_t                 mm_objects_cap;
    char                  *chars;
    size_t                 chars_cap;
} kvbm_vllm_decode_space;

/** Decoder options (flags). */
#define KVBM_VLLM_DECODE_DIGEST_LOW64 0x1u /* accept bin digests as hashes (low 64 bits) */

typedef struct kvbm_vllm_decode_options {
    uint32_t flags; /* KVBM_VLLM_DECODE_* */
} kvbm_vllm_decode_options;

/** "BlockStored", "BlockRemoved", "AllBlocksCleared"; NULL outside the enum. */
KVBM_API const char *kvbm_vllm_event_type_name(kvbm_vllm_event_type t);

/**
 * kvbm_vllm_batch_encode() - @batch as a msgpack KVEventBatch with events in @form (see
 * the file comment) into @buf.
 * @batch: read only for the call. @buf, @cap: caller buffer (NULL allowed with cap 0 to
 * size the output). @len: receives the encoded size, also when it does not fit.
 * Returns KVBM_OK; KVBM_EOVERFLOW when *@len > @cap (buffer content unspecified);
 * KVBM_EINVAL for NULL arguments, a type or form outside its enum, an array with a
 * non-zero length and a NULL pointer, is_eagle with one token; KVBM_EUNSUPPORTED for MM
 * info together with a group in array form. Never allocates.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_vllm_batch_encode(const kvbm_vllm_batch *batch, kvbm_vllm_form form, uint8_t *buf, size_t cap,
                       size_t *len);

/**
 * kvbm_vllm_batch_decode() - one msgpack KVEventBatch (exactly @len bytes; trailing bytes
 * are KVBM_EPROTO) into @out, arrays and strings pointing into @space.
 * @opts: NULL = defaults (flags 0).
 * Returns KVBM_OK; KVBM_EPROTO for malformed input (message names the event and field);
 * KVBM_EUNSUPPORTED for a bin digest hash without KVBM_VLLM_DECODE_DIGEST_LOW64;
 * KVBM_EOVERFLOW when a pool of @space is too small (the message names it); KVBM_EINVAL
 * for NULL @buf (with len > 0), @out or @space. On error *@out is unspecified.
 * Never allocates; time and stack are linear in @len and bounded by KVBM_VLLM_MAX_DEPTH.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_vllm_batch_decode(const uint8_t *buf, size_t len, const kvbm_vllm_decode_options *opts,
                       kvbm_vllm_batch *out, const kvbm_vllm_decode_space *space);

/**
 * kvbm_vllm_batch_to_json() - a human-readable one-line JSON of @batch (for `kvbm events
 * listen`): {"ts":..,"dp_rank":..|null,"events":[{"type":"BlockStored","block_hashes":[..],
 * "parent_block_hash":..|null,"token_ids":[..],"is_eagle":..,"block_size":..,...}]}; only
 * non-nil optionals are written; hashes as bare unsigned numbers. NUL-terminated into @buf;
 * @len receives strlen of the full rendering (also when it does not fit). Returns KVBM_OK,
 * KVBM_EOVERFLOW when *@len + 1 > @cap (buffer then holds a truncated, terminated prefix
 * when @cap > 0), KVBM_EINVAL as kvbm_vllm_batch_encode. Never allocates.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_vllm_batch_to_json(const kvbm_vllm_batch *batch, char *buf, size_t cap, size_t *len);

/**
 * kvbm_vllm_event_to_router() - convert_event (§4.2.3): @ev as one router event in *@out.
 * @worker_id, @dp_rank, @event_id: copied into *@out (the caller numbers emitted events,
 *   e.g. with kvbm_router_event_ids_next, only when *@emitted is true).
 * @kv_block_size: the worker's block size; 0 = trust @ev->block_size. A STORED event whose
 *   block_size differs from it converts no block.
 * @blocks, @blocks_cap: caller storage for the stored blocks (>= n_block_hashes suffices);
 *   out->blocks points into it, their mm_objects point into @ev (borrowed from @ev).
 * @emitted: false when @ev is ignored (non-main attention group): *@out untouched.
 * @dropped: optional; receives the number of listed blocks NOT converted (a block-size
 *   violation or too few tokens stops the loop; later blocks are dropped too).
 * Rules: storage tier from medium (kvbm_router_tier_from_medium; CLEARED: device). STORED:
 * a hash repeated within parent + block_hashes gives an EMPTY removed event; otherwise
 * stored with parent_hash = parent, start_position nil, and per block i tokens_hash =
 * kvbm_router_tokens_hashes over tokens [i*bs, i*bs + bs (+1 Eagle)) with lora_name, the
 * block's MM hashes and Eagle flag, has_mm_extra_info = the block has MM objects.
 * REMOVED: removed with the hashes (borrowed from @ev). CLEARED: cleared.
 * Returns KVBM_OK; KVBM_EINVAL (NULL arguments, type outside the enum, NULL array with a
 * length); KVBM_EOVERFLOW (@blocks_cap smaller than the blocks to convert: nothing valid in
 * *@out); KVBM_ENOMEM (a block with more than 64 MM objects and no memory). Pure, any
 * thread; never allocates except in the > 64 MM objects case.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_vllm_event_to_router(const kvbm_vllm_event *ev, uint64_t worker_id, uint32_t dp_rank, uint64_t event_id,
                          uint32_t kv_block_size, kvbm_router_event *out, kvbm_router_stored_block *blocks,
                          size_t blocks_cap, bool *emitted, size_t *dropped);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_VLLM_EVENTS_H */
