/* kvbm/registry.h - the block registry: sequence hash (PLH) -> registration handle.
 *
 * A registry maps each registered PLH to at most one live *registration handle*. Handles
 * are refcounted; the registry holds only a weak reference, so an entry disappears when
 * the last strong reference goes (every Primary/Duplicate/Inactive slot of every manager
 * sharing the registry holds one, as does every immutable block, weak block and external
 * holder). A registry may be shared by several managers (one per tier, G1..G4); it is
 * refcounted independently of them.
 *
 * Each handle carries typed attachments, per-tier presence counts (maintained by the block
 * stores, outside their locks) and user touch callbacks.
 *
 * Lock order (debug builds check it): registry shard -> handle attachments -> store ->
 * tracker. Touch callbacks and attachment destructors never run under any kvbm lock
 * (a replaced unique value included); attachment accessor callbacks run under the
 * handle's attachments lock. See docs/design/registry.md.
 * Threads: every function is callable from any thread unless stated.
 */
#ifndef KVBM_REGISTRY_H
#define KVBM_REGISTRY_H

#include "kvbm/common.h"
#include "kvbm/plh.h"
#include "kvbm/tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_registry kvbm_registry;
typedef struct kvbm_handle   kvbm_handle;   /* registration handle (strong, refcounted) */
typedef uint64_t             kvbm_tier;     /* presence key; e.g. a kvbm_layout value */
typedef uint32_t             kvbm_attach_type;

/** Hook called once when a handle is created by kvbm_registry_register() (not on reuse,
 * not by transfer). Runs with the registry shard lock held: it may attach values to @h
 * (and take leaf locks such as an event channel's) but must not call any other registry
 * function and must not block. An error does not undo the registration; it is logged as
 * a warning (kvbm/log.h). The hook is the registry's first observer (id 1, see
 * kvbm_registry_add_observer() for more).
 * The events module uses it to emit Create and attach a release handle whose destructor
 * emits Remove. Ordering guarantee: for a given hash, the attachment destructors of one
 * registration lifetime all complete before on_registered runs for the next one, so a
 * Remove can never follow a later Create. */
typedef struct kvbm_registry_hooks {
    kvbm_status (*on_registered)(void *ctx, kvbm_handle *h);
    void *ctx;
} kvbm_registry_hooks;

/* ---- observers ---------------------------------------------------------------------
 * Several observers may watch one registry (the events manager is one, kvbm/events.h).
 * Each is called like the hook above - once per handle creation by kvbm_registry_register
 * (not on reuse, not by transfer), under the new handle's shard lock, in the order the
 * observers were added (the creation-time hook, if any, first): it may attach values to
 * @h and take leaf locks, must not call any other registry function and must not block.
 * A failing observer (status != KVBM_OK, detail via kvbm__set_error / kvbm_last_error)
 * does not undo the registration: the registry logs a warning (kvbm/log.h) naming the
 * observer and the hash after releasing the shard lock, and the other observers still run. */
#define KVBM_REGISTRY_MAX_OBSERVERS 8
typedef struct kvbm_registry_observer {
    kvbm_status (*on_registered)(void *ctx, kvbm_handle *h); /* required */
    void        *ctx;
    const char  *name; /* for log messages (copied, at most 31 bytes kept); NULL: "observer" */
} kvbm_registry_observer;

typedef struct kvbm_registry_config {
    size_t              struct_size; /* KVBM_REGISTRY_CONFIG_INIT sets it */
    kvbm_tracker       *tracker;     /* NULL: no frequency tracking; registry takes a ref */
    kvbm_registry_hooks hooks;       /* on_registered NULL: none */
} kvbm_registry_config;
#define KVBM_REGISTRY_CONFIG_INIT { sizeof(kvbm_registry_config), NULL, { NULL, NULL } }

/**
 * kvbm_registry_create() - new registry. @cfg NULL = defaults (no tracker, no hooks).
 * *@out holds one reference (kvbm_registry_release). Returns KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_registry_create(const kvbm_registry_config *cfg, kvbm_registry **out);
KVBM_API kvbm_registry *kvbm_registry_clone(kvbm_registry *r);  /* +1 ref, returns r */

