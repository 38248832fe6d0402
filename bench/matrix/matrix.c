/* bench/matrix/matrix.c - the block-manager benchmark matrix (see matrix.h for what each cell
 * measures). Only public kvbm headers are used, so the same file links into `kvbm bench`. */
#include "matrix.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvbm/manager.h"
#include "kvbm/registry.h"
#include "kvbm/tokens.h"
#include "kvbm/tracker.h"

#define BENCH_BLOCK_SIZE 4u
#define BENCH_SALT       UINT64_C(1337)
#define DEFAULT_SAMPLES  31u
#define DEFAULT_SAMPLE_NS UINT64_C(200000)
#define MAX_BATCH        (UINT64_C(1) << 22)

/* Propagate a non-OK status (bench-local twin of the library's internal KVBM_TRY). */
#define KVBM_TRY_BENCH(expr) do { kvbm_status st_ = (expr); \
        if (st_ != KVBM_OK) return st_; } while (0)

static const uint32_t default_sizes[] = { 8, 32, 128 };

static const char *const group_names[BENCH_GROUP_COUNT] = {
    "match_blocks_active_hit", "match_blocks_inactive_hit", "bulk_drop", "bulk_drop_many",
    "alloc_register_cycle", "alloc_evict", "match_blocks_active_hit_many",
    "match_blocks_inactive_hit_many", "alloc_register_cycle_many"
};
/* The matrix's backend columns; their names come from the library (kvbm_backend_name). */
static const struct {
    kvbm_backend          backend;
    kvbm_lineage_eviction eviction;
} choices[BENCH_BACKEND_COUNT] = {
    [BENCH_LRU]          = { KVBM_BACKEND_LRU,       KVBM_LINEAGE_TICK },
    [BENCH_MULTI_LRU]    = { KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK },
    [BENCH_LINEAGE_TICK] = { KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_TICK },
    [BENCH_LINEAGE_FIFO] = { KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_FIFO },
    [BENCH_HASHMAP]      = { KVBM_BACKEND_HASHMAP,   KVBM_LINEAGE_TICK },
};

const char *bench_group_name(bench_group g)
{
    return (unsigned)g < BENCH_GROUP_COUNT ? group_names[g] : NULL;
}

const char *bench_backend_name(bench_backend b)
{
    return (unsigned)b < BENCH_BACKEND_COUNT ? kvbm_backend_name(choices[b].backend, choices[b].eviction)
                                             : NULL;
}

/* ---- Rust reference medians (issue 2 item 10, issue 4 item 7) ------------------------ */

typedef struct ref_value {
    const char *group, *backend;
    uint32_t    n;
    double      ns;
} ref_value;

static const ref_value ref_values[] = {
    { "match_blocks_active_hit",   "-",            8,    405.0 },
    { "match_blocks_active_hit",   "-",           32,   1480.0 },
    { "match_blocks_active_hit",   "-",          128,   5980.0 },
    { "match_blocks_inactive_hit", "lru",          8,   1450.0 },
    { "match_blocks_inactive_hit", "lru",         32,   5780.0 },
    { "match_blocks_inactive_hit", "lru",        128,  23400.0 },
    { "match_blocks_inactive_hit", "multi-lru",  128,  28300.0 },
    { "match_blocks_inactive_hit", "lineage",      128, 27000.0 },
    { "match_blocks_inactive_hit", "lineage-fifo", 128, 24500.0 },
    /* the reference drops a Vec: the *_many groups perform the same operation in one call */
    { "match_blocks_active_hit_many",   "-",       8,    405.0 },
    { "match_blocks_active_hit_many",   "-",      32,   1480.0 },
    { "match_blocks_active_hit_many",   "-",     128,   5980.0 },
    { "match_blocks_inactive_hit_many", "lru",     8,   1450.0 },
    { "match_blocks_inactive_hit_many", "lru",    32,   5780.0 },
    { "match_blocks_inactive_hit_many", "lru",   128,  23400.0 },
    { "match_blocks_inactive_hit_many", "multi-lru",    128, 28300.0 },
    { "match_blocks_inactive_hit_many", "lineage",      128, 27000.0 },
    { "match_blocks_inactive_hit_many", "lineage-fifo", 128, 24500.0 },
    { "alloc_register_cycle_many", "lru",          8,   4800.0 },
    { "alloc_register_cycle_many", "lru",         32,  22400.0 },
    { "alloc_register_cycle_many", "lru",        128,  92400.0 },
    { "bulk_drop",                 "lru",          8,   1050.0 },
    { "bulk_drop",                 "lru",        128,  35500.0 },
    { "bulk_drop",                 "lineage",      128, 27400.0 },
    { "bulk_drop_many",            "lru",          8,   1050.0 },
    { "bulk_drop_many",            "lru",        128,  35500.0 },
    { "bulk_drop_many",            "lineage",      128, 27400.0 },
    { "alloc_register_cycle",      "lru",          8,   4800.0 },
    { "alloc_register_cycle",      "lru",         32,  22400.0 },
    { "alloc_register_cycle",      "lru",        128,  92400.0 },
};

