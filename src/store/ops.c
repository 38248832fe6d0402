/* src/store/ops.c - the store side of the manager operations.
 *
 * allocate, register_blocks, match_blocks, scan_matches and reset_inactive_pool, each
 * with a bounded number of store-lock sections and the registry work done after unlock
 * (docs/design/store.md §4, §5). Called by src/manager/manager.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/handle_check.h"
#include "store/post.h"
#include "store/locked.h"
#include "registry/registry_int.h"
#include "tinylfu/tinylfu_int.h"

#define MATCH_TOUCH_EARLY 64u

/* ==== manager operations ================================================================= */

#define PAIR_CHUNK 64
/* allocate_pairs' victims at most: its arrays take 48 B per victim of stack (12 KiB) */
#define PAIRS_MAX 256

/* Pull a registration handle's first line (64-byte aligned objects; refs, hash and the
 * inline presence slots live there) towards the cache ahead of the after-unlock eviction
 * epilogue (a hint: no semantic effect). */
static inline void prefetch_handle(const kvbm_handle *h)
{
    __builtin_prefetch(h, 1, 3);
}

/* Under the lock, allocate: check the r victims the backend returned and append them to
 * the eviction chain *@head..*@tail (through index.next); by id (@byid, a constant at each call:
 * one specialised loop per mode) they leave the index first. @hv[k] gets each victim's
 * hash64 (by id; the registry's table hash too). NULL, or what is broken (the caller
 * poisons). */
static inline __attribute__((always_inline)) const char *
chain_victims(struct kvbm__store *s, const kvbm__pair *pairs, size_t r, uint32_t *head,
              uint32_t *tail, uint64_t *hv, const bool byid)
{
    /* the victims' slots are cold (old blocks): start every miss before the checks */
    for (size_t k = 0; k < r; k++)
        if (KVBM_LIKELY(pairs[k].block_id < s->n)) __builtin_prefetch(&s->slots[pairs[k].block_id]);
    /* By id the backend returns ids only (backend.h): the hash is the slot's, and the
     * index bucket each victim leaves is prefetched as soon as its slot arrives. */
    if (byid)
        for (size_t k = 0; k < r; k++) {
            uint32_t id = pairs[k].block_id;
            if (KVBM_UNLIKELY(id >= s->n)) return "inactive backend evicted a slot that is not inactive";
            hv[k] = kvbm_plh_hash64(s->slots[id].hash);
            __builtin_prefetch(&s->index.buckets[hv[k] & s->index.mask], 1, 3);
        }
    for (size_t k = 0; k < r; k++) {
        uint32_t id = pairs[k].block_id;
        if (KVBM_UNLIKELY(id >= s->n || s->slots[id].state != KVBM__INACTIVE ||
                          (!byid && !kvbm_plh_eq(s->slots[id].hash, pairs[k].hash))))
            return "inactive backend evicted a slot that is not inactive";
        /* the handle is cold (an old block); its registry work runs after unlock */
        prefetch_handle(s->slots[id].reg);
        if (byid && KVBM_UNLIKELY(!kvbm__active_index_remove_hv(&s->index, id, hv[k])))
            return "evicted inactive slot missing from the index";
        s->index.next[id] = KVBM__NIL;
        if (*tail == KVBM__NIL) *head = id;
        else s->index.next[*tail] = id;
        *tail = id;
    }
    return NULL;
}

/* Under the lock, allocate's rollback: the backend broke "len >= n => allocate(n) returns
 * n". Put everything back - the chained victims from @head (by id into the index too: their
 * link is read first) and pairs[0..r) of the current chunk - unlock and fail. */
static __attribute__((cold, noinline)) kvbm_status allocate_rollback(struct kvbm__store *s, uint32_t head,
                                                                    const kvbm__pair *pairs, size_t r,
                                                                    struct kvbm__hwbuf *hb)
{
    const kvbm__inactive_ops *ops = s->inactive.ops;
    void *ctx = s->inactive.ctx;
    const bool byid = s->byid;
    for (uint32_t id = head, next; id != KVBM__NIL; id = next) {
        next = s->index.next[id];
        if (byid) kvbm__active_index_insert(&s->index, s->slots, id);
        if (ops->insert(ctx, s->slots[id].hash, id) != KVBM_OK)
            kvbm__store_poison(s, "rollback insert failed");
    }
    for (size_t k = 0; k < r; k++) /* (by id the pairs carry no hash: the slot's) */
        if (ops->insert(ctx, byid && pairs[k].block_id < s->n ? s->slots[pairs[k].block_id].hash
                                                              : pairs[k].hash,
                        pairs[k].block_id) != KVBM_OK)
            kvbm__store_poison(s, "rollback insert failed");
    kvbm__unlock(&s->lock);
    kvbm__metric_add(s->metrics, KVBM_METRIC_allocate_atomic_rollback, 1);
    kvbm__hwbuf_fini(hb);
    kvbm__set_error("kvbm_manager_allocate: inactive backend under-allocated; rolled back");
    return KVBM_EEXHAUSTED;
}

