/* src/ext/consolidator/daemon.c - the consolidator daemon's lifecycle, threads and
 * counters (kvbm/consolidator.h). */
#include "daemon_int.h"

#include <stdio.h>
#include <time.h>

#define WHO "consolidator"

static char *dup_str(const char *v)
{
    size_t n = strlen(v) + 1;
    char *d = kvbm__malloc(n);
    if (d) memcpy(d, v, n);
    return d;
}

static kvbm_status parse_source(const char *name, kvbm_cons_source *out)
{
    if (name && (!strcmp(name, "sglang") || !strcmp(name, "SGLang"))) {
        *out = KVBM_CONS_SOURCE_VLLM; /* SGLang speaks the vLLM format */
        return KVBM_OK;
    }
    kvbm_status st = kvbm_cons_source_parse(name, out);
    if (st == KVBM_OK && *out == KVBM_CONS_SOURCE_KVBM) {
        kvbm__set_error("%s: source \"%s\" is kvbm's own stream (config kvbm_events), not a ZMQ input", WHO, name);
        return KVBM_EINVAL;
    }
    return st;
}

static void *egress_thread(void *arg)
{
    kvbm_consolidator *c = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!kvbm__dstopping(c)) {
        kvbm__timespec_add_ns(&next, (uint64_t)c->poll_ms * 1000000u);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now; /* missed ticks are skipped */
        else
            for (;;) { /* sleep in slices of at most 100 ms: stop is seen promptly */
                clock_gettime(CLOCK_MONOTONIC, &now);
                int64_t left = (int64_t)(next.tv_sec - now.tv_sec) * 1000 + (next.tv_nsec - now.tv_nsec) / 1000000;
                if (left <= 0 || kvbm__dstopping(c)) break;
                struct timespec d = { 0, (long)(left > 100 ? 100 : left) * 1000000L };
                nanosleep(&d, NULL);
            }
        if (!kvbm__dstopping(c)) kvbm_consolidator_flush(c);
    }
    return NULL;
}

static kvbm_status start_inputs(kvbm_consolidator *c, const kvbm_consolidator_config *cfg)
{
    c->in = kvbm__calloc(cfg->n_inputs ? cfg->n_inputs : 1, sizeof *c->in);
    if (!c->in) {
        kvbm__set_error("%s: out of memory for %zu inputs", WHO, cfg->n_inputs);
        return KVBM_ENOMEM;
    }
    for (size_t i = 0; i < cfg->n_inputs; i++) {
        const kvbm_consolidator_input *ci = &cfg->inputs[i];
        kvbm__dinput *in = &c->in[i];
        in->c = c;
        in->index = i;
        c->n_in = i + 1;
        if (!ci->endpoint) {
            kvbm__set_error("%s: input %zu has no endpoint", WHO, i);
            return KVBM_EINVAL;
        }
        KVBM_TRY(parse_source(ci->source, &in->source));
        if (!(in->name = dup_str(ci->name ? ci->name : ci->endpoint))) {
            kvbm__set_error("%s: out of memory", WHO);
            return KVBM_ENOMEM;
        }
        kvbm_vllm_sub_config sc = KVBM_VLLM_SUB_CONFIG_INIT;
        sc.endpoint = ci->endpoint;
        sc.replay_endpoint = ci->replay_endpoint;
        sc.name = in->name;
        sc.queue_capacity = cfg->ingress_queue;
        sc.resume = ci->resume;
        sc.start_seq = ci->start_seq;
        KVBM_TRY(kvbm_vllm_sub_create(&sc, &in->sub));
    }
    for (size_t i = 0; i < c->n_in; i++) {
        c->in[i].track_held = c->n_in > 1;
        for (size_t j = 0; j < c->n_in; j++)
            if (j != i && c->in[j].source == c->in[i].source) c->in[i].shared_kind = true;
    }
    for (size_t i = 0; i < c->n_in; i++) {
        if (pthread_create(&c->in[i].th, NULL, kvbm__dinput_thread, &c->in[i]) != 0) {
            kvbm__set_error("%s: cannot start the thread of input %s", WHO, c->in[i].name);
            return KVBM_EIO;
        }
        c->in[i].started = true;
    }
    return KVBM_OK;
}

