/* src/ext/consolidator/tracker.c - the consolidator's dedup tracker (spec 20 §4.3.2).
 *
 * State (all under t->lock, a leaf lock: nothing else is taken, logged or called while it
 * is held - registry calls, handle releases and warnings happen after unlocking):
 *   blocks    PLH -> {sources bit set, published flag, registry handle}
 *   external  (source, external hash) -> PLH
 *   queue     FIFO of STORE / REMOVE / CLEAR_ALL events (storage recycled by drain)
 *   loras     interned LoRA names (events point at them; freed with the tracker)
 *
 * Invariants (kvbm_cons_tracker_check; after every operation when KVBM_DEBUG >= 3):
 *   I1 every external entry (s, x) -> p names a live block p whose sources contain s;
 *   I2 every live block has at least one source;
 *   I3 a block holding an engine source (not kvbm) is published;
 *   I4 for each engine source s, the external entries of s number exactly the sum of
 *      refs[s] over the live blocks (several engine hashes may map to one PLH: the block
 *      keeps s until the last of them is removed); refs[kvbm] is 0 or 1.
 * Lifecycle (what the proptests check on the drained stream): no STORE for a PLH that is
 * already published and live; a REMOVE only for a live published block; after CLEAR_ALL
 * nothing is live.
 */
#include "cons_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include "kvbm/tokens.h"

struct kvbm_cons_tracker {
    pthread_mutex_t          lock;     /* leaf; see the file comment */
    kvbm__cmap               blocks;
    kvbm__cmap               external;
    kvbm_cons_events         queue;
    char                   **loras;
    size_t                   n_loras, cap_loras;
    kvbm_registry           *registry; /* own reference or NULL */
    kvbm_cons_tracker_stats  st;       /* gauges filled in by get_stats */
};

static bool has_sources(const kvbm__cmap_slot *b)
{
    for (int i = 0; i < KVBM_CONS_SOURCE_COUNT; i++)
        if (b->refs[i] != 0) return true;
    return false;
}

/* Engine sources key blocks by their own hashes; kvbm goes through the bridge calls. */
static bool source_ok(kvbm_cons_source s) { return s == KVBM_CONS_SOURCE_VLLM || s == KVBM_CONS_SOURCE_TRTLLM; }

kvbm_status kvbm_cons_tracker_create(const kvbm_cons_tracker_config *cfg, kvbm_cons_tracker **out)
{
    if (out == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: out is NULL", __func__);
    kvbm_cons_tracker *t = kvbm__calloc(1, sizeof *t);
    if (t == NULL) return KVBM_FAIL(KVBM_ENOMEM, "%s: no memory", __func__);
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        kvbm__free(t);
        return KVBM_FAIL(KVBM_ENOMEM, "%s: pthread_mutex_init failed", __func__);
    }
    if (cfg != NULL && cfg->registry != NULL) t->registry = kvbm_registry_clone(cfg->registry);
    *out = t;
    return KVBM_OK;
}

static void release_handles(kvbm__cmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (kvbm__cmap_used(&m->slots[i]) && m->slots[i].handle != NULL) kvbm_handle_release(m->slots[i].handle);
}

void kvbm_cons_tracker_destroy(kvbm_cons_tracker *t)
{
    if (t == NULL) return;
    release_handles(&t->blocks);
    kvbm__cmap_free(&t->blocks);
    kvbm__cmap_free(&t->external);
    kvbm__cons_events_fini(&t->queue);
    for (size_t i = 0; i < t->n_loras; i++) kvbm__free(t->loras[i]);
    kvbm__free(t->loras);
    if (t->registry != NULL) kvbm_registry_release(t->registry);
    pthread_mutex_destroy(&t->lock);
    kvbm__free(t);
}

