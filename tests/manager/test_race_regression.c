/* tests/manager/test_race_regression.c - threaded scenarios of 10-core §7.1:
 * race_regression_tests, lifecycle test_concurrent_allocation_and_return, the real-backend
 * rollback audit, and the Option-B replacement (§8.3, README decision 1) for the two [A]
 * tests: concurrent last-drop versus lookup, asserting eager_primary_to_inactive and
 * release_primary_noop stay 0 and that an evict-on-reset flag set before the drop is
 * honoured. Invariants are checked (CK/tm_check) at every quiescent point; the automatic
 * per-call check is off while worker threads run (gauges are only coherent at rest). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "harness.h"
#include "support/manager_helpers.h"

static int scaled(int normal, int sanitized)
{
    return test_under_sanitizer() ? sanitized : normal;
}

/* ---- lifecycle: test_concurrent_allocation_and_return --------------------------------- */

struct alloc_return_arg {
    kvbm_manager *m;
    int           tid;
};

static void *alloc_return_worker(void *p)
{
    struct alloc_return_arg *a = p;
    for (int it = 0; it < 3; it++) {
        kvbm_mutable *mb[2] = { 0 };
        kvbm_status st = kvbm_manager_allocate(a->m, 2, mb, NULL, NULL);
        if (st == KVBM_EEXHAUSTED) continue; /* 5 x 2 <= 20: cannot happen, but not an error */
        if (st != KVBM_OK) { kvbm_test_fail(__FILE__, __LINE__, "allocate: %d", st); return NULL; }
        kvbm_complete *cb = NULL;
        kvbm_block *b = NULL;
        kvbm_plh h = tm_hash_for_id((uint32_t)(a->tid * 1000 + it * 10));
        if (kvbm_mutable_stage(mb[0], h, 4, &cb, NULL, NULL) != KVBM_OK) {
            kvbm_test_fail(__FILE__, __LINE__, "stage");
            continue;
        }
        if (kvbm_manager_register_block(a->m, cb, &b) != KVBM_OK) {
            kvbm_test_fail(__FILE__, __LINE__, "register");
            (void)kvbm_complete_release(cb);
        }
        (void)kvbm_block_release(b);
        (void)kvbm_mutable_release(mb[1]);
    }
    return NULL;
}

KVBM_TEST(test_concurrent_allocation_and_return)
{
    kvbm_manager *m = create_test_manager(20);
    ASSERT_TRUE(m != NULL);
    tm_auto_check(false);
    pthread_t th[5];
    struct alloc_return_arg args[5];
    for (int i = 0; i < 5; i++) {
        args[i].m = m;
        args[i].tid = i;
        ASSERT_EQ(pthread_create(&th[i], NULL, alloc_return_worker, &args[i]), 0);
    }
    for (int i = 0; i < 5; i++) pthread_join(th[i], NULL);
    tm_auto_check(true);
    CHECK_INVARIANTS(m);
    EXPECT_EQ(kvbm_manager_total_blocks(m), 20);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 20);
    EXPECT_EQ(MET(m, inflight_mutable), 0);
    EXPECT_EQ(MET(m, inflight_immutable), 0);
    EXPECT_EQ(MET(m, registrations), 15);
    tm_manager_destroy(m);
}

/* ---- last drop versus lookup (Option B) --------------------------------------------------- */

enum lookup_kind { LK_MATCH = 0, LK_SCAN = 1, LK_WEAK = 2, LK_COUNT = 3 };

struct drop_race {
    kvbm_manager     *m;
    pthread_barrier_t start, done;
    atomic_bool       quit;
    /* per iteration, written by main before `start` */
    kvbm_block       *victim;
    kvbm_weak        *weak;
    kvbm_plh          h;
    enum lookup_kind  kind;
    /* written by the lookup thread before `done` */
    kvbm_block       *found;
    size_t            matched;
};

