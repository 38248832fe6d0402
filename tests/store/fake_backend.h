/* tests/store/fake_backend.h - a tiny FIFO inactive backend for store unit tests, with
 * knobs to break the "len >= n => allocate(n) returns n" contract (spec 10 §7.1 audit
 * tests). Header-only; each test binary includes it once. */
#ifndef KVBM_TEST_FAKE_BACKEND_H
#define KVBM_TEST_FAKE_BACKEND_H

#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "manager/manager_int.h"
#include "kvbm/registry.h"

struct fake_be {
    kvbm__pair *v;
    size_t     n, cap;
    long       claim_len;    /* >= 0: len() reports this instead of n */
    long       alloc_limit;  /* >= 0: allocate() returns at most this many per call */
    size_t     inserts;      /* insert() calls */
};

static bool fake_find_idx(struct fake_be *f, kvbm_plh h, size_t *idx)
{
    for (size_t i = 0; i < f->n; i++)
        if (kvbm_plh_eq(f->v[i].hash, h)) { *idx = i; return true; }
    return false;
}

static void fake_remove_at(struct fake_be *f, size_t i)
{
    memmove(&f->v[i], &f->v[i + 1], (f->n - i - 1) * sizeof f->v[0]);
    f->n--;
}

static bool fake_find_match(void *ctx, kvbm_plh h, bool touch, uint32_t *block_id)
{
    struct fake_be *f = ctx;
    size_t i;
    (void)touch;
    if (!fake_find_idx(f, h, &i)) return false;
    *block_id = f->v[i].block_id;
    fake_remove_at(f, i);
    return true;
}

static size_t fake_find_matches(void *ctx, const kvbm_plh *hs, size_t n, bool touch, kvbm__pair *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        if (!fake_find_match(ctx, hs[i], touch, &id)) break;
        out[k].hash = hs[i];
        out[k].block_id = id;
        k++;
    }
    return k;
}

static size_t fake_scan_matches(void *ctx, const kvbm_plh *hs, size_t n, bool touch, kvbm__pair *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        if (!fake_find_match(ctx, hs[i], touch, &id)) continue;
        out[k].hash = hs[i];
        out[k].block_id = id;
        k++;
    }
    return k;
}

static size_t fake_allocate(void *ctx, size_t count, kvbm__pair *out)
{
    struct fake_be *f = ctx;
    if (f->alloc_limit >= 0 && count > (size_t)f->alloc_limit) count = (size_t)f->alloc_limit;
    if (count > f->n) count = f->n;
    memcpy(out, f->v, count * sizeof *out);
    memmove(f->v, f->v + count, (f->n - count) * sizeof *out);
    f->n -= count;
    return count;
}

static kvbm_status fake_insert(void *ctx, kvbm_plh h, uint32_t block_id)
{
    struct fake_be *f = ctx;
    f->inserts++;
    if (f->n == f->cap) return KVBM_EFULL;
    f->v[f->n].hash = h;
    f->v[f->n].block_id = block_id;
    f->n++;
    return KVBM_OK;
}

static size_t fake_len(void *ctx)
{
    struct fake_be *f = ctx;
    return f->claim_len >= 0 ? (size_t)f->claim_len : f->n;
}

static bool fake_has(void *ctx, kvbm_plh h)
{
    size_t i;
    return fake_find_idx(ctx, h, &i);
}

static bool fake_take(void *ctx, kvbm_plh h, uint32_t block_id)
{
    struct fake_be *f = ctx;
    size_t i;
    if (!fake_find_idx(f, h, &i) || f->v[i].block_id != block_id) return false;
    fake_remove_at(f, i);
    return true;
}

static size_t fake_allocate_all(void *ctx, kvbm__pair *out)
{
    struct fake_be *f = ctx;
    return fake_allocate(ctx, f->n, out);
}

static void fake_destroy(void *ctx)
{
    struct fake_be *f = ctx;
    free(f->v);
    free(f);
}

static const kvbm__inactive_ops fake_ops = {
    .name = "fake-fifo", .find_match = fake_find_match, .find_matches = fake_find_matches,
    .scan_matches = fake_scan_matches, .allocate = fake_allocate, .insert = fake_insert,
    .len = fake_len, .has = fake_has, .take = fake_take, .allocate_all = fake_allocate_all,
    .destroy = fake_destroy,
};

/* New fake backend with room for @cap pairs; *@f (optional) receives its state. */
static kvbm__inactive fake_backend(size_t cap, struct fake_be **f)
{
    struct fake_be *b = calloc(1, sizeof *b);
    b->v = calloc(cap ? cap : 1, sizeof *b->v);
    b->cap = cap;
    b->claim_len = -1;
    b->alloc_limit = -1;
    if (f != NULL) *f = b;
    kvbm__inactive in = { &fake_ops, b, NULL };
    return in;
}

/* A manager of @n blocks of 4 tokens, duplication policy @pol, over a new registry (no
 * tracker): over a fake backend (room n + 8; its state in *@fb, optional) when @backend < 0,
 * else over the real backend @backend (kvbm_manager_create). @gauges: as
 * kvbm__manager_create_with_backend's set_gauges. *@reg (optional) receives the registry
 * reference, else it is released. NULL on failure. */
static kvbm_manager *fake_manager(uint32_t n, kvbm_dup_policy pol, bool def_reset, int backend,
                                  bool gauges, kvbm_registry **reg, struct fake_be **fb)
{
    kvbm_registry *r = NULL;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) return NULL;
    kvbm_manager_config c = KVBM_MANAGER_CONFIG_INIT;
    c.registry = r;
    c.block_count = n;
    c.block_size = 4;
    c.duplication_policy = pol;
    c.default_reset_on_release = def_reset;
    kvbm_manager *m = NULL;
    kvbm_status st;
    if (backend >= 0) {
        c.backend = (kvbm_backend)backend;
        st = kvbm_manager_create(&c, &m);
    } else {
        kvbm__inactive be = fake_backend(n + 8, fb);
        st = kvbm__manager_create_with_backend(&c, &be, gauges, &m);
    }
    if (reg != NULL) *reg = r;
    else kvbm_registry_release(r);
    return st == KVBM_OK ? m : NULL;
}

#endif
