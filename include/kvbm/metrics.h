/* kvbm/metrics.h - per-manager block pool metrics (spec 10 §6.1): counters and gauges.
 *
 * One table (KVBM_METRICS_FIELDS) drives the snapshot struct, the metric ids and every
 * emitter (Prometheus text, CLI, Python). Values are relaxed atomics: a snapshot is read
 * field by field, not a consistent cut. Counters are monotonic u64; gauges are i64 (they
 * may go transiently negative only for stores not built through kvbm_manager_create).
 * Threads: any thread, lock-free.
 */
#ifndef KVBM_METRICS_H
#define KVBM_METRICS_H

#include "kvbm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* C(name, help) counters then G(name, help) gauges; Prometheus names are kvbm_<name>
 * (counters carry _total in their name already where the reference does). */
#define KVBM_METRICS_FIELDS(C, G)                                                              \
    C(allocations,            "kvbm_allocations_total",            "Total blocks allocated from pools") \
    C(allocations_from_reset, "kvbm_allocations_from_reset_total", "Total blocks allocated from the reset pool") \
    C(evictions,              "kvbm_evictions_total",              "Total blocks evicted from inactive pool") \
    C(registrations,          "kvbm_registrations_total",          "Total blocks registered (CompleteBlock -> ImmutableBlock)") \
    C(duplicate_blocks,       "kvbm_duplicate_blocks_total",       "Total duplicate blocks created (Allow policy)") \
    C(registration_dedup,     "kvbm_registration_dedup_total",     "Total block registrations deduplicated (Reject policy)") \
    C(stagings,               "kvbm_stagings_total",               "Total MutableBlock -> CompleteBlock transitions") \
    C(match_hashes_requested, "kvbm_match_hashes_requested_total", "Total hashes requested in match_blocks calls") \
    C(match_blocks_returned,  "kvbm_match_blocks_returned_total",  "Total blocks returned from match_blocks calls") \
    C(scan_hashes_requested,  "kvbm_scan_hashes_requested_total",  "Total hashes requested in scan_matches calls") \
    C(scan_blocks_returned,   "kvbm_scan_blocks_returned_total",   "Total blocks returned from scan_matches calls") \
    C(eager_primary_to_inactive, "kvbm_eager_primary_to_inactive_total", "Lookup-driven Primary\xe2\x86\x92Inactive transitions (race-window branch \xe2\x80\x94 sustained non-zero rate is a hot-contention signal)") \
    C(allocate_atomic_rollback, "kvbm_allocate_atomic_rollback_total", "Atomic-allocation rollbacks due to inactive backend under-allocation (should be 0 in production; non-zero indicates a backend invariant violation)") \
    C(release_primary_noop,   "kvbm_release_primary_noop_total",   "ImmutableBlockInner drop transitions that no-op'd because a concurrent lookup already eagerly transitioned the slot") \
    C(release_duplicate_noop, "kvbm_release_duplicate_noop_total", "Duplicate-block drop transitions that no-op'd due to slot-identity mismatch") \
    G(inflight_mutable,       "kvbm_inflight_mutable",             "Current MutableBlocks held outside pool") \
    G(inflight_immutable,     "kvbm_inflight_immutable",           "Current ImmutableBlocks held outside pool") \
    G(reset_pool_size,        "kvbm_reset_pool_size",              "Current reset pool size") \
    G(inactive_pool_size,     "kvbm_inactive_pool_size",           "Current inactive pool size")

#define KVBM__METRIC_ID(name, prom, help) KVBM_METRIC_##name,
typedef enum kvbm_metric_id {
    KVBM_METRICS_FIELDS(KVBM__METRIC_ID, KVBM__METRIC_ID)
    KVBM_METRIC_COUNT
} kvbm_metric_id;
#undef KVBM__METRIC_ID
/* Counts derived from the table itself: a field appended with C() is a counter, with G() a
 * gauge, wherever it stands (kvbm_metric_is_counter() reads the kind of each id from the
 * same table). */
#define KVBM__METRIC_ONE(name, prom, help) +1
#define KVBM__METRIC_NONE(name, prom, help)
#define KVBM_METRICS_NUM_COUNTERS (0 KVBM_METRICS_FIELDS(KVBM__METRIC_ONE, KVBM__METRIC_NONE))
#define KVBM_METRICS_NUM_GAUGES   (0 KVBM_METRICS_FIELDS(KVBM__METRIC_NONE, KVBM__METRIC_ONE))

typedef struct kvbm_metrics_snapshot {
    size_t struct_size; /* caller sets (KVBM_METRICS_SNAPSHOT_INIT); filled up to min(size, sizeof) */
#define KVBM__SNAP_C(name, prom, help) uint64_t name;
#define KVBM__SNAP_G(name, prom, help) int64_t name;
    KVBM_METRICS_FIELDS(KVBM__SNAP_C, KVBM__SNAP_G)
#undef KVBM__SNAP_C
#undef KVBM__SNAP_G
} kvbm_metrics_snapshot;
#define KVBM_METRICS_SNAPSHOT_INIT { .struct_size = sizeof(kvbm_metrics_snapshot) } /* designated: no -Wmissing-field-initializers */

typedef struct kvbm_metrics kvbm_metrics;

/** New metrics object with @label (copied; the Prometheus `pool` label). One reference. */
KVBM_API KVBM_NODISCARD kvbm_status kvbm_metrics_create(const char *label, kvbm_metrics **out);
KVBM_API kvbm_metrics *kvbm_metrics_clone(kvbm_metrics *m);
KVBM_API void          kvbm_metrics_release(kvbm_metrics *m);
KVBM_API const char   *kvbm_metrics_label(const kvbm_metrics *m); /* borrowed, lives with m */

/** Add @delta to a counter (delta must be >= 0) or gauge (any sign). KVBM_EINVAL on bad id. */
KVBM_API kvbm_status kvbm_metrics_add(kvbm_metrics *m, kvbm_metric_id id, int64_t delta);
/** Set a gauge (KVBM_EINVAL for a counter id). */
KVBM_API kvbm_status kvbm_metrics_set(kvbm_metrics *m, kvbm_metric_id id, int64_t value);
/** Read one value (counters as int64 bit pattern of the u64). */
KVBM_API int64_t     kvbm_metrics_get(const kvbm_metrics *m, kvbm_metric_id id);
/** Copy every field; @out->struct_size must be set. */
KVBM_API kvbm_status kvbm_metrics_snapshot_get(const kvbm_metrics *m, kvbm_metrics_snapshot *out);

/** Metadata from the table: field name ("allocations"), Prometheus name, help, is-counter. */
KVBM_API const char *kvbm_metric_name(kvbm_metric_id id);
KVBM_API const char *kvbm_metric_prom_name(kvbm_metric_id id);
KVBM_API const char *kvbm_metric_help(kvbm_metric_id id);
KVBM_API bool        kvbm_metric_is_counter(kvbm_metric_id id);

#ifdef __cplusplus
}
#endif
#endif /* KVBM_METRICS_H */
