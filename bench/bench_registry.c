/* bench/bench_registry.c - uncontended cost of the registry and tracker hot paths.
 *
 * usage: bench_registry [ITERS] [THREADS] [RUNS]
 *   create+destroy   register a hash with no live handle, then drop the only reference
 *                    (table insert + handle from the free list + hook-less destruction)
 *   create batch     kvbm_registry_register_many of 16 new hashes + their last releases
 *   reuse            register a hash that is already live + release a non-final reference
 *   match            match (touch=false) a live hash + release
 *   mark             mark_present + mark_absent on a held handle (hot line)
 *   mark cold        mark_present + mark_absent on 256 Ki handles in a random order
 *                    (cold lines: ~60 MiB of handle objects)
 *   churn            the replay's registry share per block: 32 Ki live handles in a FIFO;
 *                    per step kvbm_registry_register_many of 16 new hashes + mark_present,
 *                    then kvbm__handle_mark_absent_release_many of the 16 oldest (their
 *                    deaths); no tracker. ns per block (one registration + one death)
 *   touch            TinyLFU (Medium preset) touch of 64 Ki distinct PLHs in turn: one
 *                    call per key, then kvbm_tracker_touch_many in batches of 4/16/64
 *   count            TinyLFU count of the same keys
 * With THREADS > 1 every thread runs create+destroy on its own hashes (same registry) to
 * show the effect of sharding. Each cell runs RUNS times (default 5) and prints the median
 * in ns per operation (per key for the touch cells); there are no pass/fail criteria.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "registry/registry_int.h"
#include "bench_clock.h"


static kvbm_plh H(uint64_t id)
{
    kvbm_plh h;
    if (kvbm_plh_new(id * 0x9e3779b97f4a7c15u + 1, true, id, id & 1023, &h) != KVBM_OK) abort();
    return h;
}

#define NKEYS 4096u
#define NCOLD 65536u
#define MAXRUNS 15
static kvbm_plh keys[NKEYS];
static kvbm_plh cold[NCOLD];

static void die(const char *what)
{
    fprintf(stderr, "bench_registry: %s failed\n", what);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct thr { kvbm_registry *r; long iters; uint64_t base; double ns; };

static void *create_destroy(void *p)
{
    struct thr *t = p;
    kvbm_plh local[256];
    for (unsigned i = 0; i < 256; i++) local[i] = H(t->base + i);
    double t0 = now_ns();
    for (long i = 0; i < t->iters; i++) {
        kvbm_handle *h;
        if (kvbm_registry_register(t->r, local[i & 255], &h) != KVBM_OK) die("register");
        kvbm_handle_release(h);
    }
    t->ns = (now_ns() - t0) / (double)t->iters;
    return NULL;
}

static double create_batch(kvbm_registry *r, long iters)
{
    enum { B = 16 };
    kvbm_plh local[256];
    for (unsigned i = 0; i < 256; i++) local[i] = H(5000000 + i);
    kvbm_handle *hs[B];
    long rounds = iters / B;
    double t0 = now_ns();
    for (long i = 0; i < rounds; i++) {
        if (kvbm_registry_register_many(r, &local[(size_t)(i * B) & 255], B, hs) != KVBM_OK)
            die("register_many");
        for (unsigned k = 0; k < B; k++) kvbm_handle_release(hs[k]);
    }
    return (now_ns() - t0) / (double)(rounds * B);
}

/* ns per key: touch every cold key once per pass, @batch keys per call (0: single calls) */
/* ns per block: see "churn" above. Keys cycle through 4x the live population, so a key
 * is long dead when it comes round again. */
