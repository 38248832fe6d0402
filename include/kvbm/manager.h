/* kvbm/manager.h - the block manager and its block handles.
 *
 * A manager owns one block store of `block_count` slots. A slot moves through
 *   Reset -> Mutable -> Staged -> Primary/Duplicate <-> Inactive -> (evicted) Mutable -> ...
 * and callers hold it through typed handles:
 *   kvbm_mutable   unique; allocate; stage/complete -> kvbm_complete; release -> Reset
 *   kvbm_complete  unique; register -> kvbm_block; reset -> kvbm_mutable; release -> Reset
 *   kvbm_block     immutable, refcounted (clone/release); the last release parks the slot
 *                  in the inactive (cached) pool, or resets it when evict-on-reset is set
 *   kvbm_weak      weak reference by (slot, generation) with a fallback lookup by hash
 *   kvbm_pin       type-erased keepalive of a registered slot (no gauge effect)
 *
 * Lifetime: every handle keeps the store alive. kvbm_manager_destroy() drops the manager's
 * reference only; outstanding handles stay valid and the last one frees the store.
 * Ownership: a function that "consumes" a handle frees it only on success; on error the
 * caller still owns the unchanged input.
 * Threads: every manager function may be called concurrently from any thread. Immutable
 * handles, pins and weak handles may be used concurrently (clone/release are lock-free
 * except the final release). Mutable and complete handles are single-owner objects (they
 * may move between threads but must not be used by two threads at once).
 * Locks: one store-lock acquisition per batch operation; no user code, event emission or
 * lower-rank lock runs under the store lock - except a custom frequency tracker's count
 * callback when the backend is MultiLRU (see kvbm/tracker.h).
 * Errors: KVBM_EINVAL for NULL, wrong handle kind, handles of another manager and handles
 * released or consumed twice; every error sets kvbm_last_error(). Detection of a handle
 * used after its release, per kind:
 *   kvbm_weak      every build: the value names a never-freed slab entry and carries its
 *                  tag, so a released weak handle is always rejected (its entry may serve
 *                  another owner meanwhile; accepted again only after 2^35 reuses of that
 *                  entry, docs/DESIGN.md §7) and validation never reads freed memory.
 *   others, KVBM_DEBUG >= 1: checked wrappers detect every misuse (released wrappers stay
 *                  quarantined for the next 4096 releases of that store; stale wrappers
 *                  beyond that are freed memory).
 *   others, release builds: the handle is the slot itself; misuse is detected from the
 *                  slot state while the slot has not been handed out again. Clones of one
 *                  immutable block (and its pins) are the same pointer: releasing one of
 *                  several live references twice cannot be told from releasing two of them
 *                  (kvbm_block_release_many rejects a block named more often than it has
 *                  references).
 * A block holds at most 2^31 references: kvbm_block_clone, kvbm_block_pin, kvbm_pin_clone
 * and kvbm_weak_upgrade fail with KVBM_EOVERFLOW beyond, match_blocks stops before such a
 * block. KVBM_EPOISONED once an internal invariant check failed (release builds; debug
 * builds assert) - the manager then refuses every operation, repeating the first violation
 * in kvbm_last_error().
 */
#ifndef KVBM_MANAGER_H
#define KVBM_MANAGER_H

#include "kvbm/common.h"
#include "kvbm/config.h"
#include "kvbm/plh.h"
#include "kvbm/registry.h"
#include "kvbm/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvbm_manager  kvbm_manager;
typedef struct kvbm_mutable  kvbm_mutable;
typedef struct kvbm_complete kvbm_complete;
typedef struct kvbm_block    kvbm_block;
typedef struct kvbm_weak     kvbm_weak;
typedef struct kvbm_pin      kvbm_pin;
struct kvbm_token_block;     /* kvbm/tokens.h */

/** Process-unique id of a manager's store (ManagerId); never 0, never reused. (The type is
 * kvbm_mgr_id because kvbm_manager_id() is the accessor function.) */
