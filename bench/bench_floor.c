/* bench/bench_floor.c - per-cell floors of the block-manager matrix (issue 16's bar).
 *
 * For a matrix cell that does not reach 5x the reference, the bar accepts "a measured floor
 * for that cell on the same machine (a minimal single-threaded implementation of exactly
 * that operation) showing kvbm within 2x of it". This file is that floor, and it runs the
 * kvbm cell (bench_run, the same code as bench_manager) and the floor alternately in one
 * process, round after round (order flipped every round), so both see the same machine.
 *
 * The floor of a cell does the cell's work with nothing else: one thread, no locks, no
 * atomics, no handles, no registry, no metrics, no checks. Per cell (n blocks of the
 * benchmark chain, bench_chain_hashes):
 *   - a table of n slots {PLH, refcount, state, list links, parent} and an open-addressing
 *     index (u32 slot ids, load <= 1/4) keyed by a 64-bit mix of the PLH;
 *   - the frequency sketch of the reference's setup (a TinyLFU tracker on every manager):
 *     kvbm's one-word sketch (one hash, four 4-bit counters in one word of a 4 MiB table,
 *     saturating SWAR increment), touched once per matched block like the reference;
 *   - match_blocks_active_hit: per block a lookup, refcount + 1 and a touch; then every
 *     returned block is released (refcount - 1, never the last reference);
 *   - match_blocks_inactive_hit: per block a lookup, unlink from the inactive structure,
 *     refcount 0 -> 1 and a touch; then every block is released (1 -> 0: inserted back);
 *   - bulk_drop: the match above untimed, the n final releases timed (each iteration
 *     timed separately, the clock overhead subtracted, as bench/matrix does);
 *   - inactive structure per backend: lru = one doubly linked recency list; multi-lru =
 *     four lists, an insert estimates the key's frequency in the sketch to choose one;
 *     lineage / lineage-fifo = the leaves of the prefix forest in a FIFO list (each slot
 *     keeps its parent's slot id, set at registration, and a count of inactive children:
 *     an insert makes the block a leaf and takes its parent off the leaf list, a removal
 *     puts an inactive parent without other inactive children back). The Tick variant's
 *     priority order is not modelled (its floor is the FIFO one: a lower bound).
 *
 * Output: per cell the median over rounds of kvbm's and the floor's per-round medians (ns
 * per iteration), kvbm / floor (the 2x bar) and reference / kvbm (the 5x bar).
 *
 * Usage: bench_floor [--rounds=R (default 7)] [--samples=S (default 9)]
 *                    [--groups=LIST] [--backends=LIST] [--sizes=LIST] [--floor-only]
 *                    [--iters=K]   (K iterations per floor sample, for callgrind)
 *                    [--thread-safe] (atomic reference counts and a mutex per structural
 *                                     change: the least that thread-safe handles cost)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_clock.h"
#include "matrix.h"

#define NONE UINT32_MAX
#define SKETCH_WORDS (UINT64_C(1) << 19) /* 4 MiB: kvbm's Medium preset */

typedef struct fslot {
    kvbm_plh h;
    _Atomic uint32_t ref;
    uint32_t prev, next, parent, kids; /* kids: inactive children (lineage) */
    uint8_t  inactive, list;
} fslot;

typedef struct floor_env {
    bench_group g;
    bench_backend b;
    uint32_t n, mask;
    fslot *s;
    uint32_t *idx;             /* index: slot id or NONE */
    uint32_t head[4], tail[4]; /* inactive lists (lru: 0; multi-lru: 0..3; lineage: 0) */
    uint64_t *sketch;
    uint32_t size;             /* sketch increments (decay point never reached here) */
    kvbm_plh *hashes;
    uint32_t *out;
} floor_env;

