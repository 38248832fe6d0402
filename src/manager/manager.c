/* src/manager/manager.c - manager configuration, validation, construction and the thin
 * public wrappers over the block store (src/store/store.c). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"
#include "store/store_int.h"
#include "manager/manager_int.h"

struct kvbm_manager {
    struct kvbm__store *store;
    kvbm_backend        backend;
};

const char *kvbm_layout_name(kvbm_layout l)
{
    switch (l) {
    case KVBM_G1: return "G1";
    case KVBM_G2: return "G2";
    case KVBM_G3: return "G3";
    case KVBM_G4: return "G4";
    }
    return NULL;
}

void kvbm_manager_config_init(kvbm_manager_config *cfg)
{
    if (cfg == NULL) return;
    kvbm_manager_config d = KVBM_MANAGER_CONFIG_INIT;
    *cfg = d;
}

static kvbm_status config_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static kvbm_status config_error(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kvbm__set_error("Builder validation failed: %s", msg);
    return KVBM_ECONFIG;
}

/* Copy @in (any struct_size up to ours) into @c with defaults, then validate in the
 * reference's order (spec 10 §5.3, messages in kvbm/manager.h). */
static kvbm_status config_load(const kvbm_manager_config *in, kvbm_manager_config *c)
{
    kvbm_manager_config_init(c);
    if (in == NULL) {
        kvbm__set_error("kvbm_manager_create: config is NULL");
        return KVBM_EINVAL;
    }
    size_t min = offsetof(kvbm_manager_config, block_count) + sizeof(uint64_t);
    if (in->struct_size < min || in->struct_size > sizeof *c) {
        kvbm__set_error("kvbm_manager_create: unsupported struct_size %zu", in->struct_size);
        return KVBM_EINVAL;
    }
    memcpy(c, in, in->struct_size);
    c->struct_size = sizeof *c;
    if ((unsigned)c->duplication_policy > KVBM_DUP_REJECT) {
        kvbm__set_error("kvbm_manager_create: unknown duplication policy %u", (unsigned)c->duplication_policy);
        return KVBM_EINVAL;
    }
    if ((unsigned)c->backend > KVBM_BACKEND_HASHMAP) {
        kvbm__set_error("kvbm_manager_create: unknown backend %u", (unsigned)c->backend);
        return KVBM_EINVAL;
    }
    if ((unsigned)c->lineage_eviction > KVBM_LINEAGE_FIFO) {
        kvbm__set_error("kvbm_manager_create: unknown lineage eviction %u", (unsigned)c->lineage_eviction);
        return KVBM_EINVAL;
    }
    if (c->registry == NULL) return config_error("registry is required");
    if (c->block_count == KVBM_BLOCK_COUNT_UNSET) return config_error("block_count is required");
    if (c->block_count == 0) return config_error("block_count must be greater than 0");
    if (c->block_count > kvbm_backend_max_block_count(c->backend))
        return config_error("block_count must be at most %" PRIu64 " for the %s backend, got %" PRIu64,
                            kvbm_backend_max_block_count(c->backend),
                            kvbm_backend_name(c->backend, c->lineage_eviction),
                            c->block_count);
    if (c->block_size < 1 || c->block_size > 1024)
        return config_error("block_size must be between 1 and 1024, got %" PRIu32, c->block_size);
    if (!kvbm__is_pow2_u64(c->block_size))
        return config_error("block_size must be a power of 2, got %" PRIu32, c->block_size);
    if (c->backend == KVBM_BACKEND_MULTI_LRU) {
        const uint8_t *t = c->multi_lru_thresholds;
        if (!(t[0] < t[1] && t[1] < t[2]))
            return config_error("Thresholds must be in ascending order: %u < %u < %u failed", t[0], t[1], t[2]);
        if (t[2] > 15)
            return config_error("hot_to_very_hot threshold (%u) must be <= 15 (4-bit counter maximum)", t[2]);
        if (t[0] < 1)
            return config_error("cold_to_warm threshold must be >= 1 to distinguish from zero-access blocks");
        if (!kvbm_registry_has_frequency_tracking(c->registry))
            return config_error("MultiLRU backend requires a registry with frequency tracking");
    }
    return KVBM_OK;
}