typedef uint64_t kvbm_mgr_id;
#define KVBM_MANAGER_ID_NULL ((kvbm_mgr_id)0)

/** Storage tier names (LogicalLayoutHandle). Values are stable (bincode index). */
typedef enum kvbm_layout {
    KVBM_G1 = 0, /* device (GPU) */
    KVBM_G2 = 1, /* host (CPU) */
    KVBM_G3 = 2, /* disk */
    KVBM_G4 = 3  /* held by an external service */
} kvbm_layout;
/** "G1".."G4", NULL for other values. */
KVBM_API const char *kvbm_layout_name(kvbm_layout l);

typedef enum kvbm_dup_policy {
    KVBM_DUP_ALLOW  = 0, /* several physical blocks may share a hash (default) */
    KVBM_DUP_REJECT = 1  /* a second registration returns the existing block */
} kvbm_dup_policy;

#define KVBM_BLOCK_COUNT_UNSET UINT64_MAX
/* (KVBM_MAX_BLOCK_COUNT and kvbm_backend_max_block_count(): kvbm/config.h) */

/**
 * struct kvbm_manager_config - versioned configuration; start from KVBM_MANAGER_CONFIG_INIT
 * (or kvbm_manager_config_init()). New fields are only ever appended.
 */
typedef struct kvbm_manager_config {
    size_t                struct_size;          /* set by the initialiser; do not touch */
    kvbm_registry        *registry;             /* required; the manager takes a reference */
    uint64_t              block_count;          /* required, 1..kvbm_backend_max_block_count(backend) */
    uint32_t              block_size;           /* tokens per block: power of 2 in [1, 1024]; 16 */
    kvbm_dup_policy       duplication_policy;   /* KVBM_DUP_ALLOW */
    kvbm_backend          backend;              /* KVBM_BACKEND_LINEAGE */
    kvbm_lineage_eviction lineage_eviction;     /* KVBM_LINEAGE_TICK */
    uint8_t               multi_lru_thresholds[3]; /* {3, 8, 15}: 1 <= t1 < t2 < t3 <= 15 */
    bool                  default_reset_on_release; /* false */
    kvbm_tier             tier_key;             /* presence key in the registry; KVBM_G1 */
    const char           *metrics_label;        /* copied; NULL = "G1".."G4" for tier 0..3, else "kvbm" */
    /* Keep each block's Dynamo router tokens_hash (spec 20 §4.1.4: XXH3_64 of its tokens,
     * seed kvbm_router_seed(router_lora_name)) when it is completed from a token block
     * (kvbm_mutable_complete) and publish it on its registration handle
     * (kvbm_handle_router_tokens_hash) for router event feeds (kvbm/router_events.h).
     * Costs 24 bytes per block and one registry observer slot. false */
    bool                  router_tokens_hash;
    const char           *router_lora_name;     /* NULL or "": no LoRA; read at create only */
} kvbm_manager_config;

#define KVBM_MANAGER_CONFIG_INIT                                                      \
    { sizeof(kvbm_manager_config), NULL, KVBM_BLOCK_COUNT_UNSET, 16, KVBM_DUP_ALLOW,  \
      KVBM_BACKEND_LINEAGE, KVBM_LINEAGE_TICK, { 3, 8, 15 }, false, KVBM_G1, NULL, false, NULL }

KVBM_API void kvbm_manager_config_init(kvbm_manager_config *cfg);

