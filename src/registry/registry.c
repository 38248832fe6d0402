/* src/registry/registry.c - the registry: PLH -> live registration handle.
 *
 * Layout. KVBM__SHARDS shards, selected by the top bits of kvbm_plh_hash64(h). Each shard
 * has a ranked mutex (KVBM_RANK_REGISTRY; released with kvbm__unlock_fast: no locked
 * instruction), an open-addressing table of (hash64, handle *) with linear probing and
 * backward-shift deletion (no tombstones; grows by doubling at 1/2 load, never shrinks),
 * a free list of recycled handle objects and a condition
 * variable. The spec's per-position buckets (20 §1.9) only fix which hashes share a lock;
 * a per-shard lock is behaviourally equivalent (see docs/design/registry.md).
 *
 * The table holds a weak reference: an entry points at a handle whose refcount may reach
 * 0 without the lock (kvbm_handle_release). Lookups upgrade under the shard lock with a
 * CAS that never resurrects 0, so a dying entry (refs == 0, still in the table) is absent
 * for match/is_registered/check_presence.
 *
 * Destruction and the Create/Remove race (spec 20 §2.3, binding decision 6). The thread
 * that drops refs to 0 owns the handle exclusively: it runs the attachment destructors
 * (the events release handle emits Remove there) with no lock held, then takes the shard
 * lock, removes the entry - which still designates this handle, because nobody replaces a
 * dying entry - recycles the object and wakes waiters. A registrar that finds a dying
 * entry for its hash waits on the shard's condition variable until that removal, and only
 * then creates the new handle and calls on_registered (Create). Hence, per hash, every
 * Remove of one registration lifetime precedes the Create of the next. (The eviction
 * epilogue's last release of a handle without extras - nothing to destroy - or with only
 * a death hook is the whole death in one shard-lock section instead: absent_release_fast;
 * for a hook, a Remove-pending claim in the shard stands in for the dying entry until
 * the Remove is flushed, see "the one-section death with a death hook".)
 *
 * Registry lifetime: `refs` counts public references. `pins` = (refs > 0) + number of
 * shards with live handle objects; the memory (shards, recycled handles) is freed when it
 * reaches 0, so handles may outlive the last public reference (their death then only
 * cleans up; kvbm_handle_is_from_registry() reports false).
 */
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"
#include "tinylfu/tinylfu_int.h"

#define KVBM__SHARD_BITS   6
#define KVBM__SHARDS       (1u << KVBM__SHARD_BITS)
#define KVBM__TABLE_INIT   16u
#define KVBM__HANDLE_SIZE  ((sizeof(struct kvbm_handle) + 63u) & ~(size_t)63u)
#define KVBM__SLAB_N       32u   /* handle objects per slab allocation */
#define KVBM__RM_SLOTS     3u    /* Remove-pending claims per shard (line 1) */

struct slot {
    uint64_t     h64;
    kvbm_handle *h;  /* NULL: empty */
};

/* One hot line per shard: everything a registration or a death touches - the lock, the
 * table, the entry count, the free list and the prefetch hints - is line 0, which the
 * unlocked prefetch pass (reading the hints) brings in ahead of the lock. The condition
 * variable, the waiter count and the diagnostics follow in line 1. (Session 10 had the
 * hot fields in two lines - the pass read line 1, the lock missed on line 0 - and the
 * first layout in four.) */
struct shard {
    /* line 0 */
    _Alignas(64) kvbm__mutex lock;
    struct slot     *tab;       /* no_table (mask 0) until the first insert */
    size_t           mask;      /* capacity - 1 */
    /* entries (live + dying) = handle objects off the free list: an object leaves the
     * free list exactly when its entry is inserted and returns when it is deleted, both
     * in one critical section, so one counter serves the load factor and the pin.
     * Written under the lock (shard_count_set: a plain store); also read WITHOUT it
     * (relaxed) by registered_count(), hence atomic - no second, published copy to store
     * on every registration and death. */
    _Atomic size_t   count;
    /* Written under the lock; read WITHOUT it (relaxed) only to compute a prefetch
     * address, like the hints below. */
    _Atomic(kvbm_handle *) free_list;
    /* Relaxed copies of tab / mask, read WITHOUT the lock only to compute prefetch
     * addresses (a stale or mismatched pair just prefetches a useless line: prefetches
     * never fault and have no semantic effect). Written under the lock by tab_grow. */
    _Atomic(struct slot *) tab_hint;
    _Atomic size_t   mask_hint;
    /* line 1: cold */
    _Alignas(64) kvbm__cond cond; /* broadcast when a dying entry is removed */
    uint32_t         waiters;   /* registrars waiting for a dying entry */
    void            *slabs;     /* slab allocations of this shard (singly linked, line 0) */
    uint64_t         waits;     /* diagnostics: total waits (lock held) */
    uint64_t         grows;     /* diagnostics: table growths on registration (lock held) */
    size_t           nobj;      /* handle objects in this shard's slabs (lock held) */
    /* Remove-pending claims (see "The one-section death with a death hook" below): key
     * (h64 | 1) of a handle that died in one section and whose hook's deferred work
     * (events: Remove) its dying thread has not flushed yet; 0 = free. Claimed under the
     * lock, cleared by the claimer WITHOUT it (release store) after its flush. */
    _Atomic uint64_t rm_pend[KVBM__RM_SLOTS];
    /* 128 bytes in all: shard_of() indexes with a shift, not a multiply */
};

_Static_assert(offsetof(struct shard, cond) == 64 && sizeof(struct shard) == 128,
               "struct shard: the hot fields in line 0");

/* Observers (on_registered), called in slot order under the shard lock of the new handle.
 * A slot is in use iff its bit is set in obs_mask. add_observer fills a free slot, then
 * sets the bit (release); a registrar loads the mask (acquire) under its shard lock.
 * remove_observer clears the bit, then locks and unlocks every shard: a registrar that
 * still saw the bit holds its shard lock while calling, so once every shard has been
 * passed no call is in flight and the slot may be reused. */
struct observer {
    kvbm_status (*fn)(void *ctx, kvbm_handle *h);
    void *ctx;
    char  name[32];
};

struct kvbm_registry {
    struct kvbm__dhook_table dh; /* first: see registry_int.h */
    _Atomic size_t      refs;
    _Atomic size_t      pins;
    kvbm_tracker       *tracker;
    bool                tracker_keys; /* the tracker's touches read the keys (custom kind) */
    /* The TinyLFU tracker's sketch table and word count (fixed for the tracker's life), so
     * that the registration's chunk pass prefetches the sketch words with the table slots;
     * without a TinyLFU tracker a one-word dummy (the prefetch needs no test). */
    _Atomic uint64_t   *sk_table;
    uint64_t            sk_words;
    _Atomic uint32_t    obs_mask;
    /* set (for good) when the first death hook is claimed (kvbm__registry_dhook_claim), so
     * before any handle carries one and thus before any Remove-pending claim: until then no
     * registrar reads the shards' claim slots */
    _Atomic bool        rm_used;
    pthread_mutex_t     obs_lock;  /* serialises add/remove_observer (unranked, not nested) */
    struct observer     obs[KVBM_REGISTRY_MAX_OBSERVERS];
    struct shard        shards[KVBM__SHARDS];
};

_Static_assert(offsetof(struct kvbm_registry, dh) == 0, "the hook table first");

unsigned kvbm__registry_dhook_claim(kvbm_registry *r, struct kvbm__death_hook *hook)
{
    for (unsigned i = 1; i < KVBM__DHOOKS; i++) {
        struct kvbm__death_hook *p = NULL;
        if (atomic_compare_exchange_strong_explicit(&r->dh.hook[i], &p, hook, memory_order_relaxed,
                                                    memory_order_relaxed) || p == hook) {
            /* Before the caller's handle gets the hook (its flags, written after this):
             * the thread that claims a Remove slot in that handle's death has synchronised
             * with that write, and a registrar that misses the entry the claimer deleted
             * has synchronised with the claimer through the shard lock - so it sees the
             * mark. Set here rather than tested in every claim (session 14: -2.4 Ir per
             * death with events). */
            if (!atomic_load_explicit(&r->rm_used, memory_order_relaxed))
                atomic_store_explicit(&r->rm_used, true, memory_order_relaxed);
            return i;
        }
    }
    return 0;
}

