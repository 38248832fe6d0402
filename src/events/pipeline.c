/* src/events/pipeline.c - the publishing pipeline: one worker thread driving the batcher
 * from a subscription, encoding and publishing each batch (kvbm/events_pipeline.h). */
#include <stdio.h>
#include <stdlib.h>

#include "events/batcher.h"
#include "kvbm/events_pipeline.h"

struct kvbm_events_pipeline {
    kvbm_events_sub    *sub;
    kvbm_publisher     *pub;
    kvbm_events_encoder enc;
    kvbm__batcher       batcher;
    uint64_t            window_ns;
    int                 flush_timeout_ms;
    char               *subject;
    uint8_t            *buf;
    size_t              cap;
    pthread_t           thread;
    pthread_mutex_t     join_mu;
    bool                joined;
    _Atomic uint32_t    abort_, finished;
    uint64_t            lags;     /* worker only: lag reports, for the rate-limited warning */
    _Atomic uint64_t    events, lost, batches, events_published, bytes, publish_errors,
                        encode_errors, flush_errors;
    _Atomic uint32_t    refs;     /* destroy's + one per metrics source (export.c) */
};

static void count(_Atomic uint64_t *c, uint64_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }

/* Log the 1st, 2nd, 4th, 8th, ... error of a kind: a dead peer must not flood the log. */
static bool log_this(uint64_t nth) { return kvbm__is_pow2_u64(nth); }

static const char *kind_name(kvbm_event_kind k)
{
    return k == KVBM_EVENT_CREATE ? "Create" : k == KVBM_EVENT_REMOVE ? "Remove" : "Shutdown";
}

static void publish_batch(void *ctx, const kvbm_event_batch *b)
{
    kvbm_events_pipeline *p = ctx;
    if (atomic_load_explicit(&p->abort_, memory_order_relaxed)) return;
    size_t len = 0;
    kvbm_status st;
    for (int tries = 0;; tries++) {
        st = p->enc.encode(p->enc.ctx, b, p->buf, p->cap, &len);
        if (st != KVBM_EOVERFLOW || tries == 3) break;
        size_t ncap = len > p->cap ? len : p->cap * 2;
        uint8_t *nb = kvbm__realloc(p->buf, ncap);
        if (nb == NULL) { st = KVBM_ENOMEM; break; }
        p->buf = nb;
        p->cap = ncap;
    }
    if (st != KVBM_OK) {
        uint64_t n = atomic_fetch_add_explicit(&p->encode_errors, 1, memory_order_relaxed) + 1;
        if (log_this(n))
            kvbm__log(KVBM_LOG_WARN, "events", "cannot encode a %s batch of %zu events (%s: %s); "
                      "skipped (%llu encode errors so far)", kind_name(b->kind), b->n,
                      kvbm_status_name(st), kvbm_last_error(), (unsigned long long)n);
        return;
    }
    st = kvbm_publisher_publish(p->pub, p->subject, p->buf, len);
    if (st != KVBM_OK) {
        uint64_t n = atomic_fetch_add_explicit(&p->publish_errors, 1, memory_order_relaxed) + 1;
        if (log_this(n))
            kvbm__log(KVBM_LOG_WARN, "events", "publish of a %s batch of %zu events on '%s' "
                      "failed (%s: %s); %llu publish errors so far", kind_name(b->kind), b->n,
                      p->subject, kvbm_status_name(st), kvbm_last_error(), (unsigned long long)n);
        return;
    }
    count(&p->batches, 1);
    count(&p->events_published, b->n);
    count(&p->bytes, len);
}

static void lagged(kvbm_events_pipeline *p, uint64_t lost)
{
    count(&p->lost, lost);
    if (log_this(++p->lags))
        kvbm__log(KVBM_LOG_WARN, "events", "pipeline fell behind the event stream: %llu "
                  "events lost (%llu times so far, %llu events in all)",
                  (unsigned long long)lost, (unsigned long long)p->lags,
                  (unsigned long long)atomic_load_explicit(&p->lost, memory_order_relaxed));
}

/* Events taken per sweep of the ring (kvbm__events_next_bits). */
#define SWEEP 256
_Static_assert(SWEEP % 64 == 0, "whole kind words");
/* Longest sleep of a busy worker (see worker()). */
#define POLL_NS 1000000u

