/* src/backends/backend.c - backend selection by configuration: the one table of backend
 * names (kvbm_backend_parse, kvbm_backend_name) and kvbm__inactive_create. */
#include <stdio.h>
#include <string.h>

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

static const struct backend_name {
    const char           *name;
    kvbm_backend          backend;
    kvbm_lineage_eviction eviction;
    bool                  canonical;
} names[] = {
    { "lineage",      KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_TICK, true },
    { "lineage-fifo", KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_FIFO, true },
    { "lru",          KVBM_BACKEND_LRU,       KVBM_LINEAGE_TICK, true },
    { "multi-lru",    KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK, true },
    { "hashmap",      KVBM_BACKEND_HASHMAP,   KVBM_LINEAGE_TICK, true },
    /* aliases: the spellings bench and older configurations used */
    { "lineage-tick", KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_TICK, false },
    { "lineage_tick", KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_TICK, false },
    { "lineage_fifo", KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_FIFO, false },
    { "multi_lru",    KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK, false },
    { "multilru",     KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK, false },
};
#define N_NAMES (sizeof names / sizeof names[0])

kvbm_status kvbm_backend_parse(const char *name, kvbm_backend *backend, kvbm_lineage_eviction *eviction)
{
    if (name == NULL || backend == NULL || eviction == NULL) {
        kvbm__set_error("kvbm_backend_parse: %s is NULL",
                        name == NULL ? "name" : backend == NULL ? "backend" : "eviction");
        return KVBM_EINVAL;
    }
    for (size_t i = 0; i < N_NAMES; i++)
        if (strcmp(name, names[i].name) == 0) {
            *backend = names[i].backend;
            *eviction = names[i].eviction;
            return KVBM_OK;
        }
    char valid[96];
    size_t o = 0;
    for (size_t i = 0; i < N_NAMES && names[i].canonical; i++)
        o += (size_t)snprintf(valid + o, sizeof valid - o, "%s%s", i ? ", " : "", names[i].name);
    kvbm__set_error("unknown backend \"%.64s\" (valid: %s)", name, valid);
    return KVBM_EINVAL;
}

const char *kvbm_backend_name(kvbm_backend backend, kvbm_lineage_eviction eviction)
{
    if (backend != KVBM_BACKEND_LINEAGE) eviction = KVBM_LINEAGE_TICK;
    for (size_t i = 0; i < N_NAMES && names[i].canonical; i++)
        if (names[i].backend == backend && names[i].eviction == eviction) return names[i].name;
    return NULL;
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
