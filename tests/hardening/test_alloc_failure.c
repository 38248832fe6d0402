/* tests/hardening/test_alloc_failure.c - issue 15 item 10: allocation-failure injection.
 *
 * Every library allocation goes through kvbm__malloc & co. (src/common/alloc.c), whose test
 * hook fails the N-th allocation from now. For every backend, each walk below sets N = 1,
 * 2, ... and repeats one piece of work from a fresh state until the work no longer reaches
 * the N-th allocation, so every allocation site it passes fails once:
 *   - creation: TinyLFU tracker + registry + manager;
 *   - each operation: allocate, stage, register_blocks, match_blocks, downgrade/upgrade,
 *     attach, release_many (large), reset_inactive_pool, check_invariants, and the
 *     registry's own register_many.
 * A failed call must return a clean status (KVBM_ENOMEM) with a message and change
 * nothing: register_blocks and register_many are all-or-nothing (no block/handle, the
 * inputs still owned and usable, the registry holds no new entry), the invariants hold and
 * the same work succeeds once the hook is off. Leaks are found by LeakSanitizer in the
 * ASan build (the process exits non-zero). In release builds most operations allocate
 * nothing (handles are slot pointers) - the walks then end at N = 1, which is the claim. */
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "support/manager_helpers.h"
#include "kvbm/tracker.h"

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

#define WALK_LIMIT 5000 /* more sites than any walk has: a walk that never ends is a failure */

struct cfg {
    kvbm_backend          backend;
    kvbm_lineage_eviction ev;
    const char           *name;
};
static const struct cfg CFGS[] = {
    { KVBM_BACKEND_LINEAGE, KVBM_LINEAGE_TICK, "lineage" },
    { KVBM_BACKEND_LINEAGE, KVBM_LINEAGE_FIFO, "lineage-fifo" },
    { KVBM_BACKEND_LRU, KVBM_LINEAGE_TICK, "lru" },
    { KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK, "multi-lru" },
    { KVBM_BACKEND_HASHMAP, KVBM_LINEAGE_TICK, "hashmap" },
};
#define NCFG (sizeof CFGS / sizeof CFGS[0])

struct env {
    kvbm_tracker  *t;
    kvbm_registry *r;
    kvbm_manager  *m;
};

static void env_free(struct env *e)
{
    kvbm_manager_destroy(e->m);
    kvbm_registry_release(e->r);
    kvbm_tracker_release(e->t);
    memset(e, 0, sizeof *e);
}

/* Build tracker + registry + manager; the first failing status (everything built so far is
 * released again). */
static kvbm_status env_make(struct env *e, const struct cfg *c, uint64_t blocks)
{
    memset(e, 0, sizeof *e);
    kvbm_status st = kvbm_tinylfu_create(4096, NULL, &e->t);
    if (st == KVBM_OK) {
        kvbm_registry_config rc = KVBM_REGISTRY_CONFIG_INIT;
        rc.tracker = e->t;
        st = kvbm_registry_create(&rc, &e->r);
    }
    if (st == KVBM_OK) {
        kvbm_manager_config mc = KVBM_MANAGER_CONFIG_INIT;
        mc.registry = e->r;
        mc.block_count = blocks;
        mc.block_size = 4;
        mc.backend = c->backend;
        mc.lineage_eviction = c->ev;
        st = kvbm_manager_create(&mc, &e->m);
    }
    if (st != KVBM_OK) env_free(e);
    return st;
}

static kvbm_plh H(uint32_t i) { return tm_plh(1000 + i, false, 0, 0); }

/* A failed call: ENOMEM with a message. */
static void expect_clean_failure(kvbm_status st, const char *what, long n, const char *be)
{
    if (st != KVBM_ENOMEM)
        kvbm_test_fail(__FILE__, __LINE__, "%s (%s, allocation %ld failed): status %d, expected KVBM_ENOMEM",
                       what, be, n, (int)st);
    else if (kvbm_last_error()[0] == '\0')
        kvbm_test_fail(__FILE__, __LINE__, "%s (%s, allocation %ld): no error message", what, be, n);
}

/* Arm the hook, run one statement, disarm; `fired` tells whether the armed allocation
 * was reached. */
#define INJECT(n, fired, stmt) do {                                   \
        kvbm_clear_last_error();                                      \
        kvbm__alloc_fail_set(n);                                      \
        stmt;                                                         \
        (fired) = kvbm__alloc_fail_pending() == 0;                    \
        kvbm__alloc_fail_set(0);                                      \
    } while (0)

static long g_sites; /* allocation sites failed over the whole binary (reported) */

KVBM_TEST(creation_survives_every_allocation_failure)
{
    for (size_t k = 0; k < NCFG; k++) {
        long n = 1;
        for (; n < WALK_LIMIT; n++) {
            struct env e;
            kvbm_status st;
            bool fired;
            INJECT(n, fired, st = env_make(&e, &CFGS[k], 64));
            if (st != KVBM_OK) {
                expect_clean_failure(st, "create", n, CFGS[k].name);
            } else { /* a tolerated failure (or none): the manager must work */
                kvbm_block *b = tm_register_hash(e.m, H(1));
                EXPECT_TRUE(b != NULL);
                EXPECT_OK(kvbm_block_release(b));
                EXPECT_OK(kvbm_manager_check_invariants(e.m));
                env_free(&e);
            }
            if (!fired || kvbm_test_failed_flag) break;
            g_sites++;
        }
        EXPECT_LT(n, WALK_LIMIT);
    }
}

