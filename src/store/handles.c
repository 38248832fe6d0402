/* src/store/handles.c - the public block lifecycle handle API.
 *
 * kvbm_mutable_*, kvbm_complete_*, kvbm_block_* and kvbm_pin_* (kvbm_weak_*: weak.c): validation
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
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, 1));
    if (s->tcells != NULL) kvbm__tracker_cells(s->inactive.freq, h, &s->tcells[sl->id]);
    kvbm__lock(&s->lock);
    sl->state = KVBM__STAGED;
    sl->hash = h;
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -1); /* with the slot (I5) */
    kvbm__unlock(&s->lock);
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
        st = kvbm__store_poisoned_error(s);
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
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -(int64_t)n); /* with the slots (I5) */
    kvbm__unlock(&s->lock);
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
    struct kvbm__store *s = kvbm__store_of(sl);
    if (s->rth != NULL && kvbm_token_block_size(tb) == s->block_size)
        kvbm__store_router_complete(s, sl->id, tb);
    return kvbm_mutable_stage(b, kvbm_token_block_plh(tb), kvbm_token_block_size(tb), out,
                              expected, actual);
}

/* Mutable/Staged -> Reset at the back of the FIFO (gauges with the slot, under the lock). */
static void owned_to_reset(struct kvbm__store *s, struct kvbm__slot *sl, bool was_mutable)
{
    kvbm__lock(&s->lock);
    sl->state = KVBM__RESET;
    kvbm__ring_push_back(&s->ring, sl->id);
    kvbm__metric_add(s->metrics, KVBM_METRIC_reset_pool_size, 1);
    if (was_mutable) kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, -1);
    kvbm__unlock(&s->lock);
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
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, 1));
    kvbm__lock(&s->lock);
    sl->state = KVBM__MUTABLE;
    sl->reset_on_release = s->default_reset;
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_mutable, 1); /* with the slot (I5) */
    kvbm__unlock(&s->lock);
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

/* One more strong ref on a held slot, wrapped as @kind; KVBM_EOVERFLOW at
 * KVBM__STRONG_MAX (the increment is undone: racing clones overshoot by at most one each,
 * far below the 32-bit limit). */
static kvbm_status slot_clone(struct kvbm__slot *sl, int kind, const char *fn, void **out)
{
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, 1));
    if (KVBM_UNLIKELY(atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed) >= KVBM__STRONG_MAX)) {
        atomic_fetch_sub_explicit(&sl->strong, 1, memory_order_relaxed);
        kvbm__hwbuf_fini(&hb);
        kvbm__set_error("%s: the block already has %" PRIu32 " references", fn, KVBM__STRONG_MAX);
        return KVBM_EOVERFLOW;
    }
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
    KVBM_TRY(slot_clone(sl, KVBM__HK_BLOCK, "kvbm_block_clone", &o));
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

#if !KVBM_CHECKED_HANDLES
/* Release builds: clones of one block are the same pointer, so a batch may name a slot
 * several times - but not more often than the slot has references (strong only drops
 * concurrently down to what other holders own, so count > strong is certain misuse).
 * The validation loop of release_many filters: one bit per handle in a stack bitmap of
 * 128 bits per handle (1 Ki..16 Ki bits) indexed by address bits 4 and up (slots are 48
 * bytes apart, so two slots of one store share a bit only when their ids differ by a
 * multiple of the map size); only a batch in which two handles share a bit is counted
 * exactly here: an open-addressing table of >= 2n entries (on the stack up to RM_STACK
 * entries, else heap, else pairwise). Returns the index of the first occurrence beyond
 * its slot's count, or n. */
typedef kvbm_block *const *blk_arr;
#define RM_STACK    256
#define RM_MAP_MIN  1024u
#define RM_MAP_MAX  16384u
struct rm_ent { const void *p; uint32_t c; };

static size_t rm_scan(blk_arr b, size_t n, struct rm_ent *t, size_t mask)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        size_t k = (size_t)(((uint64_t)(uintptr_t)b[i] * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & mask;
        while (t[k].p != NULL && t[k].p != b[i]) k = (k + 1) & mask;
        if (t[k].p == NULL) {
            t[k].p = b[i];
            t[k].c = 1;
        } else if (++t[k].c > atomic_load_explicit(&kvbm__bh_raw(b[i])->strong, memory_order_relaxed)) {
            return i;
        }
    }
    return n;
}

