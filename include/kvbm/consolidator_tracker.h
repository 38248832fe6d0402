/* kvbm/consolidator_tracker.h - the kvbm-consolidator core (spec 20 §4.3): event sources,
 * the cross-source dedup tracker, the router projection and the vLLM-format egress.
 * Library: libkvbm_consolidator (optional; needs libkvbm_vllm for the egress encoding);
 * link kvbm_consolidator / pkg-config kvbm-consolidator. Prefix: kvbm_cons_.
 *
 * Several inference engines (vLLM, TensorRT-LLM) and kvbm itself report the same KV blocks
 * under their own hashes. The tracker maps every engine block (source, external hash) to
 * kvbm's PositionalLineageHash (PLH, kvbm/plh.h), computed from the block's tokens and LoRA
 * exactly as kvbm hashes its own blocks (salt = kvbm_router_seed(lora), chain seed 1337,
 * spec §1.3/§1.4), and emits ONE Store per distinct PLH however many sources hold it, and
 * ONE Remove when the last source lets it go. The egress projects PLHs to router u64 hashes
 * (§4.3.3) and writes vLLM KV-event batches that a Dynamo router consumes (§4.3.4).
 *
 * External hashes are the engines' block hashes as u64 (vLLM's signed i64 values
 * reinterpreted): the spec keys them by their decimal string, which is equivalent.
 *
 * Objects:
 *   kvbm_cons_tracker  the state machine (§4.3.2); thread-safe, one internal leaf lock.
 *   kvbm_cons_events   a drained queue of tracker events; owned by one thread at a time.
 *   kvbm_cons_egress   sorter + encoder of drained events (§4.3.4); one thread at a time.
 *
 * Allocation: the steady state (tables grown to their working size, event storage
 * recycled through kvbm_cons_events) allocates nothing per event.
 */
#ifndef KVBM_CONSOLIDATOR_TRACKER_H
#define KVBM_CONSOLIDATOR_TRACKER_H

#include "kvbm/common.h"
#include "kvbm/plh.h"
#include "kvbm/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- event sources (§4.3.1) -------------------------------------------------------- */

typedef enum kvbm_cons_source {
    KVBM_CONS_SOURCE_VLLM   = 0, /* "vllm"   (aliases "vllm", "VLLM", "GPU") */
    KVBM_CONS_SOURCE_TRTLLM = 1, /* "trtllm" (aliases "trtllm", "TRTLLM", "TensorRT-LLM") */
    KVBM_CONS_SOURCE_KVBM   = 2, /* "kvbm"   (aliases "kvbm", "KVBM") */
} kvbm_cons_source;
#define KVBM_CONS_SOURCE_COUNT 3

/**
 * kvbm_cons_source_parse() - the source named by @name (exact, case-sensitive aliases
 * above). Returns KVBM_OK; KVBM_EINVAL for NULL arguments or an unknown name, with the
 * message "Unknown event source: <name>" (*@out unchanged). Pure, any thread.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_cons_source_parse(const char *name, kvbm_cons_source *out);
/** Stable canonical name ("vllm", "trtllm", "kvbm"); NULL outside the enum. Static. */
KVBM_API const char *kvbm_cons_source_name(kvbm_cons_source s);

/* ---- drained events ---------------------------------------------------------------- */

typedef enum kvbm_cons_event_kind {
    KVBM_CONS_STORE     = 0,
    KVBM_CONS_REMOVE    = 1,
    KVBM_CONS_CLEAR_ALL = 2,
} kvbm_cons_event_kind;

/** One tracker event. STORE: all fields; REMOVE: @plh and @source; CLEAR_ALL: none.
 *  @tokens / @lora_name point into storage of the kvbm_cons_events that holds the event
 *  (resp. of the tracker, for lora names) and stay valid until that object is drained
 *  into again or destroyed. */
typedef struct kvbm_cons_event {
    kvbm_cons_event_kind kind;
    kvbm_cons_source     source;     /* the source whose action produced the event */
    kvbm_plh             plh;
    const uint32_t      *tokens;     /* the block's tokens (STORE; may be empty for kvbm) */
    size_t               n_tokens;
    uint32_t             block_size;
    const char          *lora_name;  /* NULL: no LoRA */
} kvbm_cons_event;

typedef struct kvbm_cons_events kvbm_cons_events;