/* Under the lock, allocate's commit of the reset blocks: the first @from_reset slots of the
 * reset FIFO (in its order) become MUTABLE handles out[0..from_reset). Returns from_reset. */
static inline __attribute__((always_inline)) size_t allocate_take_reset(struct kvbm__store *s, size_t from_reset,
                                                                        kvbm_mutable **out, struct kvbm__hwbuf *hb)
{
    bool def = s->default_reset;
    for (size_t i = 0; i < from_reset; i++) {
        struct kvbm__slot *sl = &s->slots[kvbm__ring_pop_front(&s->ring)];
        sl->state = KVBM__MUTABLE;
        sl->reset_on_release = def;
        out[i] = kvbm__bh_make(hb, sl, KVBM__HK_MUTABLE);
    }
    return from_reset;
}

/* Allocate's accounting once its slots are MUTABLE: the store refs and pool gauges under the
 * lock, which it releases, then the counters. */
static inline __attribute__((always_inline)) void allocate_account_unlock(struct kvbm__store *s, size_t from_reset,
                                                                          size_t from_inactive)
{
    size_t count = from_reset + from_inactive;
    /* reset slots gain a store ref; evicted ones take over their parked ref */
    uint64_t add = from_reset;
    if (s->orphan) add += from_inactive;
    else s->parked -= from_inactive;
    if (add) atomic_fetch_add_explicit(&s->refs, add, memory_order_relaxed);
    /* the pool gauges move with the slots, under the lock (exact for the I5 check) */
    kvbm_metrics *m = s->metrics;
    if (from_reset) kvbm__metric_add(m, KVBM_METRIC_reset_pool_size, -(int64_t)from_reset);
    if (from_inactive) kvbm__metric_add(m, KVBM_METRIC_inactive_pool_size, -(int64_t)from_inactive);
    kvbm__metric_add(m, KVBM_METRIC_inflight_mutable, (int64_t)count);
    kvbm__unlock(&s->lock);

    if (from_inactive) kvbm__metric_add(m, KVBM_METRIC_evictions, (int64_t)from_inactive);
    kvbm__metric_add(m, KVBM_METRIC_allocations, (int64_t)count);
    if (from_reset) kvbm__metric_add(m, KVBM_METRIC_allocations_from_reset, (int64_t)from_reset);
}

/* kvbm__store_allocate for a backend not driven by id when at most PAIRS_MAX victims are
 * needed (every call of the replay), from the point where the lock is held and the counts
 * are known: the victims stay in pairs[] (no chain through index.next), and the one pass
 * that checks them - the checks of chain_victims, in its order, before anything changes -
 * also collects what the epilogue needs: each handle (prefetched: it is cold) and its
 * registry table hash, from the pair's hash (the slot's, once checked). Out of line: the
 * chained path (LRU's, by id) keeps its registers. */
static __attribute__((noinline)) kvbm_status allocate_pairs(struct kvbm__store *s, size_t from_reset,
                                                           size_t from_inactive, kvbm_mutable **out,
                                                           kvbm_plh *evicted, size_t *n_evicted,
                                                           struct kvbm__hwbuf *hb)
{
    kvbm__pair pairs[PAIRS_MAX];
    kvbm_handle *regs[PAIRS_MAX];
    uint64_t h64[PAIRS_MAX];
    struct kvbm__slot *sls[PAIRS_MAX];
    size_t r = 0;
    if (from_inactive) {
        r = s->inactive.ops->allocate(s->inactive.ctx, from_inactive, pairs);
        if (r < from_inactive) return allocate_rollback(s, KVBM__NIL, pairs, r, hb);
    }
    struct kvbm__slot *const slots = s->slots;
    const uint32_t n = s->n;
    for (size_t k = 0; k < r; k++) {
        uint32_t id = pairs[k].block_id;
        if (KVBM_UNLIKELY(id >= n || slots[id].state != KVBM__INACTIVE ||
                          !kvbm_plh_eq(slots[id].hash, pairs[k].hash))) {
            kvbm__store_poison(s, "inactive backend evicted a slot that is not inactive");
            kvbm__unlock(&s->lock);
            kvbm__hwbuf_fini(hb);
            return KVBM_EPOISONED;
        }
        sls[k] = &slots[id];
        regs[k] = slots[id].reg;
        prefetch_handle(regs[k]);
        h64[k] = kvbm_plh_hash64(pairs[k].hash);
    }
    /* Commit: reset blocks (FIFO order), then evicted ones (policy order). */
    bool def = s->default_reset;
    size_t i = allocate_take_reset(s, from_reset, out, hb);
    for (size_t k = 0; k < r; k++) {
        struct kvbm__slot *sl = sls[k];
        sl->state = KVBM__MUTABLE; /* its handle ref is in regs[], released after unlock */
        sl->reset_on_release = def;
        sl->reg = NULL;
        if (evicted != NULL) evicted[k] = pairs[k].hash;
        out[i++] = kvbm__bh_make(hb, sl, KVBM__HK_MUTABLE);
    }
    allocate_account_unlock(s, from_reset, from_inactive);
    /* the evicted blocks' registry work: presence -1 and the handle reference */
    if (r) kvbm__handle_mark_absent_release_many_h64(s->registry, regs, h64, r, s->tier);
    if (n_evicted != NULL) *n_evicted = r;
    kvbm__hwbuf_fini(hb);
    return KVBM_OK;
}

