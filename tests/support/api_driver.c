/* tests/support/api_driver.c - see api_driver.h. */
#include "support/api_driver.h"

#include <stdio.h>
#include <string.h>

#define FAIL(w, ...) do { char m_[320]; snprintf(m_, sizeof m_, __VA_ARGS__);              \
        atomic_fetch_add(&(w)->failures, 1); (w)->fail(__FILE__, __LINE__, m_); } while (0)
#define EXPECT_ST(w, st, want, what) do { kvbm_status s_ = (st);                             \
        if (s_ != (want)) FAIL(w, "%s: %s (expected %s): %s", (what), kvbm_status_name(s_),   \
                               kvbm_status_name(want), kvbm_last_error()); } while (0)

static const char *const OP_NAMES[DRV_OPS] = {
    "allocate", "stage", "complete_reset", "register", "release_mutable", "release_complete",
    "clone", "release", "release_many", "match", "scan", "downgrade", "weak_upgrade",
    "weak_release", "weak_clone", "pin", "pin_release", "pin_clone", "set_evict_on_reset",
    "reset_inactive_pool", "check_invariants", "attach", "accessors", "misuse",
};
const char *drv_op_name(int op) { return op >= 0 && op < DRV_OPS ? OP_NAMES[op] : "?"; }

static atomic_uint g_attach_type;
static void drv_dtor(void *v) { (void)v; }

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A value in [0, n): the next input byte (fuzzer) or the generator. */
static uint32_t rb(drv_actor *a, uint32_t n)
{
    if (n <= 1) return 0;
    if (a->bytes != NULL) {
        uint32_t v = a->pos < a->nbytes ? a->bytes[a->pos] : 0;
        a->pos++;
        if (n > 256 && a->pos < a->nbytes) v = (v << 8) | a->bytes[a->pos++];
        return v % n;
    }
    return (uint32_t)(splitmix(&a->rng) % n);
}

int drv_world_init(drv_world *w, kvbm_backend b0, kvbm_backend b1, uint64_t blocks, uint64_t seed,
                   drv_fail_fn fail)
{
    memset(w, 0, sizeof *w);
    w->fail = fail;
    w->block_size = 4;
    if (atomic_load(&g_attach_type) == 0) {
        kvbm_attach_type t = 0;
        if (kvbm_attach_type_register("api_driver", drv_dtor, &t) != KVBM_OK) return -1;
        unsigned zero = 0;
        atomic_compare_exchange_strong(&g_attach_type, &zero, t);
    }
    if (kvbm_tinylfu_create(4096, NULL, &w->tracker) != KVBM_OK) return -1;
    kvbm_registry_config rc = KVBM_REGISTRY_CONFIG_INIT;
    rc.tracker = w->tracker;
    if (kvbm_registry_create(&rc, &w->reg) != KVBM_OK) return -1;
    const kvbm_backend be[2] = { b0, b1 };
    for (int i = 0; i < 2; i++) {
        kvbm_manager_config mc = KVBM_MANAGER_CONFIG_INIT;
        mc.registry = w->reg;
        mc.block_count = blocks;
        mc.block_size = w->block_size;
        mc.backend = be[i];
        mc.tier_key = (kvbm_tier)i;
        mc.duplication_policy = (seed >> i) & 1 ? KVBM_DUP_REJECT : KVBM_DUP_ALLOW;
        if (kvbm_manager_create(&mc, &w->m[i]) != KVBM_OK) return -1;
    }
    uint64_t s = seed;
    for (int c = 0; c < DRV_CHAINS; c++) {
        uint64_t parent = 0;
        for (int k = 0; k < DRV_CHAIN_LEN; k++) {
            if (c == 1 && k < 3) { /* chains 0 and 1 share their first 3 blocks */
                w->universe[1][k] = w->universe[0][k];
            } else if (kvbm_plh_new(splitmix(&s), k > 0, parent, (uint64_t)k, &w->universe[c][k]) != KVBM_OK) {
                return -1;
            }
            parent = kvbm_plh_current(w->universe[c][k]);
        }
    }
    return 0;
}

