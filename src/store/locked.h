/* src/store/locked.h - slot helpers run under the store lock, shared inside src/store/.
 *
 * Internal to src/store/ (store.c, ops.c, handles.c). Header-static (same specifiers as in
 * the single-file store) so that the hot paths inline as before; kvbm__slot_release() must stay
 * inline: kvbm_block_release's lock-free path is a frameless leaf that tail-calls
 * kvbm__store_slot_release_locked() (store.c) only for the final release; kvbm__lookup_locked()
 * is always_inline: gcc stopped inlining it into the match loop once kvbm__store_match grew
 * (the sketch-cell touches), which cost the active-hit cell ~30 instructions per block.
 */
#ifndef KVBM_STORE_LOCKED_H
#define KVBM_STORE_LOCKED_H

#include "store/store_int.h"
#include "store/post.h"

/* ==== locked helpers ===================================================================== */

/* An Inactive slot becomes held (Primary or Mutable): it needs a store ref. */
static inline void kvbm__unpark_locked(struct kvbm__store *s, struct kvbm__post *p)
{
    if (KVBM_LIKELY(!s->orphan)) s->parked--;
    else p->addref++;
}

/* @n held slots become Inactive: their store refs are parked (or dropped once orphaned). */
static inline void kvbm__park_locked(struct kvbm__store *s, struct kvbm__post *p, size_t n)
{
    if (KVBM_LIKELY(!s->orphan)) s->parked += n;
    else p->unref += n;
}

/* By id (s->byid): the Inactive slot indexed under @h, or KVBM__NIL (not cached here, or
 * the indexed slot is Primary). Lock held. */
static inline uint32_t kvbm__indexed_inactive(struct kvbm__store *s, kvbm_plh h)
{
    uint32_t id = kvbm__active_index_find(&s->index, s->slots, h);
    return id != KVBM__NIL && s->slots[id].state == KVBM__INACTIVE ? id : KVBM__NIL;
}

/* By id: the indexed slot @sl is not Primary; it must be Inactive and leaves the backend
 * (true), else the store is poisoned (false). Out of line: the active hit stays compact. */
static __attribute__((noinline, unused)) bool kvbm__unindexed_inactive_take(struct kvbm__store *s,
                                                                            struct kvbm__slot *sl)
{
    if (KVBM_UNLIKELY(!s->byid || sl->state != KVBM__INACTIVE ||
                      !s->inactive.ops->remove_id(s->inactive.ctx, sl->id))) {
        kvbm__store_poison(s, "index points at a slot that is neither primary nor inactive");
        return false;
    }
    return true;
}

/* The hash's current primary, WITHOUT taking a strong ref: active hit, or resurrection
 * from the inactive pool (Inactive -> Primary with a new inner and strong == 0, visible
 * only under the lock, so the caller must add its ref before unlocking). NULL on a total
 * miss or poison. */
static inline __attribute__((always_inline, unused)) struct kvbm__slot *
kvbm__lookup_locked_hv(struct kvbm__store *s, kvbm_plh h, uint64_t hv, struct kvbm__post *p)
{
    uint32_t id = kvbm__active_index_find_hv(&s->index, s->slots, h, hv);
    struct kvbm__slot *sl;
    if (id != KVBM__NIL) {
        sl = &s->slots[id];
        if (KVBM_LIKELY(sl->state == KVBM__PRIMARY)) return sl;
        /* by id (store_int.h, I2): an indexed Inactive slot; the backend drops that id */
        if (KVBM_UNLIKELY(!kvbm__unindexed_inactive_take(s, sl))) return NULL;
    } else {
        if (!s->find_inactive(s->inactive.ctx, h, false, &id)) return NULL;
        if (KVBM_UNLIKELY(id >= s->n || s->slots[id].state != KVBM__INACTIVE ||
                          !kvbm_plh_eq(s->slots[id].hash, h))) {
            kvbm__store_poison(s, "inactive backend returned a slot that is not inactive");
            return NULL;
        }
        sl = &s->slots[id];
        kvbm__active_index_insert_hv(&s->index, id, hv);
    }
    sl->state = KVBM__PRIMARY;
    sl->gen++;
    p->d_inactive--;
    kvbm__unpark_locked(s, p);
    return sl;
}

/* kvbm__lookup_locked_hv() with @hv = kvbm_plh_hash64(h). */
static inline __attribute__((always_inline, unused)) struct kvbm__slot *
kvbm__lookup_locked(struct kvbm__store *s, kvbm_plh h, struct kvbm__post *p)
{
    return kvbm__lookup_locked_hv(s, h, kvbm_plh_hash64(h), p);
}