static void *worker(void *arg)
{
    kvbm_events_pipeline *p = arg;
    kvbm__thread_name("kvbm-events");
    uint64_t deadline = kvbm__now_ns() + p->window_ns;
    uint64_t quarter = (p->sub->chan->mask + 1) / 4;
    bool ended = false, busy = false;
    kvbm_plh hs[SWEEP];
    uint64_t kinds[SWEEP / 64];
    while (!atomic_load_explicit(&p->abort_, memory_order_acquire)) {
        /* Sweep: everything ready, without a clock read or a wait per event. A ready
         * event wins over the timer (as with a poll), so with a continuous stream the
         * deadline is only checked once the ring is drained. */
        uint64_t lost = 0;
        kvbm_status st;
        size_t n = kvbm__events_next_bits(p->sub, hs, kinds, SWEEP, &lost, &st);
        if (n > 0) {
            count(&p->events, n);
            if (kvbm__batcher_push_bits(&p->batcher, hs, kinds, n)) deadline = kvbm__now_ns() + p->window_ns;
        }
        if (atomic_load_explicit(&p->abort_, memory_order_acquire)) break;
        if (st == KVBM_ELAGGED) {
            lagged(p, lost);
            continue;
        }
        if (st == KVBM_ECLOSED) {
            ended = true;
            break;
        }
        if (n > 0) {
            busy = true;
            continue;
        }

        /* Nothing ready. The window's deadline passed: emit what is pending. */
        uint64_t now = kvbm__now_ns();
        if (now >= deadline) {
            kvbm__batcher_tick(&p->batcher);
            deadline = now + p->window_ns;
            busy = false;
            continue;
        }
        /* Sleep, without spinning. Busy (events came in since the last tick): until a
         * quarter of the ring is ready or POLL_NS passed, so that a producer in full flow
         * pays a wake-up syscall only every capacity/4 events, and a batch cut by a type
         * switch or the size leaves at most POLL_NS late. Idle: until the first event. */
        uint64_t until = deadline, want = 1;
        if (busy) {
            want = quarter;
            if (now + POLL_NS < until) until = now + POLL_NS;
        }
        if (kvbm__events_wait(p->sub, want, until) == KVBM_ECLOSED) {
            ended = !atomic_load_explicit(&p->sub->interrupted, memory_order_acquire);
            break;
        }
    }
    if (ended && !atomic_load_explicit(&p->abort_, memory_order_acquire)) {
        kvbm__batcher_end(&p->batcher);
        kvbm_event_batch shutdown = { KVBM_EVENT_SHUTDOWN, NULL, 0, p->batcher.instance_id };
        publish_batch(p, &shutdown);
        kvbm_status st = kvbm_publisher_flush(p->pub, p->flush_timeout_ms);
        if (st != KVBM_OK) {
            count(&p->flush_errors, 1);
            kvbm__log(KVBM_LOG_WARN, "events", "final flush on '%s' failed: %s: %s", p->subject,
                      kvbm_status_name(st), kvbm_last_error());
        }
    }
    atomic_store_explicit(&p->finished, 1, memory_order_release);
    return NULL;
}

/* Everything but the subscription (the caller's until the worker started). */
static void pipeline_free(kvbm_events_pipeline *p)
{
    kvbm_publisher_release(p->pub);
    kvbm__batcher_fini(&p->batcher);
    pthread_mutex_destroy(&p->join_mu);
    kvbm__free(p->subject);
    kvbm__free(p->buf);
    kvbm__free(p);
}

static kvbm_status cfg_error(const char *msg)
{
    kvbm__set_error("%s", msg);
    return KVBM_ECONFIG;
}