static double churn(long iters)
{
    enum { LIVE = 32768, NK = 4 * LIVE, B = 16 };
    static kvbm_plh ck[NK];
    static kvbm_handle *ring[LIVE];
    if (ck[0].hi == 0 && ck[0].lo == 0)
        for (unsigned i = 0; i < NK; i++) ck[i] = H(20000000 + i);
    kvbm_registry *r;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) die("create");
    for (unsigned i = 0; i < LIVE; i += B) {
        if (kvbm_registry_register_many(r, &ck[i], B, &ring[i]) != KVBM_OK) die("register_many");
        for (unsigned k = 0; k < B; k++) kvbm__handle_mark_present(ring[i + k], 0);
    }
    size_t next = LIVE, head = 0;
    long steps = iters / B;
    double t0 = now_ns();
    for (long s = 0; s < steps; s++) {
        kvbm__handle_mark_absent_release_many(&ring[head], B, 0);
        if (kvbm_registry_register_many(r, &ck[next], B, &ring[head]) != KVBM_OK)
            die("register_many");
        for (unsigned k = 0; k < B; k++) kvbm__handle_mark_present(ring[head + k], 0);
        head = (head + B) % LIVE;
        next = (next + B) % NK;
    }
    double ns = (now_ns() - t0) / (double)(steps * B);
    kvbm__handle_mark_absent_release_many(ring, LIVE, 0);
    kvbm_registry_release(r);
    return ns;
}

static double touch_pass(kvbm_tracker *t, size_t batch, long iters)
{
    long passes = iters / (long)NCOLD;
    if (passes < 1) passes = 1;
    double t0 = now_ns();
    for (long p = 0; p < passes; p++) {
        if (batch == 0) {
            for (size_t i = 0; i < NCOLD; i++) kvbm_tracker_touch(t, cold[i]);
        } else {
            for (size_t i = 0; i < NCOLD; i += batch) kvbm_tracker_touch_many(t, &cold[i], batch);
        }
    }
    return (now_ns() - t0) / (double)(passes * (long)NCOLD);
}

