/* src/registry/handle.c - per-handle state: presence markers, touch callbacks, attachments.
 *
 * Attachments, callbacks and overflow presence are guarded by the handle's own mutex (rank
 * KVBM_RANK_ATTACH), which may be taken under a registry shard lock and never under a store
 * lock; the inline presence slots are lock-free. Per-handle state is small and lives in
 * arrays recycled with the handle object: in steady state neither presence updates nor a
 * unique attachment allocate.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"

/* ---- object lifetime ---------------------------------------------------------------- */

static void pres_clear_inline(kvbm_handle *h)
{
    for (unsigned i = 0; i < KVBM__PRESENCE_INLINE; i++) {
        atomic_store_explicit(&h->pres[i].tier, KVBM__TIER_FREE, memory_order_relaxed);
        atomic_store_explicit(&h->pres[i].word, 0, memory_order_relaxed);
    }
}

void kvbm__handle_init_object(kvbm_handle *h)
{
    memset(h, 0, sizeof *h);
    pres_clear_inline(h);
    kvbm__mutex_init(&h->lock, KVBM_RANK_ATTACH);
}

void kvbm__handle_fini_object(kvbm_handle *h)
{
    kvbm__free(h->over);
    kvbm__free(h->att);
    kvbm__mutex_destroy(&h->lock);
}

void kvbm__handle_finalize(kvbm_handle *h)
{
    /* refs == 0: no holder can reach the attachments or callbacks any more, so the
     * destructors run without any lock (spec 20 §2.3 step 3). The dying thread's
     * acq_rel decrement of refs ordered every holder's writes (flags included) before
     * this point. */
    uint32_t flags = h->flags;
    if (flags & KVBM__HF_DEATH) {
        struct kvbm__death_hook *d = kvbm__handle_death(h);
        d->fn(d, h->hash);
    }
    if (flags & KVBM__HF_ATT) {
        for (uint32_t i = 0; i < h->natt; i++) {
            struct kvbm__att *a = &h->att[i];
            if (a->mode == KVBM__ATT_UNIQUE) {
                kvbm__att_dtor_run(&a->dtor, a->unique, h->hash);
            } else {
                for (size_t k = 0; k < a->n; k++) kvbm__att_dtor_run(&a->dtor, a->vals[k], h->hash);
                kvbm__free(a->vals);
            }
        }
        h->natt = 0;
    }
    if (flags & KVBM__HF_CB) {
        struct kvbm__touch_cb *cb = h->cb_head;
        while (cb != NULL) {
            struct kvbm__touch_cb *next = cb->next;
            kvbm__free(cb);
            cb = next;
        }
        h->cb_head = h->cb_tail = NULL;
        h->ncb = 0;
    }
    if (flags & KVBM__HF_OVER) {
        /* presence may still be read by check_presence (shard lock + this lock) */
        kvbm__lock(&h->lock);
        atomic_store_explicit(&h->nover, 0, memory_order_relaxed);
        kvbm__unlock(&h->lock);
    }
    h->flags = 0;
    kvbm__handle_clear_presence(h);
}

/* ---- presence -----------------------------------------------------------------------
 *
 * Inline slots (the first KVBM__PRESENCE_INLINE tiers of a handle's life) are lock-free:
 * a marker finds its tier's slot or CASes the tier into the first free one, then updates
 * the slot word with one RMW. A count of 0 is the same as no entry (the reference deletes
 * the entry at 0; nothing can tell the difference). Tiers beyond the inline slots, and
 * the reserved value KVBM__TIER_FREE, live in a heap array under the handle lock; readers
 * look at it only when `nover` says it is in use.
 *
 * Every operation on one count is linearizable (one atomic word). has_any_block() over
 * several tiers must be too: a `true` is justified by the one count it read > 0; a
 * `false` needs all counts at zero at one instant, which it proves by a double collect
 * - the modification counters in the slot words are identical in two consecutive reads,
 * so no count changed in between (overflow tiers are read under the lock in between). */

/* The inline paths take no lock, but the lock-order rules still apply to them (never
 * under a store lock, never from an accessor callback of the same handle - a later
 * overflow tier would take the lock): debug builds check the rank as if they did. */
