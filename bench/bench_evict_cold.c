/* bench/bench_evict_cold.c - inactive backends under steady eviction with cold caches.
 *
 * usage: bench_evict_cold [CAPACITY...]   (default 16384 131072 1048576)
 *
 * Each backend is filled to CAPACITY with unrelated root PLHs inserted in a random block-id
 * order (so the eviction order visits block ids, and therefore nodes, at random), then
 * rounds of "allocate 24 victims, insert 24 new keys into the freed ids" run - the
 * backend's share of a trace replay's miss path (a request of ~24 new blocks). Reported:
 * ns per evicted+inserted block, best of 5 samples of 20000 rounds, printed 3 times.
 * At large capacities every victim's node and index slot are cache misses; what matters is
 * whether those misses overlap (independent addresses) or form a chain (a list walk).
 * MultiLRU uses a Medium TinyLFU tracker (its inserts count), with no touches: every key
 * lands in the cold level.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "backends/backend.h"
#include "kvbm/tracker.h"
#include "bench_clock.h"
#include "backend_kinds.h"

#define BATCH   24
#define ROUNDS  20000
#define SAMPLES 5

static kvbm_plh key(uint64_t i)
{
    kvbm_plh h;
    h.lo = i * UINT64_C(0x9e3779b97f4a7c15) + 1;
    h.hi = 0; /* position 0, no parent: unrelated roots for every backend */
    return h;
}

static double run(int k, size_t cap, kvbm_tracker *t)
{
    kvbm__inactive b;
    if (make(k, cap, t, &b) != KVBM_OK) {
        fprintf(stderr, "bench_evict_cold: cannot build %s(%zu): %s\n", bname(k), cap, kvbm_last_error());
        exit(1);
    }
    uint32_t *perm = malloc(cap * sizeof *perm);
    if (perm == NULL) exit(1);
    for (size_t i = 0; i < cap; i++) perm[i] = (uint32_t)i;
    uint64_t x = UINT64_C(88172645463325252);
    for (size_t i = cap - 1; i > 0; i--) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t j = x % (i + 1);
        uint32_t tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
    }
    uint64_t next = 0;
    for (size_t i = 0; i < cap; i++)
        if (b.ops->insert(b.ctx, key(next++), perm[i]) != KVBM_OK) exit(1);
    free(perm);
    kvbm__pair out[BATCH];
    double best = 1e30;
    for (int s = 0; s < SAMPLES; s++) {
        double t0 = now_ns();
        size_t n = 0;
        for (int r = 0; r < ROUNDS; r++) {
            size_t got = b.ops->allocate(b.ctx, BATCH, out);
            n += got;
            for (size_t j = 0; j < got; j++)
                if (b.ops->insert(b.ctx, key(next++), out[j].block_id) != KVBM_OK) exit(1);
        }
        double ns = (now_ns() - t0) / (double)n;
        if (ns < best) best = ns;
    }
    kvbm__inactive_destroy(&b);
    return best;
}

int main(int argc, char **argv)
{
    size_t caps[8] = { 16384, 131072, 1048576 };
    int ncaps = 3;
    if (argc > 1) {
        ncaps = 0;
        for (int i = 1; i < argc && ncaps < 8; i++) {
            char *end;
            unsigned long long v = strtoull(argv[i], &end, 10);
            if (*end != '\0' || v < BATCH) {
                fprintf(stderr, "usage: bench_evict_cold [CAPACITY >= %d ...]\n", BATCH);
                return 2;
            }
            caps[ncaps++] = (size_t)v;
        }
    }
    kvbm_tracker *t = NULL;
    if (kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &t) != KVBM_OK) return 1;
    printf("backend        capacity   ns per evicted+inserted block (best of %d x %d rounds of %d; 3 runs)\n",
           SAMPLES, ROUNDS, BATCH);
    for (int c = 0; c < ncaps; c++)
        for (int k = 0; k < B_COUNT; k++) {
            printf("%-13s %9zu", bname(k), caps[c]);
            for (int rep = 0; rep < 3; rep++) printf(" %8.1f", run(k, caps[c], t));
            printf("\n");
            fflush(stdout);
        }
    kvbm_tracker_release(t);
    return 0;
}
