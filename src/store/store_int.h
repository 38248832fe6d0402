/* src/store/store_int.h - the block store: slots, reset FIFO, active index (internal).
 *
 * One store per manager, allocated once with a flexible array of slots. Everything except
 * a slot's `strong` counter is guarded by `lock` (rank KVBM_RANK_STORE).
 *
 * Slot states and what holds them (spec 10 §1.1):
 *   RESET      in `ring` (the reset FIFO), nobody holds it                 refs: -
 *   MUTABLE    one kvbm_mutable                                            refs: 1
 *   STAGED     one kvbm_complete; hash valid                              refs: 1
 *   PRIMARY    strong >= 1 (blocks, pins, duplicate keepalives); in the
 *              index (chained through `index.next`); reg held             refs: 1
 *   DUPLICATE  strong >= 1; `keepalive` = primary id (holds one strong on
 *              it); reg held; in no index                                  refs: 1
 *   INACTIVE   in the inactive backend; reg held; strong == 0; in the
 *              index too iff `byid` (chained through `index.next`)         refs: -
 *
 *   |ring| + |inactive| + #MUTABLE + #STAGED + #PRIMARY + #DUPLICATE == n        (I4)
 *   the index holds exactly the PRIMARY slots (+ the INACTIVE ones iff byid),
 *   keyed by their hash                                                          (I2)
 *   per hash at most one slot is PRIMARY or INACTIVE                             (I3)
 *   refs == 1 (manager, while alive) + #MUTABLE + #STAGED + #PRIMARY + #DUPLICATE
 *           + #weak handles + parked (== #INACTIVE while the manager lives, else 0)
 *           + refs of operations in flight
 *
 * One index for PRIMARY and INACTIVE (`byid`, when the backend has the by-id ops: LRU,
 * MultiLRU). By I3 the index can keep a slot across PRIMARY <-> INACTIVE: a release
 * leaves it indexed and appends the id to the backend's order (no hash work there), a
 * lookup that finds an INACTIVE slot asks the backend to remove that id, and an eviction
 * (allocate, reset_inactive) unindexes its victims. The backend then keeps no hash index
 * of its own (backend.h, by_id). Backends without those ops (Lineage, HashMap) keep their
 * index and the store's index holds only PRIMARY slots.
 *
 * Final release (README decision 1, Option B): clone and non-final release are lock-free
 * (CAS while strong > 1); the 1 -> 0 decrement happens under `lock` together with the slot
 * transition. Lookups increment strong only under `lock`. A PRIMARY/DUPLICATE slot with
 * strong == 0 is therefore never observable. kvbm_block_release_many may set a run of
 * slots INACTIVE before appending their ids to a by-id backend in one insert_ids call
 * (locked.h, kvbm__ins_flush), or unindex them and set them INACTIVE before handing their
 * (hash, id) pairs to a backend with its own index in one insert_pairs call
 * (kvbm__pairs_flush): I2/I4 hold again before the lock is released or any other drop
 * runs (docs/design/store.md §10).
 *
 * Registry work (mark_present/mark_absent, dropping handle refs) is never done under
 * `lock`: it is collected into a struct kvbm__post and flushed after unlock.
 *
 * Files: store.c (lifetime, slot transitions, queries, check), ops.c (manager operations),
 * handles.c (public handle API); handle_check.h, post.h, locked.h (shared inline helpers).
 */
#ifndef KVBM_STORE_INT_H
#define KVBM_STORE_INT_H

#include "internal.h"
#include "kvbm/manager.h"
#include "backends/backend.h"
#include "metrics/metrics_int.h"
#include "tinylfu/tinylfu_int.h"

/* Handles are checked wrappers when KVBM_DEBUG >= 1, plain slot pointers otherwise. */
#if KVBM_DEBUG >= 1
#  define KVBM_CHECKED_HANDLES 1
#else
#  define KVBM_CHECKED_HANDLES 0
#endif

enum kvbm__slot_state {
    KVBM__RESET = 0,
    KVBM__MUTABLE,
    KVBM__STAGED,
    KVBM__PRIMARY,
    KVBM__DUPLICATE,
    KVBM__INACTIVE
};

#define KVBM__NIL UINT32_MAX

