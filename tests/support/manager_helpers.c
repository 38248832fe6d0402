/* tests/support/manager_helpers.c - see manager_helpers.h. */
#include "support/manager_helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kvbm/tokens.h"

/* ---- tracked managers ---------------------------------------------------------------- */

#define TM_MAX_TRACKED 64
static pthread_mutex_t tm_lock = PTHREAD_MUTEX_INITIALIZER;
static kvbm_manager   *tm_tracked[TM_MAX_TRACKED];
static atomic_bool     tm_auto = true;

static void tm_track(kvbm_manager *m)
{
    pthread_mutex_lock(&tm_lock);
    for (int i = 0; i < TM_MAX_TRACKED; i++)
        if (tm_tracked[i] == NULL) { tm_tracked[i] = m; break; }
    pthread_mutex_unlock(&tm_lock);
}

static void tm_untrack(kvbm_manager *m)
{
    pthread_mutex_lock(&tm_lock);
    for (int i = 0; i < TM_MAX_TRACKED; i++)
        if (tm_tracked[i] == m) tm_tracked[i] = NULL;
    pthread_mutex_unlock(&tm_lock);
}

bool tm_check(kvbm_manager *m, const char *file, int line)
{
    if (m == NULL) return true;
    /* kvbm_last_error() is left alone on success: tests read it after a CK()'d call */
    kvbm_status st = kvbm_manager_check_invariants(m);
    if (st != KVBM_OK) {
        kvbm_test_fail(file, line, "invariant check failed (%s): %s", kvbm_status_name(st),
                       kvbm_last_error());
        return false;
    }
    return true;
}

bool tm_check_all(const char *file, int line)
{
    kvbm_manager *ms[TM_MAX_TRACKED];
    int n = 0;
    pthread_mutex_lock(&tm_lock);
    for (int i = 0; i < TM_MAX_TRACKED; i++)
        if (tm_tracked[i] != NULL) ms[n++] = tm_tracked[i];
    pthread_mutex_unlock(&tm_lock);
    bool ok = true;
    for (int i = 0; i < n; i++) ok = tm_check(ms[i], file, line) && ok;
    return ok;
}

void tm_auto_check(bool on) { atomic_store(&tm_auto, on); }

kvbm_status tm__after(kvbm_status st, const char *file, int line)
{
    if (atomic_load(&tm_auto)) tm_check_all(file, line);
    return st;
}

void tm__after_void(const char *file, int line)
{
    if (atomic_load(&tm_auto)) tm_check_all(file, line);
}

/* ---- managers ------------------------------------------------------------------------- */

kvbm_manager *tm_manager_create(const tm_opts *o)
{
    /* a test that ended early inside a concurrent phase must not disable checks for the
     * following tests of the binary (managers are always built before threads start) */
    atomic_store(&tm_auto, true);
    kvbm_registry *reg = NULL;
    if (o->registry != NULL) {
        reg = kvbm_registry_clone(o->registry);
    } else {
        kvbm_registry_config rc = KVBM_REGISTRY_CONFIG_INIT;
        kvbm_tracker *tr = NULL;
        kvbm_status st = KVBM_OK;
        switch (o->tracker_kind) {
        case TM_TRACKER_NONE: break;
        case TM_TRACKER_MEDIUM: st = kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &tr); break;
        case TM_TRACKER_SMALL: st = kvbm_tinylfu_create_preset(KVBM_TRACKER_SMALL, &tr); break;
        case TM_TRACKER_CUSTOM: tr = kvbm_tracker_clone(o->tracker); break;
        }
        if (st != KVBM_OK) {
            kvbm_test_fail(__FILE__, __LINE__, "tracker create: %s", kvbm_status_name(st));
            return NULL;
        }
        rc.tracker = tr;
        st = kvbm_registry_create(&rc, &reg);
        kvbm_tracker_release(tr); /* the registry holds its own reference */
        if (st != KVBM_OK) {
            kvbm_test_fail(__FILE__, __LINE__, "registry create: %s", kvbm_status_name(st));
            return NULL;
        }
    }
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = reg;
    cfg.block_count = o->block_count;
    cfg.block_size = o->block_size;
    cfg.duplication_policy = o->policy;
    cfg.backend = o->backend;
    cfg.lineage_eviction = o->eviction;
    memcpy(cfg.multi_lru_thresholds, o->thresholds, 3);
    cfg.default_reset_on_release = o->default_reset;
    cfg.tier_key = o->tier;
    cfg.metrics_label = o->label;
    kvbm_manager *m = NULL;
    kvbm_status st = kvbm_manager_create(&cfg, &m);
    kvbm_registry_release(reg); /* the manager holds its own reference */
    if (st != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "manager create: %s: %s", kvbm_status_name(st),
                       kvbm_last_error());
        return NULL;
    }
    tm_track(m);
    tm_check(m, __FILE__, __LINE__);
    return m;
}

