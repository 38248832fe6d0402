/* tests/support/metered_tracker.c - see metered_tracker.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metered_tracker.h"

struct mt_entry { uint8_t key[16]; uint32_t count; bool used; };

struct metered_tracker {
    kvbm_tracker    *tracker;
    _Atomic uint64_t touches;
    _Atomic uint64_t counts;
    pthread_mutex_t  mu;
    struct mt_entry *tab;   /* open addressing, linear probing */
    size_t           cap, n;
};

static uint64_t mt_hash(const uint8_t key[16])
{
    uint64_t x = 0xcbf29ce484222325u;
    for (int i = 0; i < 16; i++) { x ^= key[i]; x *= 0x100000001b3u; }
    return x;
}

static struct mt_entry *mt_slot(struct mt_entry *tab, size_t cap, const uint8_t key[16])
{
    size_t i = mt_hash(key) & (cap - 1);
    while (tab[i].used && memcmp(tab[i].key, key, 16) != 0) i = (i + 1) & (cap - 1);
    return &tab[i];
}

static void mt_grow(metered_tracker *m)
{
    size_t ncap = m->cap * 2;
    struct mt_entry *nt = calloc(ncap, sizeof *nt);
    if (nt == NULL) { fprintf(stderr, "metered_tracker: out of memory\n"); abort(); }
    for (size_t i = 0; i < m->cap; i++)
        if (m->tab[i].used) *mt_slot(nt, ncap, m->tab[i].key) = m->tab[i];
    free(m->tab);
    m->tab = nt;
    m->cap = ncap;
}

static void mt_touch(void *ctx, const uint8_t key[16])
{
    metered_tracker *m = ctx;
    atomic_fetch_add(&m->touches, 1);
    pthread_mutex_lock(&m->mu);
    if ((m->n + 1) * 2 > m->cap) mt_grow(m);
    struct mt_entry *e = mt_slot(m->tab, m->cap, key);
    if (!e->used) { memcpy(e->key, key, 16); e->used = true; e->count = 0; m->n++; }
    e->count++;
    pthread_mutex_unlock(&m->mu);
}

static uint32_t mt_lookup(metered_tracker *m, const uint8_t key[16])
{
    pthread_mutex_lock(&m->mu);
    struct mt_entry *e = mt_slot(m->tab, m->cap, key);
    uint32_t c = e->used ? e->count : 0;
    pthread_mutex_unlock(&m->mu);
    return c;
}

static uint32_t mt_count(void *ctx, const uint8_t key[16])
{
    metered_tracker *m = ctx;
    atomic_fetch_add(&m->counts, 1);
    return mt_lookup(m, key);
}

static void mt_destroy(void *ctx)
{
    metered_tracker *m = ctx;
    pthread_mutex_destroy(&m->mu);
    free(m->tab);
    free(m);
}

metered_tracker *metered_tracker_new(void)
{
    static const kvbm_tracker_ops ops = { mt_touch, mt_count, mt_destroy };
    metered_tracker *m = calloc(1, sizeof *m);
    if (m == NULL) abort();
    m->cap = 64;
    m->tab = calloc(m->cap, sizeof *m->tab);
    if (m->tab == NULL) abort();
    pthread_mutex_init(&m->mu, NULL);
    if (kvbm_tracker_create_custom(&ops, m, &m->tracker) != KVBM_OK) {
        fprintf(stderr, "metered_tracker: kvbm_tracker_create_custom failed\n");
        abort();
    }
    return m;
}

kvbm_tracker *metered_tracker_get(metered_tracker *m) { return m->tracker; }
uint64_t metered_tracker_touches(metered_tracker *m) { return atomic_load(&m->touches); }
uint64_t metered_tracker_counts(metered_tracker *m) { return atomic_load(&m->counts); }

uint32_t metered_tracker_key_touches(metered_tracker *m, kvbm_plh h)
{
    uint8_t key[16];
    kvbm_plh_to_le16(h, key);
    return mt_lookup(m, key);
}

void metered_tracker_reset(metered_tracker *m)
{
    atomic_store(&m->touches, 0);
    atomic_store(&m->counts, 0);
}

void metered_tracker_release(metered_tracker *m)
{
    if (m != NULL) kvbm_tracker_release(m->tracker);
}
