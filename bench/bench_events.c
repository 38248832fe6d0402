/* bench/bench_events.c - the cost of an events manager on the block path (issue 18
 * performance bar): alloc_register_cycle of n blocks (LRU, block size 16: allocate n,
 * which evicts the previous cycle's blocks - their registrations die and send Remove -
 * stage the same n PLHs, register them - Create - and release them) without an events
 * manager ("off") and with one attached (AllEvents, one subscriber thread draining, "on").
 *
 * The two setups are timed alternately, round after round, so that machine phases hit
 * both; the medians of the per-round means and their ratio are printed.
 *
 *   bench_events [--n 128] [--rounds 15] [--iters 2000] [--only off|on] [--drain 1|0]
 *                [--capacity C]   (the ring; default 0: the library's default, 262144)
 * (--only runs one setup, for callgrind: valgrind --tool=callgrind --toggle-collect=cycle
 *  bench_events --only on --rounds 1 --iters 2000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "kvbm/kvbm.h"

#define BLOCK_SIZE 16

typedef struct setup {
    kvbm_registry       *reg;
    kvbm_manager        *m;
    kvbm_events_manager *em;
    kvbm_events_sub     *sub;
    pthread_t            drainer;
    uint64_t             drained, lost;
    uint32_t             n;
    kvbm_plh            *hashes;
    kvbm_mutable       **mut;
    kvbm_complete      **cmp;
    kvbm_block         **out;
} setup;

/* The drainer counts in locals and publishes its totals now and then (lost on each lag, for
 * the timed rounds' figure; drained every 8192 events) and at the end: the counters share a
 * cache line with the fields `cycle` reads per block (s->n, s->mut, ...), and a store per
 * event from the other core made the producer miss that line on every block (~30 ns per
 * block of false sharing charged to "events on" before session 10). */
static void *drain(void *arg)
{
    setup *s = arg;
    uint64_t drained = 0, lagged = 0;
    for (;;) {
        kvbm_event ev;
        uint64_t lost = 0;
        kvbm_status st = kvbm_events_next(s->sub, -1, &ev, &lost);
        if (st == KVBM_OK) {
            if ((++drained & 8191) == 0) __atomic_store_n(&s->drained, drained, __ATOMIC_RELAXED);
        } else if (st == KVBM_ELAGGED) {
            lagged += lost;
            __atomic_store_n(&s->lost, lagged, __ATOMIC_RELAXED);
        } else break;
    }
    __atomic_store_n(&s->drained, drained, __ATOMIC_RELAXED);
    __atomic_store_n(&s->lost, lagged, __ATOMIC_RELAXED);
    return NULL;
}

static void die(const char *what, kvbm_status st)
{
    fprintf(stderr, "bench_events: %s: %s (%s)\n", what, kvbm_strerror(st), kvbm_last_error());
    exit(1);
}

static bool no_drain; /* --drain 0: subscribe but do not drain (sender cost alone) */
static uint32_t capacity; /* --capacity: the ring (0: default) */

static void setup_open(setup *s, uint32_t n, bool events)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->hashes = calloc(n, sizeof *s->hashes);
    s->mut = calloc(n, sizeof *s->mut);
    s->cmp = calloc(n, sizeof *s->cmp);
    s->out = calloc(n, sizeof *s->out);
    if (!s->hashes || !s->mut || !s->cmp || !s->out) die("calloc", KVBM_ENOMEM);
    for (uint32_t i = 0; i < n; i++) {
        kvbm_status st = kvbm_plh_new(0x9e3779b97f4a7c15ull * (i + 1), i > 0, 0x1234 + i, i, &s->hashes[i]);
        if (st != KVBM_OK) die("plh", st);
    }
    kvbm_status st = kvbm_registry_create(NULL, &s->reg);
    if (st != KVBM_OK) die("registry", st);
    if (events) {
        kvbm_events_config ec = KVBM_EVENTS_CONFIG_INIT;
        ec.channel_capacity = capacity;
        if ((st = kvbm_events_manager_create(&ec, &s->em)) != KVBM_OK) die("events manager", st);
        if ((st = kvbm_events_manager_attach(s->em, s->reg)) != KVBM_OK) die("attach", st);
        if ((st = kvbm_events_subscribe(s->em, &s->sub)) != KVBM_OK) die("subscribe", st);
        if (!no_drain && pthread_create(&s->drainer, NULL, drain, s) != 0) die("thread", KVBM_EIO);
    }
    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = s->reg;
    cfg.block_count = n;
    cfg.block_size = BLOCK_SIZE;
    cfg.backend = KVBM_BACKEND_LRU;
    if ((st = kvbm_manager_create(&cfg, &s->m)) != KVBM_OK) die("manager", st);
}

static void setup_close(setup *s)
{
    kvbm_manager_destroy(s->m);
    if (s->em != NULL) {
        kvbm_events_manager_close(s->em);
        if (!no_drain) pthread_join(s->drainer, NULL);
        kvbm_events_unsubscribe(s->sub);
        kvbm_events_manager_release(s->em);
    }
    kvbm_registry_release(s->reg);
    free(s->hashes); free(s->mut); free(s->cmp); free(s->out);
}

