/* src/metrics/metrics.c - block pool metrics objects and the field table. */
#include <string.h>

#include "metrics/metrics_int.h"

/* ---- per-thread metric shards (see metrics_int.h) ---- */
_Thread_local int kvbm__tl_mshard = KVBM__MSHARD_UNSET; /* default TLS model: metrics_int.h */
static pthread_mutex_t mshard_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t        mshard_used;  /* bitmap of owned indices */
static pthread_key_t   mshard_key;
static pthread_once_t  mshard_once = PTHREAD_ONCE_INIT;
_Atomic int kvbm__mshard_hwm;

static void mshard_release(void *arg)
{
    int i = (int)(intptr_t)arg - 1;
    kvbm__tl_mshard = KVBM__MSHARD_NONE; /* runs in the exiting thread: later updates use RMW */
    pthread_mutex_lock(&mshard_lock);
    mshard_used &= ~(UINT32_C(1) << i);
    pthread_mutex_unlock(&mshard_lock);
}

static void mshard_init(void) { (void)pthread_key_create(&mshard_key, mshard_release); }

int kvbm__mshard_acquire(void)
{
    pthread_once(&mshard_once, mshard_init);
    int got = KVBM__MSHARD_NONE;
    pthread_mutex_lock(&mshard_lock);
    for (int i = 0; i < KVBM__MSHARDS; i++) {
        if (!(mshard_used & (UINT32_C(1) << i))) {
            mshard_used |= UINT32_C(1) << i;
            got = i;
            if (atomic_load_explicit(&kvbm__mshard_hwm, memory_order_relaxed) < i + 1)
                atomic_store_explicit(&kvbm__mshard_hwm, i + 1, memory_order_release); /* under mshard_lock */
            break;
        }
    }
    pthread_mutex_unlock(&mshard_lock);
    if (got >= 0 && pthread_setspecific(mshard_key, (void *)(intptr_t)(got + 1)) != 0) {
        mshard_release((void *)(intptr_t)(got + 1));
        got = KVBM__MSHARD_NONE;
    }
    kvbm__tl_mshard = got;
    return got;
}

void kvbm__metric_add_slow(kvbm_metrics *m, kvbm_metric_id id, int64_t delta)
{
    int i = kvbm__tl_mshard;
    if (i == KVBM__MSHARD_UNSET) i = kvbm__mshard_acquire();
    if (i >= 0) {
        _Atomic int64_t *c = &m->shard[i].v[id];
        atomic_store_explicit(c, (int64_t)((uint64_t)atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)delta),
                              memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&m->v[id], delta, memory_order_relaxed);
}

#define M_NAME(name, prom, help) #name,
#define M_PROM(name, prom, help) prom,
#define M_HELP(name, prom, help) help,
#define M_IS_C(name, prom, help) true,
#define M_IS_G(name, prom, help) false,
static const char *const metric_names[] = { KVBM_METRICS_FIELDS(M_NAME, M_NAME) };
static const char *const metric_prom[]  = { KVBM_METRICS_FIELDS(M_PROM, M_PROM) };
static const char *const metric_help[]  = { KVBM_METRICS_FIELDS(M_HELP, M_HELP) };
static const bool        metric_counter[] = { KVBM_METRICS_FIELDS(M_IS_C, M_IS_G) };

_Static_assert(sizeof metric_counter / sizeof metric_counter[0] == KVBM_METRIC_COUNT,
               "one kind per metric id");
_Static_assert(KVBM_METRICS_NUM_COUNTERS + KVBM_METRICS_NUM_GAUGES == KVBM_METRIC_COUNT,
               "every field is a counter or a gauge");
_Static_assert(KVBM_METRICS_NUM_COUNTERS == 15 && KVBM_METRICS_NUM_GAUGES == 4,
               "spec 10 §6.1: 15 counters, 4 gauges (update the spec table and the docs too)");
_Static_assert(KVBM__MSHARD_SLOTS >= KVBM_METRIC_COUNT, "a shard holds every field");

static bool valid_id(kvbm_metric_id id) { return (unsigned)id < KVBM_METRIC_COUNT; }

const char *kvbm_metric_name(kvbm_metric_id id) { return valid_id(id) ? metric_names[id] : NULL; }
const char *kvbm_metric_prom_name(kvbm_metric_id id) { return valid_id(id) ? metric_prom[id] : NULL; }
const char *kvbm_metric_help(kvbm_metric_id id) { return valid_id(id) ? metric_help[id] : NULL; }
bool kvbm_metric_is_counter(kvbm_metric_id id) { return valid_id(id) && metric_counter[id]; }

