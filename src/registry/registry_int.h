/* src/registry/registry_int.h - registry internals shared by the registry sources and the
 * block store (not installed).
 *
 * The store calls kvbm__handle_mark_present() / kvbm__handle_mark_absent() (and the batched
 * eviction epilogue) after it has released its own lock (spec 10 §0.4, §8.4): they are
 * lock-free for a handle's first KVBM__PRESENCE_INLINE tiers but may take the handle's
 * attachments lock (rank KVBM_RANK_ATTACH, below the store's) beyond that, and debug builds
 * check that rank on every call.
 */
#ifndef KVBM_REGISTRY_INT_H
#define KVBM_REGISTRY_INT_H

#include "internal.h"
#include "kvbm/registry.h"

/* Presence +1 for @tier (Staged -> Primary/Duplicate). Never under the store lock.
 * Lock-free (one atomic RMW on the handle's first line) for the first KVBM__PRESENCE_INLINE
 * tiers a handle sees; later tiers take the handle lock. */
void kvbm__handle_mark_present(kvbm_handle *h, kvbm_tier tier);
/* Presence -1 for @tier; a count of 0 is the same as no entry. Decrementing a missing
 * (or zero) entry is a kvbm__assert in debug builds and a no-op in release builds.
 * Lock-free like mark_present. */
void kvbm__handle_mark_absent(kvbm_handle *h, kvbm_tier tier);
/* For each i in order: kvbm__handle_mark_absent(hs[i], tier), then kvbm_handle_release(hs[i])
 * (the eviction epilogue). The handles' first lines are prefetched up front so their cache
 * misses overlap. Same rules as the two calls: no store lock held. */
void kvbm__handle_mark_absent_release_many(kvbm_handle *const *hs, size_t n, kvbm_tier tier);
/* The same for handles of registry @r whose table hashes the caller already has
 * (h64s[i] == kvbm_plh_hash64 of hs[i]'s PLH, checked in debug builds): the handle lines
 * and the table slots are prefetched together (the eviction epilogue of the block store,
 * which knows each evicted block's PLH from its own slot). The caller keeps @r alive (holds
 * a reference) for the call: a last reference whose only extra is a death hook then also
 * dies in one shard-lock section (registry.c, "the one-section death with a death hook"). */
void kvbm__handle_mark_absent_release_many_h64(kvbm_registry *r, kvbm_handle *const *hs,
                                               const uint64_t *h64s, size_t n, kvbm_tier tier);
/* Release each of @hs in order (kvbm_handle_release), prefetching them up front. */
void kvbm__handle_release_many(kvbm_handle *const *hs, size_t n);

/* kvbm_registry_register_many that also counts each handle it CREATES as present in @tier
 * (presence +1, as kvbm__handle_mark_present would), with plain stores before the handle
 * is published instead of an atomic RMW after: created[i] = 1 for those, 0 for handles
 * that already existed (and for every handle if @tier is KVBM__TIER_FREE, which cannot be
 * premarked). The caller owes kvbm__handle_mark_absent(out[i], tier) for every created
 * handle it does not end up keeping as present - its block rejected as a duplicate, a
 * later failure rolled back, poisoning - and kvbm__handle_mark_present for the others it
 * keeps. On failure (all or nothing) the premarks of the call are undone, created[] is 0.
 * The presence is visible from the moment the handle is (registration precedes the
 * store's insertion, which the caller does next). @h64s: NULL, or the caller's
 * kvbm_plh_hash64 of each of @hashes (the store has computed them for its own index: not
 * hashed twice; checked in debug builds). Same locks and errors as register_many. */
kvbm_status kvbm__registry_register_many_present(kvbm_registry *r, const kvbm_plh *hashes,
                                                 const uint64_t *h64s, size_t n, kvbm_tier tier,
                                                 kvbm_handle **out, uint8_t *created);

/* Test hook: number of registrars currently waiting, in @h's shard, for a dying entry to
 * be destroyed (the Create/Remove race fix). */
size_t kvbm__registry_waiters(kvbm_registry *r, kvbm_plh h);
/* Diagnostics: total number of times a registrar had to wait for a dying entry. */
uint64_t kvbm__registry_dying_waits(kvbm_registry *r);

/* Make room in every shard's hash table (at a load of at most 1/4, where probes are
 * short: registry.c, KVBM__RESERVE_LOAD), and on its free list of handle objects, for its
 * expected share of @n more entries (the mean of n / shards plus a four-sigma margin), so
 * that registering n hashes - a manager's block count - grows no table and allocates no
 * handle slab under a shard lock (slabs still come on demand beyond the share; objects
 * already free count towards it; objects are reserved only when the mean share is at
 * least a slab, KVBM__SLAB_N, i.e. n >= 2048: a small manager allocates them on demand). Called by kvbm_manager_create for its block_count,
 * without any lock held; takes each shard lock in turn. Returns KVBM_OK or KVBM_ENOMEM
 * (shards already grown keep their tables and objects). */