void drv_world_fini(drv_world *w)
{
    for (int i = 0; i < 2; i++) kvbm_manager_destroy(w->m[i]);
    kvbm_registry_release(w->reg);
    kvbm_tracker_release(w->tracker);
    memset(w->m, 0, sizeof w->m);
    w->reg = NULL;
    w->tracker = NULL;
}

void drv_actor_init(drv_actor *a, drv_world *w, int id, uint64_t seed, const uint8_t *bytes, size_t n)
{
    memset(a, 0, sizeof *a);
    a->w = w;
    a->id = id;
    a->rng = seed;
    a->bytes = bytes;
    a->nbytes = n;
}

/* ---- handle sets ------------------------------------------------------------------------ */

static void put(drv_h *set, int *n, void *h, int mi) { set[*n].h = h; set[*n].mi = mi; (*n)++; }
static drv_h take(drv_h *set, int *n, int i) { drv_h x = set[i]; set[i] = set[--*n]; return x; }

static void release_block(drv_actor *a, kvbm_block *b)
{
    EXPECT_ST(a->w, kvbm_block_release(b), KVBM_OK, "release");
}

/* Keep a new block if there is room, else release it. */
static void keep_block(drv_actor *a, kvbm_block *b, int mi)
{
    if (a->nblk < DRV_MAXH) put(a->blk, &a->nblk, b, mi);
    else release_block(a, b);
}

static kvbm_plh rand_hash(drv_actor *a)
{
    return a->w->universe[rb(a, DRV_CHAINS)][rb(a, DRV_CHAIN_LEN)];
}

/* ---- operations ------------------------------------------------------------------------ */

static void op_allocate(drv_actor *a, int mi)
{
    uint32_t k = 1 + rb(a, 4);
    if (a->nmut + (int)k > DRV_MAXH) return;
    kvbm_mutable *out[4];
    kvbm_plh ev[4];
    size_t nev = 0;
    kvbm_status st = kvbm_manager_allocate(a->w->m[mi], k, out, ev, &nev);
    if (st == KVBM_EEXHAUSTED) return;
    EXPECT_ST(a->w, st, KVBM_OK, "allocate");
    if (st != KVBM_OK) return;
    if (nev > k) FAIL(a->w, "allocate: %zu evictions for %u blocks", nev, k);
    atomic_fetch_add(&a->w->allocs[mi], k);
    for (uint32_t i = 0; i < k; i++) put(a->mut, &a->nmut, out[i], mi);
}

static void op_stage(drv_actor *a)
{
    if (a->nmut == 0 || a->ncomp == DRV_MAXH) return;
    int i = (int)rb(a, (uint32_t)a->nmut);
    kvbm_plh h = rand_hash(a);
    kvbm_complete *c = NULL;
    if (rb(a, 16) == 0) { /* wrong size: refused, the mutable stays ours */
        uint32_t e = 0, g = 0;
        EXPECT_ST(a->w, kvbm_mutable_stage(a->mut[i].h, h, a->w->block_size * 2, &c, &e, &g), KVBM_ESIZE, "stage (size)");
        if (e != a->w->block_size || g != a->w->block_size * 2) FAIL(a->w, "stage: expected/actual %u/%u", e, g);
        return;
    }
    drv_h m = take(a->mut, &a->nmut, i);
    kvbm_status st = kvbm_mutable_stage(m.h, h, a->w->block_size, &c, NULL, NULL);
    EXPECT_ST(a->w, st, KVBM_OK, "stage");
    if (st != KVBM_OK) { put(a->mut, &a->nmut, m.h, m.mi); return; }
    atomic_fetch_add(&a->w->stagings[m.mi], 1);
    if (!kvbm_plh_eq(kvbm_complete_seq_hash(c), h)) FAIL(a->w, "stage: hash not kept");
    put(a->comp, &a->ncomp, c, m.mi);
}

static void op_complete_reset(drv_actor *a)
{
    if (a->ncomp == 0 || a->nmut == DRV_MAXH) return;
    drv_h c = take(a->comp, &a->ncomp, (int)rb(a, (uint32_t)a->ncomp));
    kvbm_mutable *m = NULL;
    kvbm_status st = kvbm_complete_reset(c.h, &m);
    EXPECT_ST(a->w, st, KVBM_OK, "complete_reset");
    if (st == KVBM_OK) put(a->mut, &a->nmut, m, c.mi);
    else put(a->comp, &a->ncomp, c.h, c.mi);
}

