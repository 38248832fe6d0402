/* src/store/store.c - the block store and the block lifecycle handles.
 *
 * See store_int.h for the slot states, the invariants and the locking rules, and
 * docs/design/store.md for the design. In short:
 *  - one mutex per store; every slot transition happens under it;
 *  - immutable handles share the slot's embedded inner (strong counter): clone and
 *    non-final release are lock-free, the final release transitions the slot in the same
 *    critical section as its 1 -> 0 decrement (Option B);
 *  - registry work (presence marks, handle-ref drops) is collected under the lock into a
 *    struct post and performed after unlock; store refcount decrements come last.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "registry/registry_int.h"
#include "kvbm/tokens.h"

/* ==== handles: checked wrappers (KVBM_DEBUG >= 1) or plain slot pointers ============ */

enum { HK_MUTABLE = 1, HK_COMPLETE = 2, HK_BLOCK = 3, HK_PIN = 4, HK_WEAK = 5 };

#define HW_MAGIC(kind) (UINT32_C(0x4b564200) | (uint32_t)(kind))
#define HW_DEAD        UINT32_C(0xdeadbeef)

#if KVBM_CHECKED_HANDLES
struct hw {
    uint32_t           magic;
    uint32_t           id;
    uint32_t           gen;
    uint32_t           pend;  /* batch validation mark */
    struct kvbm_store *store;
};
#endif

struct kvbm_weak {
    uint32_t           magic;
    uint32_t           id;
    uint32_t           gen;
    uint32_t           pad_;
    struct kvbm_store *store;
    kvbm_plh           hash;
    kvbm_handle       *reg;
};

/* Wrapper buffer: in checked builds every handle returned by an operation is allocated
 * before the operation changes anything, so ENOMEM never needs a rollback. */
struct hwbuf {
    void  **w;
    size_t  cap, used;
};