/**
 * kvbm_registry_add_observer() - call @obs->on_registered(@obs->ctx, h) for every handle
 * created from now on (see "observers" above). @obs is copied; the caller keeps @ctx alive
 * until kvbm_registry_remove_observer() returns (or the registry is freed). *@id receives
 * the observer's id (1..KVBM_REGISTRY_MAX_OBSERVERS). A registration running concurrently
 * may or may not see the new observer. Returns KVBM_OK, KVBM_EINVAL (NULL argument or
 * NULL on_registered), KVBM_EFULL (KVBM_REGISTRY_MAX_OBSERVERS already attached).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_registry_add_observer(kvbm_registry *r, const kvbm_registry_observer *obs, uint32_t *id);

/**
 * kvbm_registry_remove_observer() - stop calling observer @id. When it returns, no call of
 * that observer is in flight and none will start: its ctx may be freed. Takes every shard
 * lock once in turn, so it must not be called from an observer, a hook or any code that
 * holds a kvbm lock. The creation-time hook is observer 1 and can be removed too.
 * Returns KVBM_OK, KVBM_EINVAL (NULL @r), KVBM_ENOENT (no such observer attached).
 */
KVBM_API kvbm_status kvbm_registry_remove_observer(kvbm_registry *r, uint32_t id);
KVBM_API void           kvbm_registry_release(kvbm_registry *r); /* NULL: no-op */

/**
 * kvbm_registry_register() - the live handle for @h, created if absent (register_sequence_hash).
 * On creation only: calls the on_registered hook, then touches the tracker once.
 * If the hash's previous registration is dying (its last reference was just dropped and
 * its attachment destructors are running in another thread), waits until that
 * destruction completes, so its Remove precedes this Create. A caller holding an outer
 * lock that a destructor might need (e.g. a Python GIL) must drop it around this call.
 * *@out is a NEW strong reference (kvbm_handle_release). Returns KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_registry_register(kvbm_registry *r, kvbm_plh h, kvbm_handle **out);

/**
 * kvbm_registry_register_many() - kvbm_registry_register() of @n hashes, in order: out[i]
 * is a NEW strong reference to the live handle of hashes[i] (a hash repeated in @hashes
 * gets the same handle, one reference per occurrence). Hooks run as in n sequential
 * calls (in input order, under the shard lock); the creation touches (one per handle
 * created, none on reuse) are applied in input order with kvbm_tracker_touch_many()
 * after the shard locks are released, before the call returns. The tracker ends in
 * exactly the state of n sequential calls; only a concurrent kvbm_registry_count() may
 * observe a created handle whose touch is still pending (docs/design/registry.md).
 * All or nothing: on error no reference is returned (those obtained are released again;
 * a handle created by this call is then destroyed, so its hook's Create is followed by a
 * Remove, as when a caller rolls back sequential registrations) and out[0..failing
 * index] are set to NULL. Returns KVBM_OK (also for n == 0), KVBM_EINVAL (NULL @r, or
 * NULL @hashes / @out with n > 0), KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_registry_register_many(kvbm_registry *r, const kvbm_plh *hashes, size_t n,
                            kvbm_handle **out);

/** Like kvbm_registry_register() but never calls hooks and never touches (transfer_registration). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_registry_transfer(kvbm_registry *r, kvbm_plh h, kvbm_handle **out);

/**
 * kvbm_registry_match() - the live handle for @h, never created. If found and @touch,
 * touches the tracker once. *@out: NEW strong reference. KVBM_ENOENT if not registered.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_registry_match(kvbm_registry *r, kvbm_plh h, bool touch, kvbm_handle **out);

KVBM_API bool   kvbm_registry_is_registered(kvbm_registry *r, kvbm_plh h);
KVBM_API size_t kvbm_registry_registered_count(kvbm_registry *r);
KVBM_API bool   kvbm_registry_has_frequency_tracking(kvbm_registry *r);
/** Borrowed tracker (valid while @r lives) or NULL. */
KVBM_API kvbm_tracker *kvbm_registry_tracker(kvbm_registry *r);
/** Frequency touch (tracker only; does not fire handle touch callbacks). No-op without tracker. */
KVBM_API void     kvbm_registry_touch(kvbm_registry *r, kvbm_plh h);
/** Frequency touch of @n hashes (kvbm_tracker_touch_many). No-op without tracker. */
KVBM_API void     kvbm_registry_touch_many(kvbm_registry *r, const kvbm_plh *hashes, size_t n);
/** Tracker estimate for @h, 0 without tracker. */
KVBM_API uint32_t kvbm_registry_count(kvbm_registry *r, kvbm_plh h);

/**
 * kvbm_registry_check_presence() - out[i] = handle for hashes[i] exists and has_block(tier).
 * Never touches. Returns KVBM_OK or KVBM_EINVAL (NULL with n > 0).
 */
KVBM_API kvbm_status kvbm_registry_check_presence(kvbm_registry *r, kvbm_tier tier,
                                                  const kvbm_plh *hashes, size_t n, bool *out);
/** out[i] = handle exists and has_any_block(tiers, ntiers). */
KVBM_API kvbm_status kvbm_registry_check_presence_any(kvbm_registry *r, const kvbm_plh *hashes,
                                                      size_t n, const kvbm_tier *tiers,
                                                      size_t ntiers, bool *out);