static double count_pass(kvbm_tracker *t, long iters)
{
    long passes = iters / (long)NCOLD;
    if (passes < 1) passes = 1;
    volatile uint32_t sink = 0;
    double t0 = now_ns();
    for (long p = 0; p < passes; p++)
        for (size_t i = 0; i < NCOLD; i++) sink += kvbm_tracker_count(t, cold[i]);
    (void)sink;
    return (now_ns() - t0) / (double)(passes * (long)NCOLD);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 5000000;
    int nthreads = argc > 2 ? atoi(argv[2]) : 1;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (iters <= 0 || nthreads <= 0 || nthreads > 64 || runs <= 0 || runs > MAXRUNS)
        die("arguments");
    for (unsigned i = 0; i < NKEYS; i++) keys[i] = H(i);
    for (unsigned i = 0; i < NCOLD; i++) cold[i] = H(7000000 + i);

    kvbm_registry *r;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) die("create");

    /* a resident population so the tables are not trivially empty */
    kvbm_handle *resident[NKEYS];
    for (unsigned i = 0; i < NKEYS; i++)
        if (kvbm_registry_register(r, H(1000000 + i), &resident[i]) != KVBM_OK) die("register");

    double v[MAXRUNS];
    struct thr t1 = { r, iters, 2000000, 0 };
    create_destroy(&t1); /* warm-up: fills the free lists */
    for (int k = 0; k < runs; k++) {
        create_destroy(&t1);
        v[k] = t1.ns;
    }
    printf("create+destroy (register new + last release): %6.1f ns/op\n", median(v, runs));

    create_batch(r, iters / 4);
    for (int k = 0; k < runs; k++) v[k] = create_batch(r, iters);
    printf("create batch of 16 (register_many + releases): %6.1f ns/op\n", median(v, runs));

    kvbm_handle *live[NKEYS];
    for (unsigned i = 0; i < NKEYS; i++)
        if (kvbm_registry_register(r, keys[i], &live[i]) != KVBM_OK) die("register");
    for (int k = 0; k < runs; k++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            kvbm_handle *h;
            if (kvbm_registry_register(r, keys[i & (NKEYS - 1)], &h) != KVBM_OK) die("register");
            kvbm_handle_release(h);
        }
        v[k] = (now_ns() - t0) / (double)iters;
    }
    printf("reuse (register live + non-final release):    %6.1f ns/op\n", median(v, runs));

    for (int k = 0; k < runs; k++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            kvbm_handle *h;
            if (kvbm_registry_match(r, keys[i & (NKEYS - 1)], false, &h) != KVBM_OK) die("match");
            kvbm_handle_release(h);
        }
        v[k] = (now_ns() - t0) / (double)iters;
    }
    printf("match hit + release:                          %6.1f ns/op\n", median(v, runs));

    for (int k = 0; k < runs; k++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            kvbm_handle *h = live[i & (NKEYS - 1)];
            kvbm__handle_mark_present(h, 0);
            kvbm__handle_mark_absent(h, 0);
        }
        v[k] = (now_ns() - t0) / (double)iters;
    }
    printf("mark_present + mark_absent:                   %6.1f ns/op\n", median(v, runs));

    /* cold handles: 256 Ki live handles in a random order (defeats the prefetchers) */
    enum { NMANY = 4 * NCOLD };
    kvbm_handle **many = malloc(NMANY * sizeof *many);
    if (many == NULL) die("malloc");
    for (unsigned i = 0; i < NMANY; i++)
        if (kvbm_registry_register(r, H(9000000 + i * 7919u), &many[i]) != KVBM_OK) die("register");
    uint64_t x = 88172645463325252u;
    for (unsigned i = NMANY - 1; i > 0; i--) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        unsigned j = (unsigned)(x % (i + 1));
        kvbm_handle *tmp = many[i]; many[i] = many[j]; many[j] = tmp;
    }
    for (int k = 0; k < runs; k++) {
        long passes = iters / (long)NMANY > 0 ? iters / (long)NMANY : 1;
        double t0 = now_ns();
        for (long p = 0; p < passes; p++)
            for (unsigned i = 0; i < NMANY; i++) {
                kvbm__handle_mark_present(many[i], 0);
                kvbm__handle_mark_absent(many[i], 0);
            }
        v[k] = (now_ns() - t0) / (double)(passes * (long)NMANY);
    }
    printf("mark_present + mark_absent, cold handles:     %6.1f ns/op\n", median(v, runs));
    for (unsigned i = 0; i < NMANY; i++) kvbm_handle_release(many[i]);
    free(many);

    churn(iters / 4);
    for (int k = 0; k < runs; k++) v[k] = churn(iters);
    printf("churn: register_many 16 + deaths, 32 Ki live: %6.1f ns/block\n", median(v, runs));

    kvbm_tracker *t;
    if (kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &t) != KVBM_OK) die("tinylfu");
    touch_pass(t, 0, iters);
    const size_t batches[] = { 0, 4, 16, 64 };
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        for (int k = 0; k < runs; k++) v[k] = touch_pass(t, batches[b], iters);
        if (batches[b] == 0)
            printf("tinylfu touch (medium), single:               %6.1f ns/key\n", median(v, runs));
        else
            printf("tinylfu touch_many (medium), batch %2zu:        %6.1f ns/key\n", batches[b],
                   median(v, runs));
    }
    for (int k = 0; k < runs; k++) v[k] = count_pass(t, iters);
    printf("tinylfu count (medium):                       %6.1f ns/key\n", median(v, runs));
    kvbm_tracker_release(t);

    if (nthreads > 1) {
        pthread_t th[64];
        struct thr ts[64];
        for (int i = 0; i < nthreads; i++) {
            ts[i] = (struct thr){ r, iters / nthreads, 3000000 + (uint64_t)i * 1000, 0 };
            if (pthread_create(&th[i], NULL, create_destroy, &ts[i]) != 0) die("pthread_create");
        }
        double sum = 0;
        for (int i = 0; i < nthreads; i++) {
            pthread_join(th[i], NULL);
            sum += ts[i].ns;
        }
        printf("create+destroy, %d threads (per thread):      %6.1f ns/op\n", nthreads, sum / nthreads);
    }

    for (unsigned i = 0; i < NKEYS; i++) {
        kvbm_handle_release(live[i]);
        kvbm_handle_release(resident[i]);
    }
    kvbm_registry_release(r);
    return 0;
}
