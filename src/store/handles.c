/* src/store/handles.c - the public block lifecycle handle API.
 *
 * kvbm_mutable_*, kvbm_complete_*, kvbm_block_*, kvbm_weak_* and kvbm_pin_*: validation
 * through handle_check.h, slot transitions under the store lock (locked.h, store.c).
 * See docs/design/store.md §2 (final release) and §6 (handles and misuse detection).
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
#include "kvbm/tokens.h"

struct kvbm_weak {
    uint32_t           magic;
    uint32_t           id;
    uint32_t           gen;
    uint32_t           pad_;
    struct kvbm__store *store;
    kvbm_plh           hash;
    kvbm_handle       *reg;
};

/* ==== mutable blocks ===================================================================== */

uint32_t kvbm_mutable_block_id(const kvbm_mutable *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_MUTABLE);
    return sl != NULL ? sl->id : UINT32_MAX;
}

uint32_t kvbm_mutable_block_size(const kvbm_mutable *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_MUTABLE);
    return sl != NULL ? kvbm__store_of(sl)->block_size : 0;
}

kvbm_mgr_id kvbm_mutable_manager_id(const kvbm_mutable *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_MUTABLE);
    return sl != NULL ? kvbm__store_of(sl)->id : KVBM_MANAGER_ID_NULL;
}

kvbm_status kvbm_mutable_stage(kvbm_mutable *b, kvbm_plh h, uint32_t block_size, kvbm_complete **out,
                               uint32_t *expected, uint32_t *actual)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_MUTABLE);
    if (sl == NULL) return kvbm__bad_handle("kvbm_mutable_stage", "NULL, released or not a mutable block");
    if (out == NULL) return kvbm__bad_handle("kvbm_mutable_stage", "out is NULL");
    struct kvbm__store *s = kvbm__store_of(sl);
    if (block_size != s->block_size) {
        if (expected != NULL) *expected = s->block_size;
        if (actual != NULL) *actual = block_size;
        kvbm__set_error("Block size mismatch: expected %" PRIu32 " tokens, got %" PRIu32,
                        s->block_size, block_size);
        return KVBM_ESIZE;
    }
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, 1));
    if (s->tcells != NULL) kvbm__tracker_cells(s->inactive.freq, h, &s->tcells[sl->id]);
    kvbm__lock(&s->lock);
    sl->state = KVBM__STAGED;
    sl->hash = h;
    kvbm__unlock(&s->lock);
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -1);
    kvbm__metric_add(s->metrics, KVBM_METRIC_stagings, 1);
    kvbm__bh_retire(b);
    *out = (kvbm_complete *)kvbm__bh_make(&hb, sl, KVBM__HK_COMPLETE);
    kvbm__hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_mutable_stage_many(kvbm_mutable *const *in, const kvbm_plh *hashes, size_t n,
                                    uint32_t block_size, kvbm_complete **out)
{
    static const char fn[] = "kvbm_mutable_stage_many";
    if (n == 0) return KVBM_OK;
    if (in == NULL || hashes == NULL || out == NULL) return kvbm__bad_handle(fn, "NULL array");
    /* Validate every input before changing anything (the caller owns the mutable slots,
     * so their fields are stable; `mark` detects the same block passed twice). */
    struct kvbm__store *s = NULL;
    size_t bad = n;
    const char *why = NULL;
    for (size_t i = 0; i < n; i++) {
        struct kvbm__slot *sl = kvbm__bh_slot(in[i], KVBM__HK_MUTABLE);
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
    struct kvbm__hwbuf hb;
    if (st == KVBM_OK) st = kvbm__hwbuf_init(&hb, n);
    if (st != KVBM_OK) {
        for (size_t i = 0; i < (bad < n ? bad : n); i++) kvbm__bh_raw(in[i])->mark = 0;
        return st;
    }
    /* the sketch cells of the new hashes (MultiLRU): the caller owns the slots, no lock */
    if (s->tcells != NULL)
        for (size_t i = 0; i < n; i++)
            kvbm__tracker_cells(s->inactive.freq, hashes[i], &s->tcells[kvbm__bh_raw(in[i])->id]);
    /* one pass under the lock: transition, clear the validation mark, output handle */
    kvbm__lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        struct kvbm__slot *sl = kvbm__bh_raw(in[i]);
        sl->state = KVBM__STAGED;
        sl->hash = hashes[i];
        sl->mark = 0;
#if !KVBM_CHECKED_HANDLES
        out[i] = (kvbm_complete *)kvbm__bh_make(&hb, sl, KVBM__HK_COMPLETE);
#endif
    }
    kvbm__unlock(&s->lock);
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -(int64_t)n);
    kvbm__metric_add(s->metrics, KVBM_METRIC_stagings, (int64_t)n);
