/* src/store/store.c - the block store: lifetime, slot transitions, queries, invariants.
 *
 * See store_int.h for the slot states, the invariants and the locking rules, and
 * docs/design/store.md for the design. In short:
 *  - one mutex per store; every slot transition happens under it;
 *  - immutable handles share the slot's embedded inner (strong counter): clone and
 *    non-final release are lock-free, the final release transitions the slot in the same
 *    critical section as its 1 -> 0 decrement (Option B);
 *  - registry work (presence marks, handle-ref drops) is collected under the lock into a
 *    struct kvbm__post and performed after unlock; store refcount decrements come last.
 *
 * The manager operations are in ops.c, the public handle API in handles.c; the shared
 * helpers are in handle_check.h, post.h and locked.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/post.h"
#include "store/locked.h"
#include "registry/registry_int.h"

/* ==== store lifetime ===================================================================== */

static _Atomic uint64_t next_manager_id = 1;

static void quiet_poison(struct kvbm__store *s, const char *what)
{
    kvbm__set_error("kvbm: internal invariant violated: %s", what);
    if (atomic_exchange_explicit(&s->poison_claim, 1, memory_order_relaxed) == 0) {
        snprintf(s->poison_why, sizeof s->poison_why, "%s", what);
        atomic_store_explicit(&s->poisoned, 1, memory_order_release);
    } else {
        while (!atomic_load_explicit(&s->poisoned, memory_order_acquire)) { /* the first is writing */ }
    }
}

kvbm_status kvbm__store_poisoned_error(struct kvbm__store *s)
{
    if (atomic_load_explicit(&s->poisoned, memory_order_acquire))
        kvbm__set_error("kvbm: the manager is poisoned (internal invariant violated: %s)", s->poison_why);
    return KVBM_EPOISONED;
}

void kvbm__store_poison(struct kvbm__store *s, const char *what)
{
    quiet_poison(s, what);
#if KVBM_DEBUG >= 1
    kvbm__assert_fail(what, __FILE__, __LINE__, __func__);
#endif
}

/* By id every Inactive slot is in the store's index: a hash missing there is not cached. */
static bool find_inactive_none(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id)
{
    (void)ctx; (void)h; (void)touch; (void)block_id;
    return false;
}

kvbm_status kvbm__store_create(const struct kvbm__store_params *p, kvbm__inactive *backend,
                               struct kvbm__store **out)
{
    kvbm__inactive be = *backend;
    backend->ops = NULL; backend->ctx = NULL;
    if (p == NULL || out == NULL || p->block_count == 0 || p->block_count == UINT32_MAX ||
        p->registry == NULL || p->metrics == NULL || be.ops == NULL) {
        kvbm__inactive_destroy(&be);
        return KVBM_FAIL(KVBM_EINVAL, "kvbm__store_create: invalid parameters");
    }
    uint32_t n = p->block_count;
    struct kvbm__store *s = kvbm__calloc(1, sizeof *s + (size_t)n * sizeof(struct kvbm__slot));
    /* index buckets: the largest power of two <= 2n (load <= 0.5..1 with every slot indexed -
     * Primary and, by id, Inactive -, <= 8 B/block: the store's 64 B/block metadata bar;
     * 4n buckets measured ~2 % fewer L1 misses in the LRU replay but break the bar) */
    uint64_t nb = kvbm__next_pow2_u64((uint64_t)n * 2);
    if (nb > (uint64_t)n * 2) nb >>= 1;
    if (nb < 2) nb = 2;
    /* MultiLRU over TinyLFU: cache the sketch cells of every block (store_int.h, tcells) */
    bool want_cells = be.freq != NULL && be.ops->insert_cells != NULL && kvbm__tracker_is_tinylfu(be.freq);
    if (s != NULL) {
        s->ring.buf = kvbm__malloc((size_t)n * sizeof(uint32_t));
        s->index.buckets = kvbm__malloc((size_t)nb * sizeof(uint32_t));
        s->index.next = kvbm__malloc((size_t)n * sizeof(uint32_t));
        if (want_cells) s->tcells = kvbm__malloc((size_t)n * sizeof *s->tcells);
#if KVBM_CHECKED_HANDLES
        s->quarantine = kvbm__calloc(KVBM__QUARANTINE, sizeof(void *));
#endif
    }
    if (s == NULL || s->ring.buf == NULL || s->index.buckets == NULL || s->index.next == NULL || (want_cells && s->tcells == NULL)
#if KVBM_CHECKED_HANDLES
        || s->quarantine == NULL
#endif
        ) {
        if (s != NULL) {
            kvbm__free(s->ring.buf);
            kvbm__free(s->index.buckets);
            kvbm__free(s->index.next);
            kvbm__free(s->tcells);
#if KVBM_CHECKED_HANDLES
            kvbm__free(s->quarantine);
#endif
            kvbm__free(s);
        }
        kvbm__inactive_destroy(&be);
        return KVBM_ENOMEM;
    }
    kvbm__mutex_init(&s->lock, KVBM_RANK_STORE);
#if KVBM_CHECKED_HANDLES
    pthread_mutex_init(&s->qlock, NULL);
#endif
    atomic_init(&s->refs, 1);
    atomic_init(&s->poisoned, 0);
    atomic_init(&s->poison_claim, 0);
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
    /* one index for Primary and Inactive slots when the backend can be driven by id */
    s->byid = be.ops->by_id != NULL && be.ops->remove_id != NULL && be.ops->has_id != NULL &&
              be.ops->by_id(be.ctx);
    s->find_inactive = s->byid ? find_inactive_none : be.ops->find_match;
    s->ring.cap = n;
    s->ring.head = 0;
    s->ring.len = 0;
    s->index.mask = (uint32_t)(nb - 1);
    s->index.len = 0;
    for (uint64_t i = 0; i < nb; i++) s->index.buckets[i] = KVBM__NIL;
    for (uint32_t i = 0; i < n; i++) {
        struct kvbm__slot *sl = &s->slots[i];
        atomic_init(&sl->strong, 0);
        sl->id = i;
        s->index.next[i] = KVBM__NIL;
        sl->keepalive = KVBM__NIL;
        sl->state = KVBM__RESET;
        sl->reset_on_release = p->default_reset_on_release;
        kvbm__ring_push_back(&s->ring, i);
    }
    *out = s;
    return KVBM_OK;
}