static void op_register(drv_actor *a, int mi)
{
    kvbm_complete *in[DRV_MAXH];
    kvbm_plh hs[DRV_MAXH];
    int idx[DRV_MAXH], n = 0;
    for (int i = 0; i < a->ncomp && n < 4; i++)
        if (a->comp[i].mi == mi && rb(a, 2) == 0) { idx[n] = i; in[n] = a->comp[i].h; hs[n] = kvbm_complete_seq_hash(in[n]); n++; }
    if (n == 0) return;
    kvbm_block *out[DRV_MAXH];
    kvbm_status st = kvbm_manager_register_blocks(a->w->m[mi], in, (size_t)n, out);
    EXPECT_ST(a->w, st, KVBM_OK, "register_blocks");
    if (st != KVBM_OK) return;
    atomic_fetch_add(&a->w->registrations[mi], (unsigned long long)n);
    for (int k = n - 1; k >= 0; k--) take(a->comp, &a->ncomp, idx[k]); /* idx ascending */
    for (int k = 0; k < n; k++) {
        if (!kvbm_plh_eq(kvbm_block_seq_hash(out[k]), hs[k])) FAIL(a->w, "register: block %d has another hash", k);
        keep_block(a, out[k], mi);
    }
}

static void op_release_many(drv_actor *a)
{
    kvbm_block *b[DRV_MAXH + 2];
    int n = 0;
    while (a->nblk > 0 && n < DRV_MAXH && rb(a, 3) != 0) {
        b[n++] = take(a->blk, &a->nblk, (int)rb(a, (uint32_t)a->nblk)).h;
        if (rb(a, 5) == 0) b[n++] = NULL;
    }
    if (n == 0) return;
    EXPECT_ST(a->w, kvbm_block_release_many(b, (size_t)n), KVBM_OK, "release_many");
}

static void op_match(drv_actor *a, int mi)
{
    int c = (int)rb(a, DRV_CHAINS);
    size_t len = 1 + rb(a, DRV_CHAIN_LEN);
    kvbm_block *out[DRV_CHAIN_LEN];
    size_t got = 0;
    kvbm_status st = kvbm_manager_match_blocks(a->w->m[mi], a->w->universe[c], len, out, &got);
    EXPECT_ST(a->w, st, KVBM_OK, "match_blocks");
    if (st != KVBM_OK) return;
    if (got > len) FAIL(a->w, "match: %zu of %zu", got, len);
    atomic_fetch_add(&a->w->match_ret[mi], got);
    for (size_t i = 0; i < got; i++) {
        if (!kvbm_plh_eq(kvbm_block_seq_hash(out[i]), a->w->universe[c][i])) FAIL(a->w, "match: block %zu has another hash", i);
        keep_block(a, out[i], mi);
    }
}

static void op_scan(drv_actor *a, int mi)
{
    kvbm_plh hs[8], oh[8];
    kvbm_block *ob[8];
    size_t n = 1 + rb(a, 8), found = 0;
    for (size_t i = 0; i < n; i++) hs[i] = rand_hash(a);
    kvbm_status st = kvbm_manager_scan_matches(a->w->m[mi], hs, n, rb(a, 2) == 0, oh, ob, &found);
    EXPECT_ST(a->w, st, KVBM_OK, "scan_matches");
    if (st != KVBM_OK) return;
    atomic_fetch_add(&a->w->scan_ret[mi], found);
    for (size_t i = 0; i < found; i++) {
        if (!kvbm_plh_eq(kvbm_block_seq_hash(ob[i]), oh[i])) FAIL(a->w, "scan: block %zu has another hash", i);
        keep_block(a, ob[i], mi);
    }
}