#if KVBM_CHECKED_HANDLES
    for (size_t i = 0; i < n; i++) { /* quarantine pushes take a leaf lock: after unlock */
        struct kvbm__slot *sl = kvbm__bh_raw(in[i]);
        kvbm__bh_retire(in[i]);
        out[i] = (kvbm_complete *)kvbm__bh_make(&hb, sl, KVBM__HK_COMPLETE);
    }
#endif
    kvbm__hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_mutable_complete(kvbm_mutable *b, const struct kvbm_token_block *tb,
                                  kvbm_complete **out, uint32_t *expected, uint32_t *actual)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_MUTABLE);
    if (sl == NULL) return kvbm__bad_handle("kvbm_mutable_complete", "NULL, released or not a mutable block");
    if (tb == NULL) return kvbm__bad_handle("kvbm_mutable_complete", "token block is NULL");
    return kvbm_mutable_stage(b, kvbm_token_block_plh(tb), kvbm_token_block_size(tb), out,
                              expected, actual);
}

/* Mutable/Staged -> Reset at the back of the FIFO. */
static void owned_to_reset(struct kvbm__store *s, struct kvbm__slot *sl, bool was_mutable)
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
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_MUTABLE);
    if (sl == NULL) return kvbm__bad_handle("kvbm_mutable_release", "released or not a mutable block");
    struct kvbm__store *s = kvbm__store_of(sl);
    kvbm__bh_retire(b);
    owned_to_reset(s, sl, true);
    kvbm__store_unref(s, 1);
    return KVBM_OK;
}

int kvbm_mutable_describe(const kvbm_mutable *b, char *buf, size_t len)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_MUTABLE);
    if (sl == NULL) return snprintf(buf, len, "MutableBlock { invalid }");
    struct kvbm__store *s = kvbm__store_of(sl);
    return snprintf(buf, len, "MutableBlock { block_id: %" PRIu32 ", block_size: %" PRIu32
                    ", manager_id: %" PRIu64 " }", sl->id, s->block_size, s->id);
}

/* ==== complete blocks ==================================================================== */

uint32_t kvbm_complete_block_id(const kvbm_complete *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_COMPLETE);
    return sl != NULL ? sl->id : UINT32_MAX;
}

uint32_t kvbm_complete_block_size(const kvbm_complete *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_COMPLETE);
    return sl != NULL ? kvbm__store_of(sl)->block_size : 0;
}

kvbm_plh kvbm_complete_seq_hash(const kvbm_complete *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_COMPLETE);
    kvbm_plh z = { 0, 0 };
    return sl != NULL ? sl->hash : z;
}

kvbm_status kvbm_complete_reset(kvbm_complete *b, kvbm_mutable **out)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_COMPLETE);
    if (sl == NULL) return kvbm__bad_handle("kvbm_complete_reset", "NULL, released or not a complete block");
    if (out == NULL) return kvbm__bad_handle("kvbm_complete_reset", "out is NULL");
    struct kvbm__store *s = kvbm__store_of(sl);
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, 1));
    kvbm__lock(&s->lock);
    sl->state = KVBM__MUTABLE;
    sl->reset_on_release = s->default_reset;
    kvbm__unlock(&s->lock);
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, 1);
    kvbm__bh_retire(b);
    *out = (kvbm_mutable *)kvbm__bh_make(&hb, sl, KVBM__HK_MUTABLE);
    kvbm__hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_complete_release(kvbm_complete *b)
{
    if (b == NULL) return KVBM_OK;
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_COMPLETE);
    if (sl == NULL) return kvbm__bad_handle("kvbm_complete_release", "released or not a complete block");
    struct kvbm__store *s = kvbm__store_of(sl);
    kvbm__bh_retire(b);
    owned_to_reset(s, sl, false);
    kvbm__store_unref(s, 1);
    return KVBM_OK;
}