static kvbm_status hwbuf_init(struct hwbuf *b, size_t n)
{
    b->w = NULL; b->cap = 0; b->used = 0;
#if KVBM_CHECKED_HANDLES
    if (n == 0) return KVBM_OK;
    b->w = malloc(n * sizeof *b->w);
    if (b->w == NULL) return KVBM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        b->w[i] = malloc(sizeof(struct hw));
        if (b->w[i] == NULL) {
            while (i-- > 0) free(b->w[i]);
            free(b->w);
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

static void hwbuf_fini(struct hwbuf *b)
{
#if KVBM_CHECKED_HANDLES
    for (size_t i = b->used; i < b->cap; i++) free(b->w[i]);
    free(b->w);
#endif
    b->w = NULL; b->cap = b->used = 0;
}

/* New handle of @kind for @sl (the caller holds what the handle represents). */
static inline void *h_make(struct hwbuf *b, struct kvbm_slot *sl, int kind)
{
#if KVBM_CHECKED_HANDLES
    struct hw *w = b->w[b->used++];
    w->magic = HW_MAGIC(kind);
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
static inline struct kvbm_slot *h_raw(const void *h)
{
#if KVBM_CHECKED_HANDLES
    const struct hw *w = h;
    return &w->store->slots[w->id];
#else
    return (struct kvbm_slot *)h;
#endif
}

/* Slot behind a user handle of @kind, or NULL (wrong kind, released, NULL). The caller
 * owns the handle, so the fields read here are stable. */
static struct kvbm_slot *h_slot(const void *h, int kind)
{
    if (h == NULL) return NULL;
#if KVBM_CHECKED_HANDLES
    const struct hw *w = h;
    if (w->magic != HW_MAGIC(kind)) return NULL;
    struct kvbm_slot *sl = &w->store->slots[w->id];
    if (sl->gen != w->gen) return NULL;
#else
    struct kvbm_slot *sl = (struct kvbm_slot *)h;
#endif
    switch (kind) {
    case HK_MUTABLE:  if (sl->state != KVBM__MUTABLE) return NULL; break;
    case HK_COMPLETE: if (sl->state != KVBM__STAGED) return NULL; break;
    default:
        if (sl->state != KVBM__PRIMARY && sl->state != KVBM__DUPLICATE) return NULL;
        break;
    }
    return sl;
}

#if KVBM_CHECKED_HANDLES
static void quarantine_push(struct kvbm_store *s, void *w)
{
    pthread_mutex_lock(&s->qlock);
    if (s->qlen == KVBM__QUARANTINE) {
        free(s->quarantine[s->qhead]);
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
static inline void h_retire(const void *h)
{
#if KVBM_CHECKED_HANDLES
    struct hw *w = (struct hw *)h;
    w->magic = HW_DEAD;
    quarantine_push(w->store, w);
#else
    (void)h;
#endif
}

static __attribute__((noinline, cold)) kvbm_status bad_handle(const char *fn, const char *what)
{
    kvbm__set_error("%s: %s", fn, what);
    return KVBM_EINVAL;
}

/* ==== deferred work ===================================================================== */

#define POST_MAX 32

struct post {
    uint32_t     na, nd;
    uint64_t     addref;      /* applied before unlock */
    uint64_t     unref;       /* applied last */
    int64_t      d_reset, d_inactive;
    kvbm_handle *absent[POST_MAX]; /* mark_absent, then drop the ref */
    kvbm_handle *drop[POST_MAX];   /* drop the ref */
};

static inline void post_init(struct post *p)
{
    p->na = p->nd = 0;
    p->addref = p->unref = 0;
    p->d_reset = p->d_inactive = 0;
}

static inline bool post_room(const struct post *p, uint32_t k)
{
    return p->na + k <= POST_MAX && p->nd + k <= POST_MAX;
}

/* Before unlock. */
static inline void post_locked_end(struct kvbm_store *s, struct post *p)
{
    if (p->addref) {
        atomic_fetch_add_explicit(&s->refs, p->addref, memory_order_relaxed);
        p->addref = 0;
    }
}

/* After unlock: registry work and gauges. Does not drop store refs. */
static void post_flush_work(struct kvbm_store *s, struct post *p)
{
    if (p->na) kvbm__handle_mark_absent_release_many(p->absent, p->na, s->tier);
    if (p->nd) kvbm__handle_release_many(p->drop, p->nd);
    p->na = p->nd = 0;
    if (p->d_reset) kvbm__metric_add(s->metrics, KVBM_METRIC_reset_pool_size, p->d_reset);
    if (p->d_inactive) kvbm__metric_add(s->metrics, KVBM_METRIC_inactive_pool_size, p->d_inactive);
    p->d_reset = p->d_inactive = 0;
}

static inline void post_flush(struct kvbm_store *s, struct post *p)
{
    if ((p->na | p->nd) != 0 || (p->d_reset | p->d_inactive) != 0) post_flush_work(s, p);
}

/* After unlock, last action on @s. */
static void post_finish(struct kvbm_store *s, struct post *p)
{
    post_flush(s, p);
    if (p->unref) kvbm__store_unref(s, p->unref);
}

/* Unlock, do the deferred registry work, relock (batches whose buffer is full). */
static void post_cycle(struct kvbm_store *s, struct post *p)
{
    post_locked_end(s, p);
    kvbm__unlock(&s->lock);
    post_flush(s, p);
    kvbm__lock(&s->lock);
}

/* ==== store lifetime ===================================================================== */

static _Atomic uint64_t next_manager_id = 1;

static void quiet_poison(struct kvbm_store *s, const char *what)
{
    kvbm__set_error("kvbm: internal invariant violated: %s", what);
    atomic_store_explicit(&s->poisoned, 1, memory_order_relaxed);
}

void kvbm__store_poison(struct kvbm_store *s, const char *what)
{
    quiet_poison(s, what);
#if KVBM_DEBUG >= 1
    kvbm__assert_fail(what, __FILE__, __LINE__, __func__);
#endif
}

kvbm_status kvbm__store_create(const struct kvbm__store_params *p, kvbm_inactive *backend,
                               struct kvbm_store **out)
{
    kvbm_inactive be = *backend;
    backend->ops = NULL; backend->ctx = NULL;
    if (p == NULL || out == NULL || p->block_count == 0 || p->block_count == UINT32_MAX ||
        p->registry == NULL || p->metrics == NULL || be.ops == NULL) {
        kvbm__inactive_destroy(&be);
        return KVBM_EINVAL;
    }
    uint32_t n = p->block_count;
    struct kvbm_store *s = calloc(1, sizeof *s + (size_t)n * sizeof(struct kvbm_slot));
    /* index buckets: the largest power of two <= 2n (load factor 0.5..1, <= 8 B/block) */
    uint64_t nb = kvbm__next_pow2_u64((uint64_t)n * 2);
    if (nb > (uint64_t)n * 2) nb >>= 1;
    if (nb < 2) nb = 2;
    if (s != NULL) {
        s->ring.buf = malloc((size_t)n * sizeof(uint32_t));
        s->index.buckets = malloc((size_t)nb * sizeof(uint32_t));
#if KVBM_CHECKED_HANDLES
        s->quarantine = calloc(KVBM__QUARANTINE, sizeof(void *));
#endif
    }
    if (s == NULL || s->ring.buf == NULL || s->index.buckets == NULL
#if KVBM_CHECKED_HANDLES
        || s->quarantine == NULL
#endif
        ) {
        if (s != NULL) {
            free(s->ring.buf);
            free(s->index.buckets);
#if KVBM_CHECKED_HANDLES
            free(s->quarantine);
#endif
            free(s);
        }
        kvbm__inactive_destroy(&be);
        return KVBM_ENOMEM;
    }
    if (kvbm__mutex_init(&s->lock, KVBM_RANK_STORE) != 0) {
        free(s->ring.buf); free(s->index.buckets);
#if KVBM_CHECKED_HANDLES
        free(s->quarantine);
#endif
        free(s);
        kvbm__inactive_destroy(&be);
        return KVBM_ENOMEM;
    }
#if KVBM_CHECKED_HANDLES
    pthread_mutex_init(&s->qlock, NULL);
#endif
    atomic_init(&s->refs, 1);
    atomic_init(&s->poisoned, 0);
    s->id = atomic_fetch_add_explicit(&next_manager_id, 1, memory_order_relaxed);
    s->n = n;
    s->block_size = p->block_size;
    s->default_reset = p->default_reset_on_release;
    s->policy = p->policy;
    s->tier = p->tier;
    s->registry = kvbm_registry_clone(p->registry);
    s->has_tracker = kvbm_registry_has_frequency_tracking(p->registry);
    s->metrics = kvbm_metrics_clone(p->metrics);
    s->inactive = be;
    s->ring.cap = n;
    s->ring.head = 0;
    s->ring.len = 0;
    s->index.mask = (uint32_t)(nb - 1);
    s->index.len = 0;
    for (uint64_t i = 0; i < nb; i++) s->index.buckets[i] = KVBM__NIL;
    for (uint32_t i = 0; i < n; i++) {
        struct kvbm_slot *sl = &s->slots[i];
        atomic_init(&sl->strong, 0);
        sl->id = i;
        sl->hnext = KVBM__NIL;
        sl->keepalive = KVBM__NIL;
        sl->state = KVBM__RESET;
        sl->reset_on_release = p->default_reset_on_release;
        kvbm__ring_push_back(&s->ring, i);
    }
    *out = s;
    return KVBM_OK;
}

static void store_free(struct kvbm_store *s)
{
    /* Nobody else can reach the store: its cached (inactive) blocks vanish with it. */
    for (uint32_t i = 0; i < s->n; i++) {
        struct kvbm_slot *sl = &s->slots[i];
        if (sl->reg != NULL) {
            if (sl->state == KVBM__INACTIVE) kvbm__handle_mark_absent(sl->reg, s->tier);
            kvbm_handle_release(sl->reg);
            sl->reg = NULL;
        }
    }
    kvbm__inactive_destroy(&s->inactive);
#if KVBM_CHECKED_HANDLES
    for (uint32_t i = 0; i < s->qlen; i++) free(s->quarantine[(s->qhead + i) % KVBM__QUARANTINE]);
    free(s->quarantine);
    pthread_mutex_destroy(&s->qlock);
#endif
    free(s->ring.buf);
    free(s->index.buckets);
    kvbm_metrics_release(s->metrics);
    kvbm_registry_release(s->registry);
    kvbm__mutex_destroy(&s->lock);
    free(s);
}

void kvbm__store_unref(struct kvbm_store *s, uint64_t k)
{
    if (k == 0) return;
    if (atomic_fetch_sub_explicit(&s->refs, k, memory_order_acq_rel) == k) store_free(s);
}

void kvbm__store_orphan(struct kvbm_store *s)
{
    kvbm__lock(&s->lock);
    uint64_t k = s->parked;
    s->parked = 0;
    s->orphan = true;
    kvbm__unlock(&s->lock);
    kvbm__store_unref(s, k + 1);
}

/* ==== locked helpers ===================================================================== */

/* An Inactive slot becomes held (Primary or Mutable): it needs a store ref. */
static inline void unpark_locked(struct kvbm_store *s, struct post *p)
{
    if (KVBM_LIKELY(!s->orphan)) s->parked--;
    else p->addref++;
}

/* A held slot becomes Inactive: its store ref is parked (or dropped once orphaned). */
static inline void park_locked(struct kvbm_store *s, struct post *p)
{
    if (KVBM_LIKELY(!s->orphan)) s->parked++;
    else p->unref++;
}

/* The hash's current primary, WITHOUT taking a strong ref: active hit, or resurrection
 * from the inactive pool (Inactive -> Primary with a new inner and strong == 0, visible
 * only under the lock, so the caller must add its ref before unlocking). NULL on a total
 * miss or poison. */
static struct kvbm_slot *lookup_locked(struct kvbm_store *s, kvbm_plh h, struct post *p)
{
    uint64_t hv = kvbm_plh_hash64(h);
    uint32_t id = kvbm__index_find_hv(&s->index, s->slots, h, hv);
    struct kvbm_slot *sl;
    if (id != KVBM__NIL) {
        sl = &s->slots[id];
        if (KVBM_UNLIKELY(sl->state != KVBM__PRIMARY)) {
            kvbm__store_poison(s, "active index points at a non-primary slot");
            return NULL;
        }
        return sl;
    }
    if (!s->inactive.ops->find_match(s->inactive.ctx, h, false, &id)) return NULL;
    if (KVBM_UNLIKELY(id >= s->n || s->slots[id].state != KVBM__INACTIVE ||
                      !kvbm_plh_eq(s->slots[id].hash, h))) {
        kvbm__store_poison(s, "inactive backend returned a slot that is not inactive");
        return NULL;
    }
    sl = &s->slots[id];
    sl->state = KVBM__PRIMARY;
    sl->gen++;
    kvbm__index_insert_hv(&s->index, s->slots, id, hv);
    p->d_inactive--;
    unpark_locked(s, p);
    return sl;
}

/* lookup_locked() plus one strong ref for the caller. */
static struct kvbm_slot *acquire_locked(struct kvbm_store *s, kvbm_plh h, struct post *p)
{
    struct kvbm_slot *sl = lookup_locked(s, h, p);
    if (sl != NULL) atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
    return sl;
}

/* Drop one strong ref while holding the store lock; true if it was the last one. At 1 no
 * other reference exists (clones need one, lookups need the lock), so a plain store
 * suffices; otherwise other holders may decrement concurrently (lock-free CAS). */
static inline bool strong_dec_locked(struct kvbm_slot *sl)
{
    uint32_t old = atomic_load_explicit(&sl->strong, memory_order_acquire);
    if (KVBM_LIKELY(old == 1)) {
        atomic_store_explicit(&sl->strong, 0, memory_order_relaxed);
        return true;
    }
    if (KVBM_UNLIKELY(old == 0)) {
        kvbm__store_poison(kvbm__store_of(sl), "strong count underflow");
        return false;
    }
    return atomic_fetch_sub_explicit(&sl->strong, 1, memory_order_acq_rel) == 1;
}

/* @sl's strong count just went 1 -> 0 under the lock: Primary -> Inactive (or Reset with
 * reset_on_release), Duplicate -> Reset plus the release of its keepalive on the primary.
 * Needs room for 2 entries in p->absent. */
static void drop_locked(struct kvbm_store *s, struct kvbm_slot *sl, struct post *p)
{
    if (sl->state == KVBM__PRIMARY) {
        if (KVBM_UNLIKELY(!kvbm__index_remove(&s->index, s->slots, sl->id))) {
            kvbm__store_poison(s, "primary slot missing from the active index");
            return;
        }
        if (sl->reset_on_release) {
            p->absent[p->na++] = sl->reg;
            sl->reg = NULL;
            sl->state = KVBM__RESET;
            kvbm__ring_push_back(&s->ring, sl->id);
            p->d_reset++;
            p->unref++;
        } else {
            sl->state = KVBM__INACTIVE;
            if (KVBM_UNLIKELY(s->inactive.ops->insert(s->inactive.ctx, sl->hash, sl->id) != KVBM_OK)) {
                kvbm__store_poison(s, "inactive backend rejected an insert");
                return;
            }
            p->d_inactive++;
            park_locked(s, p);
        }
    } else if (sl->state == KVBM__DUPLICATE) {
        p->absent[p->na++] = sl->reg;
        sl->reg = NULL;
        sl->state = KVBM__RESET;
        kvbm__ring_push_back(&s->ring, sl->id);
        p->d_reset++;
        p->unref++;
        uint32_t pid = sl->keepalive;
        sl->keepalive = KVBM__NIL;
        if (KVBM_UNLIKELY(pid >= s->n || s->slots[pid].state != KVBM__PRIMARY)) {
            kvbm__store_poison(s, "duplicate keepalive does not designate a primary");
            return;
        }
        struct kvbm_slot *pr = &s->slots[pid];
        if (strong_dec_locked(pr)) drop_locked(s, pr, p);
    } else {
        kvbm__store_poison(s, "final release of a slot that is neither primary nor duplicate");
    }
}

static kvbm_status slot_release_locked(struct kvbm_store *s, struct kvbm_slot *sl);

/* Drop one strong ref on @sl (the caller's handle, already retired). The lock-free
 * non-final path stays a leaf (no frame); the final one is out of line. */
static inline kvbm_status slot_release(struct kvbm_store *s, struct kvbm_slot *sl)
{
    uint32_t old = atomic_load_explicit(&sl->strong, memory_order_relaxed);
    while (old > 1) {
        if (atomic_compare_exchange_weak_explicit(&sl->strong, &old, old - 1,
                                                  memory_order_release, memory_order_relaxed))
            return KVBM_OK;
    }
    return slot_release_locked(s, sl);
}

static __attribute__((noinline)) kvbm_status slot_release_locked(struct kvbm_store *s,
                                                                 struct kvbm_slot *sl)
{
    struct post p;
    post_init(&p);
    kvbm__lock(&s->lock);
    if (strong_dec_locked(sl)) drop_locked(s, sl, &p);
    post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    post_finish(s, &p);
    return KVBM_OK;
}

/* ==== manager operations ================================================================= */

#define PAIR_CHUNK 64

/* Pull a registration handle's first line (64-byte aligned objects; refs, hash and the
 * inline presence slots live there) towards the cache ahead of the after-unlock eviction
 * epilogue (a hint: no semantic effect). */
static inline void prefetch_handle(const kvbm_handle *h)
{
    __builtin_prefetch(h, 1, 3);
}

kvbm_status kvbm__store_allocate(struct kvbm_store *s, size_t count, kvbm_mutable **out,
                                 kvbm_plh *evicted, size_t *n_evicted)
{
    if (count == 0) {
        if (n_evicted != NULL) *n_evicted = 0;
        return KVBM_OK;
    }
    if (out == NULL) return bad_handle("kvbm_manager_allocate", "out is NULL");
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    struct hwbuf hb;
    const kvbm_inactive_ops *ops = s->inactive.ops;
    void *ctx = s->inactive.ctx;

    kvbm__lock(&s->lock);
    size_t inactive_len = ops->len(ctx);
    if ((size_t)s->ring.len + inactive_len < count) {
        kvbm__unlock(&s->lock);
        return KVBM_EEXHAUSTED;
    }
    /* checked builds only: wrappers are allocated once the count is known to be sane */
    if (hwbuf_init(&hb, count) != KVBM_OK) {
        kvbm__unlock(&s->lock);
        return KVBM_ENOMEM;
    }
    size_t from_reset = count < s->ring.len ? count : s->ring.len;
    size_t from_inactive = count - from_reset;

    /* Evict first into an intrusive chain (hnext of inactive slots is unused), so that a
     * backend under-allocation can be undone without touching the reset FIFO. */
    uint32_t head = KVBM__NIL, tail = KVBM__NIL;
    size_t got = 0;
    kvbm_pair pairs[PAIR_CHUNK];
    while (got < from_inactive) {
        size_t want = from_inactive - got;
        if (want > PAIR_CHUNK) want = PAIR_CHUNK;
        size_t r = ops->allocate(ctx, want, pairs);
        if (r < want) {
            /* Backend broke "len >= n => allocate(n) returns n": put everything back. */
            for (uint32_t id = head; id != KVBM__NIL; id = s->slots[id].hnext)
                if (ops->insert(ctx, s->slots[id].hash, id) != KVBM_OK)
                    kvbm__store_poison(s, "rollback insert failed");
            for (size_t k = 0; k < r; k++)
                if (ops->insert(ctx, pairs[k].hash, pairs[k].block_id) != KVBM_OK)
                    kvbm__store_poison(s, "rollback insert failed");
            kvbm__unlock(&s->lock);
            kvbm__metric_add(s->metrics, KVBM_METRIC_allocate_atomic_rollback, 1);
            hwbuf_fini(&hb);
            kvbm__set_error("kvbm_manager_allocate: inactive backend under-allocated; rolled back");
            return KVBM_EEXHAUSTED;
        }
        for (size_t k = 0; k < r; k++) {
            uint32_t id = pairs[k].block_id;
            if (KVBM_UNLIKELY(id >= s->n || s->slots[id].state != KVBM__INACTIVE ||
                              !kvbm_plh_eq(s->slots[id].hash, pairs[k].hash))) {
                kvbm__store_poison(s, "inactive backend evicted a slot that is not inactive");
                kvbm__unlock(&s->lock);
                hwbuf_fini(&hb);
                return KVBM_EPOISONED;
            }
            /* the handle is cold (an old block); its registry work runs after unlock */
            prefetch_handle(s->slots[id].reg);
            s->slots[id].hnext = KVBM__NIL;
            if (tail == KVBM__NIL) head = id;
            else s->slots[tail].hnext = id;
            tail = id;
        }
        got += r;
    }

    /* Commit: reset blocks (FIFO order), then evicted ones (policy order). */
    bool def = s->default_reset;
    size_t i = 0;
    for (; i < from_reset; i++) {
        struct kvbm_slot *sl = &s->slots[kvbm__ring_pop_front(&s->ring)];
        sl->state = KVBM__MUTABLE;
        sl->reset_on_release = def;
        out[i] = h_make(&hb, sl, HK_MUTABLE);
    }
    for (uint32_t id = head; id != KVBM__NIL; id = s->slots[id].hnext) {
        struct kvbm_slot *sl = &s->slots[id];
        sl->state = KVBM__MUTABLE;  /* keeps reg and hnext until we return (owned) */
        sl->reset_on_release = def;
        out[i++] = h_make(&hb, sl, HK_MUTABLE);
    }
    /* reset slots gain a store ref; evicted ones take over their parked ref */
    uint64_t add = from_reset;
    if (s->orphan) add += from_inactive;
    else s->parked -= from_inactive;
    if (add) atomic_fetch_add_explicit(&s->refs, add, memory_order_relaxed);
    kvbm__unlock(&s->lock);

    kvbm_metrics *m = s->metrics;
    if (from_reset) kvbm__metric_add(m, KVBM_METRIC_reset_pool_size, -(int64_t)from_reset);
    if (from_inactive) {
        kvbm__metric_add(m, KVBM_METRIC_inactive_pool_size, -(int64_t)from_inactive);
        kvbm__metric_add(m, KVBM_METRIC_evictions, (int64_t)from_inactive);
    }
    kvbm__metric_add(m, KVBM_METRIC_inflight_mutable, (int64_t)count);
    kvbm__metric_add(m, KVBM_METRIC_allocations, (int64_t)count);
    if (from_reset) kvbm__metric_add(m, KVBM_METRIC_allocations_from_reset, (int64_t)from_reset);

    /* The evicted blocks' registry work, in eviction order, in chunks: presence -1 and
     * the slot's handle reference (usually the last one) via the registry's batch call. */
    size_t j = 0;
    kvbm_handle *regs[PAIR_CHUNK];
    size_t nr = 0;
    for (uint32_t id = head, next; id != KVBM__NIL; id = next) {
        struct kvbm_slot *sl = &s->slots[id];
        next = sl->hnext;
        sl->hnext = KVBM__NIL;
        if (evicted != NULL) evicted[j] = sl->hash;
        j++;
        regs[nr++] = sl->reg;
        sl->reg = NULL;
        if (nr == PAIR_CHUNK) {
            kvbm__handle_mark_absent_release_many(regs, nr, s->tier);
            nr = 0;
        }
    }
    if (nr) kvbm__handle_mark_absent_release_many(regs, nr, s->tier);
    if (n_evicted != NULL) *n_evicted = from_inactive;
    hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm__store_register(struct kvbm_store *s, kvbm_complete *const *in, size_t n,
                                 kvbm_block **out)
{
    static const char fn[] = "kvbm_manager_register_blocks";
    if (n == 0) return KVBM_OK;
    if (in == NULL || out == NULL) return bad_handle(fn, "NULL array");
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;

    /* Validate every input before changing anything (the caller owns the staged slots, so
     * their fields are stable; `mark` detects the same block passed twice). */
    size_t bad = n;
    const char *why = NULL;
    for (size_t i = 0; i < n; i++) {
        struct kvbm_slot *sl = h_slot(in[i], HK_COMPLETE);
        if (sl == NULL) { bad = i; why = "NULL, released or not a complete block"; break; }
        if (kvbm__store_of(sl) != s) { bad = i; why = "block belongs to another manager"; break; }
        if (sl->mark) { bad = i; why = "the same block is passed twice"; break; }
        sl->mark = 1;
    }
    if (bad < n) {
        for (size_t i = 0; i < bad; i++) h_raw(in[i])->mark = 0;
        kvbm__set_error("%s: input %zu: %s", fn, bad, why);
        return KVBM_EINVAL;
    }

    struct hwbuf hb;
    kvbm_status hst = hwbuf_init(&hb, n);
    if (hst != KVBM_OK) {
        for (size_t i = 0; i < n; i++) h_raw(in[i])->mark = 0;
        return hst;
    }
    /* Registry lookups outside the store lock, one kvbm_registry_register_many per chunk
     * (same hooks and tracker touches, in order, as one call per block); the handle ref
     * waits in the owned slot. */
    for (size_t i = 0; i < n; i += PAIR_CHUNK) {
        size_t c = n - i < PAIR_CHUNK ? n - i : PAIR_CHUNK;
        kvbm_plh hs[PAIR_CHUNK];
        kvbm_handle *hd[PAIR_CHUNK];
        for (size_t k = 0; k < c; k++) { /* (validation marks are cleared here) */
            struct kvbm_slot *sl = h_raw(in[i + k]);
            sl->mark = 0;
            hs[k] = sl->hash;
        }
        kvbm_status st = kvbm_registry_register_many(s->registry, hs, c, hd);
        if (st != KVBM_OK) { /* all or nothing: give back the earlier chunks' refs */
            for (size_t k = i + c; k < n; k++) h_raw(in[k])->mark = 0;
            for (size_t k = 0; k < i; k++) {
                struct kvbm_slot *o = h_raw(in[k]);
                kvbm_handle_release(o->reg);
                o->reg = NULL;
            }
            hwbuf_fini(&hb);
            return st;
        }
        for (size_t k = 0; k < c; k++) h_raw(in[i + k])->reg = hd[k];
    }
    kvbm__metric_add(s->metrics, KVBM_METRIC_registrations, (int64_t)n);

    struct post p;
    post_init(&p);
    uint64_t n_dup = 0, n_dedup = 0;
    kvbm_status result = KVBM_OK;
    size_t done = 0;
    kvbm__lock(&s->lock);
    for (; done < n; done++) {
        size_t i = done;
        if (!post_room(&p, 1)) post_cycle(s, &p);
        const void *h = in[i];
        struct kvbm_slot *sl = h_raw(h);
        /* Fresh registration: if our staged slot holds the only reference to the hash's
         * registry handle, no Primary/Duplicate/Inactive slot of this store can have the
         * hash (each holds a reference to the one live handle per hash, taken before it
         * entered that state under this lock, dropped only after leaving it), so the
         * lookup (active index + backend) would miss: skip it. */
        struct kvbm_slot *ex = NULL;
        if (atomic_load_explicit(&sl->reg->refs, memory_order_relaxed) != 1) {
            ex = acquire_locked(s, sl->hash, &p);
            if (KVBM_UNLIKELY(kvbm__store_is_poisoned(s))) { result = KVBM_EPOISONED; break; }
        }
        struct kvbm_slot *res;
        if (ex != NULL && s->policy == KVBM_DUP_REJECT) {
            n_dedup++;
            p.drop[p.nd++] = sl->reg;
            sl->reg = NULL;
            sl->state = KVBM__RESET;
            kvbm__ring_push_back(&s->ring, sl->id);
            p.d_reset++;
            p.unref++;
            res = ex;
        } else if (ex != NULL) {
            n_dup++;
            sl->state = KVBM__DUPLICATE;
            sl->gen++;
            atomic_store_explicit(&sl->strong, 1, memory_order_relaxed);
            sl->keepalive = ex->id;      /* the strong ref taken on ex is the keepalive */
            res = sl;
        } else {
            sl->state = KVBM__PRIMARY;
            sl->gen++;
            atomic_store_explicit(&sl->strong, 1, memory_order_relaxed);
            kvbm__index_insert(&s->index, s->slots, sl->id);
            res = sl;
        }
        h_retire(h);
        /* Tag bit 0: this slot entered Primary/Duplicate here, presence +1 after unlock
         * (handles are at least 8-byte aligned). */
        uintptr_t hv = (uintptr_t)h_make(&hb, res, HK_BLOCK);
        out[i] = (kvbm_block *)(hv | (res == sl ? 1u : 0u));
    }
    post_locked_end(s, &p);
    kvbm__unlock(&s->lock);

    for (size_t i = 0; i < done; i++) {
        uintptr_t hv = (uintptr_t)out[i];
        if (hv & 1u) {
            out[i] = (kvbm_block *)(hv & ~(uintptr_t)1);
            kvbm__handle_mark_present(h_raw(out[i])->reg, s->tier);
        }
    }
    if (result == KVBM_OK) {
        kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, (int64_t)n);
        if (n_dup) kvbm__metric_add(s->metrics, KVBM_METRIC_duplicate_blocks, (int64_t)n_dup);
        if (n_dedup) kvbm__metric_add(s->metrics, KVBM_METRIC_registration_dedup, (int64_t)n_dedup);
    }
    hwbuf_fini(&hb);
    post_finish(s, &p);
    return result;
}

kvbm_status kvbm__store_match(struct kvbm_store *s, const kvbm_plh *hashes, size_t n,
                              kvbm_block **out, size_t *matched)
{
    if (matched == NULL || (n > 0 && (hashes == NULL || out == NULL)))
        return bad_handle("kvbm_manager_match_blocks", "NULL argument");
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    kvbm__metric_add(s->metrics, KVBM_METRIC_match_hashes_requested, (int64_t)n);
    if (n == 0) {
        *matched = 0;
        return KVBM_OK;
    }
    struct hwbuf hb;
    KVBM_TRY(hwbuf_init(&hb, n));
    struct post p;
    post_init(&p);
    size_t k = 0;
    kvbm__lock(&s->lock);
    /* Two passes: lookups (plain loads, they pipeline), then the strong increments
     * back to back. Found slots cannot change meanwhile: we hold the lock, other holders
     * only decrement lock-free down to 1, and resurrected slots are invisible. */
    for (; k < n; k++) {
        int64_t before = p.d_inactive;
        struct kvbm_slot *sl = lookup_locked(s, hashes[k], &p);
        if (sl == NULL) break;
        /* tag bit 0: resurrected here (strong == 0, invisible to others: no RMW needed) */
        out[k] = (kvbm_block *)((uintptr_t)sl | (p.d_inactive != before ? 1u : 0u));
    }
    for (size_t i = 0; i < k; i++) {
        uintptr_t v = (uintptr_t)out[i];
        struct kvbm_slot *sl = (struct kvbm_slot *)(v & ~(uintptr_t)1);
        if (v & 1u) atomic_store_explicit(&sl->strong, 1, memory_order_relaxed);
        else atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
        out[i] = (kvbm_block *)h_make(&hb, sl, HK_BLOCK);
    }
    post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    post_flush(s, &p);
    hwbuf_fini(&hb);
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    if (s->has_tracker && k) kvbm_registry_touch_many(s->registry, hashes, k);
    if (k) {
        kvbm__metric_add(s->metrics, KVBM_METRIC_match_blocks_returned, (int64_t)k);
        kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, (int64_t)k);
    }
    *matched = k;
    return KVBM_OK;
}

static bool plh_in(const kvbm_plh *a, size_t n, kvbm_plh h)
{
    for (size_t i = 0; i < n; i++)
        if (kvbm_plh_eq(a[i], h)) return true;
    return false;
}

kvbm_status kvbm__store_scan(struct kvbm_store *s, const kvbm_plh *hashes, size_t n, bool touch,
                             kvbm_plh *out_hashes, kvbm_block **out_blocks, size_t *found)
{
    if (found == NULL || (n > 0 && (hashes == NULL || out_hashes == NULL || out_blocks == NULL)))
        return bad_handle("kvbm_manager_scan_matches", "NULL argument");
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    kvbm__metric_add(s->metrics, KVBM_METRIC_scan_hashes_requested, (int64_t)n);
    if (n == 0) {
        *found = 0;
        return KVBM_OK;
    }
    struct hwbuf hb;
    KVBM_TRY(hwbuf_init(&hb, n));
    struct post p;
    post_init(&p);
    size_t f = 0;
    /* Phase 1: per hash with a registry handle, one store lookup (may resurrect). */
    for (size_t i = 0; i < n; i++) {
        kvbm_handle *hd = NULL;
        if (kvbm_registry_match(s->registry, hashes[i], touch, &hd) != KVBM_OK) continue;
        kvbm_handle_release(hd);
        if (plh_in(out_hashes, f, hashes[i])) continue; /* same block again: keep one entry */
        kvbm__lock(&s->lock);
        struct kvbm_slot *sl = acquire_locked(s, hashes[i], &p);
        post_locked_end(s, &p);
        kvbm__unlock(&s->lock);
        if (sl != NULL) {
            out_hashes[f] = hashes[i];
            out_blocks[f] = (kvbm_block *)h_make(&hb, sl, HK_BLOCK);
            f++;
        }
    }
    /* Phase 2: whatever is still missing, straight from the inactive pool. */
    if (f < n && !kvbm__store_is_poisoned(s)) {
        kvbm_plh rem[PAIR_CHUNK];
        kvbm_pair pairs[PAIR_CHUNK];
        size_t i = 0;
        while (i < n) {
            size_t k = 0;
            size_t f0 = f;
            for (; i < n && k < PAIR_CHUNK; i++)
                if (!plh_in(out_hashes, f0, hashes[i])) rem[k++] = hashes[i];
            if (k == 0) continue;
            kvbm__lock(&s->lock);
            size_t r = s->inactive.ops->scan_matches(s->inactive.ctx, rem, k, touch, pairs);
            for (size_t q = 0; q < r; q++) {
                uint32_t id = pairs[q].block_id;
                struct kvbm_slot *sl = id < s->n ? &s->slots[id] : NULL;
                if (KVBM_UNLIKELY(sl == NULL || sl->state != KVBM__INACTIVE ||
                                  !kvbm_plh_eq(sl->hash, pairs[q].hash))) {
                    kvbm__store_poison(s, "inactive backend scan returned a non-inactive slot");
                    break;
                }
                sl->state = KVBM__PRIMARY;
                sl->gen++;
                atomic_store_explicit(&sl->strong, 1, memory_order_relaxed);
                kvbm__index_insert(&s->index, s->slots, id);
                p.d_inactive--;
                unpark_locked(s, &p);
                out_hashes[f] = sl->hash;
                out_blocks[f] = (kvbm_block *)h_make(&hb, sl, HK_BLOCK);
                f++;
            }
            post_locked_end(s, &p);
            kvbm__unlock(&s->lock);
        }
    }
    post_flush(s, &p);
    hwbuf_fini(&hb);
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    if (f) {
        kvbm__metric_add(s->metrics, KVBM_METRIC_scan_blocks_returned, (int64_t)f);
        kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, (int64_t)f);
    }
    *found = f;
    return KVBM_OK;
}

kvbm_status kvbm__store_reset_inactive(struct kvbm_store *s, uint64_t *expected, uint64_t *actual)
{
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    struct post p;
    post_init(&p);
    kvbm_pair pairs[POST_MAX];
    kvbm__lock(&s->lock);
    for (;;) {
        size_t want = s->inactive.ops->len(s->inactive.ctx);
        if (want == 0) break;
        if (p.na == POST_MAX) post_cycle(s, &p);
        size_t room = POST_MAX - p.na;
        if (want > room) want = room;
        size_t r = s->inactive.ops->allocate(s->inactive.ctx, want, pairs);
        if (r == 0) {
            kvbm__store_poison(s, "inactive backend reports entries but allocates none");
            break;
        }
        for (size_t k = 0; k < r; k++) {
            uint32_t id = pairs[k].block_id;
            struct kvbm_slot *sl = id < s->n ? &s->slots[id] : NULL;
            if (KVBM_UNLIKELY(sl == NULL || sl->state != KVBM__INACTIVE)) {
                kvbm__store_poison(s, "inactive backend drained a non-inactive slot");
                continue;
            }
            p.absent[p.na++] = sl->reg;
            sl->reg = NULL;
            sl->state = KVBM__RESET;
            sl->reset_on_release = s->default_reset;
            kvbm__ring_push_back(&s->ring, id);
            p.d_reset++;
            p.d_inactive--;
            if (!s->orphan) {
                s->parked--;
                p.unref++;
            }
        }
        if (kvbm__store_is_poisoned(s)) break;
    }
    uint64_t reset_len = s->ring.len;
    uint32_t total = s->n;
    kvbm__unlock(&s->lock);
    bool poisoned = kvbm__store_is_poisoned(s);
    post_finish(s, &p);  /* last access to the store */
    if (poisoned) return KVBM_EPOISONED;
    if (reset_len != total) {
        if (expected != NULL) *expected = total;
        if (actual != NULL) *actual = reset_len;
        kvbm__set_error("Reset pool count mismatch: expected %" PRIu32 ", got %" PRIu64,
                        total, reset_len);
        return KVBM_ERESET_MISMATCH;
    }
    return KVBM_OK;
}

uint64_t kvbm__store_available(struct kvbm_store *s)
{
    kvbm__lock(&s->lock);
    uint64_t v = (uint64_t)s->ring.len + s->inactive.ops->len(s->inactive.ctx);
    kvbm__unlock(&s->lock);
    return v;
}

uint64_t kvbm__store_reset_len(struct kvbm_store *s)
{
    kvbm__lock(&s->lock);
    uint64_t v = s->ring.len;
    kvbm__unlock(&s->lock);
    return v;
}

uint64_t kvbm__store_inactive_len(struct kvbm_store *s)
{
    kvbm__lock(&s->lock);
    uint64_t v = s->inactive.ops->len(s->inactive.ctx);
    kvbm__unlock(&s->lock);
    return v;
}

bool kvbm__store_has_inactive(struct kvbm_store *s, kvbm_plh h)
{
    kvbm__lock(&s->lock);
    bool v = s->inactive.ops->has(s->inactive.ctx, h);
    kvbm__unlock(&s->lock);
    return v;
}

kvbm_status kvbm__store_check(struct kvbm_store *s)
{
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    uint8_t *seen = calloc(s->n, 1);
    if (seen == NULL) return KVBM_ENOMEM;
    uint64_t cnt[6] = { 0 };
    char why[160];
    why[0] = '\0';
    kvbm__lock(&s->lock);
    for (uint32_t k = 0; k < s->ring.len && !why[0]; k++) {
        uint32_t id = kvbm__ring_at(&s->ring, k);
        if (id >= s->n || seen[id] || s->slots[id].state != KVBM__RESET)
            snprintf(why, sizeof why, "I1: reset FIFO entry %" PRIu32 " (slot %" PRIu32 ") is not a unique reset slot", k, id);
        else seen[id] = 1;
    }
    for (uint32_t id = 0; id < s->n && !why[0]; id++) {
        struct kvbm_slot *sl = &s->slots[id];
        uint32_t strong = atomic_load_explicit(&sl->strong, memory_order_relaxed);
        if (sl->state > KVBM__INACTIVE) {
            snprintf(why, sizeof why, "slot %" PRIu32 " has an invalid state %u", id, sl->state);
            break;
        }
        cnt[sl->state]++;
        switch (sl->state) {
        case KVBM__RESET:
            if (!seen[id]) snprintf(why, sizeof why, "I1: reset slot %" PRIu32 " missing from the FIFO", id);
            break;
        case KVBM__PRIMARY:
            if (kvbm__index_find(&s->index, s->slots, sl->hash) != id)
                snprintf(why, sizeof why, "I2: primary slot %" PRIu32 " not indexed by its hash", id);
            else if (strong == 0 || sl->reg == NULL)
                snprintf(why, sizeof why, "primary slot %" PRIu32 " has strong 0 or no handle", id);
            break;
        case KVBM__DUPLICATE:
            if (strong == 0 || sl->reg == NULL || sl->keepalive >= s->n ||
                s->slots[sl->keepalive].state != KVBM__PRIMARY ||
                !kvbm_plh_eq(s->slots[sl->keepalive].hash, sl->hash))
                snprintf(why, sizeof why, "duplicate slot %" PRIu32 " is inconsistent", id);
            break;
        case KVBM__INACTIVE:
            if (!s->inactive.ops->has(s->inactive.ctx, sl->hash))
                snprintf(why, sizeof why, "I1: inactive slot %" PRIu32 " missing from the backend", id);
            else if (kvbm__index_find(&s->index, s->slots, sl->hash) != KVBM__NIL)
                snprintf(why, sizeof why, "I3: inactive slot %" PRIu32 " has a primary for its hash", id);
            else if (strong != 0 || sl->reg == NULL)
                snprintf(why, sizeof why, "inactive slot %" PRIu32 " has strong refs or no handle", id);
            break;
        default:
            break;
        }
    }
    if (!why[0]) {
        size_t ilen = s->inactive.ops->len(s->inactive.ctx);
        uint64_t refs = atomic_load_explicit(&s->refs, memory_order_relaxed);
        if (s->index.len != cnt[KVBM__PRIMARY])
            snprintf(why, sizeof why, "I2: active index holds %" PRIu32 " entries for %" PRIu64 " primaries",
                     s->index.len, cnt[KVBM__PRIMARY]);
        else if (ilen != cnt[KVBM__INACTIVE])
            snprintf(why, sizeof why, "I1: backend holds %zu entries for %" PRIu64 " inactive slots",
                     ilen, cnt[KVBM__INACTIVE]);
        else if (s->ring.len != cnt[KVBM__RESET])
            snprintf(why, sizeof why, "I4: FIFO length %" PRIu32 " for %" PRIu64 " reset slots",
                     s->ring.len, cnt[KVBM__RESET]);
        else if (!s->orphan && s->parked != cnt[KVBM__INACTIVE])
            snprintf(why, sizeof why, "%" PRIu64 " parked store refs for %" PRIu64 " inactive slots",
                     s->parked, cnt[KVBM__INACTIVE]);
        else if (refs < cnt[KVBM__MUTABLE] + cnt[KVBM__STAGED] + cnt[KVBM__PRIMARY] +
                        cnt[KVBM__DUPLICATE] + s->parked)
            snprintf(why, sizeof why, "store refcount %" PRIu64 " below the number of held slots", refs);
        else if (s->gauges_valid) {
            int64_t g_reset = kvbm__metric_get(s->metrics, KVBM_METRIC_reset_pool_size);
            int64_t g_inact = kvbm__metric_get(s->metrics, KVBM_METRIC_inactive_pool_size);
            int64_t g_mut = kvbm__metric_get(s->metrics, KVBM_METRIC_inflight_mutable);
            if (g_reset != (int64_t)cnt[KVBM__RESET] || g_inact != (int64_t)cnt[KVBM__INACTIVE] ||
                g_mut != (int64_t)cnt[KVBM__MUTABLE])
                snprintf(why, sizeof why,
                         "I5: gauges reset/inactive/inflight_mutable = %" PRId64 "/%" PRId64 "/%" PRId64
                         ", slots %" PRIu64 "/%" PRIu64 "/%" PRIu64,
                         g_reset, g_inact, g_mut, cnt[KVBM__RESET], cnt[KVBM__INACTIVE], cnt[KVBM__MUTABLE]);
        }
    }
    kvbm__unlock(&s->lock);
    free(seen);
    if (why[0]) {
        quiet_poison(s, why);
        return KVBM_EPOISONED;
    }
    return KVBM_OK;
}

/* ==== mutable blocks ===================================================================== */

uint32_t kvbm_mutable_block_id(const kvbm_mutable *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_MUTABLE);
    return sl != NULL ? sl->id : UINT32_MAX;
}

uint32_t kvbm_mutable_block_size(const kvbm_mutable *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_MUTABLE);
    return sl != NULL ? kvbm__store_of(sl)->block_size : 0;
}

kvbm_mgr_id kvbm_mutable_manager_id(const kvbm_mutable *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_MUTABLE);
    return sl != NULL ? kvbm__store_of(sl)->id : KVBM_MANAGER_ID_NULL;
}

