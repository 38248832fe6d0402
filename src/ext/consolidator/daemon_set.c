/* src/ext/consolidator/daemon_set.c - a u64 -> u32 count map (open addressing, linear
 * probing, backward-shift deletion), see daemon_int.h. */
#include "daemon_int.h"

#define EMPTY_CAP 64

static inline size_t slot_of(uint64_t k, size_t mask)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

void kvbm__dset_free(kvbm__dset *m)
{
    kvbm__free(m->keys);
    kvbm__free(m->vals);
    memset(m, 0, sizeof *m);
}

static kvbm_status grow(kvbm__dset *m)
{
    size_t cap = m->cap ? m->cap * 2 : EMPTY_CAP;
    uint64_t *keys = kvbm__malloc(cap * sizeof *keys);
    uint32_t *vals = kvbm__calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        kvbm__free(keys);
        kvbm__free(vals);
        kvbm__set_error("consolidator: out of memory for a map of %zu entries", cap);
        return KVBM_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->vals[i]) continue;
        size_t j = slot_of(m->keys[i], cap - 1);
        while (vals[j]) j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    kvbm__free(m->keys);
    kvbm__free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return KVBM_OK;
}

uint32_t kvbm__dset_get(const kvbm__dset *m, uint64_t k)
{
    if (!m->cap) return 0;
    for (size_t j = slot_of(k, m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        if (!m->vals[j]) return 0;
        if (m->keys[j] == k) return m->vals[j];
    }
}

kvbm_status kvbm__dset_add(kvbm__dset *m, uint64_t k, int32_t delta, uint32_t *now)
{
    if ((m->n + 1) * 4 > m->cap * 3) KVBM_TRY(grow(m));
    size_t mask = m->cap - 1, j = slot_of(k, mask);
    while (m->vals[j] && m->keys[j] != k) j = (j + 1) & mask;
    int64_t v = (int64_t)m->vals[j] + delta;
    if (v < 0) v = 0;
    if (!m->vals[j] && v) {
        m->keys[j] = k;
        m->n++;
    }
    if (m->vals[j] && !v) { /* delete: shift the following cluster back */
        m->n--;
        size_t hole = j;
        for (size_t i = (j + 1) & mask; m->vals[i]; i = (i + 1) & mask) {
            size_t home = slot_of(m->keys[i], mask);
            /* can entry i move into the hole? (home not in (hole, i]) */
            if (((i - home) & mask) >= ((i - hole) & mask)) {
                m->keys[hole] = m->keys[i];
                m->vals[hole] = m->vals[i];
                hole = i;
            }
        }
        m->vals[hole] = 0;
        if (now) *now = 0;
        return KVBM_OK;
    }
    m->vals[j] = (uint32_t)v;
    if (now) *now = (uint32_t)v;
    return KVBM_OK;
}