kvbm_status kvbm_cons_block_plh(const uint32_t *tokens, size_t n_tokens, uint32_t block_size,
                                const char *lora_name, const kvbm_plh *parent, kvbm_plh *out)
{
    if (out == NULL || (tokens == NULL && n_tokens != 0))
        return KVBM_FAIL(KVBM_EINVAL, "%s: NULL argument", __func__);
    if (block_size == 0) return KVBM_FAIL(KVBM_EINVAL, "%s: block size 0", __func__);
    if (n_tokens < block_size)
        return KVBM_FAIL(KVBM_EINSUFFICIENT, "%s: %zu tokens, block size %u: no complete block",
                         __func__, n_tokens, block_size);
    /* = kvbm_router_tokens_hashes' first window: XXH3_64(LE32(tokens), router seed) */
    uint64_t h = kvbm_tokens_block_hash(tokens, block_size, kvbm_router_seed(lora_name));
    if (parent == NULL) {
        *out = kvbm_plh_root(h);
        return KVBM_OK;
    }
    return kvbm_plh_extend(parent, h, out);
}

/* ---- helpers under the lock -------------------------------------------------------- */

static inline kvbm__cmap_slot *find_block(const kvbm_cons_tracker *t, kvbm_plh plh)
{
    return plh.hi == KVBM__CMAP_FREE ? NULL : kvbm__cmap_find(&t->blocks, plh.lo, plh.hi);
}

/* The interned copy of @lora (NULL/"" -> NULL). *@fail set on ENOMEM. */
static const char *intern_lora(kvbm_cons_tracker *t, const char *lora, bool *fail)
{
    if (lora == NULL || lora[0] == '\0') return NULL;
    for (size_t i = 0; i < t->n_loras; i++)
        if (strcmp(t->loras[i], lora) == 0) return t->loras[i];
    if (t->n_loras == t->cap_loras) {
        size_t cap = t->cap_loras ? t->cap_loras * 2 : 4;
        char **v = kvbm__realloc(t->loras, cap * sizeof *v);
        if (v == NULL) goto oom;
        t->loras = v;
        t->cap_loras = cap;
    }
    size_t len = strlen(lora) + 1;
    char *c = kvbm__malloc(len);
    if (c == NULL) goto oom;
    memcpy(c, lora, len);
    t->loras[t->n_loras++] = c;
    return c;
oom:
    *fail = true;
    return NULL;
}

/* The tracker's view of one operation's side effects to run after unlocking. */
typedef struct post {
    kvbm_handle *release[2];
    int          n_release;
} post;

static void post_run(post *p)
{
    for (int i = 0; i < p->n_release; i++) kvbm_handle_release(p->release[i]);
}

/* One mapping of @src to block @b (a live slot) is gone; when the block has no source
 * left it is forgotten, with a REMOVE if it was published. The queue must have room for
 * one event. */
static void unref(kvbm_cons_tracker *t, kvbm__cmap_slot *b, kvbm_cons_source src, post *p)
{
    kvbm__assert(b->refs[src] > 0);
    if (b->refs[src] > 0) b->refs[src]--;
    if (has_sources(b)) return;
    kvbm_plh plh = {.hi = b->k1, .lo = b->k0};
    bool published = b->published;
    if (b->handle != NULL) p->release[p->n_release++] = b->handle;
    kvbm__cmap_erase(&t->blocks, b);
    if (published) {
        kvbm__cons_events_push(&t->queue, KVBM_CONS_REMOVE, src, plh, NULL, 0, 0, NULL);
        t->st.removes_published++;
    }
}

static kvbm_status check_locked(kvbm_cons_tracker *t);

#if KVBM_DEBUG >= 3
#  define CHECK_LOCKED(t) kvbm__assert(check_locked(t) == KVBM_OK)
#else
#  define CHECK_LOCKED(t) ((void)0)
#endif

/* A store of an untracked block with a registry wired and no handle yet registers first. */
static inline bool must_register(const kvbm_cons_tracker *t, const kvbm__cmap_slot *b, const kvbm_handle *h)
{
    return b == NULL && t->registry != NULL && h == NULL;
}

/* Register @plh with the lock DROPPED (the registry runs its hooks), then retake it. */
static kvbm_status register_unlocked(kvbm_cons_tracker *t, kvbm_plh plh, kvbm_handle **handle)
{
    pthread_mutex_unlock(&t->lock);
    kvbm_status st = kvbm_registry_register(t->registry, plh, handle);
    pthread_mutex_lock(&t->lock);
    return st;
}

static void unlock_and_run(kvbm_cons_tracker *t, post *p)
{
    CHECK_LOCKED(t);
    pthread_mutex_unlock(&t->lock);
    post_run(p);
}