static void store_free(struct kvbm__store *s)
{
    /* Nobody else can reach the store: its cached (inactive) blocks vanish with it. */
    for (uint32_t i = 0; i < s->n; i++) {
        struct kvbm__slot *sl = &s->slots[i];
        if (sl->reg != NULL) {
            if (sl->state == KVBM__INACTIVE) kvbm__handle_mark_absent(sl->reg, s->tier);
            kvbm_handle_release(sl->reg);
            sl->reg = NULL;
        }
    }
    kvbm__inactive_destroy(&s->inactive);
#if KVBM_CHECKED_HANDLES
    for (uint32_t i = 0; i < s->qlen; i++) kvbm__free(s->quarantine[(s->qhead + i) % KVBM__QUARANTINE]);
    kvbm__free(s->quarantine);
    pthread_mutex_destroy(&s->qlock);
#endif
    kvbm__free(s->ring.buf);
    kvbm__free(s->index.buckets);
    kvbm__free(s->index.next);
    kvbm__free(s->tcells);
    kvbm__free(s->rth);
    kvbm_metrics_release(s->metrics);
    kvbm_registry_release(s->registry);
    kvbm__mutex_destroy(&s->lock);
    kvbm__free(s);
}

void kvbm__store_unref(struct kvbm__store *s, uint64_t k)
{
    if (k == 0) return;
    if (atomic_fetch_sub_explicit(&s->refs, k, memory_order_acq_rel) == k) store_free(s);
}

void kvbm__store_orphan(struct kvbm__store *s)
{
    kvbm__lock(&s->lock);
    uint64_t k = s->parked;
    s->parked = 0;
    s->orphan = true;
    kvbm__unlock(&s->lock);
    kvbm__store_unref(s, k + 1);
}

/* ==== slot transitions under the lock ==================================================== */

/* A released Primary (reset_on_release) or Duplicate goes to the back of the reset FIFO:
 * its registration is marked absent after unlock (p->absent) and its store ref dropped. */
static inline void held_to_reset_locked(struct kvbm__store *s, struct kvbm__slot *sl, struct kvbm__post *p)
{
    p->absent[p->na++] = sl->reg;
    sl->reg = NULL;
    sl->state = KVBM__RESET;
    kvbm__ring_push_back(&s->ring, sl->id);
    p->d_reset++;
    p->unref++;
}

/* @sl's strong count just went 1 -> 0 under the lock: Primary -> Inactive (or Reset with
 * reset_on_release), Duplicate -> Reset plus the release of its keepalive on the primary.
 * Needs room for 2 entries in p->absent. */