static void *dropper(void *p)
{
    struct drop_race *r = p;
    for (;;) {
        pthread_barrier_wait(&r->start);
        if (atomic_load(&r->quit)) return NULL;
        if (kvbm_block_release(r->victim) != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "release");
        pthread_barrier_wait(&r->done);
    }
}

static void *looker(void *p)
{
    struct drop_race *r = p;
    for (;;) {
        pthread_barrier_wait(&r->start);
        if (atomic_load(&r->quit)) return NULL;
        r->found = NULL;
        r->matched = 0;
        kvbm_status st = KVBM_OK;
        switch (r->kind) {
        case LK_MATCH:
            st = kvbm_manager_match_blocks(r->m, &r->h, 1, &r->found, &r->matched);
            break;
        case LK_SCAN: {
            kvbm_plh oh;
            st = kvbm_manager_scan_matches(r->m, &r->h, 1, true, &oh, &r->found, &r->matched);
            if (st == KVBM_OK && r->matched == 1 && !kvbm_plh_eq(oh, r->h))
                kvbm_test_fail(__FILE__, __LINE__, "scan returned another hash");
            break;
        }
        default:
            st = kvbm_weak_upgrade(r->weak, &r->found);
            if (st == KVBM_ENOENT) st = KVBM_OK;
            r->matched = r->found != NULL;
            break;
        }
        if (st != KVBM_OK) kvbm_test_fail(__FILE__, __LINE__, "lookup %d: %s", (int)r->kind, kvbm_status_name(st));
        pthread_barrier_wait(&r->done);
    }
}

static void run_drop_race(kvbm_manager *m, int iterations, uint64_t seed, bool random_kind)
{
    struct drop_race r;
    memset(&r, 0, sizeof r);
    r.m = m;
    pthread_barrier_init(&r.start, NULL, 3);
    pthread_barrier_init(&r.done, NULL, 3);
    atomic_init(&r.quit, false);
    pthread_t td, tl;
    if (pthread_create(&td, NULL, dropper, &r) != 0 || pthread_create(&tl, NULL, looker, &r) != 0) {
        kvbm_test_fail(__FILE__, __LINE__, "pthread_create");
        return;
    }
    uint64_t rng = seed;
    uint64_t total = kvbm_manager_total_blocks(m);
    for (int it = 0; it < iterations; it++) {
        kvbm_plh h = tm_hash_for_id((uint32_t)(100000 + it * 7));
        kvbm_block *b = tm_register_hash(m, h); /* CK'd: all threads are parked */
        if (b == NULL) break;
        bool flag = random_kind ? (tm_rand(&rng) & 1) != 0 : false;
        if (flag) CK(kvbm_block_set_evict_on_reset(b, true));
        r.kind = random_kind ? (enum lookup_kind)tm_rand_below(&rng, LK_COUNT) : LK_MATCH;
        r.weak = NULL;
        if (r.kind == LK_WEAK && CK(kvbm_block_downgrade(b, &r.weak)) != KVBM_OK) break;
        r.victim = b;
        r.h = h;
        tm_auto_check(false);
        pthread_barrier_wait(&r.start);
        pthread_barrier_wait(&r.done);
        tm_auto_check(true);
        CHECK_INVARIANTS(m);
        EXPECT_LE(r.matched, 1);
        if (r.matched == 1) {
            EXPECT_TRUE(kvbm_plh_eq(kvbm_block_seq_hash(r.found), h));
            tm_release_blocks(&r.found, 1);
        }
        if (r.weak != NULL) CKV(kvbm_weak_release(r.weak));
        /* every handle is gone: the slot is cached, or reset when flagged */
        if (flag) {
            EXPECT_FALSE(kvbm_manager_has_inactive(m, h));
            EXPECT_FALSE(tm_is_registered(m, h));
        } else {
            EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
            EXPECT_TRUE(tm_has_presence(m, h));
        }
        EXPECT_EQ(kvbm_manager_available_blocks(m), total);
        EXPECT_EQ(MET(m, eager_primary_to_inactive), 0);
        EXPECT_EQ(MET(m, release_primary_noop), 0);
        EXPECT_EQ(MET(m, inflight_immutable), 0);
        if (kvbm_test_failed_flag) {
            printf("    (iteration %d, lookup kind %d, flag %d)\n", it, (int)r.kind, (int)flag);
            break;
        }
    }
    atomic_store(&r.quit, true);
    pthread_barrier_wait(&r.start);
    pthread_join(td, NULL);
    pthread_join(tl, NULL);
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.done);
}