void tm_manager_destroy(kvbm_manager *m)
{
    if (m == NULL) return;
    tm_check(m, __FILE__, __LINE__);
    tm_untrack(m);
    kvbm_manager_destroy(m);
}

uint64_t tm_manager_id(kvbm_manager *m)
{
    return (uint64_t)kvbm_manager_id(m);
}

kvbm_manager *create_test_manager(uint64_t n)
{
    tm_opts o = TM_OPTS_INIT(n);
    return tm_manager_create(&o);
}

kvbm_manager *create_test_manager_with_backend(uint64_t n, kvbm_backend backend)
{
    tm_opts o = TM_OPTS_INIT(n);
    o.backend = backend;
    return tm_manager_create(&o);
}

kvbm_manager *create_test_manager_with_block_size(uint64_t n, uint32_t block_size)
{
    tm_opts o = TM_OPTS_INIT(n);
    o.block_size = block_size;
    return tm_manager_create(&o);
}

kvbm_manager *create_test_manager_with_default_reset_on_release(uint64_t n, bool flag)
{
    tm_opts o = TM_OPTS_INIT(n);
    o.default_reset = flag;
    return tm_manager_create(&o);
}

kvbm_manager *create_test_manager_with_policy(uint64_t n, kvbm_dup_policy policy)
{
    tm_opts o = TM_OPTS_INIT(n);
    o.policy = policy;
    return tm_manager_create(&o);
}

kvbm_manager *create_test_manager_metered(uint64_t n, kvbm_backend backend, metered_tracker **meter)
{
    metered_tracker *mt = metered_tracker_new();
    tm_opts o = TM_OPTS_INIT(n);
    o.backend = backend;
    o.tracker_kind = TM_TRACKER_CUSTOM;
    o.tracker = metered_tracker_get(mt);
    kvbm_manager *m = tm_manager_create(&o);
    if (m == NULL) {
        metered_tracker_release(mt);
        mt = NULL;
    }
    *meter = mt;
    return m;
}

int64_t tm_metric(kvbm_manager *m, kvbm_metric_id id)
{
    return kvbm_metrics_get(kvbm_manager_metrics(m), id);
}

/* ---- tokens and hashes ------------------------------------------------------------ */

void tokens_for_id(uint32_t id, uint32_t out[4])
{
    for (uint32_t i = 0; i < 4; i++) out[i] = id + i;
}

void tm_iota(uint32_t start, size_t n, uint32_t *out)
{
    for (size_t i = 0; i < n; i++) out[i] = start + (uint32_t)i;
}

kvbm_plh hash_for_tokens_salt(const uint32_t *tokens, size_t n, uint64_t salt)
{
    return kvbm_plh_root(kvbm_tokens_block_hash(tokens, n, salt));
}

kvbm_plh hash_for_tokens(const uint32_t *tokens, size_t n)
{
    return hash_for_tokens_salt(tokens, n, 0);
}