/* ---- engine stores and removes ----------------------------------------------------- */

kvbm_status kvbm_cons_tracker_handle_store(kvbm_cons_tracker *t, kvbm_cons_source source,
                                           uint64_t ext_hash, const uint64_t *parent_ext,
                                           const uint32_t *tokens, size_t n_tokens,
                                           uint32_t block_size, const char *lora_name)
{
    if (t == NULL || !source_ok(source))
        return KVBM_FAIL(KVBM_EINVAL, "%s: NULL tracker or not an engine source (vllm, trtllm)", __func__);
    kvbm_plh root;
    kvbm_status st = kvbm_cons_block_plh(tokens, n_tokens, block_size, lora_name, NULL, &root);
    if (st != KVBM_OK) {
        pthread_mutex_lock(&t->lock);
        t->st.hash_failures++;
        pthread_mutex_unlock(&t->lock);
        kvbm__log(KVBM_LOG_WARN, "consolidator", "store %s/%" PRIu64 ": cannot hash the block (%s): nothing recorded",
                  kvbm_cons_source_name(source), ext_hash, kvbm_last_error());
        return KVBM_FAIL(st, "%s: cannot hash block %" PRIu64 " (%zu tokens, block size %u)",
                         __func__, ext_hash, n_tokens, block_size);
    }
    uint64_t block_hash = root.lo; /* root current = block hash */
    kvbm_handle *handle = NULL;    /* pre-registered (registry wired, block was untracked) */
    bool unknown_parent = false;
    post p = {0};
    pthread_mutex_lock(&t->lock);
    for (;;) {
        /* reserve everything first (again after a retry: other threads ran meanwhile);
         * after this block nothing can fail */
        bool oom = false;
        const char *lora = intern_lora(t, lora_name, &oom);
        if (oom || kvbm__cmap_reserve(&t->external, 1) != KVBM_OK ||
            kvbm__cmap_reserve(&t->blocks, 1) != KVBM_OK ||
            kvbm__cons_events_reserve(&t->queue, 0, block_size) != KVBM_OK ||
            kvbm__cons_events_reserve(&t->queue, 1, block_size) != KVBM_OK) {
            st = KVBM_FAIL(KVBM_ENOMEM, "%s: no memory", __func__);
            break;
        }
        kvbm_plh plh = root;
        unknown_parent = false;
        if (parent_ext != NULL) {
            kvbm__cmap_slot *ps = kvbm__cmap_find(&t->external, *parent_ext, source);
            if (ps == NULL) {
                unknown_parent = true;
            } else if ((st = kvbm_plh_extend(&ps->v, block_hash, &plh)) != KVBM_OK) {
                t->st.hash_failures++;
                break;
            }
        }
        kvbm__cmap_slot *m = kvbm__cmap_find(&t->external, ext_hash, source);
        if (m != NULL && kvbm_plh_eq(m->v, plh)) { /* repeat of the same mapping */
            t->st.stores++;
            t->st.duplicates++;
            if (unknown_parent) t->st.unknown_parent++;
            break;
        }
        kvbm__cmap_slot *b = find_block(t, plh);
        if (must_register(t, b, handle)) {
            if ((st = register_unlocked(t, plh, &handle)) != KVBM_OK) break;
            continue; /* re-evaluate: other threads ran meanwhile */
        }
        if (b != NULL && b->refs[source] == KVBM__CONS_MAX_REFS) {
            st = KVBM_FAIL(KVBM_EOVERFLOW, "%s: %u %s hashes already map to this block", __func__,
                           (unsigned)KVBM__CONS_MAX_REFS, kvbm_cons_source_name(source));
            break;
        }
        t->st.stores++;
        if (m != NULL) { /* (source, ext) remapped to another PLH: the old block loses source */
            kvbm_plh old = m->v;
            kvbm__cmap_erase(&t->external, m);
            kvbm__cmap_slot *ob = find_block(t, old);
            if (ob != NULL) unref(t, ob, source, &p);
            b = find_block(t, plh); /* slots may have moved */
        }
        bool publish;
        if (b != NULL) {
            b->refs[source]++;
            publish = !b->published;
            b->published = 1;
        } else {
            b = kvbm__cmap_insert(&t->blocks, plh.lo, plh.hi);
            b->refs[source] = 1;
            b->published = 1;
            b->handle = handle;
            handle = NULL;
            publish = true;
        }
        kvbm__cmap_insert(&t->external, ext_hash, source)->v = plh;
        if (publish) {
            kvbm__cons_events_push(&t->queue, KVBM_CONS_STORE, source, plh, tokens, block_size,
                                   block_size, lora);
            t->st.stores_published++;
        } else {
            t->st.duplicates++;
        }
        if (unknown_parent) t->st.unknown_parent++;
        break;
    }
    if (handle != NULL) p.release[p.n_release++] = handle;
    unlock_and_run(t, &p);
    if (unknown_parent && st == KVBM_OK)
        kvbm__log(KVBM_LOG_WARN, "consolidator",
                  "store %s/%" PRIu64 ": parent %" PRIu64 " unknown for this source, hashed as a root",
                  kvbm_cons_source_name(source), ext_hash, *parent_ext);
    return st;
}