/** Create an empty event list. KVBM_EINVAL (NULL), KVBM_ENOMEM. Destroy with
 *  kvbm_cons_events_destroy (NULL: no-op). One thread at a time. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_cons_events_create(kvbm_cons_events **out);
KVBM_API void kvbm_cons_events_destroy(kvbm_cons_events *ev);
/** Number of events held. */
KVBM_API size_t kvbm_cons_events_count(const kvbm_cons_events *ev);
/** Event @i (0 = oldest), borrowed until the list is drained into again; NULL out of range. */
KVBM_API const kvbm_cons_event *kvbm_cons_events_get(const kvbm_cons_events *ev, size_t i);
/**
 * kvbm_cons_events_sort_egress() - reorder for egress (§4.3.4): split into maximal runs of
 * one kind; sort STORE runs by PLH position ascending and REMOVE runs descending, stably;
 * never move an event across a run boundary (CLEAR_ALL is a barrier). In place; the
 * scratch memory it needs (half the list) is kept for the next call.
 * Returns KVBM_OK, KVBM_EINVAL (NULL), KVBM_ENOMEM (list unchanged).
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_cons_events_sort_egress(kvbm_cons_events *ev);

/* ---- the tracker (§4.3.2) ---------------------------------------------------------- */

typedef struct kvbm_cons_tracker kvbm_cons_tracker;

typedef struct kvbm_cons_tracker_config {
    /* Optional: every block that becomes tracked is registered there (kvbm_registry_register)
     * and the tracker keeps the handle until the block is forgotten. The tracker takes its own
     * reference (kvbm_registry_clone). Registration runs the registry's hooks on the calling
     * thread, never under the tracker lock. */
    kvbm_registry *registry;
} kvbm_cons_tracker_config;

/** Counters since creation (monotonic). */
typedef struct kvbm_cons_tracker_stats {
    uint64_t stores;              /* store calls applied (engine + kvbm) */
    uint64_t stores_published;    /* STORE events enqueued */
    uint64_t duplicates;          /* stores that published nothing: block already published,
                                     repeat of the same mapping, or unpublishable kvbm store */
    uint64_t removes;             /* remove calls that matched a mapping */
    uint64_t removes_published;   /* REMOVE events enqueued */
    uint64_t unknown_parent;      /* stores whose given parent was unknown (hashed as roots) */
    uint64_t unknown_removes;     /* removes of an unknown (source, hash) */
    uint64_t hash_failures;       /* stores rejected: too few tokens, bad block size, ... */
    uint64_t clears;              /* clear_all calls */
    uint64_t live_blocks;         /* currently tracked PLHs (gauge) */
    uint64_t mappings;            /* currently mapped (source, external hash) pairs (gauge) */
    uint64_t queued;              /* events waiting to be drained (gauge) */
} kvbm_cons_tracker_stats;

/**
 * kvbm_cons_tracker_create() - empty tracker. @cfg NULL = no registry.
 * *@out owned by the caller; destroy with kvbm_cons_tracker_destroy. KVBM_EINVAL, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_tracker_create(const kvbm_cons_tracker_config *cfg, kvbm_cons_tracker **out);
/** Destroy (NULL: no-op): releases every registry handle and the registry reference. No
 *  call on @t may be running or start. */
KVBM_API void kvbm_cons_tracker_destroy(kvbm_cons_tracker *t);

