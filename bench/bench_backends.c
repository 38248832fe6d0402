/* bench/bench_backends.c - inactive backends and TinyLFU, measured standalone (issue 4).
 *
 * usage: bench_backends [ROUNDS]   (default 2000 rounds per cell; best of 7 runs)
 *
 * For each backend (hashmap, lru, multi-lru, lineage, lineage-fifo) and chain length
 * n in {8, 32, 128, 4096}: one chained sequence of n PLHs (block ids 0..n-1).
 *   release      insert the n blocks in chain order (what bulk_drop does to the backend)
 *   hit          find_matches over the whole prefix + re-insert the n blocks (what
 *                match_blocks_inactive_hit does to the backend per iteration)
 *   evict        insert n, then allocate(n) (eviction of the whole chain)
 *   has          has() on every block of the chain (no side effect)
 * Reported as ns per block (per element of the operation). MultiLRU uses a Medium TinyLFU
 * tracker, so its inserts include one locked count() each.
 * Then TinyLFU alone: ns per touch and per count (16-byte keys, Medium preset), uncontended.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backends/backend.h"
#include "kvbm/tracker.h"
#include "bench_clock.h"
#include "backend_kinds.h"

#define RUNS 7


static volatile uint64_t sink;


static void insert_all(kvbm__inactive *b, const kvbm_plh *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b->ops->insert(b->ctx, h[i], (uint32_t)i) != KVBM_OK) abort();
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    if (rounds <= 0) rounds = 2000;
    const size_t sizes[] = { 8, 32, 128, 4096 };
    size_t maxn = 4096;
    kvbm_plh *h = malloc(maxn * sizeof *h);
    kvbm__pair *out = malloc(maxn * sizeof *out);
    if (h == NULL || out == NULL) return 1;
    for (size_t i = 0; i < maxn; i++) {
        uint64_t local = (i + 1) * UINT64_C(0x9E3779B97F4A7C15);
        if (i == 0) h[0] = kvbm_plh_root(local);
        else if (kvbm_plh_extend(&h[i - 1], local, &h[i]) != KVBM_OK) return 1;
    }
    kvbm_tracker *t = NULL;
    if (kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &t) != KVBM_OK) return 1;

    printf("%-13s %5s %9s %9s %9s %9s   (ns per block, best of %d x %ld rounds)\n", "backend", "n",
           "release", "hit", "evict", "has", RUNS, rounds);
    for (int k = 0; k < B_COUNT; k++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            long r = n >= 4096 ? (rounds / 32 > 0 ? rounds / 32 : 1) : rounds;
            kvbm__inactive b;
            if (make(k, n, t, &b) != KVBM_OK) return 1;
            double best[4] = { 1e30, 1e30, 1e30, 1e30 };
            for (int run = 0; run < RUNS; run++) {
                /* release: insert n (then drain, untimed) */
                double acc = 0;
                for (long it = 0; it < r; it++) {
                    double t0 = now_ns();
                    insert_all(&b, h, n);
                    acc += now_ns() - t0;
                    sink += b.ops->allocate_all(b.ctx, out);
                }
                if (acc / (double)(r * (long)n) < best[0]) best[0] = acc / (double)(r * (long)n);
                /* hit: prefix find_matches + re-insert */
                insert_all(&b, h, n);
                double t0 = now_ns();
                for (long it = 0; it < r; it++) {
                    size_t got = b.ops->find_matches(b.ctx, h, n, true, out);
                    if (got != n) abort();
                    insert_all(&b, h, n);
                }
                double v = (now_ns() - t0) / (double)(r * (long)n);
                if (v < best[1]) best[1] = v;
                /* has */
                t0 = now_ns();
                for (long it = 0; it < r; it++)
                    for (size_t i = 0; i < n; i++) sink += b.ops->has(b.ctx, h[i]);
                v = (now_ns() - t0) / (double)(r * (long)n);
                if (v < best[3]) best[3] = v;
                sink += b.ops->allocate_all(b.ctx, out);
                /* evict: insert n + allocate n */
                t0 = now_ns();
                for (long it = 0; it < r; it++) {
                    insert_all(&b, h, n);
                    if (b.ops->allocate(b.ctx, n, out) != n) abort();
                }
                v = (now_ns() - t0) / (double)(r * (long)n);
                if (v < best[2]) best[2] = v;
            }
            printf("%-13s %5zu %9.1f %9.1f %9.1f %9.1f\n", bname(k), n, best[0], best[1], best[2], best[3]);
            kvbm__inactive_destroy(&b);
        }
    }

    /* TinyLFU touch / count */
    enum { KEYS = 4096 };
    double bt = 1e30, bc = 1e30;
    for (int run = 0; run < RUNS; run++) {
        double t0 = now_ns();
        for (long it = 0; it < rounds / 8 + 1; it++)
            for (size_t i = 0; i < KEYS; i++) kvbm_tracker_touch(t, h[i]);
        double v = (now_ns() - t0) / (double)((rounds / 8 + 1) * KEYS);
        if (v < bt) bt = v;
        t0 = now_ns();
        for (long it = 0; it < rounds / 8 + 1; it++)
            for (size_t i = 0; i < KEYS; i++) sink += kvbm_tracker_count(t, h[i]);
        v = (now_ns() - t0) / (double)((rounds / 8 + 1) * KEYS);
        if (v < bc) bc = v;
    }
    printf("tinylfu (medium) touch %.1f ns, count %.1f ns\n", bt, bc);
    kvbm_tracker_release(t);
    free(h);
    free(out);
    return sink == 42 ? 1 : 0;
}