struct kvbm__slot {
    kvbm_plh          hash;      /* STAGED..INACTIVE (and a just-evicted MUTABLE until return) */
    kvbm_handle      *reg;       /* PRIMARY/DUPLICATE/INACTIVE: one registry handle ref */
    /* bumped whenever a new inner is bound (registration, resurrection). 64-bit: a weak
     * handle compares it to tell "the same inner" from "a later one in the same slot", and
     * 2^64 bindings cannot happen (a 32-bit one wrapped after 2^32 resurrections). */
    uint64_t          gen;
    _Atomic uint32_t  strong;    /* PRIMARY/DUPLICATE: strong refs on the embedded inner,
                                    at most KVBM__STRONG_MAX (clones fail beyond) */
    uint32_t          id;        /* index in store->slots (slot -> store) */
    uint32_t          keepalive; /* DUPLICATE: primary id (the index chains are in
                                    index.next[], not in the slots) */
    uint8_t           state;     /* enum kvbm__slot_state */
    uint8_t           reset_on_release;
    uint8_t           mark;      /* owner-private scratch (batch validation, presence) */
    uint8_t           pad_;
};
_Static_assert(sizeof(struct kvbm__slot) <= 48, "store slot must stay <= 48 bytes");

/* The most strong references one slot may hold. A clone, pin or weak upgrade beyond it
 * fails with KVBM_EOVERFLOW and a match stops before such a block, so the 32-bit count
 * never wraps: the headroom above it absorbs increments racing the check (one per thread)
 * and the duplicates' keepalives (see docs/DESIGN.md, "strong count bound"). */
#define KVBM__STRONG_MAX (UINT32_C(1) << 31)

/* ---- reset FIFO: ring buffer of slot ids, capacity n -------------------------------- */
struct kvbm__ring {
    uint32_t *buf;
    uint32_t  cap, head, len;
};

static inline void kvbm__ring_push_back(struct kvbm__ring *r, uint32_t v)
{
    uint32_t i = r->head + r->len;
    if (i >= r->cap) i -= r->cap;
    r->buf[i] = v;
    r->len++;
}
static inline uint32_t kvbm__ring_pop_front(struct kvbm__ring *r)
{
    uint32_t v = r->buf[r->head];
    if (++r->head == r->cap) r->head = 0;
    r->len--;
    return v;
}
static inline void kvbm__ring_push_front(struct kvbm__ring *r, uint32_t v)
{
    r->head = r->head == 0 ? r->cap - 1 : r->head - 1;
    r->buf[r->head] = v;
    r->len++;
}
static inline uint32_t kvbm__ring_at(const struct kvbm__ring *r, uint32_t k)
{
    uint32_t i = r->head + k;
    if (i >= r->cap) i -= r->cap;
    return r->buf[i];
}

/* ---- active index: hash -> PRIMARY slot id; power-of-two bucket array of chain heads,
 * chains threaded through next[id] (no allocation after create). The links live in an
 * array of their own (4 B per block), not in the slots: unlinking a victim walks its chain
 * through next[] alone (ids compared, no foreign slot touched); a lookup reads a slot only
 * to compare its hash. next[id] of a slot in no chain is free: allocate threads its
 * eviction chain through it. ------------------------------------------------------- */
struct kvbm__active_index {
    uint32_t *buckets;
    uint32_t *next;     /* [n] */
    uint32_t  mask;
    uint32_t  len;
};

/* hv = kvbm_plh_hash64(h), computed once by callers that also insert. */
static inline uint32_t kvbm__active_index_find_hv(const struct kvbm__active_index *ix, const struct kvbm__slot *slots,
                                           kvbm_plh h, uint64_t hv)
{
    uint32_t id = ix->buckets[hv & ix->mask];
    while (id != KVBM__NIL && !kvbm_plh_eq(slots[id].hash, h)) id = ix->next[id];
    return id;
}
static inline uint32_t kvbm__active_index_find(const struct kvbm__active_index *ix, const struct kvbm__slot *slots,
                                        kvbm_plh h)
{
    return kvbm__active_index_find_hv(ix, slots, h, kvbm_plh_hash64(h));
}
/* The _hv forms need no slot: the links are in next[], the bucket comes from @hv. */
static inline void kvbm__active_index_insert_hv(struct kvbm__active_index *ix, uint32_t id, uint64_t hv)
{
    uint32_t *b = &ix->buckets[hv & ix->mask];
    ix->next[id] = *b;
    *b = id;
    ix->len++;
}
static inline void kvbm__active_index_insert(struct kvbm__active_index *ix, struct kvbm__slot *slots, uint32_t id)
{
    kvbm__active_index_insert_hv(ix, id, kvbm_plh_hash64(slots[id].hash));
}
/* Returns false if @id was not in the index. hv = kvbm_plh_hash64(slots[id].hash). */
static inline bool kvbm__active_index_remove_hv(struct kvbm__active_index *ix, uint32_t id, uint64_t hv)
{
    uint32_t *link = &ix->buckets[hv & ix->mask];
    while (*link != id) {
        if (*link == KVBM__NIL) return false;
        link = &ix->next[*link];
    }
    *link = ix->next[id];
    ix->next[id] = KVBM__NIL;
    ix->len--;
    return true;
}
static inline bool kvbm__active_index_remove(struct kvbm__active_index *ix, struct kvbm__slot *slots, uint32_t id)
{
    return kvbm__active_index_remove_hv(ix, id, kvbm_plh_hash64(slots[id].hash));
}

