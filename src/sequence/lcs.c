/* src/sequence/lcs.c - the lifecycle store's deque and id set (see seq_int.h). */
#include "seq_int.h"

kvbm_status kvbm__dq_reserve(kvbm__lc_deque *d, size_t extra)
{
    if (extra > SIZE_MAX / 2 - d->len) return KVBM_ENOMEM;
    size_t need = d->len + extra;
    if (need <= d->cap) return KVBM_OK;
    size_t cap = d->cap ? d->cap : 4;
    while (cap < need) cap *= 2;
    kvbm__lc_entry *v = kvbm__malloc(cap * sizeof *v);
    if (v == NULL) return KVBM_ENOMEM;
    for (size_t i = 0; i < d->len; i++) v[i] = *kvbm__dq_at(d, i);
    kvbm__free(d->v);
    d->v = v;
    d->head = 0;
    d->cap = cap;
    return KVBM_OK;
}

void kvbm__dq_free(kvbm__lc_deque *d)
{
    kvbm__free(d->v);
    memset(d, 0, sizeof *d);
}

static inline size_t id_slot(uint64_t id, size_t mask)
{
    id ^= id >> 33;
    id *= UINT64_C(0xff51afd7ed558ccd);
    id ^= id >> 33;
    return (size_t)id & mask;
}

bool kvbm__idset_has(const kvbm__idset *s, uint64_t id)
{
    if (id == KVBM__ID_EMPTY) return s->has_empty_key;
    if (s->cap == 0) return false;
    size_t mask = s->cap - 1;
    for (size_t i = id_slot(id, mask);; i = (i + 1) & mask) {
        if (s->keys[i] == id) return true;
        if (s->keys[i] == KVBM__ID_EMPTY) return false;
    }
}

static void idset_put(uint64_t *keys, size_t mask, uint64_t id)
{
    size_t i = id_slot(id, mask);
    while (keys[i] != KVBM__ID_EMPTY) i = (i + 1) & mask;
    keys[i] = id;
}

kvbm_status kvbm__idset_reserve(kvbm__idset *s, size_t extra)
{
    if (extra > SIZE_MAX / 4 - s->len) return KVBM_ENOMEM;
    size_t need = (s->len + extra) * 2;
    if (need <= s->cap) return KVBM_OK;
    size_t cap = s->cap ? s->cap : 16;
    while (cap < need) cap *= 2;
    uint64_t *keys = kvbm__malloc(cap * sizeof *keys);
    if (keys == NULL) return KVBM_ENOMEM;
    memset(keys, 0xff, cap * sizeof *keys);
    for (size_t i = 0; i < s->cap; i++)
        if (s->keys[i] != KVBM__ID_EMPTY) idset_put(keys, cap - 1, s->keys[i]);
    kvbm__free(s->keys);
    s->keys = keys;
    s->cap = cap;
    return KVBM_OK;
}

bool kvbm__idset_add(kvbm__idset *s, uint64_t id)
{
    if (id == KVBM__ID_EMPTY) {
        if (s->has_empty_key) return false;
        s->has_empty_key = true;
        return true;
    }
    kvbm__assert(s->cap >= (s->len + 1) * 2);
    size_t mask = s->cap - 1, i = id_slot(id, mask);
    for (; s->keys[i] != KVBM__ID_EMPTY; i = (i + 1) & mask)
        if (s->keys[i] == id) return false;
    s->keys[i] = id;
    s->len++;
    return true;
}

void kvbm__idset_del(kvbm__idset *s, uint64_t id)
{
    if (id == KVBM__ID_EMPTY) {
        s->has_empty_key = false;
        return;
    }
    if (s->cap == 0) return;
    size_t mask = s->cap - 1, i = id_slot(id, mask);
    for (; s->keys[i] != id; i = (i + 1) & mask)
        if (s->keys[i] == KVBM__ID_EMPTY) return;
    /* backward-shift deletion: move later members of the probe run into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; s->keys[j] != KVBM__ID_EMPTY; j = (j + 1) & mask) {
        size_t home = id_slot(s->keys[j], mask);
        /* j may move to hole iff home is not in the cyclic range (hole, j] */
        bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            s->keys[hole] = s->keys[j];
            hole = j;
        }
    }
    s->keys[hole] = KVBM__ID_EMPTY;
    s->len--;
}

void kvbm__idset_clear(kvbm__idset *s)
{
    if (s->len) memset(s->keys, 0xff, s->cap * sizeof *s->keys);
    s->len = 0;
    s->has_empty_key = false;
}

void kvbm__idset_free(kvbm__idset *s)
{
    kvbm__free(s->keys);
    memset(s, 0, sizeof *s);
}

kvbm_status kvbm__lcs_reserve(kvbm__lcs *s, kvbm__lc_deque *dq, size_t n)
{
    KVBM_TRY(kvbm__idset_reserve(&s->ids, n));
    return kvbm__dq_reserve(dq, n);
}

bool kvbm__lcs_claim(kvbm__lcs *s, const uint64_t *ids, size_t n, uint64_t *dup)
{
    for (size_t i = 0; i < n; i++) {
        if (!kvbm__idset_add(&s->ids, ids[i])) {
            for (size_t k = 0; k < i; k++) kvbm__idset_del(&s->ids, ids[k]);
            *dup = ids[i];
            return false;
        }
    }
    return true;
}

void kvbm__lcs_move_all(kvbm__lc_deque *from, kvbm__lc_deque *to)
{
    while (from->len) kvbm__dq_push(to, kvbm__dq_shift(from));
}

void kvbm__lcs_free(kvbm__lcs *s)
{
    kvbm__dq_free(&s->asg);
    kvbm__dq_free(&s->stg);
    kvbm__dq_free(&s->una);
    kvbm__idset_free(&s->ids);
}