kvbm_status kvbm_mutable_stage(kvbm_mutable *b, kvbm_plh h, uint32_t block_size, kvbm_complete **out,
                               uint32_t *expected, uint32_t *actual)
{
    struct kvbm_slot *sl = h_slot(b, HK_MUTABLE);
    if (sl == NULL) return bad_handle("kvbm_mutable_stage", "NULL, released or not a mutable block");
    if (out == NULL) return bad_handle("kvbm_mutable_stage", "out is NULL");
    struct kvbm_store *s = kvbm__store_of(sl);
    if (block_size != s->block_size) {
        if (expected != NULL) *expected = s->block_size;
        if (actual != NULL) *actual = block_size;
        kvbm__set_error("Block size mismatch: expected %" PRIu32 " tokens, got %" PRIu32,
                        s->block_size, block_size);
        return KVBM_ESIZE;
    }
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    struct hwbuf hb;
    KVBM_TRY(hwbuf_init(&hb, 1));
    kvbm__lock(&s->lock);
    sl->state = KVBM__STAGED;
    sl->hash = h;
    kvbm__unlock(&s->lock);
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -1);
    kvbm__metric_add(s->metrics, KVBM_METRIC_stagings, 1);
    h_retire(b);
    *out = (kvbm_complete *)h_make(&hb, sl, HK_COMPLETE);
    hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_mutable_stage_many(kvbm_mutable *const *in, const kvbm_plh *hashes, size_t n,
                                    uint32_t block_size, kvbm_complete **out)
{
    static const char fn[] = "kvbm_mutable_stage_many";
    if (n == 0) return KVBM_OK;
    if (in == NULL || hashes == NULL || out == NULL) return bad_handle(fn, "NULL array");
    /* Validate every input before changing anything (the caller owns the mutable slots,
     * so their fields are stable; `mark` detects the same block passed twice). */
    struct kvbm_store *s = NULL;
    size_t bad = n;
    const char *why = NULL;
    for (size_t i = 0; i < n; i++) {
        struct kvbm_slot *sl = h_slot(in[i], HK_MUTABLE);
        if (sl == NULL) { bad = i; why = "NULL, released or not a mutable block"; break; }
        if (s == NULL) s = kvbm__store_of(sl);
        else if (kvbm__store_of(sl) != s) { bad = i; why = "blocks belong to different managers"; break; }
        if (sl->mark) { bad = i; why = "the same block is passed twice"; break; }
        sl->mark = 1;
    }
    kvbm_status st = KVBM_OK;
    if (bad < n) {
        kvbm__set_error("%s: input %zu: %s", fn, bad, why);
        st = KVBM_EINVAL;
    } else if (block_size != s->block_size) {
        kvbm__set_error("Block size mismatch: expected %" PRIu32 " tokens, got %" PRIu32,
                        s->block_size, block_size);
        st = KVBM_ESIZE;
    } else if (kvbm__store_is_poisoned(s)) {
        st = KVBM_EPOISONED;
    }
    struct hwbuf hb;
    if (st == KVBM_OK) st = hwbuf_init(&hb, n);
    if (st != KVBM_OK) {
        for (size_t i = 0; i < (bad < n ? bad : n); i++) h_raw(in[i])->mark = 0;
        return st;
    }
    /* one pass under the lock: transition, clear the validation mark, output handle */
    kvbm__lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        struct kvbm_slot *sl = h_raw(in[i]);
        sl->state = KVBM__STAGED;
        sl->hash = hashes[i];
        sl->mark = 0;
#if !KVBM_CHECKED_HANDLES
        out[i] = (kvbm_complete *)h_make(&hb, sl, HK_COMPLETE);
#endif
    }
    kvbm__unlock(&s->lock);
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -(int64_t)n);
    kvbm__metric_add(s->metrics, KVBM_METRIC_stagings, (int64_t)n);