double bench_reference_ns(const char *group, const char *backend, uint32_t n)
{
    if (group == NULL || backend == NULL)
        return 0.0;
    for (size_t i = 0; i < sizeof ref_values / sizeof ref_values[0]; i++) {
        const ref_value *r = &ref_values[i];
        if (r->n == n && strcmp(r->group, group) == 0 && strcmp(r->backend, backend) == 0)
            return r->ns;
    }
    return 0.0;
}

/* Index of the group or backend named p[0..len), or -1. Backends accept every spelling of
 * kvbm_backend_parse (aliases included). */
static int lookup_name(const char *p, size_t len, bool backends)
{
    if (!backends) {
        for (int i = 0; i < BENCH_GROUP_COUNT; i++)
            if (strlen(group_names[i]) == len && strncmp(group_names[i], p, len) == 0) return i;
        return -1;
    }
    char name[32];
    kvbm_backend kb;
    kvbm_lineage_eviction ke;
    if (len >= sizeof name) return -1;
    memcpy(name, p, len);
    name[len] = '\0';
    if (kvbm_backend_parse(name, &kb, &ke) != KVBM_OK) return -1;
    for (int i = 0; i < BENCH_BACKEND_COUNT; i++)
        if (choices[i].backend == kb && choices[i].eviction == ke) return i;
    return -1;
}

bool bench_parse_list(const char *list, bool backends, uint32_t *mask)
{
    if (list == NULL || mask == NULL)
        return false;
    unsigned count = backends ? BENCH_BACKEND_COUNT : BENCH_GROUP_COUNT;
    uint32_t m = 0;
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == 3 && strncmp(p, "all", 3) == 0) {
            m |= (UINT32_C(1) << count) - 1;
        } else if (len > 0) {
            int i = lookup_name(p, len, backends);
            if (i < 0)
                return false;
            m |= UINT32_C(1) << i;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    *mask = m;
    return true;
}

/* ---- clock -------------------------------------------------------------------------- */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median cost of one timed region (two back-to-back clock reads), in ns. */
static uint64_t timer_overhead_ns(void)
{
    enum { PAIRS = 1001 };
    uint64_t d[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        uint64_t a = now_ns();
        uint64_t b = now_ns();
        d[i] = b - a;
    }
    qsort(d, PAIRS, sizeof d[0], cmp_u64);
    return d[PAIRS / 2];
}

/* ---- chain setup -------------------------------------------------------------------- */

/* The chained token sequence of the benchmark: tokens 0..4n-1, block size 4, salt 1337
 * (kvbm_token_seq_create, i.e. spec 20 §1.4 schema B). *@out: caller destroys. */