kvbm_plh tm_hash_for_id(uint32_t id)
{
    uint32_t t[4];
    tokens_for_id(id, t);
    return hash_for_tokens(t, 4);
}

tm_id_hash block_id_and_hash(uint32_t id, const uint32_t *tokens, size_t n)
{
    tm_id_hash r = { id, hash_for_tokens(tokens, n) };
    return r;
}

size_t tm_chain_hashes(const uint32_t *tokens, size_t n_tokens, uint32_t bs, uint64_t salt,
                       kvbm_plh *out)
{
    size_t nb = 0;
    kvbm_status st = kvbm_tokens_hash_blocks(tokens, n_tokens, bs, salt, NULL, NULL, NULL, out,
                                             n_tokens / bs, &nb);
    if (st != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "kvbm_tokens_hash_blocks: %s", kvbm_status_name(st));
        return 0;
    }
    return nb;
}

kvbm_plh tm_plh(uint64_t current, bool has_parent, uint64_t parent, uint64_t position)
{
    kvbm_plh h = { 0, 0 };
    if (kvbm_plh_new(current, has_parent, parent, position, &h) != KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "kvbm_plh_new failed");
    return h;
}

/* ---- blocks ------------------------------------------------------------------------ */

kvbm_status tm_complete_tokens(kvbm_mutable *mb, const uint32_t *tokens, size_t n, uint64_t salt,
                               kvbm_complete **out, uint32_t *expected, uint32_t *actual)
{
    bool pow2 = n >= 1 && n <= 1024 && (n & (n - 1)) == 0;
    if (!pow2) {
        /* kvbm_token_block only exists for power-of-two sizes; a block of another token
         * count goes through stage(plh, token count), which is what complete() does. */
        return kvbm_mutable_stage(mb, hash_for_tokens_salt(tokens, n, salt), (uint32_t)n, out,
                                  expected, actual);
    }
    kvbm_token_block *tb = NULL;
    kvbm_status st = kvbm_token_block_create(tokens, (uint32_t)n, salt, NULL, &tb);
    if (st != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "kvbm_token_block_create: %s", kvbm_status_name(st));
        return st;
    }
    if (!kvbm_plh_eq(kvbm_token_block_plh(tb), hash_for_tokens_salt(tokens, n, salt)))
        kvbm_test_fail(__FILE__, __LINE__, "token block PLH differs from the root hash of its tokens");
    st = kvbm_mutable_complete(mb, tb, out, expected, actual);
    (void)kvbm_token_block_destroy(tb);
    return st;
}

kvbm_plh tm_hash_n(uint64_t id)
{
    return tm_plh(0x51ed270b27u * (id + 1), id > 0, id * 7, id % 1000);
}

kvbm_registry *tm_registry_create(kvbm_tracker *t)
{
    kvbm_registry_config cfg = KVBM_REGISTRY_CONFIG_INIT;
    cfg.tracker = t;
    kvbm_registry *r = NULL;
    if (kvbm_registry_create(&cfg, &r) != KVBM_OK) abort();
    return r;
}

kvbm_status tm_stage_register(kvbm_manager *m, kvbm_plh h, kvbm_block **out)
{
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    kvbm_status st = kvbm_manager_allocate(m, 1, &mb, NULL, NULL);
    if (st != KVBM_OK) return st;
    st = kvbm_mutable_stage(mb, h, kvbm_manager_block_size(m), &cb, NULL, NULL);
    if (st != KVBM_OK) {
        (void)kvbm_mutable_release(mb);
        return st;
    }
    st = kvbm_manager_register_block(m, cb, out);
    if (st != KVBM_OK) (void)kvbm_complete_release(cb);
    return st;
}

kvbm_block *tm_try_register_hash(kvbm_manager *m, kvbm_plh h)
{
    kvbm_block *b = NULL;
    return tm_stage_register(m, h, &b) == KVBM_OK ? b : NULL;
}