/**
 * kvbm_manager_create() - validate @cfg and build a manager.
 * Validation order and messages (kvbm_last_error(), prefixed "Builder validation failed: "):
 * "registry is required", "block_count is required", "block_count must be greater than 0",
 * "block_count must be at most M for the B backend, got N" (M = kvbm_backend_max_block_count),
 * "block_size must be between 1 and 1024, got N", "block_size must be a power of 2, got N",
 * MultiLRU: "Thresholds must be in ascending order: a < b < c failed",
 * "hot_to_very_hot threshold (c) must be <= 15 (4-bit counter maximum)",
 * "cold_to_warm threshold must be >= 1 to distinguish from zero-access blocks",
 * "MultiLRU backend requires a registry with frequency tracking".
 * Memory is allocated up front: the manager's per-block state, and room for block_count
 * more entries in @cfg->registry's hash tables (32-64 bytes per block, kept by the registry
 * until it is destroyed), so that registering the manager's blocks never grows a registry
 * table. Takes each registry shard lock once; call without kvbm locks held.
 * Returns KVBM_OK, KVBM_EINVAL (NULL/unknown enum values/struct_size), KVBM_ECONFIG,
 * KVBM_ENOMEM. *@out holds the manager's reference.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_manager_create(const kvbm_manager_config *cfg, kvbm_manager **out);

/** Drop the manager's reference. Outstanding handles stay valid. NULL: no-op. */
KVBM_API void kvbm_manager_destroy(kvbm_manager *m);

KVBM_API kvbm_mgr_id      kvbm_manager_id(const kvbm_manager *m);
KVBM_API uint64_t         kvbm_manager_total_blocks(const kvbm_manager *m);
KVBM_API uint32_t         kvbm_manager_block_size(const kvbm_manager *m);
KVBM_API kvbm_dup_policy  kvbm_manager_duplication_policy(const kvbm_manager *m);
KVBM_API kvbm_backend     kvbm_manager_backend(const kvbm_manager *m);
KVBM_API kvbm_tier        kvbm_manager_tier(const kvbm_manager *m);
/** Borrowed; valid while @m (or any of its handles) lives. */
KVBM_API kvbm_registry   *kvbm_manager_registry(kvbm_manager *m);
KVBM_API kvbm_metrics    *kvbm_manager_metrics(kvbm_manager *m);

/** reset + inactive, read under one lock (coherent, possibly stale on return). */
KVBM_API uint64_t kvbm_manager_available_blocks(kvbm_manager *m);
KVBM_API uint64_t kvbm_manager_reset_len(kvbm_manager *m);
KVBM_API uint64_t kvbm_manager_inactive_len(kvbm_manager *m);
KVBM_API bool     kvbm_manager_has_inactive(kvbm_manager *m, kvbm_plh h);