/* ==== immutable blocks =================================================================== */

uint32_t kvbm_block_id(const kvbm_block *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    return sl != NULL ? sl->id : UINT32_MAX;
}

kvbm_plh kvbm_block_seq_hash(const kvbm_block *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    kvbm_plh z = { 0, 0 };
    return sl != NULL ? sl->hash : z;
}

kvbm_mgr_id kvbm_block_manager_id(const kvbm_block *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    return sl != NULL ? kvbm__store_of(sl)->id : KVBM_MANAGER_ID_NULL;
}

bool kvbm_block_is_duplicate(const kvbm_block *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    return sl != NULL && sl->state == KVBM__DUPLICATE;
}

uint32_t kvbm_block_use_count(const kvbm_block *b)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    return sl != NULL ? atomic_load_explicit(&sl->strong, memory_order_relaxed) : 0;
}

/* One more strong ref on a held slot, wrapped as @kind. */
static kvbm_status slot_clone(struct kvbm__slot *sl, int kind, void **out)
{
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, 1));
    atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
    *out = kvbm__bh_make(&hb, sl, kind);
    kvbm__hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_block_clone(kvbm_block *b, kvbm_block **out)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return kvbm__bad_handle("kvbm_block_clone", "NULL, released or not an immutable block");
    if (out == NULL) return kvbm__bad_handle("kvbm_block_clone", "out is NULL");
    void *o;
    KVBM_TRY(slot_clone(sl, KVBM__HK_BLOCK, &o));
    kvbm__metric_add(kvbm__store_of(sl)->metrics, KVBM_METRIC_inflight_immutable, 1);
    *out = o;
    return KVBM_OK;
}

static __attribute__((noinline)) kvbm_status block_release_slow(kvbm_block *b, struct kvbm__slot *sl,
                                                                struct kvbm__store *s)
{
    kvbm__metric_add_slow(s->metrics, KVBM_METRIC_inflight_immutable, -1);
    kvbm__bh_retire(b);
    return kvbm__slot_release(s, sl);
}

kvbm_status kvbm_block_release(kvbm_block *b)
{
    if (b == NULL) return KVBM_OK;
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return kvbm__bad_handle("kvbm_block_release", "released or not an immutable block");
    struct kvbm__store *s = kvbm__store_of(sl);
    /* The gauge first: once our reference is gone the store (and its metrics) may be
     * freed by another thread's final release after kvbm_manager_destroy(). Every call
     * below is a tail call, so the lock-free path needs no stack frame. */
    if (KVBM_UNLIKELY(!kvbm__metric_try_add(s->metrics, KVBM_METRIC_inflight_immutable, -1)))
        return block_release_slow(b, sl, s);
    kvbm__bh_retire(b);
    return kvbm__slot_release(s, sl);
}

kvbm_status kvbm_block_release_many(kvbm_block *const *b, size_t n)
{
    if (n == 0) return KVBM_OK;
    if (b == NULL) return kvbm__bad_handle("kvbm_block_release_many", "NULL array");
    size_t bad = n;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        if (kvbm__bh_slot(b[i], KVBM__HK_BLOCK) == NULL) { bad = i; break; }
#if KVBM_CHECKED_HANDLES
        struct kvbm__hw *w = (struct kvbm__hw *)b[i];
        if (w->pend) { bad = i; break; }
        w->pend = 1;
#endif
    }
#if KVBM_CHECKED_HANDLES
    for (size_t i = 0; i < (bad < n ? bad : n); i++)
        if (b[i] != NULL) ((struct kvbm__hw *)b[i])->pend = 0;