static kvbm_status chain_seq(uint32_t n, kvbm_token_seq **out)
{
    if (n > (UINT32_C(1) << 24)) /* the PLH position limit (and no u32 overflow below) */
        return KVBM_ERANGE;
    uint32_t *tok = malloc((size_t)n * BENCH_BLOCK_SIZE * sizeof *tok);
    if (tok == NULL)
        return KVBM_ENOMEM;
    for (uint32_t i = 0; i < n * BENCH_BLOCK_SIZE; i++)
        tok[i] = i;
    kvbm_status st = kvbm_token_seq_create(tok, (size_t)n * BENCH_BLOCK_SIZE, BENCH_BLOCK_SIZE,
                                           BENCH_SALT, out);
    free(tok);
    if (st == KVBM_OK && kvbm_token_seq_block_count(*out) != n) {
        kvbm_token_seq_destroy(*out);
        *out = NULL;
        st = KVBM_ERANGE;
    }
    return st;
}

kvbm_status bench_chain_hashes(uint32_t n, kvbm_plh *out)
{
    if (out == NULL && n > 0)
        return KVBM_EINVAL;
    if (n == 0)
        return KVBM_OK;
    kvbm_token_seq *seq = NULL;
    KVBM_TRY_BENCH(chain_seq(n, &seq));
    for (uint32_t i = 0; i < n; i++)
        out[i] = kvbm_token_block_plh(kvbm_token_seq_block(seq, i));
    kvbm_token_seq_destroy(seq);
    return KVBM_OK;
}

typedef struct env {
    kvbm_manager  *m;
    uint32_t       n;
    kvbm_token_seq *seq;     /* the chained token sequence (salt 1337) */
    kvbm_plh      *hashes;   /* its PLHs */
    kvbm_block   **held;     /* registered handles (active hit) or NULL entries */
    kvbm_block   **out;
    kvbm_mutable **mut;
    kvbm_complete **cmp;
    bool           held_live;
    bool           tracker;
    /* self-timed groups accumulate their timed regions here */
    uint64_t       acc_ns;
    uint64_t       acc_allocs;
    bench_alloc_counter counter; /* non-NULL only during the counting pass */
} env;

static void env_destroy(env *e)
{
    if (e->held_live)
        for (uint32_t i = 0; i < e->n; i++)
            (void)kvbm_block_release(e->held[i]);
    kvbm_manager_destroy(e->m);
    kvbm_token_seq_destroy(e->seq);
    free(e->hashes);
    free(e->held);
    free(e->out);
    free(e->mut);
    free(e->cmp);
    memset(e, 0, sizeof *e);
}

static bool backend_needs_tracker(bench_backend b) { return b == BENCH_MULTI_LRU; }

/* Registry + manager of n blocks; with @build, the chain is allocated one by one,
 * completed and registered in one call (handles in e->held). */
