/* src/store/weak.c - weak block handles: entries of a process-wide slab, named by
 * (index, tag) values, so that validating a handle never reads freed memory.
 *
 * A kvbm_weak * is not a pointer: its value is (tag << KVBM__WEAK_IDX_BITS) | (index + 1).
 * The entry at `index` lives in a chunk of KVBM__WEAK_CHUNK entries that is never freed
 * (chunks are reachable from a static directory until exit). An entry's tag is odd while
 * it is live and is bumped at allocation and at release, so a released (stale) handle's
 * tag no longer matches: a second release, an upgrade or a clone of it is reported
 * (KVBM_EINVAL / last error) and touches nothing, even when the entry has been handed to
 * another owner meanwhile - in every build. Free entries are reused first-in first-out
 * (a hot downgrade/release loop walks a whole chunk before it reuses one), and a stale
 * handle is accepted again only after its entry was reused 2^35 times (docs/DESIGN.md,
 * "weak handles"). The slab takes one unranked leaf mutex per downgrade/clone/release,
 * never while the store lock is held.
 */
#include <inttypes.h>
#include <stdio.h>

#include "store/store_int.h"
#include "store/handle_check.h"
#include "store/post.h"
#include "store/locked.h"
#include "registry/registry_int.h"

_Static_assert(sizeof(uintptr_t) == 8, "weak handle values need 64-bit pointers");

#define KVBM__WEAK_IDX_BITS   28
#define KVBM__WEAK_CHUNK_BITS 12
#define KVBM__WEAK_CHUNK      (UINT32_C(1) << KVBM__WEAK_CHUNK_BITS)
#define KVBM__WEAK_MAX_CHUNKS (UINT32_C(1) << (KVBM__WEAK_IDX_BITS - KVBM__WEAK_CHUNK_BITS))
#define KVBM__WEAK_TAG_MASK   ((UINT64_C(1) << (64 - KVBM__WEAK_IDX_BITS)) - 1)

struct kvbm__wentry {
    _Atomic uint64_t   tag;   /* odd: live (== the handle's tag); even: free */
    uint64_t           gen;   /* the slot generation at downgrade */
    struct kvbm__store *store; /* one store ref */
    kvbm_handle       *reg;   /* one registration handle ref */
    kvbm_plh           hash;
    uint32_t           id;    /* slot id */
    uint32_t           next;  /* free list (under weak_lock) */
};

static struct kvbm__wentry *_Atomic weak_chunks[KVBM__WEAK_MAX_CHUNKS];
static kvbm__mutex weak_lock = { .state = 0, .rank = KVBM_RANK_NONE };
static uint32_t weak_nchunks;                               /* under weak_lock */
static uint32_t weak_free_head = KVBM__NIL, weak_free_tail = KVBM__NIL; /* FIFO */

static inline struct kvbm__wentry *weak_at(uint32_t idx)
{
    struct kvbm__wentry *c = atomic_load_explicit(&weak_chunks[idx >> KVBM__WEAK_CHUNK_BITS],
                                                  memory_order_acquire);
    return c != NULL ? &c[idx & (KVBM__WEAK_CHUNK - 1)] : NULL;
}