/**
 * kvbm_manager_allocate() - all-or-nothing allocation of @count mutable blocks.
 * Takes reset blocks first (FIFO), then evicts inactive blocks in backend order.
 * @out: caller array of >= @count; on KVBM_OK filled with NEW handles (reset ones first).
 * @evicted: optional (NULL) array of >= @count; receives the hashes of evicted blocks in
 * eviction order, *@n_evicted their number (optional). Nothing is written on error.
 * count 0 -> KVBM_OK, nothing written. Returns KVBM_OK, KVBM_EEXHAUSTED (reset+inactive <
 * count, or a backend under-allocated and was rolled back), KVBM_EINVAL, KVBM_EPOISONED,
 * KVBM_ENOMEM (checked-handle builds only). Never blocks waiting for blocks.
 * Locks: one store-lock acquisition; presence updates of evicted hashes after unlock.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_manager_allocate(kvbm_manager *m, size_t count, kvbm_mutable **out,
                      kvbm_plh *evicted, size_t *n_evicted);

/**
 * kvbm_manager_register_blocks() - register completed blocks (consumes them on KVBM_OK).
 * out[i] is a NEW immutable handle for in[i]: the block itself (fresh primary or Allow
 * duplicate) or, under Reject, the existing primary (the input slot returns to Reset).
 * Every input is validated first: a NULL, foreign or already-released handle, or the same
 * handle twice -> KVBM_EINVAL and nothing is consumed or changed. n = 0 -> KVBM_OK.
 * KVBM_ENOMEM (registry or checked-handle allocation) also leaves the inputs unconsumed.
 * Locks: registry lookups first, then one store-lock acquisition for the batch (a batch
 * with more than 32 Reject-path blocks unlocks between chunks to drop handle references);
 * presence updates after unlock.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_manager_register_blocks(kvbm_manager *m, kvbm_complete *const *in, size_t n, kvbm_block **out);
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_manager_register_block(kvbm_manager *m, kvbm_complete *in, kvbm_block **out);

/**
 * kvbm_manager_stage_register_blocks() - kvbm_mutable_stage_many(in, hashes, n, block_size)
 * followed by kvbm_manager_register_blocks() in one call: the engine's "these blocks are
 * full" step. in[i] are MUTABLE handles of @m; on KVBM_OK every input is consumed and out[i]
 * is a new immutable handle for in[i] (the block itself, or under Reject the existing
 * primary, as kvbm_manager_register_blocks). Same transitions, registry hooks, events,
 * tracker touches and metrics as the two calls, but no complete handles in between and one
 * store-lock section for the batch (registry work before it, presence updates after it).
 * @done (optional) gets the number of inputs registered.
 * Errors (nothing consumed or changed, *@done = 0): @m NULL, a NULL array with n > 0, a NULL,
 * released, foreign or non-mutable input, or the same input twice -> KVBM_EINVAL
 * ("input I: ..." in kvbm_last_error()); @block_size != the manager's -> KVBM_ESIZE;
 * KVBM_ENOMEM (registry or checked-handle allocation); KVBM_EPOISONED before the batch starts.
 * A manager poisoned during the batch stops it: in[0..*done) are registered (out[0..*done)
 * set), in[*done..n) are still mutable and owned by the caller, KVBM_EPOISONED.
 * n = 0 -> KVBM_OK (the arrays are not read). Threads: any; one batch per call.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_manager_stage_register_blocks(kvbm_manager *m, kvbm_mutable *const *in, const kvbm_plh *hashes,
                                   size_t n, uint32_t block_size, kvbm_block **out, size_t *done);

/**
 * kvbm_manager_match_blocks() - longest prefix of @hashes whose blocks are active or
 * cached (inactive blocks are resurrected); stops at the first hash found in neither.
 * One store-lock acquisition. After unlock, touches the registry tracker once per
 * returned block. @out: caller array of >= @n; out[0..*matched) are NEW handles.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_manager_match_blocks(kvbm_manager *m, const kvbm_plh *hashes, size_t n,
                          kvbm_block **out, size_t *matched);

/**
 * kvbm_manager_scan_matches() - every hash of @hashes present (active or inactive), misses
 * skipped. One entry per distinct hash, in first-found order: out_hashes[i], out_blocks[i]
 * (NEW handles), *@found entries; arrays of >= @n. With @touch, the tracker is touched once
 * per input hash that has a registry handle.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_manager_scan_matches(kvbm_manager *m, const kvbm_plh *hashes, size_t n, bool touch,
                          kvbm_plh *out_hashes, kvbm_block **out_blocks, size_t *found);

/**
 * kvbm_manager_reset_inactive_pool() - drain every inactive block back to the reset pool
 * (not counted as evictions). Then if reset_len != total_blocks: KVBM_ERESET_MISMATCH with
 * *@expected = total, *@actual = reset_len (both optional); the drain is not rolled back.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_manager_reset_inactive_pool(kvbm_manager *m, uint64_t *expected, uint64_t *actual);

/**
 * kvbm_manager_check_invariants() - O(n) walk of the store checking I1-I5 (partition,
 * active index, one primary-or-inactive per hash, counts, store refcount; gauges when the
 * manager was built by kvbm_manager_create and no operation is in flight). KVBM_OK, or
 * KVBM_EPOISONED with a description in kvbm_last_error() (the manager is poisoned; this
 * function never asserts, also in debug builds), or KVBM_ENOMEM (nothing checked).
 */
KVBM_API kvbm_status kvbm_manager_check_invariants(kvbm_manager *m);

/* ---- mutable blocks --------------------------------------------------------------- */

KVBM_API uint32_t kvbm_mutable_block_id(const kvbm_mutable *b);   /* UINT32_MAX on NULL */
KVBM_API uint32_t kvbm_mutable_block_size(const kvbm_mutable *b); /* 0 on NULL */
KVBM_API kvbm_mgr_id kvbm_mutable_manager_id(const kvbm_mutable *b);