/* ---- the store ----------------------------------------------------------------------- */
#define KVBM__QUARANTINE 4096

struct kvbm__store {
    kvbm__mutex          lock;
    _Atomic uint64_t    refs;
    atomic_int          poisoned;       /* 1 once poison_why is written (release) */
    atomic_int          poison_claim;   /* the first poisoner writes poison_why */
    kvbm_mgr_id         id;
    uint32_t            n;
    uint32_t            block_size;
    bool                default_reset;
    bool                gauges_valid;   /* built by kvbm_manager_create (I5 checkable) */
    bool                has_tracker;    /* the registry has a frequency tracker (fixed) */
    kvbm_dup_policy     policy;
    kvbm_tier           tier;
    kvbm_registry      *registry;       /* one ref */
    kvbm_metrics       *metrics;        /* one ref */
    kvbm__inactive       inactive;       /* owned */
    /* MultiLRU over a TinyLFU tracker (inactive.freq, with insert_cells): the sketch cells
     * of every slot's hash, [n], written when the slot is staged (its owner alone holds
     * it then) and read while the hash stays (match touches, the count at release), so a
     * block is hashed for the sketch once per registration, not at every touch and count.
     * NULL otherwise. */
    kvbm__touch_cells  *tcells;
    bool                byid;           /* INACTIVE slots stay in `index` (I2; fixed) */
    /* the lookup of a hash missing from `index`: the backend's find_match, or (byid) a
     * constant miss - one indirect call either way, no test of byid on that path */
    bool              (*find_inactive)(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id);
    struct kvbm__ring   ring;
    struct kvbm__active_index  index;
    /* Store refs of Inactive slots (under lock). While the manager lives, a slot keeps its
     * store ref when it goes Primary -> Inactive ("parked"), so the hot release/resurrect
     * cycle never touches `refs`; kvbm_manager_destroy() drops the parked refs at once and
     * sets `orphan`, after which Inactive slots hold no ref (the store can be freed). */
    uint64_t            parked;
    bool                orphan;
    char                poison_why[160];/* the first violation (kvbm__store_poisoned_error) */
    /* router_tokens_hash (router_th.c): [n] or NULL when off; the registry observer id */
    struct kvbm__rth   *rth;
    uint64_t            rth_seed;
    uint32_t            rth_obs;
#if KVBM_CHECKED_HANDLES
    pthread_mutex_t     qlock;          /* unranked leaf: released-wrapper quarantine */
    void              **quarantine;
    uint32_t            qhead, qlen;
#endif
    struct kvbm__slot    slots[];
};

static inline struct kvbm__store *kvbm__store_of(struct kvbm__slot *sl)
{
    return kvbm__container_of(sl - sl->id, struct kvbm__store, slots);
}

struct kvbm__store_params {
    uint32_t        block_count;
    uint32_t        block_size;
    kvbm_dup_policy policy;
    bool            default_reset_on_release;
    kvbm_tier       tier;
    kvbm_registry  *registry;  /* the store takes its own reference */
    kvbm_metrics   *metrics;   /* the store takes its own reference */
};

/* Build a store around a ready backend (ownership of @backend moves to the store, also on
 * error). *@out holds one reference (the caller's). */
kvbm_status kvbm__store_create(const struct kvbm__store_params *p, kvbm__inactive *backend,
                               struct kvbm__store **out);
void kvbm__store_unref(struct kvbm__store *s, uint64_t k);
/* The manager's reference goes: release the parked refs of Inactive slots too. */
void kvbm__store_orphan(struct kvbm__store *s);