static __attribute__((noinline)) size_t rm_count_exactly(blk_arr b, size_t n)
{
    size_t cap = 4;
    while (cap < 2 * n) cap <<= 1;
    struct rm_ent stack[RM_STACK];
    struct rm_ent *t = cap <= RM_STACK ? stack : kvbm__calloc(cap, sizeof *t);
    if (t == stack) {
        memset(t, 0, cap * sizeof *t);
    } else if (t == NULL) { /* no memory for the table: count pairwise (slow, correct) */
        for (size_t i = 0; i < n; i++) {
            if (b[i] == NULL) continue;
            uint32_t c = 0;
            for (size_t j = 0; j <= i; j++) c += b[j] == b[i];
            if (c > atomic_load_explicit(&kvbm__bh_raw(b[i])->strong, memory_order_relaxed)) return i;
        }
        return n;
    }
    size_t bad = rm_scan(b, n, t, cap - 1);
    if (t != stack) kvbm__free(t);
    return bad;
}
#endif

#define RM_INS 64 /* plain final releases appended per insert_ids / insert_pairs call */

/* The run of plain final releases not yet handed to the current store's backend: ids (by
 * id, insert_ids) or (hash, id) pairs (insert_pairs). */
union rm_run {
    uint32_t   ids[RM_INS];
    kvbm__pair pairs[RM_INS];
};

static inline size_t rm_flush(struct kvbm__store *s, const union rm_run *run, size_t n, bool pairs,
                              struct kvbm__post *p)
{
    if (KVBM_UNLIKELY(pairs)) return kvbm__pairs_flush(s, run->pairs, n, p);
    return kvbm__ins_flush(s, run->ids, n, p);
}

kvbm_status kvbm_block_release_many(kvbm_block *const *b, size_t n)
{
    if (n == 0) return KVBM_OK;
    if (b == NULL) return kvbm__bad_handle("kvbm_block_release_many", "NULL array");
    size_t bad = n;
#if !KVBM_CHECKED_HANDLES
    uint64_t map[RM_MAP_MAX / 64]; /* repeat filter (see rm_count_exactly) */
    size_t mbits = RM_MAP_MIN;
    while (mbits < RM_MAP_MAX && mbits < 128 * n) mbits <<= 1;
    memset(map, 0, mbits / 8);
    uint64_t seen = 0;
#endif
    /* the store of every handle when they all share one (the common case), and their
     * number: the release loop then needs neither a store per handle nor a run count */
    struct kvbm__store *one = NULL;
    bool mixed = false;
    int64_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        struct kvbm__slot *vs = kvbm__bh_slot(b[i], KVBM__HK_BLOCK);
        if (vs == NULL) { bad = i; break; }
        struct kvbm__store *vst = kvbm__store_of(vs);
        if (one == NULL) one = vst;
        mixed |= vst != one;
        live++;
#if KVBM_CHECKED_HANDLES
        struct kvbm__hw *w = (struct kvbm__hw *)b[i];
        if (w->pend) { bad = i; break; }
        w->pend = 1;
#else
        size_t k = ((uintptr_t)b[i] >> 4) & (mbits - 1);
        uint64_t bit = UINT64_C(1) << (k & 63);
        seen |= map[k >> 6] & bit;
        map[k >> 6] |= bit;
#endif
    }
#if KVBM_CHECKED_HANDLES
    for (size_t i = 0; i < (bad < n ? bad : n); i++)
        if (b[i] != NULL) ((struct kvbm__hw *)b[i])->pend = 0;
#else
    if (KVBM_UNLIKELY(seen != 0) && bad == n) bad = rm_count_exactly(b, n);