static kvbm_status env_create(env *e, bench_backend backend, bench_tracker trk,
                              uint32_t n, bool build)
{
    memset(e, 0, sizeof *e);
    e->n = n;
    e->hashes = calloc(n, sizeof *e->hashes);
    e->held = calloc(n, sizeof *e->held);
    e->out = calloc(n, sizeof *e->out);
    e->mut = calloc(n, sizeof *e->mut);
    e->cmp = calloc(n, sizeof *e->cmp);
    if (!e->hashes || !e->held || !e->out || !e->mut || !e->cmp) {
        env_destroy(e);
        return KVBM_ENOMEM;
    }
    kvbm_status st = chain_seq(n, &e->seq);
    if (st != KVBM_OK) {
        env_destroy(e);
        return st;
    }
    for (uint32_t i = 0; i < n; i++)
        e->hashes[i] = kvbm_token_block_plh(kvbm_token_seq_block(e->seq, i));

    bool want_tracker = trk == BENCH_TRACKER_ALWAYS ||
                        (trk == BENCH_TRACKER_AUTO && backend_needs_tracker(backend));
    kvbm_tracker *tracker = NULL;
    if (want_tracker &&
        (st = kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &tracker)) != KVBM_OK) {
        env_destroy(e);
        return st;
    }
    kvbm_registry_config rcfg = KVBM_REGISTRY_CONFIG_INIT;
    rcfg.tracker = tracker;
    kvbm_registry *reg = NULL;
    st = kvbm_registry_create(&rcfg, &reg);
    kvbm_tracker_release(tracker); /* the registry holds its own reference */
    if (st != KVBM_OK) {
        env_destroy(e);
        return st;
    }
    e->tracker = want_tracker;

    kvbm_manager_config cfg = KVBM_MANAGER_CONFIG_INIT;
    cfg.registry = reg;
    cfg.block_count = n;
    cfg.block_size = BENCH_BLOCK_SIZE;
    if ((unsigned)backend >= BENCH_BACKEND_COUNT) {
        kvbm_registry_release(reg);
        env_destroy(e);
        return KVBM_EINVAL;
    }
    cfg.backend = choices[backend].backend;
    cfg.lineage_eviction = choices[backend].eviction;
    st = kvbm_manager_create(&cfg, &e->m);
    kvbm_registry_release(reg); /* the manager holds its own reference */
    if (st != KVBM_OK) {
        env_destroy(e);
        return st;
    }
    if (!build)
        return KVBM_OK;

    for (uint32_t i = 0; i < n; i++) {
        if ((st = kvbm_manager_allocate(e->m, 1, &e->mut[i], NULL, NULL)) != KVBM_OK)
            goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        if ((st = kvbm_mutable_complete(e->mut[i], kvbm_token_seq_block(e->seq, i), &e->cmp[i],
                                        NULL, NULL)) != KVBM_OK)
            goto fail;
    }
    if ((st = kvbm_manager_register_blocks(e->m, e->cmp, n, e->held)) != KVBM_OK)
        goto fail;
    e->held_live = true;
    return KVBM_OK;
fail:
    env_destroy(e);
    return st;
}

static kvbm_status env_drop_held(env *e)
{
    if (!e->held_live)
        return KVBM_OK;
    e->held_live = false;
    for (uint32_t i = 0; i < e->n; i++) {
        kvbm_status st = kvbm_block_release(e->held[i]);
        if (st != KVBM_OK)
            return st;
        e->held[i] = NULL;
    }
    return KVBM_OK;
}

/* ---- one iteration per group ------------------------------------------------------
 * Batch groups (e->acc unused) are timed by the driver around a batch of calls.
 * Self-timed groups add their timed region to e->acc_ns (and e->acc_allocs). */

#define TIMED_BEGIN(e) uint64_t t0_ = now_ns(); \
                       uint64_t a0_ = (e)->counter != NULL ? (e)->counter() : 0
#define TIMED_END(e)   do { uint64_t t1_ = now_ns(); (e)->acc_ns += t1_ - t0_; \
                            if ((e)->counter != NULL) (e)->acc_allocs += (e)->counter() - a0_; \
                       } while (0)

static kvbm_status match_all(env *e)
{
    size_t matched = 0;
    kvbm_status st = kvbm_manager_match_blocks(e->m, e->hashes, e->n, e->out, &matched);
    if (st != KVBM_OK)
        return st;
    if (matched != e->n) {
        for (size_t i = 0; i < matched; i++)
            (void)kvbm_block_release(e->out[i]);
        return KVBM_ENOENT;
    }
    return KVBM_OK;
}

/* n x kvbm_block_release (the reference drops its Vec element by element). */
static kvbm_status release_out(env *e)
{
    kvbm_status st = KVBM_OK;
    for (uint32_t i = 0; i < e->n; i++) {
        kvbm_status r = kvbm_block_release(e->out[i]);
        if (r != KVBM_OK)
            st = r;
    }
    return st;
}

/* active and inactive hit: the difference is the state set up before the loop */
static kvbm_status it_match_release(env *e)
{
    KVBM_TRY_BENCH(match_all(e));
    return release_out(e);
}

static kvbm_status it_match_release_many(env *e)
{
    KVBM_TRY_BENCH(match_all(e));
    return kvbm_block_release_many(e->out, e->n);
}

