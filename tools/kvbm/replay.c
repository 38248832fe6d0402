/* tools/kvbm/replay.c - phase 1 (hashing) and phase 2 (manager replay) of `kvbm replay`. */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "kvbm/manager.h"
#include "kvbm/registry.h"
#include "kvbm/tokens.h"
#include "kvbm/tracker.h"
#include "util.h"

/* The tool's backend choices in display order; names come from the library
 * (kvbm_backend_name / kvbm_backend_parse, kvbm/config.h). */
static const struct {
    kvbm_backend          backend;
    kvbm_lineage_eviction eviction;
} choices[CLI_BACKEND_COUNT] = {
    [CLI_LINEAGE]      = { KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_TICK },
    [CLI_LINEAGE_FIFO] = { KVBM_BACKEND_LINEAGE,   KVBM_LINEAGE_FIFO },
    [CLI_LRU]          = { KVBM_BACKEND_LRU,       KVBM_LINEAGE_TICK },
    [CLI_MULTI_LRU]    = { KVBM_BACKEND_MULTI_LRU, KVBM_LINEAGE_TICK },
    [CLI_HASHMAP]      = { KVBM_BACKEND_HASHMAP,   KVBM_LINEAGE_TICK },
};

const char *cli_backend_name(cli_backend b)
{
    return (unsigned)b < CLI_BACKEND_COUNT ? kvbm_backend_name(choices[b].backend, choices[b].eviction) : "?";
}

int cli_backend_parse(const char *s, cli_backend *out)
{
    kvbm_backend kb;
    kvbm_lineage_eviction ke;
    if (kvbm_backend_parse(s, &kb, &ke) != KVBM_OK) return -1;
    for (int i = 0; i < CLI_BACKEND_COUNT; i++)
        if (choices[i].backend == kb && choices[i].eviction == ke) { *out = (cli_backend)i; return 0; }
    return -1;
}

static const char *const tracker_names[] = { "medium", "small", "large", "none" };

const char *cli_tracker_name(cli_tracker t)
{
    return (unsigned)t <= CLI_TRACKER_NONE ? tracker_names[t] : "?";
}

int cli_tracker_parse(const char *s, cli_tracker *out)
{
    for (int i = 0; i <= CLI_TRACKER_NONE; i++)
        if (strcmp(s, tracker_names[i]) == 0) { *out = (cli_tracker)i; return 0; }
    return -1;
}

/* ---- phase 1: hashing ------------------------------------------------------------ */

static bool block_size_ok(uint32_t bs) { return bs >= 1 && bs <= 1024 && (bs & (bs - 1)) == 0; }

/* Expand ids into the token array [id0 x bs, id1 x bs, ...]. */
static void expand_tokens(const uint32_t *ids, size_t n, uint32_t bs, uint32_t *tokens)
{
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < bs; j++) *tokens++ = ids[i];
}

int cli_replay_hash_request_ref(const uint32_t *ids, size_t n, uint32_t block_size, kvbm_plh *out)
{
    if (!block_size_ok(block_size)) return -1;
    if (n == 0) return 0;
    uint32_t *tokens = malloc(n * block_size * sizeof *tokens);
    kvbm_token_seq *seq = NULL;
    size_t got = 0;
    int rc = -1;
    if (tokens == NULL) return -1;
    expand_tokens(ids, n, block_size, tokens);
    if (kvbm_token_seq_create(tokens, n * block_size, block_size, 0, &seq) == KVBM_OK &&
        kvbm_token_seq_plhs(seq, out, n, &got) == KVBM_OK && got == n)
        rc = 0;
    kvbm_token_seq_destroy(seq);
    free(tokens);
    return rc;
}

/* Distinct PLHs: open addressing over a power-of-two table (0/0 marks empty; a real
 * PLH 0/0 would be the root of current hash 0 and is counted separately). */
static int count_unique(const kvbm_plh *h, size_t n, uint64_t *out)
{
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    kvbm_plh *tab = calloc(cap, sizeof *tab);
    if (tab == NULL) return -1;
    uint64_t uniq = 0;
    bool zero_seen = false;
    for (size_t i = 0; i < n; i++) {
        if (h[i].hi == 0 && h[i].lo == 0) {
            if (!zero_seen) { zero_seen = true; uniq++; }
            continue;
        }
        size_t j = (size_t)kvbm_plh_hash64(h[i]) & (cap - 1);
        for (;;) {
            if (tab[j].hi == 0 && tab[j].lo == 0) { tab[j] = h[i]; uniq++; break; }
            if (kvbm_plh_eq(tab[j], h[i])) break;
            j = (j + 1) & (cap - 1);
        }
    }
    free(tab);
    *out = uniq;
    return 0;
}