#if KVBM_CHECKED_HANDLES
    for (size_t i = 0; i < n; i++) { /* quarantine pushes take a leaf lock: after unlock */
        struct kvbm_slot *sl = h_raw(in[i]);
        h_retire(in[i]);
        out[i] = (kvbm_complete *)h_make(&hb, sl, HK_COMPLETE);
    }
#endif
    hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_mutable_complete(kvbm_mutable *b, const struct kvbm_token_block *tb,
                                  kvbm_complete **out, uint32_t *expected, uint32_t *actual)
{
    struct kvbm_slot *sl = h_slot(b, HK_MUTABLE);
    if (sl == NULL) return bad_handle("kvbm_mutable_complete", "NULL, released or not a mutable block");
    if (tb == NULL) return bad_handle("kvbm_mutable_complete", "token block is NULL");
    return kvbm_mutable_stage(b, kvbm_token_block_plh(tb), kvbm_token_block_size(tb), out,
                              expected, actual);
}

/* Mutable/Staged -> Reset at the back of the FIFO. */
static void owned_to_reset(struct kvbm_store *s, struct kvbm_slot *sl, bool was_mutable)
{
    kvbm__lock(&s->lock);
    sl->state = KVBM__RESET;
    kvbm__ring_push_back(&s->ring, sl->id);
    kvbm__unlock(&s->lock);
    kvbm__metric_add(s->metrics, KVBM_METRIC_reset_pool_size, 1);
    if (was_mutable) kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -1);
}

