/* bench/matrix/matrix.h - the block-manager benchmark matrix (spec 10 §7.9, issue 2 item 10,
 * issue 4 item 7) as a small reusable API.
 *
 * Used by bench/bench_manager.c (table with the Rust reference values) and linked into
 * `kvbm bench` (CSV). Everything here is single-threaded and runs on the caller's thread.
 *
 * Cells are (group, backend, n). Every cell builds its own registry and manager
 * (block size 4) and destroys them afterwards; nothing is shared between cells.
 *
 * Groups (per iteration; every iteration releases every handle it obtained):
 *   match_blocks_active_hit   n registered handles are held; time match_blocks(all n)
 *                             + n x kvbm_block_release (non-final, lock-free).
 *                             Backend-independent: reported with backend "-" (built on LRU).
 *   match_blocks_inactive_hit the chain is inactive; time match_blocks(all n) (n
 *                             resurrections) + n x kvbm_block_release (n inactive inserts).
 *   bulk_drop                 untimed match_blocks(all n) from the inactive pool; time
 *                             n x kvbm_block_release (each one final: n inactive inserts).
 *   bulk_drop_many            as bulk_drop, timing one kvbm_block_release_many(n).
 *   alloc_register_cycle      manager of n blocks; time allocate(n) (evicts the previous
 *                             iteration's n inactive blocks), stage n distinct precomputed
 *                             hashes, register_blocks(n), n x kvbm_block_release.
 *   alloc_evict               eviction-heavy: the inactive pool is full (n of n); time
 *                             allocate(n) (n evictions) + n x kvbm_mutable_release; the
 *                             refill (allocate, stage, register, release_many) is untimed.
 *   match_blocks_active_hit_many, match_blocks_inactive_hit_many
 *                             the two hit groups with the returned handles dropped by one
 *                             kvbm_block_release_many(n) instead of n kvbm_block_release
 *                             (the C batch API; the plain groups mirror the reference's
 *                             element-wise Vec drop).
 *   alloc_register_cycle_many alloc_register_cycle with the batch calls:
 *                             kvbm_mutable_stage_many(n) and kvbm_block_release_many(n).
 *
 * Setup (build_chain): registry, manager with n blocks of 4 tokens, the chained token
 * sequence 0..4n-1 with salt 1337 (kvbm_token_seq_create), n blocks allocated one by one,
 * completed with the sequence's token blocks (kvbm_mutable_complete) and registered in
 * one call. alloc_register_cycle stages the same n PLHs (kvbm_mutable_stage).
 * Frequency tracker: by default the registry gets a TinyLFU tracker (Medium preset) only
 * for multi-lru, which requires one (BENCH_TRACKER_AUTO). With a tracker,
 * match_blocks touches it once per returned block.
 *
 * Timing: clock_gettime(CLOCK_MONOTONIC). A sample runs a batch of iterations sized so that
 * it lasts >= min_sample_ns (or exactly `iters`); the cell reports the median (and p10/p90)
 * of the per-iteration mean of each sample. Groups with untimed per-iteration setup
 * (bulk_drop*, alloc_evict) time each iteration separately and subtract the measured
 * timer overhead (median of back-to-back clock reads).
 */
#ifndef BENCH_MATRIX_H
#define BENCH_MATRIX_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "kvbm/common.h"
#include "kvbm/plh.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bench_group {
    BENCH_ACTIVE_HIT = 0,   /* "match_blocks_active_hit" */
    BENCH_INACTIVE_HIT,     /* "match_blocks_inactive_hit" */
    BENCH_BULK_DROP,        /* "bulk_drop" */
    BENCH_BULK_DROP_MANY,   /* "bulk_drop_many" */
    BENCH_ALLOC_REGISTER,   /* "alloc_register_cycle" */
    BENCH_ALLOC_EVICT,      /* "alloc_evict" */
    BENCH_ACTIVE_HIT_MANY,  /* "match_blocks_active_hit_many" */
    BENCH_INACTIVE_HIT_MANY,/* "match_blocks_inactive_hit_many" */
    BENCH_ALLOC_REGISTER_MANY, /* "alloc_register_cycle_many" */
    BENCH_GROUP_COUNT
} bench_group;

/* Every group name, in enum order, for help texts ('\n' between lines; a test checks it
 * against bench_group_name()). */
#define BENCH_GROUP_LIST                                                        \
    "match_blocks_active_hit, match_blocks_inactive_hit, bulk_drop,\n"          \
    "bulk_drop_many, alloc_register_cycle, alloc_evict,\n"                       \
    "match_blocks_active_hit_many, match_blocks_inactive_hit_many,\n"           \
    "alloc_register_cycle_many"