kvbm_status kvbm_cons_tracker_handle_remove(kvbm_cons_tracker *t, kvbm_cons_source source, uint64_t ext_hash)
{
    if (t == NULL || !source_ok(source))
        return KVBM_FAIL(KVBM_EINVAL, "%s: NULL tracker or not an engine source (vllm, trtllm)", __func__);
    post p = {0};
    kvbm_status st = KVBM_OK;
    pthread_mutex_lock(&t->lock);
    kvbm__cmap_slot *m = kvbm__cmap_find(&t->external, ext_hash, source);
    if (m == NULL) {
        t->st.unknown_removes++;
        st = KVBM_ENOENT;
    } else if (kvbm__cons_events_reserve(&t->queue, 0, 0) != KVBM_OK) {
        st = KVBM_ENOMEM;
    } else {
        kvbm_plh plh = m->v;
        kvbm__cmap_erase(&t->external, m);
        t->st.removes++;
        kvbm__cmap_slot *b = find_block(t, plh);
        kvbm__assert(b != NULL); /* I1 */
        if (b != NULL) unref(t, b, source, &p);
    }
    unlock_and_run(t, &p);
    if (st == KVBM_ENOENT) {
        kvbm__log(KVBM_LOG_WARN, "consolidator", "remove %s/%" PRIu64 ": unknown block, ignored",
                  kvbm_cons_source_name(source), ext_hash);
        return KVBM_FAIL(KVBM_ENOENT, "%s: %s block %" PRIu64 " is not mapped", __func__,
                         kvbm_cons_source_name(source), ext_hash);
    }
    if (st == KVBM_ENOMEM) return KVBM_FAIL(KVBM_ENOMEM, "%s: no memory", __func__);
    return KVBM_OK;
}

/* ---- the KVBM bridge --------------------------------------------------------------- */

kvbm_status kvbm_cons_tracker_handle_kvbm_store(kvbm_cons_tracker *t, kvbm_plh plh, const uint32_t *tokens,
                                                size_t n_tokens, uint32_t block_size, const char *lora_name)
{
    if (t == NULL || (tokens == NULL && n_tokens != 0))
        return KVBM_FAIL(KVBM_EINVAL, "%s: NULL argument", __func__);
    if (kvbm_plh_validate(plh) != KVBM_OK) return KVBM_FAIL(KVBM_EINVAL, "%s: invalid PLH", __func__);
    bool publishable = n_tokens > 0 && block_size > 0;
    kvbm_handle *handle = NULL;
    kvbm_status st = KVBM_OK;
    post p = {0};
    pthread_mutex_lock(&t->lock);
    for (;;) {
        bool oom = false;
        const char *lora = intern_lora(t, lora_name, &oom);
        if (oom || kvbm__cmap_reserve(&t->blocks, 1) != KVBM_OK ||
            kvbm__cons_events_reserve(&t->queue, 0, n_tokens) != KVBM_OK) {
            st = KVBM_FAIL(KVBM_ENOMEM, "%s: no memory", __func__);
            break;
        }
        kvbm__cmap_slot *b = find_block(t, plh);
        if (must_register(t, b, handle)) {
            if ((st = register_unlocked(t, plh, &handle)) != KVBM_OK) break;
            continue; /* re-evaluate: other threads ran meanwhile */
        }
        t->st.stores++;
        bool publish = false;
        if (b != NULL) {
            if (b->refs[KVBM_CONS_SOURCE_KVBM] == 0) b->refs[KVBM_CONS_SOURCE_KVBM] = 1;
            publish = publishable && !b->published;
        } else {
            b = kvbm__cmap_insert(&t->blocks, plh.lo, plh.hi);
            b->refs[KVBM_CONS_SOURCE_KVBM] = 1;
            b->handle = handle;
            handle = NULL;
            publish = publishable;
        }
        if (publish) {
            b->published = 1;
            kvbm__cons_events_push(&t->queue, KVBM_CONS_STORE, KVBM_CONS_SOURCE_KVBM, plh, tokens,
                                   n_tokens, block_size, lora);
            t->st.stores_published++;
        } else {
            t->st.duplicates++;
        }
        break;
    }
    if (handle != NULL) p.release[p.n_release++] = handle;
    unlock_and_run(t, &p);
    return st;
}

