/* bench/bench_weak.c - the weak-handle paths (issue 15: weak handles became slab entries).
 *
 * usage: bench_weak [ITERS]   (default 200000; median of 7 runs)
 *
 * One manager (Lineage, 64 blocks), one registered block held:
 *   upgrade_hit   kvbm_weak_upgrade of a weak handle whose block is held + kvbm_block_release
 *   cycle         kvbm_block_downgrade + kvbm_weak_release
 *   clone         kvbm_weak_clone + kvbm_weak_release
 * Prints ns per pair. Under callgrind use a small ITERS and compare instruction counts. */
#include <stdio.h>
#include <stdlib.h>

#include "kvbm/manager.h"
#include "kvbm/registry.h"
#include "bench_clock.h"

#define RUNS 7

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    kvbm_registry *r = NULL;
    kvbm_manager *m = NULL;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) return 1;
    kvbm_manager_config c = KVBM_MANAGER_CONFIG_INIT;
    c.registry = r;
    c.block_count = 64;
    c.block_size = 4;
    if (kvbm_manager_create(&c, &m) != KVBM_OK) return 1;
    kvbm_mutable *mb;
    kvbm_complete *cb;
    kvbm_block *b;
    if (kvbm_manager_allocate(m, 1, &mb, NULL, NULL) != KVBM_OK ||
        kvbm_mutable_stage(mb, kvbm_plh_root(42), 4, &cb, NULL, NULL) != KVBM_OK ||
        kvbm_manager_register_block(m, cb, &b) != KVBM_OK)
        return 1;
    kvbm_weak *w;
    if (kvbm_block_downgrade(b, &w) != KVBM_OK) return 1;
    const char *names[3] = { "upgrade_hit", "cycle", "clone" };
    for (int kind = 0; kind < 3; kind++) {
        double t[RUNS];
        for (int run = 0; run < RUNS; run++) {
            double t0 = now_ns();
            for (long i = 0; i < iters; i++) {
                if (kind == 0) {
                    kvbm_block *u;
                    if (kvbm_weak_upgrade(w, &u) != KVBM_OK || kvbm_block_release(u) != KVBM_OK) return 1;
                } else {
                    kvbm_weak *x;
                    if ((kind == 1 ? kvbm_block_downgrade(b, &x) : kvbm_weak_clone(w, &x)) != KVBM_OK) return 1;
                    kvbm_weak_release(x);
                }
            }
            t[run] = (now_ns() - t0) / (double)iters;
        }
        qsort(t, RUNS, sizeof t[0], cmp_d);
        printf("%-12s %8.1f ns\n", names[kind], t[RUNS / 2]);
    }
    kvbm_weak_release(w);
    kvbm_block_release(b);
    kvbm_manager_destroy(m);
    kvbm_registry_release(r);
    return 0;
}
