/* kvbm/tracker.h - frequency trackers (TinyLFU count-min sketch) behind one interface.
 *
 * A tracker counts how often a 128-bit key (a PLH's as_u128, 16 bytes little-endian) is
 * touched. It is attached to a registry and shared by every manager using that registry.
 * Trackers are refcounted; kvbm_tracker_release() drops one reference.
 * Threads: every function may be called from any thread. Tracker locks are leaves: a
 * tracker never calls back into kvbm.
 */
#ifndef KVBM_TRACKER_H
#define KVBM_TRACKER_H

#include "kvbm/common.h"
#include "kvbm/plh.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_tracker kvbm_tracker;

/**
 * Custom tracker implementation (e.g. a metered wrapper in tests).
 * Where the callbacks run (they must never call back into kvbm):
 *   touch    with no kvbm lock held (the registry touches after releasing its shard lock,
 *            match_blocks after releasing the store lock).
 *   count    UNDER A MANAGER'S STORE LOCK when the tracker serves a MultiLRU backend: the
 *            backend reads the count when a block enters the inactive pool (every final
 *            release). It must be fast and must not block, sleep or take a lock that another
 *            thread may hold while calling into kvbm; a kvbm call from it deadlocks (debug
 *            builds abort on the lock-rank check). Called directly through
 *            kvbm_tracker_count*(), it runs on the caller's thread with no kvbm lock.
 *   destroy  when the last reference goes, with no kvbm lock held.
 * Threads: any callback may run on several threads at once; ctx must be thread-safe.
 */
typedef struct kvbm_tracker_ops {
    void     (*touch)(void *ctx, const uint8_t key[16]);
    uint32_t (*count)(void *ctx, const uint8_t key[16]);
    void     (*destroy)(void *ctx); /* may be NULL; called when the last reference goes */
} kvbm_tracker_ops;

/** Decay policy: return true when the sketch should halve after @increments.
 *  should_decay runs with the TinyLFU tracker's lock held (a leaf lock, during touches;
 *  never under the store lock): it must be fast and must not call into kvbm. */
typedef struct kvbm_decay_policy {
    bool (*should_decay)(void *ctx, uint32_t increments_since_reset);
    void *ctx;
} kvbm_decay_policy;

typedef enum kvbm_tracker_capacity {
    KVBM_TRACKER_SMALL  = 0, /* 2^18 entries, 512 KiB */
    KVBM_TRACKER_MEDIUM = 1, /* 2^21 entries, 4 MiB (default) */
    KVBM_TRACKER_LARGE  = 2  /* 2^24 entries, 32 MiB */
} kvbm_tracker_capacity;

/** Entries of a preset (2^18 / 2^21 / 2^24); 0 for an unknown preset. */
KVBM_API uint64_t kvbm_tracker_capacity_entries(kvbm_tracker_capacity preset);

/**
 * kvbm_tinylfu_create() - TinyLFU tracker with @capacity entries (table of max(1, cap/4)
 * 64-bit words of 16 4-bit counters). @decay: NULL = fixed decay at min(cap*10, 2^32-1)
 * effective increments; otherwise copied (its ctx must outlive the tracker).
 * Returns KVBM_OK, KVBM_EINVAL (capacity 0 or out NULL), KVBM_ENOMEM. *@out holds one ref.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_tinylfu_create(uint64_t capacity, const kvbm_decay_policy *decay, kvbm_tracker **out);

/** kvbm_tinylfu_create_preset() - kvbm_tinylfu_create(entries(preset), NULL, out). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_tinylfu_create_preset(kvbm_tracker_capacity preset, kvbm_tracker **out);

/** kvbm_noop_tracker_create() - touch does nothing, count is always 0. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_noop_tracker_create(kvbm_tracker **out);

/** kvbm_tracker_create_custom() - wrap user ops; ctx is passed back verbatim. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_tracker_create_custom(const kvbm_tracker_ops *ops, void *ctx, kvbm_tracker **out);

/** Reference counting. clone returns @t; release of NULL is a no-op. */
KVBM_API kvbm_tracker *kvbm_tracker_clone(kvbm_tracker *t);
KVBM_API void kvbm_tracker_release(kvbm_tracker *t);

/** touch/count by raw 16-byte key, or by PLH (key = kvbm_plh_to_le16).
 *  A TinyLFU tracker with the default (fixed) decay policy may apply a touch later - at the
 *  latest at the next count, decay or 32 touches on - but every count, decay point and
 *  estimate is exactly that of applying it at once (reads apply pending touches first, under
 *  the tracker lock). So count is lock-free except right after touches, when it takes the
 *  tracker's leaf lock once. A custom decay policy's should_decay runs inside the touch. */
KVBM_API void     kvbm_tracker_touch_key(kvbm_tracker *t, const uint8_t key[16]);
KVBM_API uint32_t kvbm_tracker_count_key(kvbm_tracker *t, const uint8_t key[16]);
KVBM_API void     kvbm_tracker_touch(kvbm_tracker *t, kvbm_plh h);
KVBM_API uint32_t kvbm_tracker_count(kvbm_tracker *t, kvbm_plh h);
/** 64-bit keys (8 bytes little-endian), as the reference's u64 key type. */
KVBM_API void     kvbm_tracker_touch_u64(kvbm_tracker *t, uint64_t key);
KVBM_API uint32_t kvbm_tracker_count_u64(kvbm_tracker *t, uint64_t key);

/**
 * kvbm_tracker_touch_many() - touch @n PLH keys, in order; equivalent to n calls of
 * kvbm_tracker_touch() (same counts, same decay points) but amortises the tracker lock and
 * overlaps the sketch's cache misses. NULL @t or n == 0: no-op.
 */
KVBM_API void kvbm_tracker_touch_many(kvbm_tracker *t, const kvbm_plh *hashes, size_t n);

/** Force a decay (halving) of a TinyLFU tracker now; no-op for other trackers. */
KVBM_API void kvbm_tracker_decay_now(kvbm_tracker *t);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_TRACKER_H */