kvbm_status kvbm_mutable_release(kvbm_mutable *b)
{
    if (b == NULL) return KVBM_OK;
    struct kvbm_slot *sl = h_slot(b, HK_MUTABLE);
    if (sl == NULL) return bad_handle("kvbm_mutable_release", "released or not a mutable block");
    struct kvbm_store *s = kvbm__store_of(sl);
    h_retire(b);
    owned_to_reset(s, sl, true);
    kvbm__store_unref(s, 1);
    return KVBM_OK;
}

int kvbm_mutable_describe(const kvbm_mutable *b, char *buf, size_t len)
{
    struct kvbm_slot *sl = h_slot(b, HK_MUTABLE);
    if (sl == NULL) return snprintf(buf, len, "MutableBlock { invalid }");
    struct kvbm_store *s = kvbm__store_of(sl);
    return snprintf(buf, len, "MutableBlock { block_id: %" PRIu32 ", block_size: %" PRIu32
                    ", manager_id: %" PRIu64 " }", sl->id, s->block_size, s->id);
}

/* ==== complete blocks ==================================================================== */

uint32_t kvbm_complete_block_id(const kvbm_complete *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_COMPLETE);
    return sl != NULL ? sl->id : UINT32_MAX;
}

uint32_t kvbm_complete_block_size(const kvbm_complete *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_COMPLETE);
    return sl != NULL ? kvbm__store_of(sl)->block_size : 0;
}