kvbm_status kvbm__store_allocate(struct kvbm__store *s, size_t count, kvbm_mutable **out,
                                 kvbm_plh *evicted, size_t *n_evicted)
{
    if (count == 0) {
        if (n_evicted != NULL) *n_evicted = 0;
        return KVBM_OK;
    }
    if (out == NULL) return kvbm__bad_handle("kvbm_manager_allocate", "out is NULL");
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    struct kvbm__hwbuf hb;
    const kvbm__inactive_ops *ops = s->inactive.ops;
    void *ctx = s->inactive.ctx;

    kvbm__lock(&s->lock);
    size_t inactive_len = ops->len(ctx);
    if ((size_t)s->ring.len + inactive_len < count) {
        size_t avail = (size_t)s->ring.len + inactive_len;
        kvbm__unlock(&s->lock);
        kvbm__set_error("kvbm_manager_allocate: %zu blocks requested, %zu available", count, avail);
        return KVBM_EEXHAUSTED;
    }
    /* checked builds only: wrappers are allocated once the count is known to be sane */
    if (kvbm__hwbuf_init(&hb, count) != KVBM_OK) {
        kvbm__unlock(&s->lock);
        return KVBM_ENOMEM;
    }
    size_t from_reset = count < s->ring.len ? count : s->ring.len;
    size_t from_inactive = count - from_reset;
    if (!s->byid && from_inactive <= PAIRS_MAX)
        return allocate_pairs(s, from_reset, from_inactive, out, evicted, n_evicted, &hb);

    /* Evict first into a chain through index.next (free once a victim is unindexed), so that a
     * backend under-allocation can be undone without touching the reset FIFO. */
    uint32_t head = KVBM__NIL, tail = KVBM__NIL;
    size_t got = 0;
    const bool byid = s->byid;
    kvbm__pair pairs[PAIR_CHUNK];
    /* by id, the victims' hash64 (the first PAIR_CHUNK: the epilogue's registry table
     * hashes; later chunks' are recomputed there) */
    uint64_t hv0[PAIR_CHUNK], hvx[PAIR_CHUNK];
    while (got < from_inactive) {
        size_t want = from_inactive - got;
        if (want > PAIR_CHUNK) want = PAIR_CHUNK;
        size_t r = ops->allocate(ctx, want, pairs);
        if (r < want) return allocate_rollback(s, head, pairs, r, &hb);
        const char *bad = byid ? chain_victims(s, pairs, r, &head, &tail, got == 0 ? hv0 : hvx, true)
                               : chain_victims(s, pairs, r, &head, &tail, NULL, false);
        if (KVBM_UNLIKELY(bad != NULL)) {
            kvbm__store_poison(s, bad);
            kvbm__unlock(&s->lock);
            kvbm__hwbuf_fini(&hb);
            return KVBM_EPOISONED;
        }
        got += r;
    }

    /* Commit: reset blocks (FIFO order), then evicted ones (policy order). */
    bool def = s->default_reset;
    size_t i = allocate_take_reset(s, from_reset, out, &hb);
    for (uint32_t id = head, next; id != KVBM__NIL; id = next) { /* the chain's last walk: out[] has them now */
        struct kvbm__slot *sl = &s->slots[id];
        next = s->index.next[id]; /* (left as it is: next[] of a slot in no chain is free) */
        sl->state = KVBM__MUTABLE;  /* keeps reg until we return (owned) */
        sl->reset_on_release = def;
        out[i++] = kvbm__bh_make(&hb, sl, KVBM__HK_MUTABLE);
    }
    allocate_account_unlock(s, from_reset, from_inactive);

    /* The evicted blocks' registry work, in eviction order, in chunks: presence -1 and
     * the slot's handle reference (usually the last one) via the registry's batch call. */
    kvbm_handle *regs[PAIR_CHUNK];
    uint64_t rh64[PAIR_CHUNK]; /* their registry table hashes: the registry prefetches the
                                  table slots without waiting for the cold handles */
    size_t nr = 0;
    const uint64_t *h64 = byid ? hv0 : rh64; /* by id the first chunk's are known */
    for (size_t k = from_reset; k < count; k++) { /* the evicted slots, in eviction order */
        struct kvbm__slot *sl = kvbm__bh_raw(out[k]);
        if (evicted != NULL) evicted[k - from_reset] = sl->hash;
        if (h64 == rh64) rh64[nr] = kvbm_plh_hash64(sl->hash);
        regs[nr++] = sl->reg;
        sl->reg = NULL;
        if (nr == PAIR_CHUNK) {
            kvbm__handle_mark_absent_release_many_h64(s->registry, regs, h64, nr, s->tier);
            nr = 0;
            h64 = rh64;
        }
    }
    if (nr) kvbm__handle_mark_absent_release_many_h64(s->registry, regs, h64, nr, s->tier);
    if (n_evicted != NULL) *n_evicted = from_inactive;
    kvbm__hwbuf_fini(&hb);
    return KVBM_OK;
}