/* The timed regions of self-timed groups are separate non-inlined functions, so that
 * `valgrind --tool=callgrind --toggle-collect='timed_*'` profiles exactly what is timed. */
#if defined(__GNUC__)
#  define BENCH_NOINLINE __attribute__((noinline))
#else
#  define BENCH_NOINLINE
#endif

static BENCH_NOINLINE kvbm_status timed_release_each(env *e) { return release_out(e); }

static BENCH_NOINLINE kvbm_status timed_release_many(env *e)
{
    return kvbm_block_release_many(e->out, e->n);
}

static BENCH_NOINLINE kvbm_status timed_alloc_evict(env *e)
{
    KVBM_TRY_BENCH(kvbm_manager_allocate(e->m, e->n, e->mut, NULL, NULL));
    kvbm_status st = KVBM_OK;
    for (uint32_t i = 0; i < e->n; i++) {
        kvbm_status r = kvbm_mutable_release(e->mut[i]);
        if (r != KVBM_OK)
            st = r;
    }
    return st;
}

static kvbm_status it_bulk_drop(env *e)
{
    KVBM_TRY_BENCH(match_all(e));
    kvbm_status st;
    TIMED_BEGIN(e);
    st = timed_release_each(e);
    TIMED_END(e);
    return st;
}

static kvbm_status it_bulk_drop_many(env *e)
{
    KVBM_TRY_BENCH(match_all(e));
    kvbm_status st;
    TIMED_BEGIN(e);
    st = timed_release_many(e);
    TIMED_END(e);
    return st;
}

static kvbm_status stage_register(env *e)
{
    for (uint32_t i = 0; i < e->n; i++)
        KVBM_TRY_BENCH(kvbm_mutable_stage(e->mut[i], e->hashes[i], BENCH_BLOCK_SIZE, &e->cmp[i],
                                          NULL, NULL));
    return kvbm_manager_register_blocks(e->m, e->cmp, e->n, e->out);
}

static kvbm_status it_alloc_register(env *e)
{
    KVBM_TRY_BENCH(kvbm_manager_allocate(e->m, e->n, e->mut, NULL, NULL));
    KVBM_TRY_BENCH(stage_register(e));
    return release_out(e);
}

static kvbm_status it_alloc_register_many(env *e)
{
    KVBM_TRY_BENCH(kvbm_manager_allocate(e->m, e->n, e->mut, NULL, NULL));
    KVBM_TRY_BENCH(kvbm_mutable_stage_many(e->mut, e->hashes, e->n, BENCH_BLOCK_SIZE, e->cmp));
    KVBM_TRY_BENCH(kvbm_manager_register_blocks(e->m, e->cmp, e->n, e->out));
    return kvbm_block_release_many(e->out, e->n);
}

static kvbm_status it_alloc_evict(env *e)
{
    kvbm_status st;
    {
        TIMED_BEGIN(e);
        st = timed_alloc_evict(e);
        TIMED_END(e);
    }
    if (st != KVBM_OK)
        return st;
    /* untimed refill: the pool is full of inactive blocks again */
    KVBM_TRY_BENCH(kvbm_manager_allocate(e->m, e->n, e->mut, NULL, NULL));
    KVBM_TRY_BENCH(stage_register(e));
    return kvbm_block_release_many(e->out, e->n);
}

typedef kvbm_status (*iter_fn)(env *e);

typedef struct group_desc {
    iter_fn fn;
    bool    build;      /* build_chain in setup */
    bool    keep_held;  /* keep the registered handles (active hit) */
    bool    self_timed;
} group_desc;

static const group_desc groups[BENCH_GROUP_COUNT] = {
    [BENCH_ACTIVE_HIT]     = { it_match_release,  true,  true,  false },
    [BENCH_INACTIVE_HIT]   = { it_match_release,  true,  false, false },
    [BENCH_BULK_DROP]      = { it_bulk_drop,      true,  false, true  },
    [BENCH_BULK_DROP_MANY] = { it_bulk_drop_many, true,  false, true  },
    [BENCH_ALLOC_REGISTER] = { it_alloc_register, false, false, false },
    [BENCH_ALLOC_EVICT]    = { it_alloc_evict,    true,  false, true  },
    [BENCH_ACTIVE_HIT_MANY]   = { it_match_release_many, true, true,  false },
    [BENCH_INACTIVE_HIT_MANY] = { it_match_release_many, true, false, false },
    [BENCH_ALLOC_REGISTER_MANY] = { it_alloc_register_many, false, false, false },
};

