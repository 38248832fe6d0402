/* src/store/handle_check.h - the block handles: checked wrappers or plain slot pointers.
 *
 * Internal to src/store/ (ops.c, handles.c). One code path, two representations behind
 * kvbm__bh_make / kvbm__bh_slot / kvbm__bh_raw / kvbm__bh_retire: KVBM_DEBUG >= 1 gives malloc'd wrappers with a magic
 * per kind and a per-store quarantine of retired wrappers; release builds use the slot
 * pointer itself (docs/design/store.md §6). The functions keep their specifiers from the
 * single-file store (static inline, or static + unused where inlining was left to the
 * compiler), so that the hot paths inline as before.
 */
#ifndef KVBM_STORE_HANDLE_CHECK_H
#define KVBM_STORE_HANDLE_CHECK_H

#include <stdlib.h>

#include "store/store_int.h"

/* ==== handles: checked wrappers (KVBM_DEBUG >= 1) or plain slot pointers ============ */

enum { KVBM__HK_MUTABLE = 1, KVBM__HK_COMPLETE = 2, KVBM__HK_BLOCK = 3, KVBM__HK_PIN = 4, KVBM__HK_WEAK = 5 };

#define KVBM__HW_MAGIC(kind) (UINT32_C(0x4b564200) | (uint32_t)(kind))
#define KVBM__HW_DEAD        UINT32_C(0xdeadbeef)

#if KVBM_CHECKED_HANDLES
struct kvbm__hw {
    uint32_t           magic;
    uint32_t           id;
    uint64_t           gen;
    uint32_t           pend;  /* batch validation mark */
    struct kvbm__store *store;
};
#endif


/* Wrapper buffer: in checked builds every handle returned by an operation is allocated
 * before the operation changes anything, so ENOMEM never needs a rollback. */
struct kvbm__hwbuf {
    void  **w;
    size_t  cap, used;
};

static __attribute__((unused)) kvbm_status kvbm__hwbuf_init(struct kvbm__hwbuf *b, size_t n)
{
    b->w = NULL; b->cap = 0; b->used = 0;
#if KVBM_CHECKED_HANDLES
    if (n == 0) return KVBM_OK;
    b->w = kvbm__malloc(n * sizeof *b->w);
    if (b->w == NULL) return KVBM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        b->w[i] = kvbm__malloc(sizeof(struct kvbm__hw));
        if (b->w[i] == NULL) {
            while (i-- > 0) kvbm__free(b->w[i]);
            kvbm__free(b->w);
            b->w = NULL;
            return KVBM_ENOMEM;
        }
    }
    b->cap = n;
#else
    (void)n;
#endif
    return KVBM_OK;
}

static __attribute__((unused)) void kvbm__hwbuf_fini(struct kvbm__hwbuf *b)
{
#if KVBM_CHECKED_HANDLES
    for (size_t i = b->used; i < b->cap; i++) kvbm__free(b->w[i]);
    kvbm__free(b->w);
#endif
    b->w = NULL; b->cap = b->used = 0;
}

/* New handle of @kind for @sl (the caller holds what the handle represents). */
static inline void *kvbm__bh_make(struct kvbm__hwbuf *b, struct kvbm__slot *sl, int kind)
{
#if KVBM_CHECKED_HANDLES
    struct kvbm__hw *w = b->w[b->used++];
    w->magic = KVBM__HW_MAGIC(kind);
    w->id = sl->id;
    w->gen = sl->gen;
    w->pend = 0;
    w->store = kvbm__store_of(sl);
    return w;
#else
    (void)b; (void)kind;
    return sl;
#endif
}

/* Slot behind a handle we created ourselves (no checks). */
static inline struct kvbm__slot *kvbm__bh_raw(const void *h)
{
#if KVBM_CHECKED_HANDLES
    const struct kvbm__hw *w = h;
    return &w->store->slots[w->id];
#else
    return (struct kvbm__slot *)h;
#endif
}

/* Slot behind a user handle of @kind, or NULL (wrong kind, released, NULL). The caller
 * owns the handle, so the fields read here are stable. */
static __attribute__((unused)) struct kvbm__slot *kvbm__bh_slot(const void *h, int kind)
{
    if (h == NULL) return NULL;
#if KVBM_CHECKED_HANDLES
    const struct kvbm__hw *w = h;
    if (w->magic != KVBM__HW_MAGIC(kind)) return NULL;
    struct kvbm__slot *sl = &w->store->slots[w->id];
    if (sl->gen != w->gen) return NULL;
#else
    struct kvbm__slot *sl = (struct kvbm__slot *)h;
#endif
    switch (kind) {
    case KVBM__HK_MUTABLE:  if (sl->state != KVBM__MUTABLE) return NULL; break;
    case KVBM__HK_COMPLETE: if (sl->state != KVBM__STAGED) return NULL; break;
    default:
        if (sl->state != KVBM__PRIMARY && sl->state != KVBM__DUPLICATE) return NULL;
        break;
    }
    return sl;
}

#if KVBM_CHECKED_HANDLES
static __attribute__((unused)) void kvbm__bh_quarantine(struct kvbm__store *s, void *w)
{
    pthread_mutex_lock(&s->qlock);
    if (s->qlen == KVBM__QUARANTINE) {
        kvbm__free(s->quarantine[s->qhead]);
        s->quarantine[s->qhead] = w;
        s->qhead = (s->qhead + 1) % KVBM__QUARANTINE;
    } else {
        s->quarantine[(s->qhead + s->qlen) % KVBM__QUARANTINE] = w;
        s->qlen++;
    }
    pthread_mutex_unlock(&s->qlock);
}
#endif

/* The handle is consumed: poison it (checked builds keep it in quarantine so that a
 * second use is reported instead of touching freed memory). */
static inline void kvbm__bh_retire(const void *h)
{
#if KVBM_CHECKED_HANDLES
    struct kvbm__hw *w = (struct kvbm__hw *)h;
    w->magic = KVBM__HW_DEAD;
    kvbm__bh_quarantine(w->store, w);
#else
    (void)h;
#endif
}

static __attribute__((unused, noinline, cold)) kvbm_status kvbm__bad_handle(const char *fn, const char *what)
{
    kvbm__set_error("%s: %s", fn, what);
    return KVBM_EINVAL;
}

#endif /* KVBM_STORE_HANDLE_CHECK_H */
