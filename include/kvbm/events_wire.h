/* kvbm/events_wire.h - the KV-event wire format (spec 20 §3.6), in libkvbm_events
 * (pkg-config kvbm-events; CMake kvbm::kvbm_events). Needs msgpack-c; the core library
 * does not.
 *
 * msgpack (rmp-serde layout): a batch is the 2-array [events, instance_id] with events =
 * {"Create": [plh...]} | {"Remove": [plh...]} | "Shutdown", every u128 (PLHs and the
 * instance id) a bin8 of 16 big-endian bytes. The encoder produces exactly the spec's
 * bytes. The decoder accepts exactly that, plus the tolerated forms: the map-form struct
 * {"events": ..., "instance_id": ...} (keys in any order) and an unsigned integer
 * (<= 2^64 - 1) wherever a u128 is expected; bin16/bin32 holding 16 bytes count as a
 * u128 too. Anything else - trailing bytes, wrong types, unknown keys or variants,
 * non-canonical PLHs, truncation - is KVBM_EPROTO with a detail message; the memory it
 * uses is bounded by the input length (no allocation from a claimed length).
 *
 * JSON (serde_json layout, for humans and tests): a batch renders as
 * {"events":{"Create":[14643705804678351452,...]},"instance_id":12345}, Shutdown as
 * {"events":"Shutdown","instance_id":12345}, one event as {"Create":14643705804678351452};
 * u128 values in decimal.
 *
 * Threads: every function is reentrant; a kvbm_events_decoded is used by one thread.
 */
#ifndef KVBM_EVENTS_WIRE_H
#define KVBM_EVENTS_WIRE_H

#include "kvbm/events_pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * kvbm_events_wire_encode() - msgpack of @b into @buf (@cap bytes); *@len = encoded size.
 * KVBM_EOVERFLOW if @cap is too small (*@len then holds the size needed, nothing else
 * is guaranteed about @buf), KVBM_EINVAL (NULL, kind/count mismatch: Shutdown with n > 0,
 * Create/Remove with n == 0 or NULL hashes). Does not allocate.
 */
KVBM_API kvbm_status kvbm_events_wire_encode(const kvbm_event_batch *b, uint8_t *buf,
                                             size_t cap, size_t *len);

/** The msgpack encoder as a pipeline encoder (kvbm_events_pipeline_config.encoder). */
KVBM_API kvbm_events_encoder kvbm_events_wire_encoder(void);

/* A decoded batch. batch.hashes points into storage owned by this struct; a struct may be
 * reused for many decodes (the storage grows as needed) and is freed with
 * kvbm_events_decoded_free(). Zero-initialise it (KVBM_EVENTS_DECODED_INIT) first. */
typedef struct kvbm_events_decoded {
    kvbm_event_batch batch;
    kvbm_plh        *storage_;
    size_t           cap_;
} kvbm_events_decoded;
#define KVBM_EVENTS_DECODED_INIT { { KVBM_EVENT_SHUTDOWN, NULL, 0, { 0, 0 } }, NULL, 0 }

/**
 * kvbm_events_wire_decode() - decode one msgpack batch (@len bytes at @buf) into *@out.
 * Returns KVBM_OK, KVBM_EPROTO (malformed; kvbm_last_error() says what and where),
 * KVBM_EINVAL (NULL @out, or NULL @buf with @len > 0), KVBM_ENOMEM. On error *@out's
 * batch is a Shutdown with n = 0 (its storage is kept).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_events_wire_decode(const uint8_t *buf, size_t len, kvbm_events_decoded *out);

/** Free @d's storage and reset it to KVBM_EVENTS_DECODED_INIT. NULL: no-op. */
KVBM_API void kvbm_events_decoded_free(kvbm_events_decoded *d);

/**
 * kvbm_events_batch_to_json() - the JSON of @b into @buf (@cap bytes, NUL-terminated);
 * *@len = length without the NUL. KVBM_EOVERFLOW if @cap is too small (*@len = length
 * needed), KVBM_EINVAL (NULL).
 */
KVBM_API kvbm_status kvbm_events_batch_to_json(const kvbm_event_batch *b, char *buf, size_t cap,
                                               size_t *len);

/** kvbm_events_event_to_json() - {"Create":N} / {"Remove":N}; same conventions. */
KVBM_API kvbm_status kvbm_events_event_to_json(const kvbm_event *e, char *buf, size_t cap,
                                               size_t *len);

/**
 * kvbm_events_batch_from_json() - parse the JSON of a batch (the shape above; whitespace
 * anywhere, keys in any order) into *@out. KVBM_OK, KVBM_EPROTO (with a detail),
 * KVBM_EINVAL, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_events_batch_from_json(const char *json, size_t len, kvbm_events_decoded *out);

/** kvbm_events_event_from_json() - parse {"Create":N} / {"Remove":N}. KVBM_OK, KVBM_EPROTO. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_events_event_from_json(const char *json, size_t len, kvbm_event *out);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_EVENTS_WIRE_H */