static const char *default_label(kvbm_tier tier)
{
    return tier <= KVBM_G4 ? kvbm_layout_name((kvbm_layout)tier) : "kvbm";
}

static kvbm_status manager_build(const kvbm_manager_config *c, kvbm__inactive *backend,
                                 bool set_gauges, kvbm_manager **out)
{
    kvbm_metrics *metrics = NULL;
    /* up-front allocation: the registry's tables get room for this manager's blocks */
    kvbm_status st = kvbm__registry_reserve(c->registry, (size_t)c->block_count);
    if (st != KVBM_OK) {
        kvbm__inactive_destroy(backend);
        return st;
    }
    st = kvbm_metrics_create(c->metrics_label != NULL ? c->metrics_label
                                                                  : default_label(c->tier_key),
                                         &metrics);
    if (st != KVBM_OK) {
        kvbm__inactive_destroy(backend);
        return st;
    }
    if (set_gauges) kvbm__metric_set(metrics, KVBM_METRIC_reset_pool_size, (int64_t)c->block_count);
    struct kvbm_manager *m = kvbm__malloc(sizeof *m);
    if (m == NULL) {
        kvbm_metrics_release(metrics);
        kvbm__inactive_destroy(backend);
        return KVBM_ENOMEM;
    }
    struct kvbm__store_params p = {
        .block_count = (uint32_t)c->block_count,
        .block_size = c->block_size,
        .policy = c->duplication_policy,
        .default_reset_on_release = c->default_reset_on_release,
        .tier = c->tier_key,
        .registry = c->registry,
        .metrics = metrics,
    };
    st = kvbm__store_create(&p, backend, &m->store);
    kvbm_metrics_release(metrics);
    if (st != KVBM_OK) {
        kvbm__free(m);
        return st;
    }
    if (c->router_tokens_hash && (st = kvbm__store_router_enable(m->store, c->router_lora_name)) != KVBM_OK) {
        kvbm__store_orphan(m->store);
        kvbm__free(m);
        return st;
    }
    m->store->gauges_valid = set_gauges;
    m->backend = c->backend;
    *out = m;
    return KVBM_OK;
}

kvbm_status kvbm_manager_create(const kvbm_manager_config *cfg, kvbm_manager **out)
{
    if (out == NULL) {
        kvbm__set_error("kvbm_manager_create: out is NULL");
        return KVBM_EINVAL;
    }
    kvbm_manager_config c;
    KVBM_TRY(config_load(cfg, &c));
    kvbm_tracker *tracker = c.backend == KVBM_BACKEND_MULTI_LRU ? kvbm_registry_tracker(c.registry) : NULL;
    kvbm__inactive be = { NULL, NULL, NULL };
    kvbm_status st = kvbm__inactive_create(c.backend, (size_t)c.block_count, c.lineage_eviction,
                                           c.multi_lru_thresholds, tracker, &be);
    if (st != KVBM_OK) return st;
    return manager_build(&c, &be, true, out);
}

kvbm_status kvbm__manager_create_with_backend(const kvbm_manager_config *cfg,
                                              kvbm__inactive *backend, bool set_gauges,
                                              kvbm_manager **out)
{
    kvbm_manager_config c;
    kvbm_status st = out == NULL ? KVBM_EINVAL : config_load(cfg, &c);
    if (st != KVBM_OK) {
        kvbm__inactive_destroy(backend);
        return st;
    }
    return manager_build(&c, backend, set_gauges, out);
}

void kvbm_manager_destroy(kvbm_manager *m)
{
    if (m == NULL) return;
    struct kvbm__store *s = m->store;
    kvbm__free(m);
    kvbm__store_router_disable(s);
    kvbm__store_orphan(s);
}

struct kvbm__store *kvbm__manager_store(const kvbm_manager *m) { return m->store; }