/* ---- driver ------------------------------------------------------------------------ */

/* Run k iterations; *ns = time per iteration (timed regions only for self-timed groups).
 * Never inlined, so `valgrind --tool=callgrind --toggle-collect=run_batch` profiles exactly
 * the iterations of batch-timed groups (see docs/perf/manager.md). */
static BENCH_NOINLINE kvbm_status run_batch(env *e, const group_desc *g, uint64_t k,
                                            uint64_t overhead, double *ns)
{
    e->acc_ns = 0;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < k; i++)
        KVBM_TRY_BENCH(g->fn(e));
    uint64_t t1 = now_ns();
    if (g->self_timed) {
        uint64_t corr = overhead * k;
        *ns = e->acc_ns > corr ? (double)(e->acc_ns - corr) / (double)k : 0.0;
    } else {
        *ns = (double)(t1 - t0) / (double)k;
    }
    return KVBM_OK;
}

static double pct(const double *sorted, uint32_t cnt, double p)
{
    double pos = p * (double)(cnt - 1);
    uint32_t lo = (uint32_t)pos;
    double frac = pos - (double)lo;
    if (lo + 1 >= cnt)
        return sorted[cnt - 1];
    return sorted[lo] * (1.0 - frac) + sorted[lo + 1] * frac;
}

static kvbm_status run_cell(const bench_options *o, bench_group gi,
                            bench_backend bi, uint32_t n, uint64_t overhead,
                            bench_cell *c)
{
    const group_desc *g = &groups[gi];
    env e;
    kvbm_status st = env_create(&e, bi, o->tracker, n, g->build);
    if (st != KVBM_OK)
        return st;
    c->tracker = e.tracker;
    if (g->build && !g->keep_held && (st = env_drop_held(&e)) != KVBM_OK)
        goto out;

    uint32_t samples = o->samples != 0 ? o->samples : DEFAULT_SAMPLES;
    uint64_t budget = o->min_sample_ns != 0 ? o->min_sample_ns : DEFAULT_SAMPLE_NS;
    double *v = malloc(samples * sizeof *v);
    if (v == NULL) {
        st = KVBM_ENOMEM;
        goto out;
    }

    /* warm-up + batch calibration */
    uint64_t k = o->iters;
    double ns = 0.0;
    if ((st = run_batch(&e, g, 1, overhead, &ns)) != KVBM_OK)
        goto out_v;
    if (k == 0) {
        k = 1;
        for (;;) {
            uint64_t t0 = now_ns();
            if ((st = run_batch(&e, g, k, overhead, &ns)) != KVBM_OK)
                goto out_v;
            uint64_t spent = g->self_timed ? e.acc_ns : now_ns() - t0;
            if (spent >= budget || k >= MAX_BATCH)
                break;
            uint64_t next = spent > 0 ? k * (budget / spent + 1) : k * 16;
            k = next > k * 16 ? k * 16 : next < k * 2 ? k * 2 : next;
            if (k > MAX_BATCH)
                k = MAX_BATCH;
        }
    }

    for (uint32_t s = 0; s < samples; s++)
        if ((st = run_batch(&e, g, k, overhead, &v[s])) != KVBM_OK)
            goto out_v;
    qsort(v, samples, sizeof v[0], cmp_double);
    c->median_ns = pct(v, samples, 0.5);
    c->p10_ns = pct(v, samples, 0.1);
    c->p90_ns = pct(v, samples, 0.9);
    c->samples = samples;
    c->iterations = k * samples;

    c->allocs_per_iter = -1.0;
    if (o->alloc_counter != NULL) {
        uint64_t a0 = o->alloc_counter();
        e.counter = o->alloc_counter;
        e.acc_allocs = 0;
        uint64_t kk = k < 1000 ? k : 1000;
        if ((st = run_batch(&e, g, kk, overhead, &ns)) != KVBM_OK)
            goto out_v;
        uint64_t a1 = o->alloc_counter();
        e.counter = NULL;
        c->allocs_per_iter = (double)(g->self_timed ? e.acc_allocs : a1 - a0) / (double)kk;
    }
out_v:
    free(v);
out:
    env_destroy(&e);
    return st;
}