kvbm_status kvbm__registry_reserve(kvbm_registry *r, size_t n);
/* Diagnostics / tests: number of table growths registrations caused (reservations are
 * not counted). */
uint64_t kvbm__registry_table_grows(kvbm_registry *r);
/* Diagnostics / tests: the smallest table capacity (slots) over the shards, 0 if a shard
 * has no table yet. Takes each shard lock in turn. */
size_t kvbm__registry_table_slots_min(kvbm_registry *r);

/* ---- private to src/registry/ ------------------------------------------------------ */

#define KVBM__PRESENCE_INLINE 4
/* An unclaimed inline presence slot. A tier with this value (never a kvbm_layout) is
 * always kept in the locked overflow array. */
#define KVBM__TIER_FREE UINT64_MAX

/* Inline presence slot, lock-free. @tier: KVBM__TIER_FREE until a marker CASes its tier in;
 * a claimed slot keeps its tier for the rest of the handle's life (slot 0: also into the
 * object's next lives, with a count of 0 - see kvbm__handle_clear_presence), and slots are
 * claimed in index order, so the claimed slots form a prefix. @word: count in bits 0..31, number
 * of modifications (mod 2^32) in bits 32..63 - the latter lets has_any_block() prove that
 * several counts were zero at one instant (double collect, see handle.c). */
struct kvbm__pslot {
    _Atomic uint64_t tier;
    _Atomic uint64_t word;
};
#define KVBM__PW_ONE UINT64_C(1)         /* slot word: count +1 */
#define KVBM__PW_OP  (UINT64_C(1) << 32) /* slot word: modification counter +1 */

/* Overflow presence entry (tiers beyond the inline slots), under the handle lock. */
struct kvbm__presence { kvbm_tier tier; uint32_t count; };

/* Per-life extras of a handle (kvbm_handle.flags): the dying thread skips the cold lines
 * of a handle that never had any. */
enum { KVBM__HF_ATT = 1u, KVBM__HF_CB = 2u, KVBM__HF_OVER = 4u, KVBM__HF_DEATH = 8u };
/* With KVBM__HF_DEATH, bits 8..11 of the flags hold the death hook's id in its registry's
 * hook table (struct kvbm__dhook_table): the hook costs the handle no field outside its
 * first line, which is all a registration and a death touch otherwise. */
#define KVBM__HF_ID_SHIFT 8
#define KVBM__HF_ID_MASK  (0xfu << KVBM__HF_ID_SHIFT)
#define KVBM__HF_EXTRAS   0xffu /* the extras bits, without the hook id */

/* Death hook: a library-internal, allocation-free alternative to a unique attachment for a
 * module that needs one call when a registration dies (the events manager's Remove, spec
 * 20 §3.2). A handle has ONE death-hook slot, set only by a registry observer while the
 * handle is being created (kvbm__handle_set_death_new); the dying thread calls
 * hook->fn(hook, plh) exactly where attachment destructors run (kvbm__handle_finalize: no
 * lock held, before the entry leaves the table and before kvbm__defer_run) - or, in the
 * eviction epilogue's one-section death, UNDER the handle's shard lock (rank
 * KVBM_RANK_REGISTRY) just before the entry leaves the table, still before
 * kvbm__defer_run. So @fn must only queue its work for kvbm__defer_run (like an observer's
 * on_registered, which also runs under the shard lock): never block, never call into the
 * registry, take only locks of a higher rank. The registry keeps a re-registration of the
 * hash from notifying observers until that kvbm__defer_run has run. The hook's
 * owner keeps @hook alive while any handle carries it (the events channel counts them as
 * senders). Compared with a release-handle attachment it saves the attach (slot array,
 * destructor copy) and the attachment walk at death. */
struct kvbm__death_hook {
    void (*fn)(struct kvbm__death_hook *hook, kvbm_plh h);
};

/* The death hooks a registry's handles may name (ids 1..KVBM__DHOOKS - 1; entry 0 unused):
 * the FIRST member of struct kvbm_registry, so that the inline helpers below reach it
 * from a handle's registry pointer. An entry is set once (CAS from NULL, the first time a
 * hook is given to a handle of the registry) and never changes: a handle's id keeps
 * naming its hook (alive while the handle carries it, see above); a later hook at the
 * same address reuses the entry. A full table makes kvbm__handle_set_death_new fail (the
 * observer then falls back to a unique attachment). */
