/* src/metrics/metrics_int.h - metrics internals shared with the store (not installed).
 *
 * struct kvbm_metrics: one relaxed atomic per field of KVBM_METRICS_FIELDS (counters are
 * stored as u64, gauges as i64 bit patterns in the same array), per-thread shards of the
 * same fields, a refcount and the label. Updates never lock or allocate. */
#ifndef KVBM_METRICS_INT_H
#define KVBM_METRICS_INT_H

#include "internal.h"
#include "kvbm/metrics.h"

/* Every field uses single-writer per-thread shards: an update is a relaxed load + store on
 * the calling thread's shard (no locked RMW on a line shared by all threads); readers add
 * every shard to v[id]. A thread takes a shard index from a global pool at its first update
 * and returns it at exit (pthread key destructor; the next owner continues the same running
 * sums, the pool mutex orders the handoff). Threads beyond KVBM__MSHARDS fall back to the
 * RMW on v[id]. Counters stay monotonic for a reader (each shard is monotonic and read with
 * coherent loads). Gauge set: v[id] = value - sum of the shards. */
#define KVBM__MSHARDS 32
#define KVBM__MSHARD_NONE (-1)
#define KVBM__MSHARD_UNSET (-2)
#define KVBM__MSHARD_SLOTS ((KVBM_METRIC_COUNT + 7) / 8 * 8) /* whole cache lines */

struct kvbm__mshard {
    _Alignas(64) _Atomic int64_t v[KVBM__MSHARD_SLOTS];
};

struct kvbm_metrics {
    _Atomic int64_t     v[KVBM_METRIC_COUNT];
    atomic_int          refs;
    struct kvbm__mshard shard[KVBM__MSHARDS]; /* 64-byte aligned (aligned_alloc) */
    char                label[]; /* NUL-terminated copy */
};

/* Default TLS model on purpose: tls_model("initial-exec") flags every object linked with
 * it STATIC_TLS, and glibc then refuses to dlopen it when its whole TLS block (2 KB with
 * the events batch buffer) exceeds the small static surplus - the Python extension failed
 * to import with "cannot allocate memory in static TLS block". Executables linked with
 * libkvbm.a still get local-exec access through the linker's TLS relaxation. */
extern _Thread_local int kvbm__tl_mshard;
/* 1 + the highest shard index ever handed out (only grows): readers sum shards below it.
 * A reader that sees a stale (smaller) value misses only updates it could not be ordered
 * after anyway, and the value it sees never shrinks, so counters stay monotonic. */
extern _Atomic int kvbm__mshard_hwm;
int kvbm__mshard_acquire(void); /* sets kvbm__tl_mshard; KVBM__MSHARD_NONE if none left */

/* First update of a thread (takes a shard) or a thread without a shard (RMW on v[id]). */
void kvbm__metric_add_slow(kvbm_metrics *m, kvbm_metric_id id, int64_t delta);

/* The update on the calling thread's shard; false (nothing done) if it has none yet. */
static inline bool kvbm__metric_try_add(kvbm_metrics *m, kvbm_metric_id id, int64_t delta)
{
    int i = kvbm__tl_mshard;
    if (KVBM_UNLIKELY(i < 0)) return false;
    _Atomic int64_t *c = &m->shard[i].v[id];
    /* u64 arithmetic: counters are u64 (wrap, never signed overflow) */
    atomic_store_explicit(c, (int64_t)((uint64_t)atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)delta),
                          memory_order_relaxed);
    return true;
}

static inline void kvbm__metric_add(kvbm_metrics *m, kvbm_metric_id id, int64_t delta)
{
    if (KVBM_LIKELY(kvbm__metric_try_add(m, id, delta))) return;
    kvbm__metric_add_slow(m, id, delta);
}
static inline int64_t kvbm__mshard_sum(const kvbm_metrics *m, kvbm_metric_id id)
{
    uint64_t sum = 0;
    int hwm = atomic_load_explicit(&kvbm__mshard_hwm, memory_order_acquire);
    for (int i = 0; i < hwm; i++)
        sum += (uint64_t)atomic_load_explicit(&((kvbm_metrics *)m)->shard[i].v[id], memory_order_relaxed);
    return (int64_t)sum;
}
static inline void kvbm__metric_set(kvbm_metrics *m, kvbm_metric_id id, int64_t value)
{
    atomic_store_explicit(&m->v[id], (int64_t)((uint64_t)value - (uint64_t)kvbm__mshard_sum(m, id)),
                          memory_order_relaxed);
}
static inline int64_t kvbm__metric_get(const kvbm_metrics *m, kvbm_metric_id id)
{
    int64_t v = atomic_load_explicit(&((kvbm_metrics *)m)->v[id], memory_order_relaxed);
    return (int64_t)((uint64_t)v + (uint64_t)kvbm__mshard_sum(m, id));
}

/* Every field at once (out[id]), shard-major: one pass over each used shard's line(s)
 * instead of one pass over every shard per field. */
static inline void kvbm__metrics_read_all(const kvbm_metrics *m, int64_t out[KVBM_METRIC_COUNT])
{
    kvbm_metrics *mm = (kvbm_metrics *)m;
    uint64_t acc[KVBM_METRIC_COUNT];
    for (int k = 0; k < KVBM_METRIC_COUNT; k++)
        acc[k] = (uint64_t)atomic_load_explicit(&mm->v[k], memory_order_relaxed);
    int hwm = atomic_load_explicit(&kvbm__mshard_hwm, memory_order_acquire);
    for (int i = 0; i < hwm; i++)
        for (int k = 0; k < KVBM_METRIC_COUNT; k++)
            acc[k] += (uint64_t)atomic_load_explicit(&mm->shard[i].v[k], memory_order_relaxed);
    for (int k = 0; k < KVBM_METRIC_COUNT; k++) out[k] = (int64_t)acc[k];
}

#endif