/* Hash64 of a registration's first HV_KEEP inputs kept from the registry pass for the
 * locked pass (2 KiB of stack; the replay's longest requests register a few hundred). */
#define HV_KEEP (4 * PAIR_CHUNK)

/* register_blocks, and stage + register in one store-lock section (@stage non-NULL: in[i]
 * are MUTABLE handles of @s whose hashes are stage[i], staged and registered at once, as a
 * kvbm_mutable_stage_many followed by a kvbm_manager_register_blocks would, without the
 * complete handles in between). Nothing changes when validation or the registry fails;
 * only poisoning stops the locked pass part-way (*@done, if non-NULL, gets the number of
 * inputs registered). Inlined into both entry points, so each is specialised. */
static inline __attribute__((always_inline)) kvbm_status
store_register(struct kvbm__store *s, const void *const *in,
                                  const kvbm_plh *stage, uint32_t block_size, size_t n,
                                  kvbm_block **out, size_t *done_out)
{
    const char *fn = stage ? "kvbm_manager_stage_register_blocks" : "kvbm_manager_register_blocks";
    if (done_out) *done_out = 0;
    if (n == 0) return KVBM_OK;
    if (in == NULL || out == NULL) return kvbm__bad_handle(fn, "NULL array");
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);

    /* Validate every input before changing anything (the caller owns the staged or mutable
     * slots, so their fields are stable; `mark` detects the same block passed twice). */
    size_t bad = n;
    const char *why = NULL;
    for (size_t i = 0; i < n; i++) {
        struct kvbm__slot *sl = kvbm__bh_slot(in[i], stage ? KVBM__HK_MUTABLE : KVBM__HK_COMPLETE);
        if (sl == NULL) {
            bad = i;
            why = stage ? "NULL, released or not a mutable block" : "NULL, released or not a complete block";
            break;
        }
        if (kvbm__store_of(sl) != s) { bad = i; why = "block belongs to another manager"; break; }
        if (sl->mark) { bad = i; why = "the same block is passed twice"; break; }
        sl->mark = 1;
    }
    if (bad < n) {
        for (size_t i = 0; i < bad; i++) kvbm__bh_raw(in[i])->mark = 0;
        kvbm__set_error("%s: input %zu: %s", fn, bad, why);
        return KVBM_EINVAL;
    }
    if (stage && block_size != s->block_size) {
        for (size_t i = 0; i < n; i++) kvbm__bh_raw(in[i])->mark = 0;
        kvbm__set_error("Block size mismatch: expected %" PRIu32 " tokens, got %" PRIu32,
                        s->block_size, block_size);
        return KVBM_ESIZE;
    }

    struct kvbm__hwbuf hb;
    kvbm_status hst = kvbm__hwbuf_init(&hb, n);
    if (hst != KVBM_OK) {
        for (size_t i = 0; i < n; i++) kvbm__bh_raw(in[i])->mark = 0;
        return hst;
    }
    /* Registry lookups outside the store lock, one kvbm__registry_register_many_present
     * per chunk (same hooks and tracker touches, in order, as one call per block).
     * Meanwhile the index bucket each new Primary will head is on its way (buckets and
     * mask are fixed at creation: read without the lock). For the first HV_KEEP inputs
     * the hash64, the handle ref and whether the registry created (premarked) it wait in
     * hv0 / hd0 / cr0 for the locked pass, which stores the ref in the slot; for later
     * ones the ref waits in the owned slot and the premark in its `mark` (stored after
     * each chunk), and the hash64 is computed again under the lock. Until then an input's
     * `mark` is validation's: staging reads no slot in this pass. */
    uint64_t hv0[HV_KEEP];
    kvbm_handle *hd0[HV_KEEP];
    uint8_t cr0[HV_KEEP];
    for (size_t i = 0; i < n; i += PAIR_CHUNK) {
        size_t c = n - i < PAIR_CHUNK ? n - i : PAIR_CHUNK;
        kvbm_plh hsx[PAIR_CHUNK];
        uint64_t hvx[PAIR_CHUNK];
        kvbm_handle *hdx[PAIR_CHUNK];
        uint8_t crx[PAIR_CHUNK];
        const bool keep = i < HV_KEEP; /* (HV_KEEP is a multiple of PAIR_CHUNK) */
        uint64_t *hvs = keep ? hv0 + i : hvx; /* their hash64, for the registry too */
        kvbm_handle **hd = keep ? hd0 + i : hdx;
        uint8_t *cr = keep ? cr0 + i : crx;
        const kvbm_plh *hs = stage ? stage + i : hsx; /* staging: the caller's hashes */
        for (size_t k = 0; k < c; k++) {
            if (!stage) hsx[k] = kvbm__bh_raw(in[i + k])->hash;
            hvs[k] = kvbm_plh_hash64(hs[k]);
            __builtin_prefetch(&s->index.buckets[hvs[k] & s->index.mask], 1, 3);
        }
        uint32_t ids[PAIR_CHUNK];
        struct kvbm__rth_ctx rc = { s, hs, ids, c, 0 };
        if (s->rth != NULL) { /* router tokens_hash: the observer finds the slots (router_th.c) */
            for (size_t k = 0; k < c; k++) ids[k] = kvbm__bh_raw(in[i + k])->id;
            kvbm__store_router_begin(&rc);
        }
        /* A handle this call creates is counted present in our tier before it is
         * published (no atomic RMW after the store lock); `mark` remembers which, until
         * the locked pass decides whether the premark stays (docs/perf/registry.md
         * "Session 10"). Every path that does not keep the block undoes it. */
        kvbm_status st =
            kvbm__registry_register_many_present(s->registry, hs, hvs, c, s->tier, hd, cr);
        if (s->rth != NULL) kvbm__store_router_end();
        if (st != KVBM_OK) { /* all or nothing: give back the earlier chunks' refs */
            for (size_t k = i; k < n; k++) kvbm__bh_raw(in[k])->mark = 0; /* validation's */
            for (size_t k = 0; k < i; k++) {
                struct kvbm__slot *o = kvbm__bh_raw(in[k]);
                kvbm_handle *oh = k < HV_KEEP ? hd0[k] : o->reg;
                if (k < HV_KEEP ? cr0[k] : o->mark)
                    kvbm__handle_mark_absent(oh, s->tier); /* premark undone */
                o->mark = 0;
                kvbm_handle_release(oh);
                o->reg = NULL;
            }
            kvbm__hwbuf_fini(&hb);
            return st;
        }
        if (!keep)
            for (size_t k = 0; k < c; k++) {
                struct kvbm__slot *sl = kvbm__bh_raw(in[i + k]);
                sl->reg = hd[k];
                sl->mark = cr[k];
            }
    }
    /* the sketch cells of the new hashes (MultiLRU), as staging computes them */
    if (stage && s->tcells != NULL)
        for (size_t i = 0; i < n; i++)
            kvbm__tracker_cells(s->inactive.freq, stage[i], &s->tcells[kvbm__bh_raw(in[i])->id]);
    kvbm__metric_add(s->metrics, KVBM_METRIC_registrations, (int64_t)n);

    struct kvbm__post p;
    kvbm__post_init(&p);
    uint64_t n_dup = 0, n_dedup = 0;
    uintptr_t tagged = 0; /* an out[] entry carries the tag below */
    kvbm_status result = KVBM_OK;
    size_t done = 0;
    kvbm__lock(&s->lock);
    for (; done < n; done++) {
        size_t i = done;
        const void *h = in[i];
        struct kvbm__slot *sl = kvbm__bh_raw(h);
        const bool kept = i < HV_KEEP;
        if (kept) sl->reg = hd0[i];
        /* Fresh registration: if our staged slot holds the only reference to the hash's
         * registry handle, no Primary/Duplicate/Inactive slot of this store can have the
         * hash (each holds a reference to the one live handle per hash, taken before it
         * entered that state under this lock, dropped only after leaving it), so the
         * lookup (active index + backend) would miss: skip it. Only the lookup's paths
         * defer work, so only they need room (a cycle re-locks; the lookup is exact
         * whatever the count is by then). */
        const bool fresh = atomic_load_explicit(&sl->reg->refs, memory_order_relaxed) == 1;
        if (!fresh && !kvbm__post_room(&p, 1)) kvbm__post_cycle(s, &p);
        const bool premarked = kept ? cr0[i] != 0 : sl->mark != 0;
        sl->mark = 0; /* (validation's, if kept) */
        if (stage) { /* Mutable -> Staged, invisible: it leaves Staged below */
            sl->state = KVBM__STAGED;
            sl->hash = stage[i];
        }
        struct kvbm__slot *ex = NULL;
        if (!fresh) {
            ex = kvbm__acquire_locked(s, sl->hash, &p);
            if (KVBM_UNLIKELY(kvbm__store_is_poisoned(s))) {
                if (stage) sl->state = KVBM__MUTABLE; /* this one is not staged */
                sl->mark = premarked; /* undone after the unlock, with the later inputs' */
                result = KVBM_EPOISONED;
                break;
            }
        }
        struct kvbm__slot *res;
        if (ex != NULL && s->policy == KVBM_DUP_REJECT) {
            n_dedup++;
            if (premarked) p.absent[p.na++] = sl->reg; /* premark undone, then the ref */
            else p.drop[p.nd++] = sl->reg;
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
            kvbm__active_index_insert_hv(&s->index, sl->id,
                                         kept ? hv0[i] : kvbm_plh_hash64(sl->hash));
            res = sl;
        }
        kvbm__bh_retire(h);
        /* Tag bit 0: this slot entered Primary/Duplicate here and was not premarked,
         * presence +1 after unlock (handles are at least 8-byte aligned). */
        uintptr_t hv = (uintptr_t)kvbm__bh_make(&hb, res, KVBM__HK_BLOCK);
        uintptr_t tag = res == sl && !premarked ? 1u : 0u;
        tagged |= tag;
        out[i] = (kvbm_block *)(hv | tag);
    }
    if (stage && done) kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -(int64_t)done); /* I5 */
    kvbm__post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    if (stage && done) kvbm__metric_add(s->metrics, KVBM_METRIC_stagings, (int64_t)done);

    for (size_t i = 0; tagged && i < done; i++) { /* (none when every block was premarked) */
        uintptr_t hv = (uintptr_t)out[i];
        if (hv & 1u) {
            out[i] = (kvbm_block *)(hv & ~(uintptr_t)1);
            kvbm__handle_mark_present(kvbm__bh_raw(out[i])->reg, s->tier);
        }
    }
    for (size_t i = done; i < n; i++) { /* poisoned: the unregistered inputs' premarks */
        struct kvbm__slot *sl = kvbm__bh_raw(in[i]);
        if (i < HV_KEEP) { /* the input keeps its ref (the locked pass did not store it) */
            sl->reg = hd0[i];
            sl->mark = cr0[i];
        }
        if (sl->mark) kvbm__handle_mark_absent(sl->reg, s->tier);
        sl->mark = 0;
    }
    if (result == KVBM_OK) {
        kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, (int64_t)n);
        if (n_dup) kvbm__metric_add(s->metrics, KVBM_METRIC_duplicate_blocks, (int64_t)n_dup);
        if (n_dedup) kvbm__metric_add(s->metrics, KVBM_METRIC_registration_dedup, (int64_t)n_dedup);
    }
    kvbm__hwbuf_fini(&hb);
    kvbm__post_finish(s, &p);
    if (done_out) *done_out = done;
    return result;
}

