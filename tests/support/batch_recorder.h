/* tests/support/batch_recorder.h - a raw test encoder and a publisher that records the
 * batches it receives (core pipeline tests, no msgpack). */
#ifndef KVBM_TEST_BATCH_RECORDER_H
#define KVBM_TEST_BATCH_RECORDER_H

#include <pthread.h>
#include "kvbm/events_pipeline.h"

#define REC_MAX_BATCHES 256
#define REC_MAX_HASHES  64

typedef struct rec_batch {
    kvbm_event_kind kind;
    size_t          n;
    kvbm_plh        hashes[REC_MAX_HASHES];
    kvbm_u128       instance_id;
    char            subject[32];
} rec_batch;

typedef struct recorder {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             nb;
    rec_batch       b[REC_MAX_BATCHES];
    int             flushes;
    kvbm_status     fail_publish; /* returned by publish when != KVBM_OK */
    bool            destroyed;
} recorder;

/* The raw encoder: kind, n, instance_id, hashes (host order); KVBM_EOVERFLOW protocol. */
extern const kvbm_events_encoder test_raw_encoder;
/* A publisher recording into @r (the publisher does not own @r). */
kvbm_publisher *recorder_publisher(recorder *r);
void recorder_init(recorder *r);
void recorder_fini(recorder *r);
/* Wait (10 s bound) until at least @n batches were recorded; returns the count. */
int recorder_wait(recorder *r, int n);

#endif