/* ---- table ------------------------------------------------------------------------- */

static inline struct shard *shard_of(kvbm_registry *r, uint64_t h64)
{
    struct shard *sh = &r->shards[h64 >> (64 - KVBM__SHARD_BITS)];
    /* An empty asm makes the address opaque, so the compiler keeps the pointer in a
     * register: otherwise it keeps the index and, as x86 addressing scales by 8 at most,
     * recomputes index * 128 (a move and a shift) at nearly every access to a shard field
     * (session 14: -7 Ir per registration, -6 per death). */
    __asm__("" : "+r"(sh));
    return sh;
}

/* The shard's entry count (any thread; exact under the lock), and its update (lock held). */
static inline size_t shard_count(const struct shard *sh)
{
    return atomic_load_explicit(&((struct shard *)sh)->count, memory_order_relaxed);
}
static inline void shard_count_set(struct shard *sh, size_t n)
{
    atomic_store_explicit(&sh->count, n, memory_order_relaxed);
}

/* The table of a shard that has none yet: one empty slot (mask 0), never written - a
 * one-slot table is full (1/2 load) before its first entry, so every insertion grows it
 * first. Probes and deletions then need no test for a missing table. */
static struct slot no_table[1];

static inline bool tab_none(const struct shard *sh) { return sh->tab == no_table; }

/* Index of the entry for @h, or SIZE_MAX. Lock held. */
static size_t tab_find(const struct shard *sh, uint64_t h64, kvbm_plh h)
{
    for (size_t i = h64 & sh->mask;; i = (i + 1) & sh->mask) {
        const struct slot *s = &sh->tab[i];
        if (s->h == NULL) return SIZE_MAX;
        if (s->h64 == h64 && kvbm_plh_eq(s->h->hash, h)) return i;
    }
}

/* tab_find that also reports, on a miss, the empty slot that ended the probe: where an
 * insertion of @h goes if the table does not grow first (registration probes once). */
static inline size_t tab_find_or_empty(const struct shard *sh, uint64_t h64, kvbm_plh h,
                                       size_t *empty)
{
    for (size_t i = h64 & sh->mask;; i = (i + 1) & sh->mask) {
        const struct slot *s = &sh->tab[i];
        if (s->h == NULL) {
            *empty = i;
            return SIZE_MAX;
        }
        if (s->h64 == h64 && kvbm_plh_eq(s->h->hash, h)) return i;
    }
}

static void tab_put(struct slot *tab, size_t mask, uint64_t h64, kvbm_handle *h)
{
    size_t i = h64 & mask;
    while (tab[i].h != NULL) i = (i + 1) & mask;
    tab[i].h64 = h64;
    tab[i].h = h;
}

/* Slots of the shard's table (0 before the first insert). Lock held. */
static inline size_t tab_cap(const struct shard *sh) { return tab_none(sh) ? 0 : sh->mask + 1; }

/* @entries fit in a table of @cap slots at load <= 1/2. */
static inline bool tab_fits(size_t entries, size_t cap) { return entries * 2 <= cap; }

/* Move the entries to a new table of @ncap (a power of two > 2 x count) slots. Lock held. */
static kvbm_status tab_resize(struct shard *sh, size_t ncap)
{
    size_t cap = tab_cap(sh);
    struct slot *nt = kvbm__calloc(ncap, sizeof *nt);
    if (nt == NULL) return KVBM_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        if (sh->tab[i].h != NULL) tab_put(nt, ncap - 1, sh->tab[i].h64, sh->tab[i].h);
    if (!tab_none(sh)) kvbm__free(sh->tab);
    sh->tab = nt;
    sh->mask = ncap - 1;
    atomic_store_explicit(&sh->mask_hint, ncap - 1, memory_order_relaxed);
    atomic_store_explicit(&sh->tab_hint, nt, memory_order_relaxed);
    return KVBM_OK;
}

/* Grow so that one more entry fits (it would exceed the 1/2 load): double the table. Lock
 * held. */
static kvbm_status tab_grow(struct shard *sh)
{
    size_t cap = tab_cap(sh);
    sh->grows++;
    return tab_resize(sh, cap ? cap * 2 : KVBM__TABLE_INIT);
}

/* Backward-shift deletion of slot @i: later members of the probe run move back so that
 * every entry stays reachable from its home slot without tombstones. Lock held. */
static inline __attribute__((always_inline)) void tab_delete(struct shard *sh, size_t i)
{
    size_t mask = sh->mask;
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (sh->tab[j].h == NULL) break;
        size_t k = sh->tab[j].h64 & mask; /* home of the entry at j */
        /* leave it if its home lies cyclically in (i, j]: it is fewer probe steps from
         * its home to j than from i to j (i != j, so the latter is at least 1) */
        if (((j - k) & mask) < ((j - i) & mask)) continue;
        sh->tab[i] = sh->tab[j];
        i = j;
    }
    sh->tab[i].h = NULL;
    shard_count_set(sh, shard_count(sh) - 1);
}

/* Delete the entry designating handle @h (home slot of @h64); false if there is none. A
 * dying handle's entry is never replaced, so identity is the exact test and needs neither
 * the stored hash nor the PLH. Lock held. */
static inline __attribute__((always_inline)) bool tab_remove_ptr(struct shard *sh, uint64_t h64,
                                                                 const kvbm_handle *h)
{
    for (size_t i = h64 & sh->mask;; i = (i + 1) & sh->mask) {
        const kvbm_handle *e = sh->tab[i].h;
        if (e == h) {
            tab_delete(sh, i);
            return true;
        }
        if (e == NULL) return false;
    }
}

/* Prefetch (write intent) the home slot of @h64 in its shard's table, without the lock
 * (see tab_hint). A hint only. */
static inline void tab_prefetch(const struct shard *sh, uint64_t h64)
{
    struct slot *t = atomic_load_explicit(&((struct shard *)sh)->tab_hint, memory_order_relaxed);
    size_t m = atomic_load_explicit(&((struct shard *)sh)->mask_hint, memory_order_relaxed);
    /* Integer arithmetic: with a stale pair the address may lie outside the table (before
     * the shard's first table the pair is no_table and 0: its one slot) - harmless for a
     * prefetch, which never faults, so no test on the per-block path; but not a valid
     * pointer expression. */
    uintptr_t a = (uintptr_t)t + (uintptr_t)(h64 & m) * sizeof(struct slot);
    __builtin_prefetch((const void *)a, 1, 3);
    /* and the slot after it, which a probe run (or a deletion's backward shift) reads
     * next: the next line only when the home slot is the last of its line (it was the
     * next line always: a useless line in ~3 of 4 cases, evicting useful ones) */
    __builtin_prefetch((const void *)(a + sizeof(struct slot)), 1, 3);
}

/* ---- registry lifetime ------------------------------------------------------------- */