/* A live entry (tag made odd) and its handle value, or NULL with the error set. */
static struct kvbm__wentry *weak_alloc(kvbm_weak **value)
{
    kvbm__lock(&weak_lock);
    if (weak_free_head == KVBM__NIL) {
        if (weak_nchunks == KVBM__WEAK_MAX_CHUNKS) {
            kvbm__unlock(&weak_lock);
            kvbm__set_error("kvbm_block_downgrade: more than %" PRIu32 " live weak handles",
                            KVBM__WEAK_MAX_CHUNKS * KVBM__WEAK_CHUNK);
            return NULL;
        }
        struct kvbm__wentry *c = kvbm__calloc(KVBM__WEAK_CHUNK, sizeof *c);
        if (c == NULL) {
            kvbm__unlock(&weak_lock);
            return NULL;
        }
        uint32_t base = weak_nchunks << KVBM__WEAK_CHUNK_BITS;
        for (uint32_t i = 0; i < KVBM__WEAK_CHUNK; i++)
            c[i].next = i + 1 < KVBM__WEAK_CHUNK ? base + i + 1 : KVBM__NIL;
        atomic_store_explicit(&weak_chunks[weak_nchunks], c, memory_order_release);
        weak_nchunks++;
        weak_free_head = base;
        weak_free_tail = base + KVBM__WEAK_CHUNK - 1;
    }
    uint32_t idx = weak_free_head;
    struct kvbm__wentry *e = weak_at(idx);
    weak_free_head = e->next;
    if (weak_free_head == KVBM__NIL) weak_free_tail = KVBM__NIL;
    uint64_t tag = (atomic_load_explicit(&e->tag, memory_order_relaxed) + 1) & KVBM__WEAK_TAG_MASK;
    atomic_store_explicit(&e->tag, tag, memory_order_relaxed);
    kvbm__unlock(&weak_lock);
    *value = (kvbm_weak *)(uintptr_t)((tag << KVBM__WEAK_IDX_BITS) | (uint64_t)(idx + 1));
    return e;
}

static void weak_free(struct kvbm__wentry *e, uint32_t idx)
{
    kvbm__lock(&weak_lock);
    atomic_store_explicit(&e->tag, (atomic_load_explicit(&e->tag, memory_order_relaxed) + 1) &
                                   KVBM__WEAK_TAG_MASK, memory_order_relaxed);
    e->next = KVBM__NIL;
    if (weak_free_tail == KVBM__NIL) weak_free_head = idx;
    else weak_at(weak_free_tail)->next = idx;
    weak_free_tail = idx;
    kvbm__unlock(&weak_lock);
}

/* The live entry named by a handle value, or NULL (NULL, never issued, or released). Reads
 * only never-freed memory; the entry's other fields are stable while the caller owns it. */
static struct kvbm__wentry *weak_check(const kvbm_weak *wk, uint32_t *idx_out)
{
    uint64_t v = (uint64_t)(uintptr_t)wk;
    uint32_t idx = (uint32_t)(v & ((UINT64_C(1) << KVBM__WEAK_IDX_BITS) - 1));
    uint64_t tag = v >> KVBM__WEAK_IDX_BITS;
    if (idx == 0 || (tag & 1) == 0) return NULL;
    idx--;
    struct kvbm__wentry *e = weak_at(idx);
    if (e == NULL || atomic_load_explicit(&e->tag, memory_order_relaxed) != tag) return NULL;
    if (idx_out != NULL) *idx_out = idx;
    return e;
}

/* A new weak handle on (@s, @id, @gen, @hash) taking one store ref and one ref of @reg. */
static kvbm_status weak_new(struct kvbm__store *s, uint32_t id, uint64_t gen, kvbm_plh hash,
                            kvbm_handle *reg, kvbm_weak **out)
{
    struct kvbm__wentry *e = weak_alloc(out);
    if (e == NULL) return KVBM_ENOMEM;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    e->store = s;
    e->id = id;
    e->gen = gen;
    e->hash = hash;
    e->reg = kvbm_handle_clone(reg);
    return KVBM_OK;
}

kvbm_status kvbm_block_downgrade(kvbm_block *b, kvbm_weak **out)
{
    struct kvbm__slot *sl = kvbm__bh_slot(b, KVBM__HK_BLOCK);
    if (sl == NULL) return kvbm__bad_handle("kvbm_block_downgrade", "NULL, released or not an immutable block");
    if (out == NULL) return kvbm__bad_handle("kvbm_block_downgrade", "out is NULL");
    return weak_new(kvbm__store_of(sl), sl->id, sl->gen, sl->hash, sl->reg, out);
}