kvbm_status kvbm_cons_tracker_handle_kvbm_remove(kvbm_cons_tracker *t, kvbm_plh plh)
{
    if (t == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL tracker", __func__);
    post p = {0};
    kvbm_status st = KVBM_OK;
    pthread_mutex_lock(&t->lock);
    kvbm__cmap_slot *b = find_block(t, plh);
    if (b == NULL || b->refs[KVBM_CONS_SOURCE_KVBM] == 0) {
        t->st.unknown_removes++;
        st = KVBM_ENOENT;
    } else if (kvbm__cons_events_reserve(&t->queue, 0, 0) != KVBM_OK) {
        st = KVBM_ENOMEM;
    } else {
        t->st.removes++;
        unref(t, b, KVBM_CONS_SOURCE_KVBM, &p);
    }
    unlock_and_run(t, &p);
    if (st == KVBM_ENOENT) {
        char hex[KVBM_PLH_HEX_LEN];
        kvbm__log(KVBM_LOG_WARN, "consolidator", "kvbm remove %s: not held by kvbm, ignored",
                  kvbm_plh_to_hex(plh, hex));
        return KVBM_FAIL(KVBM_ENOENT, "%s: block %s is not held by kvbm", __func__, hex);
    }
    if (st == KVBM_ENOMEM) return KVBM_FAIL(KVBM_ENOMEM, "%s: no memory", __func__);
    return KVBM_OK;
}

/* ---- clear, drain, introspection --------------------------------------------------- */

kvbm_status kvbm_cons_tracker_clear_all(kvbm_cons_tracker *t)
{
    if (t == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL tracker", __func__);
    kvbm__cmap dead = {0};
    pthread_mutex_lock(&t->lock);
    if (kvbm__cons_events_reserve(&t->queue, 0, 0) != KVBM_OK) {
        pthread_mutex_unlock(&t->lock);
        return KVBM_FAIL(KVBM_ENOMEM, "%s: no memory", __func__);
    }
    if (t->registry != NULL) { /* the handles are released after unlocking */
        dead = t->blocks;
        t->blocks = (kvbm__cmap){0};
    } else {
        kvbm__cmap_clear(&t->blocks);
    }
    kvbm__cmap_clear(&t->external);
    kvbm__cons_events_push(&t->queue, KVBM_CONS_CLEAR_ALL, KVBM_CONS_SOURCE_KVBM, (kvbm_plh){0, 0},
                           NULL, 0, 0, NULL);
    t->st.clears++;
    CHECK_LOCKED(t);
    pthread_mutex_unlock(&t->lock);
    release_handles(&dead);
    kvbm__cmap_free(&dead);
    return KVBM_OK;
}

kvbm_status kvbm_cons_tracker_drain(kvbm_cons_tracker *t, kvbm_cons_events *out)
{
    if (t == NULL || out == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL argument", __func__);
    pthread_mutex_lock(&t->lock);
    kvbm_cons_events tmp = t->queue;
    t->queue = *out;
    *out = tmp;
    t->queue.n = 0; /* the caller's old events: storage recycled */
    pthread_mutex_unlock(&t->lock);
    return KVBM_OK;
}

void kvbm_cons_tracker_get_stats(kvbm_cons_tracker *t, kvbm_cons_tracker_stats *out)
{
    if (t == NULL || out == NULL) return;
    pthread_mutex_lock(&t->lock);
    *out = t->st;
    out->live_blocks = t->blocks.count;
    out->mappings = t->external.count;
    out->queued = t->queue.n;
    pthread_mutex_unlock(&t->lock);
}

bool kvbm_cons_tracker_lookup(kvbm_cons_tracker *t, kvbm_plh plh, unsigned *sources, bool *published)
{
    if (t == NULL) return false;
    pthread_mutex_lock(&t->lock);
    const kvbm__cmap_slot *b = find_block(t, plh);
    if (b != NULL) {
        unsigned set = 0;
        for (unsigned i = 0; i < KVBM_CONS_SOURCE_COUNT; i++)
            if (b->refs[i] != 0) set |= 1u << i;
        if (sources != NULL) *sources = set;
        if (published != NULL) *published = b->published != 0;
    }
    pthread_mutex_unlock(&t->lock);
    return b != NULL;
}

bool kvbm_cons_tracker_lookup_external(kvbm_cons_tracker *t, kvbm_cons_source source, uint64_t ext_hash,
                                       kvbm_plh *plh)
{
    if (t == NULL) return false;
    pthread_mutex_lock(&t->lock);
    const kvbm__cmap_slot *m = kvbm__cmap_find(&t->external, ext_hash, source);
    if (m != NULL && plh != NULL) *plh = m->v;
    pthread_mutex_unlock(&t->lock);
    return m != NULL;
}

static kvbm_status check_locked(kvbm_cons_tracker *t)
{
    uint64_t per_source[KVBM_CONS_SOURCE_COUNT] = {0};
    for (size_t i = 0; i < t->external.cap; i++) {
        const kvbm__cmap_slot *m = &t->external.slots[i];
        if (!kvbm__cmap_used(m)) continue;
        if (m->k1 >= KVBM_CONS_SOURCE_COUNT)
            return KVBM_FAIL(KVBM_EPOISONED, "consolidator: mapping with source %" PRIu64, m->k1);
        const kvbm__cmap_slot *b = find_block(t, m->v);
        if (b == NULL || b->refs[m->k1] == 0)
            return KVBM_FAIL(KVBM_EPOISONED, "consolidator: I1: mapping %s/%" PRIu64 " names a block "
                             "that is not live or lacks the source", kvbm_cons_source_name((kvbm_cons_source)m->k1), m->k0);
        per_source[m->k1]++;
    }
    uint64_t refs[KVBM_CONS_SOURCE_COUNT] = {0};
    for (size_t i = 0; i < t->blocks.cap; i++) {
        const kvbm__cmap_slot *b = &t->blocks.slots[i];
        if (!kvbm__cmap_used(b)) continue;
        if (!has_sources(b)) return KVBM_FAIL(KVBM_EPOISONED, "consolidator: I2: live block without source");
        if ((b->refs[KVBM_CONS_SOURCE_VLLM] || b->refs[KVBM_CONS_SOURCE_TRTLLM]) && !b->published)
            return KVBM_FAIL(KVBM_EPOISONED, "consolidator: I3: engine block never published");
        for (int s = 0; s < KVBM_CONS_SOURCE_COUNT; s++) refs[s] += b->refs[s];
    }
    for (int s = 0; s <= KVBM_CONS_SOURCE_TRTLLM; s++) /* engine sources */
        if (refs[s] != per_source[s])
            return KVBM_FAIL(KVBM_EPOISONED, "consolidator: I4: source %s: %" PRIu64 " refs, %" PRIu64
                             " mappings", kvbm_cons_source_name((kvbm_cons_source)s), refs[s], per_source[s]);
    return KVBM_OK;
}

kvbm_status kvbm_cons_tracker_check(kvbm_cons_tracker *t)
{
    if (t == NULL) return KVBM_FAIL(KVBM_EINVAL, "%s: NULL tracker", __func__);
    pthread_mutex_lock(&t->lock);
    kvbm_status st = check_locked(t);
    pthread_mutex_unlock(&t->lock);
    return st;
}