/* Fresh manager with @n_reg registered-and-released (cached) blocks H(0..n_reg). */
static bool env_with_cached(struct env *e, const struct cfg *c, uint32_t n_reg)
{
    if (env_make(e, c, 64) != KVBM_OK) return false;
    for (uint32_t i = 0; i < n_reg; i++) {
        kvbm_block *b = tm_register_hash(e->m, H(i));
        if (b == NULL) return false;
        if (kvbm_block_release(b) != KVBM_OK) return false;
    }
    return true;
}

KVBM_TEST(allocate_and_stage_survive_every_allocation_failure)
{
    for (size_t k = 0; k < NCFG; k++) {
        long n = 1;
        for (; n < WALK_LIMIT; n++) {
            struct env e;
            ASSERT_TRUE(env_with_cached(&e, &CFGS[k], 8));
            kvbm_complete *cb = NULL;
            kvbm_status st, st2 = KVBM_OK;
            bool fired;
            kvbm_mutable *big[60] = { 0 }; /* 56 from the reset pool, 4 evictions */
            INJECT(n, fired, {
                st = kvbm_manager_allocate(e.m, 60, big, NULL, NULL);
                if (st == KVBM_OK) st2 = kvbm_mutable_stage(big[0], H(100), 4, &cb, NULL, NULL);
            });
            if (st != KVBM_OK) {
                expect_clean_failure(st, "allocate", n, CFGS[k].name);
                EXPECT_EQ(kvbm_manager_available_blocks(e.m), 64);
            } else {
                if (st2 != KVBM_OK) {
                    expect_clean_failure(st2, "stage", n, CFGS[k].name);
                    EXPECT_OK(kvbm_mutable_stage(big[0], H(100), 4, &cb, NULL, NULL));
                }
                EXPECT_OK(kvbm_manager_check_invariants(e.m));
                EXPECT_OK(kvbm_complete_release(cb));
                for (int i = 1; i < 60; i++) EXPECT_OK(kvbm_mutable_release(big[i]));
                EXPECT_EQ(kvbm_manager_available_blocks(e.m), 64);
            }
            EXPECT_OK(kvbm_manager_check_invariants(e.m));
            env_free(&e);
            if (!fired || kvbm_test_failed_flag) break;
            g_sites++;
        }
        EXPECT_LT(n, WALK_LIMIT);
    }
}

/* register_blocks of 70 staged blocks (more than one registry chunk of 64), some of whose
 * hashes are already cached (resurrection / duplicates): all or nothing. */
KVBM_TEST(register_blocks_is_all_or_nothing_under_allocation_failure)
{
    enum { NB = 40 };
    for (size_t k = 0; k < NCFG; k++) {
        long n = 1;
        for (; n < WALK_LIMIT; n++) {
            struct env e;
            ASSERT_TRUE(env_with_cached(&e, &CFGS[k], 4));
            kvbm_mutable *mb[NB];
            kvbm_complete *cb[NB];
            kvbm_block *out[NB];
            ASSERT_OK(kvbm_manager_allocate(e.m, NB, mb, NULL, NULL));
            for (uint32_t i = 0; i < NB; i++) ASSERT_OK(kvbm_mutable_stage(mb[i], H(i * 2), 4, &cb[i], NULL, NULL));
            size_t before = kvbm_registry_registered_count(e.r);
            kvbm_status st;
            bool fired;
            INJECT(n, fired, st = kvbm_manager_register_blocks(e.m, cb, NB, out));
            if (st != KVBM_OK) {
                expect_clean_failure(st, "register_blocks", n, CFGS[k].name);
                EXPECT_EQ(kvbm_registry_registered_count(e.r), before);
                EXPECT_OK(kvbm_manager_check_invariants(e.m));
                for (uint32_t i = 0; i < NB; i++) /* the inputs are still ours */
                    EXPECT_TRUE(kvbm_plh_eq(kvbm_complete_seq_hash(cb[i]), H(i * 2)));
                ASSERT_OK(kvbm_manager_register_blocks(e.m, cb, NB, out)); /* and work now */
            }
            EXPECT_OK(kvbm_manager_check_invariants(e.m));
            EXPECT_OK(kvbm_block_release_many(out, NB));
            EXPECT_EQ(kvbm_manager_available_blocks(e.m), 64);
            env_free(&e);
            if (!fired || kvbm_test_failed_flag) break;
            g_sites++;
        }
        EXPECT_LT(n, WALK_LIMIT);
    }
}

