/* src/ext/consolidator/map.c - kvbm__cmap, the tracker's open-addressing tables. */
#include "cons_int.h"

static inline size_t slot_of(const kvbm__cmap *m, uint64_t k0, uint64_t k1)
{
    return (size_t)kvbm__mix64(k0 ^ kvbm__mix64(k1 + UINT64_C(0x9e3779b97f4a7c15))) & (m->cap - 1);
}

kvbm__cmap_slot *kvbm__cmap_find(const kvbm__cmap *m, uint64_t k0, uint64_t k1)
{
    if (m->count == 0) return NULL;
    for (size_t i = slot_of(m, k0, k1);; i = (i + 1) & (m->cap - 1)) {
        kvbm__cmap_slot *s = &m->slots[i];
        if (!kvbm__cmap_used(s)) return NULL;
        if (s->k0 == k0 && s->k1 == k1) return s;
    }
}

static kvbm__cmap_slot *place(kvbm__cmap *m, uint64_t k0, uint64_t k1)
{
    size_t i = slot_of(m, k0, k1);
    while (kvbm__cmap_used(&m->slots[i])) i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

kvbm_status kvbm__cmap_grow(kvbm__cmap *m, size_t extra)
{
    size_t need;
    if (!kvbm__size_add(m->count, extra, &need) || !kvbm__size_mul(need, 2, &need))
        return KVBM_FAIL(KVBM_EOVERFLOW, "consolidator: table size overflow");
    if (need <= m->cap) return KVBM_OK;
    size_t cap = m->cap ? m->cap : 16;
    while (cap < need) cap *= 2;
    kvbm__cmap_slot *slots = kvbm__malloc(cap * sizeof *slots); /* cap*32 fits: need did */
    if (slots == NULL) return KVBM_FAIL(KVBM_ENOMEM, "consolidator: table of %zu slots", cap);
    memset(slots, 0xff, cap * sizeof *slots); /* every k1 = KVBM__CMAP_FREE */
    kvbm__cmap old = *m;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (kvbm__cmap_used(&old.slots[i])) *place(m, old.slots[i].k0, old.slots[i].k1) = old.slots[i];
    kvbm__free(old.slots);
    return KVBM_OK;
}

kvbm__cmap_slot *kvbm__cmap_insert(kvbm__cmap *m, uint64_t k0, uint64_t k1)
{
    kvbm__assert(m->cap != 0 && (m->count + 1) * 2 <= m->cap && k1 != KVBM__CMAP_FREE);
    kvbm__cmap_slot *s = place(m, k0, k1);
    memset(s, 0, sizeof *s);
    s->k0 = k0;
    s->k1 = k1;
    m->count++;
    return s;
}

void kvbm__cmap_erase(kvbm__cmap *m, kvbm__cmap_slot *s)
{
    size_t mask = m->cap - 1, hole = (size_t)(s - m->slots);
    /* backward shift: move later members of the probe run into the hole when their home
     * slot does not lie cyclically in (hole, j] */
    for (size_t j = (hole + 1) & mask; kvbm__cmap_used(&m->slots[j]); j = (j + 1) & mask) {
        size_t home = slot_of(m, m->slots[j].k0, m->slots[j].k1);
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        m->slots[hole] = m->slots[j];
        hole = j;
    }
    m->slots[hole].k1 = KVBM__CMAP_FREE;
    m->count--;
}

void kvbm__cmap_clear(kvbm__cmap *m)
{
    if (m->count != 0) memset(m->slots, 0xff, m->cap * sizeof *m->slots);
    m->count = 0;
}

void kvbm__cmap_free(kvbm__cmap *m)
{
    kvbm__free(m->slots);
    *m = (kvbm__cmap){0};
}