static void op_weak_upgrade(drv_actor *a)
{
    if (a->nweak == 0) return;
    drv_h w = a->weak[rb(a, (uint32_t)a->nweak)];
    kvbm_block *b = NULL;
    kvbm_status st = kvbm_weak_upgrade(w.h, &b);
    if (st == KVBM_ENOENT) return;
    EXPECT_ST(a->w, st, KVBM_OK, "weak_upgrade");
    if (st != KVBM_OK) return;
    if (!kvbm_plh_eq(kvbm_block_seq_hash(b), kvbm_weak_seq_hash(w.h))) FAIL(a->w, "weak_upgrade: another block");
    keep_block(a, b, w.mi);
}

static void op_weak_release(drv_actor *a)
{
    if (a->nweak == 0) return;
    drv_h w = take(a->weak, &a->nweak, (int)rb(a, (uint32_t)a->nweak));
    kvbm_weak_release(w.h);
    if (rb(a, 4) == 0) { /* stale: rejected, harmless (the slab entry may be another's now) */
        kvbm_block *b = NULL;
        EXPECT_ST(a->w, kvbm_weak_upgrade(w.h, &b), KVBM_EINVAL, "stale weak_upgrade");
        kvbm_weak_release(w.h);
    }
}

/* Misuse the library must refuse without changing anything. */
static void op_misuse(drv_actor *a, bool alone)
{
    switch (rb(a, 4)) {
    case 0: { /* release_many {b, b} of a block we hold the only reference of (single actor:
                 a concurrent match could add a reference between the check and the call) */
        if (!alone || a->nblk == 0) return;
        kvbm_block *b = a->blk[rb(a, (uint32_t)a->nblk)].h;
        if (kvbm_block_use_count(b) != 1) return;
        kvbm_block *two[2] = { b, b };
        EXPECT_ST(a->w, kvbm_block_release_many(two, 2), KVBM_EINVAL, "release_many {b, b}");
        if (kvbm_block_use_count(b) != 1) FAIL(a->w, "release_many {b, b} changed the count");
        return;
    }
    case 1: { /* NULL and foreign arguments */
        kvbm_block *b = NULL;
        size_t got = 0;
        EXPECT_ST(a->w, kvbm_manager_match_blocks(a->w->m[0], NULL, 1, &b, &got), KVBM_EINVAL, "match NULL");
        EXPECT_ST(a->w, kvbm_block_clone(NULL, &b), KVBM_EINVAL, "clone NULL");
        return;
    }
    case 2: { /* register a complete with the other manager */
        if (a->ncomp == 0) return;
        drv_h c = a->comp[rb(a, (uint32_t)a->ncomp)];
        kvbm_complete *in[1] = { c.h };
        kvbm_block *out[1];
        EXPECT_ST(a->w, kvbm_manager_register_blocks(a->w->m[1 - c.mi], in, 1, out), KVBM_EINVAL, "register foreign");
        return;
    }
    default: { /* allocate more than exists */
        kvbm_mutable *out[1];
        EXPECT_ST(a->w, kvbm_manager_allocate(a->w->m[0], kvbm_manager_total_blocks(a->w->m[0]) + 1, out, NULL, NULL),
                  KVBM_EEXHAUSTED, "allocate too many");
        return;
    }
    }
}

