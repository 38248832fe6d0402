/* bench/backend_kinds.h - the five inactive backends by index, for the standalone backend
 * benchmarks (bench_backends, bench_evict_cold). Header-only. */
#ifndef BENCH_BACKEND_KINDS_H
#define BENCH_BACKEND_KINDS_H

#include "backends/backend.h"
#include "kvbm/tracker.h"

enum { B_HASHMAP, B_LRU, B_MULTI, B_TICK, B_FIFO, B_COUNT };
/* Name of backend @k: the library's name of the matching manager backend. */
static inline const char *bname(int k)
{
    switch (k) {
    case B_HASHMAP: return kvbm_backend_name(KVBM_BACKEND_HASHMAP, KVBM_LINEAGE_TICK);
    case B_LRU: return kvbm_backend_name(KVBM_BACKEND_LRU, KVBM_LINEAGE_TICK);
    case B_MULTI: return kvbm_backend_name(KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK);
    case B_TICK: return kvbm_backend_name(KVBM_BACKEND_LINEAGE, KVBM_LINEAGE_TICK);
    default: return kvbm_backend_name(KVBM_BACKEND_LINEAGE, KVBM_LINEAGE_FIFO);
    }
}

/* Backend @k over @cap blocks; MultiLRU uses tracker @t and the default thresholds. */
static inline kvbm_status make(int k, size_t cap, kvbm_tracker *t, kvbm__inactive *b)
{
    static const uint8_t thr[3] = { 3, 8, 15 };
    switch (k) {
    case B_HASHMAP: return kvbm__hashmap_create(cap, b);
    case B_LRU: return kvbm__lru_create(cap, b);
    case B_MULTI: return kvbm__multi_lru_create(cap, thr, t, b);
    case B_TICK: return kvbm__lineage_create(cap, KVBM_LINEAGE_TICK, b);
    default: return kvbm__lineage_create(cap, KVBM_LINEAGE_FIFO, b);
    }
}

#endif /* BENCH_BACKEND_KINDS_H */