#define KVBM__DHOOKS 16u
struct kvbm__dhook_table {
    struct kvbm__death_hook *_Atomic hook[KVBM__DHOOKS];
};
/* Cold path of kvbm__handle_set_death_new: claim an entry of @r's table for @hook (or
 * find it). The id, or 0 if the table is full. Lock-free. */
unsigned kvbm__registry_dhook_claim(kvbm_registry *r, struct kvbm__death_hook *hook);

enum { KVBM__ATT_UNIQUE = 1, KVBM__ATT_MULTIPLE = 2 };

/* A type's destructor: the public kind (value only) or the internal kind that also
 * receives the handle's PLH (kvbm__attach_type_register_plh; the events release handle
 * emits Remove(h) with it, without a per-registration allocation). At most one is set. */
typedef void (*kvbm__attach_dtor_plh)(void *value, kvbm_plh h);
struct kvbm__att_dtor {
    kvbm_attach_dtor      fn;
    kvbm__attach_dtor_plh fn_plh;
};
static inline void kvbm__att_dtor_run(const struct kvbm__att_dtor *d, void *value, kvbm_plh h)
{
    if (d->fn != NULL) d->fn(value);
    else if (d->fn_plh != NULL) d->fn_plh(value, h);
}

/* One attachment type used on one handle. The mode is sticky for the handle's life. */
struct kvbm__att {
    kvbm_attach_type type;
    uint8_t          mode;    /* KVBM__ATT_UNIQUE or KVBM__ATT_MULTIPLE */
    struct kvbm__att_dtor dtor; /* copied from the type table at first attach */
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
 * Fields other than refs and the inline presence slots are written only by the creator
 * (under the shard lock) before the handle is published, by ref holders under ->lock, or
 * by the dying thread which owns the object exclusively.
 *
 * Layout: objects are 64-byte aligned and the first cache line holds everything the
 * per-block paths touch (refs, hash, registry, flags and the first two presence slots):
 * registration, the last release of a handle without extras and a mark of one of its
 * first two tiers touch only that line.
 */
struct kvbm_handle {
    _Atomic uint32_t       refs;
    uint32_t               flags;     /* KVBM__HF_*, set under ->lock, cleared at death */
    kvbm_plh               hash;
    union {
        struct kvbm_registry *reg;        /* live and dying handles */
        struct kvbm_handle   *next_free;  /* on the shard free list (shard lock) */
    };
    struct kvbm__pslot     pres[KVBM__PRESENCE_INLINE];