/* --thread-safe: what handles that any thread may clone or release need at the least (kvbm's
 * contract, and the reference's Arc + mutex): reference counts by atomic read-modify-write,
 * and one mutex round trip per operation that changes the shared structures (one per
 * match_blocks call, one per final release). Default: plain loads and stores, no lock. */
static bool atomic_refs;
static pthread_mutex_t floor_lock = PTHREAD_MUTEX_INITIALIZER;

static inline void floor_lock_take(void)
{
    if (atomic_refs) pthread_mutex_lock(&floor_lock);
}

static inline void floor_lock_drop(void)
{
    if (atomic_refs) pthread_mutex_unlock(&floor_lock);
}

static inline void ref_inc(fslot *s)
{
    if (atomic_refs) atomic_fetch_add_explicit(&s->ref, 1, memory_order_relaxed);
    else atomic_store_explicit(&s->ref, atomic_load_explicit(&s->ref, memory_order_relaxed) + 1,
                               memory_order_relaxed);
}

/* The new count. */
static inline uint32_t ref_dec(fslot *s)
{
    if (atomic_refs) return atomic_fetch_sub_explicit(&s->ref, 1, memory_order_relaxed) - 1;
    uint32_t v = atomic_load_explicit(&s->ref, memory_order_relaxed) - 1;
    atomic_store_explicit(&s->ref, v, memory_order_relaxed);
    return v;
}

static inline uint64_t mix(kvbm_plh h)
{
    uint64_t x = h.lo ^ h.hi * UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static inline uint64_t *sk_word(floor_env *e, uint64_t h)
{
    return e->sketch + (h >> 45); /* the high 19 bits: (h * SKETCH_WORDS) >> 64 */
}

static inline uint64_t sk_sel(uint64_t h)
{
    return UINT64_C(1) << (4 * (h & 3)) | UINT64_C(1) << (16 + 4 * ((h >> 2) & 3)) |
           UINT64_C(1) << (32 + 4 * ((h >> 4) & 3)) | UINT64_C(1) << (48 + 4 * ((h >> 6) & 3));
}

static inline void sk_touch(floor_env *e, uint64_t h)
{
    uint64_t *w = sk_word(e, h), sel = sk_sel(h), v = *w;
    uint64_t x = ~v & (sel * 15);
    uint64_t grow = (x | x >> 1 | x >> 2 | x >> 3) & sel;
    *w = v + grow;
    if (grow) e->size++;
}

static inline uint32_t sk_estimate(floor_env *e, uint64_t h)
{
    uint64_t v = *sk_word(e, h);
    uint32_t m = 15;
    for (unsigned i = 0; i < 4; i++) {
        uint32_t c = (uint32_t)(v >> (16 * i + 4 * ((h >> (2 * i)) & 3))) & 15;
        m = c < m ? c : m;
    }
    return m;
}

static inline uint32_t lookup(const floor_env *e, kvbm_plh h, uint64_t h64)
{
    const uint32_t *idx = e->idx, mask = e->mask;
    const fslot *s = e->s;
    for (uint32_t i = (uint32_t)h64 & mask;; i = (i + 1) & mask) {
        uint32_t id = idx[i];
        if (id == NONE || (s[id].h.lo == h.lo && s[id].h.hi == h.hi)) return id;
    }
}

static inline void list_unlink(floor_env *e, uint32_t id)
{
    fslot *s = &e->s[id];
    unsigned l = s->list;
    if (s->prev != NONE) e->s[s->prev].next = s->next; else e->head[l] = s->next;
    if (s->next != NONE) e->s[s->next].prev = s->prev; else e->tail[l] = s->prev;
}

static inline void list_push(floor_env *e, uint32_t id, unsigned l)
{
    fslot *s = &e->s[id];
    s->list = (uint8_t)l;
    s->next = NONE;
    s->prev = e->tail[l];
    if (e->tail[l] != NONE) e->s[e->tail[l]].next = id; else e->head[l] = id;
    e->tail[l] = id;
}

static inline bool lineage(const floor_env *e)
{
    return e->b == BENCH_LINEAGE_TICK || e->b == BENCH_LINEAGE_FIFO;
}

/* An inactive block leaves the inactive structure (match). */
static inline void inactive_remove(floor_env *e, uint32_t id)
{
    fslot *s = &e->s[id];
    s->inactive = 0;
    if (!lineage(e)) {
        list_unlink(e, id);
        return;
    }
    if (s->kids == 0) list_unlink(e, id); /* it was a leaf */
    if (s->parent != NONE) {
        fslot *p = &e->s[s->parent];
        if (--p->kids == 0 && p->inactive) list_push(e, s->parent, 0);
    }
}

/* The last reference of a block went away: it enters the inactive structure. */
static inline void inactive_insert(floor_env *e, uint32_t id, uint64_t h64)
{
    fslot *s = &e->s[id];
    s->inactive = 1;
    if (e->b == BENCH_LRU || e->b == BENCH_HASHMAP) {
        list_push(e, id, 0);
    } else if (e->b == BENCH_MULTI_LRU) {
        uint32_t f = sk_estimate(e, h64);
        list_push(e, id, f >= 8 ? 3 : f >= 4 ? 2 : f >= 2 ? 1 : 0);
    } else {
        if (s->kids == 0) list_push(e, id, 0); /* a leaf */
        if (s->parent != NONE) {
            fslot *p = &e->s[s->parent];
            if (p->kids++ == 0 && p->inactive) list_unlink(e, s->parent);
        }
    }
}

/* match_blocks over the chain: n lookups, the first miss ends the match. */
static inline uint32_t fmatch(floor_env *e)
{
    const kvbm_plh *hs = e->hashes;
    fslot *s = e->s;
    uint32_t *out = e->out, n = e->n, k = 0;
    floor_lock_take();
    for (; k < n; k++) {
        kvbm_plh h = hs[k];
        uint64_t h64 = mix(h);
        uint32_t id = lookup(e, h, h64);
        if (id == NONE) break;
        if (s[id].inactive) inactive_remove(e, id);
        ref_inc(&s[id]);
        sk_touch(e, h64);
        out[k] = id;
    }
    floor_lock_drop();
    return k;
}

static inline void frelease(floor_env *e, uint32_t k)
{
    fslot *s = e->s;
    const uint32_t *out = e->out;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t id = out[i];
        if (ref_dec(&s[id]) == 0) {
            floor_lock_take();
            inactive_insert(e, id, mix(s[id].h));
            floor_lock_drop();
        }
    }
}

