/* src/metrics/metrics_int.h - metrics internals shared with the store (not installed).
 *
 * struct kvbm_metrics: one relaxed atomic per field of KVBM_METRICS_FIELDS (counters are
 * stored as u64, gauges as i64 bit patterns in the same array), a refcount and the label.
 * Updates are single relaxed RMWs: no lock, no allocation. */
#ifndef KVBM_METRICS_INT_H
#define KVBM_METRICS_INT_H

#include "internal.h"
#include "kvbm/metrics.h"

struct kvbm_metrics {
    _Atomic int64_t v[KVBM_METRIC_COUNT];
    atomic_int      refs;
    char            label[]; /* NUL-terminated copy */
};

static inline void kvbm__metric_add(kvbm_metrics *m, kvbm_metric_id id, int64_t delta)
{
    atomic_fetch_add_explicit(&m->v[id], delta, memory_order_relaxed);
}
static inline void kvbm__metric_set(kvbm_metrics *m, kvbm_metric_id id, int64_t value)
{
    atomic_store_explicit(&m->v[id], value, memory_order_relaxed);
}
static inline int64_t kvbm__metric_get(const kvbm_metrics *m, kvbm_metric_id id)
{
    return atomic_load_explicit(&((kvbm_metrics *)m)->v[id], memory_order_relaxed);
}

#endif
