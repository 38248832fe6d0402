/* tests/store/test_store_concurrent.c - concurrency tests of the store (also run under TSan).
 *
 * last_drop_vs_match_* replace the two Option-A tests of spec 10 §7.1 (pause hook): with the
 * locked final release a primary with strong == 0 is never observable, so the eager and
 * no-op audit counters must stay 0 whatever the interleaving, and a reset-on-release flag
 * set before the drop must be honoured. mixed_ops_* hammer every handle operation from
 * several threads and then check the store invariants and gauges. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"
#include "fake_backend.h"
#include "store/store_int.h"
#include "manager/manager_int.h"
#include "kvbm/registry.h"

/* backend < 0: the fake FIFO backend; else a real one through kvbm_manager_create */
static kvbm_manager *mk_be(uint32_t n, kvbm_dup_policy pol, kvbm_registry **reg, int backend)
{
    return fake_manager(n, pol, false, backend, true, reg, NULL);
}

static kvbm_manager *mk(uint32_t n, kvbm_dup_policy pol, kvbm_registry **reg)
{
    return mk_be(n, pol, reg, -1);
}

/* ---- last drop versus match ------------------------------------------------------------- */

struct race {
    pthread_barrier_t bar;
    kvbm_manager     *m;
    kvbm_block       *b;
    kvbm_plh          h;
    size_t            matched;
    kvbm_block       *got;
};

static void *drop_thread(void *arg)
{
    struct race *r = arg;
    pthread_barrier_wait(&r->bar);
    (void)kvbm_block_release(r->b);
    return NULL;
}

static void *match_thread(void *arg)
{
    struct race *r = arg;
    pthread_barrier_wait(&r->bar);
    r->got = NULL;
    if (kvbm_manager_match_blocks(r->m, &r->h, 1, &r->got, &r->matched) != KVBM_OK) r->matched = 99;
    return NULL;
}

static void last_drop_vs_match(bool flag)
{
    kvbm_registry *reg;
    kvbm_manager *m = mk(8, KVBM_DUP_ALLOW, &reg);
    ASSERT_TRUE(m != NULL);
    int iters = test_under_sanitizer() ? 100 : 400;
    int hits = 0;
    for (int it = 0; it < iters; it++) {
        struct race r;
        r.m = m;
        r.h = tm_hash_n((uint64_t)it);
        r.b = tm_try_register_hash(m, r.h);
        ASSERT_TRUE(r.b != NULL);
        if (flag) ASSERT_OK(kvbm_block_set_evict_on_reset(r.b, true));
        pthread_barrier_init(&r.bar, NULL, 2);
        pthread_t a, b;
        pthread_create(&a, NULL, drop_thread, &r);
        pthread_create(&b, NULL, match_thread, &r);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        pthread_barrier_destroy(&r.bar);
        ASSERT_LE(r.matched, 1);
        if (r.matched == 1) {
            hits++;
            EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(r.got), r.h));
            ASSERT_OK(kvbm_block_release(r.got));
        }
        EXPECT_EQ(kvbm_manager_total_blocks(m), 8);
        EXPECT_EQ(kvbm_manager_available_blocks(m), 8);
        if (flag) {
            /* the flag survives whichever side performed the last release */
            EXPECT_FALSE(kvbm_manager_has_inactive(m, r.h));
            EXPECT_FALSE(kvbm_registry_is_registered(reg, r.h));
        } else {
            EXPECT_TRUE(kvbm_manager_has_inactive(m, r.h));
        }
        EXPECT_OK(kvbm_manager_check_invariants(m));
    }
    printf("    %d of %d matches won the race\n", hits, iters);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_eager_primary_to_inactive), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_release_primary_noop), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_immutable), 0);
    kvbm_manager_destroy(m);
    kvbm_registry_release(reg);
}

KVBM_TEST(last_drop_vs_match_keeps_audit_counters_zero)
{
    last_drop_vs_match(false);
}

KVBM_TEST(last_drop_vs_match_honours_reset_on_release_flag)
{
    last_drop_vs_match(true);
}

/* ---- mixed operations ------------------------------------------------------------------- */

enum { MIX_BLOCKS = 48, MIX_HASHES = 24, MIX_HELD = 12 };