kvbm_status kvbm__store_register(struct kvbm__store *s, kvbm_complete *const *in, size_t n,
                                 kvbm_block **out)
{
    return store_register(s, (const void *const *)in, NULL, 0, n, out, NULL);
}

kvbm_status kvbm__store_stage_register(struct kvbm__store *s, kvbm_mutable *const *in,
                                       const kvbm_plh *hashes, size_t n, uint32_t block_size,
                                       kvbm_block **out, size_t *done)
{
    if (n > 0 && hashes == NULL) {
        if (done) *done = 0;
        return kvbm__bad_handle("kvbm_manager_stage_register_blocks", "NULL array");
    }
    return store_register(s, (const void *const *)in, hashes, block_size, n, out, done);
}

/* The sketch cells of matched blocks [i, i+c) into tc[0..c), their words prefetched: copied
 * from the store's cache when there is one (@cached), else computed from the hashes. */
static inline void touch_cells_fill(kvbm_tracker *tr, const kvbm__touch_cells *cached,
                                    const kvbm_plh *hashes, kvbm_block *const *out, size_t i,
                                    size_t c, kvbm__touch_cells *tc)
{
    if (cached != NULL)
        for (size_t j = 0; j < c; j++) tc[j] = cached[kvbm__bh_raw(out[i + j])->id];
    kvbm__tracker_prepare_many(tr, cached != NULL ? NULL : hashes + i, tc, c);
}

