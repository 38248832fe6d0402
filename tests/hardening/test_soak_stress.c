/* tests/hardening/test_soak_stress.c - issue 15 item 11: the soak test.
 *
 * Seeded and bounded: 6 threads (actors of tests/support/api_driver) drive two managers of
 * different backends that share one registry with every operation kind - allocate, stage,
 * register, match, scan, clone/release/release_many, weak downgrade/upgrade/clone/release
 * (also of stale handles), pins, evict-on-reset, reset_inactive_pool, attachments, misuse -
 * and run kvbm_manager_check_invariants concurrently with all of it; no call may fail its
 * contract and no check may fail. At the end of each phase every actor releases what it
 * holds and every block must be back, the gauges 0 and the counters equal to what the
 * actors counted. Three phases cover the backend pairs (Lineage+LRU, MultiLRU+HashMap,
 * LRU+Lineage).
 *
 * Duration: KVBM_SOAK_SECONDS (default 30, 20 under sanitizers), split over the phases;
 * the seed is printed, KVBM_TEST_SEED replays its operation streams (thread interleaving
 * aside). Long run (docs/notes/soak.md): KVBM_SOAK_SECONDS=14400 build/release/tests/hardening_test_soak_stress
 * Named *stress* so the TSan build runs it too. Elapsed time only bounds the run; it never
 * decides the result. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "support/api_driver.h"

#define THREADS 6

static void soak_fail(const char *file, int line, const char *msg) { kvbm_test_fail(file, line, "%s", msg); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct worker {
    drv_actor  a;
    double     deadline;
    pthread_t  th;
    uint64_t   steps;
};

static void *run(void *p)
{
    struct worker *wk = p;
    while (atomic_load(&wk->a.w->failures) == 0) {
        for (int i = 0; i < 256; i++) drv_step(&wk->a);
        wk->steps += 256;
        if (now_s() >= wk->deadline) break;
    }
    drv_actor_release_all(&wk->a);
    return NULL;
}

static uint64_t g_ops[DRV_OPS], g_steps;

static void phase(kvbm_backend b0, kvbm_backend b1, uint64_t seed, double seconds)
{
    static drv_world w;
    if (drv_world_init(&w, b0, b1, 24, seed, soak_fail) != 0) {
        kvbm_test_fail(__FILE__, __LINE__, "world: %s", kvbm_last_error());
        drv_world_fini(&w);
        return;
    }
    static struct worker wk[THREADS];
    double end = now_s() + seconds;
    for (int t = 0; t < THREADS; t++) {
        drv_actor_init(&wk[t].a, &w, t, seed * 1000003u + (uint64_t)t, NULL, 0);
        wk[t].deadline = end;
        wk[t].steps = 0;
        if (pthread_create(&wk[t].th, NULL, run, &wk[t]) != 0) kvbm_test_fail(__FILE__, __LINE__, "pthread_create");
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(wk[t].th, NULL);
        g_steps += wk[t].steps;
        for (int k = 0; k < DRV_OPS; k++) g_ops[k] += wk[t].a.ops[k];
    }
    drv_world_final(&w);
    drv_world_fini(&w);
}

KVBM_TEST(soak_two_managers_one_registry)
{
    uint64_t seed = test_seed();
    const char *env = getenv("KVBM_SOAK_SECONDS");
    double total = env != NULL ? atof(env) : (test_under_sanitizer() ? 20.0 : 30.0);
    printf("    soak: seed %llu, %.0f s, %d threads\n", (unsigned long long)seed, total, THREADS);
    phase(KVBM_BACKEND_LINEAGE, KVBM_BACKEND_LRU, seed, total / 3);
    phase(KVBM_BACKEND_MULTI_LRU, KVBM_BACKEND_HASHMAP, seed + 1, total / 3);
    phase(KVBM_BACKEND_LRU, KVBM_BACKEND_LINEAGE, seed + 2, total / 3);
    printf("    soak: %llu operations:", (unsigned long long)g_steps);
    for (int k = 0; k < DRV_OPS; k++) printf(" %s=%llu", drv_op_name(k), (unsigned long long)g_ops[k]);
    printf("\n");
    for (int k = 0; k < DRV_OPS; k++)
        if (g_ops[k] == 0) kvbm_test_fail(__FILE__, __LINE__, "operation %s never ran", drv_op_name(k));
}