#endif
    if (bad < n) {
        kvbm__set_error("kvbm_block_release_many: handle %zu is released, repeated or not an immutable block", bad);
        return KVBM_EINVAL;
    }

    struct kvbm__store *cur = NULL;
    bool locked = false;
    struct kvbm__post p;
    kvbm__post_init(&p);
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        struct kvbm__slot *sl = kvbm__bh_raw(b[i]);
        struct kvbm__store *s = kvbm__store_of(sl);
        if (s != cur) {
            if (cur != NULL) {
                if (locked) { kvbm__post_locked_end(cur, &p); kvbm__unlock(&cur->lock); locked = false; }
                kvbm__post_finish(cur, &p);
                kvbm__post_init(&p);
            }
            cur = s;
            /* The gauge for the whole run of this store first, while every handle of the
             * run still holds its reference (the store may go away with the last one). */
            int64_t run = 0;
            for (size_t j = i; j < n; j++) {
                if (b[j] == NULL) continue;
                if (kvbm__store_of(kvbm__bh_raw(b[j])) != s) break;
                run++;
            }
            kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, -run);
        }
        kvbm__bh_retire(b[i]);
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
        else if (!kvbm__post_room(&p, 2)) kvbm__post_cycle(s, &p);
        /* the next block's backend insert (if it is one) may prefetch while this one runs */
        if (s->inactive.ops->prefetch_insert != NULL && i + 1 < n && b[i + 1] != NULL)
            s->inactive.ops->prefetch_insert(s->inactive.ctx, kvbm__bh_raw(b[i + 1])->hash);
        if (kvbm__strong_dec_locked(sl)) kvbm__store_drop_locked(s, sl, &p);
    }
    if (cur != NULL) {
        if (locked) { kvbm__post_locked_end(cur, &p); kvbm__unlock(&cur->lock); }
        kvbm__post_finish(cur, &p);
    }
    return KVBM_OK;
}

kvbm_status kvbm_block_registration_handle(kvbm_block *b, kvbm_handle **out)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return kvbm__bad_handle("kvbm_block_registration_handle", "NULL, released or not an immutable block");
    if (out == NULL) return kvbm__bad_handle("kvbm_block_registration_handle", "out is NULL");
    *out = kvbm_handle_clone(sl->reg);
    return KVBM_OK;
}

kvbm_status kvbm_block_set_evict_on_reset(kvbm_block *b, bool evict)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return kvbm__bad_handle("kvbm_block_set_evict_on_reset", "NULL, released or not an immutable block");
    struct kvbm__store *s = kvbm__store_of(sl);
    kvbm__lock(&s->lock);
    sl->reset_on_release = evict;
    kvbm__unlock(&s->lock);
    return KVBM_OK;
}

static void weak_free(struct kvbm_weak *w)
{
    w->magic = KVBM__HW_DEAD;
#if KVBM_CHECKED_HANDLES
    kvbm__bh_quarantine(w->store, w);
#else
    free(w);
#endif
}

kvbm_status kvbm_block_downgrade(kvbm_block *b, kvbm_weak **out)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return kvbm__bad_handle("kvbm_block_downgrade", "NULL, released or not an immutable block");
    if (out == NULL) return kvbm__bad_handle("kvbm_block_downgrade", "out is NULL");
    struct kvbm_weak *w = malloc(sizeof *w);
    if (w == NULL) return KVBM_ENOMEM;
    struct kvbm__store *s = kvbm__store_of(sl);
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    w->magic = KVBM__HW_MAGIC(KVBM__HK_WEAK);
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
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return kvbm__bad_handle("kvbm_block_pin", "NULL, released or not an immutable block");
    if (out == NULL) return kvbm__bad_handle("kvbm_block_pin", "out is NULL");
    void *o;
    KVBM_TRY(slot_clone(sl, KVBM__HK_PIN, &o));
    *out = o;
    return KVBM_OK;
}

int kvbm_block_describe(const kvbm_block *b, char *buf, size_t len)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return snprintf(buf, len, "ImmutableBlock { invalid }");
    char hex[KVBM_PLH_HEX_LEN];
    return snprintf(buf, len, "ImmutableBlock { block_id: %" PRIu32 ", sequence_hash: %s, manager_id: %"
                    PRIu64 " }", sl->id, kvbm_plh_to_hex(sl->hash, hex), kvbm__store_of(sl)->id);
}

/* ==== weak blocks ======================================================================== */

static struct kvbm_weak *weak_check(const kvbm_weak *w)
{
    if (w == NULL || w->magic != KVBM__HW_MAGIC(KVBM__HK_WEAK)) return NULL;
    return (struct kvbm_weak *)w;
}