KVBM_TEST(active_lookup_concurrent_with_last_drop)
{
    kvbm_manager *m = create_test_manager(8);
    ASSERT_TRUE(m != NULL);
    run_drop_race(m, 200, 0, false);
    EXPECT_EQ(kvbm_manager_total_blocks(m), 8);
    tm_manager_destroy(m);
}

/* Replaces eager_primary_to_inactive_is_deterministic_with_pause_hook and
 * eager_resurrection_preserves_flag [A]: with Option B no lookup can observe a Primary
 * whose last reference is gone, so both audit counters stay 0, and a flag set before the
 * drop decides the final state whoever releases last. */
KVBM_TEST(option_b_last_drop_vs_lookup_stress)
{
    uint64_t seed = test_seed();
    printf("    option_b_last_drop_vs_lookup_stress: seed=%" PRIu64 " (KVBM_TEST_SEED=%" PRIu64 " to replay)\n",
           seed, seed);
    kvbm_manager *m = create_test_manager(8);
    ASSERT_TRUE(m != NULL);
    run_drop_race(m, scaled(20000, 2000), seed, true);
    EXPECT_EQ(MET(m, eager_primary_to_inactive), 0);
    EXPECT_EQ(MET(m, release_primary_noop), 0);
    EXPECT_EQ(MET(m, release_duplicate_noop), 0);
    tm_manager_destroy(m);
}

/* The same race with the store-wide default reset-on-release = true: a holder that opted
 * out (false) before the drop must see its block cached. */
KVBM_TEST(option_b_last_drop_with_default_reset)
{
    kvbm_manager *m = create_test_manager_with_default_reset_on_release(8, true);
    ASSERT_TRUE(m != NULL);
    tm_auto_check(false);
    for (int it = 0; it < scaled(300, 60); it++) {
        tm_auto_check(true);
        kvbm_plh h = tm_hash_for_id((uint32_t)(900000 + it * 7));
        kvbm_block *b = tm_register_hash(m, h);
        ASSERT_TRUE(b != NULL);
        ASSERT_OK(CK(kvbm_block_set_evict_on_reset(b, false)));
        tm_auto_check(false);
        struct drop_race r;
        memset(&r, 0, sizeof r);
        r.m = m;
        r.h = h;
        r.kind = LK_MATCH;
        pthread_t tl;
        pthread_barrier_init(&r.start, NULL, 2);
        pthread_barrier_init(&r.done, NULL, 2);
        atomic_init(&r.quit, false);
        ASSERT_EQ(pthread_create(&tl, NULL, looker, &r), 0);
        pthread_barrier_wait(&r.start);
        (void)kvbm_block_release(b);
        pthread_barrier_wait(&r.done);
        atomic_store(&r.quit, true);
        pthread_barrier_wait(&r.start);
        pthread_join(tl, NULL);
        pthread_barrier_destroy(&r.start);
        pthread_barrier_destroy(&r.done);
        tm_auto_check(true);
        CHECK_INVARIANTS(m);
        if (r.matched) tm_release_blocks(&r.found, 1);
        EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
        EXPECT_TRUE(tm_is_registered(m, h));
        if (kvbm_test_failed_flag) break;
    }
    tm_auto_check(true);
    EXPECT_EQ(MET(m, eager_primary_to_inactive), 0);
    EXPECT_EQ(MET(m, release_primary_noop), 0);
    tm_manager_destroy(m);
}

/* ---- presence ------------------------------------------------------------------------ */