/**
 * kvbm_cons_block_plh() - the PLH the tracker assigns to an engine block, without
 * changing any state: block hash = XXH3_64(LE32(tokens[0..block_size)), kvbm_router_seed(
 * @lora_name)); root PLH, or @parent extended by it when @parent is non-NULL.
 * @n_tokens must be >= @block_size > 0 (extra tokens are ignored, as kv-hashing ignores all
 * but the first block). Returns KVBM_OK; KVBM_EINSUFFICIENT (short block), KVBM_EINVAL
 * (NULL, block size 0), KVBM_ERANGE (parent at the last PLH position). Pure.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_block_plh(const uint32_t *tokens, size_t n_tokens, uint32_t block_size,
                    const char *lora_name, const kvbm_plh *parent, kvbm_plh *out);

/**
 * kvbm_cons_tracker_handle_store() - an engine stored one block (§4.3.2 handle_store).
 * @source:     an engine source (vllm or trtllm; kvbm blocks go through handle_kvbm_store).
 * @ext_hash:   the engine's block hash.
 * @parent_ext: NULL for no parent, else the engine hash of the previous block; when it is
 *              mapped for the same source the block's PLH extends the parent's, otherwise
 *              a warning is logged, unknown_parent counts, and the block is hashed as a root.
 * @tokens, @n_tokens, @block_size, @lora_name: see kvbm_cons_block_plh (all copied).
 * Effects: same mapping already present -> nothing; PLH tracked -> one more reference of
 * @source, STORE enqueued only if it was never published; untracked -> registered (if a
 * registry is wired), tracked as published, STORE enqueued. A mapping of (@source,
 * @ext_hash) to a different PLH is replaced (the old block loses that reference as by
 * handle_remove, with its REMOVE if it was the last). KVBM_EOVERFLOW: 65535 hashes of
 * @source already map to the PLH (nothing recorded).
 * Returns KVBM_OK (also for no-ops); on a hash failure KVBM_EINSUFFICIENT / KVBM_EINVAL /
 * KVBM_ERANGE with a message, a warning logged and nothing recorded; KVBM_ENOMEM (nothing
 * recorded). Threads: any; takes the tracker lock once or twice, never logs or calls the
 * registry under it.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_tracker_handle_store(kvbm_cons_tracker *t, kvbm_cons_source source, uint64_t ext_hash,
                               const uint64_t *parent_ext, const uint32_t *tokens, size_t n_tokens,
                               uint32_t block_size, const char *lora_name);

/**
 * kvbm_cons_tracker_handle_remove() - an engine removed a block (§4.3.2 handle_remove):
 * the mapping goes, and with it one reference of @source to the block; when no source
 * holds the block any more it is forgotten (its registry handle released) and a REMOVE is
 * enqueued if it had been published. KVBM_ENOMEM: the queue could not grow, nothing changed.
 * Returns KVBM_OK; KVBM_ENOENT for an unknown (source, hash) (a warning is logged,
 * unknown_removes counts, nothing changes); KVBM_EINVAL (NULL, bad source).
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_tracker_handle_remove(kvbm_cons_tracker *t, kvbm_cons_source source, uint64_t ext_hash);

/**
 * kvbm_cons_tracker_handle_kvbm_store() - kvbm holds block @plh (§4.3.2 handle_kvbm_store).
 * Publishable iff @n_tokens > 0 and @block_size > 0 (the KVBM bridge passes no tokens:
 * then nothing is published until an engine stores the same PLH). Tracked -> source kvbm
 * added, STORE enqueued if publishable and never published; untracked -> registered,
 * tracked with published = publishable, STORE enqueued if publishable.
 * Returns KVBM_OK, KVBM_EINVAL (NULL, tokens NULL with n > 0, @plh fails kvbm_plh_validate),
 * KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status
kvbm_cons_tracker_handle_kvbm_store(kvbm_cons_tracker *t, kvbm_plh plh, const uint32_t *tokens,
                                    size_t n_tokens, uint32_t block_size, const char *lora_name);

/** kvbm_cons_tracker_handle_kvbm_remove() - handle_remove for source kvbm, keyed by PLH.
 *  KVBM_OK, KVBM_ENOENT (not held by kvbm: warning), KVBM_EINVAL. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_cons_tracker_handle_kvbm_remove(kvbm_cons_tracker *t, kvbm_plh plh);

/** kvbm_cons_tracker_clear_all() - forget every block and mapping (registry handles
 *  released after the lock is dropped) and enqueue CLEAR_ALL. KVBM_OK, KVBM_EINVAL,
 *  KVBM_ENOMEM (queue could not grow: nothing changed). */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_cons_tracker_clear_all(kvbm_cons_tracker *t);

/**
 * kvbm_cons_tracker_drain() - move every queued event (FIFO order) into @out, replacing its
 * previous content; the tracker's queue is then empty. O(1) under the lock: the two lists
 * swap storage, so event memory cycles between tracker and caller without allocation.
 * Returns KVBM_OK, KVBM_EINVAL (NULL). Threads: any; @out owned by the caller.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_cons_tracker_drain(kvbm_cons_tracker *t, kvbm_cons_events *out);

/** Snapshot of the counters (taken under the lock). */
KVBM_API void kvbm_cons_tracker_get_stats(kvbm_cons_tracker *t, kvbm_cons_tracker_stats *out);

/** Is @plh tracked (live)? The sources holding it (an engine source holds a block while at
 *  least one of its hashes maps to it) as a bit set (1 << kvbm_cons_source) in *@sources
 *  and its published flag in *@published (either may be NULL). Returns false if untracked. */
KVBM_API bool kvbm_cons_tracker_lookup(kvbm_cons_tracker *t, kvbm_plh plh, unsigned *sources,
                                       bool *published);
/** The PLH (@source, @ext_hash) maps to; false if unmapped. */
KVBM_API bool kvbm_cons_tracker_lookup_external(kvbm_cons_tracker *t, kvbm_cons_source source,
                                                uint64_t ext_hash, kvbm_plh *plh);

/**
 * kvbm_cons_tracker_check() - verify the tracker's structural invariants (every mapping
 * names a live block that holds its source; every live block has a source; counts agree).
 * O(size). KVBM_OK or KVBM_EPOISONED with a message naming the first violation.
 * Debug builds (KVBM_DEBUG >= 3) run it after every operation.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_cons_tracker_check(kvbm_cons_tracker *t);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_CONSOLIDATOR_TRACKER_H */
