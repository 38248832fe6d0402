/* kvbm/events.h - KV cache events: the events manager, emission policies and the
 * broadcast stream (spec 20 §3.1-§3.3, §6.4).
 *
 * An events manager watches one or more registries (kvbm_events_manager_attach: every
 * block manager sharing such a registry, every tier, feeds one stream). For each new
 * registration of a hash that its policy accepts it broadcasts Create(h) and attaches a
 * *release handle* to the registration; when that registration dies (the last holder of
 * the hash in every tier is gone) the release handle broadcasts Remove(h). One Create and
 * one Remove per registration lifetime per registry, never per physical copy. For a given
 * hash a Remove is never delivered after a later Create (binding decision 6: a new
 * registration of a hash waits until the previous one's Remove has been broadcast).
 *
 * The stream is a fixed-capacity ring (kvbm__chan, src/events/channel.c). Sending never
 * waits for a subscriber and never allocates (concurrent senders copy their batches in
 * turn under a short leaf lock): a subscriber that falls more than the capacity behind
 * loses the oldest events and is told how many (KVBM_ELAGGED), and the losses are
 * counted. Nothing is emitted while a store lock is held: Create is sent under the
 * registry shard lock of the new handle (before any store lock is taken), Remove by the
 * thread that drops the registration's last reference (with no kvbm lock held).
 *
 * Threads: every function may be called from any thread unless stated. A subscription
 * is used by one thread at a time.
 */
#ifndef KVBM_EVENTS_H
#define KVBM_EVENTS_H

#include "kvbm/common.h"
#include "kvbm/plh.h"
#include "kvbm/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_events_manager kvbm_events_manager;
typedef struct kvbm_events_sub     kvbm_events_sub;

/* One block event (KvCacheEvent). */
typedef enum kvbm_event_kind {
    KVBM_EVENT_CREATE   = 0,
    KVBM_EVENT_REMOVE   = 1,
    KVBM_EVENT_SHUTDOWN = 2  /* batches only (kvbm_event_batch), never a stream item */
} kvbm_event_kind;

typedef struct kvbm_event {
    kvbm_event_kind kind;
    kvbm_plh        hash;
} kvbm_event;

/* A u128 instance id (hi = most significant 64 bits). */
typedef struct kvbm_u128 {
    uint64_t hi, lo;
} kvbm_u128;

/* A batch of one kind (KvbmCacheEvents): Create/Remove with n >= 1 hashes, or Shutdown
 * with n == 0. @hashes is borrowed (valid as long as the producer says). */
typedef struct kvbm_event_batch {
    kvbm_event_kind  kind;
    const kvbm_plh  *hashes;
    size_t           n;
    kvbm_u128        instance_id;
} kvbm_event_batch;

/* ---- policies (spec 20 §3.3) -------------------------------------------------------- */

typedef enum kvbm_events_policy_kind {
    KVBM_EVENTS_POLICY_ALL          = 0, /* every registration (the default) */
    KVBM_EVENTS_POLICY_POWER_OF_TWO = 1, /* positions that are powers of two in [min, max] */
    KVBM_EVENTS_POLICY_CUSTOM       = 2  /* should_emit(ctx, h) */
} kvbm_events_policy_kind;

typedef struct kvbm_events_policy {
    kvbm_events_policy_kind kind;
    uint64_t min_position, max_position; /* POWER_OF_TWO: inclusive bounds, not validated */
    /* CUSTOM: called under the registry shard lock of the new handle, from any thread:
     * must be fast and thread-safe, must not call kvbm. @ctx must outlive the manager. */
    bool (*should_emit)(void *ctx, kvbm_plh h);
    void *ctx;
} kvbm_events_policy;

/** AllEventsPolicy. */
KVBM_API kvbm_events_policy kvbm_events_policy_all(void);
/** PowerOfTwoPolicy::new(): positions 16, 32, ..., 65536. */
KVBM_API kvbm_events_policy kvbm_events_policy_power_of_two(void);
/** PowerOfTwoPolicy::with_range(min, max): power-of-two positions p, min <= p <= max
 * (position 0 never emits). */
KVBM_API kvbm_events_policy kvbm_events_policy_power_of_two_range(uint64_t min, uint64_t max);
/** A user policy; @fn NULL behaves as "emit nothing". */
KVBM_API kvbm_events_policy kvbm_events_policy_custom(bool (*fn)(void *ctx, kvbm_plh h), void *ctx);
/** should_emit(h) of @p (NULL: AllEvents). */
KVBM_API bool kvbm_events_policy_should_emit(const kvbm_events_policy *p, kvbm_plh h);

/* ---- manager -------------------------------------------------------------------------- */

typedef struct kvbm_events_config {
    size_t             struct_size;      /* KVBM_EVENTS_CONFIG_INIT sets it */
    kvbm_events_policy policy;           /* default AllEvents */
    uint32_t           channel_capacity; /* 0: 262144 (4 MiB of slots, ~11 ms of a busy
                                            producer: docs/DESIGN.md §9); rounded up to
                                            a power of two, <= 2^20 */
} kvbm_events_config;
#define KVBM_EVENTS_CONFIG_INIT { sizeof(kvbm_events_config), { KVBM_EVENTS_POLICY_ALL, 0, 0, NULL, NULL }, 0 }

/* Counters (monotonic, relaxed reads). */
typedef struct kvbm_events_stats {
    uint64_t created;          /* Create events broadcast */
    uint64_t removed;          /* Remove events broadcast */
    uint64_t filtered;         /* registrations the policy did not emit (no Create, no Remove) */
    uint64_t attach_failures;  /* release handle could not be attached (Create + Remove sent) */
    uint64_t lost;             /* events subscribers lost by lagging (sum over subscribers) */
    uint64_t dropped_closed;   /* events not sent because the stream was closed */
    uint64_t subscribers;      /* current number of subscriptions */
} kvbm_events_stats;

