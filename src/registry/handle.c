/* src/registry/handle.c - per-handle state: presence markers, touch callbacks, attachments.
 *
 * Everything here is guarded by the handle's own mutex (rank KVBM_RANK_ATTACH), which may
 * be taken under a registry shard lock and never under a store lock. Per-handle state is
 * small and lives in arrays recycled with the handle object: in steady state neither
 * presence updates nor a unique attachment allocate.
 */
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"

/* ---- object lifetime ---------------------------------------------------------------- */

int kvbm__handle_init_object(kvbm_handle *h)
{
    memset(h, 0, sizeof *h);
    h->pres = h->pres_inline;
    h->cappres = KVBM__PRESENCE_INLINE;
    return kvbm__mutex_init(&h->lock, KVBM_RANK_ATTACH);
}

void kvbm__handle_free_object(kvbm_handle *h)
{
    if (h->pres != h->pres_inline) free(h->pres);
    free(h->att);
    kvbm__mutex_destroy(&h->lock);
    free(h);
}

void kvbm__handle_finalize(kvbm_handle *h)
{
    /* refs == 0: no holder can reach the attachments or callbacks any more, so the
     * destructors run without any lock (spec 20 §2.3 step 3). */
    for (uint32_t i = 0; i < h->natt; i++) {
        struct kvbm__att *a = &h->att[i];
        if (a->mode == KVBM__ATT_UNIQUE) {
            if (a->dtor != NULL) a->dtor(a->unique);
        } else {
            for (size_t k = 0; k < a->n; k++)
                if (a->dtor != NULL) a->dtor(a->vals[k]);
            free(a->vals);
        }
    }
    h->natt = 0;

    struct kvbm__touch_cb *cb = h->cb_head;
    while (cb != NULL) {
        struct kvbm__touch_cb *next = cb->next;
        free(cb);
        cb = next;
    }
    h->cb_head = h->cb_tail = NULL;
    h->ncb = 0;

    /* presence may still be read by check_presence (shard lock + this lock) */
    kvbm__lock(&h->lock);
    if (h->pres != h->pres_inline) {
        free(h->pres);
        h->pres = h->pres_inline;
        h->cappres = KVBM__PRESENCE_INLINE;
    }
    h->npres = 0;
    kvbm__unlock(&h->lock);
}

/* ---- presence ----------------------------------------------------------------------- */

static struct kvbm__presence *pres_find(kvbm_handle *h, kvbm_tier tier)
{
    for (uint32_t i = 0; i < h->npres; i++)
        if (h->pres[i].tier == tier) return &h->pres[i];
    return NULL;
}

void kvbm__handle_mark_present(kvbm_handle *h, kvbm_tier tier)
{
    kvbm_assert(h != NULL);
    kvbm__lock(&h->lock);
    struct kvbm__presence *p = pres_find(h, tier);
    if (p != NULL) {
        p->count++;
    } else {
        if (h->npres == h->cappres) {
            /* more tiers than the inline array: rare, grow to the heap */
            uint32_t ncap = h->cappres * 2;
            struct kvbm__presence *np = malloc(ncap * sizeof *np);
            if (np == NULL) {
                /* cannot record the marker; presence is a shadow, so losing it degrades
                 * has_block() to false for this tier, never corrupts the store */
                kvbm__unlock(&h->lock);
                kvbm_assert(!"presence allocation failed");
                return;
            }
            memcpy(np, h->pres, h->npres * sizeof *np);
            if (h->pres != h->pres_inline) free(h->pres);
            h->pres = np;
            h->cappres = ncap;
        }
        h->pres[h->npres].tier = tier;
        h->pres[h->npres].count = 1;
        h->npres++;
    }
    kvbm__unlock(&h->lock);
}

void kvbm__handle_mark_absent(kvbm_handle *h, kvbm_tier tier)
{
    kvbm_assert(h != NULL);
    kvbm__lock(&h->lock);
    struct kvbm__presence *p = pres_find(h, tier);
    bool missing = p == NULL || p->count == 0;
    if (!missing && --p->count == 0) {
        *p = h->pres[h->npres - 1]; /* unordered: swap-remove */
        h->npres--;
    }
    kvbm__unlock(&h->lock);
    kvbm_assert(!missing);
    (void)missing;
}

bool kvbm_handle_has_block(kvbm_handle *h, kvbm_tier tier)
{
    return kvbm_handle_presence(h, tier) > 0;
}

uint32_t kvbm_handle_presence(kvbm_handle *h, kvbm_tier tier)
{
    if (h == NULL) return 0;
    kvbm__lock(&h->lock);
    struct kvbm__presence *p = pres_find(h, tier);
    uint32_t c = p != NULL ? p->count : 0;
    kvbm__unlock(&h->lock);
    return c;
}

bool kvbm_handle_has_any_block(kvbm_handle *h, const kvbm_tier *tiers, size_t n)
{
    if (h == NULL || (tiers == NULL && n > 0)) return false;
    bool any = false;
    kvbm__lock(&h->lock);
    for (size_t i = 0; i < n && !any; i++) {
        struct kvbm__presence *p = pres_find(h, tiers[i]);
        any = p != NULL && p->count > 0;
    }
    kvbm__unlock(&h->lock);
    return any;
}

/* ---- touch callbacks ---------------------------------------------------------------- */

kvbm_status kvbm_handle_on_touch(kvbm_handle *h, kvbm_touch_fn fn, void *ctx)
{
    if (h == NULL || fn == NULL) return KVBM_EINVAL;
    struct kvbm__touch_cb *cb = malloc(sizeof *cb);
    if (cb == NULL) return KVBM_ENOMEM;
    cb->fn = fn;
    cb->ctx = ctx;
    cb->next = NULL;
    kvbm__lock(&h->lock);
    if (h->cb_tail != NULL) h->cb_tail->next = cb;
    else h->cb_head = cb;
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
                                 kvbm_attach_dtor dtor)
{
    if (h->natt == h->capatt) {
        uint32_t ncap = h->capatt ? h->capatt * 2 : 2;
        struct kvbm__att *na = realloc(h->att, ncap * sizeof *na);
        if (na == NULL) return NULL;
        h->att = na;
        h->capatt = ncap;
    }
    struct kvbm__att *a = &h->att[h->natt++];
    memset(a, 0, sizeof *a);
    a->type = type;
    a->mode = mode;
    a->dtor = dtor;
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
    kvbm_attach_dtor dtor;
    if (h == NULL || !kvbm__attach_type_lookup(type, &dtor)) return KVBM_EINVAL;
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
    }
    kvbm__unlock(&h->lock);

    if (replaced && dtor != NULL) dtor(old); /* after unlock (spec 20 §2.4) */
    return st == KVBM_EATTACH_IS_MULTIPLE ? mode_error(type, st) : st;
}

kvbm_status kvbm_handle_attach(kvbm_handle *h, kvbm_attach_type type, void *value)
{
    kvbm_attach_dtor dtor;
    if (h == NULL || !kvbm__attach_type_lookup(type, &dtor)) return KVBM_EINVAL;
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
            void **nv = realloc(a->vals, ncap * sizeof *nv);
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
