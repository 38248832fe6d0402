/* src/ext/vllm/sub_queue.c - the subscriber's bounded queue (see sub_int.h). */
#include "sub_int.h"

#include <errno.h>
#include <time.h>

kvbm_status kvbm__vsub_queue_init(kvbm__vsub_queue *q, uint64_t cap)
{
    memset(q, 0, sizeof *q);
    if (!(q->ring = kvbm__calloc((size_t)cap, sizeof *q->ring))) {
        kvbm__set_error("vllm subscriber: out of memory for a queue of %llu batches",
                        (unsigned long long)cap);
        return KVBM_ENOMEM;
    }
    q->cap = cap;
    kvbm__cond_init_monotonic(&q->cv);
    pthread_mutex_init(&q->mu, NULL);
    return KVBM_OK;
}

void kvbm__vsub_queue_destroy(kvbm__vsub_queue *q)
{
    if (!q->ring) return;
    for (uint64_t i = q->head; i < q->tail; i++) zmq_msg_close(&q->ring[i % q->cap].msg);
    kvbm__free(q->ring);
    q->ring = NULL;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

bool kvbm__vsub_queue_push(kvbm__vsub_queue *q, kvbm__vsub_item *it)
{
    pthread_mutex_lock(&q->mu);
    bool ok = q->tail - q->head < q->cap;
    if (ok) {
        kvbm__vsub_item *d = &q->ring[q->tail % q->cap];
        d->seq = it->seq;
        d->has_seq = it->has_seq;
        d->recovered = it->recovered;
        zmq_msg_init(&d->msg);
        zmq_msg_move(&d->msg, &it->msg);
        if (q->tail++ == q->head) pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

bool kvbm__vsub_queue_pop(kvbm__vsub_queue *q, int timeout_ms, kvbm__vsub_item *it)
{
    struct timespec dl;
    if (timeout_ms > 0) kvbm__deadline_after_ns(&dl, (uint64_t)timeout_ms * 1000000u);
    pthread_mutex_lock(&q->mu);
    uint64_t wakes = q->wakes;
    while (q->head == q->tail && q->wakes == wakes && timeout_ms != 0) {
        if (timeout_ms < 0) pthread_cond_wait(&q->cv, &q->mu);
        else if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) break;
    }
    bool ok = q->head < q->tail;
    if (ok) {
        kvbm__vsub_item *s = &q->ring[q->head++ % q->cap];
        it->seq = s->seq;
        it->has_seq = s->has_seq;
        it->recovered = s->recovered;
        zmq_msg_init(&it->msg);
        zmq_msg_move(&it->msg, &s->msg);
        zmq_msg_close(&s->msg);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void kvbm__vsub_queue_wake(kvbm__vsub_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->wakes++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

uint64_t kvbm__vsub_queue_len(kvbm__vsub_queue *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t n = q->tail - q->head;
    pthread_mutex_unlock(&q->mu);
    return n;
}