/**
 * kvbm_mutable_stage() - Mutable -> Staged with sequence hash @h (consumes @b on KVBM_OK).
 * @block_size != the manager's -> KVBM_ESIZE, *@expected and *@actual set (optional), @b
 * unchanged and still owned by the caller; kvbm_last_error() =
 * "Block size mismatch: expected E tokens, got A".
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_mutable_stage(kvbm_mutable *b, kvbm_plh h, uint32_t block_size, kvbm_complete **out,
                   uint32_t *expected, uint32_t *actual);

/**
 * kvbm_mutable_stage_many() - stage @n mutable blocks of one manager at once: in[i] gets
 * hashes[i] (consumes every input on KVBM_OK; out[i] is the complete handle for in[i]).
 * Same results, metrics and order as n kvbm_mutable_stage() calls, under one store-lock
 * acquisition. All-or-nothing: every input is validated first; a NULL, released or
 * non-mutable handle, the same handle twice, or handles of different managers ->
 * KVBM_EINVAL ("input I: ..." in kvbm_last_error()); @block_size != the manager's ->
 * KVBM_ESIZE ("Block size mismatch: expected E tokens, got A"); KVBM_EPOISONED;
 * KVBM_ENOMEM (checked-handle builds only). On error nothing is consumed or changed.
 * n = 0 -> KVBM_OK (the arrays are not read).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_mutable_stage_many(kvbm_mutable *const *in, const kvbm_plh *hashes, size_t n,
                        uint32_t block_size, kvbm_complete **out);

/** kvbm_mutable_complete() - stage with a token block's PLH and token count (same rules). */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_mutable_complete(kvbm_mutable *b, const struct kvbm_token_block *tb, kvbm_complete **out,
                      uint32_t *expected, uint32_t *actual);

/** Return the slot to the back of the reset pool; frees @b. NULL: KVBM_OK. */
KVBM_API kvbm_status kvbm_mutable_release(kvbm_mutable *b);

/* ---- complete (staged) blocks ----------------------------------------------------- */

KVBM_API uint32_t kvbm_complete_block_id(const kvbm_complete *b);
KVBM_API uint32_t kvbm_complete_block_size(const kvbm_complete *b);
KVBM_API kvbm_plh kvbm_complete_seq_hash(const kvbm_complete *b);
/** Staged -> Mutable (consumes @b on KVBM_OK); evict-on-reset flag := store default. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_complete_reset(kvbm_complete *b, kvbm_mutable **out);
/** Return the slot to the back of the reset pool; frees @b. NULL: KVBM_OK. */
KVBM_API kvbm_status kvbm_complete_release(kvbm_complete *b);

/* ---- immutable blocks ------------------------------------------------------------- */

KVBM_API uint32_t        kvbm_block_id(const kvbm_block *b);
KVBM_API kvbm_plh        kvbm_block_seq_hash(const kvbm_block *b);
KVBM_API kvbm_mgr_id kvbm_block_manager_id(const kvbm_block *b);
KVBM_API bool            kvbm_block_is_duplicate(const kvbm_block *b);
/** Strong references on the block (clones + pins + live duplicates keeping it alive). */
KVBM_API uint32_t        kvbm_block_use_count(const kvbm_block *b);

/** New handle to the same block (lock-free; inflight_immutable +1). KVBM_EOVERFLOW (nothing
 * changed) if the block already has 2^31 references. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_block_clone(kvbm_block *b, kvbm_block **out);
/** Drop one handle. The last reference (handles + pins + duplicates) parks the slot in
 * the inactive pool, or returns it to Reset if evict-on-reset is set (duplicates always
 * reset). Lock-free unless last. NULL: KVBM_OK. */
