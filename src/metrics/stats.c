/* src/metrics/stats.c - the stats collector (spec 10 §6.4): a ring of samples, the rate
 * arithmetic, an optional sampler thread and the aggregator export. */
#include <errno.h>
#include <time.h>

#include "kvbm/stats.h"
#include "metrics/metrics_int.h"

typedef struct entry {
    uint64_t            t;     /* ns */
    uint64_t            alloc, evict, m_req, m_ret, s_req, s_ret;
    kvbm_stats_snapshot stats;
} entry;

struct kvbm_stats {
    atomic_int        refs;
    atomic_bool       enabled;
    kvbm_metrics     *m;
    kvbm_stats_config cfg;
    kvbm__mutex        lock;  /* KVBM_RANK_METRICS: ring, head, len */
    entry            *ring;  /* cfg.window_size entries */
    size_t            head;  /* index of the oldest */
    size_t            len;
    /* sampler thread */
    pthread_mutex_t   th_lock; /* unranked, leaf: running, stop */
    pthread_cond_t    th_cond; /* CLOCK_MONOTONIC */
    pthread_t         thread;
    bool              running, stop;
};

static uint64_t mono_ns(void *ctx)
{
    (void)ctx;
    return kvbm__now_ns();
}

kvbm_status kvbm_stats_create(kvbm_metrics *m, const kvbm_stats_config *cfg, kvbm_stats **out)
{
    static const kvbm_stats_config defaults = KVBM_STATS_CONFIG_INIT;
    if (out != NULL) *out = NULL;
    if (m == NULL || out == NULL || (cfg != NULL && cfg->struct_size != sizeof *cfg)) {
        kvbm__set_error("kvbm_stats_create: %s", m == NULL ? "NULL metrics" : out == NULL ? "NULL out"
                                                 : "cfg->struct_size is not sizeof(kvbm_stats_config)");
        return KVBM_EINVAL;
    }
    kvbm_stats_config c = cfg != NULL ? *cfg : defaults;
    if (c.window_size > KVBM_STATS_MAX_WINDOW) {
        kvbm__set_error("kvbm_stats_create: window_size %zu above %u", c.window_size, KVBM_STATS_MAX_WINDOW);
        return KVBM_ECONFIG;
    }
    if (c.sample_interval_ns == 0) {
        kvbm__set_error("kvbm_stats_create: sample_interval_ns must be > 0");
        return KVBM_ECONFIG;
    }
    if (c.clock == NULL) c.clock = mono_ns;
    kvbm_stats *s = kvbm__calloc(1, sizeof *s);
    entry *ring = c.window_size ? kvbm__calloc(c.window_size, sizeof *ring) : NULL;
    bool cond_ok = s != NULL && (ring != NULL || c.window_size == 0) && kvbm__cond_init_monotonic(&s->th_cond) == 0;
    if (!cond_ok) {
        kvbm__free(ring);
        kvbm__free(s);
        kvbm__set_error("kvbm_stats_create: out of memory");
        return KVBM_ENOMEM;
    }
    atomic_init(&s->refs, 1);
    atomic_init(&s->enabled, false);
    s->m = kvbm_metrics_clone(m);
    s->cfg = c;
    s->ring = ring;
    kvbm__mutex_init(&s->lock, KVBM_RANK_METRICS);
    pthread_mutex_init(&s->th_lock, NULL);
    *out = s;
    return KVBM_OK;
}

