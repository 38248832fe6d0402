/* src/store/post.h - deferred work of a store operation, done after the store lock.
 *
 * Internal to src/store/. Registry work (presence marks, handle-ref drops), gauge deltas
 * and store-ref changes are collected under the lock into a stack struct kvbm__post and
 * applied after unlock; store ref decrements come last (docs/design/store.md §3, §4).
 */
#ifndef KVBM_STORE_POST_H
#define KVBM_STORE_POST_H

#include "store/store_int.h"
#include "registry/registry_int.h"

/* ==== deferred work ===================================================================== */

#define KVBM__POST_MAX 32

struct kvbm__post {
    uint32_t     na, nd;
    uint64_t     addref;      /* applied before unlock */
    uint64_t     unref;       /* applied last */
    int64_t      d_reset, d_inactive;
    kvbm_handle *absent[KVBM__POST_MAX]; /* mark_absent, then drop the ref */
    kvbm_handle *drop[KVBM__POST_MAX];   /* drop the ref */
};

static inline void kvbm__post_init(struct kvbm__post *p)
{
    p->na = p->nd = 0;
    p->addref = p->unref = 0;
    p->d_reset = p->d_inactive = 0;
}

static inline bool kvbm__post_room(const struct kvbm__post *p, uint32_t k)
{
    return p->na + k <= KVBM__POST_MAX && p->nd + k <= KVBM__POST_MAX;
}

/* Before unlock: store refs and the pool gauges. The gauges move in the same critical
 * section as the slots they count, so kvbm_manager_check_invariants (which compares them
 * under the lock, I5) never sees a benign in-flight update as a violation. A gauge update
 * is a store to the calling thread's metrics shard (a leaf, no lock after its first use). */
static inline void kvbm__post_locked_end(struct kvbm__store *s, struct kvbm__post *p)
{
    if (p->addref) {
        atomic_fetch_add_explicit(&s->refs, p->addref, memory_order_relaxed);
        p->addref = 0;
    }
    if (p->d_reset) kvbm__metric_add(s->metrics, KVBM_METRIC_reset_pool_size, p->d_reset);
    if (p->d_inactive) kvbm__metric_add(s->metrics, KVBM_METRIC_inactive_pool_size, p->d_inactive);
    p->d_reset = p->d_inactive = 0;
}

/* After unlock: registry work (out of line: rare on the release path) ... */
static __attribute__((unused, noinline)) void kvbm__post_flush_registry(struct kvbm__store *s, struct kvbm__post *p)
{
    if (p->na) kvbm__handle_mark_absent_release_many(p->absent, p->na, s->tier);
    if (p->nd) kvbm__handle_release_many(p->drop, p->nd);
    p->na = p->nd = 0;
}

/* ... (the gauges were applied by kvbm__post_locked_end). Does not drop store refs. */
static inline void kvbm__post_flush(struct kvbm__store *s, struct kvbm__post *p)
{
    if (KVBM_UNLIKELY((p->na | p->nd) != 0)) kvbm__post_flush_registry(s, p);
}

/* After unlock, last action on @s. */
static __attribute__((unused)) void kvbm__post_finish(struct kvbm__store *s, struct kvbm__post *p)
{
    kvbm__post_flush(s, p);
    if (p->unref) kvbm__store_unref(s, p->unref);
}

/* Unlock, do the deferred registry work, relock (batches whose buffer is full). */
static __attribute__((unused)) void kvbm__post_cycle(struct kvbm__store *s, struct kvbm__post *p)
{
    kvbm__post_locked_end(s, p);
    kvbm__unlock(&s->lock);
    kvbm__post_flush(s, p);
    kvbm__lock(&s->lock);
}

#endif /* KVBM_STORE_POST_H */