bool drv_step(drv_actor *a)
{
    if (a->bytes != NULL && a->pos >= a->nbytes) return false;
    drv_world *w = a->w;
    int op = (int)rb(a, DRV_OPS);
    int mi = (int)rb(a, 2);
    a->ops[op]++;
    switch (op) {
    case 0: op_allocate(a, mi); break;
    case 1: op_stage(a); break;
    case 2: op_complete_reset(a); break;
    case 3: op_register(a, mi); break;
    case 4: if (a->nmut) EXPECT_ST(w, kvbm_mutable_release(take(a->mut, &a->nmut, (int)rb(a, (uint32_t)a->nmut)).h), KVBM_OK, "mutable_release"); break;
    case 5: if (a->ncomp) EXPECT_ST(w, kvbm_complete_release(take(a->comp, &a->ncomp, (int)rb(a, (uint32_t)a->ncomp)).h), KVBM_OK, "complete_release"); break;
    case 6: if (a->nblk && a->nblk < DRV_MAXH) {
                drv_h b = a->blk[rb(a, (uint32_t)a->nblk)];
                kvbm_block *c = NULL;
                kvbm_status st = kvbm_block_clone(b.h, &c);
                EXPECT_ST(w, st, KVBM_OK, "clone");
                if (st == KVBM_OK) put(a->blk, &a->nblk, c, b.mi);
            } break;
    case 7: if (a->nblk) release_block(a, take(a->blk, &a->nblk, (int)rb(a, (uint32_t)a->nblk)).h); break;
    case 8: op_release_many(a); break;
    case 9: op_match(a, mi); break;
    case 10: op_scan(a, mi); break;
    case 11: if (a->nblk && a->nweak < DRV_MAXH) {
                 drv_h b = a->blk[rb(a, (uint32_t)a->nblk)];
                 kvbm_weak *wk = NULL;
                 kvbm_status st = kvbm_block_downgrade(b.h, &wk);
                 EXPECT_ST(w, st, KVBM_OK, "downgrade");
                 if (st == KVBM_OK) put(a->weak, &a->nweak, wk, b.mi);
             } break;
    case 12: op_weak_upgrade(a); break;
    case 13: op_weak_release(a); break;
    case 14: if (a->nweak && a->nweak < DRV_MAXH) {
                 drv_h x = a->weak[rb(a, (uint32_t)a->nweak)];
                 kvbm_weak *c = NULL;
                 kvbm_status st = kvbm_weak_clone(x.h, &c);
                 EXPECT_ST(w, st, KVBM_OK, "weak_clone");
                 if (st == KVBM_OK) put(a->weak, &a->nweak, c, x.mi);
             } break;
    case 15: if (a->nblk && a->npin < DRV_MAXH) {
                 drv_h b = a->blk[rb(a, (uint32_t)a->nblk)];
                 kvbm_pin *p = NULL;
                 kvbm_status st = kvbm_block_pin(b.h, &p);
                 EXPECT_ST(w, st, KVBM_OK, "pin");
                 if (st == KVBM_OK) put(a->pin, &a->npin, p, b.mi);
             } break;
    case 16: if (a->npin) EXPECT_ST(w, kvbm_pin_release(take(a->pin, &a->npin, (int)rb(a, (uint32_t)a->npin)).h), KVBM_OK, "pin_release"); break;
    case 17: if (a->npin && a->npin < DRV_MAXH) {
                 drv_h p = a->pin[rb(a, (uint32_t)a->npin)];
                 kvbm_pin *c = NULL;
                 kvbm_status st = kvbm_pin_clone(p.h, &c);
                 EXPECT_ST(w, st, KVBM_OK, "pin_clone");
                 if (st == KVBM_OK) put(a->pin, &a->npin, c, p.mi);
             } break;
    case 18: if (a->nblk) EXPECT_ST(w, kvbm_block_set_evict_on_reset(a->blk[rb(a, (uint32_t)a->nblk)].h, rb(a, 2)), KVBM_OK, "set_evict_on_reset"); break;
    case 19: {
        kvbm_status st = kvbm_manager_reset_inactive_pool(w->m[mi], NULL, NULL);
        if (st != KVBM_ERESET_MISMATCH) EXPECT_ST(w, st, KVBM_OK, "reset_inactive_pool");
        break;
    }
    case 20:
        for (int i = 0; i < 2; i++) EXPECT_ST(w, kvbm_manager_check_invariants(w->m[i]), KVBM_OK, "check_invariants");
        break;
    case 21: if (a->nblk) {
                 kvbm_handle *h = NULL;
                 EXPECT_ST(w, kvbm_block_registration_handle(a->blk[rb(a, (uint32_t)a->nblk)].h, &h), KVBM_OK, "registration_handle");
                 static int val;
                 if (h != NULL) EXPECT_ST(w, kvbm_handle_attach(h, (kvbm_attach_type)atomic_load(&g_attach_type), &val), KVBM_OK, "attach");
                 kvbm_handle_release(h);
             } break;
    case 22: if (a->nblk) {
                 drv_h b = a->blk[rb(a, (uint32_t)a->nblk)];
                 char buf[160];
                 if (kvbm_block_use_count(b.h) < 1) FAIL(w, "use_count 0 of a held block");
                 if (kvbm_block_id(b.h) >= kvbm_manager_total_blocks(w->m[b.mi])) FAIL(w, "block id out of range");
                 if (kvbm_block_manager_id(b.h) != kvbm_manager_id(w->m[b.mi])) FAIL(w, "block of another manager");
                 if (kvbm_block_describe(b.h, buf, sizeof buf) <= 0) FAIL(w, "describe");
             } break;
    default: op_misuse(a, a->bytes != NULL); break;
    }
    return true;
}