/* Under the lock, pass 2 of match: out[i]'s slot is at its reference limit. Undo that
 * increment and put the slots resurrected by pass 1 for out[i..k) (tag bit 0; they hold the
 * caller's reference, strong 1, still invisible to others) back into the inactive pool;
 * the match is out[0..i). Rare: 2^31 live references. */
static __attribute__((cold, noinline)) size_t match_truncate(struct kvbm__store *s, kvbm_block **out,
                                                             size_t i, size_t k, struct kvbm__post *p)
{
    struct kvbm__slot *sat = (struct kvbm__slot *)((uintptr_t)out[i] & ~(uintptr_t)1);
    atomic_fetch_sub_explicit(&sat->strong, 1, memory_order_relaxed);
    for (size_t j = i + 1; j < k; j++) {
        uintptr_t v = (uintptr_t)out[j];
        if (!(v & 1u)) continue;
        struct kvbm__slot *sl = (struct kvbm__slot *)(v & ~(uintptr_t)1);
        atomic_store_explicit(&sl->strong, 0, memory_order_relaxed);
        kvbm__store_drop_locked(s, sl, p);
    }
    return i;
}

kvbm_status kvbm__store_match(struct kvbm__store *s, const kvbm_plh *hashes, size_t n,
                              kvbm_block **out, size_t *matched)
{
    if (matched == NULL || (n > 0 && (hashes == NULL || out == NULL)))
        return kvbm__bad_handle("kvbm_manager_match_blocks", "NULL argument");
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    kvbm__metric_add(s->metrics, KVBM_METRIC_match_hashes_requested, (int64_t)n);
    if (n == 0) {
        *matched = 0;
        return KVBM_OK;
    }
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, n));
    struct kvbm__post p;
    kvbm__post_init(&p);
    size_t k = 0;
    /* the sketch cells of the first MATCH_TOUCH_EARLY blocks: a PLH's TinyLFU key hash is
     * its kvbm_plh_hash64, which the lookup computes anyway (tinylfu_int.h) */
    kvbm__touch_cells tc[MATCH_TOUCH_EARLY];
    kvbm__lock(&s->lock);
    /* Two passes: lookups (plain loads, they pipeline), then the strong increments of the
     * active hits back to back. Found slots cannot change meanwhile: we hold the lock, other
     * holders only decrement lock-free down to 1, and resurrected slots are invisible - a
     * resurrection takes the caller's reference at once (strong 0 -> 1, no RMW needed). A
     * match whose hits all resurrected (the replay's) has no increment to make: where
     * handles are the slots themselves, pass 2 only drops the tags. */
    const int64_t d0 = p.d_inactive;
    for (; k < n; k++) {
        int64_t before = p.d_inactive;
        uint64_t hv = kvbm_plh_hash64(hashes[k]);
        if (k < MATCH_TOUCH_EARLY) tc[k].h = hv;
        struct kvbm__slot *sl = kvbm__lookup_locked_hv(s, hashes[k], hv, &p);
        if (sl == NULL) break;
        if (p.d_inactive != before) { /* tag bit 0: resurrected here */
            atomic_store_explicit(&sl->strong, 1, memory_order_relaxed);
            out[k] = (kvbm_block *)((uintptr_t)sl | 1u);
        } else {
            out[k] = (kvbm_block *)sl;
        }
    }
    if (!KVBM_CHECKED_HANDLES && (uint64_t)(d0 - p.d_inactive) == k) { /* every hit resurrected */
        for (size_t i = 0; i < k; i++) out[i] = (kvbm_block *)((uintptr_t)out[i] & ~(uintptr_t)1);
    } else {
        for (size_t i = 0; i < k; i++) {
            uintptr_t v = (uintptr_t)out[i];
            struct kvbm__slot *sl = (struct kvbm__slot *)(v & ~(uintptr_t)1);
            if (!(v & 1u) && KVBM_UNLIKELY(atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed) >=
                                           KVBM__STRONG_MAX)) {
                k = match_truncate(s, out, i, k, &p); /* a block at its reference limit ends the match */
                break;
            }
            out[i] = (kvbm_block *)kvbm__bh_make(&hb, sl, KVBM__HK_BLOCK);
        }
    }
    kvbm__post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    /* The frequency touches of the returned blocks: their sketch words are prefetched
     * before the presence updates, which hide the misses; the first MATCH_TOUCH_EARLY
     * (cells from the lookups) are applied after them, the rest (long matches: cells
     * hashed or copied) in chunks of as many, each like kvbm_tracker_touch_many. */
    kvbm_tracker *tr = s->has_tracker ? kvbm_registry_tracker(s->registry) : NULL;
    /* cells cached at staging (MultiLRU): no hashing; we hold the slots, so they stay */
    const kvbm__touch_cells *cached = tr != NULL && tr == s->inactive.freq ? s->tcells : NULL;
    size_t early = k < MATCH_TOUCH_EARLY ? k : MATCH_TOUCH_EARLY;
    if (tr != NULL) kvbm__tracker_prepare_many(tr, NULL, tc, early); /* cells from the lookups */
    kvbm__post_flush(s, &p);
    kvbm__hwbuf_fini(&hb);
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    if (tr != NULL && k) {
        kvbm__tracker_touch_apply(tr, hashes, tc, early);
        for (size_t i = early; i < k; i += MATCH_TOUCH_EARLY) { /* long matches: by chunks */
            size_t c = k - i < MATCH_TOUCH_EARLY ? k - i : MATCH_TOUCH_EARLY;
            touch_cells_fill(tr, cached, hashes, out, i, c, tc);
            kvbm__tracker_touch_apply(tr, hashes + i, tc, c);
        }
    }
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

