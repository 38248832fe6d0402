/* kvbm/stats.h - the stats collector: rates, hit ratios and gradients sampled from one
 * metrics object (spec 10 §6.4).
 *
 * A collector is DISABLED when created: kvbm_stats_sample() does nothing until
 * kvbm_stats_set_enabled(s, true). Each sample reads the metrics, computes against the
 * previous sample (dt in seconds from the collector's clock):
 *   allocation_rate = Δallocations / dt,   eviction_rate = Δevictions / dt,
 *   match_hit_rate  = Δmatch_blocks_returned / Δmatch_hashes_requested (0 if Δrequested == 0),
 *   scan_hit_rate   = Δscan_blocks_returned / Δscan_hashes_requested   (0 likewise),
 *   allocation_gradient = (allocation_rate - previous allocation_rate) / dt, eviction_gradient
 *   likewise; the first sample and a sample with dt == 0 have every rate and gradient 0;
 * the four gauges are copied. Samples go into a ring of window_size entries (window_size 0
 * keeps none: kvbm_stats_latest() then always says KVBM_ENOENT). Disabling does not clear the
 * ring: the first sample after re-enabling measures over the whole gap.
 * An optional sampler thread (kvbm_stats_start) samples every sample_interval, the first
 * time at once; kvbm_stats_stop() wakes and joins it promptly.
 * With kvbm_stats_add_to_aggregator() the latest sample is exported as the gauges
 * kvbm_allocation_rate, kvbm_eviction_rate, kvbm_match_hit_rate, kvbm_scan_hit_rate,
 * kvbm_allocation_gradient and kvbm_eviction_gradient, labelled pool="<metrics label>".
 *
 * Threads: every function may be called from any thread. Locks: one collector mutex
 * (KVBM_RANK_METRICS, a leaf) around the ring; the clock callback is called without it.
 */
#ifndef KVBM_STATS_H
#define KVBM_STATS_H

#include "kvbm/aggregator.h"
#include "kvbm/common.h"
#include "kvbm/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A monotonic clock in nanoseconds (tests pass a controllable one). */
typedef uint64_t (*kvbm_clock_fn)(void *ctx);

#define KVBM_STATS_MAX_WINDOW 1000000u

typedef struct kvbm_stats_config {
    size_t        struct_size;        /* set by the initialiser */
    size_t        window_size;        /* samples kept; 60; at most KVBM_STATS_MAX_WINDOW */
    uint64_t      sample_interval_ns; /* sampler thread period; 1 s; > 0 */
    kvbm_clock_fn clock;              /* NULL: CLOCK_MONOTONIC */
    void         *clock_ctx;          /* passed to clock */
} kvbm_stats_config;

#define KVBM_STATS_CONFIG_INIT { sizeof(kvbm_stats_config), 60, UINT64_C(1000000000), NULL, NULL }

typedef struct kvbm_stats_snapshot {
    double  allocation_rate;     /* blocks/s */
    double  eviction_rate;       /* blocks/s */
    double  match_hit_rate;      /* 0..1 */
    double  scan_hit_rate;       /* 0..1 */
    double  allocation_gradient; /* blocks/s per s */
    double  eviction_gradient;   /* blocks/s per s */
    int64_t inflight_mutable;
    int64_t inflight_immutable;
    int64_t reset_pool_size;
    int64_t inactive_pool_size;
} kvbm_stats_snapshot;

typedef struct kvbm_stats kvbm_stats;

/**
 * kvbm_stats_create() - a disabled collector over @m (the collector takes a reference on
 * @m), configured by @cfg (NULL: defaults; copied). *@out holds one reference.
 * KVBM_OK, KVBM_EINVAL (NULL @m/@out, bad struct_size), KVBM_ECONFIG (window_size above
 * KVBM_STATS_MAX_WINDOW, sample_interval_ns 0; kvbm_last_error() says which), KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_stats_create(kvbm_metrics *m, const kvbm_stats_config *cfg,
                                                      kvbm_stats **out);

/** kvbm_stats_acquire() - one more reference; returns @s. */
KVBM_API kvbm_stats *kvbm_stats_acquire(kvbm_stats *s);

/** kvbm_stats_release() - drop one reference; the last one stops the sampler thread (if
 * running; do not release the last reference from a clock callback) and frees. NULL ok. */
KVBM_API void kvbm_stats_release(kvbm_stats *s);

/** kvbm_stats_set_enabled() / kvbm_stats_is_enabled() - the enabled flag (relaxed atomic). */
KVBM_API void kvbm_stats_set_enabled(kvbm_stats *s, bool enabled);
KVBM_API bool kvbm_stats_is_enabled(const kvbm_stats *s);

/** kvbm_stats_sample() - take one sample now (no-op returning KVBM_OK when disabled).
 * KVBM_OK, KVBM_EINVAL (NULL). */
KVBM_API kvbm_status kvbm_stats_sample(kvbm_stats *s);

/** kvbm_stats_latest() - the last sample's stats into *@out. KVBM_OK, KVBM_ENOENT (no
 * sample kept), KVBM_EINVAL. */
KVBM_API kvbm_status kvbm_stats_latest(kvbm_stats *s, kvbm_stats_snapshot *out);

/** kvbm_stats_window() - the last min(@n, kept) samples' stats into @out[0..], oldest
 * first; *@count receives how many. KVBM_OK, KVBM_EINVAL (NULL, or NULL @out with n > 0). */
KVBM_API kvbm_status kvbm_stats_window(kvbm_stats *s, size_t n, kvbm_stats_snapshot *out,
                                       size_t *count);

/**
 * kvbm_stats_start() - start the sampler thread: kvbm_stats_sample() at once and then every
 * sample_interval_ns (missed ticks are skipped, not bunched). The thread holds no reference:
 * releasing the last reference stops it.
 * It samples only while the collector is enabled (enable it too). KVBM_OK, KVBM_EINVAL,
 * KVBM_ESTATE (already running), KVBM_ENOMEM / KVBM_EIO (thread creation failed).
 */
KVBM_API kvbm_status kvbm_stats_start(kvbm_stats *s);

/** kvbm_stats_stop() - wake and join the sampler thread (returns within one sample, not one
 * interval). No-op when not running. Not from a clock callback. KVBM_OK, KVBM_EINVAL. */
KVBM_API kvbm_status kvbm_stats_stop(kvbm_stats *s);

/**
 * kvbm_stats_add_to_aggregator() - export the latest sample through @a as the six gauges
 * named above (nothing while no sample is kept). A generic aggregator source holding a
 * reference on @s; remove it with kvbm_aggregator_remove_source(a, *@id).
 * KVBM_OK, KVBM_EINVAL, KVBM_ENOMEM.
 */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_stats_add_to_aggregator(kvbm_stats *s, kvbm_aggregator *a,
                                                                 kvbm_source_id *id);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_STATS_H */