static inline void pres_rank_check(void)
{
    kvbm__rank_acquire(KVBM_RANK_ATTACH);
    kvbm__rank_release(KVBM_RANK_ATTACH);
}

#define PW_ONE KVBM__PW_ONE
#define PW_OP  KVBM__PW_OP
#define PW_COUNT(w) ((uint32_t)(w))

/* The slot of @tier, or NULL if it is not inline (then: overflow or absent). With @claim,
 * claims the first free slot for it. @tier != KVBM__TIER_FREE. */
static inline struct kvbm__pslot *pres_slot(kvbm_handle *h, kvbm_tier tier, bool claim)
{
    for (unsigned i = 0; i < KVBM__PRESENCE_INLINE; i++) {
        struct kvbm__pslot *ps = &h->pres[i];
        uint64_t t = atomic_load_explicit(&ps->tier, memory_order_acquire);
        if (t == tier) return ps;
        if (t != KVBM__TIER_FREE) continue;
        if (!claim) return NULL; /* claimed slots are a prefix: not inline */
        if (atomic_compare_exchange_strong_explicit(&ps->tier, &t, tier, memory_order_acq_rel,
                                                    memory_order_acquire))
            return ps;
        if (t == tier) return ps; /* a concurrent marker of the same tier won */
    }
    return NULL;
}

static struct kvbm__presence *over_find(kvbm_handle *h, kvbm_tier tier)
{
    uint32_t n = atomic_load_explicit(&h->nover, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++)
        if (h->over[i].tier == tier) return &h->over[i];
    return NULL;
}

static void over_present(kvbm_handle *h, kvbm_tier tier)
{
    kvbm__lock(&h->lock);
    struct kvbm__presence *p = over_find(h, tier);
    if (p != NULL) {
        p->count++;
    } else {
        uint32_t n = atomic_load_explicit(&h->nover, memory_order_relaxed);
        if (n == h->capover) {
            uint32_t ncap = h->capover ? h->capover * 2 : 4;
            struct kvbm__presence *np = kvbm__realloc(h->over, ncap * sizeof *np);
            if (np == NULL) {
                /* cannot record the marker; presence is a shadow, so losing it degrades
                 * has_block() to false for this tier, never corrupts the store */
                kvbm__unlock(&h->lock);
                kvbm__assert(!"presence allocation failed");
                return;
            }
            h->over = np;
            h->capover = ncap;
        }
        h->over[n].tier = tier;
        h->over[n].count = 1;
        atomic_store_explicit(&h->nover, n + 1, memory_order_release);
        h->flags |= KVBM__HF_OVER;
    }
    kvbm__unlock(&h->lock);
}

/* Returns false if the entry is missing or zero. */
static bool over_absent(kvbm_handle *h, kvbm_tier tier)
{
    if (atomic_load_explicit(&h->nover, memory_order_acquire) == 0) return false;
    kvbm__lock(&h->lock);
    struct kvbm__presence *p = over_find(h, tier);
    bool ok = p != NULL && p->count > 0;
    if (ok && --p->count == 0) {
        uint32_t n = atomic_load_explicit(&h->nover, memory_order_relaxed);
        *p = h->over[n - 1]; /* unordered: swap-remove */
        atomic_store_explicit(&h->nover, n - 1, memory_order_release);
    }
    kvbm__unlock(&h->lock);
    return ok;
}

static uint32_t over_count(kvbm_handle *h, kvbm_tier tier)
{
    if (atomic_load_explicit(&h->nover, memory_order_acquire) == 0) return 0;
    kvbm__lock(&h->lock);
    struct kvbm__presence *p = over_find(h, tier);
    uint32_t c = p != NULL ? p->count : 0;
    kvbm__unlock(&h->lock);
    return c;
}

void kvbm__handle_mark_present(kvbm_handle *h, kvbm_tier tier)
{
    kvbm__assert(h != NULL);
    pres_rank_check();
    struct kvbm__pslot *ps = tier != KVBM__TIER_FREE ? pres_slot(h, tier, true) : NULL;
    if (KVBM_LIKELY(ps != NULL)) {
        uint64_t old = atomic_fetch_add_explicit(&ps->word, PW_ONE | PW_OP, memory_order_acq_rel);
        kvbm__assert(PW_COUNT(old) != UINT32_MAX); /* the count would wrap */
        (void)old;
        return;
    }
    over_present(h, tier);
}