struct mix {
    kvbm_manager *m;
    uint64_t      seed;
    int           iters;
    int           id;
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *mix_thread(void *arg)
{
    struct mix *x = arg;
    uint64_t s = x->seed * 2654435761u + (uint64_t)x->id + 1;
    kvbm_block *held[MIX_HELD] = { NULL };
    kvbm_pin *pins[4] = { NULL };
    kvbm_weak *weak[4] = { NULL };
    kvbm_mutable *muts[4] = { NULL };
    for (int it = 0; it < x->iters; it++) {
        unsigned op = (unsigned)(rnd(&s) % 11);
        unsigned k = (unsigned)(rnd(&s) % MIX_HELD);
        kvbm_plh h = tm_hash_n(rnd(&s) % MIX_HASHES);
        switch (op) {
        case 0: case 1: { /* register a block */
            if (held[k] != NULL) break;
            held[k] = tm_try_register_hash(x->m, h);
            break;
        }
        case 2: { /* match a short prefix */
            kvbm_plh hs[3] = { h, tm_hash_n(rnd(&s) % MIX_HASHES), tm_hash_n(rnd(&s) % MIX_HASHES) };
            kvbm_block *out[3];
            size_t n = 0;
            if (kvbm_manager_match_blocks(x->m, hs, 3, out, &n) == KVBM_OK) {
                size_t start = 0;
                if (n > 0 && held[k] == NULL) { held[k] = out[0]; start = 1; }
                if (n > start) (void)kvbm_block_release_many(out + start, n - start);
            }
            break;
        }
        case 3: /* release */
            if (held[k] != NULL) { (void)kvbm_block_release(held[k]); held[k] = NULL; }
            break;
        case 4: { /* clone + release_many */
            if (held[k] == NULL) break;
            kvbm_block *c[2] = { NULL, NULL };
            if (kvbm_block_clone(held[k], &c[0]) == KVBM_OK) {
                c[1] = held[k];
                held[k] = NULL;
                (void)kvbm_block_release_many(c, 2);
            }
            break;
        }
        case 5: { /* pin */
            unsigned p = k % 4;
            if (pins[p] != NULL) { (void)kvbm_pin_release(pins[p]); pins[p] = NULL; }
            else if (held[k] != NULL && kvbm_block_pin(held[k], &pins[p]) != KVBM_OK) pins[p] = NULL;
            break;
        }
        case 6: { /* weak */
            unsigned w = k % 4;
            if (weak[w] != NULL) {
                kvbm_block *u = NULL;
                if (kvbm_weak_upgrade(weak[w], &u) == KVBM_OK) (void)kvbm_block_release(u);
                kvbm_weak_release(weak[w]);
                weak[w] = NULL;
            } else if (held[k] != NULL && kvbm_block_downgrade(held[k], &weak[w]) != KVBM_OK) {
                weak[w] = NULL;
            }
            break;
        }
        case 7: /* evict-on-reset */
            if (held[k] != NULL) (void)kvbm_block_set_evict_on_reset(held[k], rnd(&s) & 1);
            break;
        case 8: { /* allocate and hold / return mutable blocks (evicts) */
            unsigned mm = k % 4;
            if (muts[mm] != NULL) { (void)kvbm_mutable_release(muts[mm]); muts[mm] = NULL; }
            else if (kvbm_manager_allocate(x->m, 1, &muts[mm], NULL, NULL) != KVBM_OK) muts[mm] = NULL;
            break;
        }
        case 9: { /* scan */
            kvbm_plh hs[2] = { h, tm_hash_n(rnd(&s) % MIX_HASHES) };
            kvbm_plh oh[2];
            kvbm_block *ob[2];
            size_t f = 0;
            if (kvbm_manager_scan_matches(x->m, hs, 2, true, oh, ob, &f) == KVBM_OK)
                (void)kvbm_block_release_many(ob, f);
            break;
        }
        case 10: /* stage + reset + release a complete block */ {
            kvbm_mutable *mb;
            kvbm_complete *cb;
            if (kvbm_manager_allocate(x->m, 1, &mb, NULL, NULL) != KVBM_OK) break;
            if (kvbm_mutable_stage(mb, h, 4, &cb, NULL, NULL) != KVBM_OK) { (void)kvbm_mutable_release(mb); break; }
            if (rnd(&s) & 1) {
                (void)kvbm_complete_release(cb);
            } else if (kvbm_complete_reset(cb, &mb) == KVBM_OK) {
                (void)kvbm_mutable_release(mb);
            }
            break;
        }
        }
    }
    for (int i = 0; i < MIX_HELD; i++) (void)kvbm_block_release(held[i]);
    for (int i = 0; i < 4; i++) {
        (void)kvbm_pin_release(pins[i]);
        kvbm_weak_release(weak[i]);
        (void)kvbm_mutable_release(muts[i]);
    }
    return NULL;
}

static void mixed(kvbm_dup_policy pol, int backend)
{
    kvbm_registry *reg;
    kvbm_manager *m = mk_be(MIX_BLOCKS, pol, &reg, backend);
    ASSERT_TRUE(m != NULL);
    enum { T = 4 };
    uint64_t seed = test_seed();
    printf("    seed=%" PRIu64 " (KVBM_TEST_SEED to replay)\n", seed);
    struct mix x[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        x[i].m = m;
        x[i].seed = seed;
        x[i].iters = test_under_sanitizer() ? 3000 : 30000;
        x[i].id = i;
        pthread_create(&th[i], NULL, mix_thread, &x[i]);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    EXPECT_OK(kvbm_manager_check_invariants(m));
    EXPECT_EQ(kvbm_manager_available_blocks(m), MIX_BLOCKS);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_immutable), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_inflight_mutable), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_eager_primary_to_inactive), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_release_primary_noop), 0);
    EXPECT_EQ(tm_metric(m, KVBM_METRIC_release_duplicate_noop), 0);
    /* presence == number of cached slots per hash (only inactive slots remain) */
    for (uint64_t i = 0; i < MIX_HASHES; i++) {
        kvbm_plh h = tm_hash_n(i);
        bool p = false;
        ASSERT_OK(kvbm_registry_check_presence(reg, KVBM_G1, &h, 1, &p));
        EXPECT_EQ(p, kvbm_manager_has_inactive(m, h));
    }
    ASSERT_OK(kvbm_manager_reset_inactive_pool(m, NULL, NULL));
    EXPECT_EQ(kvbm_registry_registered_count(reg), 0);
    kvbm_manager_destroy(m);
    kvbm_registry_release(reg);
}

