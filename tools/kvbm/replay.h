/* tools/kvbm/replay.h - the trace replay engine (internal API; tests link it).
 *
 * The replay model is fixed so that results are comparable with other implementations:
 *   - a manager with `capacity` blocks, block size B (default 4), duplication Allow, and a
 *     registry with the default TinyLFU tracker preset (KVBM_TRACKER_MEDIUM);
 *   - trace id h at position i of a request becomes the token block [h, h, ..., h] (B
 *     tokens) of one token sequence per request (salt 0), so sequence hashes (PLHs) chain by
 *     prefix: two requests share block i iff they share ids 0..i;
 *   - per request, in file order: match_blocks over all of its hashes; allocate the
 *     unmatched remainder (if that fails: count the request and its remainder as "no room",
 *     store nothing); stage + register the remainder; then release every handle the
 *     request holds, tail first (reverse position order) by default, or head first.
 * Phase 1 (hashing) turns every request into PLHs once, before any manager exists; phase
 * 2 (manager) is the request loop alone, so blocks_per_s measures the manager.
 * Accounting identity, checked after every run:
 *   blocks_requested == blocks_hit + allocations + no_room_blocks
 * and after every run every block is back in the pool (available == capacity, store
 * invariants hold).
 */
#ifndef CLI_REPLAY_H
#define CLI_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvbm/manager.h"
#include "kvbm/plh.h"
#include "kvbm/registry.h"
#include "trace.h"

typedef enum cli_backend {
    CLI_LINEAGE = 0,      /* lineage, Tick leaf policy (library default) */
    CLI_LINEAGE_FIFO,     /* lineage, Fifo leaf policy */
    CLI_LRU,
    CLI_MULTI_LRU,
    CLI_HASHMAP,
    CLI_BACKEND_COUNT
} cli_backend;

/* kvbm_backend_name() of the choice: "lineage", "lineage-fifo", "lru", "multi-lru",
 * "hashmap" ("?" out of range). */
const char *cli_backend_name(cli_backend b);
/* Parse a name with kvbm_backend_parse() (aliases included). 0, or -1 with the library's
 * message in kvbm_last_error(). */
int cli_backend_parse(const char *s, cli_backend *out);

/* Phase 1 output: one PLH per block reference, laid out like the trace. */
typedef struct cli_replay_hashed {
    size_t        n_requests;
    const size_t *offsets;    /* borrowed from the trace (must outlive this) */
    kvbm_plh     *hashes;     /* offsets[n_requests] entries; owned */
    size_t        max_len;
    uint32_t      block_size;
    uint64_t      hash_ns;    /* wall time of the hashing phase */
    uint64_t      unique;     /* distinct PLHs (infinite-cache bound: hits <= refs - unique) */
} cli_replay_hashed;

/* Hash every request of @t with @block_size tokens per block (power of two, 1..1024). */
int  cli_replay_hash(const cli_trace *t, uint32_t block_size, cli_replay_hashed *out,
                      char *err, size_t errlen);
void cli_replay_hashed_free(cli_replay_hashed *h);

/* Reference (slow) hashing of one request through the library's token sequence API, used
 * by tests to cross-check the fast path; writes n PLHs to out. 0 / -1. */
int  cli_replay_hash_request_ref(const uint32_t *ids, size_t n, uint32_t block_size,
                                  kvbm_plh *out);

typedef enum cli_release_order {
    CLI_RELEASE_REVERSE = 0, /* tail first (default) */
    CLI_RELEASE_FORWARD = 1
} cli_release_order;

/* Registry frequency tracker. The replay model uses the default (medium); the others exist
 * for diagnosis and what-if studies (multi-lru requires a tracker). */
typedef enum cli_tracker {
    CLI_TRACKER_MEDIUM = 0, /* TinyLFU 2^21 entries: the default preset */
    CLI_TRACKER_SMALL,      /* TinyLFU 2^18 */
    CLI_TRACKER_LARGE,      /* TinyLFU 2^24 */
    CLI_TRACKER_NONE        /* no tracker */
} cli_tracker;
const char *cli_tracker_name(cli_tracker t);
int cli_tracker_parse(const char *s, cli_tracker *out);

/* Largest capacity the tool accepts: a manager pre-allocates per-block state (~120 bytes a
 * block today), so 2^26 blocks is already ~8 GB; far beyond any trace's distinct blocks. */
#define CLI_REPLAY_MAX_CAPACITY (UINT64_C(1) << 26)

typedef struct cli_replay_config {
    cli_backend  backend;
    uint64_t           capacity;      /* blocks, >= 1 */
    cli_release_order release_order;
    uint32_t           repeat;        /* runs on a fresh manager; timing = median; >= 1 */
    cli_tracker  tracker;       /* 0 = medium (the model's default) */
    bool               breakdown;     /* also time each manager call kind (adds clock reads) */
} cli_replay_config;

