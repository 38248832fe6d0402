/* bench/bench_registry.c - uncontended cost of the registry hot paths.
 *
 * usage: bench_registry [ITERS] [THREADS]
 *   create+destroy   register a hash with no live handle, then drop the only reference
 *                    (table insert + handle from the free list + hook-less destruction)
 *   reuse            register a hash that is already live + release a non-final reference
 *   match            match (touch=false) a live hash + release
 *   mark             mark_present + mark_absent on a held handle
 * With THREADS > 1 every thread runs create+destroy on its own hashes (same registry) to
 * show the effect of sharding. Prints ns per operation; there are no pass/fail criteria.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "registry/registry_int.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static kvbm_plh H(uint64_t id)
{
    kvbm_plh h;
    if (kvbm_plh_new(id * 0x9e3779b97f4a7c15u + 1, true, id, id & 1023, &h) != KVBM_OK) abort();
    return h;
}

#define NKEYS 4096u
static kvbm_plh keys[NKEYS];

static void die(const char *what)
{
    fprintf(stderr, "bench_registry: %s failed\n", what);
    exit(1);
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

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 5000000;
    int nthreads = argc > 2 ? atoi(argv[2]) : 1;
    if (iters <= 0 || nthreads <= 0 || nthreads > 64) die("arguments");
    for (unsigned i = 0; i < NKEYS; i++) keys[i] = H(i);

    kvbm_registry *r;
    if (kvbm_registry_create(NULL, &r) != KVBM_OK) die("create");

    /* a resident population so the tables are not trivially empty */
    kvbm_handle *resident[NKEYS];
    for (unsigned i = 0; i < NKEYS; i++)
        if (kvbm_registry_register(r, H(1000000 + i), &resident[i]) != KVBM_OK) die("register");

    struct thr t1 = { r, iters, 2000000, 0 };
    create_destroy(&t1); /* warm-up: fills the free lists */
    create_destroy(&t1);
    printf("create+destroy (register new + last release): %6.1f ns/op\n", t1.ns);

    kvbm_handle *live[NKEYS];
    for (unsigned i = 0; i < NKEYS; i++)
        if (kvbm_registry_register(r, keys[i], &live[i]) != KVBM_OK) die("register");
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        kvbm_handle *h;
        if (kvbm_registry_register(r, keys[i & (NKEYS - 1)], &h) != KVBM_OK) die("register");
        kvbm_handle_release(h);
    }
    printf("reuse (register live + non-final release):    %6.1f ns/op\n", (now_ns() - t0) / (double)iters);

    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        kvbm_handle *h;
        if (kvbm_registry_match(r, keys[i & (NKEYS - 1)], false, &h) != KVBM_OK) die("match");
        kvbm_handle_release(h);
    }
    printf("match hit + release:                          %6.1f ns/op\n", (now_ns() - t0) / (double)iters);

    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        kvbm_handle *h = live[i & (NKEYS - 1)];
        kvbm__handle_mark_present(h, 0);
        kvbm__handle_mark_absent(h, 0);
    }
    printf("mark_present + mark_absent:                   %6.1f ns/op\n", (now_ns() - t0) / (double)iters);

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