KVBM_TEST(registry_register_many_is_all_or_nothing_under_allocation_failure)
{
    enum { NH = 300 };
    kvbm_plh hs[NH];
    for (uint32_t i = 0; i < NH; i++) hs[i] = H(i % 250); /* some repeats */
    long n = 1;
    for (; n < WALK_LIMIT; n++) {
        kvbm_registry *r = NULL;
        ASSERT_OK(kvbm_registry_create(NULL, &r));
        kvbm_handle *keep = NULL;
        ASSERT_OK(kvbm_registry_register(r, H(7), &keep));
        kvbm_handle *out[NH];
        kvbm_status st;
        bool fired;
        INJECT(n, fired, st = kvbm_registry_register_many(r, hs, NH, out));
        if (st != KVBM_OK) {
            expect_clean_failure(st, "registry_register_many", n, "registry");
            EXPECT_EQ(kvbm_registry_registered_count(r), 1);
        } else {
            EXPECT_EQ(kvbm_registry_registered_count(r), 250);
            for (uint32_t i = 0; i < NH; i++) kvbm_handle_release(out[i]);
        }
        kvbm_handle_release(keep);
        kvbm_registry_release(r);
        if (!fired || kvbm_test_failed_flag) break;
        g_sites++;
    }
    EXPECT_LT(n, WALK_LIMIT);
}

static void free_dtor(void *v) { (void)v; }

/* match (resurrects), downgrade + upgrade + weak clone, attach, pin, large release_many,
 * reset_inactive_pool and check_invariants: each either succeeds or fails cleanly. */
KVBM_TEST(other_operations_survive_every_allocation_failure)
{
    enum { NM = 300 };
    static kvbm_attach_type ty;
    if (ty == 0) ASSERT_OK(kvbm_attach_type_register("hardening.alloc", free_dtor, &ty));
    for (size_t k = 0; k < NCFG; k++) {
        long n = 1;
        for (; n < WALK_LIMIT; n++) {
            struct env e;
            ASSERT_OK(env_make(&e, &CFGS[k], NM + 8));
            kvbm_plh hs[NM];
            kvbm_block *b[NM];
            for (uint32_t i = 0; i < NM; i++) hs[i] = tm_plh(5000 + i, i > 0, 5000 + i - 1, i);
            ASSERT_TRUE(tm_register_hashes(e.m, hs, NM, b));
            ASSERT_OK(kvbm_block_release_many(b + 8, NM - 8)); /* 8 active, the rest cached */
            kvbm_status st = KVBM_OK;
            size_t got = 0;
            kvbm_block *hit[NM];
            kvbm_weak *w = NULL, *w2 = NULL;
            kvbm_block *up = NULL;
            kvbm_pin *pin = NULL;
            kvbm_handle *h = NULL;
            static int val;
            const char *what = "";
            bool fired;
            INJECT(n, fired, {
                what = "match_blocks";
                st = kvbm_manager_match_blocks(e.m, hs, NM, hit, &got);
                if (st == KVBM_OK) { what = "downgrade"; st = kvbm_block_downgrade(b[0], &w); }
                if (st == KVBM_OK) { what = "weak_clone"; st = kvbm_weak_clone(w, &w2); }
                if (st == KVBM_OK) { what = "weak_upgrade"; st = kvbm_weak_upgrade(w2, &up); }
                if (st == KVBM_OK) { what = "pin"; st = kvbm_block_pin(b[1], &pin); }
                if (st == KVBM_OK) { what = "registration_handle"; st = kvbm_block_registration_handle(b[2], &h); }
                if (st == KVBM_OK) { what = "attach"; st = kvbm_handle_attach(h, ty, &val); }
                if (st == KVBM_OK) { what = "release_many"; st = kvbm_block_release_many(hit, got); if (st == KVBM_OK) got = 0; }
                if (st == KVBM_OK) { what = "check_invariants"; st = kvbm_manager_check_invariants(e.m); }
            });
            if (st != KVBM_OK) expect_clean_failure(st, what, n, CFGS[k].name);
            EXPECT_OK(kvbm_manager_check_invariants(e.m));
            EXPECT_OK(kvbm_block_release_many(hit, got));
            EXPECT_OK(kvbm_block_release(up));
            kvbm_weak_release(w2);
            kvbm_weak_release(w);
            EXPECT_OK(kvbm_pin_release(pin));
            kvbm_handle_release(h);
            EXPECT_OK(kvbm_block_release_many(b, 8));
            bool fired2;
            INJECT(n, fired2, st = kvbm_manager_reset_inactive_pool(e.m, NULL, NULL));
            if (st != KVBM_OK) expect_clean_failure(st, "reset_inactive_pool", n, CFGS[k].name);
            EXPECT_OK(kvbm_manager_check_invariants(e.m));
            EXPECT_EQ(kvbm_manager_available_blocks(e.m), NM + 8);
            env_free(&e);
            if ((!fired && !fired2) || kvbm_test_failed_flag) break;
            g_sites++;
        }
        EXPECT_LT(n, WALK_LIMIT);
    }
}

KVBM_TEST(report_sites)
{
    printf("    allocation failures injected: %ld\n", g_sites);
    EXPECT_GT(g_sites, 0);
}
