/* src/backends/backend.c - backend selection by configuration (kvbm__inactive_create). */
#include "backends/backend.h"
#include "backends/lazy_ring.h"

_Static_assert(KVBM_LRING_MAX_CAPACITY == KVBM__RING_MAX_CAPACITY, "ring backends' limit");

uint64_t kvbm_backend_max_block_count(kvbm_backend b)
{
    switch (b) {
    case KVBM_BACKEND_LINEAGE:   return KVBM__LINEAGE_MAX_CAPACITY;
    case KVBM_BACKEND_LRU:
    case KVBM_BACKEND_MULTI_LRU:
    case KVBM_BACKEND_HASHMAP:   return KVBM__RING_MAX_CAPACITY;
    }
    return 0;
}

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