kvbm_stats *kvbm_stats_acquire(kvbm_stats *s)
{
    if (s != NULL) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void kvbm_stats_release(kvbm_stats *s)
{
    if (s == NULL) return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    (void)kvbm_stats_stop(s); /* the sampler thread holds no reference */
    pthread_cond_destroy(&s->th_cond);
    pthread_mutex_destroy(&s->th_lock);
    kvbm__mutex_destroy(&s->lock);
    kvbm_metrics_release(s->m);
    kvbm__free(s->ring);
    kvbm__free(s);
}

void kvbm_stats_set_enabled(kvbm_stats *s, bool enabled)
{
    if (s != NULL) atomic_store_explicit(&s->enabled, enabled, memory_order_relaxed);
}

bool kvbm_stats_is_enabled(const kvbm_stats *s)
{
    return s != NULL && atomic_load_explicit(&((kvbm_stats *)s)->enabled, memory_order_relaxed);
}

static double rate(uint64_t now, uint64_t prev, double dt) { return (double)(now - prev) / dt; }
static double ratio(uint64_t ret, uint64_t ret0, uint64_t req, uint64_t req0)
{
    return req > req0 ? (double)(ret - ret0) / (double)(req - req0) : 0.0;
}

kvbm_status kvbm_stats_sample(kvbm_stats *s)
{
    if (s == NULL) {
        kvbm__set_error("kvbm_stats_sample: NULL stats");
        return KVBM_EINVAL;
    }
    if (!kvbm_stats_is_enabled(s)) return KVBM_OK;
    entry e;
    e.t = s->cfg.clock(s->cfg.clock_ctx);
#define GETU(f) ((uint64_t)kvbm__metric_get(s->m, KVBM_METRIC_##f))
    e.alloc = GETU(allocations);
    e.evict = GETU(evictions);
    e.m_req = GETU(match_hashes_requested);
    e.m_ret = GETU(match_blocks_returned);
    e.s_req = GETU(scan_hashes_requested);
    e.s_ret = GETU(scan_blocks_returned);
#undef GETU
    kvbm_stats_snapshot *st = &e.stats;
    *st = (kvbm_stats_snapshot){ 0 };
    st->inflight_mutable = kvbm__metric_get(s->m, KVBM_METRIC_inflight_mutable);
    st->inflight_immutable = kvbm__metric_get(s->m, KVBM_METRIC_inflight_immutable);
    st->reset_pool_size = kvbm__metric_get(s->m, KVBM_METRIC_reset_pool_size);
    st->inactive_pool_size = kvbm__metric_get(s->m, KVBM_METRIC_inactive_pool_size);
    size_t cap = s->cfg.window_size;
    kvbm__lock(&s->lock);
    if (s->len > 0) {
        const entry *p = &s->ring[(s->head + s->len - 1) % cap];
        if (e.t > p->t) {
            double dt = (double)(e.t - p->t) / 1e9;
            st->allocation_rate = rate(e.alloc, p->alloc, dt);
            st->eviction_rate = rate(e.evict, p->evict, dt);
            st->match_hit_rate = ratio(e.m_ret, p->m_ret, e.m_req, p->m_req);
            st->scan_hit_rate = ratio(e.s_ret, p->s_ret, e.s_req, p->s_req);
            st->allocation_gradient = (st->allocation_rate - p->stats.allocation_rate) / dt;
            st->eviction_gradient = (st->eviction_rate - p->stats.eviction_rate) / dt;
        }
    }
    if (cap > 0) { /* push; drop the oldest beyond window_size */
        if (s->len == cap) {
            s->ring[s->head] = e;
            s->head = (s->head + 1) % cap;
        } else {
            s->ring[(s->head + s->len) % cap] = e;
            s->len++;
        }
    }
    kvbm__unlock(&s->lock);
    return KVBM_OK;
}

kvbm_status kvbm_stats_latest(kvbm_stats *s, kvbm_stats_snapshot *out)
{
    if (s == NULL || out == NULL) {
        kvbm__set_error("kvbm_stats_latest: NULL %s", s == NULL ? "stats" : "out");
        return KVBM_EINVAL;
    }
    kvbm_status st = KVBM_ENOENT;
    kvbm__lock(&s->lock);
    if (s->len > 0) {
        *out = s->ring[(s->head + s->len - 1) % s->cfg.window_size].stats;
        st = KVBM_OK;
    }
    kvbm__unlock(&s->lock);
    if (st != KVBM_OK) kvbm__set_error("kvbm_stats_latest: no sample yet");
    return st;
}

kvbm_status kvbm_stats_window(kvbm_stats *s, size_t n, kvbm_stats_snapshot *out, size_t *count)
{
    if (s == NULL || count == NULL || (out == NULL && n > 0)) {
        kvbm__set_error("kvbm_stats_window: NULL %s", s == NULL ? "stats" : count == NULL ? "count" : "out");
        return KVBM_EINVAL;
    }
    kvbm__lock(&s->lock);
    size_t k = n < s->len ? n : s->len;
    for (size_t i = 0; i < k; i++)
        out[i] = s->ring[(s->head + s->len - k + i) % s->cfg.window_size].stats;
    kvbm__unlock(&s->lock);
    *count = k;
    return KVBM_OK;
}

/* ---- sampler thread ------------------------------------------------------------------ */

static void *sampler(void *arg)
{
    kvbm_stats *s = arg;
    uint64_t next = mono_ns(NULL);
    pthread_mutex_lock(&s->th_lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->th_lock);
        (void)kvbm_stats_sample(s);
        uint64_t now = mono_ns(NULL);
        next += s->cfg.sample_interval_ns;
        if (next < now) next = now + s->cfg.sample_interval_ns - (now - next) % s->cfg.sample_interval_ns;
        struct timespec ts = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };
        pthread_mutex_lock(&s->th_lock);
        while (!s->stop && pthread_cond_timedwait(&s->th_cond, &s->th_lock, &ts) != ETIMEDOUT) {}
    }
    pthread_mutex_unlock(&s->th_lock);
    return NULL;
}