kvbm_status kvbm_weak_upgrade(kvbm_weak *wk, kvbm_block **out)
{
    struct kvbm_weak *w = weak_check(wk);
    if (w == NULL) return kvbm__bad_handle("kvbm_weak_upgrade", "NULL or released weak block");
    if (out == NULL) return kvbm__bad_handle("kvbm_weak_upgrade", "out is NULL");
    struct kvbm__store *s = w->store;
    if (kvbm__store_is_poisoned(s)) return KVBM_EPOISONED;
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, 1));
    struct kvbm__post p;
    kvbm__post_init(&p);
    kvbm__lock(&s->lock);
    struct kvbm__slot *sl = &s->slots[w->id];
    if ((sl->state == KVBM__PRIMARY || sl->state == KVBM__DUPLICATE) && sl->gen == w->gen)
        atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
    else
        sl = kvbm__acquire_locked(s, w->hash, &p);
    kvbm__post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    kvbm__post_flush(s, &p);
    if (sl == NULL) {
        kvbm__hwbuf_fini(&hb);
        return kvbm__store_is_poisoned(s) ? KVBM_EPOISONED : KVBM_ENOENT;
    }
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, 1);
    *out = (kvbm_block *)kvbm__bh_make(&hb, sl, KVBM__HK_BLOCK);
    kvbm__hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_weak_clone(kvbm_weak *wk, kvbm_weak **out)
{
    struct kvbm_weak *w = weak_check(wk);
    if (w == NULL) return kvbm__bad_handle("kvbm_weak_clone", "NULL or released weak block");
    if (out == NULL) return kvbm__bad_handle("kvbm_weak_clone", "out is NULL");
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
    struct kvbm__store *s = w->store;
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
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    if (sl == NULL) return kvbm__bad_handle("kvbm_pin_clone", "NULL, released or not a pin");
    if (out == NULL) return kvbm__bad_handle("kvbm_pin_clone", "out is NULL");
    void *o;
    KVBM_TRY(slot_clone(sl, KVBM__HK_PIN, &o));
    *out = o;
    return KVBM_OK;
}

kvbm_status kvbm_pin_release(kvbm_pin *p)
{
    if (p == NULL) return KVBM_OK;
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    if (sl == NULL) return kvbm__bad_handle("kvbm_pin_release", "released or not a pin");
    struct kvbm__store *s = kvbm__store_of(sl);
    kvbm__bh_retire(p);
    return kvbm__slot_release(s, sl);
}

kvbm_mgr_id kvbm_pin_manager_id(const kvbm_pin *p)
{
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    return sl != NULL ? kvbm__store_of(sl)->id : KVBM_MANAGER_ID_NULL;
}

uint32_t kvbm_pin_block_id(const kvbm_pin *p)
{
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    return sl != NULL ? sl->id : UINT32_MAX;
}

kvbm_plh kvbm_pin_seq_hash(const kvbm_pin *p)
{
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    kvbm_plh z = { 0, 0 };
    return sl != NULL ? sl->hash : z;
}

uint32_t kvbm_pin_use_count(const kvbm_pin *p)
{
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    return sl != NULL ? atomic_load_explicit(&sl->strong, memory_order_relaxed) : 0;
}

kvbm_status kvbm_pin_registration_handle(kvbm_pin *p, kvbm_handle **out)
{
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    if (sl == NULL) return kvbm__bad_handle("kvbm_pin_registration_handle", "NULL, released or not a pin");
    if (out == NULL) return kvbm__bad_handle("kvbm_pin_registration_handle", "out is NULL");
    *out = kvbm_handle_clone(sl->reg);
    return KVBM_OK;
}

int kvbm_pin_describe(const kvbm_pin *p, char *buf, size_t len)
{
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    if (sl == NULL) return snprintf(buf, len, "LifecyclePin { invalid }");
    char hex[KVBM_PLH_HEX_LEN];
    return snprintf(buf, len, "LifecyclePin { manager_id: %" PRIu64 ", block_id: %" PRIu32
                    ", sequence_hash: %s }", kvbm__store_of(sl)->id, sl->id, kvbm_plh_to_hex(sl->hash, hex));
}