typedef enum bench_backend {
    BENCH_LRU = 0,          /* "lru" (names: kvbm_backend_name) */
    BENCH_MULTI_LRU,        /* "multi-lru" */
    BENCH_LINEAGE_TICK,     /* "lineage" */
    BENCH_LINEAGE_FIFO,     /* "lineage-fifo" */
    BENCH_HASHMAP,          /* "hashmap" */
    BENCH_BACKEND_COUNT
} bench_backend;

typedef enum bench_tracker {
    BENCH_TRACKER_AUTO = 0, /* TinyLFU only where the backend requires it (multi-lru) */
    BENCH_TRACKER_ALWAYS,   /* every registry gets a TinyLFU tracker */
    BENCH_TRACKER_NEVER     /* no tracker (multi-lru cells then fail with ECONFIG) */
} bench_tracker;

/** One result. Strings are static. */
typedef struct bench_cell {
    const char *group;      /* bench_group_name() */
    const char *backend;    /* bench_backend_name(), or "-" (active hit) */
    uint32_t    n;          /* blocks per iteration */
    bool        tracker;    /* the registry had a frequency tracker */
    kvbm_status status;     /* KVBM_OK, or the library error that made the cell unavailable
                               (e.g. a backend not built yet); the numbers are then 0 */
    double      median_ns;  /* median over samples of ns per iteration */
    double      p10_ns, p90_ns;
    uint64_t    iterations; /* timed iterations in total */
    uint32_t    samples;
    double      allocs_per_iter; /* heap allocations per timed iteration, -1 if not counted */
} bench_cell;

/** Optional heap-allocation counter (monotonic count of malloc-family calls). */
typedef uint64_t (*bench_alloc_counter)(void);

typedef struct bench_options {
    uint32_t        groups;     /* bitmask of 1u << bench_group; 0 = all */
    uint32_t        backends;   /* bitmask of 1u << bench_backend; 0 = all */
    const uint32_t *sizes;      /* NULL = {8, 32, 128} */
    size_t          n_sizes;
    uint32_t        samples;    /* samples per cell; 0 = 31 */
    uint64_t        min_sample_ns; /* time budget per sample; 0 = 200000 (200 us) */
    uint64_t        iters;      /* != 0: exactly this many iterations per sample
                                   (overrides min_sample_ns; e.g. 1 under valgrind) */
    bench_tracker tracker;
    /* Called after each cell (progress output); may be NULL. */
    void (*on_cell)(void *ctx, const bench_cell *cell);
    void *ctx;
    /* If non-NULL, cells report allocs_per_iter (one extra counting pass per cell). */
    bench_alloc_counter alloc_counter;
} bench_options;

#define BENCH_OPTIONS_INIT \
    { 0, 0, NULL, 0, 0, 0, 0, BENCH_TRACKER_AUTO, NULL, NULL, NULL }

/** Number of cells bench_run() produces for @opt (NULL = defaults). */
size_t bench_cell_count(const bench_options *opt);

/**
 * bench_run() - run every selected cell in order group -> backend -> size.
 * @cells: caller array of >= bench_cell_count(opt) entries; *@n_cells receives the
 * number written. A cell whose setup fails (unbuilt backend, ...) is still written, with
 * its status; the run continues. Returns KVBM_OK, KVBM_EINVAL (NULL/bad option, cells too
 * small), KVBM_ENOMEM.
 */
kvbm_status bench_run(const bench_options *opt, bench_cell *cells,
                           size_t cap, size_t *n_cells);

/** Static names; NULL for out-of-range values. */
const char *bench_group_name(bench_group g);
const char *bench_backend_name(bench_backend b);

/**
 * bench_parse_list() - parse a comma list of group or backend names ("all" allowed)
 * into a bitmask. @backends selects the name table. Returns false on an unknown name.
 */
bool bench_parse_list(const char *list, bool backends, uint32_t *mask);

/**
 * bench_chain_hashes() - the PLHs of the benchmark chain: tokens 0..4n-1, block
 * size 4, salt 1337 (out[0..n)). Returns KVBM_OK, KVBM_EINVAL, KVBM_ERANGE, KVBM_ENOMEM.
 */
kvbm_status bench_chain_hashes(uint32_t n, kvbm_plh *out);

/**
 * bench_reference_ns() - the Rust reference median for a cell (spec issue 2/4 values,
 * 2-core AMD EPYC), or 0 when the reference has no such cell. @backend may be "-".
 */
double bench_reference_ns(const char *group, const char *backend, uint32_t n);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_MATRIX_H */