kvbm_plh kvbm_complete_seq_hash(const kvbm_complete *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_COMPLETE);
    kvbm_plh z = { 0, 0 };
    return sl != NULL ? sl->hash : z;
}

kvbm_status kvbm_complete_reset(kvbm_complete *b, kvbm_mutable **out)
{
    struct kvbm_slot *sl = h_slot(b, HK_COMPLETE);
    if (sl == NULL) return bad_handle("kvbm_complete_reset", "NULL, released or not a complete block");
    if (out == NULL) return bad_handle("kvbm_complete_reset", "out is NULL");
    struct kvbm_store *s = kvbm__store_of(sl);
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    struct hwbuf hb;
    KVBM_TRY(hwbuf_init(&hb, 1));
    kvbm__lock(&s->lock);
    sl->state = KVBM__MUTABLE;
    sl->reset_on_release = s->default_reset;
    kvbm__unlock(&s->lock);
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, 1);
    h_retire(b);
    *out = (kvbm_mutable *)h_make(&hb, sl, HK_MUTABLE);
    hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_complete_release(kvbm_complete *b)
{
    if (b == NULL) return KVBM_OK;
    struct kvbm_slot *sl = h_slot(b, HK_COMPLETE);
    if (sl == NULL) return bad_handle("kvbm_complete_release", "released or not a complete block");
    struct kvbm_store *s = kvbm__store_of(sl);
    h_retire(b);
    owned_to_reset(s, sl, false);
    kvbm__store_unref(s, 1);
    return KVBM_OK;
}