kvbm_status kvbm_consolidator_create(const kvbm_consolidator_config *cfg, kvbm_consolidator **out)
{
    if (!cfg || !out) {
        kvbm__set_error("%s: NULL %s", WHO, !cfg ? "config" : "out");
        return KVBM_EINVAL;
    }
    *out = NULL;
    if (!cfg->out_endpoint) {
        kvbm__set_error("%s: out_endpoint is required", WHO);
        return KVBM_EINVAL;
    }
    if (cfg->n_inputs && !cfg->inputs) {
        kvbm__set_error("%s: %zu inputs but a NULL input array", WHO, cfg->n_inputs);
        return KVBM_EINVAL;
    }
    kvbm_consolidator *c = kvbm__calloc(1, sizeof *c);
    kvbm__dshared *sh = kvbm__calloc(1, sizeof *sh);
    if (!c || !sh) {
        kvbm__free(c);
        kvbm__free(sh);
        kvbm__set_error("%s: out of memory", WHO);
        return KVBM_ENOMEM;
    }
    pthread_mutex_init(&sh->mu, NULL);
    sh->c = c;
    atomic_init(&sh->refs, 1);
    c->shared = sh;
    pthread_mutex_init(&c->ingest_mu, NULL);
    pthread_mutex_init(&c->egress_mu, NULL);
    c->poll_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 50;
    kvbm_cons_tracker_config tc = { .registry = cfg->registry };
    kvbm_status st = kvbm_cons_tracker_create(&tc, &c->tracker);
    if (st == KVBM_OK) st = kvbm__degress_open(c, cfg);
    if (st == KVBM_OK && cfg->router_publisher) st = kvbm__drouter_open(c, cfg);
    if (st == KVBM_OK && cfg->kvbm_events) st = kvbm_events_subscribe(cfg->kvbm_events, &c->ksub);
    if (st == KVBM_OK) st = start_inputs(c, cfg);
    if (st == KVBM_OK && c->ksub) {
        if (pthread_create(&c->kth, NULL, kvbm__dkvbm_thread, c) != 0) st = KVBM_EIO;
        else c->kstarted = true;
    }
    if (st == KVBM_OK) {
        if (pthread_create(&c->eth, NULL, egress_thread, c) != 0) st = KVBM_EIO;
        else c->estarted = true;
    }
    if (st != KVBM_OK) {
        if (st == KVBM_EIO) kvbm__set_error("%s: cannot start a thread", WHO);
        kvbm_consolidator_destroy(c);
        return st;
    }
    *out = c;
    return KVBM_OK;
}

bool kvbm_consolidator_flush(kvbm_consolidator *c)
{
    if (!c) return false;
    pthread_mutex_lock(&c->egress_mu);
    bool sent = kvbm__degress_tick(c);
    pthread_mutex_unlock(&c->egress_mu);
    return sent;
}

void kvbm_consolidator_stop(kvbm_consolidator *c)
{
    if (!c || c->stopped) return;
    c->stopped = true;
    atomic_store(&c->stop, true);
    for (size_t i = 0; i < c->n_in; i++) kvbm_vllm_sub_wake(c->in[i].sub);
    for (size_t i = 0; i < c->n_in; i++)
        if (c->in[i].started) pthread_join(c->in[i].th, NULL);
    if (c->kstarted) pthread_join(c->kth, NULL);
    if (c->estarted) pthread_join(c->eth, NULL);
    if (c->estarted) kvbm_consolidator_flush(c); /* what the last events queued */
    kvbm__drouter_flush(c);
    /* counters of the inputs stay readable: the subscribers are freed by destroy */
    if (c->ksub) {
        kvbm_events_unsubscribe(c->ksub);
        c->ksub = NULL;
    }
    kvbm__degress_close(c);
}

