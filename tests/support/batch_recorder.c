/* tests/support/batch_recorder.c - see batch_recorder.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "support/batch_recorder.h"

typedef struct raw_hdr {
    uint32_t  kind;
    uint32_t  n;
    kvbm_u128 iid;
} raw_hdr;

static kvbm_status raw_encode(void *ctx, const kvbm_event_batch *b, uint8_t *buf, size_t cap, size_t *len)
{
    (void)ctx;
    size_t need = sizeof(raw_hdr) + b->n * sizeof(kvbm_plh);
    *len = need;
    if (need > cap) return KVBM_EOVERFLOW;
    raw_hdr h = { (uint32_t)b->kind, (uint32_t)b->n, b->instance_id };
    memcpy(buf, &h, sizeof h);
    if (b->n) memcpy(buf + sizeof h, b->hashes, b->n * sizeof(kvbm_plh));
    return KVBM_OK;
}

const kvbm_events_encoder test_raw_encoder = { raw_encode, NULL };

static kvbm_status rec_publish(void *ctx, const char *subject, const uint8_t *buf, size_t len)
{
    recorder *r = ctx;
    if (r->fail_publish != KVBM_OK) return r->fail_publish;
    raw_hdr h;
    if (len < sizeof h) return KVBM_EPROTO;
    memcpy(&h, buf, sizeof h);
    pthread_mutex_lock(&r->mu);
    if (r->nb < REC_MAX_BATCHES) {
        rec_batch *b = &r->b[r->nb++];
        b->kind = (kvbm_event_kind)h.kind;
        b->n = h.n;
        b->instance_id = h.iid;
        snprintf(b->subject, sizeof b->subject, "%s", subject);
        size_t k = h.n < REC_MAX_HASHES ? h.n : REC_MAX_HASHES;
        memcpy(b->hashes, buf + sizeof h, k * sizeof(kvbm_plh));
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return KVBM_OK;
}

static kvbm_status rec_flush(void *ctx, int timeout_ms)
{
    recorder *r = ctx;
    (void)timeout_ms;
    pthread_mutex_lock(&r->mu);
    r->flushes++;
    pthread_mutex_unlock(&r->mu);
    return KVBM_OK;
}

static void rec_destroy(void *ctx) { ((recorder *)ctx)->destroyed = true; }

kvbm_publisher *recorder_publisher(recorder *r)
{
    static const kvbm_publisher_ops ops = { rec_publish, rec_flush, rec_destroy };
    kvbm_publisher *p = NULL;
    if (kvbm_publisher_create(&ops, r, &p) != KVBM_OK) return NULL;
    return p;
}

void recorder_init(recorder *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

void recorder_fini(recorder *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

int recorder_wait(recorder *r, int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&r->mu);
    while (r->nb < n && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0) {}
    int got = r->nb;
    pthread_mutex_unlock(&r->mu);
    return got;
}
