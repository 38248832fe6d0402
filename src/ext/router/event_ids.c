/* src/ext/router/event_ids.c - event_id generator, monotonic per (worker_id, dp_rank) from
 * 0 (spec 20 §4.1.5): an open-addressing table (linear probing, power-of-2 capacity, at most
 * half full) keyed by the pair. A producer has few pairs; lookups are O(1). */
#include "internal.h"
#include "router_int.h"

struct slot {
    uint64_t worker_id;
    uint64_t next;    /* next id to hand out */
    uint32_t dp_rank;
    bool     used;
};

struct kvbm_router_event_ids {
    struct slot *slots;
    size_t       cap, n;
};

static size_t slot_of(uint64_t w, uint32_t r, size_t mask)
{
    uint64_t h = (w ^ ((uint64_t)r << 32 | r)) * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & mask;
}

static struct slot *find(struct slot *s, size_t cap, uint64_t w, uint32_t r)
{
    size_t i = slot_of(w, r, cap - 1);
    while (s[i].used && (s[i].worker_id != w || s[i].dp_rank != r)) i = (i + 1) & (cap - 1);
    return &s[i];
}

kvbm_status kvbm_router_event_ids_create(kvbm_router_event_ids **out)
{
    if (out == NULL) {
        kvbm__set_error("kvbm_router_event_ids_create: out is NULL");
        return KVBM_EINVAL;
    }
    kvbm_router_event_ids *g = kvbm__calloc(1, sizeof *g);
    struct slot *s = g != NULL ? kvbm__calloc(8, sizeof *s) : NULL;
    if (s == NULL) {
        kvbm__free(g);
        kvbm__set_error("kvbm_router_event_ids_create: out of memory");
        return KVBM_ENOMEM;
    }
    g->slots = s;
    g->cap = 8;
    *out = g;
    return KVBM_OK;
}

void kvbm_router_event_ids_destroy(kvbm_router_event_ids *g)
{
    if (g == NULL) return;
    kvbm__free(g->slots);
    kvbm__free(g);
}

static kvbm_status grow(kvbm_router_event_ids *g)
{
    size_t cap = g->cap * 2;
    struct slot *s = kvbm__calloc(cap, sizeof *s);
    if (s == NULL) {
        kvbm__set_error("kvbm_router_event_ids_next: out of memory for %zu pairs", cap / 2);
        return KVBM_ENOMEM;
    }
    for (size_t i = 0; i < g->cap; i++)
        if (g->slots[i].used) *find(s, cap, g->slots[i].worker_id, g->slots[i].dp_rank) = g->slots[i];
    kvbm__free(g->slots);
    g->slots = s;
    g->cap = cap;
    return KVBM_OK;
}

kvbm_status kvbm_router_event_ids_next(kvbm_router_event_ids *g, uint64_t worker_id, uint32_t dp_rank, uint64_t *id)
{
    if (g == NULL || id == NULL) {
        kvbm__set_error("kvbm_router_event_ids_next: %s is NULL", g == NULL ? "generator" : "id");
        return KVBM_EINVAL;
    }
    struct slot *s = find(g->slots, g->cap, worker_id, dp_rank);
    if (!s->used) {
        if (2 * (g->n + 1) > g->cap) {
            KVBM_TRY(grow(g));
            s = find(g->slots, g->cap, worker_id, dp_rank);
        }
        *s = (struct slot){ worker_id, 0, dp_rank, true };
        g->n++;
    }
    *id = s->next++;
    return KVBM_OK;
}