kvbm_status kvbm_events_pipeline_start(const kvbm_events_pipeline_config *cfg,
                                       kvbm_events_pipeline **out)
{
    if (cfg == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_pipeline_start: %s is NULL", cfg == NULL ? "cfg" : "out");
        return KVBM_EINVAL;
    }
    *out = NULL;
    if (cfg->struct_size != sizeof *cfg) {
        kvbm__set_error("kvbm_events_pipeline_config: struct_size %zu, expected %zu (use "
                        "KVBM_EVENTS_PIPELINE_CONFIG_INIT)", cfg->struct_size, sizeof *cfg);
        return KVBM_EINVAL;
    }
    if (cfg->instance_id == NULL) return cfg_error("instance_id is required");
    if (cfg->event_stream == NULL) return cfg_error("event_stream is required");
    if (cfg->publisher == NULL) return cfg_error("publisher is required");
    if (cfg->encoder.encode == NULL) return cfg_error("encoder is required");
    size_t max = cfg->max_batch_size ? cfg->max_batch_size : 1024;
    if (max > (1u << 20)) return cfg_error("max_batch_size must be at most 1048576");
    const char *subject = cfg->subject != NULL ? cfg->subject : "kvbm.events";

    kvbm_events_pipeline *p = kvbm__calloc(1, sizeof *p);
    if (p == NULL) goto nomem;
    p->subject = kvbm__malloc(strlen(subject) + 1);
    p->cap = 4096;
    p->buf = kvbm__malloc(p->cap);
    if (p->subject == NULL || p->buf == NULL ||
        kvbm__batcher_init(&p->batcher, max, *cfg->instance_id, publish_batch, p) != KVBM_OK) {
        kvbm__free(p->subject);
        kvbm__free(p->buf);
        kvbm__free(p);
        goto nomem;
    }
    memcpy(p->subject, subject, strlen(subject) + 1);
    atomic_init(&p->refs, 1);
    p->sub = cfg->event_stream;
    p->pub = kvbm_publisher_acquire(cfg->publisher);
    p->enc = cfg->encoder;
    p->window_ns = (uint64_t)(cfg->window_ms ? cfg->window_ms : 10) * 1000000u;
    p->flush_timeout_ms = cfg->flush_timeout_ms ? cfg->flush_timeout_ms : 5000;
    pthread_mutex_init(&p->join_mu, NULL);
    int e = pthread_create(&p->thread, NULL, worker, p);
    if (e != 0) {
        pipeline_free(p);
        kvbm__set_error("kvbm_events_pipeline_start: cannot create the worker thread (error %d)", e);
        return KVBM_EIO;
    }
    *out = p;
    return KVBM_OK;
nomem:
    kvbm__set_error("kvbm_events_pipeline_start: out of memory");
    return KVBM_ENOMEM;
}

kvbm_status kvbm_events_pipeline_join(kvbm_events_pipeline *p)
{
    if (p == NULL) {
        kvbm__set_error("kvbm_events_pipeline_join: pipeline is NULL");
        return KVBM_EINVAL;
    }
    pthread_mutex_lock(&p->join_mu);
    if (!p->joined) {
        pthread_join(p->thread, NULL);
        p->joined = true;
    }
    pthread_mutex_unlock(&p->join_mu);
    return KVBM_OK;
}

void kvbm_events_pipeline_abort(kvbm_events_pipeline *p)
{
    if (p == NULL) return;
    atomic_store_explicit(&p->abort_, 1, memory_order_release);
    kvbm__events_sub_interrupt(p->sub);
}

bool kvbm_events_pipeline_is_finished(kvbm_events_pipeline *p)
{
    return p != NULL && atomic_load_explicit(&p->finished, memory_order_acquire);
}

kvbm_status kvbm_events_pipeline_get_stats(kvbm_events_pipeline *p, kvbm_events_pipeline_stats *out)
{
    if (p == NULL || out == NULL) {
        kvbm__set_error("kvbm_events_pipeline_get_stats: %s is NULL", p == NULL ? "pipeline" : "out");
        return KVBM_EINVAL;
    }
#define LD(f) atomic_load_explicit(&p->f, memory_order_relaxed)
    out->events = LD(events);
    out->lost = LD(lost);
    out->batches = LD(batches);
    out->events_published = LD(events_published);
    out->bytes = LD(bytes);
    out->publish_errors = LD(publish_errors);
    out->encode_errors = LD(encode_errors);
    out->flush_errors = LD(flush_errors);
#undef LD
    return KVBM_OK;
}

void kvbm_events_pipeline_destroy(kvbm_events_pipeline *p)
{
    if (p == NULL) return;
    if (!kvbm_events_pipeline_is_finished(p)) kvbm_events_pipeline_abort(p);
    (void)kvbm_events_pipeline_join(p);
    kvbm_events_unsubscribe(p->sub);
    p->sub = NULL;
    kvbm__events_pipeline_unref(p);
}

kvbm_events_pipeline *kvbm__events_pipeline_ref(kvbm_events_pipeline *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void kvbm__events_pipeline_unref(kvbm_events_pipeline *p)
{
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) pipeline_free(p);
}