/* ---- handles ---------------------------------------------------------------------- */

KVBM_API kvbm_handle *kvbm_handle_clone(kvbm_handle *h);   /* +1 ref, returns h */
/** Drop one reference; NULL: no-op. The last one runs the attachment destructors in the
 * calling thread with no kvbm lock held, then removes the registry entry. Until the
 * destructors return, the hash is absent for lookups and a registration of the same hash
 * waits; a destructor must therefore not register the hash of the dying handle (it may
 * use the registry otherwise, including releasing other handles). When a block manager
 * evicts, it releases the registrations of a batch together (destructors of up to 64
 * handles first, then their entries): a destructor run there must not register the hash
 * of any handle of that batch either.
 * Must not be called while holding a store lock (never an issue for callers). */
KVBM_API void         kvbm_handle_release(kvbm_handle *h);
KVBM_API kvbm_plh     kvbm_handle_seq_hash(const kvbm_handle *h);
/** True iff @h was created by @r and @r is still alive. */
KVBM_API bool         kvbm_handle_is_from_registry(const kvbm_handle *h, const kvbm_registry *r);
KVBM_API bool         kvbm_handle_has_block(kvbm_handle *h, kvbm_tier tier);
KVBM_API bool         kvbm_handle_has_any_block(kvbm_handle *h, const kvbm_tier *tiers, size_t n);
/** Current presence count for @tier (tests, diagnostics). */
KVBM_API uint32_t     kvbm_handle_presence(kvbm_handle *h, kvbm_tier tier);

typedef void (*kvbm_touch_fn)(void *ctx, kvbm_plh h);
/** Append a touch callback (never removed; lives as long as the handle). */
KVBM_API kvbm_status  kvbm_handle_on_touch(kvbm_handle *h, kvbm_touch_fn fn, void *ctx);
/** Invoke every touch callback in registration order, with no lock held. */
KVBM_API void         kvbm_handle_touch(kvbm_handle *h);

/* ---- attachments -------------------------------------------------------------------
 * A caller registers an attachment type once (process-wide) and attaches values (void *)
 * of that type to handles. Per handle and type the mode is sticky: Unique (one value,
 * replaced by a later attach_unique) or Multiple (a list in insertion order). There is no
 * detach; values are destroyed with the handle by the type's destructor (if any).
 * Accessor callbacks run under the handle's attachments lock: they must not re-enter the
 * same handle's attachment, presence or block-manager paths. Borrowed value pointers are
 * valid only during the callback. */

typedef void (*kvbm_attach_dtor)(void *value);

/** Register a type; *@out receives a process-unique id (never 0, never reused). Thread-safe. */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_attach_type_register(const char *name, kvbm_attach_dtor dtor, kvbm_attach_type *out);
/** Name given at registration (static lifetime copy) or NULL for an unknown id. */
KVBM_API const char *kvbm_attach_type_name(kvbm_attach_type type);

/** Store/replace the unique value. KVBM_EATTACH_IS_MULTIPLE if the type is in Multiple mode
 * (caller keeps ownership of @value on error). A replaced value is destroyed after unlock. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_handle_attach_unique(kvbm_handle *h, kvbm_attach_type type, void *value);
/** Append a value. KVBM_EATTACH_IS_UNIQUE if the type is in Unique mode (caller keeps @value). */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_handle_attach(kvbm_handle *h, kvbm_attach_type type, void *value);

/** fn(ctx, value) under the lock if a unique value exists; returns true if fn ran. */
KVBM_API bool kvbm_handle_with_unique(kvbm_handle *h, kvbm_attach_type type,
                                      void (*fn)(void *ctx, void *value), void *ctx);
/** fn(ctx, values, n) under the lock (n = 0 if none; values may be NULL then). */
KVBM_API void kvbm_handle_with_multiple(kvbm_handle *h, kvbm_attach_type type,
                                        void (*fn)(void *ctx, void **values, size_t n), void *ctx);
/** fn(ctx, unique or NULL, values, n): both maps looked up independently (with_all). */
KVBM_API void kvbm_handle_with_all(kvbm_handle *h, kvbm_attach_type type,
                                   void (*fn)(void *ctx, void *unique, void **values, size_t n), void *ctx);
/** By mode: Unique -> (unique, NULL, 0); Multiple -> (NULL, values, n); none -> (NULL, NULL, 0). */
KVBM_API void kvbm_handle_with_all_mut(kvbm_handle *h, kvbm_attach_type type,
                                       void (*fn)(void *ctx, void *unique, void **values, size_t n), void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_REGISTRY_H */