/* kvbm__lookup_locked() plus one strong ref for the caller. */
static __attribute__((unused)) struct kvbm__slot *kvbm__acquire_locked(struct kvbm__store *s, kvbm_plh h,
                                                                 struct kvbm__post *p)
{
    struct kvbm__slot *sl = kvbm__lookup_locked(s, h, p);
    if (sl != NULL) atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
    return sl;
}

/* Drop one strong ref while holding the store lock; true if it was the last one. At 1 no
 * other reference exists (clones need one, lookups need the lock), so a plain store
 * suffices; otherwise other holders may decrement concurrently (lock-free CAS). */
static inline bool kvbm__strong_dec_locked(struct kvbm__slot *sl)
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

/* Would a final release of @sl take kvbm__drop_locked's inline path (a Primary slot going
 * Inactive through the backend's plain insert: no reset_on_release, no sketch cells)? That
 * path defers no work (no room in a struct kvbm__post needed). Lock held, the caller holds
 * a strong ref: the answer stays valid until the lock is released. */
static inline bool kvbm__drop_is_plain(const struct kvbm__store *s, const struct kvbm__slot *sl)
{
    return sl->state == KVBM__PRIMARY && !sl->reset_on_release && s->tcells == NULL;
}

/* kvbm__store_drop_locked() with its common case inline (release_many's loop), @plain =
 * kvbm__drop_is_plain(s, sl) computed in this lock hold (false is always safe).
 * Everything else, and every failure, takes the out-of-line function, which checks the
 * same things in the same order. */
static inline void kvbm__drop_locked_p(struct kvbm__store *s, struct kvbm__slot *sl, struct kvbm__post *p,
                                       bool plain)
{
    if (KVBM_LIKELY(plain && (s->byid || kvbm__active_index_remove(&s->index, s->slots, sl->id)))) {
        sl->state = KVBM__INACTIVE;
        if (KVBM_UNLIKELY(s->inactive.ops->insert(s->inactive.ctx, sl->hash, sl->id) != KVBM_OK)) {
            kvbm__store_poison(s, "inactive backend rejected an insert");
            return;
        }
        p->d_inactive++;
        kvbm__park_locked(s, p, 1);
        return;
    }
    kvbm__store_drop_locked(s, sl, p);
}

/* The tail of kvbm__drop_locked_p's plain path for a run of slots, once the backend has
 * inserted @k of the run's @n slots: a refusal poisons the store, as a refused insert
 * does (the others are still inserted and parked). Lock held; returns 0 (the run's new
 * length). */
static inline size_t kvbm__run_inserted(struct kvbm__store *s, size_t k, size_t n, struct kvbm__post *p)
{
    if (KVBM_UNLIKELY(k != n)) kvbm__store_poison(s, "inactive backend rejected an insert");
    p->d_inactive += (int64_t)k;
    kvbm__park_locked(s, p, k);
    return 0;
}

/* A run of plain final releases (kvbm_block_release_many), in release order, each slot
 * Primary just set Inactive, appended to the backend at once. By id (the backend has
 * insert_ids): ids[0..n), the slots stay indexed. */
static inline size_t kvbm__ins_flush(struct kvbm__store *s, const uint32_t *ids, size_t n,
                                     struct kvbm__post *p)
{
    return kvbm__run_inserted(s, s->inactive.ops->insert_ids(s->inactive.ctx, ids, n), n, p);
}

/* Not by id (the backend has its own hash index and insert_pairs): pairs[0..n) = (hash,
 * id) of slots already removed from the active index. */
static inline size_t kvbm__pairs_flush(struct kvbm__store *s, const kvbm__pair *pairs, size_t n,
                                       struct kvbm__post *p)
{
    return kvbm__run_inserted(s, s->inactive.ops->insert_pairs(s->inactive.ctx, pairs, n), n, p);
}

static inline void kvbm__drop_locked(struct kvbm__store *s, struct kvbm__slot *sl, struct kvbm__post *p)
{
    kvbm__drop_locked_p(s, sl, p, kvbm__drop_is_plain(s, sl));
}

/* Drop one strong ref on @sl (the caller's handle, already retired). The lock-free
 * non-final path stays a leaf (no frame); the final one is out of line. */
static inline kvbm_status kvbm__slot_release(struct kvbm__store *s, struct kvbm__slot *sl)
{
    uint32_t old = atomic_load_explicit(&sl->strong, memory_order_relaxed);
    while (old > 1) {
        if (atomic_compare_exchange_weak_explicit(&sl->strong, &old, old - 1,
                                                  memory_order_release, memory_order_relaxed))
            return KVBM_OK;
    }
    return kvbm__store_slot_release_locked(s, sl);
}

#endif /* KVBM_STORE_LOCKED_H */