KVBM_API kvbm_status kvbm_block_release(kvbm_block *b);
/** Release @n handles: non-final releases are lock-free, the final ones take the store
 * lock once per run of consecutive handles of the same store (once in the usual case;
 * a batch with more than 16 reset-on-release/duplicate transitions unlocks between chunks
 * to do its registry work). NULL entries skipped. Every handle is validated first; on
 * KVBM_EINVAL nothing is released and the message names the first bad index (checked
 * builds reject the same handle twice; in release builds clones of one block are the same
 * pointer, so a block may appear as often as it has references, not more). A batch of more
 * than 128 handles may allocate a counting table (release builds; on ENOMEM it counts
 * pairwise instead, never fails for it). */
KVBM_API kvbm_status kvbm_block_release_many(kvbm_block *const *b, size_t n);
/**
 * kvbm_handle_router_tokens_hash() - the Dynamo router tokens_hash of @h's block, if a
 * manager with router_tokens_hash registered it (creating @h) from a block completed with
 * kvbm_mutable_complete: *@out set, true. false otherwise (also for NULL arguments).
 * Takes @h's attachments lock; any thread.
 */
KVBM_API bool kvbm_handle_router_tokens_hash(kvbm_handle *h, uint64_t *out);

/** *@out: NEW registration handle reference (kvbm_handle_release). */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_block_registration_handle(kvbm_block *b, kvbm_handle **out);
/** Per-slot evict-on-reset flag (last writer wins across clones; no effect on duplicates). */
KVBM_API kvbm_status kvbm_block_set_evict_on_reset(kvbm_block *b, bool evict);
KVBM_API KVBM_NODISCARD kvbm_status kvbm_block_downgrade(kvbm_block *b, kvbm_weak **out);
KVBM_API KVBM_NODISCARD kvbm_status kvbm_block_pin(kvbm_block *b, kvbm_pin **out);
/** "ImmutableBlock { block_id: N, sequence_hash: <hex>, manager_id: M }" into buf (snprintf rules). */
KVBM_API int kvbm_block_describe(const kvbm_block *b, char *buf, size_t len);
KVBM_API int kvbm_mutable_describe(const kvbm_mutable *b, char *buf, size_t len);

/* ---- weak blocks ------------------------------------------------------------------ */

/**
 * kvbm_weak_upgrade() - a NEW immutable handle: the same block if still referenced, else
 * the hash's current primary in this store (possibly resurrected from the inactive pool,
 * possibly another slot). KVBM_ENOENT if the hash is neither active nor cached here,
 * KVBM_EOVERFLOW if the block has 2^31 references. KVBM_EINVAL for NULL or a released @w
 * (detected in every build, see the top of this header). Never touches the tracker.
 * Downgrade, clone and release take a process-wide leaf mutex (the weak-handle slab).
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_weak_upgrade(kvbm_weak *w, kvbm_block **out);
KVBM_API KVBM_NODISCARD kvbm_status kvbm_weak_clone(kvbm_weak *w, kvbm_weak **out);
KVBM_API void     kvbm_weak_release(kvbm_weak *w); /* NULL: no-op */
KVBM_API kvbm_plh kvbm_weak_seq_hash(const kvbm_weak *w);
KVBM_API int      kvbm_weak_describe(const kvbm_weak *w, char *buf, size_t len);

/* ---- lifecycle pins --------------------------------------------------------------- */

KVBM_API KVBM_NODISCARD kvbm_status kvbm_pin_clone(kvbm_pin *p, kvbm_pin **out);
KVBM_API kvbm_status     kvbm_pin_release(kvbm_pin *p); /* NULL: KVBM_OK */
KVBM_API kvbm_mgr_id kvbm_pin_manager_id(const kvbm_pin *p);
KVBM_API uint32_t        kvbm_pin_block_id(const kvbm_pin *p);
KVBM_API kvbm_plh        kvbm_pin_seq_hash(const kvbm_pin *p);
KVBM_API uint32_t        kvbm_pin_use_count(const kvbm_pin *p);
KVBM_API KVBM_NODISCARD kvbm_status kvbm_pin_registration_handle(kvbm_pin *p, kvbm_handle **out);
KVBM_API int             kvbm_pin_describe(const kvbm_pin *p, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_MANAGER_H */