kvbm_status kvbm_stats_start(kvbm_stats *s)
{
    if (s == NULL) {
        kvbm__set_error("kvbm_stats_start: NULL stats");
        return KVBM_EINVAL;
    }
    pthread_mutex_lock(&s->th_lock);
    if (s->running) {
        pthread_mutex_unlock(&s->th_lock);
        kvbm__set_error("kvbm_stats_start: the sampler thread is already running");
        return KVBM_ESTATE;
    }
    s->stop = false;
    int rc = pthread_create(&s->thread, NULL, sampler, s);
    s->running = rc == 0;
    pthread_mutex_unlock(&s->th_lock);
    if (rc != 0) {
        kvbm__set_error("kvbm_stats_start: pthread_create failed (errno %d)", rc);
        return rc == EAGAIN || rc == ENOMEM ? KVBM_ENOMEM : KVBM_EIO;
    }
    return KVBM_OK;
}

kvbm_status kvbm_stats_stop(kvbm_stats *s)
{
    if (s == NULL) {
        kvbm__set_error("kvbm_stats_stop: NULL stats");
        return KVBM_EINVAL;
    }
    pthread_mutex_lock(&s->th_lock);
    if (!s->running) {
        pthread_mutex_unlock(&s->th_lock);
        return KVBM_OK;
    }
    s->stop = true;
    s->running = false;
    pthread_t th = s->thread;
    pthread_cond_broadcast(&s->th_cond);
    pthread_mutex_unlock(&s->th_lock);
    pthread_join(th, NULL);
    return KVBM_OK;
}

/* ---- aggregator export ---------------------------------------------------------------- */

#define STATS_GAUGES(X)                                                                                  \
    X(allocation_rate, "kvbm_allocation_rate", "Blocks allocated per second over the last stats sample interval") \
    X(eviction_rate, "kvbm_eviction_rate", "Blocks evicted from the inactive pool per second over the last stats sample interval") \
    X(match_hit_rate, "kvbm_match_hit_rate", "Fraction of match_blocks hashes that returned a block over the last stats sample interval") \
    X(scan_hit_rate, "kvbm_scan_hit_rate", "Fraction of scan_matches hashes that returned a block over the last stats sample interval") \
    X(allocation_gradient, "kvbm_allocation_gradient", "Change of the allocation rate per second between the last two stats samples") \
    X(eviction_gradient, "kvbm_eviction_gradient", "Change of the eviction rate per second between the last two stats samples")

#define S_DESC(f, name, help) { name, help, KVBM_METRIC_TYPE_GAUGE },
static const kvbm_metric_desc stats_descs[] = { STATS_GAUGES(S_DESC) };
#undef S_DESC

static void stats_collect(void *ctx, kvbm_metrics_emitter *e)
{
    kvbm_stats *s = ctx;
    kvbm_stats_snapshot st;
    if (kvbm_stats_latest(s, &st) != KVBM_OK) return;
    static const char *const names[1] = { "pool" };
    const char *values[1] = { s->m->label };
    const double v[] = {
#define S_VAL(f, name, help) st.f,
        STATS_GAUGES(S_VAL)
#undef S_VAL
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (kvbm_metrics_emit(e, &stats_descs[i], names, values, 1, v[i]) == KVBM_ENOMEM) return;
}

static void stats_destroy(void *ctx) { kvbm_stats_release(ctx); }

kvbm_status kvbm_stats_add_to_aggregator(kvbm_stats *s, kvbm_aggregator *a, kvbm_source_id *id)
{
    if (s == NULL) {
        kvbm__set_error("kvbm_stats_add_to_aggregator: NULL stats");
        return KVBM_EINVAL;
    }
    static const kvbm_metrics_source_ops ops = { stats_collect, stats_destroy };
    kvbm_status st = kvbm_aggregator_add_source(a, &ops, kvbm_stats_acquire(s), id);
    if (st != KVBM_OK) kvbm_stats_release(s);
    return st;
}