__attribute__((noinline)) static void cycle(setup *s)
{
    kvbm_status st = kvbm_manager_allocate(s->m, s->n, s->mut, NULL, NULL);
    if (st != KVBM_OK) die("allocate", st);
    for (uint32_t i = 0; i < s->n; i++)
        if ((st = kvbm_mutable_stage(s->mut[i], s->hashes[i], BLOCK_SIZE, &s->cmp[i], NULL, NULL)) != KVBM_OK)
            die("stage", st);
    if ((st = kvbm_manager_register_blocks(s->m, s->cmp, s->n, s->out)) != KVBM_OK) die("register", st);
    for (uint32_t i = 0; i < s->n; i++) (void)kvbm_block_release(s->out[i]);
}

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Wall ns per cycle; *@cpu: the producing thread's CPU ns per cycle (cache misses and
 * stalls count, time spent descheduled does not: the load-robust figure). */
static double time_round(setup *s, int iters, double *cpu)
{
    double t0 = now_ns(), c0 = thread_cpu_ns();
    for (int i = 0; i < iters; i++) cycle(s);
    *cpu = (thread_cpu_ns() - c0) / iters;
    return (now_ns() - t0) / iters;
}

/* Events lost to lag so far (the manager's counter; 0 without events). */
static uint64_t events_lost(setup *s)
{
    kvbm_events_stats st = { 0 };
    if (s->em != NULL) (void)kvbm_events_manager_get_stats(s->em, &st);
    return st.lost;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    uint32_t n = 128;
    int rounds = 15, iters = 2000;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else if (!strcmp(argv[i], "--drain")) no_drain = atoi(argv[i + 1]) == 0;
        else if (!strcmp(argv[i], "--capacity")) capacity = (uint32_t)atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: bench_events [--n N] [--rounds R] [--iters I] [--only off|on] [--drain 1|0] [--capacity C]\n"); return 2; }
    }
    if (rounds < 1 || rounds > 1000 || iters < 1 || n < 1) return 2;
    bool run_off = only == NULL || !strcmp(only, "off"), run_on = only == NULL || !strcmp(only, "on");
    setup off, on;
    if (run_off) setup_open(&off, n, false);
    if (run_on) setup_open(&on, n, true);
    for (int w = 0; w < 50; w++) { /* warm-up: every block registered, evicted, re-registered */
        if (run_off) cycle(&off);
        if (run_on) cycle(&on);
    }
    double *toff = calloc((size_t)rounds, sizeof *toff), *ton = calloc((size_t)rounds, sizeof *ton);
    double *coff = calloc((size_t)rounds, sizeof *coff), *con = calloc((size_t)rounds, sizeof *con);
    if (!toff || !ton || !coff || !con) return 1;
    uint64_t lost_timed = 0;
    for (int r = 0; r < rounds; r++) {
        uint64_t lost0 = run_on ? events_lost(&on) : 0;
        if (r & 1) { /* alternate which setup goes first */
            if (run_on) ton[r] = time_round(&on, iters, &con[r]);
            if (run_off) toff[r] = time_round(&off, iters, &coff[r]);
        } else {
            if (run_off) toff[r] = time_round(&off, iters, &coff[r]);
            if (run_on) ton[r] = time_round(&on, iters, &con[r]);
        }
        if (run_on) lost_timed += events_lost(&on) - lost0;
    }
    qsort(toff, (size_t)rounds, sizeof *toff, cmp_d);
    qsort(ton, (size_t)rounds, sizeof *ton, cmp_d);
    qsort(coff, (size_t)rounds, sizeof *coff, cmp_d);
    qsort(con, (size_t)rounds, sizeof *con, cmp_d);
    double moff = toff[rounds / 2], mon = ton[rounds / 2];
    double mcoff = coff[rounds / 2], mcon = con[rounds / 2];
    printf("alloc_register_cycle n=%u  rounds=%d x %d cycles  ring %zu%s\n", n, rounds, iters,
           run_on ? kvbm_events_manager_capacity(on.em) : (size_t)0, no_drain ? "  (no subscriber thread)" : "");
    if (run_off) printf("  events off : median %9.1f ns/cycle  (%6.2f ns/block)\n", moff, moff / n);
    if (run_on) printf("  events on  : median %9.1f ns/cycle  (%6.2f ns/block)\n", mon, mon / n);
    if (run_off && run_on) printf("  ratio on/off: %.3f  (bar: <= 1.25)\n", mon / moff);
    if (run_off && run_on)
        printf("  producer thread CPU: off %.1f, on %.1f ns/block, ratio %.3f\n", mcoff / n, mcon / n, mcon / mcoff);
    if (run_on) {
        kvbm_events_stats st;
        (void)kvbm_events_manager_get_stats(on.em, &st);
        printf("  events: %llu created, %llu removed; subscriber drained %llu, lost %llu to lag\n",
               (unsigned long long)st.created, (unsigned long long)st.removed,
               (unsigned long long)__atomic_load_n(&on.drained, __ATOMIC_RELAXED),
               (unsigned long long)__atomic_load_n(&on.lost, __ATOMIC_RELAXED));
        if (!no_drain) printf("  lost during the timed rounds: %llu\n", (unsigned long long)lost_timed);
    }
    if (run_off) setup_close(&off);
    if (run_on) setup_close(&on);
    free(toff);
    free(ton);
    free(coff);
    free(con);
    return 0;
}
