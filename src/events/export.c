/* src/events/export.c - the events manager's and pipeline's counters as Prometheus metrics
 * (kvbm_events_add_to_aggregator, kvbm/events_pipeline.h). */
#include "events_int.h"

typedef struct export_src {
    kvbm_events_manager  *m;  /* a reference */
    kvbm_events_pipeline *p;  /* kvbm__events_pipeline_ref, or NULL */
} export_src;

#define C KVBM_METRIC_TYPE_COUNTER
static const kvbm_metric_desc d_emitted = { "kvbm_events_emitted_total", "Block events broadcast by the events manager", C };
static const kvbm_metric_desc d_filtered = { "kvbm_events_filtered_total", "Registrations the emission policy did not emit", C };
static const kvbm_metric_desc d_attach = { "kvbm_events_attach_failures_total", "Registrations whose release handle could not be attached", C };
static const kvbm_metric_desc d_lost = { "kvbm_events_lost_total", "Events subscribers lost by lagging behind the stream", C };
static const kvbm_metric_desc d_closed = { "kvbm_events_dropped_closed_total", "Events not sent because the stream was closed", C };
static const kvbm_metric_desc d_subs = { "kvbm_events_subscribers", "Current subscriptions to the event stream", KVBM_METRIC_TYPE_GAUGE };
static const kvbm_metric_desc d_batches = { "kvbm_events_pipeline_batches_total", "Event batches published (Shutdown included)", C };
static const kvbm_metric_desc d_published = { "kvbm_events_pipeline_events_published_total", "Block events in the published batches", C };
static const kvbm_metric_desc d_bytes = { "kvbm_events_pipeline_bytes_total", "Encoded bytes of the published batches", C };
static const kvbm_metric_desc d_perr = { "kvbm_events_pipeline_publish_errors_total", "Batches the publisher refused (lost)", C };
static const kvbm_metric_desc d_eerr = { "kvbm_events_pipeline_encode_errors_total", "Batches that could not be encoded (skipped)", C };
static const kvbm_metric_desc d_ferr = { "kvbm_events_pipeline_flush_errors_total", "Final publisher flushes that failed or timed out", C };
#undef C

static void emit(kvbm_metrics_emitter *e, const kvbm_metric_desc *d, uint64_t v)
{
    (void)kvbm_metrics_emit(e, d, NULL, NULL, 0, (double)v);
}

static void collect(void *ctx, kvbm_metrics_emitter *e)
{
    export_src *x = ctx;
    kvbm_events_stats s;
    if (kvbm_events_manager_get_stats(x->m, &s) == KVBM_OK) {
        static const char *const kind[] = { "kind" };
        static const char *const create[] = { "create" }, *const remove[] = { "remove" };
        (void)kvbm_metrics_emit(e, &d_emitted, kind, create, 1, (double)s.created);
        (void)kvbm_metrics_emit(e, &d_emitted, kind, remove, 1, (double)s.removed);
        emit(e, &d_filtered, s.filtered);
        emit(e, &d_attach, s.attach_failures);
        emit(e, &d_lost, s.lost);
        emit(e, &d_closed, s.dropped_closed);
        emit(e, &d_subs, s.subscribers);
    }
    kvbm_events_pipeline_stats p;
    if (x->p != NULL && kvbm_events_pipeline_get_stats(x->p, &p) == KVBM_OK) {
        emit(e, &d_batches, p.batches);
        emit(e, &d_published, p.events_published);
        emit(e, &d_bytes, p.bytes);
        emit(e, &d_perr, p.publish_errors);
        emit(e, &d_eerr, p.encode_errors);
        emit(e, &d_ferr, p.flush_errors);
    }
}

static void destroy(void *ctx)
{
    export_src *x = ctx;
    kvbm_events_manager_release(x->m);
    if (x->p != NULL) kvbm__events_pipeline_unref(x->p);
    kvbm__free(x);
}

kvbm_status kvbm_events_add_to_aggregator(kvbm_aggregator *a, kvbm_events_manager *m, kvbm_events_pipeline *p,
                                          kvbm_source_id *id)
{
    if (a == NULL || m == NULL) {
        kvbm__set_error("kvbm_events_add_to_aggregator: %s is NULL", a == NULL ? "aggregator" : "events manager");
        return KVBM_EINVAL;
    }
    export_src *x = kvbm__malloc(sizeof *x);
    if (x == NULL) {
        kvbm__set_error("kvbm_events_add_to_aggregator: out of memory");
        return KVBM_ENOMEM;
    }
    x->m = kvbm_events_manager_acquire(m);
    x->p = p != NULL ? kvbm__events_pipeline_ref(p) : NULL;
    static const kvbm_metrics_source_ops ops = { collect, destroy };
    kvbm_status st = kvbm_aggregator_add_source(a, &ops, x, id);
    if (st != KVBM_OK) destroy(x);
    return st;
}
