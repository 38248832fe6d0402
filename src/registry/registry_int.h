/* src/registry/registry_int.h - registry internals shared by the registry sources and the
 * block store (not installed).
 *
 * The store calls kvbm__handle_mark_present() / kvbm__handle_mark_absent() after it has
 * released its own lock (spec 10 §0.4, §8.4): both take the handle's attachments lock,
 * whose rank (KVBM_RANK_ATTACH) is below the store's.
 */
#ifndef KVBM_REGISTRY_INT_H
#define KVBM_REGISTRY_INT_H

#include "internal.h"
#include "kvbm/registry.h"

/* Presence +1 for @tier (Staged -> Primary/Duplicate). Never under the store lock. */
void kvbm__handle_mark_present(kvbm_handle *h, kvbm_tier tier);
/* Presence -1 for @tier; the (tier, count) pair is removed at 0. Decrementing a missing
 * entry is a kvbm_assert in debug builds and a no-op in release builds. */
void kvbm__handle_mark_absent(kvbm_handle *h, kvbm_tier tier);

/* Test hook: number of registrars currently waiting, in @h's shard, for a dying entry to
 * be destroyed (the Create/Remove race fix). */
size_t kvbm__registry_waiters(kvbm_registry *r, kvbm_plh h);
/* Diagnostics: total number of times a registrar had to wait for a dying entry. */
uint64_t kvbm__registry_dying_waits(kvbm_registry *r);

/* ---- private to src/registry/ ------------------------------------------------------ */

#define KVBM__PRESENCE_INLINE 4

struct kvbm__presence { kvbm_tier tier; uint32_t count; };

enum { KVBM__ATT_UNIQUE = 1, KVBM__ATT_MULTIPLE = 2 };

/* One attachment type used on one handle. The mode is sticky for the handle's life. */
struct kvbm__att {
    kvbm_attach_type type;
    uint8_t          mode;    /* KVBM__ATT_UNIQUE or KVBM__ATT_MULTIPLE */
    kvbm_attach_dtor dtor;    /* copied from the type table at first attach */
    void            *unique;  /* Unique mode */
    void           **vals;    /* Multiple mode: values in insertion order */
    size_t           n, cap;
};

/* Touch callbacks: an append-only singly linked list. touch() reads the length under
 * the lock, then walks that many nodes without it (nodes are never freed while the
 * handle lives and ->next of a published node is written before the length grows). */
struct kvbm__touch_cb {
    kvbm_touch_fn          fn;
    void                  *ctx;
    struct kvbm__touch_cb *next;
};

/*
 * struct kvbm_handle - one registration of a PLH in one registry.
 *
 *   refs > 0              live: in its shard's table, found by lookups
 *   refs == 0, in table   dying: lookups treat it as absent, registrars of the same hash
 *                         wait on the shard's condition variable; the thread that dropped
 *                         refs to 0 runs the destructors (no lock held), then removes the
 *                         entry and recycles the object, all under the shard lock
 *   on shard free list    recycled; ->lock stays initialised, arrays keep their capacity
 *
 * Fields other than refs are written only by the creator (under the shard lock) before
 * the handle is published, by ref holders under ->lock, or by the dying thread which
 * owns the object exclusively.
 */
struct kvbm_handle {
    _Atomic uint32_t       refs;
    uint32_t               shard;
    uint64_t               h64;       /* kvbm_plh_hash64(hash) */
    kvbm_plh               hash;
    struct kvbm_registry  *reg;
    struct kvbm_handle    *next_free; /* shard free list (shard lock) */

    kvbm_mutex             lock;      /* KVBM_RANK_ATTACH: presence, attachments, callbacks */
    uint32_t               npres, cappres;
    struct kvbm__presence *pres;      /* == pres_inline unless more tiers than that */
    struct kvbm__presence  pres_inline[KVBM__PRESENCE_INLINE];
    struct kvbm__att      *att;
    uint32_t               natt, capatt;
    struct kvbm__touch_cb *cb_head, *cb_tail;
    size_t                 ncb;
};

/* Reset the per-life state of a dying handle: run attachment destructors (no lock held),
 * free touch callbacks, clear presence. Called by the thread that dropped refs to 0. */
void kvbm__handle_finalize(kvbm_handle *h);
/* First-time initialisation of a freshly allocated handle object (lock, inline arrays). */
int  kvbm__handle_init_object(kvbm_handle *h);
/* Free everything of a recycled handle object (registry teardown). */
void kvbm__handle_free_object(kvbm_handle *h);

/* Attachment type table (attach_type.c). Returns the destructor of a registered type,
 * or false for an unknown id. Lock-free read. */
bool kvbm__attach_type_lookup(kvbm_attach_type type, kvbm_attach_dtor *dtor);

#endif /* KVBM_REGISTRY_INT_H */