/* scan_matches of the inactive pool by id (s->byid, under the lock): the Inactive slots of
 * hs[0..k) found in the store's index leave the backend, into out (a hash listed twice
 * is found once). The caller validates and resurrects them. */
static size_t scan_by_id(struct kvbm__store *s, const kvbm_plh *hs, size_t k, kvbm__pair *out)
{
    size_t r = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t id = kvbm__indexed_inactive(s, hs[i]);
        if (id == KVBM__NIL || plh_in(hs, i, hs[i])) continue;
        if (!s->inactive.ops->remove_id(s->inactive.ctx, id)) {
            kvbm__store_poison(s, "indexed inactive slot missing from the backend");
            break;
        }
        out[r].hash = hs[i];
        out[r].block_id = id;
        r++;
    }
    return r;
}

kvbm_status kvbm__store_scan(struct kvbm__store *s, const kvbm_plh *hashes, size_t n, bool touch,
                             kvbm_plh *out_hashes, kvbm_block **out_blocks, size_t *found)
{
    if (found == NULL || (n > 0 && (hashes == NULL || out_hashes == NULL || out_blocks == NULL)))
        return kvbm__bad_handle("kvbm_manager_scan_matches", "NULL argument");
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    kvbm__metric_add(s->metrics, KVBM_METRIC_scan_hashes_requested, (int64_t)n);
    if (n == 0) {
        *found = 0;
        return KVBM_OK;
    }
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, n));
    struct kvbm__post p;
    kvbm__post_init(&p);
    size_t f = 0;
    /* Phase 1: per hash with a registry handle, one store lookup (may resurrect). */
    for (size_t i = 0; i < n; i++) {
        kvbm_handle *hd = NULL;
        if (kvbm_registry_match(s->registry, hashes[i], touch, &hd) != KVBM_OK) continue;
        kvbm_handle_release(hd);
        if (plh_in(out_hashes, f, hashes[i])) continue; /* same block again: keep one entry */
        kvbm__lock(&s->lock);
        struct kvbm__slot *sl = kvbm__lookup_locked(s, hashes[i], &p);
        if (sl != NULL && KVBM_UNLIKELY(atomic_load_explicit(&sl->strong, memory_order_relaxed) >= KVBM__STRONG_MAX))
            sl = NULL; /* at its reference limit: not returned */
        if (sl != NULL) atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
        kvbm__post_locked_end(s, &p);
        kvbm__unlock(&s->lock);
        if (sl != NULL) {
            out_hashes[f] = hashes[i];
            out_blocks[f] = (kvbm_block *)kvbm__bh_make(&hb, sl, KVBM__HK_BLOCK);
            f++;
        }
    }
    /* Phase 2: whatever is still missing, straight from the inactive pool. */
    if (f < n && !kvbm__store_is_poisoned(s)) {
        kvbm_plh rem[PAIR_CHUNK];
        kvbm__pair pairs[PAIR_CHUNK];
        size_t i = 0;
        while (i < n) {
            size_t k = 0;
            size_t f0 = f;
            for (; i < n && k < PAIR_CHUNK; i++)
                if (!plh_in(out_hashes, f0, hashes[i])) rem[k++] = hashes[i];
            if (k == 0) continue;
            kvbm__lock(&s->lock);
            size_t r = s->byid ? scan_by_id(s, rem, k, pairs)
                               : s->inactive.ops->scan_matches(s->inactive.ctx, rem, k, touch, pairs);
            for (size_t q = 0; q < r; q++) {
                uint32_t id = pairs[q].block_id;
                struct kvbm__slot *sl = id < s->n ? &s->slots[id] : NULL;
                if (KVBM_UNLIKELY(sl == NULL || sl->state != KVBM__INACTIVE ||
                                  !kvbm_plh_eq(sl->hash, pairs[q].hash))) {
                    kvbm__store_poison(s, "inactive backend scan returned a non-inactive slot");
                    break;
                }
                sl->state = KVBM__PRIMARY;
                sl->gen++;
                atomic_store_explicit(&sl->strong, 1, memory_order_relaxed);
                if (!s->byid) kvbm__active_index_insert(&s->index, s->slots, id);
                p.d_inactive--;
                kvbm__unpark_locked(s, &p);
                out_hashes[f] = sl->hash;
                out_blocks[f] = (kvbm_block *)kvbm__bh_make(&hb, sl, KVBM__HK_BLOCK);
                f++;
            }
            kvbm__post_locked_end(s, &p);
            kvbm__unlock(&s->lock);
        }
    }
    kvbm__post_flush(s, &p);
    kvbm__hwbuf_fini(&hb);
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    if (f) {
        kvbm__metric_add(s->metrics, KVBM_METRIC_scan_blocks_returned, (int64_t)f);
        kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, (int64_t)f);
    }
    *found = f;
    return KVBM_OK;
}