kvbm_status kvbm_registry_create(const kvbm_registry_config *cfg, kvbm_registry **out)
{
    if (out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (out == NULL)", __func__);
    kvbm_registry_config def = KVBM_REGISTRY_CONFIG_INIT;
    if (cfg == NULL) cfg = &def;
    if (cfg->struct_size != sizeof(kvbm_registry_config)) {
        kvbm__set_error("kvbm_registry_config: struct_size %zu, expected %zu (use "
                        "KVBM_REGISTRY_CONFIG_INIT)", cfg->struct_size, sizeof *cfg);
        return KVBM_EINVAL;
    }
    kvbm_registry *r = kvbm__aligned_alloc(64, sizeof *r);
    if (r == NULL) return KVBM_ENOMEM;
    memset(r, 0, sizeof *r);
    for (unsigned i = 0; i < KVBM__SHARDS; i++) {
        struct shard *sh = &r->shards[i];
        kvbm__mutex_init_fast_unlock(&sh->lock, KVBM_RANK_REGISTRY);
        kvbm__cond_init(&sh->cond);
        sh->tab = no_table; /* mask 0 */
        atomic_init(&sh->tab_hint, no_table);
    }
    atomic_init(&r->refs, 1);
    atomic_init(&r->pins, 1);
    r->tracker = cfg->tracker != NULL ? kvbm_tracker_clone(cfg->tracker) : NULL;
    r->tracker_keys = r->tracker != NULL && !kvbm__tracker_is_tinylfu(r->tracker);
    static _Atomic uint64_t no_sketch;
    const kvbm__sketch *sk = kvbm__tracker_sketch(r->tracker); /* NULL unless TinyLFU */
    r->sk_table = sk != NULL ? sk->table : &no_sketch;
    r->sk_words = sk != NULL ? sk->words : 1;
    pthread_mutex_init(&r->obs_lock, NULL);
    if (cfg->hooks.on_registered != NULL) { /* the creation-time hook is observer id 1 */
        r->obs[0].fn = cfg->hooks.on_registered;
        r->obs[0].ctx = cfg->hooks.ctx;
        snprintf(r->obs[0].name, sizeof r->obs[0].name, "hooks.on_registered");
        atomic_store_explicit(&r->obs_mask, 1u, memory_order_relaxed);
    }
    *out = r;
    return KVBM_OK;
}

static bool slab_refill(struct shard *sh);

static size_t isqrt(size_t n)
{
    size_t x = 0;
    while ((x + 1) * (x + 1) <= n) x++;
    return x;
}

/* A reservation sizes a shard's table for its share at a load of at most
 * 1/KVBM__RESERVE_LOAD, below the 1/2 at which registrations grow it: the probe and
 * backward-shift loops of the per-block registration and death then almost always stop at
 * the first slot - predicted loop exits, no second table line read after the lock
 * (session 14 round 2: 1/4 instead of 1/2 made the replay 8-12 % faster in wall time for
 * ~1 % fewer instructions; 1/8 gained nothing more). The price: 16 bytes per slot, ~128
 * of table per reserved block instead of ~64 (docs/perf/registry.md). */
#define KVBM__RESERVE_LOAD 4u

kvbm_status kvbm__registry_reserve(kvbm_registry *r, size_t n)
{
    if (r == NULL || n == 0) return KVBM_OK;
    /* A shard receives Binomial(n, 1/KVBM__SHARDS) of n uniformly hashed entries: reserve
     * the mean plus four standard deviations (at most sqrt(mean)) plus a small constant. */
    size_t mean = n / KVBM__SHARDS;
    size_t share = mean + 4 * isqrt(mean) + 8;
    for (unsigned i = 0; i < KVBM__SHARDS; i++) {
        struct shard *sh = &r->shards[i];
        kvbm__lock(&sh->lock);
        size_t want = shard_count(sh) + share;
        kvbm_status st = KVBM_OK;
        if (want > SIZE_MAX / (4 * KVBM__RESERVE_LOAD)) {
            st = KVBM_ENOMEM;
        } else if (want * KVBM__RESERVE_LOAD > tab_cap(sh)) {
            size_t ncap = (size_t)kvbm__next_pow2_u64((uint64_t)want * KVBM__RESERVE_LOAD);
            if (ncap < KVBM__TABLE_INIT) ncap = KVBM__TABLE_INIT;
            st = tab_resize(sh, ncap);
        }
        /* and handle objects for the share, so that registering them allocates nothing
         * (from a share of a whole slab on: a small manager does not pin 64 slabs) */
        while (st == KVBM_OK && mean >= KVBM__SLAB_N && sh->nobj - shard_count(sh) < share)
            if (!slab_refill(sh)) st = KVBM_ENOMEM;
        kvbm__unlock_fast(&sh->lock);
        if (st != KVBM_OK) return st;
    }
    return KVBM_OK;
}

/* Object @i of a handle slab: the slab's first 64 bytes link the shard's slabs. */
static inline kvbm_handle *slab_object(char *slab, unsigned i)
{
    return (kvbm_handle *)(void *)(slab + 64 + (size_t)i * KVBM__HANDLE_SIZE);
}

static void registry_free(kvbm_registry *r)
{
    for (unsigned i = 0; i < KVBM__SHARDS; i++) {
        struct shard *sh = &r->shards[i];
        kvbm__assert(shard_count(sh) == 0);
        /* count == 0: every object of every slab is free. Walk the slabs in address order
         * rather than the free list (a chain of dependent misses through cold objects). */
        for (char *slab = sh->slabs; slab != NULL;) {
            char *next = *(char **)(void *)slab;
            for (unsigned k = 0; k < KVBM__SLAB_N; k++)
                kvbm__handle_fini_object(slab_object(slab, k));
            kvbm__free(slab);
            slab = next;
        }
        if (!tab_none(sh)) kvbm__free(sh->tab);
        kvbm__mutex_destroy(&sh->lock);
    }
    pthread_mutex_destroy(&r->obs_lock);
    kvbm__free(r);
}

static void registry_unpin(kvbm_registry *r)
{
    if (atomic_fetch_sub_explicit(&r->pins, 1, memory_order_acq_rel) == 1) registry_free(r);
}

kvbm_registry *kvbm_registry_clone(kvbm_registry *r)
{
    if (r != NULL) {
        size_t old = atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
        kvbm__assert(old != 0);
        (void)old;
    }
    return r;
}

void kvbm_registry_release(kvbm_registry *r)
{
    if (r == NULL) return;
    size_t old = atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel);
    kvbm__assert(old != 0);
    if (old != 1) return;
    kvbm_tracker_release(r->tracker);
    r->tracker = NULL;
    registry_unpin(r);
}

/* ---- registration and lookup -------------------------------------------------------- */