int cli_replay_hash(const cli_trace *t, uint32_t block_size, cli_replay_hashed *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!block_size_ok(block_size))
        return cli_fail(err, errlen,
                              "block size must be a power of 2 between 1 and 1024, got %u", block_size);
    size_t total = cli_trace_blocks(t);
    if (t->max_len > KVBM_PLH_MAX_POSITION + 1)
        return cli_fail(err, errlen, "a request has %zu blocks; at most %llu are supported",
                              t->max_len, (unsigned long long)KVBM_PLH_MAX_POSITION + 1);
    out->hashes = malloc((total ? total : 1) * sizeof *out->hashes);
    if (out->hashes == NULL) return cli_fail(err, errlen, "out of memory (%zu hashes)", total);
    out->n_requests = t->n_requests;
    out->offsets = t->offsets;
    out->max_len = t->max_len;
    out->block_size = block_size;

    uint32_t *tokens = malloc((t->max_len ? t->max_len : 1) * block_size * sizeof *tokens);
    if (tokens == NULL) {
        cli_replay_hashed_free(out);
        return cli_fail(err, errlen, "out of memory");
    }
    uint64_t t0 = cli_now_ns();
    for (size_t r = 0; r < t->n_requests; r++) {
        size_t n = t->offsets[r + 1] - t->offsets[r];
        if (n == 0) continue;
        expand_tokens(t->ids + t->offsets[r], n, block_size, tokens);
        size_t got = 0;
        kvbm_status st = kvbm_tokens_hash_blocks(tokens, n * block_size, block_size, 0, NULL, NULL,
                                                 NULL, out->hashes + t->offsets[r], n, &got);
        if (st != KVBM_OK || got != n) {
            free(tokens);
            cli_replay_hashed_free(out);
            return cli_fail(err, errlen, "request %zu: hashing failed: %s", r + 1,
                                  kvbm_strerror(st));
        }
    }
    out->hash_ns = cli_now_ns() - t0;
    free(tokens);
    if (count_unique(out->hashes, total, &out->unique) != 0) {
        cli_replay_hashed_free(out);
        return cli_fail(err, errlen, "out of memory");
    }
    return 0;
}

void cli_replay_hashed_free(cli_replay_hashed *h)
{
    if (h == NULL) return;
    free(h->hashes);
    memset(h, 0, sizeof *h);
}

/* ---- phase 2: the manager loop --------------------------------------------------- */

static const char *const step_names[CLI_STEP_COUNT] = {
    "match", "allocate", "stage", "register", "release"
};
const char *cli_replay_step_name(int step)
{
    return step >= 0 && step < CLI_STEP_COUNT ? step_names[step] : "?";
}

typedef cli_replay_counts run_counts;
typedef cli_replay_work work;

int cli_replay_make_registry(const cli_replay_config *cfg, kvbm_registry **out, char *err,
                             size_t errlen)
{
    kvbm_tracker *tr = NULL;
    kvbm_status st = KVBM_OK;
    switch (cfg->tracker) {
    case CLI_TRACKER_MEDIUM: st = kvbm_tinylfu_create_preset(KVBM_TRACKER_MEDIUM, &tr); break;
    case CLI_TRACKER_SMALL:  st = kvbm_tinylfu_create_preset(KVBM_TRACKER_SMALL, &tr); break;
    case CLI_TRACKER_LARGE:  st = kvbm_tinylfu_create_preset(KVBM_TRACKER_LARGE, &tr); break;
    case CLI_TRACKER_NONE:   break;
    default: return cli_fail(err, errlen, "unknown tracker %d", (int)cfg->tracker);
    }
    if (st != KVBM_OK)
        return cli_fail(err, errlen, "cannot create the TinyLFU tracker: %s", kvbm_strerror(st));
    kvbm_registry_config rc = KVBM_REGISTRY_CONFIG_INIT;
    rc.tracker = tr;
    st = kvbm_registry_create(&rc, out);
    kvbm_tracker_release(tr); /* the registry holds its own reference */
    if (st != KVBM_OK)
        return cli_fail(err, errlen, "cannot create the registry: %s", kvbm_strerror(st));
    return 0;
}