static bool selected(uint32_t mask, unsigned i) { return mask == 0 || (mask >> i) & 1u; }

/* Visit every selected cell; with @cells NULL only counts. ids[i] = group << 8 | backend. */
static size_t enumerate(const bench_options *o, bench_cell *cells, unsigned *ids)
{
    const uint32_t *sizes = o->sizes != NULL ? o->sizes : default_sizes;
    size_t n_sizes = o->sizes != NULL ? o->n_sizes : sizeof default_sizes / sizeof default_sizes[0];
    size_t cnt = 0;
    for (unsigned gi = 0; gi < BENCH_GROUP_COUNT; gi++) {
        if (!selected(o->groups, gi))
            continue;
        for (unsigned bi = 0; bi < BENCH_BACKEND_COUNT; bi++) {
            /* active hit does not involve the backend: one row, built on LRU */
            bool active = gi == BENCH_ACTIVE_HIT || gi == BENCH_ACTIVE_HIT_MANY;
            if (active ? bi != BENCH_LRU : !selected(o->backends, bi))
                continue;
            for (size_t si = 0; si < n_sizes; si++) {
                if (cells != NULL) {
                    bench_cell *c = &cells[cnt];
                    memset(c, 0, sizeof *c);
                    c->group = group_names[gi];
                    c->backend = active ? "-" : bench_backend_name((bench_backend)bi);
                    c->n = sizes[si];
                    c->allocs_per_iter = -1.0;
                    ids[cnt] = gi << 8 | bi;
                }
                cnt++;
            }
        }
    }
    return cnt;
}

size_t bench_cell_count(const bench_options *opt)
{
    bench_options d = BENCH_OPTIONS_INIT;
    return enumerate(opt != NULL ? opt : &d, NULL, NULL);
}

kvbm_status bench_run(const bench_options *opt, bench_cell *cells, size_t cap,
                           size_t *n_cells)
{
    bench_options d = BENCH_OPTIONS_INIT;
    const bench_options *o = opt != NULL ? opt : &d;
    if (cells == NULL || n_cells == NULL || (o->sizes != NULL && o->n_sizes == 0) ||
        (unsigned)o->tracker > BENCH_TRACKER_NEVER)
        return KVBM_EINVAL;
    if (o->sizes != NULL)
        for (size_t i = 0; i < o->n_sizes; i++)
            if (o->sizes[i] == 0)
                return KVBM_EINVAL;
    size_t total = enumerate(o, NULL, NULL);
    if (cap < total)
        return KVBM_EINVAL;
    unsigned *ids = malloc((total + 1) * sizeof *ids);
    if (ids == NULL)
        return KVBM_ENOMEM;
    enumerate(o, cells, ids);
    uint64_t overhead = timer_overhead_ns();
    for (size_t i = 0; i < total; i++) {
        bench_cell *c = &cells[i];
        unsigned gi = ids[i] >> 8, bi = ids[i] & 0xffu;
        c->status = run_cell(o, (bench_group)gi, (bench_backend)bi, c->n, overhead, c);
        if (c->status != KVBM_OK) {
            c->median_ns = c->p10_ns = c->p90_ns = 0.0;
            c->iterations = 0;
            c->samples = 0;
        }
        if (o->on_cell != NULL)
            o->on_cell(o->ctx, c);
    }
    free(ids);
    *n_cells = total;
    return KVBM_OK;
}