/* ==== immutable blocks =================================================================== */

uint32_t kvbm_block_id(const kvbm_block *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    return sl != NULL ? sl->id : UINT32_MAX;
}

kvbm_plh kvbm_block_seq_hash(const kvbm_block *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    kvbm_plh z = { 0, 0 };
    return sl != NULL ? sl->hash : z;
}

kvbm_mgr_id kvbm_block_manager_id(const kvbm_block *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    return sl != NULL ? kvbm__store_of(sl)->id : KVBM_MANAGER_ID_NULL;
}

bool kvbm_block_is_duplicate(const kvbm_block *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    return sl != NULL && sl->state == KVBM__DUPLICATE;
}

uint32_t kvbm_block_use_count(const kvbm_block *b)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    return sl != NULL ? atomic_load_explicit(&sl->strong, memory_order_relaxed) : 0;
}

/* One more strong ref on a held slot, wrapped as @kind. */
static kvbm_status slot_clone(struct kvbm_slot *sl, int kind, void **out)
{
    struct hwbuf hb;
    KVBM_TRY(hwbuf_init(&hb, 1));
    atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
    *out = h_make(&hb, sl, kind);
    hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_block_clone(kvbm_block *b, kvbm_block **out)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    if (sl == NULL) return bad_handle("kvbm_block_clone", "NULL, released or not an immutable block");
    if (out == NULL) return bad_handle("kvbm_block_clone", "out is NULL");
    void *o;
    KVBM_TRY(slot_clone(sl, HK_BLOCK, &o));
    kvbm__metric_add(kvbm__store_of(sl)->metrics, KVBM_METRIC_inflight_immutable, 1);
    *out = o;
    return KVBM_OK;
}

static __attribute__((noinline)) kvbm_status block_release_slow(kvbm_block *b, struct kvbm_slot *sl,
                                                                struct kvbm_store *s)
{
    kvbm__metric_add_slow(s->metrics, KVBM_METRIC_inflight_immutable, -1);
    h_retire(b);
    return slot_release(s, sl);
}

kvbm_status kvbm_block_release(kvbm_block *b)
{
    if (b == NULL) return KVBM_OK;
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    if (sl == NULL) return bad_handle("kvbm_block_release", "released or not an immutable block");
    struct kvbm_store *s = kvbm__store_of(sl);
    /* The gauge first: once our reference is gone the store (and its metrics) may be
     * freed by another thread's final release after kvbm_manager_destroy(). Every call
     * below is a tail call, so the lock-free path needs no stack frame. */
    if (KVBM_UNLIKELY(!kvbm__metric_try_add(s->metrics, KVBM_METRIC_inflight_immutable, -1)))
        return block_release_slow(b, sl, s);
    h_retire(b);
    return slot_release(s, sl);
}

kvbm_status kvbm_block_release_many(kvbm_block *const *b, size_t n)
{
    if (n == 0) return KVBM_OK;
    if (b == NULL) return bad_handle("kvbm_block_release_many", "NULL array");
    size_t bad = n;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        if (h_slot(b[i], HK_BLOCK) == NULL) { bad = i; break; }
#if KVBM_CHECKED_HANDLES
        struct hw *w = (struct hw *)b[i];
        if (w->pend) { bad = i; break; }
        w->pend = 1;
#endif
    }
#if KVBM_CHECKED_HANDLES
    for (size_t i = 0; i < (bad < n ? bad : n); i++)
        if (b[i] != NULL) ((struct hw *)b[i])->pend = 0;
#endif
    if (bad < n) {
        kvbm__set_error("kvbm_block_release_many: handle %zu is released, repeated or not an immutable block", bad);
        return KVBM_EINVAL;
    }

    struct kvbm_store *cur = NULL;
    bool locked = false;
    struct post p;
    post_init(&p);
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        struct kvbm_slot *sl = h_raw(b[i]);
        struct kvbm_store *s = kvbm__store_of(sl);
        if (s != cur) {
            if (cur != NULL) {
                if (locked) { post_locked_end(cur, &p); kvbm__unlock(&cur->lock); locked = false; }
                post_finish(cur, &p);
                post_init(&p);
            }
            cur = s;
            /* The gauge for the whole run of this store first, while every handle of the
             * run still holds its reference (the store may go away with the last one). */
            int64_t run = 0;
            for (size_t j = i; j < n; j++) {
                if (b[j] == NULL) continue;
                if (kvbm__store_of(h_raw(b[j])) != s) break;
                run++;
            }
            kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, -run);
        }
        h_retire(b[i]);
        uint32_t old = atomic_load_explicit(&sl->strong, memory_order_relaxed);
        bool done = false;
        while (!locked && old > 1) {
            if (atomic_compare_exchange_weak_explicit(&sl->strong, &old, old - 1,
                                                      memory_order_release, memory_order_relaxed)) {
                done = true;
                break;
            }
        }
        if (done) continue;
        if (!locked) { kvbm__lock(&s->lock); locked = true; }
        else if (!post_room(&p, 2)) post_cycle(s, &p);
        if (strong_dec_locked(sl)) drop_locked(s, sl, &p);
    }
    if (cur != NULL) {
        if (locked) { post_locked_end(cur, &p); kvbm__unlock(&cur->lock); }
        post_finish(cur, &p);
    }
    return KVBM_OK;
}

kvbm_status kvbm_block_registration_handle(kvbm_block *b, kvbm_handle **out)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    if (sl == NULL) return bad_handle("kvbm_block_registration_handle", "NULL, released or not an immutable block");
    if (out == NULL) return bad_handle("kvbm_block_registration_handle", "out is NULL");
    *out = kvbm_handle_clone(sl->reg);
    return KVBM_OK;
}