static int floor_init(floor_env *e, bench_group g, bench_backend b, uint32_t n)
{
    memset(e, 0, sizeof *e);
    e->g = g;
    e->b = b;
    e->n = n;
    uint32_t cap = 16;
    while (cap < 4 * n) cap <<= 1;
    e->mask = cap - 1;
    e->s = calloc(n, sizeof *e->s);
    e->idx = malloc(cap * sizeof *e->idx);
    e->sketch = calloc(SKETCH_WORDS, sizeof *e->sketch);
    e->hashes = malloc(n * sizeof *e->hashes);
    e->out = malloc(n * sizeof *e->out);
    if (!e->s || !e->idx || !e->sketch || !e->hashes || !e->out) return -1;
    if (bench_chain_hashes(n, e->hashes) != KVBM_OK) return -1;
    memset(e->idx, 0xff, cap * sizeof *e->idx);
    for (unsigned l = 0; l < 4; l++) e->head[l] = e->tail[l] = NONE;
    /* registration: every block active (ref 1), registration touches the sketch */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h64 = mix(e->hashes[i]);
        uint32_t j = (uint32_t)h64 & e->mask;
        while (e->idx[j] != NONE) j = (j + 1) & e->mask;
        e->idx[j] = i;
        e->s[i] = (fslot){ .h = e->hashes[i], .prev = NONE, .next = NONE,
                           .parent = i ? i - 1 : NONE };
        atomic_init(&e->s[i].ref, 1);
        sk_touch(e, h64);
        e->out[i] = i;
    }
    /* every group but active hit starts from an inactive chain (the holders release) */
    if (g != BENCH_ACTIVE_HIT) frelease(e, n);
    return 0;
}