void kvbm_consolidator_destroy(kvbm_consolidator *c)
{
    if (!c) return;
    kvbm_consolidator_stop(c);
    pthread_mutex_lock(&c->shared->mu);
    c->shared->c = NULL;
    pthread_mutex_unlock(&c->shared->mu);
    if (c->agg) {
        (void)kvbm_aggregator_remove_source(c->agg, c->agg_id);
        kvbm_aggregator_release(c->agg);
    }
    kvbm__dshared_release(c->shared);
    for (size_t i = 0; i < c->n_in; i++) {
        kvbm_vllm_sub_destroy(c->in[i].sub);
        kvbm__cmap_free(&c->in[i].held);
        kvbm__free(c->in[i].name);
    }
    kvbm__free(c->in);
    kvbm__cmap_free(&c->refs);
    kvbm__degress_free(c);
    kvbm__drouter_free(c);
    kvbm_cons_tracker_destroy(c->tracker);
    pthread_mutex_destroy(&c->ingest_mu);
    pthread_mutex_destroy(&c->egress_mu);
    kvbm__free(c);
}

kvbm_status kvbm_consolidator_input_stats(kvbm_consolidator *c, size_t i, kvbm_vllm_sub_stats *out)
{
    if (!c || !out) {
        kvbm__set_error("%s: NULL %s", WHO, !c ? "consolidator" : "out");
        return KVBM_EINVAL;
    }
    if (i >= c->n_in) {
        kvbm__set_error("%s: input %zu of %zu", WHO, i, c->n_in);
        return KVBM_ERANGE;
    }
    return kvbm_vllm_sub_get_stats(c->in[i].sub, out);
}

kvbm_status kvbm_consolidator_get_stats(kvbm_consolidator *c, kvbm_consolidator_stats *out)
{
    if (!c || !out) {
        kvbm__set_error("%s: NULL %s", WHO, !c ? "consolidator" : "out");
        return KVBM_EINVAL;
    }
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < c->n_in; i++) {
        const kvbm__dinput *in = &c->in[i];
        kvbm_vllm_sub_stats s;
        if (kvbm_vllm_sub_get_stats(in->sub, &s) != KVBM_OK) continue;
        out->batches_in += KVBM__DLD(&in->batches);
        out->block_stores_in += KVBM__DLD(&in->stores);
        out->block_removes_in += KVBM__DLD(&in->removes);
        out->events_skipped += KVBM__DLD(&in->skipped);
        out->unknown_removes += KVBM__DLD(&in->unknown_removes);
        out->duplicates += KVBM__DLD(&in->dups);
        out->gaps += s.gaps;
        out->recovered += s.recovered;
        out->unrecoverable += s.unrecoverable;
        out->decode_errors += s.decode_errors;
        out->frame_errors += s.frame_errors;
        out->dropped += s.dropped;
        out->disconnects += s.disconnects;
    }
    out->kvbm_events = KVBM__DLD(&c->kvbm_events);
    out->kvbm_lost = KVBM__DLD(&c->kvbm_lost);
    kvbm_cons_tracker_stats ts;
    kvbm_cons_tracker_get_stats(c->tracker, &ts);
    out->unknown_parent = ts.unknown_parent;
    out->duplicates += ts.duplicates;
    out->live_blocks = ts.live_blocks;
    out->batches_out = KVBM__DLD(&c->batches_out);
    out->events_out = KVBM__DLD(&c->events_out);
    out->egress_errors = KVBM__DLD(&c->egress_errors);
    out->router_events_out = KVBM__DLD(&c->router_events_out);
    out->router_errors = KVBM__DLD(&c->router_errors);
    return KVBM_OK;
}

const char *kvbm_consolidator_out_endpoint(const kvbm_consolidator *c)
{
    return c ? kvbm__degress_endpoint(c, false) : NULL;
}

const char *kvbm_consolidator_out_replay_endpoint(const kvbm_consolidator *c)
{
    return c ? kvbm__degress_endpoint(c, true) : NULL;
}

kvbm_cons_tracker *kvbm_consolidator_tracker(kvbm_consolidator *c)
{
    return c ? c->tracker : NULL;
}