/**
 * kvbm_events_manager_create() - a manager with its broadcast stream. @cfg NULL: defaults.
 * *@out holds one reference. Returns KVBM_OK, KVBM_EINVAL (NULL @out, bad struct_size),
 * KVBM_ECONFIG (capacity above 2^20, unknown policy kind), KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_events_manager_create(const kvbm_events_config *cfg, kvbm_events_manager **out);

/** +1 reference; returns @m. */
KVBM_API kvbm_events_manager *kvbm_events_manager_acquire(kvbm_events_manager *m);

/**
 * kvbm_events_manager_release() - drop one reference (NULL: no-op). The last one detaches
 * the manager from its registries (see kvbm_registry_remove_observer: no kvbm lock may be
 * held) and gives up the manager's hold on the stream: the stream then ends (subscribers
 * get KVBM_ECLOSED after the remaining events) as soon as no release handle is alive, i.e.
 * once every registration it announced has been removed - or at once after
 * kvbm_events_manager_close().
 */
KVBM_API void kvbm_events_manager_release(kvbm_events_manager *m);

/**
 * kvbm_events_manager_attach() - watch @r: a registry observer named "events" (at most
 * 8 registries per manager). The manager keeps a reference to @r until detached.
 * Returns KVBM_OK, KVBM_EINVAL, KVBM_EBUSY (already attached to @r), KVBM_EFULL
 * (registry or manager has no free observer slot), KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_events_manager_attach(kvbm_events_manager *m, kvbm_registry *r);

/** Stop watching @r (no kvbm lock may be held). KVBM_OK, KVBM_EINVAL, KVBM_ENOENT. */
KVBM_API kvbm_status kvbm_events_manager_detach(kvbm_events_manager *m, kvbm_registry *r);

/**
 * kvbm_events_manager_close() - end the stream now: subscribers receive what was sent
 * before, then KVBM_ECLOSED; later events (Remove of registrations still alive, Create of
 * new ones) are dropped and counted in dropped_closed. An event racing with the close may
 * be dropped. Idempotent.
 */
KVBM_API void kvbm_events_manager_close(kvbm_events_manager *m);

/**
 * kvbm_events_manager_on_registered() - what the registry observer does for a new handle
 * @h (exposed for tests and custom wiring): if the policy accepts h, broadcast Create(h)
 * and attach a release handle (unique attachment) that broadcasts Remove(h) when @h's
 * registration dies. If the attach fails (the release type is in Multiple mode on @h),
 * the rejected release handle is destroyed at once - Remove(h) follows the Create(h) - and
 * KVBM_EATTACH_IS_MULTIPLE is returned (spec 20 §3.2; the registry logs a warning).
 * Calling it twice on one handle replaces the release handle: the old one sends Remove.
 * Takes @h's attachment lock and the stream's leaf writer lock; never waits for a
 * subscriber.
 */
KVBM_API kvbm_status kvbm_events_manager_on_registered(kvbm_events_manager *m, kvbm_handle *h);

/** Counters of @m's stream into *@out. KVBM_OK or KVBM_EINVAL. */
KVBM_API kvbm_status kvbm_events_manager_get_stats(kvbm_events_manager *m, kvbm_events_stats *out);

/** Effective ring capacity (a power of two). */
KVBM_API size_t kvbm_events_manager_capacity(kvbm_events_manager *m);

/* ---- subscriptions ---------------------------------------------------------------------- */

/**
 * kvbm_events_subscribe() - a new subscription receiving every event sent after this
 * call. It keeps the stream alive (not the manager) until kvbm_events_unsubscribe().
 * Returns KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_events_subscribe(kvbm_events_manager *m, kvbm_events_sub **out);

/**
 * kvbm_events_next() - the next event of @sub into *@out, waiting at most @timeout_ms
 * (0: poll, < 0: no limit). Returns
 *   KVBM_OK        *@out is the next event;
 *   KVBM_ELAGGED   the subscriber fell more than the capacity behind: *@lost (if non-NULL)
 *                  receives the number of events skipped, the cursor moved to the oldest
 *                  event still available (the next call returns it); *@out is untouched.
 *                  A call copies up to 256 ready events into the subscription at once;
 *                  events copied before they were overwritten are delivered first;
 *   KVBM_ETIMEDOUT nothing arrived in time;
 *   KVBM_ECLOSED   the stream has ended and every event before the end was delivered;
 *   KVBM_EINVAL    NULL @sub or @out.
 * A waiting call (@timeout_ms != 0) stays up to 2048 events (an eighth of smaller rings)
 * behind the senders while they keep publishing, so that it does not read the ring lines
 * they are writing; it delivers those events once the senders pause, after at most
 * ~100 us, or at the deadline. A poll (@timeout_ms == 0) returns every published event.
 * Never blocks a sender. One thread at a time per subscription.
 */
KVBM_API kvbm_status kvbm_events_next(kvbm_events_sub *sub, int timeout_ms, kvbm_event *out,
                                      uint64_t *lost);

/** Events this subscription lost to lag so far. */
KVBM_API uint64_t kvbm_events_sub_lost(const kvbm_events_sub *sub);

/** End the subscription and free it (NULL: no-op). Not concurrently with kvbm_events_next(). */
KVBM_API void kvbm_events_unsubscribe(kvbm_events_sub *sub);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_EVENTS_H */