static void floor_fini(floor_env *e)
{
    free(e->s);
    free(e->idx);
    free(e->sketch);
    free(e->hashes);
    free(e->out);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static volatile uint32_t sink;

static double timer_overhead(void)
{
    double d[501];
    for (int i = 0; i < 501; i++) {
        double a = now_ns();
        d[i] = now_ns() - a;
    }
    return median(d, 501);
}

/* A batch of @k iterations: ns per iteration (bulk_drop: only the timed releases, each
 * timed on its own minus the clock overhead; the other groups: the whole batch timed once). */
static double floor_batch(floor_env *e, uint64_t k, double overhead)
{
    double acc = 0, t0 = now_ns();
    for (uint64_t it = 0; it < k; it++) {
        uint32_t m = fmatch(e);
        if (e->g == BENCH_BULK_DROP) {
            double a = now_ns();
            frelease(e, m);
            acc += now_ns() - a - overhead;
        } else {
            frelease(e, m);
        }
        sink += m;
    }
    if (e->g != BENCH_BULK_DROP) acc = now_ns() - t0;
    return acc / (double)k;
}

static uint64_t fixed_iters; /* --iters=K: exactly K iterations per sample (callgrind) */

/* Iterations per sample: the smallest power of two lasting >= 200 us. */
static uint64_t floor_calibrate(floor_env *e, double overhead)
{
    if (fixed_iters) return fixed_iters;
    uint64_t k = 1;
    for (;;) {
        double t0 = now_ns();
        (void)floor_batch(e, k, overhead);
        if (now_ns() - t0 >= 200e3 || k >= (UINT64_C(1) << 24)) return k;
        k *= 2;
    }
}

static double floor_cell(bench_group g, bench_backend b, uint32_t n, uint32_t samples,
                         double overhead)
{
    floor_env e;
    if (floor_init(&e, g, b, n) != 0) {
        fprintf(stderr, "floor: out of memory\n");
        exit(1);
    }
    double *v = malloc(samples * sizeof *v);
    uint64_t k = floor_calibrate(&e, overhead);
    for (uint32_t s = 0; s < samples; s++) v[s] = floor_batch(&e, k, overhead);
    double m = median(v, samples);
    free(v);
    floor_fini(&e);
    return m;
}

static double kvbm_cell(bench_group g, bench_backend b, uint32_t n, uint32_t samples)
{
    bench_options o = BENCH_OPTIONS_INIT;
    o.groups = 1u << g;
    o.backends = 1u << b;
    o.sizes = &n;
    o.n_sizes = 1;
    o.samples = samples;
    bench_cell c;
    size_t got = 0;
    if (bench_run(&o, &c, 1, &got) != KVBM_OK || got != 1 || c.status != KVBM_OK) {
        fprintf(stderr, "kvbm cell %s/%s/%u failed\n", bench_group_name(g), bench_backend_name(b), n);
        exit(1);
    }
    return c.median_ns;
}

static bool parse_u32_list(const char *s, uint32_t *out, size_t *n)
{
    *n = 0;
    while (*s && *n < 8) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v == 0 || v > (1u << 20)) return false;
        out[(*n)++] = (uint32_t)v;
        s = *end == ',' ? end + 1 : end;
    }
    return *n > 0;
}

