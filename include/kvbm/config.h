/* kvbm/config.h - backend selection: the inactive-pool backend kinds and the Lineage
 * eviction orders (used by kvbm_manager_config, the kvbm CLI, the Python binding and
 * configuration files). Small on purpose: no handles, no state; the library's internal
 * backend interface depends on this header only, not on kvbm/manager.h.
 */
#ifndef KVBM_CONFIG_H
#define KVBM_CONFIG_H

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
/** "lineage", "lru", "multi-lru", "hashmap"; NULL for other values. */
KVBM_API const char *kvbm_backend_name(kvbm_backend b);

typedef enum kvbm_lineage_eviction {
    KVBM_LINEAGE_TICK = 0, /* default: leaves in original insertion order */
    KVBM_LINEAGE_FIFO = 1  /* leaves in the order they became leaves */
} kvbm_lineage_eviction;

#ifdef __cplusplus
}
#endif

#endif /* KVBM_CONFIG_H */