    kvbm__mutex             lock;      /* KVBM_RANK_ATTACH: overflow presence, attachments, callbacks */
    _Atomic uint32_t       nover;     /* overflow entries; read lock-free to skip the lock */
    uint32_t               capover;
    struct kvbm__presence *over;      /* heap, NULL until the inline slots are exhausted */
    struct kvbm__att      *att;
    uint32_t               natt, capatt;
    struct kvbm__touch_cb *cb_head, *cb_tail;
    size_t                 ncb;
};

/* Clear the inline presence of a dying handle (the dying thread owns it; atomics because a
 * check_presence that saw refs > 0 just before may still read them - old or cleared values
 * are both fine for a dying handle). Slot 0 keeps its tier with a count of 0 (the same as
 * no entry): the object's next life usually marks that tier first and then finds its slot
 * claimed, one CAS less per registered block. The other claimed slots are freed; claimed
 * slots still form a prefix, so stop at the first free one (usually slot 1, in line 0). */
static inline void kvbm__handle_clear_presence(kvbm_handle *h)
{
    /* (a free slot's word is 0 already: slot 0 is cleared without testing its tier; if it
     * is free, so is slot 1 and the loop stops there) */
    kvbm__assert(atomic_load_explicit(&h->pres[0].tier, memory_order_relaxed) != KVBM__TIER_FREE ||
                 atomic_load_explicit(&h->pres[0].word, memory_order_relaxed) == 0);
    atomic_store_explicit(&h->pres[0].word, 0, memory_order_relaxed);
    /* slot 1 tested apart: the loop's set-up cost every death that had one tier */
    if (KVBM_LIKELY(atomic_load_explicit(&h->pres[1].tier, memory_order_relaxed) == KVBM__TIER_FREE)) return;
    for (unsigned i = 1; i < KVBM__PRESENCE_INLINE; i++) {
        if (atomic_load_explicit(&h->pres[i].tier, memory_order_relaxed) == KVBM__TIER_FREE) break;
        atomic_store_explicit(&h->pres[i].tier, KVBM__TIER_FREE, memory_order_relaxed);
        atomic_store_explicit(&h->pres[i].word, 0, memory_order_relaxed);
    }
}

/* Reset the per-life state of a dying handle: run attachment destructors (no lock held),
 * free touch callbacks, clear presence. Called by the thread that dropped refs to 0. */
void kvbm__handle_finalize(kvbm_handle *h);
/* kvbm__handle_finalize, with the common case (no attachments, callbacks or overflow
 * presence: flags == 0, nothing but the inline slots to clear) inline. */
/* The death hook of @h (NULL if none), named by the id in its flags. For a handle being
 * created or dying (only the calling thread reaches it), or a reference holder's (the id
 * is written only by the creating observer). */
static inline struct kvbm__death_hook *kvbm__handle_death(const kvbm_handle *h)
{
    unsigned id = (h->flags & KVBM__HF_ID_MASK) >> KVBM__HF_ID_SHIFT;
    if (id == 0) return NULL;
    const struct kvbm__dhook_table *t = (const struct kvbm__dhook_table *)(const void *)h->reg;
    return atomic_load_explicit(&t->hook[id], memory_order_relaxed);
}

static inline void kvbm__handle_finalize_fast(kvbm_handle *h)
{
    uint32_t f = h->flags;
    if (KVBM_LIKELY(f == 0)) {
        kvbm__handle_clear_presence(h);
    } else if ((f & KVBM__HF_EXTRAS) == KVBM__HF_DEATH) { /* only a death hook: no attachment walk */
        struct kvbm__death_hook *d = kvbm__handle_death(h);
        h->flags = 0;
        d->fn(d, h->hash);
        kvbm__handle_clear_presence(h);
    } else {
        kvbm__handle_finalize(h);
    }
}

/* The registry observer of a module that wants @hook called at @h's death, for a handle
 * being created (shard lock held, only this thread can reach @h): takes the handle's death
 * slot if it is free and returns true. False if another observer took it, or if @h's
 * registry already knows KVBM__DHOOKS - 1 other hooks (the caller then falls back to a
 * unique attachment). */
static inline bool kvbm__handle_set_death_new(kvbm_handle *h, struct kvbm__death_hook *hook)
{
    if (h->flags & KVBM__HF_DEATH) return false;
    const struct kvbm__dhook_table *t = (const struct kvbm__dhook_table *)(const void *)h->reg;
    unsigned id = 1; /* the usual case: the registry's first (only) hook */
    if (KVBM_UNLIKELY(atomic_load_explicit(&t->hook[1], memory_order_relaxed) != hook)) {
        id = kvbm__registry_dhook_claim(h->reg, hook);
        if (id == 0) return false;
    }
    h->flags |= KVBM__HF_DEATH | (id << KVBM__HF_ID_SHIFT);
    return true;
}
/* True if a value of @type is attached to @h (any mode). For a handle only the calling
 * thread can reach (being created or dying); otherwise under ->lock. */
static inline bool kvbm__handle_has_type_new(const kvbm_handle *h, kvbm_attach_type type)
{
    for (uint32_t i = 0; i < h->natt; i++)
        if (h->att[i].type == type) return true;
    return false;
}
/* First-time initialisation of a freshly allocated handle object (lock, inline arrays). */
void kvbm__handle_init_object(kvbm_handle *h);
/* Release what a recycled handle object owns (arrays, lock), not the object itself, which
 * lives in a slab of its shard (registry teardown, failed slab initialisation). */
void kvbm__handle_fini_object(kvbm_handle *h);

/* Attachment type table (attach_type.c). Returns the destructor of a registered type,
 * or false for an unknown id. Lock-free read. */
bool kvbm__attach_type_lookup(kvbm_attach_type type, struct kvbm__att_dtor *dtor);
/* kvbm_handle_attach_unique() that also sets *@had (if non-NULL; untouched otherwise) when
 * a unique value of @type was already attached - replaced, or kept when it is @value
 * itself (its destructor then does not run). */
kvbm_status kvbm__handle_attach_unique_ex(kvbm_handle *h, kvbm_attach_type type, void *value,
                                          bool *had);
/* kvbm_handle_attach_unique() for a handle that only the calling thread can reach: one
 * being created, from a registry observer (the shard lock is held, lookups need it, no
 * other reference exists). No handle lock; @dtor is @type's (kvbm__attach_type_lookup,
 * done once by the caller). */
kvbm_status kvbm__handle_attach_unique_new(kvbm_handle *h, kvbm_attach_type type,
                                           const struct kvbm__att_dtor *dtor, void *value);
/* kvbm_attach_type_register() for a type whose destructor also receives the PLH of the
 * handle the value was attached to (the value of a replaced attach_unique included).
 * Library-internal (the events module); same errors. */
kvbm_status kvbm__attach_type_register_plh(const char *name, kvbm__attach_dtor_plh dtor,
                                           kvbm_attach_type *out);

#endif /* KVBM_REGISTRY_INT_H */