KVBM_TEST(mixed_ops_allow_policy_keep_invariants)
{
    mixed(KVBM_DUP_ALLOW, -1);
}

KVBM_TEST(mixed_ops_reject_policy_keep_invariants)
{
    mixed(KVBM_DUP_REJECT, -1);
}

KVBM_TEST(mixed_ops_lru_backend_keep_invariants)
{
    mixed(KVBM_DUP_ALLOW, KVBM_BACKEND_LRU);
}

KVBM_TEST(mixed_ops_lineage_backend_reject_keep_invariants)
{
    mixed(KVBM_DUP_REJECT, KVBM_BACKEND_LINEAGE);
}

/* ---- the last handles go on other threads after kvbm_manager_destroy ---------------- */

enum { ORPH_BLOCKS = 32, ORPH_THREADS = 4 };

struct orph {
    pthread_barrier_t *bar;
    kvbm_block        *b[ORPH_BLOCKS];
    kvbm_weak         *w;
    kvbm_pin          *pin;
    bool               many;
};

static void *orph_thread(void *arg)
{
    struct orph *o = arg;
    pthread_barrier_wait(o->bar);
    kvbm_block *u = NULL;
    if (o->w != NULL && kvbm_weak_upgrade(o->w, &u) == KVBM_OK) (void)kvbm_block_release(u);
    if (o->many) (void)kvbm_block_release_many(o->b, ORPH_BLOCKS);
    else for (int i = 0; i < ORPH_BLOCKS; i++) (void)kvbm_block_release(o->b[i]);
    (void)kvbm_pin_release(o->pin);
    kvbm_weak_release(o->w);
    return NULL;
}

KVBM_TEST(last_handles_released_concurrently_after_manager_destroy)
{
    int rounds = test_under_sanitizer() ? 20 : 100;
    for (int round = 0; round < rounds; round++) {
        kvbm_registry *reg;
        kvbm_manager *m = mk_be(ORPH_BLOCKS, round % 2 ? KVBM_DUP_ALLOW : KVBM_DUP_REJECT, &reg,
                                round % 3 == 0 ? -1 : KVBM_BACKEND_LRU);
        ASSERT_TRUE(m != NULL);
        static struct orph o[ORPH_THREADS];
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, ORPH_THREADS);
        for (int i = 0; i < ORPH_BLOCKS; i++) {
            kvbm_block *b = tm_try_register_hash(m, tm_hash_n((uint64_t)(i % 8)));  /* duplicates under Allow */
            ASSERT_TRUE(b != NULL);
            if (i % 5 == 0) ASSERT_OK(kvbm_block_set_evict_on_reset(b, true));
            o[0].b[i] = b;
            for (int t = 1; t < ORPH_THREADS; t++) ASSERT_OK(kvbm_block_clone(b, &o[t].b[i]));
        }
        for (int t = 0; t < ORPH_THREADS; t++) {
            o[t].bar = &bar;
            o[t].many = (t + round) % 2 == 0;
            ASSERT_OK(kvbm_block_downgrade(o[t].b[t], &o[t].w));
            ASSERT_OK(kvbm_block_pin(o[t].b[ORPH_BLOCKS - 1 - t], &o[t].pin));
        }
        kvbm_manager_destroy(m);  /* the handles keep the store alive */
        pthread_t th[ORPH_THREADS];
        for (int t = 0; t < ORPH_THREADS; t++) pthread_create(&th[t], NULL, orph_thread, &o[t]);
        for (int t = 0; t < ORPH_THREADS; t++) pthread_join(th[t], NULL);
        pthread_barrier_destroy(&bar);
        /* the store is gone: nothing of it stays registered */
        EXPECT_EQ(kvbm_registry_registered_count(reg), 0);
        kvbm_registry_release(reg);
    }
}