void kvbm__handle_mark_absent(kvbm_handle *h, kvbm_tier tier)
{
    kvbm__assert(h != NULL);
    pres_rank_check();
    bool missing;
    struct kvbm__pslot *ps = tier != KVBM__TIER_FREE ? pres_slot(h, tier, false) : NULL;
    if (KVBM_LIKELY(ps != NULL)) {
        uint64_t w = atomic_load_explicit(&ps->word, memory_order_relaxed);
        for (;;) {
            missing = PW_COUNT(w) == 0;
            if (missing) break;
            /* count - 1, modifications + 1 (no borrow: the count is > 0) */
            if (atomic_compare_exchange_weak_explicit(&ps->word, &w, w - PW_ONE + PW_OP,
                                                      memory_order_acq_rel, memory_order_relaxed))
                break;
        }
    } else {
        missing = !over_absent(h, tier);
    }
    kvbm__assert(!missing);
    (void)missing;
}

bool kvbm_handle_has_block(kvbm_handle *h, kvbm_tier tier)
{
    return kvbm_handle_presence(h, tier) > 0;
}

uint32_t kvbm_handle_presence(kvbm_handle *h, kvbm_tier tier)
{
    if (h == NULL) return 0;
    pres_rank_check();
    struct kvbm__pslot *ps = tier != KVBM__TIER_FREE ? pres_slot(h, tier, false) : NULL;
    if (ps != NULL) return PW_COUNT(atomic_load_explicit(&ps->word, memory_order_acquire));
    return over_count(h, tier);
}

/* One collect over the inline slots of @tiers: true if a count > 0 was seen; *sum gets
 * the sum of the slot words seen (all counts zero: the modification counters). */
static bool collect_inline(kvbm_handle *h, const kvbm_tier *tiers, size_t n, uint64_t *sum,
                           bool *need_over)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        struct kvbm__pslot *ps = tiers[i] != KVBM__TIER_FREE ? pres_slot(h, tiers[i], false) : NULL;
        if (ps == NULL) {
            *need_over = true;
            continue;
        }
        uint64_t w = atomic_load_explicit(&ps->word, memory_order_acquire);
        if (PW_COUNT(w) > 0) return true;
        acc += w;
    }
    *sum = acc;
    return false;
}

bool kvbm_handle_has_any_block(kvbm_handle *h, const kvbm_tier *tiers, size_t n)
{
    if (h == NULL || (tiers == NULL && n > 0)) return false;
    pres_rank_check();
    for (;;) {
        uint64_t s1 = 0, s2 = 0;
        bool need_over = false;
        if (collect_inline(h, tiers, n, &s1, &need_over)) return true;
        bool locked = need_over && atomic_load_explicit(&h->nover, memory_order_acquire) > 0;
        if (locked) {
            kvbm__lock(&h->lock);
            bool any = false;
            for (size_t i = 0; i < n && !any; i++) {
                struct kvbm__presence *p = over_find(h, tiers[i]);
                any = p != NULL && p->count > 0;
            }
            if (any) {
                kvbm__unlock(&h->lock);
                return true;
            }
        }
        /* one tier and no overflow: the single read is the linearisation point */
        if (n <= 1 && !locked) return false;
        bool pos = collect_inline(h, tiers, n, &s2, &need_over);
        if (locked) kvbm__unlock(&h->lock);
        if (pos) return true;
        if (s1 == s2) return false; /* nothing changed between the collects */
    }
}

/* ---- touch callbacks ---------------------------------------------------------------- */

