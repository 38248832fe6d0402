/* src/metrics/metrics.c - block pool metrics objects and the field table. */
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_int.h"

/* ---- per-thread metric shards (see metrics_int.h) ---- */
_Thread_local int kvbm__tl_mshard __attribute__((tls_model("initial-exec"))) = KVBM__MSHARD_UNSET;
static pthread_mutex_t mshard_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t        mshard_used;  /* bitmap of owned indices */
static pthread_key_t   mshard_key;
static pthread_once_t  mshard_once = PTHREAD_ONCE_INIT;

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
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
                              memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&m->v[id], delta, memory_order_relaxed);
}

#define M_NAME(name, prom, help) #name,
#define M_PROM(name, prom, help) prom,
#define M_HELP(name, prom, help) help,
static const char *const metric_names[] = { KVBM_METRICS_FIELDS(M_NAME, M_NAME) };
static const char *const metric_prom[]  = { KVBM_METRICS_FIELDS(M_PROM, M_PROM) };
static const char *const metric_help[]  = { KVBM_METRICS_FIELDS(M_HELP, M_HELP) };

static bool valid_id(kvbm_metric_id id) { return (unsigned)id < KVBM_METRIC_COUNT; }

const char *kvbm_metric_name(kvbm_metric_id id) { return valid_id(id) ? metric_names[id] : NULL; }
const char *kvbm_metric_prom_name(kvbm_metric_id id) { return valid_id(id) ? metric_prom[id] : NULL; }
const char *kvbm_metric_help(kvbm_metric_id id) { return valid_id(id) ? metric_help[id] : NULL; }
bool kvbm_metric_is_counter(kvbm_metric_id id)
{
    return valid_id(id) && (unsigned)id < KVBM_METRICS_NUM_COUNTERS;
}

kvbm_status kvbm_metrics_create(const char *label, kvbm_metrics **out)
{
    if (label == NULL || out == NULL)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (label == NULL || out == NULL)", __func__);
    size_t len = strlen(label);
    size_t size = (sizeof(kvbm_metrics) + len + 1 + 63) / 64 * 64; /* aligned_alloc: a multiple of 64 */
    kvbm_metrics *m = kvbm__aligned_alloc(64, size);
    if (m == NULL) return KVBM_ENOMEM;
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
    if (m == NULL || !valid_id(id))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (m == NULL || !valid_id(id))", __func__);
    if (kvbm_metric_is_counter(id) && delta < 0)
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (kvbm_metric_is_counter(id) && delta < 0)", __func__);
    kvbm__metric_add(m, id, delta);
    return KVBM_OK;
}

kvbm_status kvbm_metrics_set(kvbm_metrics *m, kvbm_metric_id id, int64_t value)
{
    if (m == NULL || !valid_id(id) || kvbm_metric_is_counter(id))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (m == NULL || !valid_id(id) || kvbm_metric_is_counter(id))", __func__);
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
    if (m == NULL || out == NULL || out->struct_size < sizeof(size_t))
        return KVBM_FAIL(KVBM_EINVAL, "%s: invalid argument (m == NULL || out == NULL || out->struct_size < sizeof(size_t))", __func__);
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