kvbm_status kvbm_weak_upgrade(kvbm_weak *wk, kvbm_block **out)
{
    struct kvbm__wentry *w = weak_check(wk, NULL);
    if (w == NULL) return kvbm__bad_handle("kvbm_weak_upgrade", "NULL or released weak block");
    if (out == NULL) return kvbm__bad_handle("kvbm_weak_upgrade", "out is NULL");
    struct kvbm__store *s = w->store;
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    struct kvbm__hwbuf hb;
    KVBM_TRY(kvbm__hwbuf_init(&hb, 1));
    struct kvbm__post p;
    kvbm__post_init(&p);
    bool full = false;
    kvbm__lock(&s->lock);
    struct kvbm__slot *sl = &s->slots[w->id];
    if ((sl->state == KVBM__PRIMARY || sl->state == KVBM__DUPLICATE) && sl->gen == w->gen) {
        if (KVBM_UNLIKELY(atomic_load_explicit(&sl->strong, memory_order_relaxed) >= KVBM__STRONG_MAX)) full = true;
        else atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
    } else {
        sl = kvbm__lookup_locked(s, w->hash, &p);
        if (sl != NULL && KVBM_UNLIKELY(atomic_load_explicit(&sl->strong, memory_order_relaxed) >= KVBM__STRONG_MAX))
            full = true;
        else if (sl != NULL)
            atomic_fetch_add_explicit(&sl->strong, 1, memory_order_relaxed);
    }
    kvbm__post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    kvbm__post_flush(s, &p);
    if (full || sl == NULL) {
        kvbm__hwbuf_fini(&hb);
        if (full) {
            kvbm__set_error("kvbm_weak_upgrade: the block already has %" PRIu32 " references", KVBM__STRONG_MAX);
            return KVBM_EOVERFLOW;
        }
        if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
        kvbm__set_error("kvbm_weak_upgrade: the block is neither active nor cached");
        return KVBM_ENOENT;
    }
    kvbm__metric_add(s->metrics, KVBM_METRIC_inflight_immutable, 1);
    *out = (kvbm_block *)kvbm__bh_make(&hb, sl, KVBM__HK_BLOCK);
    kvbm__hwbuf_fini(&hb);
    return KVBM_OK;
}

kvbm_status kvbm_weak_clone(kvbm_weak *wk, kvbm_weak **out)
{
    struct kvbm__wentry *w = weak_check(wk, NULL);
    if (w == NULL) return kvbm__bad_handle("kvbm_weak_clone", "NULL or released weak block");
    if (out == NULL) return kvbm__bad_handle("kvbm_weak_clone", "out is NULL");
    return weak_new(w->store, w->id, w->gen, w->hash, w->reg, out);
}

void kvbm_weak_release(kvbm_weak *wk)
{
    uint32_t idx;
    struct kvbm__wentry *w = weak_check(wk, &idx);
    if (w == NULL) {
        if (wk != NULL) kvbm__set_error("kvbm_weak_release: released or invalid weak block");
        return;
    }
    struct kvbm__store *s = w->store;
    kvbm_handle *reg = w->reg;
    weak_free(w, idx);
    kvbm_handle_release(reg);
    kvbm__store_unref(s, 1);
}

kvbm_plh kvbm_weak_seq_hash(const kvbm_weak *wk)
{
    struct kvbm__wentry *w = weak_check(wk, NULL);
    kvbm_plh z = { 0, 0 };
    return w != NULL ? w->hash : z;
}

int kvbm_weak_describe(const kvbm_weak *wk, char *buf, size_t len)
{
    struct kvbm__wentry *w = weak_check(wk, NULL);
    if (w == NULL) return snprintf(buf, len, "WeakBlock { invalid }");
    char hex[KVBM_PLH_HEX_LEN];
    return snprintf(buf, len, "WeakBlock { sequence_hash: %s }", kvbm_plh_to_hex(w->hash, hex));
}