kvbm_status kvbm_handle_on_touch(kvbm_handle *h, kvbm_touch_fn fn, void *ctx)
{
    if (h == NULL || fn == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (h == NULL || fn == NULL)", __func__);
    struct kvbm__touch_cb *cb = kvbm__malloc(sizeof *cb);
    if (cb == NULL) return KVBM_ENOMEM;
    cb->fn = fn;
    cb->ctx = ctx;
    cb->next = NULL;
    kvbm__lock(&h->lock);
    if (h->cb_tail != NULL) h->cb_tail->next = cb;
    else h->cb_head = cb;
    h->flags |= KVBM__HF_CB;
    h->cb_tail = cb;
    h->ncb++;
    kvbm__unlock(&h->lock);
    return KVBM_OK;
}

void kvbm_handle_touch(kvbm_handle *h)
{
    if (h == NULL) return;
    kvbm__lock(&h->lock);
    struct kvbm__touch_cb *cb = h->cb_head;
    size_t n = h->ncb;
    kvbm__unlock(&h->lock);
    /* no lock held: callbacks may call back into kvbm, including on_touch on @h (a
     * callback appended now fires from the next touch on) */
    for (size_t i = 0; i < n; i++) {
        struct kvbm__touch_cb *next = i + 1 < n ? cb->next : NULL; /* never read the tail's
                                                                     link: an append may be
                                                                     writing it */
        cb->fn(cb->ctx, h->hash);
        cb = next;
    }
}

/* ---- attachments -------------------------------------------------------------------- */

static struct kvbm__att *att_find(kvbm_handle *h, kvbm_attach_type type)
{
    for (uint32_t i = 0; i < h->natt; i++)
        if (h->att[i].type == type) return &h->att[i];
    return NULL;
}

/* New slot for @type (lock held). NULL on allocation failure. */
static struct kvbm__att *att_add(kvbm_handle *h, kvbm_attach_type type, uint8_t mode,
                                 struct kvbm__att_dtor dtor)
{
    if (h->natt == h->capatt) {
        uint32_t ncap = h->capatt ? h->capatt * 2 : 2;
        struct kvbm__att *na = kvbm__realloc(h->att, ncap * sizeof *na);
        if (na == NULL) return NULL;
        h->att = na;
        h->capatt = ncap;
    }
    struct kvbm__att *a = &h->att[h->natt++];
    h->flags |= KVBM__HF_ATT;
    a->type = type;
    a->mode = mode;
    a->dtor = dtor;
    a->unique = NULL;
    a->vals = NULL;
    a->n = a->cap = 0;
    return a;
}

static kvbm_status mode_error(kvbm_attach_type type, kvbm_status st)
{
    const char *name = kvbm_attach_type_name(type);
    kvbm__set_error("Type %s is already registered as %s attachment", name ? name : "?",
                    st == KVBM_EATTACH_IS_MULTIPLE ? "multiple" : "unique");
    return st;
}

kvbm_status kvbm_handle_attach_unique(kvbm_handle *h, kvbm_attach_type type, void *value)
{
    return kvbm__handle_attach_unique_ex(h, type, value, NULL);
}

kvbm_status kvbm__handle_attach_unique_ex(kvbm_handle *h, kvbm_attach_type type, void *value,
                                          bool *had)
{
    struct kvbm__att_dtor dtor;
    if (h == NULL || !kvbm__attach_type_lookup(type, &dtor))
        return KVBM_FAIL(KVBM_EINVAL, "%s: the handle is NULL or attachment type %" PRIu32 " is not registered",
                         "kvbm_handle_attach_unique", type);
    void *old = NULL;
    bool replaced = false;
    kvbm_status st = KVBM_OK;

    kvbm__lock(&h->lock);
    struct kvbm__att *a = att_find(h, type);
    if (a == NULL) {
        a = att_add(h, type, KVBM__ATT_UNIQUE, dtor);
        if (a == NULL) st = KVBM_ENOMEM;
        else a->unique = value;
    } else if (a->mode == KVBM__ATT_MULTIPLE) {
        st = KVBM_EATTACH_IS_MULTIPLE;
    } else {
        old = a->unique;
        replaced = old != value;
        a->unique = value;
        if (had != NULL) *had = true;
    }
    kvbm__unlock(&h->lock);

    if (replaced) kvbm__att_dtor_run(&dtor, old, h->hash); /* after unlock (spec 20 §2.4) */
    return st == KVBM_EATTACH_IS_MULTIPLE ? mode_error(type, st) : st;
}

kvbm_status kvbm__handle_attach_unique_new(kvbm_handle *h, kvbm_attach_type type,
                                           const struct kvbm__att_dtor *dtor, void *value)
{
    struct kvbm__att *a = h->natt != 0 ? att_find(h, type) : NULL;
    if (a != NULL) /* an earlier observer used the type: the general path decides */
        return kvbm__handle_attach_unique_ex(h, type, value, NULL);
    a = att_add(h, type, KVBM__ATT_UNIQUE, *dtor);
    if (a == NULL) return KVBM_ENOMEM;
    a->unique = value;
    return KVBM_OK;
}

kvbm_status kvbm_handle_attach(kvbm_handle *h, kvbm_attach_type type, void *value)
{
    struct kvbm__att_dtor dtor;
    if (h == NULL || !kvbm__attach_type_lookup(type, &dtor))
        return KVBM_FAIL(KVBM_EINVAL, "%s: the handle is NULL or attachment type %" PRIu32 " is not registered",
                         __func__, type);
    kvbm_status st = KVBM_OK;

    kvbm__lock(&h->lock);
    struct kvbm__att *a = att_find(h, type);
    if (a != NULL && a->mode == KVBM__ATT_UNIQUE) {
        st = KVBM_EATTACH_IS_UNIQUE;
    } else {
        if (a == NULL) a = att_add(h, type, KVBM__ATT_MULTIPLE, dtor);
        if (a == NULL) {
            st = KVBM_ENOMEM;
        } else if (a->n == a->cap) {
            size_t ncap = a->cap ? a->cap * 2 : 4;
            void **nv = kvbm__realloc(a->vals, ncap * sizeof *nv);
            if (nv == NULL) st = KVBM_ENOMEM;
            else { a->vals = nv; a->cap = ncap; }
        }
        if (st == KVBM_OK) a->vals[a->n++] = value;
    }
    kvbm__unlock(&h->lock);
    return st == KVBM_EATTACH_IS_UNIQUE ? mode_error(type, st) : st;
}

bool kvbm_handle_with_unique(kvbm_handle *h, kvbm_attach_type type,
                             void (*fn)(void *ctx, void *value), void *ctx)
{
    if (h == NULL || fn == NULL) return false;
    bool ran = false;
    kvbm__lock(&h->lock);
    struct kvbm__att *a = att_find(h, type);
    if (a != NULL && a->mode == KVBM__ATT_UNIQUE) {
        fn(ctx, a->unique);
        ran = true;
    }
    kvbm__unlock(&h->lock);
    return ran;
}

void kvbm_handle_with_multiple(kvbm_handle *h, kvbm_attach_type type,
                               void (*fn)(void *ctx, void **values, size_t n), void *ctx)
{
    if (h == NULL || fn == NULL) return;
    kvbm__lock(&h->lock);
    struct kvbm__att *a = att_find(h, type);
    if (a != NULL && a->mode == KVBM__ATT_MULTIPLE) fn(ctx, a->vals, a->n);
    else fn(ctx, NULL, 0);
    kvbm__unlock(&h->lock);
}

/* A type has a single sticky mode per handle, so looking the unique and the multiple maps
 * up independently (with_all) and dispatching by mode (with_all_mut) give the same view. */
void kvbm_handle_with_all(kvbm_handle *h, kvbm_attach_type type,
                          void (*fn)(void *ctx, void *unique, void **values, size_t n), void *ctx)
{
    kvbm_handle_with_all_mut(h, type, fn, ctx);
}

void kvbm_handle_with_all_mut(kvbm_handle *h, kvbm_attach_type type,
                              void (*fn)(void *ctx, void *unique, void **values, size_t n),
                              void *ctx)
{
    if (h == NULL || fn == NULL) return;
    kvbm__lock(&h->lock);
    struct kvbm__att *a = att_find(h, type);
    if (a != NULL && a->mode == KVBM__ATT_UNIQUE) fn(ctx, a->unique, NULL, 0);
    else if (a != NULL) fn(ctx, NULL, a->vals, a->n);
    else fn(ctx, NULL, NULL, 0);
    kvbm__unlock(&h->lock);
}