/* Poison the store (release) / assert (debug): an internal invariant is broken. */
void kvbm__store_poison(struct kvbm__store *s, const char *what);

static inline bool kvbm__store_is_poisoned(const struct kvbm__store *s)
{
    return atomic_load_explicit(&((struct kvbm__store *)s)->poisoned, memory_order_relaxed) != 0;
}
/* KVBM_EPOISONED with the message "manager is poisoned: <first violation>". */
kvbm_status kvbm__store_poisoned_error(struct kvbm__store *s);

/* ---- router tokens_hash (router_th.c) ------------------------------------------------ */
/* The router tokens_hash of the block last completed from tokens in a slot, with that
 * block's PLH: valid for the slot's current hash iff the PLHs are equal. */
struct kvbm__rth {
    kvbm_plh plh;
    uint64_t tokens_hash;
};
/* The registration in progress on one thread: hashes[k] is the staged slot slot_ids[k]. */
struct kvbm__rth_ctx {
    struct kvbm__store *store;
    const kvbm_plh     *hashes;
    const uint32_t     *slot_ids;
    size_t              n, cursor;
};
struct kvbm_token_block;
/* Allocate rth and add the store's registry observer (manager creation, no lock held). */
kvbm_status kvbm__store_router_enable(struct kvbm__store *s, const char *lora_name);
/* Remove the observer (kvbm_manager_destroy; no lock held). No-op when off. */
void kvbm__store_router_disable(struct kvbm__store *s);
/* rth[@id] := tokens_hash of @tb (the caller owns slot @id; s->rth != NULL). */
void kvbm__store_router_complete(struct kvbm__store *s, uint32_t id, const struct kvbm_token_block *tb);
/* Around kvbm_registry_register_many in kvbm__store_register (s->rth != NULL). */
void kvbm__store_router_begin(struct kvbm__rth_ctx *c);
void kvbm__store_router_end(void);

/* ---- internal to src/store/, defined in store.c (used by handles.c) ------------------ */
struct kvbm__post;  /* deferred after-unlock work, store/post.h */
/* Under the lock: @sl's strong count just went 1 -> 0; Primary/Duplicate transition. */
void kvbm__store_drop_locked(struct kvbm__store *s, struct kvbm__slot *sl, struct kvbm__post *p);
/* Final release of one strong ref (takes the lock); the tail of kvbm__slot_release(). */
kvbm_status kvbm__store_slot_release_locked(struct kvbm__store *s, struct kvbm__slot *sl);

/* Store-side implementation of the manager operations (ops.c). */
kvbm_status kvbm__store_allocate(struct kvbm__store *s, size_t count, kvbm_mutable **out,
                                 kvbm_plh *evicted, size_t *n_evicted);
kvbm_status kvbm__store_register(struct kvbm__store *s, kvbm_complete *const *in, size_t n,
                                 kvbm_block **out);
/* kvbm_mutable_stage_many(in, hashes, n, block_size) + kvbm__store_register in one store-lock
 * section (no complete handles in between): the same transitions, hooks, touches, metrics
 * and presence updates. Validation or registry failure: nothing changed (*@done = 0).
 * Poisoning: in[0..*@done) are registered (out[]), the rest are still mutable. */
kvbm_status kvbm__store_stage_register(struct kvbm__store *s, kvbm_mutable *const *in,
                                       const kvbm_plh *hashes, size_t n, uint32_t block_size,
                                       kvbm_block **out, size_t *done);
kvbm_status kvbm__store_match(struct kvbm__store *s, const kvbm_plh *hashes, size_t n,
                              kvbm_block **out, size_t *matched);
kvbm_status kvbm__store_scan(struct kvbm__store *s, const kvbm_plh *hashes, size_t n, bool touch,
                             kvbm_plh *out_hashes, kvbm_block **out_blocks, size_t *found);
kvbm_status kvbm__store_reset_inactive(struct kvbm__store *s, uint64_t *expected, uint64_t *actual);

/* Queries and the invariant check (store.c). */
kvbm_status kvbm__store_check(struct kvbm__store *s);
uint64_t kvbm__store_available(struct kvbm__store *s);
uint64_t kvbm__store_reset_len(struct kvbm__store *s);
uint64_t kvbm__store_inactive_len(struct kvbm__store *s);
bool kvbm__store_has_inactive(struct kvbm__store *s, kvbm_plh h);

#endif /* KVBM_STORE_INT_H */