kvbm_block *tm_register_hash(kvbm_manager *m, kvbm_plh h)
{
    kvbm_mutable *mb = NULL;
    kvbm_complete *cb = NULL;
    kvbm_block *b = NULL;
    kvbm_status st = CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL));
    if (st != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "allocate: %s", kvbm_status_name(st));
        return NULL;
    }
    st = CK(kvbm_mutable_stage(mb, h, kvbm_manager_block_size(m), &cb, NULL, NULL));
    if (st != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "stage: %s", kvbm_status_name(st));
        CK(kvbm_mutable_release(mb));
        return NULL;
    }
    st = CK(kvbm_manager_register_block(m, cb, &b));
    if (st != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "register: %s", kvbm_status_name(st));
        CK(kvbm_complete_release(cb));
        return NULL;
    }
    return b;
}

kvbm_block *register_one(kvbm_manager *m, uint32_t base)
{
    uint32_t bs = kvbm_manager_block_size(m);
    uint32_t *t = malloc(sizeof(uint32_t) * bs);
    if (t == NULL) return NULL;
    tm_iota(base, bs, t);
    kvbm_block *b = tm_register_hash(m, hash_for_tokens(t, bs));
    free(t);
    return b;
}

bool tm_register_hashes(kvbm_manager *m, const kvbm_plh *h, size_t n, kvbm_block **out)
{
    kvbm_complete **cbs = calloc(n ? n : 1, sizeof *cbs);
    if (cbs == NULL) return false;
    bool ok = true;
    size_t staged = 0;
    for (size_t i = 0; i < n && ok; i++) {
        kvbm_mutable *mb = NULL;
        if (CK(kvbm_manager_allocate(m, 1, &mb, NULL, NULL)) != KVBM_OK) {
            kvbm_test_fail(__FILE__, __LINE__, "allocate failed at %zu", i);
            ok = false;
            break;
        }
        if (CK(kvbm_mutable_stage(mb, h[i], kvbm_manager_block_size(m), &cbs[i], NULL, NULL)) !=
            KVBM_OK) {
            kvbm_test_fail(__FILE__, __LINE__, "stage failed at %zu", i);
            CK(kvbm_mutable_release(mb));
            ok = false;
            break;
        }
        staged++;
    }
    if (ok && CK(kvbm_manager_register_blocks(m, cbs, n, out)) != KVBM_OK) {
        kvbm_test_fail(__FILE__, __LINE__, "register_blocks failed");
        ok = false;
    }
    if (!ok) tm_release_completes(cbs, staged);
    free(cbs);
    return ok;
}

void tm_register_and_drop(kvbm_manager *m, kvbm_plh h)
{
    kvbm_block *b = tm_register_hash(m, h);
    if (b != NULL) CK(kvbm_block_release(b));
}

void tm_release_blocks(kvbm_block **b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        kvbm_status st = CK(kvbm_block_release(b[i]));
        if (st != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "block release: %s", kvbm_status_name(st));
        b[i] = NULL;
    }
}

void tm_release_mutables(kvbm_mutable **b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        kvbm_status st = CK(kvbm_mutable_release(b[i]));
        if (st != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "mutable release: %s", kvbm_status_name(st));
        b[i] = NULL;
    }
}

void tm_release_completes(kvbm_complete **b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == NULL) continue;
        kvbm_status st = CK(kvbm_complete_release(b[i]));
        if (st != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "complete release: %s", kvbm_status_name(st));
        b[i] = NULL;
    }
}

bool tm_is_registered(kvbm_manager *m, kvbm_plh h)
{
    return kvbm_registry_is_registered(kvbm_manager_registry(m), h);
}

bool tm_has_presence(kvbm_manager *m, kvbm_plh h)
{
    bool out = false;
    if (kvbm_registry_check_presence(kvbm_manager_registry(m), kvbm_manager_tier(m), &h, 1, &out) !=
        KVBM_OK)
        kvbm_test_fail(__FILE__, __LINE__, "check_presence failed");
    return out;
}