void drv_actor_release_all(drv_actor *a)
{
    while (a->nmut) EXPECT_ST(a->w, kvbm_mutable_release(a->mut[--a->nmut].h), KVBM_OK, "final mutable_release");
    while (a->ncomp) EXPECT_ST(a->w, kvbm_complete_release(a->comp[--a->ncomp].h), KVBM_OK, "final complete_release");
    while (a->npin) EXPECT_ST(a->w, kvbm_pin_release(a->pin[--a->npin].h), KVBM_OK, "final pin_release");
    while (a->nweak) kvbm_weak_release(a->weak[--a->nweak].h);
    kvbm_block *b[DRV_MAXH];
    int n = 0;
    while (a->nblk) b[n++] = a->blk[--a->nblk].h;
    if (n) EXPECT_ST(a->w, kvbm_block_release_many(b, (size_t)n), KVBM_OK, "final release_many");
}

void drv_world_final(drv_world *w)
{
    for (int i = 0; i < 2; i++) {
        kvbm_manager *m = w->m[i];
        kvbm_metrics *mt = kvbm_manager_metrics(m);
        EXPECT_ST(w, kvbm_manager_check_invariants(m), KVBM_OK, "final check_invariants");
        uint64_t total = kvbm_manager_total_blocks(m), avail = kvbm_manager_available_blocks(m);
        if (avail != total) FAIL(w, "manager %d: %llu of %llu blocks back", i, (unsigned long long)avail, (unsigned long long)total);
        if (kvbm_metrics_get(mt, KVBM_METRIC_inflight_mutable) != 0 || kvbm_metrics_get(mt, KVBM_METRIC_inflight_immutable) != 0)
            FAIL(w, "manager %d: inflight gauges %lld/%lld", i, (long long)kvbm_metrics_get(mt, KVBM_METRIC_inflight_mutable),
                 (long long)kvbm_metrics_get(mt, KVBM_METRIC_inflight_immutable));
        const struct { kvbm_metric_id id; atomic_ullong *t; } ctr[] = {
            { KVBM_METRIC_allocations, &w->allocs[i] }, { KVBM_METRIC_stagings, &w->stagings[i] },
            { KVBM_METRIC_registrations, &w->registrations[i] }, { KVBM_METRIC_match_blocks_returned, &w->match_ret[i] },
            { KVBM_METRIC_scan_blocks_returned, &w->scan_ret[i] },
        };
        for (size_t k = 0; k < sizeof ctr / sizeof ctr[0]; k++)
            if ((uint64_t)kvbm_metrics_get(mt, ctr[k].id) != atomic_load(ctr[k].t))
                FAIL(w, "manager %d: counter %s = %lld, the actors counted %llu", i, kvbm_metric_name(ctr[k].id),
                     (long long)kvbm_metrics_get(mt, ctr[k].id), (unsigned long long)atomic_load(ctr[k].t));
        if (kvbm_metrics_get(mt, KVBM_METRIC_allocate_atomic_rollback) != 0) FAIL(w, "manager %d: allocate rollbacks", i);
        EXPECT_ST(w, kvbm_manager_reset_inactive_pool(m, NULL, NULL), KVBM_OK, "final reset_inactive_pool");
        if (kvbm_manager_reset_len(m) != total) FAIL(w, "manager %d: reset pool %llu of %llu", i,
                                                      (unsigned long long)kvbm_manager_reset_len(m), (unsigned long long)total);
        EXPECT_ST(w, kvbm_manager_check_invariants(m), KVBM_OK, "final check_invariants after reset");
    }
}