static kvbm_status bad_id(const char *fn, kvbm_metric_id id)
{
    kvbm__set_error("%s: metric id %d out of range 0..%d", fn, (int)id, KVBM_METRIC_COUNT - 1);
    return KVBM_EINVAL;
}

kvbm_status kvbm_metrics_create(const char *label, kvbm_metrics **out)
{
    if (label == NULL || out == NULL) {
        kvbm__set_error("kvbm_metrics_create: NULL %s", label == NULL ? "label" : "out");
        return KVBM_EINVAL;
    }
    size_t len = strlen(label);
    size_t size = (sizeof(kvbm_metrics) + len + 1 + 63) / 64 * 64; /* aligned_alloc: a multiple of 64 */
    kvbm_metrics *m = kvbm__aligned_alloc(64, size);
    if (m == NULL) {
        kvbm__set_error("kvbm_metrics_create: out of memory (%zu bytes)", size);
        return KVBM_ENOMEM;
    }
    memset(m, 0, size);
    for (int i = 0; i < KVBM_METRIC_COUNT; i++) atomic_init(&m->v[i], 0);
    for (int i = 0; i < KVBM__MSHARDS; i++)
        for (int k = 0; k < KVBM__MSHARD_SLOTS; k++) atomic_init(&m->shard[i].v[k], 0);
    atomic_init(&m->refs, 1);
    memcpy(m->label, label, len + 1);
    *out = m;
    return KVBM_OK;
}

kvbm_metrics *kvbm_metrics_clone(kvbm_metrics *m)
{
    if (m != NULL) atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void kvbm_metrics_release(kvbm_metrics *m)
{
    if (m == NULL) return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) kvbm__free(m);
}

const char *kvbm_metrics_label(const kvbm_metrics *m) { return m != NULL ? m->label : NULL; }

kvbm_status kvbm_metrics_add(kvbm_metrics *m, kvbm_metric_id id, int64_t delta)
{
    if (m == NULL) { kvbm__set_error("kvbm_metrics_add: NULL metrics"); return KVBM_EINVAL; }
    if (!valid_id(id)) return bad_id("kvbm_metrics_add", id);
    if (metric_counter[id] && delta < 0) {
        kvbm__set_error("kvbm_metrics_add: negative delta %lld for counter %s", (long long)delta,
                        metric_names[id]);
        return KVBM_EINVAL;
    }
    kvbm__metric_add(m, id, delta);
    return KVBM_OK;
}

kvbm_status kvbm_metrics_set(kvbm_metrics *m, kvbm_metric_id id, int64_t value)
{
    if (m == NULL) { kvbm__set_error("kvbm_metrics_set: NULL metrics"); return KVBM_EINVAL; }
    if (!valid_id(id)) return bad_id("kvbm_metrics_set", id);
    if (metric_counter[id]) {
        kvbm__set_error("kvbm_metrics_set: %s is a counter (only gauges can be set)", metric_names[id]);
        return KVBM_EINVAL;
    }
    kvbm__metric_set(m, id, value);
    return KVBM_OK;
}

int64_t kvbm_metrics_get(const kvbm_metrics *m, kvbm_metric_id id)
{
    if (m == NULL || !valid_id(id)) return 0;
    return kvbm__metric_get(m, id);
}

kvbm_status kvbm_metrics_snapshot_get(const kvbm_metrics *m, kvbm_metrics_snapshot *out)
{
    if (m == NULL || out == NULL || out->struct_size < sizeof(size_t)) {
        kvbm__set_error("kvbm_metrics_snapshot_get: NULL argument or struct_size unset");
        return KVBM_EINVAL;
    }
    kvbm_metrics_snapshot s;
    memset(&s, 0, sizeof s);
    s.struct_size = out->struct_size;
#define SNAP(name, prom, help) s.name = (int64_t)kvbm__metric_get(m, KVBM_METRIC_##name);
    KVBM_METRICS_FIELDS(SNAP, SNAP)
#undef SNAP
    size_t n = out->struct_size < sizeof s ? out->struct_size : sizeof s;
    memcpy(out, &s, n);
    return KVBM_OK;
}