#endif
    if (bad < n) {
        kvbm__set_error("kvbm_block_release_many: handle %zu is released, repeated beyond its "
                        "references or not an immutable block", bad);
        return KVBM_EINVAL;
    }

    struct kvbm__store *cur = NULL;
    bool locked = false;
    struct kvbm__post p;
    kvbm__post_init(&p);
    /* the plain final releases not yet handed to the current store's backend: ins_batch,
     * by id (their ids, one insert_ids call: kvbm__ins_flush), or ins_pairs (their (hash,
     * id) pairs, one insert_pairs call: kvbm__pairs_flush) */
    union rm_run ins;
    size_t nins = 0;
    bool ins_batch = false, ins_pairs = false;
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        struct kvbm__slot *sl = kvbm__bh_raw(b[i]);
        struct kvbm__store *s = mixed ? kvbm__store_of(sl) : one;
        if (s != cur) {
            if (cur != NULL) {
                if (nins) nins = rm_flush(cur, &ins, nins, ins_pairs, &p);
                if (locked) { kvbm__post_locked_end(cur, &p); kvbm__unlock(&cur->lock); locked = false; }
                kvbm__post_finish(cur, &p);
                kvbm__post_init(&p);
            }
            cur = s;
            ins_batch = s->byid && s->inactive.ops->insert_ids != NULL;
            ins_pairs = !s->byid && s->inactive.ops->insert_pairs != NULL;
            /* The gauge for the whole run of this store first, while every handle of the
             * run still holds its reference (the store may go away with the last one). */
            int64_t run = mixed ? 0 : live;
            for (size_t j = i; mixed && j < n; j++) {
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
        /* only a release off the inline path may defer work (a plain one needs no room) */
        bool plain = kvbm__drop_is_plain(s, sl);
        if (ins_batch) {
            if (plain) { /* a by-id Primary -> Inactive: no index work; the id is appended
                            with the run's (same order: flushed before any other drop) */
                if (kvbm__strong_dec_locked(sl)) {
                    sl->state = KVBM__INACTIVE;
                    ins.ids[nins++] = sl->id;
                    if (nins == RM_INS) nins = kvbm__ins_flush(s, ins.ids, nins, &p);
                }
                continue;
            }
            if (nins) nins = kvbm__ins_flush(s, ins.ids, nins, &p);
        } else if (ins_pairs) {
            if (plain) { /* kvbm__drop_locked_p's plain path, the insert deferred to the run */
                if (kvbm__strong_dec_locked(sl)) {
                    uint64_t hv = kvbm_plh_hash64(sl->hash);
                    if (KVBM_UNLIKELY(!kvbm__active_index_remove_hv(&s->index, sl->id, hv))) {
                        if (nins) nins = kvbm__pairs_flush(s, ins.pairs, nins, &p);
                        kvbm__store_drop_locked(s, sl, &p); /* poisons: not indexed */
                        continue;
                    }
                    sl->state = KVBM__INACTIVE;
                    ins.pairs[nins].hash = sl->hash;
                    ins.pairs[nins++].block_id = sl->id;
                    if (nins == RM_INS) nins = kvbm__pairs_flush(s, ins.pairs, nins, &p);
                }
                continue;
            }
            if (nins) nins = kvbm__pairs_flush(s, ins.pairs, nins, &p);
        }
        if (!plain && !kvbm__post_room(&p, 2)) kvbm__post_cycle(s, &p);
        /* the next block's backend insert (if it is one) may prefetch while this one runs */
        if (s->inactive.ops->prefetch_insert != NULL && i + 1 < n && b[i + 1] != NULL)
            s->inactive.ops->prefetch_insert(s->inactive.ctx, kvbm__bh_raw(b[i + 1])->hash);
        if (kvbm__strong_dec_locked(sl)) kvbm__drop_locked_p(s, sl, &p, plain);
    }
    if (cur != NULL) {
        if (nins) (void)rm_flush(cur, &ins, nins, ins_pairs, &p);
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

kvbm_status kvbm_block_pin(kvbm_block *b, kvbm_pin **out)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return kvbm__bad_handle("kvbm_block_pin", "NULL, released or not an immutable block");
    if (out == NULL) return kvbm__bad_handle("kvbm_block_pin", "out is NULL");
    void *o;
    KVBM_TRY(slot_clone(sl, KVBM__HK_PIN, "kvbm_block_pin", &o));
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

/* (weak blocks: weak.c) */

/* ==== lifecycle pins ===================================================================== */

kvbm_status kvbm_pin_clone(kvbm_pin *p, kvbm_pin **out)
{
    struct kvbm__slot *sl = kvbm__bh_slot(p, KVBM__HK_PIN);
    if (sl == NULL) return kvbm__bad_handle("kvbm_pin_clone", "NULL, released or not a pin");
    if (out == NULL) return kvbm__bad_handle("kvbm_pin_clone", "out is NULL");
    void *o;
    KVBM_TRY(slot_clone(sl, KVBM__HK_PIN, "kvbm_pin_clone", &o));
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