/* +1 unless the handle is dying. Shard lock held (the object cannot be recycled). */
static inline bool try_upgrade(kvbm_handle *h)
{
    uint32_t c = atomic_load_explicit(&h->refs, memory_order_relaxed);
    while (c != 0)
        if (atomic_compare_exchange_weak_explicit(&h->refs, &c, c + 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    return false;
}

/* Handle objects come in slabs of KVBM__SLAB_N (one allocation: a 64-byte header line
 * linking the shard's slabs, then the objects, 64-byte aligned), so a growing registry
 * pays one allocation per KVBM__SLAB_N registrations instead of one aligned_alloc each.
 * Objects are never freed individually: a dead handle goes back to its shard's free list
 * and the slabs are freed with the registry, so a registry keeps the memory of its peak
 * number of live handles (192 B each) - or of what kvbm__registry_reserve asked for. Puts
 * the new objects on the free list (the first one on top, so pops go in address order);
 * false on ENOMEM (nothing changed). Lock held. */
static __attribute__((noinline, cold)) bool slab_refill(struct shard *sh)
{
    char *slab = kvbm__aligned_alloc(64, 64 + KVBM__SLAB_N * KVBM__HANDLE_SIZE);
    if (slab == NULL) return false;
    for (unsigned i = 0; i < KVBM__SLAB_N; i++) kvbm__handle_init_object(slab_object(slab, i));
    *(void **)(void *)slab = sh->slabs;
    sh->slabs = slab;
    sh->nobj += KVBM__SLAB_N;
    kvbm_handle *head = atomic_load_explicit(&sh->free_list, memory_order_relaxed);
    for (unsigned i = KVBM__SLAB_N; i-- > 0;) {
        kvbm_handle *o = slab_object(slab, i);
        o->next_free = head;
        head = o;
    }
    atomic_store_explicit(&sh->free_list, head, memory_order_relaxed);
    return true;
}

/* Pop a handle object (NULL on ENOMEM). Its entry is inserted in the same critical
 * section (the caller counts it). Lock held. */
static inline kvbm_handle *handle_alloc(struct shard *sh)
{
    kvbm_handle *h = atomic_load_explicit(&sh->free_list, memory_order_relaxed);
    if (KVBM_UNLIKELY(h == NULL)) {
        if (!slab_refill(sh)) return NULL;
        h = atomic_load_explicit(&sh->free_list, memory_order_relaxed);
    }
    atomic_store_explicit(&sh->free_list, h->next_free, memory_order_relaxed);
    return h;
}

/* Push the object of an entry tab_delete just removed (the free-list link overwrites
 * h->reg, its union twin). Returns true if the registry must be unpinned (after unlock):
 * that was the shard's last entry. Lock held. */
static bool handle_recycle(struct shard *sh, kvbm_handle *h)
{
    h->next_free = atomic_load_explicit(&sh->free_list, memory_order_relaxed);
    atomic_store_explicit(&sh->free_list, h, memory_order_relaxed);
    return shard_count(sh) == 0;
}

/* Call every observer of @mask with the new handle @h (shard lock held). Errors are not
 * fatal (spec 20 §2.2): returns the mask of the observers that failed and the status of
 * the first failure in *@st, for log_observer_failure() after the unlock. */
static __attribute__((noinline)) uint32_t notify_observers(kvbm_registry *r, kvbm_handle *h,
                                                           uint32_t mask, kvbm_status *st)
{
    uint32_t failed = 0;
    for (; mask != 0; mask &= mask - 1) {
        unsigned i = (unsigned)__builtin_ctz(mask);
        kvbm_status s = r->obs[i].fn(r->obs[i].ctx, h);
        if (s != KVBM_OK) {
            if (failed == 0) *st = s;
            failed |= 1u << i;
        }
    }
    return failed;
}

/* The warning for failed observers, no lock held. The names are read without the lock:
 * a slot's name only changes after its observer is removed, and removal waits for every
 * shard lock, which the failing registration held when it called the observer. The
 * detail is this thread's last error: a failing observer sets it (kvbm__set_error); it is
 * not cleared before each call, which would cost every registration a write. */
static __attribute__((noinline, cold)) void log_observer_failure(kvbm_registry *r, kvbm_plh hash,
                                                                 uint32_t failed, kvbm_status st)
{
    char hex[40];
    for (unsigned i = 0; i < KVBM_REGISTRY_MAX_OBSERVERS; i++)
        if (failed & (1u << i))
            kvbm__log(KVBM_LOG_WARN, "registry",
                      "observer '%s' failed for hash %s (registration kept): %s: %s",
                      r->obs[i].name, kvbm_plh_to_hex(hash, hex), kvbm_status_name(st),
                      kvbm_last_error());
}

kvbm_status kvbm_registry_add_observer(kvbm_registry *r, const kvbm_registry_observer *obs,
                                       uint32_t *id)
{
    if (r == NULL || obs == NULL || obs->on_registered == NULL || id == NULL) {
        kvbm__set_error("kvbm_registry_add_observer: %s is NULL",
                        r == NULL ? "registry" : obs == NULL ? "observer" :
                        obs->on_registered == NULL ? "observer->on_registered" : "id");
        return KVBM_EINVAL;
    }
    kvbm_status st = KVBM_EFULL;
    pthread_mutex_lock(&r->obs_lock);
    uint32_t mask = atomic_load_explicit(&r->obs_mask, memory_order_relaxed);
    for (unsigned i = 0; i < KVBM_REGISTRY_MAX_OBSERVERS; i++) {
        if (mask & (1u << i)) continue;
        r->obs[i].fn = obs->on_registered;
        r->obs[i].ctx = obs->ctx;
        snprintf(r->obs[i].name, sizeof r->obs[i].name, "%s",
                 obs->name != NULL ? obs->name : "observer");
        atomic_fetch_or_explicit(&r->obs_mask, 1u << i, memory_order_release);
        *id = i + 1;
        st = KVBM_OK;
        break;
    }
    pthread_mutex_unlock(&r->obs_lock);
    if (st != KVBM_OK)
        kvbm__set_error("kvbm_registry_add_observer: %u observers already attached (the maximum)",
                        (unsigned)KVBM_REGISTRY_MAX_OBSERVERS);
    return st;
}

kvbm_status kvbm_registry_remove_observer(kvbm_registry *r, uint32_t id)
{
    if (r == NULL) {
        kvbm__set_error("kvbm_registry_remove_observer: registry is NULL");
        return KVBM_EINVAL;
    }
    kvbm__rank_assert_none(); /* takes every shard lock */
    pthread_mutex_lock(&r->obs_lock);
    uint32_t bit = id >= 1 && id <= KVBM_REGISTRY_MAX_OBSERVERS ? 1u << (id - 1) : 0;
    bool found = bit != 0 && (atomic_load_explicit(&r->obs_mask, memory_order_relaxed) & bit);
    if (found) {
        atomic_fetch_and_explicit(&r->obs_mask, ~bit, memory_order_release);
        for (unsigned i = 0; i < KVBM__SHARDS; i++) { /* wait out calls in flight */
            kvbm__lock(&r->shards[i].lock);
            kvbm__unlock_fast(&r->shards[i].lock);
        }
    }
    pthread_mutex_unlock(&r->obs_lock);
    if (!found) {
        kvbm__set_error("kvbm_registry_remove_observer: no observer with id %u", (unsigned)id);
        return KVBM_ENOENT;
    }
    return KVBM_OK;
}

/* Presence +1 for @tier (!= KVBM__TIER_FREE) on a handle being created: the object is not
 * published yet (shard lock held, not in the table), so plain (relaxed) stores do what
 * kvbm__handle_mark_present's atomic RMW would. A recycled object has at most slot 0
 * claimed (with a count of 0, kvbm__handle_clear_presence): @tier takes slot 0 if it is
 * that slot's tier or the slot is free, else slot 1 (free), keeping claimed slots a prefix. */
static inline void handle_premark(kvbm_handle *h, kvbm_tier tier)
{
    struct kvbm__pslot *ps = &h->pres[0];
    uint64_t t0 = atomic_load_explicit(&ps->tier, memory_order_relaxed);
    if (t0 != tier) {
        if (t0 != KVBM__TIER_FREE) ps = &h->pres[1];
        atomic_store_explicit(&ps->tier, tier, memory_order_relaxed);
    }
    atomic_store_explicit(&ps->word, KVBM__PW_ONE | KVBM__PW_OP, memory_order_relaxed);
}

/* ---- the one-section death with a death hook ------------------------------------------
 * A last reference whose only extra is a registry observer's death hook (events: every
 * handle of a registry with an events manager) dies in ONE shard-lock section, like a
 * handle without extras: the hook runs under the shard lock (it only queues its work:
 * the events module appends Remove(h) to the thread's buffer), the entry is deleted and
 * the object recycled at once, and the queued work is flushed by the dying thread's
 * kvbm__defer_run() after its chunk, outside every lock. Between the section and that
 * flush the hash is already absent, so a registrar could create it again and flush its
 * Create first - a Remove delivered after a later Create of the same hash (binding
 * decision 6). Hence the dying thread claims, in the same section, a Remove-pending slot
 * of the shard holding the hash's key, and clears it (a release store, no lock) right
 * after its flush; a registrar that is about to create a handle (with or without
 * notifying observers: a transferred handle may be announced later by an explicit
 * kvbm_events_manager_on_registered) finds the claim under the shard lock (it missed the entry because the claimer deleted
 * it, in the section that also wrote the claim) and waits until it is cleared, exactly
 * as it waits for a dying entry in the general path. The wait is rare (the same hash
 * registered again within one eviction chunk's flush window) and bounded: the claimer
 * holds no lock and runs no user code until it clears (it flushes its claims before any
 * attachment destructor of the chunk runs). A shard whose slots are all claimed sends
 * the death through the general path. */

static inline uint64_t rm_key(uint64_t h64) { return h64 | 1u; }

/* A Remove-pending claim for @h64 is open in @sh (any thread: the lock is not needed,
 * but the registrar holds it so that a claim made before its lookup is seen). */
static inline bool rm_pending(struct shard *sh, uint64_t h64)
{
    _Static_assert(KVBM__RM_SLOTS == 3, "rm_pending and rm_claim unrolled for 3 slots");
    uint64_t p0 = atomic_load_explicit(&sh->rm_pend[0], memory_order_acquire);
    uint64_t p1 = atomic_load_explicit(&sh->rm_pend[1], memory_order_acquire);
    uint64_t p2 = atomic_load_explicit(&sh->rm_pend[2], memory_order_acquire);
    /* the usual case, every slot free (a registration of a registry with events: the
     * claims of a chunk are cleared right after it), costs one test instead of three
     * compares (session 14: -5.5 Ir per creation with events) */
    if ((p0 | p1 | p2) == 0) return false;
    uint64_t key = rm_key(h64);
    return ((int)(p0 == key) | (int)(p1 == key) | (int)(p2 == key)) != 0;
}

/* Wait, no lock held, until no claim for @h64 is open (its claimer flushes and clears
 * without any lock, running no user code in between). */
static __attribute__((noinline, cold)) void rm_wait(struct shard *sh, uint64_t h64)
{
    for (unsigned spins = 0; rm_pending(sh, h64); spins++) {
        if (spins < 64) __asm__ __volatile__("" ::: "memory");
        else sched_yield();
    }
}

/* Claim a free Remove-pending slot of @sh (of @r) for @h64: its address, or NULL if all
 * are taken. @r is marked as using claims already: the handle's death hook was claimed in
 * its registry (kvbm__registry_dhook_claim) before the handle carried it. Lock held. */
static inline _Atomic uint64_t *rm_claim(kvbm_registry *r, struct shard *sh, uint64_t h64)
{
    kvbm__assert(atomic_load_explicit(&r->rm_used, memory_order_relaxed));
    (void)r;
    _Atomic uint64_t *p = &sh->rm_pend[0];
    if (atomic_load_explicit(p, memory_order_relaxed) != 0) {
        p = &sh->rm_pend[1];
        if (atomic_load_explicit(p, memory_order_relaxed) != 0) {
            p = &sh->rm_pend[2];
            if (atomic_load_explicit(p, memory_order_relaxed) != 0) return NULL;
        }
    }
    atomic_store_explicit(p, rm_key(h64), memory_order_relaxed);
    return p;
}

/* The claims of one eviction chunk (its thread's). */
struct rm_claims {
    size_t            n;
    _Atomic uint64_t *slot[64];
};

/* Flush what the hooks queued (kvbm__defer_run: the Removes reach the ring), then clear
 * the claims: a registrar that sees a claim cleared (acquire) creates after the flush. */
static inline __attribute__((always_inline)) void rm_flush(struct rm_claims *cl)
{
    kvbm__defer_run();
    for (size_t k = 0; k < cl->n; k++) atomic_store_explicit(cl->slot[k], 0, memory_order_release);
    cl->n = 0;
}

/* Lookup-or-create without the frequency touch. Returns GOC_REUSED, GOC_CREATED (the
 * caller owes the creation touch when @notify) or GOC_ENOMEM. Inlined into its callers.
 * The PLH comes by address (@hp), never by value: a by-value kvbm_plh made GCC spill its
 * two registers to the stack and reload them as one vector for the stores into the new
 * handle - a store-forwarding stall (bench_registry "reuse" 45 -> 15 ns when it was found)
 * and, in the batched loop, four spill instructions per key. */
enum { GOC_ENOMEM = -1, GOC_REUSED = 0, GOC_CREATED = 1 }; /* (register_many counts on 0 / 1) */

/* The observers of @mask (!= 0) are told of the new handle @h, under its shard lock @sh,
 * which this releases; the failures are logged after the unlock. A branch of its own:
 * without observers (the replay, every manager without an events manager) a creation
 * only tests the mask, with no failure state to set up. */
static inline __attribute__((always_inline)) void notify_and_unlock(kvbm_registry *r, struct shard *sh,
                                                        kvbm_handle *h, uint32_t mask)
{
    if (KVBM_LIKELY((mask & (mask - 1)) == 0)) { /* one observer (the usual case) */
        /* its status in a register: no failure state in memory, no failed-mask select
         * (session 14: -2 Ir per creation with events) */
        const struct observer *o = &r->obs[__builtin_ctz(mask)];
        kvbm_status st = o->fn(o->ctx, h);
        kvbm__unlock_fast(&sh->lock);
        if (KVBM_UNLIKELY(st != KVBM_OK)) log_observer_failure(r, h->hash, mask, st);
        return;
    }
    kvbm_status fail_st = KVBM_OK;
    uint32_t failed = notify_observers(r, h, mask, &fail_st);
    kvbm__unlock_fast(&sh->lock);
    if (KVBM_UNLIKELY(failed != 0)) log_observer_failure(r, h->hash, failed, fail_st);
}

static inline __attribute__((always_inline)) int
get_or_create_h64(kvbm_registry *r, const kvbm_plh *hp, uint64_t h64, bool notify,
                  kvbm_tier premark, kvbm_handle **out)
{
    struct shard *sh = shard_of(r, h64);

    kvbm__lock(&sh->lock);
    size_t slot = 0; /* (set by every miss, the only way out of the loop to a creation) */
    uint32_t mask; /* the observers to notify of a creation */
    for (;;) {
        size_t i = tab_find_or_empty(sh, h64, *hp, &slot);
        if (i == SIZE_MAX) {
            mask = notify ? atomic_load_explicit(&r->obs_mask, memory_order_acquire) : 0;
            /* the previous registration died in one section and its Remove is not
             * flushed yet: no Create of ours - now from an observer, or later from an
             * explicit kvbm_events_manager_on_registered of a transferred handle - may
             * overtake it (binding decision 6) */
            if (KVBM_LIKELY(!atomic_load_explicit(&r->rm_used, memory_order_relaxed) ||
                            !rm_pending(sh, h64)))
                break;
            sh->waits++;
            kvbm__unlock_fast(&sh->lock);
            rm_wait(sh, h64);
            kvbm__lock(&sh->lock);
            continue;
        }
        kvbm_handle *h = sh->tab[i].h;
        if (try_upgrade(h)) { /* reuse: no hook, no touch */
            kvbm__unlock_fast(&sh->lock);
            *out = h;
            return GOC_REUSED;
        }
        /* dying: its destructors (Remove) must finish before a new Create */
        sh->waiters++;
        sh->waits++;
        kvbm__cond_wait(&sh->cond, &sh->lock);
        sh->waiters--;
    }

    kvbm_handle *h = NULL;
    /* One more entry would exceed the 1/2 load - no_table's one slot is full already, so
     * the capacity needs no test for a missing table (tab_cap's). */
    size_t count = shard_count(sh);
    bool grow = !tab_fits(count + 1, sh->mask + 1);
    kvbm__assert(grow == !tab_fits(count + 1, tab_cap(sh)));
    if ((grow && tab_grow(sh) != KVBM_OK) || (h = handle_alloc(sh)) == NULL) {
        kvbm__unlock_fast(&sh->lock);
        return GOC_ENOMEM;
    }
    atomic_store_explicit(&h->refs, 1, memory_order_relaxed);
    h->hash.hi = hp->hi;
    h->hash.lo = hp->lo;
    h->reg = r; /* overwrites next_free */
    if (premark != KVBM__TIER_FREE) handle_premark(h, premark);
    if (grow) {
        tab_put(sh->tab, sh->mask, h64, h); /* rehashed: probe the new table */
    } else {
        sh->tab[slot].h64 = h64;            /* the empty slot that ended the lookup */
        sh->tab[slot].h = h;
    }
    shard_count_set(sh, count + 1);
    if (count == 0) atomic_fetch_add_explicit(&r->pins, 1, memory_order_relaxed);
    if (KVBM_LIKELY(mask == 0)) kvbm__unlock_fast(&sh->lock);
    else notify_and_unlock(r, sh, h, mask);
    *out = h;
    return GOC_CREATED;
}

static inline __attribute__((always_inline)) int
get_or_create(kvbm_registry *r, kvbm_plh hash, bool notify, kvbm_handle **out)
{
    return get_or_create_h64(r, &hash, kvbm_plh_hash64(hash), notify, KVBM__TIER_FREE, out);
}

kvbm_status kvbm_registry_register(kvbm_registry *r, kvbm_plh h, kvbm_handle **out)
{
    if (r == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (r == NULL || out == NULL)", __func__);
    int g = get_or_create(r, h, true, out);
    if (g == GOC_ENOMEM) return KVBM_ENOMEM;
    if (g == GOC_CREATED) {
        kvbm__defer_run(); /* observers' deferred work (events: the Create broadcast) */
        if (r->tracker != NULL) kvbm_tracker_touch(r->tracker, h);
    }
    return KVBM_OK;
}

/* Creation touches are collected and applied with one kvbm__tracker_touch_apply per
 * REG_CHUNK creations (and at the end), after the shard locks are released. See
 * docs/design/registry.md ("Batched registration") for why this is equivalent. The sketch
 * cells of a TinyLFU tracker are the table hash itself (kvbm__tinylfu_key_hash of a PLH is
 * kvbm_plh_hash64), so the chunk's pass that computes the table hashes also prefetches
 * the sketch words: their misses resolve while the registry works instead of stalling
 * the increments, and no key is hashed twice. */
#define REG_CHUNK 64u

/* The chunk pass of a registration of @h64: prefetch its shard's home table slot, the
 * object a creation would pop (hints read without the lock) and its TinyLFU sketch word
 * (the table hash is the key hash: kvbm__tinylfu_key_hash of a PLH is kvbm_plh_hash64). */
static inline __attribute__((always_inline)) void register_prefetch(kvbm_registry *r, uint64_t h64)
{
    __builtin_prefetch(kvbm__sketch_word_in(r->sk_table, r->sk_words, h64), 1);
    struct shard *sh = shard_of(r, h64);
    tab_prefetch(sh, h64);
    /* (an empty list prefetches address 0: harmless, see tab_prefetch) */
    __builtin_prefetch(atomic_load_explicit(&sh->free_list, memory_order_relaxed), 1, 3);
}

/* The creation touches of a chunk's keys hashes[0..m) (cells h64s[0..m)): those with
 * cr[k] set, nc of them (> 0), in order - one kvbm__tracker_touch_apply. When every key
 * was created (the replay's case) and the tracker does not read keys, the chunk's own
 * cells are applied as they are, nothing copied. */
static inline __attribute__((always_inline)) void
register_touch(kvbm_tracker *t, bool keys, const kvbm_plh *hashes,
               const kvbm__touch_cells *h64s, const uint8_t *cr, size_t m, size_t nc)
{
    if (nc == m && !keys) {
        kvbm__tracker_touch_apply(t, NULL, h64s, m);
        return;
    }
    kvbm_plh pending[REG_CHUNK];       /* created keys (read by custom trackers only: @keys) */
    kvbm__touch_cells cells[REG_CHUNK]; /* their cells */
    size_t np = 0;
    for (size_t k = 0; k < m; k++) {
        if (!cr[k]) continue;
        if (keys) pending[np] = hashes[k];
        cells[np++] = h64s[k];
    }
    kvbm__tracker_touch_apply(t, pending, cells, np);
}

static inline __attribute__((always_inline)) kvbm_status
register_many(kvbm_registry *r, const kvbm_plh *hashes, const uint64_t *h64_in, size_t n,
              kvbm_tier premark, kvbm_handle **out, uint8_t *created)
{
    kvbm_tracker *t = r->tracker;
    const bool keys = r->tracker_keys;
    kvbm__touch_cells h64s[REG_CHUNK]; /* table hash = TinyLFU cells of the chunk's keys */
    uint8_t cr_own[REG_CHUNK];         /* the chunk's creations when the caller wants none */
    size_t i = 0;
    kvbm_status st = KVBM_OK;
    while (i < n) {
        /* Per chunk: compute the table hashes and prefetch the shards' home slots, the
         * objects a creation would pop and the sketch words up front, so that the chunk's
         * misses overlap (the shard locks taken below otherwise serialise them). */
        size_t m = n - i < REG_CHUNK ? n - i : REG_CHUNK;
        if (h64_in != NULL) { /* (two loops: the test is not made per key) */
            for (size_t k = 0; k < m; k++) {
                kvbm__assert(h64_in[i + k] == kvbm_plh_hash64(hashes[i + k]));
                register_prefetch(r, h64s[k].h = h64_in[i + k]);
            }
        } else {
            for (size_t k = 0; k < m; k++) register_prefetch(r, h64s[k].h = kvbm_plh_hash64(hashes[i + k]));
        }
        /* the chunk's creation flags (the caller's created[] or our own) and their count:
         * the touches are sorted out after the chunk, not per key */
        uint8_t *cr = created != NULL ? created + i : cr_own;
        const kvbm_plh *hc = hashes + i;
        size_t nc = 0, k = 0;
        for (; k < m; k++) {
            int g = get_or_create_h64(r, &hc[k], h64s[k].h, true, premark, &out[i + k]);
            if (KVBM_UNLIKELY(g == GOC_ENOMEM)) {
                st = KVBM_ENOMEM;
                break;
            }
            cr[k] = (uint8_t)g; /* GOC_CREATED == 1, GOC_REUSED == 0 */
            nc += (size_t)g;
        }
        if (t != NULL && nc > 0) register_touch(t, keys, hc, h64s, cr, k, nc);
        i += k;
        if (KVBM_UNLIKELY(st != KVBM_OK)) break;
    }
    kvbm__defer_run(); /* observers' deferred work (events: the Create broadcasts) */
    if (st != KVBM_OK) { /* all or nothing: give back what this call obtained */
        for (size_t k = 0; k < i; k++) {
            /* a premark is undone (another thread may have found the handle meanwhile) */
            if (created != NULL && created[k]) kvbm__handle_mark_absent(out[k], premark);
            kvbm_handle_release(out[k]);
            out[k] = NULL;
            if (created != NULL) created[k] = 0;
        }
        out[i] = NULL;
        if (created != NULL) created[i] = 0;
    }
    return st;
}

kvbm_status kvbm_registry_register_many(kvbm_registry *r, const kvbm_plh *hashes, size_t n,
                                        kvbm_handle **out)
{
    if (r == NULL || (n > 0 && (hashes == NULL || out == NULL)))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (r == NULL || (n > 0 && (hashes == NULL || out == NULL)))", __func__);
    return register_many(r, hashes, NULL, n, KVBM__TIER_FREE, out, NULL);
}

kvbm_status kvbm__registry_register_many_present(kvbm_registry *r, const kvbm_plh *hashes,
                                                 const uint64_t *h64s, size_t n, kvbm_tier tier,
                                                 kvbm_handle **out, uint8_t *created)
{
    if (r == NULL || (n > 0 && (hashes == NULL || out == NULL || created == NULL)))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (NULL registry or array)", __func__);
    if (tier == KVBM__TIER_FREE) { /* not an inline tier: no premark, the caller marks */
        kvbm_status st = register_many(r, hashes, h64s, n, KVBM__TIER_FREE, out, NULL);
        for (size_t i = 0; i < n; i++) created[i] = 0;
        return st;
    }
    return register_many(r, hashes, h64s, n, tier, out, created);
}

kvbm_status kvbm_registry_transfer(kvbm_registry *r, kvbm_plh h, kvbm_handle **out)
{
    if (r == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (r == NULL || out == NULL)", __func__);
    return get_or_create(r, h, false, out) == GOC_ENOMEM ? KVBM_ENOMEM : KVBM_OK;
}

kvbm_status kvbm_registry_match(kvbm_registry *r, kvbm_plh hash, bool touch, kvbm_handle **out)
{
    if (r == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (r == NULL || out == NULL)", __func__);
    uint64_t h64 = kvbm_plh_hash64(hash);
    struct shard *sh = shard_of(r, h64);
    kvbm_handle *found = NULL;

    kvbm__lock(&sh->lock);
    size_t i = tab_find(sh, h64, hash);
    if (i != SIZE_MAX && try_upgrade(sh->tab[i].h)) found = sh->tab[i].h;
    kvbm__unlock_fast(&sh->lock);

    if (found == NULL)
        return KVBM_FAIL(KVBM_ENOENT, "%s: not found (found == NULL)", __func__);
    if (touch && r->tracker != NULL) kvbm_tracker_touch(r->tracker, hash);
    *out = found;
    return KVBM_OK;
}

bool kvbm_registry_is_registered(kvbm_registry *r, kvbm_plh hash)
{
    if (r == NULL) return false;
    uint64_t h64 = kvbm_plh_hash64(hash);
    struct shard *sh = shard_of(r, h64);
    kvbm__lock(&sh->lock);
    size_t i = tab_find(sh, h64, hash);
    bool live = i != SIZE_MAX && atomic_load_explicit(&sh->tab[i].h->refs, memory_order_relaxed) > 0;
    kvbm__unlock_fast(&sh->lock);
    return live;
}

size_t kvbm_registry_registered_count(kvbm_registry *r)
{
    if (r == NULL) return 0;
    size_t n = 0;
    for (unsigned i = 0; i < KVBM__SHARDS; i++)
        n += shard_count(&r->shards[i]);
    return n;
}

size_t kvbm__registry_waiters(kvbm_registry *r, kvbm_plh h)
{
    struct shard *sh = shard_of(r, kvbm_plh_hash64(h));
    kvbm__lock(&sh->lock);
    size_t n = sh->waiters;
    kvbm__unlock_fast(&sh->lock);
    return n;
}

/* The sum over the shards of the uint64_t diagnostics counter at @off in struct shard,
 * each read under its shard lock. */
static uint64_t shard_counter_sum(kvbm_registry *r, size_t off)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < KVBM__SHARDS; i++) {
        kvbm__lock(&r->shards[i].lock);
        n += *(const uint64_t *)(const void *)((const char *)&r->shards[i] + off);
        kvbm__unlock_fast(&r->shards[i].lock);
    }
    return n;
}

uint64_t kvbm__registry_dying_waits(kvbm_registry *r)
{
    return shard_counter_sum(r, offsetof(struct shard, waits));
}

uint64_t kvbm__registry_table_grows(kvbm_registry *r)
{
    return shard_counter_sum(r, offsetof(struct shard, grows));
}

size_t kvbm__registry_table_slots_min(kvbm_registry *r)
{
    size_t m = SIZE_MAX;
    for (unsigned i = 0; i < KVBM__SHARDS; i++) {
        kvbm__lock(&r->shards[i].lock);
        size_t c = tab_cap(&r->shards[i]);
        kvbm__unlock_fast(&r->shards[i].lock);
        if (c < m) m = c;
    }
    return m;
}

bool kvbm_registry_has_frequency_tracking(kvbm_registry *r) { return r != NULL && r->tracker != NULL; }

kvbm_tracker *kvbm_registry_tracker(kvbm_registry *r) { return r != NULL ? r->tracker : NULL; }

void kvbm_registry_touch(kvbm_registry *r, kvbm_plh h)
{
    if (r != NULL && r->tracker != NULL) kvbm_tracker_touch(r->tracker, h);
}

uint32_t kvbm_registry_count(kvbm_registry *r, kvbm_plh h)
{
    return r != NULL && r->tracker != NULL ? kvbm_tracker_count(r->tracker, h) : 0;
}

/* Presence of one hash: shard lock, then the handle's lock (rank order). A dying handle
 * is absent. Holding the shard lock keeps the object from being recycled. */
static bool presence_one(kvbm_registry *r, kvbm_plh hash, const kvbm_tier *tiers, size_t nt)
{
    uint64_t h64 = kvbm_plh_hash64(hash);
    struct shard *sh = shard_of(r, h64);
    bool present = false;
    kvbm__lock(&sh->lock);
    size_t i = tab_find(sh, h64, hash);
    if (i != SIZE_MAX) {
        kvbm_handle *h = sh->tab[i].h;
        if (atomic_load_explicit(&h->refs, memory_order_relaxed) > 0)
            present = kvbm_handle_has_any_block(h, tiers, nt);
    }
    kvbm__unlock_fast(&sh->lock);
    return present;
}

kvbm_status kvbm_registry_check_presence(kvbm_registry *r, kvbm_tier tier,
                                         const kvbm_plh *hashes, size_t n, bool *out)
{
    if (r == NULL || (n > 0 && (hashes == NULL || out == NULL)))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (r == NULL || (n > 0 && (hashes == NULL || out == NULL)))", __func__);
    for (size_t i = 0; i < n; i++) out[i] = presence_one(r, hashes[i], &tier, 1);
    return KVBM_OK;
}

kvbm_status kvbm_registry_check_presence_any(kvbm_registry *r, const kvbm_plh *hashes,
                                             size_t n, const kvbm_tier *tiers,
                                             size_t ntiers, bool *out)
{
    if (r == NULL || (n > 0 && (hashes == NULL || out == NULL)) || (ntiers > 0 && tiers == NULL))
        return KVBM_FAIL(KVBM_EINVAL, "%s: NULL registry or array", __func__);
    for (size_t i = 0; i < n; i++) out[i] = presence_one(r, hashes[i], tiers, ntiers);
    return KVBM_OK;
}

/* ---- handle references -------------------------------------------------------------- */

kvbm_handle *kvbm_handle_clone(kvbm_handle *h)
{
    if (h != NULL) {
        uint32_t old = atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
        kvbm__assert(old != 0); /* cloning requires holding a reference */
        (void)old;
    }
    return h;
}

/* The last reference is gone: we own the object; the entry stays (dying) until the
 * destructors have run, so a re-registration of the hash cannot emit Create before our
 * Remove. Split in two so that the batched release can run the destructors of a chunk,
 * flush what they deferred (kvbm__defer_run: the events module batches its Removes) and
 * only then remove the entries: every deferred Remove is broadcast before its entry goes. */
static inline __attribute__((always_inline)) void handle_remove_entry(kvbm_handle *h, uint64_t h64)
{
    kvbm_registry *r = h->reg;
    struct shard *sh = shard_of(r, h64);
    kvbm__lock(&sh->lock);
    bool found = tab_remove_ptr(sh, h64, h);
    kvbm__assert(found);
    (void)found;
    bool unpin = handle_recycle(sh, h); /* (its link replaces h->reg) */
    if (sh->waiters > 0) kvbm__cond_broadcast(&sh->cond);
    kvbm__unlock_fast(&sh->lock);

    if (unpin) registry_unpin(r);
}

static inline __attribute__((always_inline)) void handle_die_h64(kvbm_handle *h, uint64_t h64)
{
    kvbm__handle_finalize_fast(h);
    kvbm__defer_run();
    handle_remove_entry(h, h64);
}

static void handle_die(kvbm_handle *h)
{
    handle_die_h64(h, kvbm_plh_hash64(h->hash));
}

void kvbm_handle_release(kvbm_handle *h)
{
    if (h == NULL) return;
    uint32_t old = atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel);
    kvbm__assert(old != 0); /* released more often than acquired */
    if (old == 1) handle_die(h);
}

/* mark_absent + release of one handle, up to (not including) its finalisation: returns
 * true if this released the last reference (the caller then owns the dying handle and
 * owes kvbm__handle_finalize_fast and handle_remove_entry). If ours is the only reference
 * (the usual case for an evicted block: its slot held the last one), refs goes 1 -> 0
 * first and the presence decrement is folded into the death, which clears the presence
 * slots anyway: a saved atomic RMW. Nobody can tell the difference - from the instant
 * refs is 0 the handle is absent for every lookup and no other holder exists to read its
 * presence - so this is the sequential pair executed at the instant of the release. */
static inline bool absent_release_begin(kvbm_handle *h, kvbm_tier tier)
{
    uint32_t one = 1;
    if (atomic_compare_exchange_strong_explicit(&h->refs, &one, 0, memory_order_acq_rel,
                                                memory_order_relaxed)) {
        kvbm__assert(kvbm_handle_presence(h, tier) > 0); /* same check as mark_absent */
        return true;
    }
    kvbm__handle_mark_absent(h, tier);
    uint32_t old = atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel);
    kvbm__assert(old != 0);
    return old == 1;
}

/* mark_absent + release of handle @h of registry @r when ours is the last reference and the
 * handle has no extras (flags == 0: no attachment, callback, overflow presence or death
 * hook, so no destructor to run) - or, given @cl, no extra but a death hook (see "the
 * one-section death with a death hook"): the whole death in ONE shard-lock section, with
 * a plain store of refs 1 -> 0 instead of the CAS - one locked instruction fewer per
 * evicted block. Under the shard lock nobody can take a new reference (lookups upgrade
 * under it, a clone needs a reference, and refs == 1 is ours), so the handle goes from
 * live to removed without ever being visible as dying: no registrar waits for it, no
 * broadcast. The acquire load of refs orders every earlier holder's writes (flags)
 * before our read, as the CAS did. Returns false, having changed nothing, if the handle
 * does not qualify (then the caller takes the general path). @cl NULL: @r is only known
 * to be pinned by @h's entry, which this death may drop, so no claim may outlive the
 * section; a registry with an observer (whose handles carry a death hook) then skips the
 * lock at once rather than take it to find flags != 0. */
static inline __attribute__((always_inline)) bool
absent_release_fast(kvbm_registry *r, kvbm_handle *h, uint64_t h64, kvbm_tier tier,
                    struct rm_claims *cl)
{
    /* unlocked pre-checks (hints, on lines already in flight): a shared handle skips the
     * lock */
    if (atomic_load_explicit(&h->refs, memory_order_relaxed) != 1 ||
        (cl == NULL && atomic_load_explicit(&r->obs_mask, memory_order_relaxed) != 0))
        return false;
    struct shard *sh = shard_of(r, h64);
    kvbm__lock(&sh->lock);
    if (KVBM_UNLIKELY(atomic_load_explicit(&h->refs, memory_order_acquire) != 1)) {
        kvbm__unlock_fast(&sh->lock);
        return false;
    }
    _Atomic uint64_t *claim = NULL;
    uint32_t f = h->flags;
    if (f != 0 && ((f & KVBM__HF_EXTRAS) != KVBM__HF_DEATH || cl == NULL ||
                   (claim = rm_claim(r, sh, h64)) == NULL)) {
        kvbm__unlock_fast(&sh->lock);
        return false;
    }
    kvbm__assert(kvbm_handle_presence(h, tier) > 0); /* same check as mark_absent */
    (void)tier;
    atomic_store_explicit(&h->refs, 0, memory_order_relaxed);
    if (claim != NULL) { /* the hook queues its work (Remove) for our rm_flush */
        struct kvbm__death_hook *d = kvbm__handle_death(h);
        h->flags = 0;
        d->fn(d, h->hash);
        cl->slot[cl->n++] = claim;
    }
    kvbm__handle_clear_presence(h);
    bool found = tab_remove_ptr(sh, h64, h);
    kvbm__assert(found);
    (void)found;
    bool unpin = handle_recycle(sh, h); /* (its link replaces h->reg) */
    kvbm__unlock_fast(&sh->lock);
    /* with @cl, the caller's reference keeps @r (and the claims) alive: unpinning the
     * shard cannot free it */
    if (KVBM_UNLIKELY(unpin)) registry_unpin(r);
    return true;
}

#define ABSENT_PF_CHUNK 64u
_Static_assert(ABSENT_PF_CHUNK <= sizeof ((struct rm_claims *)0)->slot / sizeof(void *),
               "a claim per death of a chunk");

/* The releases of a chunk of c <= ABSENT_PF_CHUNK handles (of registry @r, which the
 * caller keeps alive; NULL: each of its own) whose lines and home table slots are being
 * prefetched: the last references of handles without extras (and, given @r, of handles
 * whose only extra is a death hook) die at once (absent_release_fast); for the others,
 * the destructors of every handle dying in the chunk, one kvbm__defer_run() for what they
 * and the one-section deaths' hooks deferred, then the claims cleared and the entry
 * removals. The claims are flushed before any destructor that may run user code (an
 * attachment or touch callback): user code may register a hash this thread claimed. */
static inline __attribute__((always_inline)) void
absent_release_chunk(kvbm_registry *r, kvbm_handle *const *hs, const uint64_t *h64s, size_t c,
                     kvbm_tier tier)
{
    uint8_t dying[ABSENT_PF_CHUNK];
    size_t nd = 0;
    struct rm_claims cl;
    cl.n = 0;
    for (size_t k = 0; k < c; k++) {
        kvbm_handle *h = hs[k];
        if (absent_release_fast(r != NULL ? r : h->reg, h, h64s[k], tier, r != NULL ? &cl : NULL) ||
            !absent_release_begin(h, tier))
            continue;
        if (cl.n > 0 && (h->flags & (KVBM__HF_ATT | KVBM__HF_CB))) rm_flush(&cl);
        kvbm__handle_finalize_fast(h);
        dying[nd++] = (uint8_t)k;
    }
    rm_flush(&cl);
    for (size_t d = 0; d < nd; d++) handle_remove_entry(hs[dying[d]], h64s[dying[d]]);
}
/* Two passes per chunk before the releases, none of which holds a lock: prefetch every
 * handle's first line; compute each hash64 (the handle lines arrive in parallel) and
 * prefetch its shard's home table slot. The shard lock pairs of the deaths are full
 * barriers that would otherwise serialise the table misses. The h64 of a handle is a
 * function of its immutable PLH, so computing it early is exact. */
void kvbm__handle_mark_absent_release_many(kvbm_handle *const *hs, size_t n, kvbm_tier tier)
{
    uint64_t h64s[ABSENT_PF_CHUNK];
    for (size_t i = 0; i < n; i += ABSENT_PF_CHUNK) {
        size_t c = n - i < ABSENT_PF_CHUNK ? n - i : ABSENT_PF_CHUNK;
        for (size_t k = 0; k < c; k++) __builtin_prefetch(hs[i + k], 1);
        for (size_t k = 0; k < c; k++) {
            kvbm_handle *h = hs[i + k];
            h64s[k] = kvbm_plh_hash64(h->hash);
            tab_prefetch(shard_of(h->reg, h64s[k]), h64s[k]);
        }
        absent_release_chunk(NULL, hs + i, h64s, c, tier);
    }
}

/* The same with the hashes given: the table slots are prefetched together with the
 * handle lines instead of after them (the address no longer depends on the handle's
 * miss), so an eviction's two cold lines overlap. */
void kvbm__handle_mark_absent_release_many_h64(kvbm_registry *r, kvbm_handle *const *hs,
                                               const uint64_t *h64s, size_t n, kvbm_tier tier)
{
    if (KVBM_UNLIKELY(r == NULL)) { /* (a contract breach: each handle's own registry) */
        kvbm__handle_mark_absent_release_many(hs, n, tier);
        return;
    }
    for (size_t i = 0; i < n; i += ABSENT_PF_CHUNK) {
        size_t c = n - i < ABSENT_PF_CHUNK ? n - i : ABSENT_PF_CHUNK;
        for (size_t k = 0; k < c; k++) {
            __builtin_prefetch(hs[i + k], 1);
            tab_prefetch(shard_of(r, h64s[i + k]), h64s[i + k]);
        }
#if KVBM_DEBUG >= 1
        for (size_t k = 0; k < c; k++)
            kvbm__assert(hs[i + k]->reg == r && h64s[i + k] == kvbm_plh_hash64(hs[i + k]->hash));
#endif
        absent_release_chunk(r, hs + i, h64s + i, c, tier);
    }
}

void kvbm__handle_release_many(kvbm_handle *const *hs, size_t n)
{
    for (size_t i = 0; i < n; i++) __builtin_prefetch(hs[i], 1);
    for (size_t i = 0; i < n; i++) kvbm_handle_release(hs[i]);
}

kvbm_plh kvbm_handle_seq_hash(const kvbm_handle *h)
{
    kvbm_plh zero = { 0, 0 };
    return h != NULL ? h->hash : zero;
}

bool kvbm_handle_is_from_registry(const kvbm_handle *h, const kvbm_registry *r)
{
    return h != NULL && r != NULL && h->reg == r &&
           atomic_load_explicit(&((kvbm_registry *)r)->refs, memory_order_relaxed) > 0;
}

void kvbm_registry_touch_many(kvbm_registry *r, const kvbm_plh *hashes, size_t n)
{
    if (r != NULL && r->tracker != NULL) kvbm_tracker_touch_many(r->tracker, hashes, n);
}