void kvbm__store_drop_locked(struct kvbm__store *s, struct kvbm__slot *sl, struct kvbm__post *p)
{
    if (sl->state == KVBM__PRIMARY) {
        /* by id, a slot going Inactive stays indexed (store_int.h, I2) */
        if ((!s->byid || sl->reset_on_release) &&
            KVBM_UNLIKELY(!kvbm__active_index_remove(&s->index, s->slots, sl->id))) {
            kvbm__store_poison(s, "primary slot missing from the active index");
            return;
        }
        if (sl->reset_on_release) {
            held_to_reset_locked(s, sl, p);
        } else {
            sl->state = KVBM__INACTIVE;
            kvbm_status ist = s->tcells != NULL
                ? s->inactive.ops->insert_cells(s->inactive.ctx, sl->hash, sl->id, &s->tcells[sl->id])
                : s->inactive.ops->insert(s->inactive.ctx, sl->hash, sl->id);
            if (KVBM_UNLIKELY(ist != KVBM_OK)) {
                kvbm__store_poison(s, "inactive backend rejected an insert");
                return;
            }
            p->d_inactive++;
            kvbm__park_locked(s, p, 1);
        }
    } else if (sl->state == KVBM__DUPLICATE) {
        held_to_reset_locked(s, sl, p);
        uint32_t pid = sl->keepalive;
        sl->keepalive = KVBM__NIL;
        if (KVBM_UNLIKELY(pid >= s->n || s->slots[pid].state != KVBM__PRIMARY)) {
            kvbm__store_poison(s, "duplicate keepalive does not designate a primary");
            return;
        }
        struct kvbm__slot *pr = &s->slots[pid];
        if (kvbm__strong_dec_locked(pr)) kvbm__store_drop_locked(s, pr, p);
    } else {
        kvbm__store_poison(s, "final release of a slot that is neither primary nor duplicate");
    }
}

/* Final (locked) release of one strong ref; kvbm__slot_release() (locked.h) tail-calls it. */
__attribute__((noinline)) kvbm_status kvbm__store_slot_release_locked(struct kvbm__store *s,
                                                                      struct kvbm__slot *sl)
{
    struct kvbm__post p;
    kvbm__post_init(&p);
    kvbm__lock(&s->lock);
    if (kvbm__strong_dec_locked(sl)) kvbm__drop_locked(s, sl, &p);
    kvbm__post_locked_end(s, &p);
    kvbm__unlock(&s->lock);
    kvbm__post_finish(s, &p);
    return KVBM_OK;
}

/* ==== queries and invariants ============================================================= */

uint64_t kvbm__store_available(struct kvbm__store *s)
{
    kvbm__lock(&s->lock);
    uint64_t v = (uint64_t)s->ring.len + s->inactive.ops->len(s->inactive.ctx);
    kvbm__unlock(&s->lock);
    return v;
}

uint64_t kvbm__store_reset_len(struct kvbm__store *s)
{
    kvbm__lock(&s->lock);
    uint64_t v = s->ring.len;
    kvbm__unlock(&s->lock);
    return v;
}

uint64_t kvbm__store_inactive_len(struct kvbm__store *s)
{
    kvbm__lock(&s->lock);
    uint64_t v = s->inactive.ops->len(s->inactive.ctx);
    kvbm__unlock(&s->lock);
    return v;
}

bool kvbm__store_has_inactive(struct kvbm__store *s, kvbm_plh h)
{
    kvbm__lock(&s->lock);
    bool v = s->byid ? kvbm__indexed_inactive(s, h) != KVBM__NIL
                     : s->inactive.ops->has(s->inactive.ctx, h);
    kvbm__unlock(&s->lock);
    return v;
}

kvbm_status kvbm__store_check(struct kvbm__store *s)
{
    if (kvbm__store_is_poisoned(s)) return kvbm__store_poisoned_error(s);
    uint8_t *seen = kvbm__calloc(s->n, 1);
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
        struct kvbm__slot *sl = &s->slots[id];
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
            if (kvbm__active_index_find(&s->index, s->slots, sl->hash) != id)
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
            if (s->byid ? !s->inactive.ops->has_id(s->inactive.ctx, id)
                        : !s->inactive.ops->has(s->inactive.ctx, sl->hash))
                snprintf(why, sizeof why, "I1: inactive slot %" PRIu32 " missing from the backend", id);
            else if (kvbm__active_index_find(&s->index, s->slots, sl->hash) != (s->byid ? id : KVBM__NIL))
                snprintf(why, sizeof why, s->byid ? "I2: inactive slot %" PRIu32 " not indexed by its hash"
                                                  : "I3: inactive slot %" PRIu32 " has a primary for its hash", id);
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
        uint64_t indexed = cnt[KVBM__PRIMARY] + (s->byid ? cnt[KVBM__INACTIVE] : 0);
        if (s->index.len != indexed)
            snprintf(why, sizeof why, "I2: index holds %" PRIu32 " entries for %" PRIu64 " primary%s slots",
                     s->index.len, indexed, s->byid ? " and inactive" : "");
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
    kvbm__free(seen);
    if (why[0]) {
        quiet_poison(s, why);
        return KVBM_EPOISONED;
    }
    return KVBM_OK;
}
