/* src/metrics/metrics_int.h - metrics internals shared with the store (not installed).
 *
 * struct kvbm_metrics: one relaxed atomic per field of KVBM_METRICS_FIELDS (counters are
 * stored as u64, gauges as i64 bit patterns in the same array), a refcount and the label.
 * Updates are single relaxed RMWs: no lock, no allocation. */
#ifndef KVBM_METRICS_INT_H
#define KVBM_METRICS_INT_H

#include "internal.h"
#include "kvbm/metrics.h"

/* The two in-flight gauges change on every handle operation. They use single-writer
 * per-thread shards: an update is a relaxed load + store on the calling thread's shard
 * (no locked RMW); readers add every shard to v[id]. A thread takes a shard index from a
 * global pool at its first update and returns it at exit (pthread key destructor; the next
 * owner continues the same running sums, the pool mutex orders the handoff). Threads
 * beyond KVBM__MSHARDS fall back to the RMW on v[id]. */
#define KVBM__MSHARDS 32
#define KVBM__MSHARD_NONE (-1)
#define KVBM__MSHARD_UNSET (-2)

struct kvbm__mshard {
    _Atomic int64_t g[2]; /* inflight_mutable, inflight_immutable */
    char            pad_[64 - 2 * sizeof(int64_t)];
};

struct kvbm_metrics {
    _Atomic int64_t     v[KVBM_METRIC_COUNT];
    atomic_int          refs;
    struct kvbm__mshard shard[KVBM__MSHARDS];
    char                label[]; /* NUL-terminated copy */
};

extern _Thread_local int kvbm__tl_mshard __attribute__((tls_model("initial-exec")));
int kvbm__mshard_acquire(void); /* sets kvbm__tl_mshard; KVBM__MSHARD_NONE if none left */

static inline int kvbm__mshard_gauge(kvbm_metric_id id)
{
    return id == KVBM_METRIC_inflight_mutable ? 0 : id == KVBM_METRIC_inflight_immutable ? 1 : -1;
}

static inline void kvbm__metric_add(kvbm_metrics *m, kvbm_metric_id id, int64_t delta)
{
    int g = kvbm__mshard_gauge(id);
    if (g >= 0) {
        int i = kvbm__tl_mshard;
        if (KVBM_UNLIKELY(i == KVBM__MSHARD_UNSET)) i = kvbm__mshard_acquire();
        if (KVBM_LIKELY(i >= 0)) {
            _Atomic int64_t *c = &m->shard[i].g[g];
            atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
                                  memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&m->v[id], delta, memory_order_relaxed);
}
static inline int64_t kvbm__mshard_sum(const kvbm_metrics *m, int g)
{
    int64_t sum = 0;
    for (int i = 0; i < KVBM__MSHARDS; i++)
        sum += atomic_load_explicit(&((kvbm_metrics *)m)->shard[i].g[g], memory_order_relaxed);
    return sum;
}
static inline void kvbm__metric_set(kvbm_metrics *m, kvbm_metric_id id, int64_t value)
{
    int g = kvbm__mshard_gauge(id);
    atomic_store_explicit(&m->v[id], g >= 0 ? value - kvbm__mshard_sum(m, g) : value,
                          memory_order_relaxed);
}
static inline int64_t kvbm__metric_get(const kvbm_metrics *m, kvbm_metric_id id)
{
    int g = kvbm__mshard_gauge(id);
    int64_t v = atomic_load_explicit(&((kvbm_metrics *)m)->v[id], memory_order_relaxed);
    return g >= 0 ? v + kvbm__mshard_sum(m, g) : v;
}

#endif