int cli_replay_make_manager(const cli_replay_config *cfg, uint64_t capacity, uint32_t block_size,
                            kvbm_registry *reg, kvbm_manager **out, char *err, size_t errlen)
{
    kvbm_manager_config mc = KVBM_MANAGER_CONFIG_INIT;
    mc.registry = reg;
    mc.block_count = capacity;
    mc.block_size = block_size;
    mc.duplication_policy = KVBM_DUP_ALLOW;
    if ((unsigned)cfg->backend >= CLI_BACKEND_COUNT)
        return cli_fail(err, errlen, "unknown backend %d", (int)cfg->backend);
    mc.backend = choices[cfg->backend].backend;
    mc.lineage_eviction = choices[cfg->backend].eviction;
    mc.metrics_label = "replay";
    kvbm_clear_last_error();
    kvbm_status st = kvbm_manager_create(&mc, out);
    if (st != KVBM_OK) {
        /* the library's detail message, or the status text when it left none */
        const char *detail = kvbm_last_error();
        cli_fail(err, errlen, "cannot create a %s manager with %llu blocks: %s",
                 cli_backend_name(cfg->backend), (unsigned long long)capacity,
                 detail[0] ? detail : kvbm_strerror(st));
        return st == KVBM_ECONFIG || st == KVBM_EINVAL ? -2 : -1;
    }
    return 0;
}

/* A registry and a manager of cfg->capacity blocks on it (the manager holds the registry). */
static int make_manager(const cli_replay_config *cfg, uint32_t block_size, kvbm_manager **out,
                        char *err, size_t errlen)
{
    kvbm_registry *reg = NULL;
    if (cli_replay_make_registry(cfg, &reg, err, errlen) != 0) return -1;
    int rc = cli_replay_make_manager(cfg, cfg->capacity, block_size, reg, out, err, errlen);
    kvbm_registry_release(reg); /* the manager holds its own reference */
    return rc;
}

static int release_held(work *w, size_t n, cli_release_order order)
{
    if (n == 0) return 0;
    if (order == CLI_RELEASE_FORWARD) return kvbm_block_release_many(w->blocks, n) == KVBM_OK ? 0 : -1;
    for (size_t i = 0; i < n; i++) w->rev[i] = w->blocks[n - 1 - i];
    return kvbm_block_release_many(w->rev, n) == KVBM_OK ? 0 : -1;
}

/* One full pass over the trace on manager @m. */
/* --breakdown: accumulate the time since *last into step[k]. */
#define STEP(k) do { if (steps != NULL) { uint64_t now_ = cli_now_ns();           \
                                          steps[k] += now_ - last; last = now_; } } while (0)