kvbm_status kvbm_block_set_evict_on_reset(kvbm_block *b, bool evict)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    if (sl == NULL) return bad_handle("kvbm_block_set_evict_on_reset", "NULL, released or not an immutable block");
    struct kvbm_store *s = kvbm__store_of(sl);
    kvbm__lock(&s->lock);
    sl->reset_on_release = evict;
    kvbm__unlock(&s->lock);
    return KVBM_OK;
}

static void weak_free(struct kvbm_weak *w)
{
    w->magic = HW_DEAD;
#if KVBM_CHECKED_HANDLES
    quarantine_push(w->store, w);
#else
    free(w);
#endif
}

kvbm_status kvbm_block_downgrade(kvbm_block *b, kvbm_weak **out)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    if (sl == NULL) return bad_handle("kvbm_block_downgrade", "NULL, released or not an immutable block");
    if (out == NULL) return bad_handle("kvbm_block_downgrade", "out is NULL");
    struct kvbm_weak *w = malloc(sizeof *w);
    if (w == NULL) return KVBM_ENOMEM;
    struct kvbm_store *s = kvbm__store_of(sl);
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    w->magic = HW_MAGIC(HK_WEAK);
    w->id = sl->id;
    w->gen = sl->gen;
    w->pad_ = 0;
    w->store = s;
    w->hash = sl->hash;
    w->reg = kvbm_handle_clone(sl->reg);
    *out = w;
    return KVBM_OK;
}

kvbm_status kvbm_block_pin(kvbm_block *b, kvbm_pin **out)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    if (sl == NULL) return bad_handle("kvbm_block_pin", "NULL, released or not an immutable block");
    if (out == NULL) return bad_handle("kvbm_block_pin", "out is NULL");
    void *o;
    KVBM_TRY(slot_clone(sl, HK_PIN, &o));
    *out = o;
    return KVBM_OK;
}

int kvbm_block_describe(const kvbm_block *b, char *buf, size_t len)
{
    struct kvbm_slot *sl = h_slot(b, HK_BLOCK);
    if (sl == NULL) return snprintf(buf, len, "ImmutableBlock { invalid }");
    char hex[KVBM_PLH_HEX_LEN];
    return snprintf(buf, len, "ImmutableBlock { block_id: %" PRIu32 ", sequence_hash: %s, manager_id: %"
                    PRIu64 " }", sl->id, kvbm_plh_to_hex(sl->hash, hex), kvbm__store_of(sl)->id);
}

/* ==== weak blocks ======================================================================== */

static struct kvbm_weak *weak_check(const kvbm_weak *w)
{
    if (w == NULL || w->magic != HW_MAGIC(HK_WEAK)) return NULL;
    return (struct kvbm_weak *)w;
}

kvbm_status kvbm_weak_upgrade(kvbm_weak *wk, kvbm_block **out)
{
    struct kvbm_weak *w = weak_check(wk);
    if (w == NULL) return bad_handle("kvbm_weak_upgrade", "NULL or released weak block");
    if (out == NULL) return bad_handle("kvbm_weak_upgrade", "out is NULL");
    struct kvbm_store *s = w->store;
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    struct hwbuf hb;
    KVBM_TRY(hwbuf_init(&hb, 1));
    struct post p;
    post_init(&p);
    kvbm__lock(&s->lock);
    struct kvbm_slot *sl = &s->slots[w->id];
    if ((sl->state == KVBM__PRIMARY || sl->state == KVBM__DUPLICATE) && sl->gen == w->gen)
        atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
    else
        sl = acquire_locked(s, w->hash, &p);
    post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    post_flush(s, &p);
    if (sl == NULL) {
        hwbuf_fini(&hb);
        return kvbm__store_is_poisoned(s) ? KVBM_EPOISONED : KVBM_ENOENT;
    }
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, 1);
    *out = (kvbm_block *)h_make(&hb, sl, HK_BLOCK);
    hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_weak_clone(kvbm_weak *wk, kvbm_weak **out)
{
    struct kvbm_weak *w = weak_check(wk);
    if (w == NULL) return bad_handle("kvbm_weak_clone", "NULL or released weak block");
    if (out == NULL) return bad_handle("kvbm_weak_clone", "out is NULL");
    struct kvbm_weak *c = malloc(sizeof *c);
    if (c == NULL) return KVBM_ENOMEM;
    *c = *w;
    atomic_fetch_add_explicit(&w->store->refs, 1, memory_order_relaxed);
    c->reg = kvbm_handle_clone(w->reg);
    *out = c;
    return KVBM_OK;
}

void kvbm_weak_release(kvbm_weak *wk)
{
    struct kvbm_weak *w = weak_check(wk);
    if (w == NULL) {
        if (wk != NULL) kvbm__set_error("kvbm_weak_release: released or invalid weak block");
        return;
    }
    struct kvbm_store *s = w->store;
    kvbm_handle_release(w->reg);
    weak_free(w);
    kvbm__store_unref(s, 1);
}

kvbm_plh kvbm_weak_seq_hash(const kvbm_weak *wk)
{
    struct kvbm_weak *w = weak_check(wk);
    kvbm_plh z = { 0, 0 };
    return w != NULL ? w->hash : z;
}

int kvbm_weak_describe(const kvbm_weak *wk, char *buf, size_t len)
{
    struct kvbm_weak *w = weak_check(wk);
    if (w == NULL) return snprintf(buf, len, "WeakBlock { invalid }");
    char hex[KVBM_PLH_HEX_LEN];
    return snprintf(buf, len, "WeakBlock { sequence_hash: %s }", kvbm_plh_to_hex(w->hash, hex));
}

/* ==== lifecycle pins ===================================================================== */

kvbm_status kvbm_pin_clone(kvbm_pin *p, kvbm_pin **out)
{
    struct kvbm_slot *sl = h_slot(p, HK_PIN);
    if (sl == NULL) return bad_handle("kvbm_pin_clone", "NULL, released or not a pin");
    if (out == NULL) return bad_handle("kvbm_pin_clone", "out is NULL");
    void *o;
    KVBM_TRY(slot_clone(sl, HK_PIN, &o));
    *out = o;
    return KVBM_OK;
}

kvbm_status kvbm_pin_release(kvbm_pin *p)
{
    if (p == NULL) return KVBM_OK;
    struct kvbm_slot *sl = h_slot(p, HK_PIN);
    if (sl == NULL) return bad_handle("kvbm_pin_release", "released or not a pin");
    struct kvbm_store *s = kvbm__store_of(sl);
    h_retire(p);
    return slot_release(s, sl);
}

kvbm_mgr_id kvbm_pin_manager_id(const kvbm_pin *p)
{
    struct kvbm_slot *sl = h_slot(p, HK_PIN);
    return sl != NULL ? kvbm__store_of(sl)->id : KVBM_MANAGER_ID_NULL;
}

uint32_t kvbm_pin_block_id(const kvbm_pin *p)
{
    struct kvbm_slot *sl = h_slot(p, HK_PIN);
    return sl != NULL ? sl->id : UINT32_MAX;
}

kvbm_plh kvbm_pin_seq_hash(const kvbm_pin *p)
{
    struct kvbm_slot *sl = h_slot(p, HK_PIN);
    kvbm_plh z = { 0, 0 };
    return sl != NULL ? sl->hash : z;
}

uint32_t kvbm_pin_use_count(const kvbm_pin *p)
{
    struct kvbm_slot *sl = h_slot(p, HK_PIN);
    return sl != NULL ? atomic_load_explicit(&sl->strong, memory_order_relaxed) : 0;
}

kvbm_status kvbm_pin_registration_handle(kvbm_pin *p, kvbm_handle **out)
{
    struct kvbm_slot *sl = h_slot(p, HK_PIN);
    if (sl == NULL) return bad_handle("kvbm_pin_registration_handle", "NULL, released or not a pin");
    if (out == NULL) return bad_handle("kvbm_pin_registration_handle", "out is NULL");
    *out = kvbm_handle_clone(sl->reg);
    return KVBM_OK;
}

int kvbm_pin_describe(const kvbm_pin *p, char *buf, size_t len)
{
    struct kvbm_slot *sl = h_slot(p, HK_PIN);
    if (sl == NULL) return snprintf(buf, len, "LifecyclePin { invalid }");
    char hex[KVBM_PLH_HEX_LEN];
    return snprintf(buf, len, "LifecyclePin { manager_id: %" PRIu64 ", block_id: %" PRIu32
                    ", sequence_hash: %s }", kvbm__store_of(sl)->id, sl->id, kvbm_plh_to_hex(sl->hash, hex));
}
