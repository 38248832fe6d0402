/* src/ext/consolidator/daemon_metrics.c - the consolidator's Prometheus source and its
 * one-line stats rendering (kvbm/consolidator.h). */
#include "daemon_int.h"

#include <stdio.h>

void kvbm__dshared_release(kvbm__dshared *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1) return;
    pthread_mutex_destroy(&s->mu);
    kvbm__free(s);
}

static void shared_destroy(void *ctx)
{
    kvbm__dshared_release(ctx);
}

#define C(n, h) { "kvbm_consolidator_" n "_total", h, KVBM_METRIC_TYPE_COUNTER }
static const kvbm_metric_desc D_IN[] = {
    C("ingress_batches", "Engine batches decoded and applied, per input"),
    C("ingress_gaps", "Sequence gaps detected on an input"),
    C("ingress_recovered_batches", "Batches recovered through an engine's replay socket"),
    C("ingress_unrecoverable_batches", "Batches missing for good (not replayable)"),
    C("ingress_decode_errors", "Engine payloads that did not decode (skipped)"),
    C("ingress_frame_errors", "Engine messages with a frame count other than 2 or 3"),
    C("ingress_dropped_batches", "Batches dropped because an input queue was full"),
    C("ingress_disconnects", "Connections to an engine lost (retried)"),
};
static const kvbm_metric_desc D_ALL[] = {
    C("unknown_parent_stores", "Stores whose parent was unknown (hashed as roots)"),
    C("duplicates_suppressed", "Stores that published nothing (already published elsewhere)"),
    C("kvbm_events", "kvbm Create/Remove events applied"),
    C("egress_batches", "Batches published"),
    C("egress_events", "Events in the published batches"),
    C("egress_errors", "Batches that could not be encoded or published"),
};
static const kvbm_metric_desc D_LIVE = { "kvbm_consolidator_live_blocks", "Blocks tracked now", KVBM_METRIC_TYPE_GAUGE };
#undef C

static void collect(void *ctx, kvbm_metrics_emitter *e)
{
    kvbm__dshared *sh = ctx;
    pthread_mutex_lock(&sh->mu);
    kvbm_consolidator *c = sh->c;
    if (c) {
        static const char *const lname[] = { "input" };
        for (size_t i = 0; i < c->n_in; i++) {
            kvbm_vllm_sub_stats s;
            if (kvbm_vllm_sub_get_stats(c->in[i].sub, &s) != KVBM_OK) continue;
            const char *lv[] = { c->in[i].name };
            double v[] = { (double)KVBM__DLD(&c->in[i].batches), (double)s.gaps, (double)s.recovered,
                           (double)s.unrecoverable, (double)s.decode_errors, (double)s.frame_errors,
                           (double)s.dropped, (double)s.disconnects };
            for (size_t k = 0; k < sizeof D_IN / sizeof D_IN[0]; k++) kvbm_metrics_emit(e, &D_IN[k], lname, lv, 1, v[k]);
        }
        kvbm_consolidator_stats st;
        kvbm_consolidator_get_stats(c, &st);
        double v[] = { (double)st.unknown_parent, (double)st.duplicates, (double)st.kvbm_events,
                       (double)st.batches_out, (double)st.events_out, (double)st.egress_errors };
        for (size_t k = 0; k < sizeof D_ALL / sizeof D_ALL[0]; k++) kvbm_metrics_emit(e, &D_ALL[k], NULL, NULL, 0, v[k]);
        kvbm_metrics_emit(e, &D_LIVE, NULL, NULL, 0, (double)st.live_blocks);
    }
    pthread_mutex_unlock(&sh->mu);
}

kvbm_status kvbm_consolidator_add_metrics(kvbm_consolidator *c, kvbm_aggregator *a)
{
    if (!c || !a) {
        kvbm__set_error("consolidator: NULL %s", !c ? "consolidator" : "aggregator");
        return KVBM_EINVAL;
    }
    if (c->agg) {
        kvbm__set_error("consolidator: metrics already exported to an aggregator");
        return KVBM_ESTATE;
    }
    static const kvbm_metrics_source_ops ops = { collect, shared_destroy };
    atomic_fetch_add(&c->shared->refs, 1);
    kvbm_status st = kvbm_aggregator_add_source(a, &ops, c->shared, &c->agg_id);
    if (st != KVBM_OK) {
        kvbm__dshared_release(c->shared);
        return st;
    }
    c->agg = kvbm_aggregator_acquire(a);
    return KVBM_OK;
}

size_t kvbm_consolidator_format_stats(const kvbm_consolidator_stats *s, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "batches_in=%llu stores_in=%llu removes_in=%llu gaps=%llu recovered=%llu "
                     "unrecoverable=%llu unknown_parent=%llu decode_errors=%llu duplicates=%llu "
                     "live=%llu batches_out=%llu events_out=%llu",
                     (unsigned long long)s->batches_in, (unsigned long long)s->block_stores_in,
                     (unsigned long long)s->block_removes_in, (unsigned long long)s->gaps,
                     (unsigned long long)s->recovered, (unsigned long long)s->unrecoverable,
                     (unsigned long long)s->unknown_parent, (unsigned long long)s->decode_errors,
                     (unsigned long long)s->duplicates, (unsigned long long)s->live_blocks,
                     (unsigned long long)s->batches_out, (unsigned long long)s->events_out);
    return n < 0 ? 0 : (size_t)n;
}