int cli_replay_once(kvbm_manager *m, const cli_replay_hashed *h, cli_release_order order,
                    work *w, run_counts *c, uint64_t *ns, uint64_t *cpu_ns, uint64_t *steps,
                    char *err, size_t errlen)
{
    const uint32_t bs = h->block_size;
    memset(c, 0, sizeof *c);
    uint64_t cpu0 = cli_thread_cpu_ns();
    uint64_t t0 = cli_now_ns(), last = t0;
    for (size_t r = 0; r < h->n_requests; r++) {
        const kvbm_plh *hs = h->hashes + h->offsets[r];
        size_t n = h->offsets[r + 1] - h->offsets[r];
        c->requests++;
        c->blocks_requested += n;
        if (n == 0) continue;
        size_t k = 0;
        if (steps != NULL) last = cli_now_ns();
        kvbm_status st = kvbm_manager_match_blocks(m, hs, n, w->blocks, &k);
        STEP(CLI_STEP_MATCH);
        if (st != KVBM_OK)
            return cli_fail(err, errlen, "request %zu: match_blocks: %s", r + 1, kvbm_strerror(st));
        c->blocks_hit += k;
        size_t rem = n - k;
        if (rem > 0) {
            st = kvbm_manager_allocate(m, rem, w->muts, NULL, NULL);
            STEP(CLI_STEP_ALLOCATE);
            if (st == KVBM_EEXHAUSTED) {
                c->no_room_requests++;
                c->no_room_blocks += rem;
                if (release_held(w, k, order) != 0)
                    return cli_fail(err, errlen, "request %zu: release failed", r + 1);
                STEP(CLI_STEP_RELEASE);
                continue;
            }
            if (st != KVBM_OK)
                return cli_fail(err, errlen, "request %zu: allocate(%zu): %s", r + 1, rem,
                                      kvbm_strerror(st));
            if (steps == NULL) { /* stage + register in one store-lock section, as the
                                    sequence layer completes blocks (same transitions) */
                st = kvbm_manager_stage_register_blocks(m, w->muts, hs + k, rem, bs, w->blocks + k, NULL);
            } else { /* --breakdown times the two steps apart */
                st = kvbm_mutable_stage_many(w->muts, hs + k, rem, bs, w->comps);
                if (st != KVBM_OK)
                    return cli_fail(err, errlen, "request %zu: stage: %s", r + 1, kvbm_strerror(st));
                STEP(CLI_STEP_STAGE);
                st = kvbm_manager_register_blocks(m, w->comps, rem, w->blocks + k);
            }
            STEP(CLI_STEP_REGISTER);
            if (st != KVBM_OK)
                return cli_fail(err, errlen, "request %zu: register: %s", r + 1,
                                      kvbm_strerror(st));
        }
        if (release_held(w, n, order) != 0)
            return cli_fail(err, errlen, "request %zu: release failed", r + 1);
        STEP(CLI_STEP_RELEASE);
    }
    *ns = cli_now_ns() - t0;
    *cpu_ns = cli_thread_cpu_ns() - cpu0;

    kvbm_metrics_snapshot s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    (void)kvbm_metrics_snapshot_get(kvbm_manager_metrics(m), &s);
    c->evictions = s.evictions;
    c->allocations = s.allocations;
    c->allocations_from_reset = s.allocations_from_reset;
    c->registrations = s.registrations;
    c->duplicate_blocks = s.duplicate_blocks;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const cli_replay_observer *observer;

void cli_replay_set_observer(const cli_replay_observer *o) { observer = o; }

int cli_replay_run(const cli_replay_hashed *h, const cli_replay_config *cfg,
                    cli_replay_result *res, char *err, size_t errlen)
{
    if (cfg->capacity == 0)
        return cli_fail(err, errlen, "capacity must be at least 1 block");
    if (cfg->capacity > CLI_REPLAY_MAX_CAPACITY || cfg->capacity > KVBM_MAX_BLOCK_COUNT)
        return cli_fail(err, errlen, "capacity %llu is too large (the replay accepts at most "
                              "%llu blocks)", (unsigned long long)cfg->capacity,
                              (unsigned long long)CLI_REPLAY_MAX_CAPACITY);
    uint32_t repeat = cfg->repeat ? cfg->repeat : 1;
    size_t ml = h->max_len ? h->max_len : 1;
    work w = { malloc(ml * sizeof *w.blocks), malloc(ml * sizeof *w.rev),
               malloc(ml * sizeof *w.muts), malloc(ml * sizeof *w.comps) };
    uint64_t *times = malloc(repeat * sizeof *times), *cpus = malloc(repeat * sizeof *cpus);
    uint64_t (*steps)[CLI_STEP_COUNT] = calloc(repeat, sizeof *steps);
    int rc = -1;
    run_counts first = { 0 };
    if (!w.blocks || !w.rev || !w.muts || !w.comps || !times || !cpus || !steps) {
        cli_fail(err, errlen, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < repeat; i++) {
        kvbm_manager *m = NULL;
        run_counts c;
        if ((rc = make_manager(cfg, h->block_size, &m, err, errlen)) != 0) goto out;
        rc = -1;
        if (observer != NULL && observer->start != NULL) observer->start(observer->ctx, m, cfg);
        int ok = cli_replay_once(m, h, cfg->release_order, &w, &c, &times[i], &cpus[i],
                             cfg->breakdown ? steps[i] : NULL, err, errlen);
        if (ok == 0) {
            uint64_t avail = kvbm_manager_available_blocks(m);
            kvbm_status inv = kvbm_manager_check_invariants(m);
            if (avail != cfg->capacity || inv != KVBM_OK) {
                cli_fail(err, errlen,
                               "pool check failed after the replay: %llu of %llu blocks available, "
                               "invariants: %s%s%s",
                               (unsigned long long)avail, (unsigned long long)cfg->capacity,
                               kvbm_strerror(inv), inv != KVBM_OK ? ": " : "",
                               inv != KVBM_OK ? kvbm_last_error() : "");
                ok = -1;
            } else if (c.blocks_requested != c.blocks_hit + c.allocations + c.no_room_blocks) {
                cli_fail(err, errlen,
                               "accounting mismatch: requested %llu != hit %llu + allocated %llu + "
                               "no-room %llu",
                               (unsigned long long)c.blocks_requested, (unsigned long long)c.blocks_hit,
                               (unsigned long long)c.allocations, (unsigned long long)c.no_room_blocks);
                ok = -1;
            }
        }
        if (observer != NULL && observer->done != NULL) observer->done(observer->ctx, m);
        kvbm_manager_destroy(m);
        if (ok != 0) goto out;
        if (i == 0) {
            first = c;
        } else if (memcmp(&first, &c, sizeof c) != 0) {
            cli_fail(err, errlen, "repeat %u gave different counts than repeat 1", i + 1);
            goto out;
        }
    }
    uint64_t tmin = times[0];
    for (uint32_t i = 1; i < repeat; i++) if (times[i] < tmin) tmin = times[i];
    /* the breakdown comes from the repeat whose total is the (upper) median */
    uint32_t imed = 0;
    {
        uint64_t *sorted = malloc(repeat * sizeof *sorted);
        if (sorted == NULL) { cli_fail(err, errlen, "out of memory"); goto out; }
        memcpy(sorted, times, repeat * sizeof *sorted);
        qsort(sorted, repeat, sizeof *sorted, cmp_u64);
        for (uint32_t i = 0; i < repeat; i++) if (times[i] == sorted[repeat / 2]) imed = i;
        memcpy(times, sorted, repeat * sizeof *sorted);
        free(sorted);
    }
    uint64_t tmed = repeat % 2 ? times[repeat / 2] : (times[repeat / 2 - 1] + times[repeat / 2]) / 2;
    qsort(cpus, repeat, sizeof *cpus, cmp_u64);
    uint64_t cmed = repeat % 2 ? cpus[repeat / 2] : (cpus[repeat / 2 - 1] + cpus[repeat / 2]) / 2;

    memset(res, 0, sizeof *res);
    res->backend = cfg->backend;
    res->capacity = cfg->capacity;
    res->block_size = h->block_size;
    res->release_order = cfg->release_order;
    res->repeat = repeat;
    res->tracker = cfg->tracker;
    res->requests = first.requests;
    res->blocks_requested = first.blocks_requested;
    res->blocks_hit = first.blocks_hit;
    res->no_room_requests = first.no_room_requests;
    res->no_room_blocks = first.no_room_blocks;
    res->evictions = first.evictions;
    res->allocations = first.allocations;
    res->allocations_from_reset = first.allocations_from_reset;
    res->registrations = first.registrations;
    res->duplicate_blocks = first.duplicate_blocks;
    res->unique_blocks = h->unique;
    res->hit_rate = first.blocks_requested ? (double)first.blocks_hit / (double)first.blocks_requested : 0.0;
    res->hash_ms = (double)h->hash_ns / 1e6;
    res->manager_ms = (double)tmed / 1e6;
    res->manager_ms_min = (double)tmin / 1e6;
    res->blocks_per_s = tmed ? (double)first.blocks_requested / ((double)tmed / 1e9) : 0.0;
    res->manager_cpu_ms = (double)cmed / 1e6;
    res->blocks_per_cpu_s = cmed ? (double)first.blocks_requested / ((double)cmed / 1e9) : 0.0;
    res->pool_restored = true;
    res->has_breakdown = cfg->breakdown;
    for (int k = 0; k < CLI_STEP_COUNT; k++) res->step_ms[k] = (double)steps[imed][k] / 1e6;
    rc = 0;
out:
    free(w.blocks); free(w.rev); free(w.muts); free(w.comps);
    free(times);
    free(cpus);
    free(steps);
    return rc;
}