int main(int argc, char **argv)
{
    uint32_t rounds = 7, samples = 9, sizes[8] = { 8, 32, 128 };
    size_t nsizes = 3;
    uint32_t groups = 1u << BENCH_ACTIVE_HIT | 1u << BENCH_INACTIVE_HIT | 1u << BENCH_BULK_DROP;
    uint32_t backends = 0;
    bool floor_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (strncmp(a, "--rounds=", 9) == 0) ok = (rounds = (uint32_t)atoi(a + 9)) > 0;
        else if (strncmp(a, "--samples=", 10) == 0) ok = (samples = (uint32_t)atoi(a + 10)) > 0;
        else if (strncmp(a, "--groups=", 9) == 0) ok = bench_parse_list(a + 9, false, &groups);
        else if (strncmp(a, "--backends=", 11) == 0) ok = bench_parse_list(a + 11, true, &backends);
        else if (strncmp(a, "--sizes=", 8) == 0) ok = parse_u32_list(a + 8, sizes, &nsizes);
        else if (strcmp(a, "--floor-only") == 0) floor_only = true;
        else if (strcmp(a, "--thread-safe") == 0) atomic_refs = true;
        else if (strncmp(a, "--iters=", 8) == 0) ok = (fixed_iters = strtoull(a + 8, NULL, 10)) > 0;
        else ok = false;
        if (!ok) {
            fprintf(stderr, "usage: bench_floor [--rounds=R] [--samples=S] [--groups=LIST] "
                            "[--backends=LIST] [--sizes=LIST] [--floor-only] [--iters=K] [--thread-safe]\n"
                            "groups: match_blocks_active_hit, match_blocks_inactive_hit, bulk_drop\n");
            return 2;
        }
    }
    groups &= 1u << BENCH_ACTIVE_HIT | 1u << BENCH_INACTIVE_HIT | 1u << BENCH_BULK_DROP;
    double overhead = timer_overhead();
    printf("bench_floor: kvbm cell (bench_run, tracker always) and its floor alternately, %u rounds "
           "x %u samples; medians over rounds, ns per iteration; floor: %s\n", rounds,
           samples, atomic_refs ? "atomic, one mutex per match call and per final release (--thread-safe)"
                       : "plain, no lock");
    printf("%-26s %-13s %4s %11s %11s %11s %10s %9s\n", "group", "backend", "n", "kvbm_ns",
           "floor_ns", "ref_ns", "kvbm/floor", "ref/kvbm");
    for (unsigned g = 0; g < BENCH_GROUP_COUNT; g++) {
        if (!(groups >> g & 1u)) continue;
        for (unsigned b = 0; b < BENCH_BACKEND_COUNT; b++) {
            if (g == BENCH_ACTIVE_HIT ? b != BENCH_LRU : backends && !(backends >> b & 1u)) continue;
            if (b == BENCH_HASHMAP) continue; /* no reference value */
            for (size_t si = 0; si < nsizes; si++) {
                uint32_t n = sizes[si];
                double *kv = malloc(rounds * sizeof *kv), *fl = malloc(rounds * sizeof *fl);
                for (uint32_t r = 0; r < rounds; r++) {
                    bool kvbm_first = r % 2 == 0;
                    if (kvbm_first && !floor_only) kv[r] = kvbm_cell(g, b, n, samples);
                    fl[r] = floor_cell(g, b, n, samples, overhead);
                    if (!kvbm_first && !floor_only) kv[r] = kvbm_cell(g, b, n, samples);
                    if (floor_only) kv[r] = 0;
                }
                double k = median(kv, rounds), f = median(fl, rounds);
                const char *bn = g == BENCH_ACTIVE_HIT ? "-" : bench_backend_name(b);
                double ref = bench_reference_ns(bench_group_name(g), bn, n);
                printf("%-26s %-13s %4u %11.1f %11.1f %11.1f %9.2fx %8.2fx\n", bench_group_name(g),
                       bn, n, k, f, ref, k > 0 ? k / f : 0.0, k > 0 && ref > 0 ? ref / k : 0.0);
                fflush(stdout);
                free(kv);
                free(fl);
            }
        }
    }
    return 0;
}
