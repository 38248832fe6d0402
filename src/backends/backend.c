/* src/backends/backend.c - backend selection by configuration (kvbm__inactive_create). */
#include "backends/backend.h"

kvbm_status kvbm__inactive_create(kvbm_backend kind, size_t capacity, kvbm_lineage_eviction ev,
                                  const uint8_t thresholds[3], kvbm_tracker *tracker,
                                  kvbm__inactive *out)
{
    if (out == NULL) return KVBM_EINVAL;
    switch (kind) {
    case KVBM_BACKEND_LINEAGE:   return kvbm__lineage_create(capacity, ev, out);
    case KVBM_BACKEND_LRU:       return kvbm__lru_create(capacity, out);
    case KVBM_BACKEND_HASHMAP:   return kvbm__hashmap_create(capacity, out);
    case KVBM_BACKEND_MULTI_LRU: return kvbm__multi_lru_create(capacity, thresholds, tracker, out);
    }
    kvbm__set_error("unknown inactive backend kind %d", (int)kind);
    return KVBM_EINVAL;
}
