/* src/ext/common/msgq.c - see msgq.h. */
#include "msgq.h"

#include <errno.h>
#include <time.h>

kvbm_status kvbm__msgq_init(kvbm__msgq *q, uint64_t cap)
{
    memset(q, 0, sizeof *q);
    q->ring = kvbm__calloc((size_t)cap, sizeof *q->ring);
    q->nspare_max = cap < KVBM__MSGQ_SPARE ? (size_t)cap : KVBM__MSGQ_SPARE;
    q->spare = kvbm__calloc(q->nspare_max, sizeof *q->spare);
    if (!q->ring || !q->spare) {
        kvbm__free(q->ring);
        kvbm__free(q->spare);
        q->ring = q->spare = NULL;
        kvbm__set_error("transport queue: out of memory for %llu messages", (unsigned long long)cap);
        return KVBM_ENOMEM;
    }
    q->cap = cap;
    kvbm__cond_init_monotonic(&q->cv);
    pthread_mutex_init(&q->mu, NULL);
    return KVBM_OK;
}

void kvbm__msgq_destroy(kvbm__msgq *q)
{
    for (uint64_t s = q->head; s < q->tail; s++) kvbm__free(q->ring[s % q->cap].data);
    for (size_t i = 0; i < q->nspare; i++) kvbm__free(q->spare[i].data);
    kvbm__free(q->spare);
    q->spare = NULL;
    q->nspare = 0;
    kvbm__free(q->ring);
    q->ring = NULL;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

/* Keep buffer @d (@size bytes) as a spare if the bounds allow, else free it. Lock held. */
static void spare_put_locked(kvbm__msgq *q, uint8_t *d, size_t size)
{
    if (q->nspare < q->nspare_max && size <= KVBM__MSGQ_SPARE_SIZE &&
        q->spare_bytes + size <= KVBM__MSGQ_SPARE_BYTES) {
        q->spare[q->nspare++] = (kvbm__msg){ d, 0, 0, size };
        q->spare_bytes += size;
    } else {
        kvbm__free(d);
    }
}

/* The last spare kept if it holds @need bytes (*@size set), else NULL. Lock held. */
static uint8_t *spare_take_locked(kvbm__msgq *q, size_t need, size_t *size)
{
    if (q->nspare == 0 || q->spare[q->nspare - 1].size < need) return NULL;
    kvbm__msg *sp = &q->spare[--q->nspare];
    q->spare_bytes -= sp->size;
    *size = sp->size;
    return sp->data;
}

static void fill(uint8_t *d, const char *subject, size_t sl, const uint8_t *buf, size_t len)
{
    memcpy(d, subject, sl + 1);
    if (len) memcpy(d + sl + 1, buf, len);
}

/* Queue the filled buffer @d, or refuse it (stopped, full: counted). Lock held. */
static kvbm_status enqueue_locked(kvbm__msgq *q, uint8_t *d, size_t len, size_t sl, size_t size)
{
    if (q->stop) return KVBM_ECLOSED;
    if (q->tail - q->head >= q->cap) {
        q->n.dropped++;
        return KVBM_EFULL;
    }
    q->ring[q->tail % q->cap] = (kvbm__msg){ d, len, sl, size };
    if (q->next == q->tail) pthread_cond_broadcast(&q->cv); /* the sender may wait */
    q->tail++;
    q->n.accepted++;
    return KVBM_OK;
}

/* Messages up to this many bytes that fit the last spare are copied into it under the lock,
 * in the same hold that queues them: one lock round trip per push (a second one, on the
 * line the sender thread takes messages under, was a tenth of the pipeline worker's time).
 * Larger ones, and any that needs a new buffer, are copied outside the lock. */
#define COPY_LOCKED 4096

kvbm_status kvbm__msgq_push(kvbm__msgq *q, const char *who, const char *subject,
                            const uint8_t *buf, size_t len)
{
    size_t sl = strlen(subject);
    if (len > SIZE_MAX - sl - 1) {
        kvbm__set_error("%s: message of %zu bytes is too large", who, len);
        return KVBM_EOVERFLOW;
    }
    size_t need = sl + 1 + len, size = 0;
    pthread_mutex_lock(&q->mu);
    uint8_t *d = spare_take_locked(q, need, &size);
    if (d == NULL || need > COPY_LOCKED) {
        /* copied outside the lock, into a new buffer or a large spare (a refused message
         * costs one malloc/free or a copy, never a wait) */
        pthread_mutex_unlock(&q->mu);
        if (d == NULL) {
            /* rounded up (to 512 bytes at least) so that the buffer serves later ones too */
            size = need <= 512 ? 512 : need <= KVBM__MSGQ_SPARE_SIZE ? kvbm__next_pow2_u64(need) : need;
            d = kvbm__malloc(size);
            if (d == NULL) {
                kvbm__set_error("%s: out of memory for a message of %zu bytes", who, len);
                return KVBM_ENOMEM;
            }
        }
        fill(d, subject, sl, buf, len);
        pthread_mutex_lock(&q->mu);
    } else {
        fill(d, subject, sl, buf, len);
    }
    kvbm_status st = enqueue_locked(q, d, len, sl, size);
    if (st != KVBM_OK) spare_put_locked(q, d, size);
    uint64_t cap = q->cap;
    pthread_mutex_unlock(&q->mu);
    if (st == KVBM_EFULL)
        kvbm__set_error("%s: send queue full (%llu messages): newest message dropped", who,
                        (unsigned long long)cap);
    else if (st == KVBM_ECLOSED)
        kvbm__set_error("%s: publisher is shutting down", who);
    return st;
}

/* Wait on cv with q->mu held; false once the deadline passed. */
static bool wait_until(kvbm__msgq *q, int timeout_ms, const struct timespec *dl)
{
    if (timeout_ms < 0) {
        pthread_cond_wait(&q->cv, &q->mu);
        return true;
    }
    return pthread_cond_timedwait(&q->cv, &q->mu, dl) != ETIMEDOUT;
}

static void take_locked(kvbm__msgq *q, kvbm__msg *m, uint64_t *seq)
{
    *m = q->ring[q->next % q->cap];
    *seq = q->next;
    if (q->next < q->resend_until) q->n.resent++;
    q->next++;
}

bool kvbm__msgq_take(kvbm__msgq *q, int timeout_ms, kvbm__msg *m, uint64_t *seq)
{
    struct timespec dl;
    if (timeout_ms >= 0) kvbm__deadline_after_ns(&dl, (uint64_t)timeout_ms * 1000000u);
    pthread_mutex_lock(&q->mu);
    uint64_t wakes = q->wakes;
    while (!q->stop && q->next == q->tail && q->wakes == wakes && wait_until(q, timeout_ms, &dl)) {
    }
    bool ok = !q->stop && q->next < q->tail;
    if (ok) take_locked(q, m, seq);
    pthread_mutex_unlock(&q->mu);
    return ok;
}

bool kvbm__msgq_try_take(kvbm__msgq *q, kvbm__msg *m, uint64_t *seq)
{
    pthread_mutex_lock(&q->mu);
    bool ok = !q->stop && q->next < q->tail;
    if (ok) take_locked(q, m, seq);
    pthread_mutex_unlock(&q->mu);
    return ok;
}

size_t kvbm__msgq_try_take_many(kvbm__msgq *q, kvbm__msg *m, size_t max, size_t max_bytes, uint64_t *seq)
{
    size_t k = 0, bytes = 0;
    uint64_t s;
    pthread_mutex_lock(&q->mu);
    while (k < max && bytes < max_bytes && !q->stop && q->next < q->tail) {
        take_locked(q, &m[k], &s);
        if (k == 0) *seq = s;
        bytes += m[k++].len;
    }
    pthread_mutex_unlock(&q->mu);
    return k;
}

void kvbm__msgq_done(kvbm__msgq *q, uint64_t upto)
{
    pthread_mutex_lock(&q->mu);
    uint64_t from = q->head;
    if (upto > q->next) upto = q->next; /* cannot complete what was not handed out */
    if (upto > from) {
        /* freed (or kept as spares) under the lock: once head moves, push may reuse the
         * slots */
        for (uint64_t s = from; s < upto; s++) {
            kvbm__msg *m = &q->ring[s % q->cap];
            spare_put_locked(q, m->data, m->size);
        }
        q->head = upto;
        q->n.done += upto - from;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
}

void kvbm__msgq_rewind(kvbm__msgq *q)
{
    pthread_mutex_lock(&q->mu);
    if (q->next > q->resend_until) q->resend_until = q->next; /* below it: re-sends */
    q->next = q->head;
    pthread_mutex_unlock(&q->mu);
}

uint64_t kvbm__msgq_next(kvbm__msgq *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t n = q->next;
    pthread_mutex_unlock(&q->mu);
    return n;
}

bool kvbm__msgq_sleep(kvbm__msgq *q, int timeout_ms)
{
    struct timespec dl;
    if (timeout_ms >= 0) kvbm__deadline_after_ns(&dl, (uint64_t)timeout_ms * 1000000u);
    pthread_mutex_lock(&q->mu);
    uint64_t wakes = q->wakes;
    while (!q->stop && q->wakes == wakes && wait_until(q, timeout_ms, &dl)) {
    }
    bool ok = !q->stop;
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void kvbm__msgq_wake(kvbm__msgq *q)
{
    pthread_mutex_lock(&q->mu);
    q->wakes++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void kvbm__msgq_stop(kvbm__msgq *q)
{
    pthread_mutex_lock(&q->mu);
    if (!q->stop) {
        q->stop = true;
        q->n.lost = q->tail - q->head;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
}

kvbm_status kvbm__msgq_wait_done(kvbm__msgq *q, const char *who, int timeout_ms)
{
    struct timespec dl;
    if (timeout_ms >= 0) kvbm__deadline_after_ns(&dl, (uint64_t)timeout_ms * 1000000u);
    pthread_mutex_lock(&q->mu);
    uint64_t target = q->tail;
    bool more = true;
    while (!q->stop && q->head < target && more) more = wait_until(q, timeout_ms, &dl);
    kvbm_status st = q->head >= target ? KVBM_OK : q->stop ? KVBM_ECLOSED : KVBM_ETIMEDOUT;
    uint64_t left = target > q->head ? target - q->head : 0;
    pthread_mutex_unlock(&q->mu);
    if (st == KVBM_ETIMEDOUT)
        kvbm__set_error("%s: flush timed out after %d ms with %llu messages not yet done", who,
                        timeout_ms, (unsigned long long)left);
    else if (st == KVBM_ECLOSED)
        kvbm__set_error("%s: publisher stopped before the flush completed", who);
    return st;
}

void kvbm__msgq_counts_get(kvbm__msgq *q, kvbm__msgq_counts *out)
{
    pthread_mutex_lock(&q->mu);
    *out = q->n;
    out->queued = q->tail - q->head;
    pthread_mutex_unlock(&q->mu);
}