struct presence_reader {
    kvbm_manager *m;
    atomic_bool   stop;
    kvbm_plh      hashes[2];
};

static void *presence_reader_fn(void *p)
{
    struct presence_reader *r = p;
    while (!atomic_load(&r->stop)) {
        bool out[2];
        if (kvbm_registry_check_presence(kvbm_manager_registry(r->m), kvbm_manager_tier(r->m),
                                         r->hashes, 2, out) != KVBM_OK)
            kvbm_test_fail(__FILE__, __LINE__, "check_presence");
        (void)kvbm_manager_available_blocks(r->m);
    }
    return NULL;
}

KVBM_TEST(eviction_concurrent_with_reregister_preserves_presence)
{
    kvbm_manager *m = create_test_manager(1);
    ASSERT_TRUE(m != NULL);
    struct presence_reader rd;
    rd.m = m;
    atomic_init(&rd.stop, false);
    rd.hashes[0] = tm_hash_for_id(1);
    rd.hashes[1] = tm_hash_for_id(2);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, presence_reader_fn, &rd), 0);
    for (int it = 0; it < 100; it++) {
        kvbm_plh a = tm_hash_for_id((uint32_t)(10 + it * 20)), b = tm_hash_for_id((uint32_t)(20 + it * 20));
        tm_register_and_drop(m, a);
        kvbm_block *hb = tm_register_hash(m, b); /* evicts a */
        if (hb == NULL) break;
        kvbm_plh q[2] = { a, b };
        bool out[2] = { true, false };
        EXPECT_OK(kvbm_registry_check_presence(kvbm_manager_registry(m), kvbm_manager_tier(m), q, 2, out));
        EXPECT_FALSE(out[0]);
        EXPECT_TRUE(out[1]);
        tm_release_blocks(&hb, 1);
        if (kvbm_test_failed_flag) break;
    }
    atomic_store(&rd.stop, true);
    pthread_join(t, NULL);
    tm_manager_destroy(m);
}

/* LRU variant of duplicate_drop_preserves_presence (the Lineage one is in
 * test_backends_lifecycle.c). */
KVBM_TEST(duplicate_drop_preserves_presence_lru)
{
    kvbm_manager *m = create_test_manager(4);
    ASSERT_TRUE(m != NULL);
    kvbm_plh h = tm_hash_for_id(3);
    kvbm_block *p = tm_register_hash(m, h), *d = tm_register_hash(m, h);
    ASSERT_TRUE(p != NULL && d != NULL);
    ASSERT_TRUE(kvbm_block_is_duplicate(d));
    kvbm_handle *hd = NULL;
    ASSERT_OK(kvbm_registry_match(kvbm_manager_registry(m), h, false, &hd));
    EXPECT_EQ(kvbm_handle_presence(hd, kvbm_manager_tier(m)), 2);
    kvbm_handle_release(hd);
    EXPECT_TRUE(tm_has_presence(m, h));
    tm_release_blocks(&d, 1);
    EXPECT_TRUE(tm_has_presence(m, h));
    tm_release_blocks(&p, 1);
    EXPECT_TRUE(tm_has_presence(m, h));
    EXPECT_TRUE(kvbm_manager_has_inactive(m, h));
    tm_manager_destroy(m);
}

/* ---- allocate_atomic under contention ----------------------------------------------- */

struct contention {
    kvbm_manager     *m;
    pthread_barrier_t tried, go, checked;
    size_t            ask;
    atomic_int        granted;
    int               rounds;
};

static void *contender(void *p)
{
    struct contention *c = p;
    for (int r = 0; r < c->rounds; r++) {
        kvbm_mutable *mb[16] = { 0 };
        pthread_barrier_wait(&c->go);
        kvbm_status st = kvbm_manager_allocate(c->m, c->ask, mb, NULL, NULL);
        if (st == KVBM_OK) atomic_fetch_add(&c->granted, (int)c->ask);
        else if (st != KVBM_EEXHAUSTED) kvbm_test_fail(__FILE__, __LINE__, "allocate: %d", st);
        pthread_barrier_wait(&c->tried);   /* hold until every thread has tried ... */
        pthread_barrier_wait(&c->checked); /* ... and main has checked the pool */
        if (st == KVBM_OK)
            for (size_t i = 0; i < c->ask; i++) (void)kvbm_mutable_release(mb[i]);
        pthread_barrier_wait(&c->tried);
    }
    return NULL;
}