kvbm_status kvbm__store_reset_inactive(struct kvbm__store *s, uint64_t *expected, uint64_t *actual)
{
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    struct kvbm__post p;
    kvbm__post_init(&p);
    kvbm__pair pairs[KVBM__POST_MAX];
    kvbm__lock(&s->lock);
    for (;;) {
        size_t want = s->inactive.ops->len(s->inactive.ctx);
        if (want == 0) break;
        if (p.na == KVBM__POST_MAX) kvbm__post_cycle(s, &p);
        size_t room = KVBM__POST_MAX - p.na;
        if (want > room) want = room;
        size_t r = s->inactive.ops->allocate(s->inactive.ctx, want, pairs);
        if (r == 0) {
            kvbm__store_poison(s, "inactive backend reports entries but allocates none");
            break;
        }
        for (size_t k = 0; k < r; k++) {
            uint32_t id = pairs[k].block_id;
            struct kvbm__slot *sl = id < s->n ? &s->slots[id] : NULL;
            if (KVBM_UNLIKELY(sl == NULL || sl->state != KVBM__INACTIVE)) {
                kvbm__store_poison(s, "inactive backend drained a non-inactive slot");
                continue;
            }
            if (s->byid && KVBM_UNLIKELY(!kvbm__active_index_remove(&s->index, s->slots, id))) {
                kvbm__store_poison(s, "drained inactive slot missing from the index");
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
    kvbm__post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    bool poisoned = kvbm__store_is_poisoned(s);
    kvbm__post_finish(s, &p);  /* last access to the store */
    if (poisoned) return kvbm__store_poisoned_error(s);
    if (reset_len != total) {
        if (expected != NULL) *expected = total;
        if (actual != NULL) *actual = reset_len;
        kvbm__set_error("Reset pool count mismatch: expected %" PRIu32 ", got %" PRIu64,
                        total, reset_len);
        return KVBM_ERESET_MISMATCH;
    }
    return KVBM_OK;
}