kvbm_mgr_id kvbm_manager_id(const kvbm_manager *m) { return m ? m->store->id : KVBM_MANAGER_ID_NULL; }
uint64_t kvbm_manager_total_blocks(const kvbm_manager *m) { return m ? m->store->n : 0; }
uint32_t kvbm_manager_block_size(const kvbm_manager *m) { return m ? m->store->block_size : 0; }
kvbm_dup_policy kvbm_manager_duplication_policy(const kvbm_manager *m)
{
    return m ? m->store->policy : KVBM_DUP_ALLOW;
}
kvbm_backend kvbm_manager_backend(const kvbm_manager *m) { return m ? m->backend : KVBM_BACKEND_LINEAGE; }
kvbm_tier kvbm_manager_tier(const kvbm_manager *m) { return m ? m->store->tier : 0; }
kvbm_registry *kvbm_manager_registry(kvbm_manager *m) { return m ? m->store->registry : NULL; }
kvbm_metrics *kvbm_manager_metrics(kvbm_manager *m) { return m ? m->store->metrics : NULL; }

uint64_t kvbm_manager_available_blocks(kvbm_manager *m) { return m ? kvbm__store_available(m->store) : 0; }
uint64_t kvbm_manager_reset_len(kvbm_manager *m) { return m ? kvbm__store_reset_len(m->store) : 0; }
uint64_t kvbm_manager_inactive_len(kvbm_manager *m) { return m ? kvbm__store_inactive_len(m->store) : 0; }
bool kvbm_manager_has_inactive(kvbm_manager *m, kvbm_plh h)
{
    return m ? kvbm__store_has_inactive(m->store, h) : false;
}

static kvbm_status no_manager(const char *fn)
{
    kvbm__set_error("%s: manager is NULL", fn);
    return KVBM_EINVAL;
}

kvbm_status kvbm_manager_allocate(kvbm_manager *m, size_t count, kvbm_mutable **out,
                                  kvbm_plh *evicted, size_t *n_evicted)
{
    if (m == NULL) return no_manager("kvbm_manager_allocate");
    return kvbm__store_allocate(m->store, count, out, evicted, n_evicted);
}

kvbm_status kvbm_manager_register_blocks(kvbm_manager *m, kvbm_complete *const *in, size_t n,
                                         kvbm_block **out)
{
    if (m == NULL) return no_manager("kvbm_manager_register_blocks");
    return kvbm__store_register(m->store, in, n, out);
}

kvbm_status kvbm_manager_stage_register_blocks(kvbm_manager *m, kvbm_mutable *const *in,
                                               const kvbm_plh *hashes, size_t n,
                                               uint32_t block_size, kvbm_block **out,
                                               size_t *done)
{
    if (m == NULL) {
        if (done) *done = 0;
        return no_manager("kvbm_manager_stage_register_blocks");
    }
    return kvbm__store_stage_register(m->store, in, hashes, n, block_size, out, done);
}

kvbm_status kvbm_manager_register_block(kvbm_manager *m, kvbm_complete *in, kvbm_block **out)
{
    if (m == NULL) return no_manager("kvbm_manager_register_block");
    if (in == NULL || out == NULL) {
        kvbm__set_error("kvbm_manager_register_block: NULL argument");
        return KVBM_EINVAL;
    }
    return kvbm__store_register(m->store, &in, 1, out);
}

kvbm_status kvbm_manager_match_blocks(kvbm_manager *m, const kvbm_plh *hashes, size_t n,
                                      kvbm_block **out, size_t *matched)
{
    if (m == NULL) return no_manager("kvbm_manager_match_blocks");
    return kvbm__store_match(m->store, hashes, n, out, matched);
}

kvbm_status kvbm_manager_scan_matches(kvbm_manager *m, const kvbm_plh *hashes, size_t n, bool touch,
                                      kvbm_plh *out_hashes, kvbm_block **out_blocks, size_t *found)
{
    if (m == NULL) return no_manager("kvbm_manager_scan_matches");
    return kvbm__store_scan(m->store, hashes, n, touch, out_hashes, out_blocks, found);
}

kvbm_status kvbm_manager_reset_inactive_pool(kvbm_manager *m, uint64_t *expected, uint64_t *actual)
{
    if (m == NULL) return no_manager("kvbm_manager_reset_inactive_pool");
    return kvbm__store_reset_inactive(m->store, expected, actual);
}

kvbm_status kvbm_manager_check_invariants(kvbm_manager *m)
{
    if (m == NULL) return no_manager("kvbm_manager_check_invariants");
    return kvbm__store_check(m->store);
}