KVBM_TEST(allocate_atomic_no_over_commit_under_contention)
{
    kvbm_manager *m = create_test_manager(16);
    ASSERT_TRUE(m != NULL);
    struct contention c;
    c.m = m;
    c.ask = 16;
    c.rounds = scaled(50, 10);
    pthread_barrier_init(&c.tried, NULL, 9);
    pthread_barrier_init(&c.go, NULL, 9);
    pthread_barrier_init(&c.checked, NULL, 9);
    pthread_t th[8];
    tm_auto_check(false);
    for (int i = 0; i < 8; i++) ASSERT_EQ(pthread_create(&th[i], NULL, contender, &c), 0);
    for (int r = 0; r < c.rounds; r++) {
        atomic_store(&c.granted, 0);
        pthread_barrier_wait(&c.go);
        pthread_barrier_wait(&c.tried);
        int g = atomic_load(&c.granted);
        EXPECT_TRUE(g == 0 || g == 16);
        EXPECT_EQ(kvbm_manager_available_blocks(m), (uint64_t)(16 - g));
        CHECK_INVARIANTS(m); /* everybody is parked on the barrier */
        pthread_barrier_wait(&c.checked);
        pthread_barrier_wait(&c.tried);
        CHECK_INVARIANTS(m);
    }
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    tm_auto_check(true);
    CHECK_INVARIANTS(m);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 16);
    EXPECT_EQ(MET(m, allocate_atomic_rollback), 0);
    pthread_barrier_destroy(&c.tried);
    pthread_barrier_destroy(&c.go);
    pthread_barrier_destroy(&c.checked);
    tm_manager_destroy(m);
}

/* audit: allocate_atomic_rollback_counter_zero_with_real_backend (LRU; evictions included) */
KVBM_TEST(allocate_atomic_rollback_counter_zero_with_real_backend)
{
    kvbm_manager *m = create_test_manager(16);
    ASSERT_TRUE(m != NULL);
    /* half the pool cached so that allocations also evict */
    for (uint32_t i = 0; i < 8; i++) tm_register_and_drop(m, tm_hash_for_id(i * 10));
    struct contention c;
    c.m = m;
    c.ask = 4;
    c.rounds = scaled(50, 10);
    pthread_barrier_init(&c.tried, NULL, 9);
    pthread_barrier_init(&c.go, NULL, 9);
    pthread_barrier_init(&c.checked, NULL, 9);
    pthread_t th[8];
    tm_auto_check(false);
    for (int i = 0; i < 8; i++) ASSERT_EQ(pthread_create(&th[i], NULL, contender, &c), 0);
    for (int r = 0; r < c.rounds; r++) {
        atomic_store(&c.granted, 0);
        pthread_barrier_wait(&c.go);
        pthread_barrier_wait(&c.tried);
        EXPECT_EQ(atomic_load(&c.granted), 16); /* exactly 4 of the 8 threads fit */
        CHECK_INVARIANTS(m);
        pthread_barrier_wait(&c.checked);
        pthread_barrier_wait(&c.tried);
        CHECK_INVARIANTS(m);
    }
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    tm_auto_check(true);
    CHECK_INVARIANTS(m);
    EXPECT_EQ(MET(m, allocate_atomic_rollback), 0);
    EXPECT_EQ(MET(m, evictions), 8);
    EXPECT_EQ(kvbm_manager_available_blocks(m), 16);
    pthread_barrier_destroy(&c.tried);
    pthread_barrier_destroy(&c.go);
    pthread_barrier_destroy(&c.checked);
    tm_manager_destroy(m);
}