/* Manager-phase time per call kind (--breakdown), from the median repeat. */
enum { CLI_STEP_MATCH, CLI_STEP_ALLOCATE, CLI_STEP_STAGE, CLI_STEP_REGISTER, CLI_STEP_RELEASE,
       CLI_STEP_COUNT };
const char *cli_replay_step_name(int step);

typedef struct cli_replay_result {
    cli_backend  backend;
    uint64_t           capacity;
    uint32_t           block_size;
    cli_release_order release_order;
    uint32_t           repeat;
    cli_tracker  tracker;
    uint64_t requests, blocks_requested, blocks_hit;
    uint64_t no_room_requests, no_room_blocks;
    uint64_t evictions, allocations, allocations_from_reset, registrations, duplicate_blocks;
    uint64_t unique_blocks;           /* distinct PLHs in the trace */
    double   hit_rate;                /* blocks_hit / blocks_requested */
    double   hash_ms;                 /* phase 1 */
    double   manager_ms;              /* phase 2, median over repeats */
    double   manager_ms_min;          /* phase 2, fastest repeat */
    double   blocks_per_s;            /* blocks_requested / median manager time */
    double   manager_cpu_ms;          /* phase 2 thread CPU time, median over repeats */
    double   blocks_per_cpu_s;        /* blocks_requested / median manager CPU time */
    bool     pool_restored;           /* available == capacity && invariants OK */
    bool     has_breakdown;
    double   step_ms[CLI_STEP_COUNT]; /* --breakdown: time inside each call kind */
} cli_replay_result;

/**
 * cli_replay_run() - phase 2: build a manager per @cfg and replay @h through it
 * (cfg->repeat times, fresh manager each; counts must agree between repeats).
 * Returns 0 with *res filled; -2 when the library rejects the manager configuration
 * (KVBM_ECONFIG / KVBM_EINVAL: a usage error); -1 otherwise (a manager call failed other
 * than running out of room, counts differed, or a block was not back in the pool).
 */
int cli_replay_run(const cli_replay_hashed *h, const cli_replay_config *cfg,
                    cli_replay_result *res, char *err, size_t errlen);

/* ---- building blocks shared with the two-thread replay (replay_mt.c) ---------------- */

/* Per-pass counts of one replay pass (evictions .. duplicate_blocks come from the manager's
 * metrics: with two threads on one manager they are the manager's totals). */
typedef struct cli_replay_counts {
    uint64_t requests, blocks_requested, blocks_hit, no_room_requests, no_room_blocks;
    uint64_t evictions, allocations, allocations_from_reset, registrations, duplicate_blocks;
} cli_replay_counts;

/* Scratch arrays of one replaying thread, each of at least max_len entries. */
typedef struct cli_replay_work {
    kvbm_block    **blocks; /* handles held by the current request, position order */
    kvbm_block    **rev;    /* the same, reversed (tail-first release) */
    kvbm_mutable  **muts;
    kvbm_complete **comps;
} cli_replay_work;

/* The replay model's registry (cfg->tracker) and a manager of @capacity blocks on @reg
 * (cfg->backend, duplication Allow). 0, or -1 with @err set. The caller releases both. */
int cli_replay_make_registry(const cli_replay_config *cfg, kvbm_registry **out, char *err,
                              size_t errlen);
int cli_replay_make_manager(const cli_replay_config *cfg, uint64_t capacity, uint32_t block_size,
                             kvbm_registry *reg, kvbm_manager **out, char *err, size_t errlen);

/* One pass of the request loop over @h on @m (thread-safe for distinct @w and @c: several
 * threads may replay on one manager). *@ns / *@cpu_ns: wall and thread CPU time; @steps
 * (NULL: off) accumulates per call kind. 0, or -1 with @err set. */
int cli_replay_once(kvbm_manager *m, const cli_replay_hashed *h, cli_release_order order,
                     cli_replay_work *w, cli_replay_counts *c, uint64_t *ns, uint64_t *cpu_ns,
                     uint64_t *steps, char *err, size_t errlen);

/* An observer of the managers cli_replay_run builds (kvbm replay --metrics-port/--stats,
 * observe.c): start() right after a manager is created, done() right before it is
 * destroyed (after the pool check). Both run on the replaying thread, outside the request
 * loop, so they cost nothing per request. */
typedef struct cli_replay_observer {
    void (*start)(void *ctx, kvbm_manager *m, const cli_replay_config *cfg);
    void (*done)(void *ctx, kvbm_manager *m);
    void *ctx;
} cli_replay_observer;

/* Install @o (NULL: none) for later runs; process-wide, not thread-safe (the CLI sets it
 * once before replaying). */
void cli_replay_set_observer(const cli_replay_observer *o);

#endif /* CLI_REPLAY_H */
