/* kvbm/config.h - backend selection: the inactive-pool backend kinds and the Lineage
 * eviction orders (used by kvbm_manager_config, the kvbm CLI, the Python binding and
 * configuration files). Small on purpose: no handles, no state; the library's internal
 * backend interface depends on this header only, not on kvbm/manager.h.
 */
#ifndef KVBM_CONFIG_H
#define KVBM_CONFIG_H

#include <stdint.h>

#include "kvbm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kvbm_backend {
    KVBM_BACKEND_LINEAGE   = 0, /* default: evict leaves of the prefix forest */
    KVBM_BACKEND_LRU       = 1,
    KVBM_BACKEND_MULTI_LRU = 2, /* needs a registry with a frequency tracker */
    KVBM_BACKEND_HASHMAP   = 3  /* hash map + FIFO reuse policy */
} kvbm_backend;
typedef enum kvbm_lineage_eviction {
    KVBM_LINEAGE_TICK = 0, /* default: leaves in original insertion order */
    KVBM_LINEAGE_FIFO = 1  /* leaves in the order they became leaves */
} kvbm_lineage_eviction;

/**
 * kvbm_backend_parse() - a backend choice by name, as configuration files and the kvbm CLI
 * spell it. Canonical names (what kvbm_backend_name() returns):
 *   "lineage"       KVBM_BACKEND_LINEAGE   + KVBM_LINEAGE_TICK
 *   "lineage-fifo"  KVBM_BACKEND_LINEAGE   + KVBM_LINEAGE_FIFO
 *   "lru"           KVBM_BACKEND_LRU
 *   "multi-lru"     KVBM_BACKEND_MULTI_LRU
 *   "hashmap"       KVBM_BACKEND_HASHMAP
 * Accepted aliases (older spellings): "lineage-tick", "lineage_tick", "lineage_fifo",
 * "multi_lru", "multilru". Exact, case-sensitive match. The non-Lineage backends set
 * *@eviction to KVBM_LINEAGE_TICK (the default; they ignore it).
 * Returns KVBM_OK with *@backend and *@eviction set; KVBM_EINVAL (outputs untouched) for a
 * NULL argument or an unknown name - kvbm_last_error() then names it and lists the valid
 * names. Threads: any; no locks, no allocation.
 */
KVBM_API kvbm_status kvbm_backend_parse(const char *name, kvbm_backend *backend,
                                        kvbm_lineage_eviction *eviction);

/**
 * kvbm_backend_name() - the canonical name of a backend choice (see kvbm_backend_parse):
 * a static string, never freed. @eviction matters only for KVBM_BACKEND_LINEAGE.
 * Returns NULL for a value outside the enums. Threads: any; no locks.
 */
KVBM_API const char *kvbm_backend_name(kvbm_backend backend, kvbm_lineage_eviction eviction);

/* The largest block_count of any backend (Lineage: 2^31 - 1); each backend's own limit is
 * kvbm_backend_max_block_count() (LRU, MultiLRU, HashMap: 2^30). */
#define KVBM_MAX_BLOCK_COUNT ((uint64_t)INT32_MAX)

/**
 * kvbm_backend_max_block_count() - the largest block_count @b accepts: 1..this is valid,
 * beyond it kvbm_manager_create() returns KVBM_ECONFIG ("block_count must be at most M for
 * the B backend, got N"). 0 for a value outside the enum. Threads: any; no locks.
 */
KVBM_API uint64_t kvbm_backend_max_block_count(kvbm_backend b);

#ifdef __cplusplus
}
#endif

#endif /* KVBM_CONFIG_H */
